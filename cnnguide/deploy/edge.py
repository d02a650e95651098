"""TensorFlow Lite export for small devices, and a fair comparison with the Keras model.

Three variants of one trained network:

``float32``
    the same arithmetic as Keras, in a flat file the LiteRT/TFLite interpreter runs
    without TensorFlow;
``float16``
    weights stored as half-precision floats (about half the size); computed in float32
    on a CPU;
``int8``
    full-integer quantization: weights *and* activations as 8-bit integers, with the
    ranges of the activations calibrated on a *representative dataset* (images from the
    training split, never the test split). Input and output are int8 too, so a
    microcontroller or an Edge TPU can run it end to end; :class:`TFLiteClassifier`
    quantizes the input and dequantizes the probability.

:func:`compare` measures, for Keras and each variant, the file size, the latency per
image (batch of one, as a device sees images) and the test ROC-AUC, plus the largest
disagreement in probability with Keras. A smaller model that ranks patients differently
is a different model: re-check its threshold and metrics before it replaces the original.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from cnnguide.images import as_model_input

__all__ = [
    "VARIANTS",
    "convert",
    "export_tflite",
    "TFLiteClassifier",
    "representative_images",
    "compare",
    "format_table",
]

VARIANTS = ("float32", "float16", "int8")


@contextlib.contextmanager
def _quiet_stderr_fd():
    """Send the C++ converter's chatter on file descriptor 2 to /dev/null for a moment."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (some embedded shells)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def _quiet():
    """Silence tf.lite's deprecation warnings (the fallback interpreter moved to
    LiteRT), the SavedModel listing and INFO logs the converter prints, and the C++
    messages of both.
    Errors still surface: they are raised as Python exceptions."""
    import logging

    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            _quiet_stderr_fd(),
        ):
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        tf_logger.setLevel(level)


def representative_images(images, n: int = 200, *, seed: int = 0) -> np.ndarray:
    """A random subset of (training) images for int8 calibration, ``(n, H, W, 1)`` float32.

    Examples
    --------
    >>> representative_images(np.zeros((10, 8, 8), np.uint8), n=4).shape
    (4, 8, 8, 1)
    """
    x = as_model_input(images)
    if len(x) == 0:
        raise ValueError("the representative dataset is empty; pass training images")
    pick = np.random.default_rng(seed).permutation(len(x))[: min(n, len(x))]
    return x[np.sort(pick)]


def convert(model, variant: str = "float32", representative=None) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer.

    Parameters
    ----------
    model : keras.Model
    variant : {"float32", "float16", "int8"}
    representative : array, optional
        Training images ``(N, H, W[, 1])`` for int8 calibration (required for int8).

    Returns
    -------
    bytes
        The ``.tflite`` file content.
    """
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    with _quiet():
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if variant == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif variant == "int8":
            if representative is None:
                raise ValueError(
                    "int8 quantization needs representative images from the "
                    "training split (representative=...)"
                )
            calibration = as_model_input(representative)

            def generator():
                for image in calibration:
                    yield [image[None]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = generator
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()


def export_tflite(
    model, out_dir, representative=None, *, variants=VARIANTS, stem: str = "model"
) -> dict[str, Path]:
    """Write ``out_dir/<stem>_<variant>.tflite`` for each variant, each whole.

    Each file is converted in memory, then written to a temporary name and
    renamed (:mod:`cnnguide.files`): a killed export leaves the earlier file or
    none, never a truncated model.

    Returns
    -------
    dict
        ``{variant: path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    from cnnguide.files import write_bytes
    from cnnguide.train import _phase

    for variant in variants:
        path = out_dir / f"{stem}_{variant}.tflite"
        data = convert(model, variant, representative)
        _phase(f"export_converted:{variant}")  # a kill here leaves no part-file
        write_bytes(path, data)  # whole or not at all
        paths[variant] = path
    return paths


class TFLiteClassifier:
    """Run a ``.tflite`` binary classifier like a Keras one.

    Parameters
    ----------
    source : path or bytes
        The ``.tflite`` file or its content.

    Attributes
    ----------
    input_dtype : numpy dtype (float32 or int8)
    size_bytes : int
    """

    def __init__(self, source):
        if isinstance(source, (bytes, bytearray)):
            content = bytes(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(
                    f"no TFLite model at {path}; export one with "
                    "cnnguide.deploy.edge.export_tflite"
                )
            content = path.read_bytes()
        self.size_bytes = len(content)
        with _quiet():  # also hides the "XNNPACK delegate created" banner
            self._interpreter = _interpreter_class()(model_content=content)
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_dtype = np.dtype(self._input["dtype"])
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])

    def _quantize(self, image: np.ndarray) -> np.ndarray:
        if self.input_dtype == np.float32:
            return image.astype(np.float32)
        scale, zero = self._input["quantization"]
        info = np.iinfo(self.input_dtype)
        q = np.round(image / scale + zero)
        return np.clip(q, info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, value: np.ndarray) -> np.ndarray:
        if np.dtype(self._output["dtype"]) == np.float32:
            return value.astype(np.float32)
        scale, zero = self._output["quantization"]
        return ((value.astype(np.float32) - zero) * scale).astype(np.float32)

    def predict_one(self, image: np.ndarray) -> float:
        """Probability for one ``(1, H, W, C)`` float32 image in ``[0, 1]``."""
        self._interpreter.set_tensor(self._input["index"], self._quantize(image))
        self._interpreter.invoke()
        return float(
            self._dequantize(
                self._interpreter.get_tensor(self._output["index"])
            ).ravel()[0]
        )

    def predict_proba(self, images) -> np.ndarray:
        """Probabilities ``(N,)`` float32 for ``(N, H, W[, 1])`` images (uint8 or [0, 1]).

        Images run one at a time, as the interpreter's input has batch size 1.
        """
        x = as_model_input(images)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"the TFLite model takes images shaped {self.input_shape}, "
                f"got {tuple(x.shape[1:])}"
            )
        return np.array(
            [self.predict_one(x[i : i + 1]) for i in range(len(x))], np.float32
        )


