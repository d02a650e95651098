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
import os
import queue
import threading
import weakref
from concurrent.futures import Future
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
    "upload_warnings",
    "max_pixels_for",
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


def max_pixels_for(size: int) -> int:
    """Largest image (width x height) decoded for a model of input side ``size``.

    A radiograph of a few thousand pixels a side is welcome; a 28-pixel model
    has no use for 50 million pixels, and a small file that declares them (a
    PNG of one colour compresses to kilobytes) would cost time and memory to
    decode. The cap grows with the model's input: 20,000 pixels per input
    pixel, between 8 and 50 million.

    Examples
    --------
    >>> max_pixels_for(28), max_pixels_for(224)
    (15680000, 50000000)
    """
    from cnnguide.data.imagefile import MAX_PIXELS

    return int(min(MAX_PIXELS, max(8_000_000, 20_000 * int(size) ** 2)))


def upload_warnings(data: bytes, filename: str, size: int) -> list[str]:
    """Ways an upload looks unlike the training images (colour, shape, view, age).

    The image is still predicted: these are warnings, not errors (an unreadable
    file is refused by :func:`read_upload` instead). :func:`read_upload` adds
    them to the loader's own notes, so the app, the API and the CLI all report
    the same ones.

    Parameters
    ----------
    data : bytes
        The uploaded file.
    filename : str
    size : int
        The model's input side.

    Returns
    -------
    list of str
        Empty when nothing looks odd.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (900, 300), 90).save(buf, "PNG")
    >>> [w.split(":")[0] for w in upload_warnings(buf.getvalue(), "wide.png", 28)]
    ['wide.png is 900 × 300 pixels, far from square']
    """
    import io

    warnings_: list[str] = []
    width = height = None
    saturation = 0.0
    dicom = data[128:132] == b"DICM"
    if dicom:
        try:
            import pydicom

            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        except Exception:  # unreadable: the service's error says why
            return []
        width, height = ds.get("Columns"), ds.get("Rows")
        view = str(ds.get("ViewPosition", "") or "").upper()
        if view in ("LL", "RL", "LAT", "LATERAL", "LLD", "RLD"):
            warnings_.append(
                f"{filename} is a lateral view ({view}): the model was trained on "
                "frontal films only."
            )
        age = str(ds.get("PatientAge", "") or "")
        if age[:3].isdigit() and age.endswith("Y") and int(age[:3]) >= 16:
            warnings_.append(
                f"{filename} is of a patient aged {int(age[:3])}: the model was "
                "trained on children aged 1 to 5."
            )
    else:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if im.mode not in ("L", "LA", "1", "I", "F") and not im.mode.startswith(
                    "I;16"
                ):
                    thumb = im.convert("RGB")
                    thumb.thumbnail((128, 128))
                    rgb = np.asarray(thumb, dtype=np.float32) / 255.0
                    hi, lo = rgb.max(axis=-1), rgb.min(axis=-1)
                    sat = np.where(hi > 0.06, (hi - lo) / np.maximum(hi, 1e-6), 0.0)
                    saturation = float(sat.mean())
        except Exception:  # unreadable: the service's error says why
            return []
    if saturation > 0.02:
        warnings_.append(
            f"{filename} has colour (mean saturation {saturation:.2f}): X-rays are "
            "greyscale, so this may be a photograph or a tinted screenshot."
        )
    if width and height:
        ratio = max(width, height) / max(1, min(width, height))
        if ratio > 1.3:
            warnings_.append(
                f"{filename} is {width} × {height} pixels, far from square: the model "
                "sees only its centre square (a lateral view, a cropped film or a "
                "screenshot is unlike the training images)."
            )
        if min(width, height) < 64 and (width, height) != (size, size):
            warnings_.append(
                f"{filename} is only {width} × {height} pixels: chest films are "
                "hundreds of pixels across, so this looks like a thumbnail or an icon."
            )
    return warnings_


