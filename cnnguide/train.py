"""One function from a configuration to a trained pneumonia detector and its report.

:func:`train` runs the source's steps 5 and 6 the careful way:

* a ``tf.data`` pipeline (cache, shuffle with a fixed seed, batch, then cast and scale each
  batch, prefetch): images stay ``uint8`` in memory until a batch needs them;
* mild augmentation with Keras preprocessing layers inside the model (identity at inference);
* class weights for the imbalanced classes;
* callbacks: EarlyStopping and ModelCheckpoint on the validation ROC-AUC, ReduceLROnPlateau,
  BackupAndRestore (a killed run resumes where it stopped), a CSV log and Keras's progress bar;
* the decision threshold chosen on the validation split (highest threshold keeping recall
  at least ``min_recall``), then the test split evaluated once at that threshold;
* a model card (JSON) saved next to ``model.keras``;
* optionally (the preset ``"best"``): validation images that duplicate training images
  dropped before anything is chosen on validation, an exponential moving average of the
  weights, several members trained from different seeds and saved as one averaging model,
  and test-time augmentation (:mod:`cnnguide.ensemble`).

Same seed, same machine: same metrics (op determinism is switched on). A
``tf.distribute`` strategy spreads training over several devices without code changes.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

import cnnguide
from cnnguide import metrics as _metrics
from cnnguide import files as _files
from cnnguide import models as _models
from cnnguide.images import as_model_input
from cnnguide.models import predict_proba

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "evaluate_test",
    "save",
    "load",
    "make_dataset",
    "fit",
    "fit_input",
    "step_order",
    "PRESETS",
]

MODEL_FILE = "model.keras"
CARD_FILE = "model_card.json"
LOG_FILE = "log.csv"
BEST_FILE = "best.weights.h5"
BACKUP_DIR = "backup"
MEMBERS_DIR = "members"
#: The weights a finished ``fit`` chose, and a marker saying so: a run killed
#: between ``fit`` and the final save resumes from them instead of training again.
FITTED_FILE = "fitted.weights.h5"
FIT_DONE_FILE = "fit_done.json"
#: Environment variables of the fault-injection hooks (see :func:`_phase`).
PHASE_FILE_VARIABLE = "CNNGUIDE_PHASE_FILE"
PHASE_PAUSE_VARIABLE = "CNNGUIDE_PHASE_PAUSE"

#: Named recipes for :meth:`TrainConfig.preset`. ``"best"`` is the ensemble whose every
#: choice was made on the validation split; ``benchmarks/search_recipes.py`` prints the
#: evidence and ``benchmarks/bench_preset.py`` its test scores.
PRESETS = {
    "best": {
        "members": 4,
        "tta": True,
        "ema": 0.99,
        "clean_validation": True,
    },
}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved in the model card).

    Attributes
    ----------
    image_size : int
        Side of the square input images (28, 64, 128 or 224 for PneumoniaMNIST).
    model : str
        ``"recommended"`` (:func:`cnnguide.models.build_recommended`) or ``"source"``
        (:func:`cnnguide.models.build_cnn`, one convolution per block, Flatten).
    widths, dense_units, dropout : network shape (see :func:`cnnguide.models.build_cnn`).
    convs_per_block : int or None
        Convolutions per block; ``None`` keeps the chosen model's default.
    epochs : int
        Most epochs; early stopping usually ends sooner.
    batch_size : int
        Global batch size (split across replicas under a strategy).
    learning_rate : float
        Initial learning rate of Adam (AdamW when ``weight_decay`` > 0).
    weight_decay : float
        Decoupled weight decay (AdamW); 0 means plain Adam.
    label_smoothing : float
        Label smoothing of the binary cross-entropy.
    patience : int
        Epochs without a better validation AUC before stopping; the learning rate is
        halved after ``max(1, patience // 3)`` such epochs.
    augment : bool
        Mild rotation, translation and zoom while training (no flips).
    contrast, brightness : float
        Largest random contrast change and brightness shift while training (0: none).
    noise : float
        Standard deviation of Gaussian noise added while training (0: none).
    upsample, pool_first, residual :
        Network options of :func:`cnnguide.models.build_cnn` (input enlarged, no
        pooling after the first block, residual blocks).
    mixup : float
        Mixup's α: each training batch is blended with a shuffled copy of itself,
        images and labels alike, by a weight drawn from Beta(α, α) (0: off). Class
        weights are then applied as per-image weights, blended the same way.
    class_weight : str or None
        ``"balanced"`` weighs each class by ``N / (2 · N_class)``; ``None`` weighs all cases alike.
    min_recall : float
        Recall the validation-chosen threshold must keep.
    seed : int
        Seed of weights, shuffling, augmentation and dropout.
    members : int
        Networks to train, from seeds ``seed``, ``seed + 1``...; more than one makes an
        ensemble saved as one model that averages their probabilities
        (:func:`cnnguide.ensemble.build_ensemble`). Each member is saved when it ends,
        so a killed run resumes at the member (and epoch) it had reached.
    tta : bool
        Average each prediction over small shifts and rotations of the image
        (test-time augmentation, :class:`cnnguide.ensemble.TTAViews`), inside the saved
        model.
    ema : float
        Momentum of an exponential moving average of the weights (Keras's
        ``use_ema``); validation, checkpoints and the saved model use the averaged
        weights. 0 switches it off.
    clean_validation : bool
        Drop validation images that are byte-identical to a training image
        (:func:`cnnguide.data.find_duplicates`) before early stopping and the
        threshold look at validation; the card reports validation with and without
        them.

    Examples
    --------
    >>> TrainConfig.preset("best").members > 1
    True
    """

    image_size: int = 28
    model: str = "recommended"
    widths: tuple = (16, 32, 64)
    dense_units: int = 128
    dropout: float = 0.3
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 6
    augment: bool = True
    class_weight: str | None = "balanced"
    min_recall: float = 0.95
    seed: int = 0
    convs_per_block: int | None = None
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    contrast: float = 0.1
    brightness: float = 0.0
    members: int = 1
    tta: bool = False
    ema: float = 0.0
    clean_validation: bool = False
    noise: float = 0.0
    upsample: int = 1
    pool_first: bool = True
    residual: bool = False
    mixup: float = 0.0

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        if self.model not in ("recommended", "source"):
            raise ValueError(
                f"TrainConfig.model must be 'recommended' or 'source', got {self.model!r}"
            )
        if self.class_weight not in (None, "balanced"):
            raise ValueError(
                f"TrainConfig.class_weight must be 'balanced' or None, got {self.class_weight!r}"
            )
        for name in ("image_size", "epochs", "batch_size", "dense_units", "members"):
            if int(getattr(self, name)) < 1:
                raise ValueError(
                    f"TrainConfig.{name} must be a positive integer, got {getattr(self, name)!r}"
                )
        if not 0.0 < self.min_recall <= 1.0:
            raise ValueError(
                f"TrainConfig.min_recall must be in (0, 1], got {self.min_recall}"
            )
        if self.mixup < 0 or self.noise < 0:
            raise ValueError(
                f"TrainConfig.mixup and .noise must be >= 0 (0: off), got "
                f"{self.mixup} and {self.noise}"
            )
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(
                f"TrainConfig.ema must be in [0, 1) (0: off; 0.99 is usual), "
                f"got {self.ema}"
            )

    @classmethod
    def preset(cls, name: str, **overrides) -> "TrainConfig":
        """A named recipe from :data:`PRESETS`, with fields overridden.

        Examples
        --------
        >>> TrainConfig.preset("best", seed=3).seed
        3
        """
        if name not in PRESETS:
            raise ValueError(
                f"unknown preset {name!r}; choose one of {sorted(PRESETS)}"
            )
        return cls.from_dict({**PRESETS[name], **overrides})

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists).

        Examples
        --------
        >>> TrainConfig(epochs=3).to_dict()["epochs"]
        3
        """
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build a config from a dict; unknown keys raise a ValueError naming them.

        Examples
        --------
        >>> TrainConfig.from_dict({"epochs": 2, "seed": 1}).seed
        1
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown TrainConfig keys {unknown}; valid keys are {sorted(known)}"
            )
        return cls(**d)

    @classmethod
    def from_file(cls, path) -> "TrainConfig":
        """Read a config from a JSON or YAML file (a mapping of field names to values).

        Examples
        --------
        >>> import json, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "c.json")
        >>> _ = open(path, "w").write(json.dumps({"epochs": 4}))
        >>> TrainConfig.from_file(path).epochs
        4
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"config file {path} not found; pass the path of a JSON or YAML file"
            )
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() in (".yml", ".yaml"):
                import yaml

                d = yaml.safe_load(text)
            else:
                d = json.loads(text)
        except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
            raise ValueError(f"could not parse config file {path}: {exc}") from exc
        if not isinstance(d, dict):
            raise ValueError(
                f"config file {path} must hold a mapping of TrainConfig fields"
            )
        if "config" in d and isinstance(d["config"], dict) and "seed" in d["config"]:
            d = d["config"]  # a model card: reuse its config
        return cls.from_dict(d)


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : keras.Model
        The network with the best validation weights.
    history : dict of lists
        Per-epoch loss and metrics (from the CSV log, so a resumed run has every epoch).
    card : dict
        The model card (see :func:`train`).
    out_dir : Path or None
        Where ``model.keras``, the card and the CSV log were written.
    scores : dict of arrays
        Predicted probabilities on ``"val"`` (and ``"test"`` once scored:
        ``score_test=True`` or :func:`evaluate_test`), shape (N,) float32.
    """

    model: Any
    history: dict
    card: dict
    out_dir: Path | None = None
    scores: dict = dataclasses.field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Data


def _as_batch(images) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) -> (N, H, W, C): uint8 kept, else as_model_input."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            f"images must be shaped (N, H, W) or (N, H, W, C), got {images.shape}"
        )
    if images.dtype != np.uint8:
        # uint8 stays compact until the pipeline draws a batch (and divides it by
        # 255 there); every other dtype is converted, or refused, by the one rule.
        images = as_model_input(images)
    return images


def make_dataset(
    images,
    labels,
    *,
    batch_size=64,
    shuffle=False,
    seed=0,
    mixup: float = 0.0,
    class_weight: dict | None = None,
):
    """A ``tf.data`` pipeline: cache, (shuffle), batch, cast to float32 in [0, 1], prefetch.

    Images stay in their stored dtype (uint8 for PneumoniaMNIST) until a batch is drawn.

    Parameters
    ----------
    images : array, (N, H, W) or (N, H, W, C)
        uint8 (0–255) or float in [0, 1].
    labels : array, (N,)
        0/1 labels.
    batch_size : int
    shuffle : bool
        Reshuffle every epoch, with a fixed seed.
    seed : int
    mixup : float
        Mixup's α (0: off). Each batch is blended with a shuffled copy of itself by
        a weight λ ~ Beta(α, α) drawn per batch (seeded): images, labels and image
        weights alike; the dataset then also yields the image weights.
    class_weight : dict, optional
        ``{0: w0, 1: w1}``; with mixup, applied as per-image weights (Keras's
        ``class_weight`` needs hard labels).

    Returns
    -------
    tf.data.Dataset
        Yields ``(float32 (B, H, W, C), float32 (B, 1))``, and with mixup also
        ``float32 (B,)`` image weights.

    Examples
    --------
    >>> import numpy as np
    >>> ds = make_dataset(np.zeros((5, 8, 8), np.uint8), np.zeros(5), batch_size=2)
    >>> [tuple(x.shape) for x, _ in ds]
    [(2, 8, 8, 1), (2, 8, 8, 1), (1, 8, 8, 1)]
    >>> mixed = make_dataset(np.zeros((4, 8, 8), np.uint8), [0, 1, 0, 1], mixup=0.2)
    >>> [tuple(t.shape) for t in next(iter(mixed))]
    [(4, 8, 8, 1), (4, 1), (4,)]
    """
    import tensorflow as tf

    images = _as_batch(images)
    labels = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
    scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0

    def to_float(x, y):
        return tf.cast(x, tf.float32) * scale, y

    columns = (images, labels)
    if mixup:
        weights = np.ones(len(labels), np.float32)
        if class_weight:
            weights = np.array(
                [class_weight[int(v)] for v in labels[:, 0]], dtype=np.float32
            )
        columns += (weights,)
    ds = tf.data.Dataset.from_tensor_slices(columns).cache()
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if not mixup:
        ds = ds.batch(batch_size).map(
            to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        return ds.prefetch(tf.data.AUTOTUNE)

    alpha = float(mixup)

    def mix(batch_seed, batch):
        x, y, w = batch
        x = tf.cast(x, tf.float32) * scale
        # stateless draws from a per-batch seed: the same blend on every run
        seeds = tf.random.experimental.stateless_split(
            tf.stack([batch_seed, tf.constant(seed, tf.int64)]), 3
        )
        g1 = tf.random.stateless_gamma([], seeds[0], alpha)
        g2 = tf.random.stateless_gamma([], seeds[1], alpha)
        lam = g1 / (g1 + g2)
        order = tf.argsort(tf.random.stateless_uniform([tf.shape(x)[0]], seeds[2]))
        blend = lambda a: lam * a + (1.0 - lam) * tf.gather(a, order)  # noqa: E731
        return blend(x), blend(y), blend(w)

    ds = tf.data.Dataset.zip(tf.data.Dataset.random(seed=seed), ds.batch(batch_size))
    ds = ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------
# Saving


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model card")


def _phase(name: str) -> None:
    """A named point of a run, announced for fault-injection tests.

    When ``CNNGUIDE_PHASE_FILE`` names a file, the phase's name is appended to
    it (and flushed to disk) as the run reaches it; when ``CNNGUIDE_PHASE_PAUSE``
    equals the name, the run then waits there, so that a test can kill it at
    exactly that point and judge what a rerun makes of the pieces. Outside such
    tests neither variable is set and this does nothing.
    """
    path = os.environ.get(PHASE_FILE_VARIABLE)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if os.environ.get(PHASE_PAUSE_VARIABLE) == name:
        while True:  # the test's SIGKILL ends this
            time.sleep(0.1)


def save(model, card: dict, out_dir) -> Path:
    """Write ``out_dir/model.keras`` and ``out_dir/model_card.json``, each whole.

    Each file is written to a temporary name and renamed
    (:mod:`cnnguide.files`), the model first; the card records the model
    file's sha256 (``model_sha256``), so that :func:`load` can refuse a model
    and a card that a killed save left from two different runs.

    Parameters
    ----------
    model : keras.Model
    card : dict
        JSON-ready model card (NumPy scalars are converted).
    out_dir : path
        Folder, created when missing.

    Returns
    -------
    Path
        The folder.

    Examples
    --------
    >>> import tempfile
    >>> from cnnguide.models import build_cnn
    >>> folder = save(build_cnn(widths=(4,)), {"threshold": 0.5}, tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['model.keras', 'model_card.json']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    with _files.atomic_path(model_path, suffix=".keras") as tmp:
        model.save(tmp)
    card = {**card, "model_sha256": _files.sha256_of(model_path)}
    _phase("model_saved")
    text = json.dumps(card, indent=2, default=_json_default, allow_nan=True)
    _files.write_text(out_dir / CARD_FILE, text + "\n")
    return out_dir


def load(path) -> tuple[Any, dict]:
    """Load a model saved by :func:`save` (or :func:`train`) and its card.

    Parameters
    ----------
    path : path
        The folder, or its ``model.keras`` file.

    Returns
    -------
    (keras.Model, dict)

    Raises
    ------
    FileNotFoundError
        When the model or its card is missing.
    ValueError
        When a file exists but cannot be read (truncated, not a Keras archive, bad JSON).

    Examples
    --------
    >>> import tempfile
    >>> from cnnguide.models import build_cnn
    >>> folder = save(build_cnn(widths=(4,)), {"threshold": 0.25}, tempfile.mkdtemp())
    >>> model, card = load(folder)
    >>> card["threshold"]
    0.25
    """
    import keras

    import cnnguide.ensemble  # noqa: F401  (registers the layers ensembles save)

    path = Path(path)
    model_path = path / MODEL_FILE if path.is_dir() else path
    if not model_path.is_file():
        raise FileNotFoundError(
            f"no model at {model_path}; train one first (cnnguide.train.train(..., out_dir=...)) "
            "or pass the folder that holds model.keras"
        )
    card_path = model_path.parent / CARD_FILE
    if not card_path.is_file():
        raise FileNotFoundError(
            f"{model_path} has no model card beside it ({card_path}); save with cnnguide.train.save"
        )
    if not zipfile.is_zipfile(model_path):
        raise ValueError(
            f"{model_path} is not a Keras archive (corrupt or truncated); retrain or copy it again"
        )
    try:
        model = keras.saving.load_model(model_path, compile=False)
    except Exception as exc:
        raise ValueError(
            f"could not load {model_path} ({type(exc).__name__}: {exc}); the file is corrupt or was "
            "written by an incompatible Keras; retrain or copy it again"
        ) from exc
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not parse the model card {card_path}: {exc}") from exc
    expected = card.get("model_sha256")
    if expected is not None and expected != _files.sha256_of(model_path):
        raise ValueError(
            f"{model_path} is not the model its card {card_path.name} describes (the "
            "card records another sha256): a save was interrupted between the two "
            "files, so the threshold and metrics may belong to another model. Run the "
            "training again in this folder (cnnguide train --out with the same folder "
            "resumes), or restore both files from the same copy."
        )
    return model, card


# ---------------------------------------------------------------------------------------
# Training


def _read_log(path: Path) -> dict[str, list]:
    import csv

    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    history: dict[str, list] = {}
    for row in rows:
        for key, value in row.items():
            history.setdefault(key, []).append(
                int(value) if key == "epoch" else float(value)
            )
    return history


def _build_model(config: TrainConfig, input_shape):
    import keras

    augmentation = (
        _models.build_augmentation(
            contrast=config.contrast,
            brightness=config.brightness,
            noise=config.noise,
            seed=config.seed,
        )
        if config.augment
        else None
    )
    kwargs = dict(
        widths=config.widths,
        dense_units=config.dense_units,
        dropout=config.dropout,
        augmentation=augmentation,
        upsample=config.upsample,
        pool_first=config.pool_first,
        residual=config.residual,
    )
    if config.convs_per_block is not None:
        kwargs["convs_per_block"] = config.convs_per_block
    if config.model == "recommended":
        model = _models.build_recommended(input_shape, **kwargs)
    else:
        model = _models.build_cnn(input_shape, **kwargs)
    averaging = dict(use_ema=True, ema_momentum=config.ema) if config.ema > 0 else {}
    if config.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(
            config.learning_rate, weight_decay=config.weight_decay, **averaging
        )
    else:
        optimizer = keras.optimizers.Adam(config.learning_rate, **averaging)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
            keras.metrics.AUC(name="auc", num_thresholds=500),
        ],
    )
    return model


