"""Convolutional networks for the pneumonia task: the source's step-4 design and the book's variant.

The source's checklist (step 4) describes one family of networks: 3×3 convolutions with
ReLU and batch normalization, 2×2 max pooling, dropout, a dense layer of 128 or 256 units
and a single sigmoid output. :func:`build_cnn` builds any member of that family;
:func:`build_recommended` builds the member the book trains in the training chapter.

Every model takes float32 images in ``[0, 1]`` shaped ``(H, W, C)`` and returns the
probability of pneumonia. This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

__all__ = [
    "build_cnn",
    "build_recommended",
    "build_small_cnn",
    "build_augmentation",
    "FILL_MODE",
    "predict_proba",
    "RECOMMENDED",
    "SOURCE_AUGMENTATION",
]

#: Keyword arguments of :func:`build_cnn` that make the book's recommended variant.
RECOMMENDED: dict = {
    "widths": (16, 32, 64),
    "convs_per_block": 2,
    "dense_units": 128,
    "dropout": 0.3,
    "batchnorm": True,
    "global_pooling": True,
    "name": "recommended_cnn",
}


def _check_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (height, width, channels) with positive sizes, got {input_shape!r}; "
            "for 28×28 greyscale images pass (28, 28, 1)"
        )
    return shape


#: How the augmentation layers fill pixels brought in from outside the image: the
#: nearest edge pixel repeated (no black frame that only training films would have).
FILL_MODE = "nearest"


#: The study guide's augmentation list, as arguments of :func:`build_augmentation`:
#: rotation and zoom as in the training chapter's defaults, no shift, but
#: brightness, contrast and Gaussian noise as well (the imbalance chapter's
#: "augmentation" remedy trains with it).
SOURCE_AUGMENTATION = {
    "rotation": 10.0,
    "translation": 0.0,
    "zoom": 0.1,
    "brightness": 0.1,
    "contrast": 0.1,
    "noise": 0.02,
}


def build_augmentation(
    *,
    rotation: float = 10.0,
    translation: float = 0.08,
    zoom: float = 0.1,
    brightness: float = 0.0,
    contrast: float = 0.0,
    noise: float = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    seed: int = 0,
) -> keras.Sequential:
    """Label-preserving augmentation for chest radiographs (Keras preprocessing layers).

    Active only while training (``training=True``); at inference the layers pass images
    through unchanged, so a model that contains them predicts deterministically. The
    defaults are the mild set the training chapter uses. Pixels that a rotation, shift
    or zoom brings in from outside the film repeat the nearest edge pixel
    (:data:`FILL_MODE`), not black: a black frame would appear on training films and on
    no film the model is later shown. Flips are off by default: a horizontally flipped
    radiograph puts the heart on the right, a picture that occurs only rarely (a film
    mirrored by mistake, or dextrocardia), and a vertical flip puts the diaphragm on
    top.

    Parameters
    ----------
    rotation : float
        Largest rotation in degrees (either direction).
    translation : float
        Largest shift as a fraction of the height and of the width.
    zoom : float
        Largest zoom in or out as a fraction of the size.
    brightness, contrast : float
        Largest brightness shift and contrast change as fractions; images are in [0, 1].
    noise : float
        Standard deviation of added Gaussian noise.
    horizontal_flip, vertical_flip : bool
        Add random flips (shown in the imbalance chapter's gallery; not for training).
    seed : int
        Seed of the random layers (each layer has its own offset, so switching one
        transform on or off leaves the others' draws unchanged).

    Any strength set to 0 leaves its layer out.

    Returns
    -------
    keras.Sequential

    Examples
    --------
    >>> import numpy as np
    >>> aug = build_augmentation(seed=1)
    >>> x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    >>> bool(np.allclose(aug(x, training=False), x))
    True
    >>> [layer.__class__.__name__ for layer in build_augmentation(noise=0.02).layers][-1]
    'GaussianNoise'
    """
    steps = []
    if horizontal_flip or vertical_flip:
        mode = {
            (True, True): "horizontal_and_vertical",
            (True, False): "horizontal",
            (False, True): "vertical",
        }[(bool(horizontal_flip), bool(vertical_flip))]
        steps.append(layers.RandomFlip(mode, seed=seed + 6))
    if rotation:
        steps.append(
            layers.RandomRotation(rotation / 360.0, fill_mode=FILL_MODE, seed=seed)
        )
    if translation:
        steps.append(
            layers.RandomTranslation(
                translation, translation, fill_mode=FILL_MODE, seed=seed + 1
            )
        )
    if zoom:
        steps.append(
            layers.RandomZoom((-zoom, zoom), fill_mode=FILL_MODE, seed=seed + 2)
        )
    if brightness:
        steps.append(
            layers.RandomBrightness(brightness, value_range=(0, 1), seed=seed + 4)
        )
    if contrast:
        # A tuple, not one float: Keras 3 reads RandomContrast(0.1) as (0, 0.1), which only
        # ever raises the contrast.
        steps.append(
            layers.RandomContrast(
                (contrast, contrast), value_range=(0, 1), seed=seed + 3
            )
        )
    if noise:
        steps.append(layers.GaussianNoise(noise, seed=seed + 5))
    return keras.Sequential(steps, name="augmentation")


def build_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    widths: Sequence[int] = (32, 64, 128),
    convs_per_block: int = 1,
    dense_units: int = 128,
    dropout: float = 0.3,
    batchnorm: bool = True,
    global_pooling: bool = False,
    augmentation: keras.layers.Layer | None = None,
    l2: float = 0.0,
    upsample: int = 1,
    pool_first: bool = True,
    residual: bool = False,
    name: str = "source_cnn",
) -> keras.Model:
    """The source's step-4 architecture, with its knobs exposed.

    Per block: ``convs_per_block`` × (Conv 3×3 → BatchNorm → ReLU), then MaxPool 2×2.
    After the last block: Flatten (or GlobalAveragePooling2D), Dropout, Dense(relu),
    Dropout, Dense(1, sigmoid). The last convolution is named ``"last_conv"`` so that
    Grad-CAM (:mod:`cnnguide.explain`) finds it.

    Parameters
    ----------
    input_shape : (H, W, C)
        Image size and channels, e.g. ``(28, 28, 1)`` or ``(224, 224, 3)``.
    widths : sequence of int
        Filters of each block; its length is the depth (number of blocks).
    convs_per_block : int
        Convolutions per block (the source uses one; two see a wider context before pooling).
    dense_units : int
        Units of the hidden dense layer (the source suggests 128 or 256); 0 leaves
        the hidden layer (and its dropout) out.
    dropout : float
        Dropout rate before and after the dense layer (the source suggests 0.3–0.5).
    batchnorm : bool
        Batch normalization after each convolution (before the ReLU).
    global_pooling : bool
        GlobalAveragePooling2D instead of Flatten (far fewer dense weights).
    augmentation : keras layer, optional
        Random layers applied right after the input (identity at inference); see
        :func:`build_augmentation`.
    l2 : float
        L2 weight penalty on the dense layers (one of the source's remedies for overfitting).
    upsample : int
        Enlarge the image by this factor (bilinear) before the first convolution, so
        that a 28-pixel film meets the kernels at 56 pixels (model selection, issue 27).
    pool_first : bool
        Pool after the first block; ``False`` keeps full resolution there (no early
        downsampling).
    residual : bool
        Add each block's input to its last convolution's output before the ReLU (a 1×1
        convolution matches the widths): a compact residual network.
    name : str
        Model name.

    Returns
    -------
    keras.Model
        A Functional model mapping ``(N, H, W, C)`` float32 in ``[0, 1]`` to ``(N, 1)``
        probabilities of pneumonia.

    Examples
    --------
    >>> model = build_cnn((28, 28, 1), widths=(8, 16))
    >>> model.output_shape
    (None, 1)
    >>> model.get_layer("last_conv").filters
    16
    >>> build_cnn((28, 28, 1), widths=(8, 16), residual=True, upsample=2,
    ...           pool_first=False).get_layer("block2_add").output.shape
    (None, 56, 56, 16)
    """
    shape = _check_shape(input_shape)
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) < 1:
        raise ValueError(
            f"widths must be a non-empty sequence of positive ints, got {widths!r}"
        )
    if convs_per_block < 1:
        raise ValueError(f"convs_per_block must be at least 1, got {convs_per_block}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if int(upsample) < 1:
        raise ValueError(f"upsample must be a positive integer, got {upsample}")
    n_pools = len(widths) - (0 if pool_first else 1)
    if min(shape[:2]) * int(upsample) < 2**n_pools:
        raise ValueError(
            f"{n_pools} pooling blocks need images of at least {2**n_pools} pixels a side, "
            f"got {shape[:2]}; use fewer widths or larger images"
        )
    regularizer = keras.regularizers.L2(l2) if l2 else None

    inputs = keras.Input(shape=shape, name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    if int(upsample) > 1:
        x = layers.UpSampling2D(
            int(upsample), interpolation="bilinear", name="upsample"
        )(x)
    n_convs = len(widths) * convs_per_block
    index = 0
    for block, filters in enumerate(widths, start=1):
        shortcut = x
        for conv in range(1, convs_per_block + 1):
            index += 1
            conv_name = "last_conv" if index == n_convs else f"block{block}_conv{conv}"
            # The bias is redundant when batch normalization follows (BN has its own shift).
            x = layers.Conv2D(
                filters, 3, padding="same", use_bias=not batchnorm, name=conv_name
            )(x)
            if batchnorm:
                x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            if residual and conv == convs_per_block:
                if shortcut.shape[-1] != filters:
                    shortcut = layers.Conv2D(
                        filters, 1, use_bias=False, name=f"block{block}_shortcut"
                    )(shortcut)
                x = layers.Add(name=f"block{block}_add")([x, shortcut])
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
        if block > 1 or pool_first:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    if global_pooling:
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    if dense_units:  # 0: straight from the pooled features to the output
        x = layers.Dense(
            dense_units, activation="relu", kernel_regularizer=regularizer, name="dense"
        )(x)
        x = layers.Dropout(dropout, name="dropout_2")(x)
    outputs = layers.Dense(
        1, activation="sigmoid", kernel_regularizer=regularizer, name="pneumonia"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def build_recommended(
    input_shape: Sequence[int] = (28, 28, 1), **overrides
) -> keras.Model:
    """The book's recommended variant of the step-4 network.

    Three blocks of two 3×3 convolutions (16, 32, 64 filters) with batch normalization,
    global average pooling, dropout 0.3 and a dense layer of 128 units: the source's
    design, made a little deeper per block and much lighter in the dense part.

    Parameters
    ----------
    input_shape : (H, W, C)
        Image size and channels.
    **overrides
        Any keyword argument of :func:`build_cnn`, replacing the recommended value.

    Returns
    -------
    keras.Model
        Functional model whose last Conv2D layer is named ``"last_conv"``.

    Examples
    --------
    >>> model = build_recommended((28, 28, 1))
    >>> model.name, model.get_layer("last_conv").filters
    ('recommended_cnn', 64)
    """
    kwargs = {**RECOMMENDED, **overrides}
    return build_cnn(input_shape, **kwargs)


def build_small_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    filters: Sequence[int] = (16, 32, 64),
    batchnorm: bool = True,
    dense_units: int = 32,
    dropout: float = 0.2,
    augmentation: keras.layers.Layer | None = None,
    seed: int = 0,
    name: str = "small_cnn",
) -> keras.Model:
    """The book's small CNN for quick experiments: a seeded member of :func:`build_cnn`'s family.

    Blocks of Conv 3×3 (→ BatchNorm) → ReLU → MaxPool, global average pooling,
    dropout, an optional Dense(relu) and Dense(1, sigmoid). The defaults (about
    26k parameters) are the imbalance chapter's comparison network; the layers
    chapter trains ``filters=(8, 16), dense_units=0, dropout=0`` with and without
    batch normalization. Keras is seeded first, so one seed gives one set of
    initial weights. Batch-norm momentum is 0.9 instead of Keras's 0.99: a short
    run takes too few steps for the slower average to leave its start (0, 1), and
    inference uses that average.

    Parameters
    ----------
    input_shape : (H, W, C)
    filters : sequence of int
        Filters of each block.
    batchnorm : bool
        Batch normalization after each convolution (the convolutions then drop
        their bias, which BN's shift makes redundant).
    dense_units : int
        Units of the hidden dense layer; 0 for none.
    dropout : float
        Dropout rate after pooling (and after the hidden layer).
    augmentation : keras layer, optional
        Random layers right after the input (identity at inference).
    seed : int
    name : str

    Returns
    -------
    keras.Model
        Last convolution named ``"last_conv"``, pooled features ``"global_pool"``.

    Examples
    --------
    >>> build_small_cnn(seed=0).count_params() < 30_000
    True
    >>> plain = build_small_cnn(filters=(8, 16), dense_units=0, batchnorm=False)
    >>> plain.count_params() < build_small_cnn(filters=(8, 16), dense_units=0).count_params()
    True
    """
    keras.utils.set_random_seed(seed)
    model = build_cnn(
        tuple(input_shape),
        widths=tuple(filters),
        dense_units=dense_units,
        dropout=dropout,
        batchnorm=batchnorm,
        global_pooling=True,
        augmentation=augmentation,
        name=name,
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    return model


def batch_budget(model, image_shape) -> int:
    """Images per forward pass: about 2**18 pixels, between 8 and 256 images.

    The one budget of the package: :func:`predict_proba` and the web service's
    micro-batcher (:mod:`cnnguide.deploy.service`) both use it, so a large
    image or a model with test-time views never gets more images per pass.

    A test-time-augmentation ensemble (:mod:`cnnguide.ensemble`) runs every
    image as several views, so it gets fewer images per pass: its activations
    stay as small as a plain network's (7 views at 256 images were 1 GiB).
    """
    layers = getattr(model, "layers", ())
    views = max((getattr(layer, "n_views", 1) for layer in layers), default=1)
    pixels = int(image_shape[0]) * int(image_shape[1]) * views
    return int(max(8, min(256, 2**18 // pixels)))


def predict_proba(model, images, *, batch_size: int | None = None):
    """Probability of pneumonia for each image: the one batched predictor of the package.

    Images go through :func:`cnnguide.images.as_model_input` (uint8 /255,
    uint16 /65535, floats in ``[0, 1]`` kept), then through the model in
    inference mode, batch by batch. Direct calls, not ``model.predict``: they
    build no new ``tf.data`` pipeline per call, which keeps a loop over many
    small models (or many single images, as a web service sees) fast and quiet.

    Parameters
    ----------
    model : keras.Model
        Maps ``(N, H, W, C)`` float32 to ``(N, 1)`` probabilities.
    images : array_like
        One ``(H, W)`` image, ``(N, H, W)`` or ``(N, H, W, C)``.
    batch_size : int, optional
        Images per forward pass; default 256 at 28×28, fewer for larger images
        and for a model that runs each image as several views (test-time
        augmentation, :func:`cnnguide.ensemble.build_ensemble`).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float32.

    Raises
    ------
    ValueError
        The images do not have the model's input shape (the message says so).

    Examples
    --------
    >>> import numpy as np
    >>> p = predict_proba(build_cnn(widths=(4,)), np.zeros((3, 28, 28), np.uint8))
    >>> p.shape, p.dtype.name, bool(((0 <= p) & (p <= 1)).all())
    ((3,), 'float32', True)
    """
    import warnings

    import numpy as np

    from cnnguide.images import as_model_input

    x = as_model_input(images)
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected and not (
        len(expected) == 3
        and None in expected
        and len(x.shape) == 4
        and all(e is None or e == v for e, v in zip(expected, x.shape[1:]))
    ):
        raise ValueError(
            f"the model expects images shaped {expected}, got {tuple(x.shape[1:])}; "
            "resize them (cnnguide.data.load_dataset(size=...)) first"
        )
    if batch_size is None:
        batch_size = batch_budget(model, x.shape[1:3])
    with warnings.catch_warnings():
        # Keras warns that a named input receives a bare array; the array is that input.
        warnings.filterwarnings(
            "ignore", message="The structure of `inputs` doesn't match"
        )
        out = [
            np.asarray(model(x[i : i + batch_size], training=False)).reshape(-1)
            for i in range(0, len(x), batch_size)
        ]
    if not out:
        return np.zeros(0, np.float32)
    return np.concatenate(out).astype(np.float32)