def _interpreter_class():
    """LiteRT's ``Interpreter`` (package ``ai-edge-litert``), else TensorFlow's.

    ``tf.lite.Interpreter`` is deprecated: TensorFlow points to LiteRT, the same
    runtime published on its own (a few MB instead of all of TensorFlow, as a device
    would install it). Where LiteRT is not installed, TensorFlow's copy of
    the interpreter stands in; the converter stays TensorFlow's either way.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter
    return Interpreter


def _latency_ms(predict_one, x: np.ndarray, n: int, warmup: int = 5) -> float:
    """Median wall time (ms) of one-image predictions over ``n`` images."""
    n = min(n, len(x))
    for i in range(min(warmup, n)):
        predict_one(x[i : i + 1])
    times = []
    for i in range(n):
        start = time.perf_counter()
        predict_one(x[i : i + 1])
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def compare(
    model, tflite_paths: dict, images, labels, *, keras_file=None, n_timing: int = 100
) -> list[dict]:
    """File size, latency per image and ROC-AUC of Keras and each TFLite variant.

    Parameters
    ----------
    model : keras.Model
    tflite_paths : dict
        ``{variant: path}`` from :func:`export_tflite`.
    images, labels : arrays
        The **test** split.
    keras_file : path, optional
        The saved ``.keras`` file (its size is reported); saved to a temporary file when
        not given.
    n_timing : int
        Images timed one at a time (median).

    Returns
    -------
    list of dict
        One row per format: ``format``, ``size_kb``, ``latency_ms``, ``roc_auc``,
        ``max_abs_diff`` (largest probability difference with Keras).
    """
    from sklearn.metrics import roc_auc_score

    x = as_model_input(images)
    y = np.asarray(labels).astype(int).ravel()
    if keras_file is None:
        with tempfile.TemporaryDirectory() as tmp:
            keras_file = Path(tmp) / "model.keras"
            model.save(keras_file)
            keras_size = keras_file.stat().st_size
    else:
        keras_size = Path(keras_file).stat().st_size

    def keras_one(batch):
        return model(batch, training=False)

    keras_p = np.concatenate(
        [
            model(x[i : i + 256], training=False).numpy().ravel()
            for i in range(0, len(x), 256)
        ]
    ).astype(np.float32)
    rows = [
        {
            "format": "Keras (.keras)",
            "size_kb": keras_size / 1024,
            "latency_ms": _latency_ms(keras_one, x, n_timing),
            "roc_auc": float(roc_auc_score(y, keras_p)),
            "max_abs_diff": 0.0,
        }
    ]
    for variant, path in tflite_paths.items():
        lite = TFLiteClassifier(path)
        p = lite.predict_proba(x)
        rows.append(
            {
                "format": f"TFLite {variant}",
                "size_kb": os.path.getsize(path) / 1024,
                "latency_ms": _latency_ms(lite.predict_one, x, n_timing),
                "roc_auc": float(roc_auc_score(y, p)),
                "max_abs_diff": float(np.max(np.abs(p - keras_p))),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`compare` rows.

    Examples
    --------
    >>> print(format_table([{"format": "x", "size_kb": 1.0, "latency_ms": 0.5,
    ...                      "roc_auc": 0.9, "max_abs_diff": 0.0}]))
    format              size (kB)   ms/image   ROC-AUC   max |Δp|
    x                         1.0      0.500     0.900     0.0000
    """
    lines = [
        f"{'format':<18}{'size (kB)':>11}{'ms/image':>11}{'ROC-AUC':>10}{'max |Δp|':>11}"
    ]
    for r in rows:
        lines.append(
            f"{r['format']:<18}{r['size_kb']:>11.1f}{r['latency_ms']:>11.3f}"
            f"{r['roc_auc']:>10.3f}{r['max_abs_diff']:>11.4f}"
        )
    return "\n".join(lines)