def _class_weight(config: TrainConfig, labels: np.ndarray) -> dict | None:
    if config.class_weight is None:
        return None
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(labels)
    if classes.size < 2:
        raise ValueError(
            "the training split holds a single class; class weights need both"
        )
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return {int(c): float(w) for c, w in zip(classes, weights)}


def _default_dataset(config: TrainConfig):
    from cnnguide import data

    return data.load_dataset(config.image_size)


def _as_config(config) -> TrainConfig:
    if config is None:
        return TrainConfig()
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    return config


def _splits(dataset) -> dict:
    splits = {}
    for name in ("train", "val", "test"):
        try:
            split = dataset.splits[name]
        except KeyError:
            raise ValueError(
                f"the dataset has no {name!r} split; it needs train, val and test"
            ) from None
        splits[name] = (
            _as_batch(split.images),
            np.asarray(split.labels).reshape(-1).astype(np.uint8),
        )
    return splits


def _validation_duplicates(splits: dict) -> np.ndarray:
    """Indices of validation images byte-identical to a training image."""
    from cnnguide.data import find_duplicates

    pairs = find_duplicates(splits["train"][0], splits["val"][0])
    return np.array(sorted({j for _, j in pairs}), dtype=int)


def _model_card(
    model, dataset, config, splits, runs, threshold, validation, seconds
) -> dict:
    """The model card of a finished run: data, config, epochs, threshold, versions."""
    import keras
    import tensorflow as tf

    input_shape = tuple(int(v) for v in splits["train"][0].shape[1:])
    card = {
        "name": model.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "disclaimer": cnnguide.DISCLAIMER,
        "data": {
            "name": getattr(dataset, "name", "unknown"),
            # file name and checksum, not this machine's folder: cards are shared
            "source": str(
                getattr(dataset, "shown_source", None)
                or getattr(dataset, "source", "unknown")
            ),
            "citation": getattr(dataset, "citation", ""),
            "is_real": bool(getattr(dataset, "is_real", False)),
            "image_size": int(getattr(dataset, "image_size", input_shape[0])),
            "split_sizes": {name: int(len(splits[name][1])) for name in splits},
        },
        "config": config.to_dict(),
        "seed": config.seed,
        "training_seconds": round(seconds, 2),
        "epochs_run": sum(run["epochs_run"] for run in runs),
        "resumed_after_epoch": runs[-1]["resumed_after_epoch"],
        "best_epoch": runs[0]["best_epoch"] if len(runs) == 1 else None,
        "threshold": threshold,
        "threshold_rule": (
            f"highest threshold keeping validation recall >= {config.min_recall} "
            "(a case is called pneumonia when its score >= threshold)"
        ),
        "validation": validation,
        "input_shape": list(input_shape),
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cnnguide": cnnguide.__version__,
        },
    }
    if len(runs) > 1:
        card["members"] = runs
    if config.tta:
        from cnnguide.ensemble import view_transforms

        card["tta_views"] = [list(view) for view in view_transforms()]
    return card


