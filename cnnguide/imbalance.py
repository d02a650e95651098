"""Remedies for class imbalance, and one experiment that compares them all.

PneumoniaMNIST is about three quarters pneumonia: here the *minority* class is
**normal** (label 0). This module collects the remedies the source lists and runs them
on the same data, with the same small network and the same seed, so that a single table
can compare them:

* data level: :func:`resample` (random over- and undersampling, SMOTE and cluster
  undersampling, all from imbalanced-learn) on pixels or on learned features, and
  :func:`cnnguide.models.build_augmentation` with the source's list
  (:data:`cnnguide.models.SOURCE_AUGMENTATION`);
* algorithm level: :func:`class_weights`, :func:`focal_loss` and transfer learning
  (:func:`build_applications_model` for the ImageNet path, :func:`pretrain_on_phantoms`
  for the offline demonstration);
* :func:`run_comparison` trains one model per remedy and scores it on the **validation**
  split; :func:`format_table` prints the result without pandas.

Teaching material, not a diagnostic device.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from cnnguide.images import as_model_input
from cnnguide import models
from cnnguide.models import FILL_MODE, predict_proba
from cnnguide.train import fit, fit_input

__all__ = [
    "SAMPLERS",
    "METHODS",
    "resample",
    "smote_blend",
    "class_weights",
    "focal_loss",
    "augmentation_gallery",
    "model_outputs",
    "feature_extractor",
    "pretrain_on_phantoms",
    "build_applications_model",
    "subsample",
    "run_comparison",
    "compare_over_seeds",
    "comparison_figure",
    "comparison_lines",
    "format_table",
]

#: Resampling methods accepted by :func:`resample`.
SAMPLERS = ("none", "random_over", "random_under", "smote", "cluster_under")

#: Remedies compared by :func:`run_comparison`, with a one-line description each.
METHODS: dict[str, str] = {
    "none": "no remedy (plain binary cross-entropy)",
    "class_weight": "balanced class weights n / (2 n_c)",
    "focal": "focal loss (gamma 2, alpha = share of normals)",
    "random_over": "random oversampling of normals (copies)",
    "random_under": "random undersampling of pneumonias",
    "smote_pixels": "SMOTE on raw pixels",
    "smote_features": "SMOTE on learned features (baseline encoder) + new head",
    "cluster_under": "cluster-centroid undersampling (hard voting)",
    "augmentation": "augmentation layers (rotation, zoom, brightness, contrast, noise)",
    "transfer": "pre-trained on phantoms, fine-tuned on the data",
}


# ----------------------------------------------------------------------------
# data level: resampling
# ----------------------------------------------------------------------------


def _sampler(method: str, seed: int, k_neighbors: int):
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import ClusterCentroids, RandomUnderSampler

    if method == "random_over":
        return RandomOverSampler(random_state=seed)
    if method == "random_under":
        return RandomUnderSampler(random_state=seed)
    if method == "smote":
        return SMOTE(random_state=seed, k_neighbors=k_neighbors)
    if method == "cluster_under":
        from sklearn.cluster import KMeans

        # Hard voting keeps the real sample nearest each centroid (an actual image,
        # not a blurred average). One k-means run from random centres is ~20x faster
        # than k-means++ seeding with hundreds of clusters, and good enough to spread
        # the kept cases over the class.
        estimator = KMeans(
            n_clusters=8, n_init=1, init="random", max_iter=20, random_state=seed
        )
        return ClusterCentroids(random_state=seed, estimator=estimator, voting="hard")
    raise ValueError(
        f"unknown resampling method {method!r}; choose one of {', '.join(SAMPLERS)}"
    )


def resample(
    images_or_features: np.ndarray,
    labels: np.ndarray,
    method: str = "random_over",
    seed: int = 0,
    *,
    k_neighbors: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Balance two classes with one of imbalanced-learn's samplers.

    Images ``(N, H, W)`` or ``(N, H, W, C)`` are flattened to vectors for the sampler
    and reshaped back; features ``(N, D)`` pass through as they are. Integer inputs
    (uint8 pixels) stay integer: SMOTE's interpolated values are rounded.

    Parameters
    ----------
    images_or_features : ndarray, shape (N, ...)
        Images or feature vectors.
    labels : ndarray, shape (N,)
        Class labels (0 = normal, 1 = pneumonia).
    method : {"none", "random_over", "random_under", "smote", "cluster_under"}
        ``random_over`` copies minority cases, ``random_under`` drops majority cases,
        ``smote`` interpolates between a minority case and one of its ``k_neighbors``
        nearest minority neighbours, ``cluster_under`` replaces the majority class by
        the cases nearest the centroids of as many k-means clusters as there are
        minority cases.
    seed : int
        Random state of the sampler.
    k_neighbors : int
        Neighbours SMOTE draws from.

    Returns
    -------
    (X, y) : tuple of ndarray
        The resampled data, same trailing shape and dtype as the input, and labels
        (uint8), with both classes equally frequent (``none`` returns copies).

    Examples
    --------
    >>> X = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    >>> y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1], dtype=np.uint8)
    >>> Xr, yr = resample(X, y, "random_under", seed=0)
    >>> Xr.shape, np.bincount(yr).tolist()
    ((6, 2, 2), [3, 3])
    """
    X = np.asarray(images_or_features)
    y = np.asarray(labels).reshape(-1)
    if X.ndim < 2:
        raise ValueError(
            f"images_or_features must be (N, D) features or (N, H, W[, C]) images, got shape {X.shape}"
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"got {X.shape[0]} images or feature rows but {y.shape[0]} labels; pass one label each"
        )
    if method == "none":
        return X.copy(), y.astype(np.uint8)
    if np.unique(y).size != 2:
        raise ValueError("resample needs labels of exactly two classes (0 and 1)")
    sampler = _sampler(method, seed, k_neighbors)
    flat = X.reshape(X.shape[0], -1)
    integer = np.issubdtype(X.dtype, np.integer)
    work = (
        flat.astype(np.float64)
        if (integer and method in ("smote", "cluster_under"))
        else flat
    )
    Xr, yr = sampler.fit_resample(work, y)
    Xr = np.asarray(Xr)
    if integer and Xr.dtype != X.dtype:
        info = np.iinfo(X.dtype)
        Xr = np.clip(np.rint(Xr), info.min, info.max)
    Xr = Xr.astype(X.dtype, copy=False).reshape((-1,) + X.shape[1:])
    return Xr, np.asarray(yr).astype(np.uint8)


