"""The layers of a CNN: the small demo model, parameter counts by hand, dropout, output heads.

The chapters pass one chest X-ray through :func:`build_demo_model`, whose layers are
named after the source's list (input, convolution, activation, pooling,
normalization, dropout, flatten, dense, output), and count every layer's parameters
with the formulas below before checking them against Keras.

Examples
--------
>>> conv2d_params(3, 3, 1, 8)
80
>>> dense_params(128, 1)
129
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnguide import models
from cnnguide import seeding as _seeding

__all__ = [
    "depthwise_separable_params",
    "measured_receptive_field",
    "conv2d_params",
    "dense_params",
    "batchnorm_params",
    "layernorm_params",
    "groupnorm_params",
    "prelu_params",
    "count_params_by_hand",
    "parameter_table",
    "build_demo_model",
    "train_small_cnn",
    "OutputHead",
    "OUTPUT_HEADS",
    "build_head_model",
]


# --------------------------------------------------------------------------- counting
def conv2d_params(kh: int, kw: int, c_in: int, filters: int, bias: bool = True) -> int:
    """Parameters of a Conv2D layer: one ``kh x kw x c_in`` kernel per filter, plus a bias each.

    Examples
    --------
    >>> conv2d_params(3, 3, 16, 32)   # 3*3*16*32 + 32
    4640
    """
    for name, value in (("kh", kh), ("kw", kw), ("c_in", c_in), ("filters", filters)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(kh * kw * c_in * filters + (filters if bias else 0))


def depthwise_separable_params(
    kh: int, kw: int, c_in: int, filters: int, bias: bool = True
) -> int:
    """Parameters of a depthwise-separable convolution (Keras SeparableConv2D).

    One ``kh x kw`` kernel per input channel (depthwise), then a 1 x 1
    convolution mixing the ``c_in`` channels into ``filters`` (pointwise),
    plus one bias per filter: ``kh*kw*c_in + c_in*filters (+ filters)``,
    against ``kh*kw*c_in*filters (+ filters)`` for a full convolution.

    Examples
    --------
    >>> depthwise_separable_params(3, 3, 16, 32)   # 3*3*16 + 16*32 + 32
    688
    >>> conv2d_params(3, 3, 16, 32)
    4640
    """
    depthwise = conv2d_params(kh, kw, 1, c_in, bias=False)
    pointwise = conv2d_params(1, 1, c_in, filters, bias=bias)
    return depthwise + pointwise


def dense_params(n_in: int, units: int, bias: bool = True) -> int:
    """Parameters of a Dense layer: an ``n_in x units`` weight matrix plus one bias per unit.

    Examples
    --------
    >>> dense_params(1568, 16)
    25104
    """
    for name, value in (("n_in", n_in), ("units", units)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(n_in * units + (units if bias else 0))


def batchnorm_params(channels: int, trainable_only: bool = False) -> int:
    """Parameters of BatchNormalization over ``channels`` channels.

    Four vectors of length C: gamma and beta are learned; the moving mean and moving
    variance are updated during training but not by gradients. ``model.count_params()``
    counts all four.

    Examples
    --------
    >>> batchnorm_params(8), batchnorm_params(8, trainable_only=True)
    (32, 16)
    """
    if int(channels) != channels or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    return int((2 if trainable_only else 4) * channels)


def layernorm_params(normalized_size: int) -> int:
    """Parameters of LayerNormalization: gamma and beta over the normalized features.

    Examples
    --------
    >>> layernorm_params(14 * 14 * 8)
    3136
    """
    return int(2 * normalized_size)


def groupnorm_params(channels: int) -> int:
    """Parameters of GroupNormalization (and instance normalization): gamma and beta per channel.

    Examples
    --------
    >>> groupnorm_params(8)
    16
    """
    return int(2 * channels)


def prelu_params(shape) -> int:
    """Parameters of PReLU: one learned slope per input element (Keras default, no shared axes).

    Examples
    --------
    >>> prelu_params((28, 28, 8))
    6272
    """
    return int(np.prod(shape))


_ZERO_PARAM_LAYERS = {
    "InputLayer",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Dropout",
    "SpatialDropout2D",
    "GaussianNoise",
    "Rescaling",
    "Reshape",
}


@dataclass(frozen=True)
class LayerCount:
    """One row of :func:`count_params_by_hand`."""

    name: str
    kind: str
    output_shape: tuple
    formula: str
    by_hand: int


def _shape(tensor) -> tuple:
    return tuple(tensor.shape)


def count_params_by_hand(model) -> list[LayerCount]:
    """Count each layer's parameters with the formulas above, walking a built Sequential model.

    Reads only each layer's configuration (kernel size, filters, units, ...) and
    input shape, never its weights, so the counts can be checked against
    ``layer.count_params()``.

    Raises
    ------
    ValueError
        For a layer type the walker does not know, naming it; add its formula here.

    Examples
    --------
    >>> model = build_demo_model()
    >>> sum(row.by_hand for row in count_params_by_hand(model)) == model.count_params()
    True
    """
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        out = _shape(layer.output)
        if kind in _ZERO_PARAM_LAYERS:
            rows.append(LayerCount(layer.name, kind, out, "0 (no weights)", 0))
            continue
        in_shape = _shape(layer.input)
        if kind == "Conv2D":
            kh, kw = layer.kernel_size
            c_in, f = in_shape[-1], layer.filters
            n = conv2d_params(kh, kw, c_in, f, layer.use_bias)
            formula = f"{kh}*{kw}*{c_in}*{f}" + (f" + {f}" if layer.use_bias else "")
        elif kind == "Dense":
            n_in, units = in_shape[-1], layer.units
            n = dense_params(n_in, units, layer.use_bias)
            formula = f"{n_in}*{units}" + (f" + {units}" if layer.use_bias else "")
        elif kind == "BatchNormalization":
            c = in_shape[-1]
            n = batchnorm_params(c)
            formula = f"4*{c} (gamma, beta + moving mean, var)"
        elif kind == "LayerNormalization":
            axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
            size = int(np.prod([in_shape[a] for a in axes]))
            n = layernorm_params(size)
            formula = f"2*{size}"
        elif kind == "GroupNormalization":
            c = in_shape[-1]
            n = groupnorm_params(c)
            formula = f"2*{c}"
        elif kind == "PReLU":
            n = prelu_params(in_shape[1:])
            formula = "*".join(str(s) for s in in_shape[1:])
        else:
            raise ValueError(
                f"count_params_by_hand does not know layer {layer.name!r} of type "
                f"{kind}; add its formula to cnnguide/layers.py"
            )
        rows.append(LayerCount(layer.name, kind, out, formula, n))
    return rows


def parameter_table(model):
    """A DataFrame of every layer: output shape, formula, count by hand, count by Keras.

    Examples
    --------
    >>> table = parameter_table(build_demo_model())
    >>> bool((table["by hand"] == table["Keras"]).all())
    True
    """
    import pandas as pd

    rows = count_params_by_hand(model)
    keras_counts = {layer.name: layer.count_params() for layer in model.layers}
    return pd.DataFrame(
        {
            "layer": [r.name for r in rows],
            "type": [r.kind for r in rows],
            "output shape": [str(r.output_shape) for r in rows],
            "formula": [r.formula for r in rows],
            "by hand": [r.by_hand for r in rows],
            "Keras": [keras_counts[r.name] for r in rows],
        }
    ).set_index("layer")


# --------------------------------------------------------------------------- models
def build_demo_model(
    input_shape=(28, 28, 1),
    *,
    filters: int = 8,
    dense_units: int = 16,
    dropout: float = 0.25,
    seed: int = 0,
):
    """One layer of each type in the source's list, named after it.

    ``input -> conv -> batchnorm -> activation (ReLU) -> pool (2x2 max) -> dropout ->
    flatten -> dense (ReLU) -> output (1 unit, sigmoid)``

    Normalization sits between the convolution and its activation, as the source's own
    checklist advises ("add batch normalization after convolution"). Its momentum
    is 0.9, not Keras's 0.99, so that the moving statistics settle within the
    chapter's short training run.

    Examples
    --------
    >>> model = build_demo_model()
    >>> [layer.name for layer in model.layers][:3]
    ['conv', 'batchnorm', 'activation']
    >>> model.output_shape
    (None, 1)
    """
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="input"),
            L.Conv2D(filters, 3, padding="same", name="conv"),
            # Moving statistics are a running average, not learned: at Keras's
            # default momentum 0.99 a few dozen steps leave them near their
            # initial 0 and 1; 0.9 settles them (as chapter 7 does).
            L.BatchNormalization(momentum=0.9, name="batchnorm"),
            L.ReLU(name="activation"),
            L.MaxPooling2D(2, name="pool"),
            L.Dropout(dropout, name="dropout"),
            L.Flatten(name="flatten"),
            L.Dense(dense_units, activation="relu", name="dense"),
            L.Dense(1, activation="sigmoid", name="output"),
        ],
        name="demo_cnn",
    )


def train_small_cnn(
    x,
    y,
    x_val=None,
    y_val=None,
    *,
    batchnorm: bool = True,
    epochs: int = 5,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
    seed: int | None = None,
    **kwargs,
):
    """Build and train :func:`cnnguide.models.build_small_cnn` with Adam; return ``(model, history dict)``.

    Trained by :func:`cnnguide.train.fit` (the short experiments' loop);
    ``seed`` defaults to :func:`cnnguide.seeding.seed` ``(0)``, so ``CNNGUIDE_SEED``
    moves it.

    The network is ``filters=(8, 16), dense_units=0, dropout=0`` unless
    ``**kwargs`` say otherwise (any argument of ``build_small_cnn``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    >>> model, hist = train_small_cnn(x, np.arange(16) % 2, epochs=1)
    >>> len(hist["loss"])
    1
    """
    from cnnguide.train import fit

    seed = _seeding.seed(0) if seed is None else seed
    _seeding.set_seed(seed)
    # the layers chapter's network: two blocks (8, 16), no hidden dense layer
    kwargs = {"filters": (8, 16), "dense_units": 0, "dropout": 0.0, **kwargs}
    model = models.build_small_cnn(
        x.shape[1:], batchnorm=batchnorm, seed=seed, **kwargs
    )
    val = None if x_val is None else (x_val, y_val)
    out = fit(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        metrics=["accuracy"],
        validation=val,
        seed=seed,
    )
    return model, out["history"]


# --------------------------------------------------------------------------- output heads
@dataclass(frozen=True)
class OutputHead:
    """An output layer and the loss that matches it."""

    task: str
    units: str
    activation: str
    loss: str
    example: str


OUTPUT_HEADS: dict[str, OutputHead] = {
    "binary": OutputHead(
        "binary classification",
        "1",
        "sigmoid",
        "binary_crossentropy",
        "pneumonia vs normal",
    ),
    "multiclass": OutputHead(
        "multi-class classification",
        "K (one per class)",
        "softmax",
        "sparse_categorical_crossentropy",
        "normal / lobar / bronchopneumonia",
    ),
    "regression": OutputHead(
        "regression",
        "1",
        "linear",
        "mean_squared_error",
        "a continuous value (the source: age from an X-ray)",
    ),
}
"""The three output heads of the source, each with its matching Keras loss."""


def build_head_model(
    task: str, input_shape=(28, 28, 1), *, n_classes: int = 3, seed: int = 0
):
    """A tiny CNN body with the output head of ``task``, compiled with the matching loss.

    Examples
    --------
    >>> build_head_model("multiclass", n_classes=3).output_shape
    (None, 3)
    """
    import keras

    if task not in OUTPUT_HEADS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(OUTPUT_HEADS)}")
    head = OUTPUT_HEADS[task]
    units = n_classes if task == "multiclass" else 1
    keras.utils.set_random_seed(seed)
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dense(16, activation="relu"),
            L.Dense(units, activation=head.activation, name="output"),
        ],
        name=f"{task}_head",
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=head.loss)
    return model


def measured_receptive_field(
    model, layer_name: str, input_shape=None
) -> tuple[int, int]:
    """Receptive field of one unit of ``layer_name``, measured by its gradient.

    The gradient of the layer's centre unit (summed over channels) with
    respect to the input is non-zero exactly on the pixels that unit can see,
    given random non-zero weights; the bounding box of those pixels is its
    receptive field. Chapter 4 checks :func:`cnnguide.ops.receptive_field`
    against this on the book's model.

    Parameters
    ----------
    model : keras.Model
        A built model whose layer ``layer_name`` outputs (N, H, W, C).
    layer_name : str
    input_shape : tuple, optional
        (H, W, C) of the probe input; the model's own input shape by default.

    Returns
    -------
    (int, int)
        Height and width, in input pixels, of the region that influences the
        unit (clipped by the image border: use an input large enough).

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((32, 32, 1)),
    ...     keras.layers.Conv2D(2, 3, name="a"),
    ...     keras.layers.MaxPooling2D(2),
    ...     keras.layers.Conv2D(2, 3, name="b")])
    >>> measured_receptive_field(m, "b")
    (8, 8)
    """
    import keras
    import tensorflow as tf

    shape = tuple(input_shape or model.input_shape[1:])
    probe = keras.Model(model.inputs, model.get_layer(layer_name).output)
    # A random input keeps every ReLU and max-pool path alive somewhere.
    x = tf.constant(np.random.default_rng(0).random((1, *shape)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = probe(x, training=False)
        h, w = out.shape[1] // 2, out.shape[2] // 2
        unit = tf.reduce_sum(out[0, h, w, :])
    grad = np.abs(tape.gradient(unit, x).numpy()[0]).sum(axis=-1)
    rows, cols = np.nonzero(grad > 0)
    if rows.size == 0:
        raise ValueError(
            f"layer {layer_name!r}: the centre unit's gradient is zero everywhere; "
            "use a model with non-zero weights."
        )
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
