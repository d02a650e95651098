"""One prediction service shared by the Streamlit app, the web API and the chapter.

A deployed model is more than ``model.predict``: the service has to find the model and
its card, turn whatever a user sends (PNG, JPEG, DICOM bytes) into the image the
network was trained on, refuse what it cannot read with a message instead of a crash,
apply the threshold chosen on validation (not 0.5), say which model answered, and
repeat the disclaimer with every answer. :class:`Predictor` does all of that once, so
the app, the API and the notebook cannot drift apart.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

import cnnguide
from cnnguide.data import ImageError

__all__ = [
    "MAX_UPLOAD_BYTES",
    "DEFAULT_MODEL_DIR",
    "NoModelError",
    "Predictor",
    "find_model",
    "how_to_train",
    "model_version",
    "read_upload",
    "load_predictor",
]

#: Largest upload the app and the API accept (bytes). A 28×28 to 224×224 X-ray is a few
#: kilobytes; even a full-resolution radiograph PNG stays well below this.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

#: Where ``cnnguide train`` saves by default, looked for in the working directory.
DEFAULT_MODEL_DIR = "cnnguide-model"

CLASS_NAMES = ("normal", "pneumonia")


class NoModelError(FileNotFoundError):
    """No trained model where one was looked for; the message says how to train one."""


def how_to_train(folder: str | os.PathLike = DEFAULT_MODEL_DIR) -> str:
    """The commands that produce a model the app and the API can serve.

    Examples
    --------
    >>> "cnnguide train" in how_to_train()
    True
    """
    return (
        f"Train one first: `python -m cnnguide train --out {folder}` (a few minutes on a "
        "laptop; `--epochs 3` for a quick try), then point the app or the API at that "
        "folder, or set CNNGUIDE_MODEL to it."
    )


def find_model(path: str | os.PathLike | None = None) -> Path:
    """Resolve which saved model to serve.

    Parameters
    ----------
    path : path, optional
        A folder holding ``model.keras`` and ``model_card.json``, or the ``.keras`` file.
        Default: ``$CNNGUIDE_MODEL``, then ``./cnnguide-model``.

    Returns
    -------
    Path
        The ``.keras`` file.

    Raises
    ------
    NoModelError
        Nothing there; the message names where it looked and how to train a model.

    Examples
    --------
    >>> find_model("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cnnguide.deploy.service.NoModelError: no trained model at /nonexistent...
    """
    if path is None:
        path = os.environ.get("CNNGUIDE_MODEL") or DEFAULT_MODEL_DIR
    path = Path(path).expanduser()
    model_file = path / "model.keras" if path.suffix != ".keras" else path
    if not model_file.is_file():
        raise NoModelError(
            f"no trained model at {path} (looked for {model_file}). "
            + how_to_train(path if path.suffix != ".keras" else path.parent)
        )
    return model_file


def model_version(model_file: str | os.PathLike, card: dict) -> str:
    """A short, stable identifier of the served model: name, date and content hash.

    Two files with the same name and date but different weights get different
    versions, which is what a log of predictions needs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "model.keras"; _ = f.write_bytes(b"weights")
    >>> model_version(f, {"name": "cnn", "created": "2026-01-02T03:04:05"})
    'cnn-2026-01-02-9a129038d9a0'
    """
    digest = hashlib.sha256(Path(model_file).read_bytes()).hexdigest()[:12]
    name = str(card.get("name") or "model")
    created = str(card.get("created") or "")[:10]
    return "-".join(part for part in (name, created, digest) if part)


def _is_dicom(data: bytes, filename: str | None) -> bool:
    return data[128:132] == b"DICM" or (filename or "").lower().endswith(
        (".dcm", ".dicom")
    )


def _read_dicom(data: bytes, name: str) -> np.ndarray:
    """DICOM bytes -> (H, W) float32 in [0, 1] (MONOCHROME1 inverted)."""
    try:
        import pydicom
    except ImportError as exc:
        raise ImageError(
            f"{name} is a DICOM file; install pydicom (`pip install pydicom`) to read it, "
            "or export the image as PNG."
        ) from exc
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        pixels = ds.pixel_array.astype(np.float64)
    except Exception as exc:  # pydicom raises many types for broken files
        raise ImageError(
            f"{name} is not a readable DICOM image ({type(exc).__name__}: {exc}); "
            "export it as PNG instead."
        ) from exc
    if pixels.ndim != 2:
        raise ImageError(
            f"{name} holds {pixels.ndim}-D pixel data; give a single greyscale frame."
        )
    low, high = float(pixels.min()), float(pixels.max())
    pixels = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
        pixels = 1.0 - pixels  # MONOCHROME1 stores bone dark: flip to the usual look
    return pixels.astype(np.float32)


def read_upload(
    data: bytes,
    size: int,
    *,
    filename: str | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> np.ndarray:
    """Turn uploaded bytes into the ``(size, size)`` float32 image the model sees.

    PNG and JPEG go through :func:`cnnguide.data.load_image` (centre square, resize,
    greyscale, colour photos and decompression bombs refused); DICOM is read with pydicom
    when it is installed.

    Parameters
    ----------
    data : bytes
        The file's content.
    size : int
        Side of the model's square input.
    filename : str, optional
        Used in messages and to recognise ``.dcm`` files.
    max_bytes : int
        Larger uploads are refused before decoding.

    Returns
    -------
    np.ndarray
        ``(size, size)`` float32 in ``[0, 1]``.

    Raises
    ------
    cnnguide.data.ImageError
        Empty, too large, not an image, corrupt, a colour photo, or an unreadable DICOM.

    Examples
    --------
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (64, 48), 200).save(buf, "PNG")
    >>> x = read_upload(buf.getvalue(), 28)
    >>> x.shape, x.dtype.name
    ((28, 28), 'float32')
    """
    name = filename or "the upload"
    data = bytes(data)
    if not data:
        raise ImageError(
            f"{name} is empty (zero bytes); upload a PNG or JPEG chest X-ray."
        )
    if len(data) > max_bytes:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.1f} MiB, more than the limit of "
            f"{max_bytes / 2**20:.0f} MiB; downscale it first."
        )
    if _is_dicom(data, filename):
        image = _read_dicom(data, name)
        from PIL import Image

        side = min(image.shape)
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        square = np.ascontiguousarray(image[top : top + side, left : left + side])
        resized = Image.fromarray(square).resize(
            (size, size), Image.Resampling.BILINEAR
        )
        return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    from cnnguide.data import load_image

    try:
        return load_image(data, size=size)
    except ImageError as exc:
        # load_image names bytes as "<N bytes>"; the user knows the file by its name
        message = str(exc)
        if filename:
            message = message.replace(f"<{len(data)} bytes>", filename, 1)
        raise ImageError(message) from exc


@dataclasses.dataclass
class Predictor:
    """A loaded model with its card: what every front end calls.

    Build it with :func:`load_predictor`. Attributes: ``model`` (Keras), ``card``
    (dict), ``model_file`` (Path), ``size`` (input side), ``threshold`` (from the card),
    ``version`` (:func:`model_version`).
    """

    model: Any
    card: dict
    model_file: Path
    size: int
    threshold: float
    version: str

    @property
    def name(self) -> str:
        return str(self.card.get("name") or self.model_file.parent.name)

    def prepare(
        self,
        data: bytes,
        filename: str | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
    ) -> np.ndarray:
        """Uploaded bytes -> the ``(size, size)`` float32 image (see :func:`read_upload`)."""
        return read_upload(data, self.size, filename=filename, max_bytes=max_bytes)

    def predict(self, image: np.ndarray, threshold: float | None = None) -> dict:
        """Probability, label and context for one prepared image.

        Parameters
        ----------
        image : np.ndarray
            ``(size, size)`` float32 in ``[0, 1]`` (or uint8), e.g. from :meth:`prepare`.
        threshold : float, optional
            Overrides the card's threshold (the app's slider); must lie in ``[0, 1]``.

        Returns
        -------
        dict
            ``probability`` (float), ``label`` ("normal"/"pneumonia"), ``threshold``,
            ``threshold_source`` ("model card" or "user"), ``model_version``,
            ``model_name``, ``image_size``, ``disclaimer``.
        """
        from cnnguide.train import predict_proba

        image = np.asarray(image)
        if image.shape not in ((self.size, self.size), (self.size, self.size, 1)):
            raise ValueError(
                f"the model takes {self.size}x{self.size} images, got shape "
                f"{image.shape}; prepare it with Predictor.prepare"
            )
        if threshold is None:
            threshold, source = self.threshold, "model card"
        else:
            threshold, source = float(threshold), "user"
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        probability = float(predict_proba(self.model, image[None])[0])
        return {
            "probability": round(probability, 6),
            "label": label_at(probability, threshold),
            "threshold": threshold,
            "threshold_source": source,
            "model_version": self.version,
            "model_name": self.name,
            "image_size": self.size,
            "disclaimer": cnnguide.DISCLAIMER,
        }

    def predict_bytes(
        self,
        data: bytes,
        filename: str | None = None,
        threshold: float | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
    ) -> dict:
        """:meth:`prepare` then :meth:`predict`; raises ``ImageError`` for bad input."""
        return self.predict(self.prepare(data, filename, max_bytes), threshold)

    def explain(self, image: np.ndarray) -> np.ndarray:
        """Grad-CAM heat map ``(size, size)`` in ``[0, 1]`` for one prepared image."""
        from cnnguide.explain import grad_cam

        return grad_cam(self.model, np.asarray(image, dtype=np.float32))


def label_at(probability: float, threshold: float) -> str:
    """``"pneumonia"`` when ``probability >= threshold``, else ``"normal"``.

    Examples
    --------
    >>> label_at(0.3, 0.25), label_at(0.2, 0.25)
    ('pneumonia', 'normal')
    """
    return CLASS_NAMES[int(probability >= threshold)]


def load_predictor(path: str | os.PathLike | None = None) -> Predictor:
    """Load the model to serve (see :func:`find_model` for the default) and its card.

    Raises
    ------
    NoModelError
        No model there (message says how to train one).
    ValueError
        The model is not a greyscale square-image classifier, or the files are corrupt.
    """
    from cnnguide.train import load

    model_file = find_model(path)
    try:
        model, card = load(model_file)
    except FileNotFoundError as exc:  # e.g. the card is missing
        raise NoModelError(f"{exc}. " + how_to_train(model_file.parent)) from exc
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[-1] != 1:
        raise ValueError(
            f"{model_file} takes inputs shaped {shape[1:]}; the service feeds "
            "greyscale images (H, W, 1)"
        )
    size = (
        shape[1]
        or (card.get("input_shape") or [None])[0]
        or card.get("data", {}).get("image_size")
    )
    if size is None or (shape[2] is not None and shape[2] != size):
        raise ValueError(
            f"{model_file} takes {shape[1]}x{shape[2]} images; the service "
            "handles square images of a known size only"
        )
    threshold = card.get("threshold")
    threshold = 0.5 if threshold is None else float(threshold)
    return Predictor(
        model=model,
        card=card,
        model_file=model_file,
        size=int(size),
        threshold=threshold,
        version=model_version(model_file, card),
    )