def _summary(card: dict, history: dict, seconds: float, *, n_runs: int) -> str:
    """The one line that closes a run's progress display."""
    from cnnguide.progress import format_seconds

    took = f"{card['epochs_run']} epochs in {format_seconds(seconds)}"
    if n_runs == 1:
        best = max(history.get("val_auc") or [float("nan")])
        return f"{took}; best validation AUC {best:.3f} at epoch {card['best_epoch']}"
    return (
        f"{n_runs} members, {took}; validation AUC {card['validation']['roc_auc']:.3f}"
    )


def train(
    config: TrainConfig | dict | None = None,
    dataset=None,
    *,
    out_dir=None,
    strategy=None,
    verbose: int = 0,
    callbacks=None,
    n_boot: int = 1000,
    progress="auto",
    score_test: bool = False,
) -> TrainResult:
    """Train a detector (or an ensemble) from a config and report it with a model card.

    Parameters
    ----------
    config : TrainConfig or dict, optional
        Default: ``TrainConfig()``; ``TrainConfig.preset("best")`` trains the ensemble.
    dataset : cnnguide.data.Dataset, optional
        Default: ``cnnguide.data.load_dataset(config.image_size)`` (phantoms when the real
        data is absent; the card says which).
    out_dir : path, optional
        Folder for ``model.keras``, ``model_card.json``, ``log.csv``, the best weights and
        the crash backup (an ensemble keeps each member in ``members/member_K/``).
        Running again with the same folder after a crash resumes at the epoch after the
        last one finished (for an ensemble: finished members are loaded, not retrained).
        ``None``: a temporary folder, deleted at the end.
    strategy : tf.distribute.Strategy, optional
        Build and train the model under this strategy (e.g. ``MirroredStrategy``);
        ``batch_size`` is the global batch.
    verbose : int
        Keras ``fit`` verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    callbacks : list of keras callbacks, optional
        Extra callbacks (run after the built-in ones).
    n_boot : int
        Bootstrap resamples for the test intervals.
    progress : {"auto", "terminal", "text", "notebook"} or None
        How to report progress (:mod:`cnnguide.progress`): one line per epoch with
        loss, validation AUC, elapsed time and an estimate of what is left. ``"auto"``
        shows a display that ends as one summary line in a notebook, an updating line
        on a terminal, and nothing in a script; ``None`` is silent. With
        ``verbose`` > 0 Keras reports instead and ``"auto"`` stays silent.
    score_test : bool
        Score the test split as well (the card's ``"test"``, ``scores["test"]``).
        Default ``False``: training looks at validation only, and the test split is
        scored once, when every choice is made, by :func:`evaluate_test` (or by
        passing ``True`` in a script that makes no further choice).

    Returns
    -------
    TrainResult

    Notes
    -----
    The epoch, the learning-rate drops and the threshold are chosen on the validation
    split (:func:`cnnguide.metrics.choose_threshold`); the test split is never used to
    choose anything.
    """
    from cnnguide import progress as _progress

    config = _as_config(config)
    if dataset is None:
        dataset = _default_dataset(config)
    splits = _splits(dataset)
    full_val = splits["val"]
    dropped = np.array([], dtype=int)
    if config.clean_validation:
        dropped = _validation_duplicates(splits)
        keep = np.setdiff1d(np.arange(len(full_val[1])), dropped)
        splits["val"] = (full_val[0][keep], full_val[1][keep])

    temporary = out_dir is None
    work = (
        Path(tempfile.mkdtemp(prefix="cnnguide-train-")) if temporary else Path(out_dir)
    )
    work.mkdir(parents=True, exist_ok=True)
    mode = None if verbose and progress == "auto" else _progress.resolve(progress)
    reporter = _progress.Progress(mode, title="train")
    fit_options = dict(strategy=strategy, verbose=verbose, callbacks=callbacks)
    if config.members > 1:
        model, history, runs = _fit_members(
            config, splits, work, mode=mode, **fit_options
        )
    else:
        model, history, run = _fit(config, splits, work, reporter, **fit_options)
        runs = [run]
    if config.tta or config.members > 1:
        from cnnguide.ensemble import build_ensemble

        model = build_ensemble(
            [model] if config.members == 1 else model, tta=config.tta
        )
    seconds = sum(run["training_seconds"] for run in runs)

    _phase("fit_done")
    reporter.status(
        "scoring validation"
        + (" and test, bootstrap intervals" if score_test else "")
        + " ...",
        force=True,
    )
    scores = {"val": predict_proba(model, splits["val"][0])}
    y_val = splits["val"][1]
    threshold = _metrics.choose_threshold(
        y_val, scores["val"], min_recall=config.min_recall
    )
    validation = _metrics.binary_metrics(y_val, scores["val"], threshold)

    card = _model_card(
        model, dataset, config, splits, runs, threshold, validation, seconds
    )
    if config.clean_validation:
        scores["val_with_duplicates"] = predict_proba(model, full_val[0])
        card["data"]["validation_duplicates_dropped"] = int(len(dropped))
        # which ones, so that a reader can score the same cleaned split
        card["data"]["validation_dropped"] = [int(i) for i in dropped]
        card["validation_with_duplicates"] = _metrics.binary_metrics(
            full_val[1], scores["val_with_duplicates"], threshold
        )
    summary = _summary(card, history, seconds, n_runs=len(runs))
    if score_test:
        scores["test"], card["test"] = _score_test(
            model, *splits["test"], threshold, n_boot=n_boot, seed=config.seed
        )
        summary += f"; test ROC-AUC {card['test']['roc_auc']:.3f}"
    reporter.close(summary)
    if temporary:
        shutil.rmtree(work, ignore_errors=True)
        result_dir = None
    else:
        save(model, card, work)
        card["model_sha256"] = _files.sha256_of(work / MODEL_FILE)  # as saved
        _forget_fit(work)  # only now: the model and its card are safely on disk
        result_dir = work
    return TrainResult(
        model=model, history=history, card=card, out_dir=result_dir, scores=scores
    )