def smote_blend(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    """The point SMOTE makes between two cases: ``a + lam * (b - a)``.

    On raw pixels this is a cross-fade of two X-rays, which is why SMOTE on images
    produces "ghosted" pictures with two sets of ribs and heart borders.

    Parameters
    ----------
    a, b : ndarray, same shape
        Two minority cases (images or feature vectors).
    lam : float
        Position on the segment, in ``[0, 1]`` (0 gives ``a``, 1 gives ``b``).

    Returns
    -------
    ndarray (float32)

    Examples
    --------
    >>> smote_blend(np.array([0.0, 10.0]), np.array([10.0, 0.0]), 0.25).tolist()
    [2.5, 7.5]
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {a.shape} and {b.shape}"
        )
    return a + np.float32(lam) * (b - a)


# ----------------------------------------------------------------------------
# algorithm level: class weights and focal loss
# ----------------------------------------------------------------------------


def class_weights(
    labels: np.ndarray, mode: str | Mapping[int, float] = "balanced"
) -> dict[int, float]:
    """Per-class loss weights for ``model.fit(class_weight=...)``.

    Parameters
    ----------
    labels : ndarray, shape (N,)
        Training labels (0/1).
    mode : "balanced" or mapping
        ``"balanced"``: scikit-learn's ``compute_class_weight``, i.e. ``n / (2 n_c)``
        for class ``c``, so each class carries the same total weight. A mapping
        ``{0: w0, 1: w1}`` gives custom weights (checked and returned as floats).

    Returns
    -------
    dict
        ``{0: w0, 1: w1}``.

    Examples
    --------
    >>> class_weights(np.array([0, 1, 1, 1]))
    {0: 2.0, 1: 0.6666666666666666}
    >>> class_weights(np.array([0, 1]), {0: 3, 1: 1})
    {0: 3.0, 1: 1.0}
    """
    y = np.asarray(labels).reshape(-1)
    if isinstance(mode, Mapping):
        if set(mode) != {0, 1}:
            raise ValueError(
                f"custom class weights need keys 0 and 1, got {sorted(mode)}"
            )
        weights = {int(k): float(v) for k, v in mode.items()}
        if min(weights.values()) <= 0:
            raise ValueError(f"class weights must be positive, got {weights}")
        return dict(sorted(weights.items()))
    if mode != "balanced":
        raise ValueError(
            f"mode must be 'balanced' or a dict {{0: w0, 1: w1}}, got {mode!r}"
        )
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.array([0, 1])
    if not np.isin(classes, y).all():
        raise ValueError("balanced class weights need both classes (0 and 1) in labels")
    w = compute_class_weight("balanced", classes=classes, y=y)
    return {0: float(w[0]), 1: float(w[1])}


def focal_loss(gamma: float = 2.0, alpha: float | None = None):
    """Keras' binary focal loss, ``-alpha_t (1 - p_t)^gamma log(p_t)``.

    ``p_t`` is the probability the model gives the true class. The factor
    ``(1 - p_t)^gamma`` shrinks the loss of easy, confidently right cases, so training
    concentrates on hard ones; ``gamma = 0`` gives plain cross-entropy.

    Parameters
    ----------
    gamma : float
        Focusing parameter (0 or more; 2 is the usual choice).
    alpha : float or None
        Weight of the positive class (pneumonia) in ``(0, 1)``; negatives get
        ``1 - alpha``. ``None`` disables class balancing. Since pneumonia is the
        *majority* here, a balancing alpha is below 0.5 (e.g. the share of normals).

    Returns
    -------
    keras.losses.BinaryFocalCrossentropy

    Examples
    --------
    >>> loss = focal_loss(gamma=0.0)
    >>> round(float(loss(np.array([[1.0]]), np.array([[0.5]]))), 4)  # -log(0.5)
    0.6931
    """
    import keras

    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if alpha is None:
        return keras.losses.BinaryFocalCrossentropy(
            gamma=float(gamma), apply_class_balancing=False
        )
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1) or None, got {alpha}")
    return keras.losses.BinaryFocalCrossentropy(
        gamma=float(gamma), alpha=float(alpha), apply_class_balancing=True
    )


# ----------------------------------------------------------------------------
# augmentation
# ----------------------------------------------------------------------------


def augmentation_gallery(
    image: np.ndarray, seed: int = 0
) -> list[tuple[str, np.ndarray]]:
    """One X-ray under each augmentation of the source's list, at full strength.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        uint8 or float in ``[0, 1]``.
    seed : int
        Seed of the noise.

    Returns
    -------
    list of (name, (H, W) float32 image)
        Original, rotation +10°, rotation −10°, zoom in 10 %, zoom out 10 %, brighter,
        higher contrast, Gaussian noise, horizontal flip, vertical flip.

    Examples
    --------
    >>> names = [n for n, _ in augmentation_gallery(np.zeros((28, 28), np.uint8))]
    >>> names[0], len(names)
    ('original', 10)
    """
    from keras import layers

    x = np.asarray(image)
    if x.ndim != 2:
        raise ValueError(
            f"image must be one (H, W) greyscale image, got shape {x.shape}"
        )
    batch = as_model_input(x)
    x = batch[0, :, :, 0]
    # Fixed-strength layers: the factor range collapses to one value, so each panel
    # shows the extreme of what the random layer would draw.
    transforms = [
        (
            "rotation +10°",
            layers.RandomRotation((10 / 360, 10 / 360), fill_mode=FILL_MODE),
        ),
        (
            "rotation −10°",
            layers.RandomRotation((-10 / 360, -10 / 360), fill_mode=FILL_MODE),
        ),
        ("zoom in 10 %", layers.RandomZoom((-0.1, -0.1), fill_mode=FILL_MODE)),
        ("zoom out 10 %", layers.RandomZoom((0.1, 0.1), fill_mode=FILL_MODE)),
        (
            "brightness +0.1",
            layers.RandomBrightness((0.1, 0.1), value_range=(0.0, 1.0)),
        ),
    ]
    out = [("original", x)]
    for name, layer in transforms:
        out.append((name, np.asarray(layer(batch, training=True))[0, :, :, 0]))
    mean = x.mean()
    out.append(("contrast ×1.3", np.clip((x - mean) * 1.3 + mean, 0.0, 1.0)))
    rng = np.random.default_rng(seed)
    out.append(
        (
            "Gaussian noise σ=0.05",
            np.clip(x + rng.normal(0.0, 0.05, x.shape), 0.0, 1.0).astype(np.float32),
        )
    )
    out.append(("horizontal flip (heart on the right!)", x[:, ::-1].copy()))
    out.append(("vertical flip (upside down)", x[::-1, :].copy()))
    return [(name, np.asarray(img, dtype=np.float32)) for name, img in out]


# ----------------------------------------------------------------------------
# the small model and its training
# ----------------------------------------------------------------------------


def _scores(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Probability of pneumonia for each image (or feature row), shape (N,) float32.

    Images go through :func:`cnnguide.models.predict_proba`; feature rows (2-D)
    through the model directly.
    """
    if np.ndim(images) >= 3:
        return predict_proba(model, images, batch_size=batch_size)
    return model_outputs(model, images, batch_size).reshape(-1)


def feature_extractor(model, layer: str = "global_pool"):
    """The part of a trained :func:`cnnguide.models.build_small_cnn` up to ``layer`` (the learned features)."""
    import keras

    return keras.Model(model.inputs, model.get_layer(layer).output, name="features")


def _build_head(n_features: int, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((n_features,), name="features")
    x = layers.Dense(32, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="head")


def pretrain_on_phantoms(
    model=None,
    *,
    n: int = 1000,
    epochs: int = 3,
    seed: int = 0,
    image_size: int = 28,
):
    """Pre-train a network on synthetic chest phantoms (offline stand-in for ImageNet).

    Transfer learning needs a source task with plenty of data; without internet there
    are no ImageNet weights, but :func:`cnnguide.data.phantoms.make_phantoms` draws as many
    labelled chest-like images as wanted. The returned network is then fine-tuned on
    the real data like any other.

    Parameters
    ----------
    model : keras.Model, optional
        Network to pre-train (default: a fresh :func:`cnnguide.models.build_small_cnn`).
    n : int
        Number of phantoms (half with pneumonia).
    epochs : int
        Pre-training epochs.
    seed : int
        Seed of the phantoms (offset so they differ from a phantom dataset with the
        same seed) and of the training.
    image_size : int
        Phantom side in pixels.

    Returns
    -------
    (model, seconds) : the pre-trained model and the time spent (drawing + training).
    """
    from cnnguide.data.phantoms import make_phantoms

    start = time.perf_counter()
    batch = make_phantoms(
        n, size=image_size, seed=10_000 + seed, pneumonia_fraction=0.5
    )
    if model is None:
        model = models.build_small_cnn((image_size, image_size, 1), seed=seed)
    fit(model, batch.images, batch.labels, epochs=epochs, seed=seed)
    return model, time.perf_counter() - start


def build_applications_model(
    name: str = "MobileNetV2",
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    weights: str | None = None,
    size: int = 32,
    trainable_base: bool = False,
):
    """Transfer learning the usual way: a ``keras.applications`` backbone plus a new head.

    ImageNet backbones expect colour images of at least 32×32 pixels, so the greyscale
    input is resized and repeated to three channels. With ``weights="imagenet"`` Keras
    downloads the pre-trained weights (internet needed); ``weights=None`` builds the
    same graph with random weights (what the tests and an offline machine can do).

    Parameters
    ----------
    name : str
        A model in ``keras.applications`` (e.g. ``"MobileNetV2"``, ``"ResNet50"``,
        ``"VGG16"``).
    input_shape : (H, W, 1)
        Greyscale input shape.
    weights : "imagenet" or None
        Pre-trained weights to load.
    size : int
        Side the image is resized to before the backbone (>= 32).
    trainable_base : bool
        Freeze the backbone (False: train the head only, the first stage of fine-tuning).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> m = build_applications_model("MobileNetV2", weights=None)
    >>> m.output_shape
    (None, 1)
    """
    import keras
    from keras import layers

    if size < 32:
        raise ValueError(
            f"keras.applications backbones need at least 32×32 inputs, got size={size}"
        )
    try:
        backbone_cls = getattr(keras.applications, name)
    except AttributeError:
        raise ValueError(
            f"keras.applications has no model {name!r}; try 'MobileNetV2', 'ResNet50' or 'VGG16'"
        ) from None
    inputs = keras.Input(tuple(input_shape), name="image")
    x = layers.Resizing(size, size, name="resize")(inputs)
    x = layers.Concatenate(name="grey_to_rgb")([x, x, x]) if input_shape[-1] == 1 else x
    # The backbones expect [-1, 1] (MobileNet) or caffe-style inputs; rescaling to
    # [-1, 1] suits MobileNet and is harmless for a sketch with random weights.
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    base = backbone_cls(
        include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg"
    )
    base.trainable = trainable_base
    x = base(x, training=False)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name=f"{name.lower()}_transfer")


# ----------------------------------------------------------------------------
# the experiment
# ----------------------------------------------------------------------------


def subsample(images: np.ndarray, labels: np.ndarray, n: int | None, seed: int = 0):
    """A stratified random subset of ``n`` cases (class shares kept); ``None`` keeps all.

    Examples
    --------
    >>> y = np.array([0] * 25 + [1] * 75, dtype=np.uint8)
    >>> X, ys = subsample(np.zeros((100, 2, 2)), y, 40)
    >>> X.shape[0], int(ys.sum())
    (40, 30)
    """
    y = np.asarray(labels).reshape(-1)
    if n is None or n >= y.size:
        return np.asarray(images), y
    rng = np.random.default_rng(seed)
    keep = []
    for c in (0, 1):
        idx = np.flatnonzero(y == c)
        k = int(round(n * idx.size / y.size))
        keep.append(rng.choice(idx, size=k, replace=False))
    keep = np.sort(np.concatenate(keep))
    return np.asarray(images)[keep], y[keep]


def _score(y_val, scores) -> dict:
    from cnnguide.metrics import binary_metrics

    m = binary_metrics(y_val, scores, threshold=0.5)
    return {
        k: m[k]
        for k in ("recall", "specificity", "precision", "f1", "roc_auc", "pr_auc")
    }


def _remedy(method, X, y, shape, seed, epochs, pretrain_phantoms):
    """What one remedy changes before training: ``(X, y, fit kwargs, model or None)``.

    Resampling changes the training set, class weights and focal loss the fit,
    augmentation and transfer the model; ``None`` means a fresh small network.
    """
    Xt, yt, kwargs, model = X, y, {}, None
    if method == "class_weight":
        kwargs["class_weight"] = class_weights(y)
    elif method == "focal":
        kwargs["loss"] = focal_loss(gamma=2.0, alpha=float(np.mean(y == 0)))
    elif method in ("random_over", "random_under", "cluster_under"):
        Xt, yt = resample(X, y, method, seed)
    elif method == "smote_pixels":
        Xt, yt = resample(X, y, "smote", seed)
    elif method == "augmentation":
        model = models.build_small_cnn(
            shape,
            seed=seed,
            augmentation=models.build_augmentation(
                **models.SOURCE_AUGMENTATION, seed=seed
            ),
        )
    elif method == "transfer":
        model, _ = pretrain_on_phantoms(
            n=pretrain_phantoms, epochs=epochs, seed=seed, image_size=shape[0]
        )
    return Xt, yt, kwargs, model


def run_comparison(
    dataset,
    methods: Sequence[str] | None = None,
    *,
    seed: int = 0,
    epochs: int = 4,
    n_train: int | None = 1200,
    pretrain_phantoms: int = 600,
    keep_scores: bool = False,
    progress="auto",
    steps: int | None = None,
) -> list[dict]:
    """Train the same small CNN once per remedy and score each on the validation split.

    Every run uses the same training subset, the same seed (same initial weights and
    the same shuffling) and the same number of epochs; only the remedy differs. Scores
    are computed on the **validation** split at threshold 0.5; the test split is never
    touched, so a later choice among the remedies does not leak into the final test.

    Parameters
    ----------
    dataset : cnnguide.data.Dataset
        Needs ``train`` and ``val`` splits.
    methods : sequence of str, optional
        Keys of :data:`METHODS` (default: all, in that order).
    seed : int
        Seed of the subset, the samplers, the initial weights and the training.
    epochs : int
        Training epochs for every model (fine-tuning epochs for ``transfer``).
    n_train : int or None
        Stratified training subset size (None: the whole training split).
    pretrain_phantoms : int
        Phantoms drawn for the ``transfer`` pre-training.
    keep_scores : bool
        Add each model's validation scores to its row (key ``"scores"``), e.g. for
        bootstrap intervals or curves.
    progress : {"auto", "terminal", "text", "notebook"} or None
        Report each method as it finishes, with elapsed time and an estimate of what
        is left (:mod:`cnnguide.progress`; in a notebook the display ends as one
        summary line). ``None`` is silent.
    steps : int, optional
        Train every model (and the SMOTE-on-features head, and the fine-tuning of
        ``transfer``) for exactly this many optimiser steps, whatever the size of
        its resampled set: equal training, not equal epochs. Default: ``epochs``.

    Returns
    -------
    list of dict
        One row per method: ``method, description, n_train`` (after resampling),
        ``normal_share`` (share of normals the model trained on), ``recall,
        specificity, precision, f1, roc_auc, pr_auc`` (validation) and ``seconds``
        (training time, including resampling, feature extraction or pre-training).
    """
    methods = list(METHODS) if methods is None else list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")

    X, y = subsample(dataset["train"].images, dataset["train"].labels, n_train, seed)
    x_val, y_val = dataset["val"].images, np.asarray(dataset["val"].labels).reshape(-1)
    shape = tuple(fit_input(X[:1]).shape[1:])
    rows, baseline = [], None

    def train_baseline():
        """The plain model ("none"): trained once, whichever method asks first.

        SMOTE on features reuses its encoder, so the order of ``methods`` does not
        matter, and ``none`` need not be among them.
        """
        nonlocal baseline
        if baseline is None:
            t0 = time.perf_counter()
            model = models.build_small_cnn(shape, seed=seed)
            fit(model, X, y, epochs=epochs, seed=seed, steps=steps)
            baseline = (model, time.perf_counter() - t0)
        return baseline

    from cnnguide import progress as _progress

    reporter = _progress.Progress(_progress.resolve(progress), title="run_comparison")

    for index, method in enumerate(methods):
        reporter.status(
            f"{index + 1}/{len(methods)} {method}: training ...  "
            f"{_progress.format_seconds(reporter.elapsed)} elapsed, "
            + _progress.eta(index, len(methods), reporter.elapsed),
            force=True,
        )
        start = time.perf_counter()
        Xt, yt, kwargs, model = _remedy(
            method, X, y, shape, seed, epochs, pretrain_phantoms
        )
        if method == "smote_features":
            base_model, baseline_seconds = train_baseline()
            start = time.perf_counter()
            encoder = feature_extractor(base_model)
            features = model_outputs(encoder, X)
            Ft, yt = resample(features, y, "smote", seed)
            head = _build_head(Ft.shape[1], seed)
            fit(head, Ft, yt, epochs=epochs * 3, seed=seed, steps=steps)
            scores = _scores(head, model_outputs(encoder, x_val))
            seconds = time.perf_counter() - start + baseline_seconds
            n_used = Ft.shape[0]
        elif method == "none":
            model, seconds = train_baseline()
            scores = _scores(model, x_val)
            n_used = X.shape[0]
        else:
            if model is None:
                model = models.build_small_cnn(shape, seed=seed)
            fit(model, Xt, yt, epochs=epochs, seed=seed, steps=steps, **kwargs)
            scores = _scores(model, x_val)
            seconds = time.perf_counter() - start
            n_used = Xt.shape[0]
        row = {
            "method": method,
            "description": METHODS[method],
            "n_train": int(n_used),
            "normal_share": float(np.mean(np.asarray(yt) == 0)),
            **_score(y_val, scores),
            "seconds": float(seconds),
        }
        if keep_scores:
            row["scores"] = scores
        rows.append(row)
        left = len(methods) - index - 1
        reporter.step(
            f"{index + 1}/{len(methods)} {method}: {seconds:.0f} s, validation "
            f"ROC-AUC {row['roc_auc']:.3f}"
            + (
                f"; {_progress.eta(index + 1, len(methods), reporter.elapsed)}"
                if left
                else ""
            )
        )
    reporter.close(
        f"{len(rows)} methods trained and scored in "
        f"{_progress.format_seconds(reporter.elapsed)}"
    )
    return rows


def model_outputs(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Outputs of ``model`` (e.g. a feature extractor) as a float32 array.

    Not a predictor: for probabilities of pneumonia use
    :func:`cnnguide.models.predict_proba`. This one returns whatever the model
    outputs (learned features), for images or for feature rows.
    """
    x = fit_input(images)
    # Direct calls in inference mode: unlike model.predict they trace no new graph per
    # model, which keeps a loop over many small models fast and quiet.
    with warnings.catch_warnings():
        # Keras warns that a named input receives a bare array; the array is that input.
        warnings.filterwarnings(
            "ignore", message="The structure of `inputs` doesn't match"
        )
        parts = [
            np.asarray(model(x[i : i + batch_size], training=False))
            for i in range(0, x.shape[0], batch_size)
        ]
    return np.concatenate(parts).astype(np.float32)


def format_table(
    rows: Sequence[Mapping],
    columns: Sequence[str] = (
        "method",
        "recall",
        "specificity",
        "precision",
        "f1",
        "roc_auc",
        "pr_auc",
        "seconds",
    ),
    *,
    digits: int = 3,
    mark_best: bool = True,
) -> str:
    """A plain-text table of dict rows (no pandas needed); floats rounded.

    With ``mark_best``, the best value of each metric column is marked with ``*``
    (highest, except for ``seconds`` where lowest is best).

    Examples
    --------
    >>> print(format_table([{"method": "a", "f1": 0.5}, {"method": "b", "f1": 0.75}], ("method", "f1")))
    method     f1
    ------ ------
    a      0.500
    b      0.750*
    """
    rows = list(rows)
    best = {}
    if mark_best and rows:
        for col in columns:
            vals = [
                r[col]
                for r in rows
                if isinstance(r.get(col), float) and np.isfinite(r[col])
            ]
            if vals:
                best[col] = min(vals) if col == "seconds" else max(vals)

    def cell(row, col):
        v = row.get(col, "")
        if isinstance(v, float):
            text = f"{v:.1f}" if col == "seconds" else f"{v:.{digits}f}"
            return text + ("*" if col in best and v == best[col] else " ")
        return str(v)

    body = [[cell(r, c) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(b[i]) for b in body]) for i, c in enumerate(columns)]
    lines = [
        " ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(columns, widths))
        )
    ]
    lines.append(" ".join("-" * w for w in widths))
    for b in body:
        lines.append(
            " ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(b, widths))
            )
        )
    return "\n".join(line.rstrip() for line in lines)


def compare_over_seeds(
    dataset,
    seeds: Sequence[int],
    methods: Sequence[str] | None = None,
    *,
    steps: int = 100,
    n_train: int | None = 600,
    min_recall: float = 0.95,
    baseline: str = "none",
    progress=None,
) -> dict:
    """:func:`run_comparison` under several seeds, at equal steps, with verdicts.

    One run per seed is one sample: two seeds of one remedy can differ as much as
    two remedies do. Each seed draws its own training subset, samplers, weights
    and order; every model trains ``steps`` optimiser steps. Each model is scored
    on the validation split by its ROC-AUC and by its specificity at the
    operating point where recall first reaches ``min_recall`` (chosen on the same
    validation scores: a point of the ROC curve, not a tuned threshold to report).
    Each remedy is compared with ``baseline`` seed by seed
    (:func:`cnnguide.metrics.paired_difference`) and given a verdict
    (:func:`cnnguide.metrics.verdict`).

    Parameters
    ----------
    dataset : cnnguide.data.Dataset
    seeds : sequence of int
        At least two.
    methods : sequence of str, optional
        Keys of :data:`METHODS` (default all); ``baseline`` is added when missing.
    steps, n_train : int
        Optimiser steps per model and the training subset per seed.
    min_recall : float
        Recall of the operating point for the specificity column.
    baseline : str
        The method every other is compared with.
    progress : optional
        Passed to :func:`run_comparison`.

    Returns
    -------
    dict
        ``runs``: one row per seed and method (``seed, method, roc_auc, pr_auc,
        specificity, seconds, n_train, scores``); ``summary``: one row per method
        with the mean and sd over seeds of ``roc_auc`` and ``specificity``, and,
        for every method but the baseline, the paired difference in each
        (``*_diff``, ``*_low``, ``*_high``) and its verdict (``*_verdict``:
        "beats", "shows no clear difference from" or "trails").
    """
    from cnnguide.metrics import (
        binary_metrics,
        choose_threshold,
        paired_difference,
        seed_spread,
        verdict,
    )

    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"compare_over_seeds needs at least 2 seeds, got {seeds}")
    methods = list(METHODS) if methods is None else list(methods)
    if baseline not in methods:
        methods.insert(0, baseline)
    y_val = np.asarray(dataset["val"].labels).reshape(-1)
    runs = []
    for s in seeds:
        rows = run_comparison(
            dataset,
            methods,
            seed=s,
            n_train=n_train,
            steps=steps,
            keep_scores=True,
            progress=progress,
        )
        for row in rows:
            t = choose_threshold(y_val, row["scores"], min_recall=min_recall)
            runs.append(
                {
                    "seed": s,
                    "method": row["method"],
                    "roc_auc": row["roc_auc"],
                    "pr_auc": row["pr_auc"],
                    "specificity": binary_metrics(y_val, row["scores"], t)[
                        "specificity"
                    ],
                    "seconds": row["seconds"],
                    "n_train": row["n_train"],
                    "scores": row["scores"],
                }
            )
    summary = []
    for method in methods:
        mine = [r for r in runs if r["method"] == method]
        base = [r for r in runs if r["method"] == baseline]
        entry = {"method": method, "seeds": len(mine)}
        for key in ("roc_auc", "specificity"):
            values = [r[key] for r in mine]
            spread = seed_spread(values)
            entry[f"{key}_mean"], entry[f"{key}_sd"] = spread["mean"], spread["sd"]
            if method != baseline:
                d = paired_difference(values, [r[key] for r in base])
                entry[f"{key}_diff"] = d["mean"]
                entry[f"{key}_low"], entry[f"{key}_high"] = d["low"], d["high"]
                entry[f"{key}_verdict"] = verdict(d["low"], d["high"])
        entry["seconds_mean"] = float(np.mean([r["seconds"] for r in mine]))
        summary.append(entry)
    return {
        "runs": runs,
        "summary": summary,
        "steps": steps,
        "n_train": n_train,
        "min_recall": min_recall,
        "baseline": baseline,
    }


def comparison_figure(study: dict, y_val):
    """What :func:`compare_over_seeds` found, drawn: seeds, means and curves.

    Top: ROC-AUC and specificity at the study's recall floor, one grey dot per
    seed and the mean ± sd per remedy (validation). Bottom: the ROC and
    precision-recall curves of every remedy under the first seed, overlaid.

    Parameters
    ----------
    study : dict
        The return value of :func:`compare_over_seeds`.
    y_val : array_like of {0, 1}
        The validation labels its scores belong to.

    Returns
    -------
    matplotlib.figure.Figure
        Four axes.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    runs = study["runs"]
    methods = [row["method"] for row in study["summary"]]
    floor = study["min_recall"]
    y_val = np.asarray(y_val)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.6))
    axes = axes.ravel()
    for ax, key, title in (
        (axes[0], "roc_auc", "ROC-AUC"),
        (axes[1], "specificity", f"specificity at recall >= {floor:g}"),
    ):
        for k, method in enumerate(methods):
            values = np.array([r[key] for r in runs if r["method"] == method])
            ax.plot([k] * len(values), values, "o", alpha=0.5, color="grey")
            sd = values.std(ddof=1) if len(values) > 1 else 0.0
            ax.errorbar(k, values.mean(), sd, fmt="s", color="C0", capsize=4)
        ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
        ax.set(title=f"{title}, validation", ylabel=title)
    axes[0].plot([], [], "o", color="grey", label="one seed")
    axes[0].errorbar([], [], [], fmt="s", color="C0", label="mean ± sd")
    axes[0].legend(fontsize=8)
    first = runs[0]["seed"]
    for run in (r for r in runs if r["seed"] == first):
        fpr, tpr, _ = roc_curve(y_val, run["scores"])
        axes[2].plot(fpr, tpr, label=run["method"])
        precision, recall, _ = precision_recall_curve(y_val, run["scores"])
        axes[3].plot(recall, precision, label=run["method"])
    axes[2].plot([0, 1], [0, 1], ":", color="grey", label="chance")
    axes[2].set(
        xlabel="1 - specificity",
        ylabel="recall (sensitivity)",
        title="ROC curves, first seed, validation",
    )
    axes[2].legend(fontsize=8)
    axes[3].axhline(y_val.mean(), ls=":", color="grey", label="chance (prevalence)")
    axes[3].set(
        xlabel="recall (sensitivity)",
        ylabel="precision",
        title="precision-recall curves, first seed, validation",
    )
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    return fig


