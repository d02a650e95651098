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


def read_upload(
    data: bytes,
    size: int,
    *,
    filename: str | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> np.ndarray:
    """Turn uploaded bytes into the ``(size, size)`` float32 image the model sees.

    PNG, JPEG and DICOM all go through :func:`cnnguide.data.load_image` (centre
    square, resize, greyscale; DICOM windowed, MONOCHROME1 inverted; colour photos,
    decompression bombs and images smaller than ``size`` refused).

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
    if len(data) > max_bytes:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.1f} MiB, more than the limit of "
            f"{max_bytes / 2**20:.0f} MiB; downscale it first."
        )
    from cnnguide.data import load_image

    # PNG, JPEG and DICOM alike: the package's one image loader
    return load_image(data, size=size, name=name)


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

    def __init__(self, model: Any, size: int, max_batch: int = 64):
        import tensorflow as tf

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
            ``probability`` (float, rounded to 6 decimals; the label uses the exact
            value), ``label`` ("normal"/"pneumonia"), ``threshold``,
            ``threshold_source`` ("model card" or "user"), ``model_version``,
            ``model_name``, ``image_size``, ``disclaimer``.
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