def _score_test(model, images, labels, threshold, *, n_boot, seed):
    """Test scores, and metrics at ``threshold`` with bootstrap intervals."""
    scores = predict_proba(model, images)
    test = _metrics.binary_metrics(labels, scores, threshold)
    for metric in ("roc_auc", "recall", "specificity", "accuracy"):
        test[f"{metric}_ci"] = list(
            _metrics.bootstrap_ci(
                labels, scores, metric, n_boot=n_boot, seed=seed, threshold=threshold
            )
        )
    return scores, test


def evaluate_test(result: TrainResult, dataset, *, n_boot: int = 1000) -> dict:
    """Score the test split once, after every choice is made: the final evaluation.

    Scores ``dataset``'s test split with the trained model at the threshold that
    :func:`train` chose on validation, adds ``"test"`` (metrics with 95 % bootstrap
    intervals) to the card and ``"test"`` to ``result.scores``, and rewrites the saved
    card when the run was saved. The intervals are over test images only: they leave
    out the variation between training runs (another seed trains another network).

    Parameters
    ----------
    result : TrainResult
        From :func:`train`.
    dataset : cnnguide.data.Dataset
        The dataset it was trained on.
    n_boot : int
        Bootstrap resamples.

    Returns
    -------
    dict
        The test metrics (``result.card["test"]``).

    Raises
    ------
    ValueError
        When the test split was already scored for this result: each look at the
        test split spends it, so a second one is refused.

    Examples
    --------
    >>> from cnnguide.data import load_dataset
    >>> data = load_dataset(28, n_phantoms=60)  # doctest: +SKIP
    >>> result = train(TrainConfig(epochs=1), data)  # doctest: +SKIP
    >>> "test" in result.card  # doctest: +SKIP
    False
    >>> test = evaluate_test(result, data)  # doctest: +SKIP
    >>> sorted(k for k in test if k.endswith("_ci"))  # doctest: +SKIP
    ['accuracy_ci', 'recall_ci', 'roc_auc_ci', 'specificity_ci']
    """
    if "test" in result.card:
        raise ValueError(
            "the test split was already scored for this model; score it once, after "
            "every choice is made (train(..., score_test=False) leaves it unscored)"
        )
    images, labels = _splits(dataset)["test"]
    scores, test = _score_test(
        result.model,
        images,
        labels,
        result.card["threshold"],
        n_boot=n_boot,
        seed=int(result.card.get("seed", 0)),
    )
    result.scores["test"] = scores
    result.card["test"] = test
    if result.out_dir is not None:
        text = json.dumps(result.card, indent=2, default=_json_default, allow_nan=True)
        _files.write_text(Path(result.out_dir) / CARD_FILE, text + "\n")
    return test