def read_upload(
    data: bytes,
    size: int,
    *,
    filename: str | None = None,
    max_bytes: int | None = MAX_UPLOAD_BYTES,
    notes: list | None = None,
) -> np.ndarray:
    """Turn uploaded bytes into the ``(size, size)`` float32 image the model sees.

    PNG, JPEG and DICOM all go through :func:`cnnguide.data.load_image` (centre
    square, resize, greyscale; DICOM windowed, MONOCHROME1 inverted; colour photos,
    decompression bombs, images larger than :func:`max_pixels_for` ``(size)`` and
    images smaller than ``size`` refused). What the loader had to decide, and
    what makes the image unlike the training films (:func:`upload_warnings`),
    is appended to ``notes``: every front end returns those with its answer.

    Parameters
    ----------
    data : bytes
        The file's content.
    size : int
        Side of the model's square input.
    filename : str, optional
        Used in messages and to recognise ``.dcm`` files.
    max_bytes : int or None
        Larger uploads are refused before decoding; None for no byte limit (the
        CLI's local files: a DICOM of 30 MB is ordinary, and pixels are capped).
    notes : list, optional
        Receives the warnings (see above).

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
    >>> import io
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
    if max_bytes is not None and len(data) > max_bytes:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.1f} MiB, more than the limit of "
            f"{max_bytes / 2**20:.0f} MiB; downscale it first."
        )
    from cnnguide.data import load_image

    found: list[str] = []
    # PNG, JPEG and DICOM alike: the package's one image loader
    image = load_image(
        data, size=size, name=name, max_pixels=max_pixels_for(size), notes=found
    )
    found += upload_warnings(data, name, size)
    if notes is not None:
        notes.extend(found)
    return image


def _serve_batches(requests: queue.SimpleQueue, forward, max_batch: int) -> None:
    """The batcher's thread: one forward pass for every request waiting, then again.

    It takes the first request as soon as it arrives, adds whatever else is already
    queued (never waiting for more), and answers each request's future. Alone, a
    request is answered at once; under load, batches form by themselves while the
    previous pass runs. ``None`` in the queue stops the thread.
    """
    while True:
        first = requests.get()
        if first is None:
            return
        batch = [first]
        while len(batch) < max_batch:
            try:
                item = requests.get_nowait()
            except queue.Empty:
                break
            if item is None:
                requests.put(None)  # stop after this batch
                break
            batch.append(item)
        try:
            probabilities = forward(np.stack([image for image, _ in batch]))
            if len(probabilities) != len(batch):  # never pair a score by position
                raise RuntimeError(
                    f"the model returned {len(probabilities)} values for "
                    f"{len(batch)} images; it must give one probability per image"
                )
        except BaseException as exc:  # every waiting caller gets the error
            for _, future in batch:
                future.set_exception(exc)
        else:
            for (_, future), probability in zip(batch, probabilities):
                future.set_result(float(probability))


class _MicroBatcher:
    """Collects images from many threads into one compiled forward pass.

    A web server answers many clients at once. Calling the model once per request
    repeats its fixed per-call cost; calling it on one stacked batch pays it once.
    The forward pass is a ``tf.function`` traced once for any batch size (a Keras
    model called eagerly costs milliseconds of Python per call, ``model.predict``
    tens of milliseconds).
    """

    def __init__(self, model: Any, size: int, max_batch: int | None = None):
        import tensorflow as tf

        from cnnguide.models import batch_budget

        if max_batch is None:  # the package's one budget: pixels x views
            max_batch = batch_budget(model, (size, size))
        self.max_batch = int(max_batch)

        signature = tf.TensorSpec((None, size, size, 1), tf.float32)

        @tf.function(input_signature=[signature])
        def forward(batch):
            return model(batch, training=False)

        def probabilities(batch: np.ndarray) -> np.ndarray:
            return forward(batch).numpy().reshape(-1)

        probabilities(np.zeros((1, size, size, 1), np.float32))  # trace it now
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=_serve_batches,
            args=(self._requests, probabilities, max_batch),
            name="cnnguide-batcher",
            daemon=True,
        )
        self._thread.start()
        # The thread holds the queue, not the batcher: stop it when the batcher goes.
        weakref.finalize(self, self._requests.put, None)

    def __call__(self, image: np.ndarray) -> float:
        """Probability for one ``(size, size, 1)`` float32 image; blocks until answered."""
        future: Future = Future()
        self._requests.put((image, future))
        return future.result()


@dataclasses.dataclass
class Predictor:
    """A loaded model with its card: what every front end calls.

    Build it with :func:`load_predictor`. Attributes: ``model`` (Keras), ``card``
    (dict), ``model_file`` (Path), ``size`` (input side), ``threshold`` (from the card),
    ``version`` (:func:`model_version`).

    A predictor may be shared by many threads (the web API's workers, the Streamlit
    sessions): :meth:`predict` batches concurrent calls into one forward pass, and
    :meth:`explain` runs Grad-CAM on a copy of the model of its own, one call at a
    time, so that its recording of a layer never sees another request's tensors.
    """

    model: Any
    card: dict
    model_file: Path
    size: int
    threshold: float
    version: str
    _batcher: Any = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    _explainer: Any = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    _lock: Any = dataclasses.field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _explain_lock: Any = dataclasses.field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def name(self) -> str:
        return str(self.card.get("name") or self.model_file.parent.name)

    def prepare(
        self,
        data: bytes,
        filename: str | None = None,
        max_bytes: int | None = MAX_UPLOAD_BYTES,
        notes: list | None = None,
    ) -> np.ndarray:
        """Uploaded bytes -> the ``(size, size)`` float32 image (see :func:`read_upload`).

        Warnings about the image are appended to ``notes``; pass the same list
        to :meth:`predict`, which returns them with the answer.
        """
        return read_upload(
            data, self.size, filename=filename, max_bytes=max_bytes, notes=notes
        )

    def predict(
        self,
        image: np.ndarray,
        threshold: float | None = None,
        notes: list | None = None,
    ) -> dict:
        """Probability, label and context for one prepared image.

        Parameters
        ----------
        image : np.ndarray
            ``(size, size)`` float32 in ``[0, 1]`` (or uint8), e.g. from :meth:`prepare`.
        threshold : float, optional
            Overrides the card's threshold (the app's slider); must lie in ``[0, 1]``.
        notes : list of str, optional
            Warnings about the image from :meth:`prepare`.

        Returns
        -------
        dict
            ``probability`` (float, rounded to 6 decimals; the label uses the exact
            value), ``label`` ("normal"/"pneumonia"), ``threshold``,
            ``threshold_source`` ("model card" or "user"), ``model_version``,
            ``model_name``, ``image_size``, ``warnings`` (list of str, empty when
            nothing about the image needs saying), ``disclaimer``.
        """
        from cnnguide.images import as_model_input

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
        probability = self._probability(as_model_input(image[None])[0])
        return {
            "probability": round(probability, 6),
            "label": label_at(probability, threshold),
            "threshold": threshold,
            "threshold_source": source,
            "model_version": self.version,
            "model_name": self.name,
            "image_size": self.size,
            "warnings": list(notes or []),
            "disclaimer": cnnguide.DISCLAIMER,
        }

    def predict_bytes(
        self,
        data: bytes,
        filename: str | None = None,
        threshold: float | None = None,
        max_bytes: int | None = MAX_UPLOAD_BYTES,
    ) -> dict:
        """:meth:`prepare` then :meth:`predict`; raises ``ImageError`` for bad input."""
        notes: list[str] = []
        image = self.prepare(data, filename, max_bytes, notes)
        return self.predict(image, threshold, notes)

    def scores(self, images) -> np.ndarray:
        """Probabilities for a batch of images, as an evaluation needs them.

        The same model and the same conversion as :meth:`predict`, batched by
        :func:`cnnguide.models.predict_proba` (the CLI's ``evaluate`` scores a
        whole split through it).

        Parameters
        ----------
        images : np.ndarray
            ``(N, size, size)`` or ``(N, size, size, 1)``, uint8 or float in [0, 1].

        Returns
        -------
        np.ndarray
            ``(N,)`` float32.
        """
        from cnnguide.models import predict_proba

        images = np.asarray(images)
        if images.ndim not in (3, 4) or images.shape[1:3] != (self.size, self.size):
            raise ValueError(
                f"the model takes a batch of {self.size}x{self.size} images, got "
                f"shape {images.shape}"
            )
        return predict_proba(self.model, images)

    def _probability(self, image: np.ndarray) -> float:
        """One ``(size, size, 1)`` float32 image through the shared micro-batcher."""
        if self._batcher is None:
            with self._lock:
                if self._batcher is None:
                    self._batcher = _MicroBatcher(self.model, self.size)
        return self._batcher(image)

    def explain(self, image: np.ndarray) -> np.ndarray:
        """Grad-CAM heat map ``(size, size)`` in ``[0, 1]`` for one prepared image.

        Grad-CAM records a layer's output by wrapping that layer for the duration of
        the call; it runs on a copy of the model (made on first use) under a lock, so
        predictions on other threads and other heat maps never pass through the
        wrapped layer.
        """
        from cnnguide.explain import grad_cam
        from cnnguide.images import as_model_input

        with self._explain_lock:
            if self._explainer is None:
                import keras

                try:
                    copy = keras.models.clone_model(self.model)
                    copy.set_weights(self.model.get_weights())
                except Exception:  # a subclassed model may not clone: use it,
                    self._probability(np.zeros((self.size, self.size, 1), np.float32))
                    copy = self.model  # traced above, predictions skip Layer.call
                self._explainer = copy
            image = as_model_input(np.asarray(image)[None])[0]
            return grad_cam(self._explainer, image)


def label_at(probability: float, threshold: float) -> str:
    """``"pneumonia"`` when ``probability >= threshold``, else ``"normal"``.

    Examples
    --------
    >>> label_at(0.3, 0.25), label_at(0.2, 0.25)
    ('pneumonia', 'normal')
    """
    return CLASS_NAMES[int(probability >= threshold)]


def _check_output(model, size: int, model_file) -> None:
    """Refuse a model that does not give one probability in [0, 1] per image.

    The service pairs outputs with requests; a two-unit softmax head would pair
    another request's value with this one, its label inverted. Two test images
    through the model say what it returns.
    """
    probe = np.random.default_rng(0).random((2, size, size, 1), dtype=np.float32)
    try:
        out = np.asarray(model(probe, training=False))
    except Exception as exc:
        raise ValueError(
            f"{model_file} failed on a test batch ({type(exc).__name__}: {exc}); "
            "the service needs a Keras model that maps (N, H, W, 1) images to (N, 1)"
        ) from exc
    if out.shape not in ((2, 1), (2,)):
        raise ValueError(
            f"{model_file} returns shape {out.shape[1:]} per image; the service needs "
            "one probability per image (a single sigmoid unit, output (N, 1)). A "
            "two-class softmax head must be turned into one pneumonia probability "
            "before it is served."
        )
    if not np.all((out >= 0) & (out <= 1)):
        raise ValueError(
            f"{model_file} returns values outside [0, 1] ({out.min():.3g} to "
            f"{out.max():.3g}); the service needs probabilities (end the model with "
            "a sigmoid)"
        )


def load_predictor(path: str | os.PathLike | None = None) -> Predictor:
    """Load the model to serve (see :func:`find_model` for the default) and its card.

    Raises
    ------
    NoModelError
        No model there (message says how to train one).
    ValueError
        The model is not a greyscale square-image classifier, does not give one
        probability per image, or the files are corrupt or do not match.
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
    _check_output(model, int(size), model_file)
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