def comparison_lines(study: dict) -> list[str]:
    """One Markdown line per remedy: its verdict against the baseline, with numbers.

    Each verdict is :func:`cnnguide.metrics.verdict` of the paired difference
    over seeds that :func:`compare_over_seeds` computed, so the sentence stays
    true when the numbers change.

    Examples
    --------
    >>> study = {"baseline": "none", "min_recall": 0.95, "summary": [
    ...     {"method": "none", "seeds": 5, "roc_auc_mean": 0.9, "roc_auc_sd": 0.01},
    ...     {"method": "focal", "seeds": 5, "roc_auc_mean": 0.91,
    ...      "roc_auc_diff": 0.01, "roc_auc_low": -0.002, "roc_auc_high": 0.02,
    ...      "roc_auc_verdict": "shows no clear difference from",
    ...      "specificity_diff": 0.05, "specificity_low": 0.01,
    ...      "specificity_high": 0.09, "specificity_verdict": "beats"}]}
    >>> print("\\n".join(comparison_lines(study)))
    - No remedy: ROC-AUC 0.900 ± 0.010 over 5 seeds.
    - focal shows no clear difference from no remedy in ROC-AUC (+0.010, 95 % interval [-0.002, +0.020]); it beats no remedy in specificity at recall 0.95 (+0.050, 95 % interval [+0.010, +0.090]).
    """

    def sentence(row, key, label):
        return (
            f"{row[key + '_verdict']} no remedy in {label} "
            f"({row[key + '_diff']:+.3f}, 95 % interval "
            f"[{row[key + '_low']:+.3f}, {row[key + '_high']:+.3f}])"
        )

    rows = {row["method"]: row for row in study["summary"]}
    base = rows[study["baseline"]]
    spec = f"specificity at recall {study['min_recall']:g}"
    lines = [
        f"- No remedy: ROC-AUC {base['roc_auc_mean']:.3f} "
        f"± {base['roc_auc_sd']:.3f} over {base['seeds']} seeds."
    ]
    for method, row in rows.items():
        if method == study["baseline"]:
            continue
        lines.append(
            f"- {method} {sentence(row, 'roc_auc', 'ROC-AUC')}; "
            f"it {sentence(row, 'specificity', spec)}."
        )
    return lines