def _fit_members(config: TrainConfig, splits: dict, work: Path, *, mode, **options):
    """Train (or load, when an earlier run finished them) ``config.members`` members."""
    from cnnguide import progress as _progress

    models, runs, history = [], [], {}
    for k in range(config.members):
        member = dataclasses.replace(config, seed=config.seed + k, members=1, tta=False)
        folder = work / MEMBERS_DIR / f"member_{k}"
        done = (folder / MODEL_FILE).is_file() and not (folder / BACKUP_DIR).exists()
        if done:
            try:
                model, run = load(folder)
            except (FileNotFoundError, ValueError):
                # a model without its card (or not the card's model): the save was
                # interrupted, so this member is trained again, not trusted
                done = False
            else:
                run.pop("model_sha256", None)
                done = run.pop("config", None) == member.to_dict()  # not an older run's
        if not done:
            title = f"train member {k + 1}/{config.members}"
            reporter = _progress.Progress(mode, title=title)
            model, _, run = _fit(member, splits, folder, reporter, **options)
            scores = predict_proba(model, splits["val"][0])
            run["val_auc"] = _metrics.binary_metrics(splits["val"][1], scores)[
                "roc_auc"
            ]
            reporter.close(
                f"{run['epochs_run']} epochs in "
                f"{_progress.format_seconds(run['training_seconds'])}; "
                f"validation AUC {run['val_auc']:.3f}"
            )
            save(model, {**run, "config": member.to_dict()}, folder)
            _forget_fit(folder)
        for key, values in _read_log(folder / LOG_FILE).items():
            history.setdefault(key, []).extend(values)
        history.setdefault("member", []).extend([k] * run["epochs_run"])
        models.append(model)
        runs.append(run)
    return models, history, runs


def _fit(
    config: TrainConfig,
    splits: dict,
    work: Path,
    reporter,
    *,
    strategy=None,
    verbose: int = 0,
    callbacks=None,
):
    """Fit one network in ``work`` (resuming from its backup), reporting each epoch.

    Returns the network with its best weights, its history and a summary of the
    run (seed, epochs, best epoch, seconds, resumed after which epoch).
    """
    import keras
    import tensorflow as tf

    from cnnguide import progress as _progress

    input_shape = tuple(int(v) for v in splits["train"][0].shape[1:])
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    work.mkdir(parents=True, exist_ok=True)
    backup = work / BACKUP_DIR
    log_path = work / LOG_FILE
    best_path = work / BEST_FILE
    resuming = backup.is_dir() and any(backup.iterdir())
    finished = _finished_fit(work, config) if resuming else None
    if finished is not None:  # killed after fit, before the final save: no retraining
        with strategy.scope() if strategy is not None else _null_scope():
            model = _build_model(config, input_shape)
        model.load_weights(work / FITTED_FILE)
        return model, _read_log(log_path), finished
    if resuming:
        _check_backup(backup)
    if not resuming:  # a fresh run: forget the logs of an earlier, finished one
        for stale in (log_path, best_path):
            stale.unlink(missing_ok=True)
    resumed_at = _backup_epochs(backup) if resuming else None
    if resuming:
        _align_log(log_path, resumed_at)
    previous = _read_log(log_path) if resuming else {}
    best_so_far = max(previous.get("val_auc", []), default=None)
    elapsed_before = float(previous["elapsed"][-1]) if previous.get("elapsed") else 0.0

    x_train, y_train = splits["train"]
    class_weight = _class_weight(config, y_train)
    train_ds = make_dataset(
        x_train,
        y_train,
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed,
        mixup=config.mixup,
        class_weight=class_weight,
    )
    if config.mixup:
        class_weight = None  # in the dataset, as blended per-image weights
    val_ds = make_dataset(*splits["val"], batch_size=config.batch_size)
    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        model = _build_model(config, input_shape)

    started = time.perf_counter()
    report = []
    if reporter.mode is not None:
        report.append(
            _progress.keras_callback(
                reporter,
                epochs=config.epochs,
                note="(less if early stopping ends it sooner)",
            )
        )

    class _Elapsed(keras.callbacks.Callback):
        """Adds cumulative training seconds to the logs (survives a resume via the CSV)."""

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["elapsed"] = elapsed_before + time.perf_counter() - started

    watch = dict(monitor="val_auc", mode="max")
    # The backup sees the raw weights; with EMA, SwapEMAWeights then puts the
    # averaged weights in for the checkpoint and early stopping (and validation).
    builtin = [
        _Elapsed(),
        # Kept after fit: deleted only once the final model and card are saved.
        keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False),
    ]
    if config.ema > 0:
        builtin.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    builtin += [
        keras.callbacks.ModelCheckpoint(
            str(best_path),
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
            verbose=0,
            **watch,
        ),
        keras.callbacks.EarlyStopping(patience=config.patience, **watch),
        keras.callbacks.ReduceLROnPlateau(
            factor=0.5,
            patience=max(1, config.patience // 3),
            min_lr=1e-5,
            verbose=0,
            **watch,
        ),
        keras.callbacks.CSVLogger(str(log_path), append=True),
        _PhaseAtEpochEnd(),  # last: "epoch_end:n" means epoch n is fully recorded
    ]
    fit = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=class_weight,
        callbacks=builtin + report + list(callbacks or []),
        shuffle=False,  # the pipeline shuffles, with its own seed
        verbose=verbose,
    )
    seconds = elapsed_before + time.perf_counter() - started
    if best_path.is_file():
        model.load_weights(best_path)
    history = _read_log(log_path) or {
        k: list(map(float, v)) for k, v in fit.history.items()
    }
    run = {
        "seed": config.seed,
        "epochs_run": len(history.get("epoch", fit.history.get("loss", []))),
        "best_epoch": _best_epoch(history),
        "training_seconds": round(seconds, 2),
        "resumed_after_epoch": resumed_at if resuming else None,
    }
    # The chosen weights and a marker, each whole: a kill from here to the final
    # save resumes with these weights instead of training again.
    with _files.atomic_path(work / FITTED_FILE, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    _files.write_text(
        work / FIT_DONE_FILE,
        json.dumps({"run": run, "config": config.to_dict()}, default=_json_default),
    )
    return model, history, run


class _PhaseAtEpochEnd:
    """Keras callback announcing ``epoch_end:<n>`` (1-based) to :func:`_phase`."""

    def __new__(cls):
        import keras

        class PhaseAtEpochEnd(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                _phase(f"epoch_end:{epoch + 1}")

        return PhaseAtEpochEnd()


def _finished_fit(work: Path, config) -> dict | None:
    """The run summary of a fit that finished in ``work`` with ``config``, or None."""
    marker, weights = work / FIT_DONE_FILE, work / FITTED_FILE
    if not (marker.is_file() and weights.is_file()):
        return None
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return saved["run"] if saved.get("config") == config.to_dict() else None


def _check_backup(backup: Path) -> None:
    """Refuse a crash backup that cannot be read, with the folder to delete."""
    fix = (
        f"delete the folder {backup} to start this run again from epoch 0 (the "
        "log and the best weights so far are then replaced)"
    )
    for path in sorted(backup.rglob("*")):
        if path.suffix == ".h5":
            import h5py

            try:
                with h5py.File(path, "r"):
                    pass
            except OSError as exc:
                raise RuntimeError(
                    f"the crash backup {path} is damaged ({exc}); {fix}"
                ) from exc
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RuntimeError(
                    f"the crash backup {path} is damaged ({exc}); {fix}"
                ) from exc


def _backup_epochs(backup: Path) -> int:
    """Epochs the crash backup has finished (Keras's ``training_metadata.json``)."""
    meta = backup / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text(encoding="utf-8"))["epoch"])
    except (OSError, KeyError, ValueError, json.JSONDecodeError):
        return 0


def _align_log(log_path: Path, epochs: int) -> None:
    """Keep the log's rows of the epochs the backup finished, and no more.

    A kill can fall between the CSV row of an epoch and its backup; the resumed
    run trains that epoch again, so its earlier row must go (rewritten whole).
    """
    if not log_path.is_file():
        return
    lines = log_path.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) > 1 + epochs:
        _files.write_text(log_path, "".join(lines[: 1 + epochs]))


def _forget_fit(work: Path) -> None:
    """Remove a finished run's backup, best and fitted weights, and marker."""
    shutil.rmtree(work / BACKUP_DIR, ignore_errors=True)
    for name in (BEST_FILE, FITTED_FILE, FIT_DONE_FILE):
        (work / name).unlink(missing_ok=True)


def _best_epoch(history: dict) -> int | None:
    aucs = history.get("val_auc")
    if not aucs:
        return None
    best = int(np.nanargmax(aucs))
    epochs = history.get("epoch")
    return int(epochs[best]) + 1 if epochs else best + 1


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ----------------------------------------------------------------------------
# the short experiments' loop
# ----------------------------------------------------------------------------


def fit(
    model,
    images,
    labels,
    *,
    epochs: int = 5,
    steps: int | None = None,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    optimizer=None,
    loss=None,
    class_weight=None,
    metrics=None,
    validation=None,
    seed: int = 0,
    progress=None,
) -> dict:
    """Compile a built model and fit it on arrays: the short experiments' loop.

    :func:`train` is the book's training run (callbacks, checkpoints, a model
    card). The short experiments of chapters 6 to 11 (a few epochs on a
    subset, to compare two settings) need only this: seed Keras, compile (Adam
    unless told otherwise), convert the images by
    :func:`cnnguide.images.as_model_input`, call ``model.fit`` quietly, and
    time it. Seeding here, after the model is built, gives the same run as
    seeding once before building: building draws no random numbers that
    ``fit`` uses.

    Parameters
    ----------
    model : keras.Model
        Built, not necessarily compiled (it is compiled here).
    images : ndarray
        ``(N, H, W)`` or ``(N, H, W, C)`` images (uint8, uint16 or float in
        [0, 1]), or ``(N, F)`` feature rows (a head trained on features).
    labels : ndarray, (N,)
    epochs : int
        Passes over the set (ignored when ``steps`` is given).
    steps : int, optional
        Exactly this many optimiser steps, drawn in shuffled passes
        (:func:`step_order`): a resampled set twice the size then gets the same
        number of updates as the original, which makes remedies that change the
        set's size comparable.
    batch_size : int
    learning_rate : float
        Adam's learning rate (ignored when ``optimizer`` is given).
    optimizer : keras optimizer, optional
        Default ``keras.optimizers.Adam(learning_rate)``; chapter 8 compares
        SGD, momentum and Adam through this.
    loss : keras loss, optional
        Default binary cross-entropy; chapter 7's output heads pass theirs
        (labels are then class indices or values, one per image).
    class_weight : dict, optional
        Passed to ``model.fit``.
    metrics : list, optional
        Keras metrics to record per epoch (e.g. ``["accuracy"]``).
    validation : (images, labels), optional
        Scored after each epoch (``val_loss``, ...); never used to choose.
    seed : int
        Seeds Python, NumPy and Keras (shuffling, dropout) before compiling.
    progress : {"auto", "terminal", "text", "notebook"} or None
        One line per epoch (:mod:`cnnguide.progress`); default quiet.

    Returns
    -------
    dict
        ``history``: per-epoch lists (``loss``, and ``val_loss`` and metrics when
        asked), floats; ``seconds``: wall-clock time of ``model.fit``.

    Examples
    --------
    >>> from cnnguide.models import build_small_cnn
    >>> x = np.random.default_rng(0).integers(0, 256, (32, 28, 28), np.uint8)
    >>> out = fit(build_small_cnn(seed=0), x, np.arange(32) % 2, epochs=2)
    >>> len(out["history"]["loss"]), out["seconds"] > 0
    (2, True)
    """
    import keras

    from cnnguide import progress as _progress

    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(learning_rate),
        loss=loss or "binary_crossentropy",
        metrics=metrics,
    )
    x = np.asarray(images)
    x = fit_input(x)
    y = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
    if steps is not None:
        order = step_order(len(x), int(steps), batch_size, seed)
        x, y, epochs = x[order], y[order], 1
    if validation is not None:
        v = np.asarray(validation[0])
        v = fit_input(v)
        validation = (v, np.asarray(validation[1], np.float32).reshape(-1, 1))
    reporter = _progress.Progress(_progress.resolve(progress), title="fit")
    report = (
        []
        if reporter.mode is None
        else [_progress.keras_callback(reporter, epochs=epochs)]
    )
    start = time.perf_counter()
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        class_weight=class_weight,
        validation_data=validation,
        shuffle=steps is None,  # a step order is shuffled already
        verbose=0,
        callbacks=report,
    )
    seconds = time.perf_counter() - start
    reporter.close(f"{epochs} epochs in {_progress.format_seconds(seconds)}")
    return {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "seconds": seconds,
    }


def fit_input(x) -> np.ndarray:
    """What :func:`fit` trains on: images by :func:`cnnguide.images.as_model_input`,
    ``(N, F)`` feature rows (a head trained on features) as float32.

    Examples
    --------
    >>> fit_input(np.zeros((2, 28, 28), np.uint8)).shape
    (2, 28, 28, 1)
    >>> fit_input(np.ones((2, 3), int)).dtype
    dtype('float32')
    """
    x = np.asarray(x)
    return as_model_input(x) if x.ndim >= 3 else x.astype(np.float32)


def step_order(n: int, steps: int, batch_size: int, seed: int = 0) -> np.ndarray:
    """Indices of ``steps`` batches drawn in shuffled passes over ``n`` images.

    Each pass is a fresh permutation, so every image is seen once per pass and
    the last pass is cut where the steps end.

    Parameters
    ----------
    n : int
        Images in the set.
    steps, batch_size : int
        Optimiser steps and images per step.
    seed : int

    Returns
    -------
    numpy.ndarray
        ``(steps * batch_size,)`` int64 indices into the set.

    Examples
    --------
    >>> order = step_order(10, 3, 4)
    >>> order.shape, sorted(order[:10].tolist()) == list(range(10))
    ((12,), True)
    """
    if n < 1 or steps < 1 or batch_size < 1:
        raise ValueError(
            f"step_order needs n, steps and batch_size >= 1, got {n}, {steps}, "
            f"{batch_size}"
        )
    rng = np.random.default_rng(seed)
    need = steps * batch_size
    passes = -(-need // n)
    return np.concatenate([rng.permutation(n) for _ in range(passes)])[:need]
