"""Activation functions as NumPy code, their derivatives, and the experiments around them.

The eight functions of the source (sigmoid, tanh, ReLU, leaky ReLU, PReLU, ELU,
softmax, swish) are written here as small NumPy functions together with their
derivatives, so a chapter can plot them, tabulate their properties from computed
values, and check them against Keras.  Two experiments measure what the source only
states: the vanishing gradient in a deep sigmoid stack and the dying ReLU.

A NumPy reference: at import it needs NumPy alone (pandas, Keras and TensorFlow
are imported inside the functions that use them). The figures and the explorer
of chapter 6 live in :mod:`cnnguide.explorers.activations`.

Examples
--------
>>> import numpy as np
>>> float(sigmoid(np.array(0.0)))
0.5
>>> relu_grad(np.array([-1.0, 2.0])).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "elu",
    "elu_grad",
    "swish",
    "swish_grad",
    "softmax",
    "softmax_jacobian",
    "linear",
    "linear_grad",
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "ELEMENTWISE",
    "USE_PRO_CON",
    "USES_ALPHA",
    "curve",
    "properties_table",
    "numerical_grad",
    "gradient_norms_per_layer",
    "dead_unit_fraction",
    "train_mlp_and_count_dead",
]


def _as_float(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------- functions
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow.

    Its range is the open interval (0, 1): it approaches but never reaches 0 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(sigmoid(np.array([-1000.0, 0.0, 1000.0])), 3).tolist()
    [0.0, 0.5, 1.0]
    """
    x = _as_float(x)
    # exp of a negative number never overflows: pick the form that uses one.
    positive = x >= 0
    out = np.empty_like(x)
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp_x = np.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out


def sigmoid_grad(x):
    """Derivative of :func:`sigmoid`, ``s(x) (1 - s(x))``; at most 0.25 (at x = 0).

    Examples
    --------
    >>> float(sigmoid_grad(0.0))
    0.25
    """
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    """Hyperbolic tangent; range (-1, 1), zero-centred.

    Examples
    --------
    >>> float(tanh(0.0))
    0.0
    """
    return np.tanh(_as_float(x))


def tanh_grad(x):
    """Derivative of :func:`tanh`, ``1 - tanh(x)**2``; at most 1 (at x = 0).

    Examples
    --------
    >>> float(tanh_grad(0.0))
    1.0
    """
    return 1.0 - np.tanh(_as_float(x)) ** 2


def relu(x):
    """Rectified linear unit ``max(0, x)``; range [0, inf).

    Examples
    --------
    >>> relu([-2.0, 3.0]).tolist()
    [0.0, 3.0]
    """
    return np.maximum(_as_float(x), 0.0)


def relu_grad(x):
    """Derivative of :func:`relu`: 1 for x > 0 and 0 for x <= 0 (the convention of TF).

    Examples
    --------
    >>> relu_grad([-2.0, 0.0, 3.0]).tolist()
    [0.0, 0.0, 1.0]
    """
    return (_as_float(x) > 0).astype(np.float64)


def leaky_relu(x, alpha: float = 0.01):
    """Leaky ReLU: ``x`` for x > 0, ``alpha * x`` otherwise; range (-inf, inf) for alpha > 0.

    Examples
    --------
    >>> leaky_relu([-2.0, 3.0], alpha=0.1).tolist()
    [-0.2, 3.0]
    """
    x = _as_float(x)
    return np.where(x > 0, x, alpha * x)


def leaky_relu_grad(x, alpha: float = 0.01):
    """Derivative of :func:`leaky_relu`: 1 for x > 0, ``alpha`` otherwise.

    Examples
    --------
    >>> leaky_relu_grad([-2.0, 3.0], alpha=0.1).tolist()
    [0.1, 1.0]
    """
    return np.where(_as_float(x) > 0, 1.0, alpha)


def prelu(x, alpha):
    """Parametric ReLU: leaky ReLU whose slope ``alpha`` is learned (one per channel in Keras).

    ``alpha`` broadcasts against ``x`` (a scalar, or one value per channel on the last axis).

    Examples
    --------
    >>> prelu([[-1.0, -1.0]], alpha=[0.1, 0.5]).tolist()
    [[-0.1, -0.5]]
    """
    x = _as_float(x)
    return np.where(x > 0, x, _as_float(alpha) * x)


def prelu_grad(x, alpha):
    """Derivative of :func:`prelu` with respect to ``x``.

    Examples
    --------
    >>> prelu_grad([-1.0, 1.0], alpha=0.25).tolist()
    [0.25, 1.0]
    """
    x = _as_float(x)
    return np.where(x > 0, 1.0, _as_float(alpha) * np.ones_like(x))


def elu(x, alpha: float = 1.0):
    """Exponential linear unit: ``x`` for x > 0, ``alpha (exp(x) - 1)`` otherwise; range (-alpha, inf).

    Examples
    --------
    >>> round(float(elu(-50.0)), 6)
    -1.0
    """
    x = _as_float(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_grad(x, alpha: float = 1.0):
    """Derivative of :func:`elu`: 1 for x > 0, ``alpha exp(x)`` otherwise.

    Examples
    --------
    >>> float(elu_grad(0.0))
    1.0
    """
    x = _as_float(x)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def swish(x, beta: float = 1.0):
    """Swish ``x * sigmoid(beta x)`` (SiLU for beta = 1); range about [-0.278, inf).

    Examples
    --------
    >>> float(swish(0.0))
    0.0
    """
    x = _as_float(x)
    return x * sigmoid(beta * x)


def swish_grad(x, beta: float = 1.0):
    """Derivative of :func:`swish`: ``s + beta x s (1 - s)`` with ``s = sigmoid(beta x)``.

    Examples
    --------
    >>> float(swish_grad(0.0))
    0.5
    """
    x = _as_float(x)
    s = sigmoid(beta * x)
    return s + beta * x * s * (1.0 - s)


def linear(x):
    """Identity ("linear", no activation): what a regression output layer uses.

    Examples
    --------
    >>> linear([-3.0]).tolist()
    [-3.0]
    """
    return _as_float(x).copy()


def linear_grad(x):
    """Derivative of :func:`linear`: 1 everywhere.

    Examples
    --------
    >>> linear_grad([-3.0, 2.0]).tolist()
    [1.0, 1.0]
    """
    return np.ones_like(_as_float(x))


def softmax(logits, axis: int = -1):
    """Softmax along ``axis``: positive outputs that sum to 1.

    Subtracting the maximum first leaves the result unchanged (softmax is invariant
    to adding a constant) and keeps ``exp`` from overflowing on large logits.

    Examples
    --------
    >>> import numpy as np
    >>> p = softmax(np.array([1000.0, 1000.0]))
    >>> p.tolist()
    [0.5, 0.5]
    """
    z = _as_float(logits)
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(logits):
    """Jacobian ``d p_i / d z_j = p_i (delta_ij - p_j)`` of softmax for one logit vector.

    Examples
    --------
    >>> import numpy as np
    >>> J = softmax_jacobian(np.zeros(2))
    >>> J.tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """
    z = _as_float(logits)
    if z.ndim != 1:
        raise ValueError(
            f"softmax_jacobian takes one vector of logits, got shape {z.shape}"
        )
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)


def numerical_grad(f: Callable, x, eps: float = 1e-6):
    """Central finite difference ``(f(x + eps) - f(x - eps)) / (2 eps)``, elementwise.

    Examples
    --------
    >>> round(float(numerical_grad(np.square, 3.0)), 6)
    6.0
    """
    x = _as_float(x)
    return (f(x + eps) - f(x - eps)) / (2.0 * eps)


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Activation:
    """One activation function with its derivative and what the chapter says about it.

    ``fn`` and ``grad`` take ``(x, alpha)``; ``alpha`` is ignored by functions without a
    slope parameter.  ``lower`` and ``upper`` are the analytic limits of the range (the
    computed table checks them), ``use`` and the pros/cons are the source's claims,
    corrected where the measurements disagree.
    """

    name: str
    fn: Callable
    grad: Callable
    lower: float
    upper: float
    uses_alpha: bool
    learnable: bool
    use: str
    formula: str
    range_text: str = ""


def _no_alpha(f):
    return lambda x, alpha=None: f(x)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid",
        _no_alpha(sigmoid),
        _no_alpha(sigmoid_grad),
        0.0,
        1.0,
        False,
        False,
        "output layer, binary classification",
        r"1/(1+e^{-x})",
        "(0, 1)",
    ),
    "tanh": Activation(
        "tanh",
        _no_alpha(tanh),
        _no_alpha(tanh_grad),
        -1.0,
        1.0,
        False,
        False,
        "hidden layers (recurrent nets)",
        r"\tanh x",
        "(-1, 1)",
    ),
    "relu": Activation(
        "relu",
        _no_alpha(relu),
        _no_alpha(relu_grad),
        0.0,
        np.inf,
        False,
        False,
        "hidden layers of CNNs",
        r"\max(0, x)",
        "[0, inf)",
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda x, alpha=0.01: leaky_relu(x, alpha),
        lambda x, alpha=0.01: leaky_relu_grad(x, alpha),
        -np.inf,
        np.inf,
        True,
        False,
        "hidden layers",
        r"\max(\alpha x, x)",
        "(-inf, inf)",
    ),
    "prelu": Activation(
        "prelu",
        lambda x, alpha=0.25: prelu(x, alpha),
        lambda x, alpha=0.25: prelu_grad(x, alpha),
        -np.inf,
        np.inf,
        True,
        True,
        "hidden layers, slope learned",
        r"\max(\alpha x, x),\ \alpha\ learned",
        "(-inf, inf)",
    ),
    "elu": Activation(
        "elu",
        lambda x, alpha=1.0: elu(x, alpha),
        lambda x, alpha=1.0: elu_grad(x, alpha),
        -1.0,
        np.inf,
        True,
        False,
        "hidden layers of deep nets",
        r"x\ (x>0),\ \alpha(e^x-1)",
        "(-alpha, inf)",
    ),
    "softmax": Activation(
        "softmax",
        None,
        None,
        0.0,
        1.0,
        False,
        False,
        "output layer, several classes",
        r"e^{z_i}/\sum_j e^{z_j}",
        "(0, 1), sum 1",
    ),
    "swish": Activation(
        "swish",
        _no_alpha(swish),
        _no_alpha(swish_grad),
        -0.278464542761074,
        np.inf,
        False,
        False,
        "hidden layers (EfficientNet)",
        r"x\,\sigma(x)",
        "[-0.278, inf)",
    ),
}
"""The source's eight activation functions, by Keras name.

Softmax acts on a vector, not elementwise: its ``fn`` is ``None``; use :func:`softmax`.
"""


#: The study guide's table of activations, each claim restated as chapter 6's
#: measurements support it: ``(typical use, advantage, drawback)`` per function.
USE_PRO_CON = {
    "sigmoid": (
        "binary output layer",
        "output in (0, 1)",
        "vanishing gradients: measured below",
    ),
    "tanh": (
        "hidden layers",
        "zero-centred; slope up to 1",
        "still saturates for |x| > 3",
    ),
    "relu": (
        "hidden layers of CNNs",
        "cheap; slope 1 for x > 0",
        "slope 0 for x < 0: units can die",
    ),
    "leaky_relu": (
        "hidden layers",
        "slope alpha for x < 0, never 0",
        "alpha to choose",
    ),
    "prelu": (
        "hidden layers",
        "alpha learned",
        "one more parameter per channel",
    ),
    "elu": (
        "hidden layers, deep nets",
        "smooth, mean closer to 0",
        "an exp per negative input",
    ),
    "softmax": (
        "multi-class output",
        "outputs sum to 1",
        "an exp per class (cheap, see below)",
    ),
    "swish": (
        "hidden layers",
        "smooth; good in EfficientNet",
        "an exp per input",
    ),
}


#: The elementwise activations (softmax acts on a vector), in the order chapter 6
#: and its explorer list them.
ELEMENTWISE = (
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "swish",
    "linear",
)
#: Those with a parameter ``alpha`` (a negative-side slope, or ELU's scale).
USES_ALPHA = ("leaky_relu", "prelu", "elu")

_CURVES = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "prelu": (prelu, prelu_grad),
    "elu": (elu, elu_grad),
    "swish": (swish, swish_grad),
    "linear": (linear, linear_grad),
}


def curve(
    function: str,
    alpha: float = 0.1,
    beta: float = 1.0,
    x_max: float = 5.0,
    n_points: int = 401,
) -> dict:
    """An activation and its derivative on a grid: ``x``, ``f(x)``, ``f'(x)``.

    What the chapter 6 explorer draws (its page computes the same in JavaScript).

    Parameters
    ----------
    function : str
        One of :data:`ELEMENTWISE`.
    alpha : float
        Negative-side slope of leaky ReLU and PReLU, or ELU's ``alpha``.
    beta : float
        Swish's ``beta`` (1 is SiLU).
    x_max : float
        The inputs are ``n_points`` evenly spaced values on ``[-x_max, x_max]``.

    Returns
    -------
    dict with arrays ``x``, ``y`` and ``dy`` (float64).

    Examples
    --------
    >>> v = curve("relu", n_points=5, x_max=2.0)
    >>> v["x"].tolist(), v["y"].tolist(), v["dy"].tolist()
    ([-2.0, -1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 1.0, 1.0])
    """
    if function not in ELEMENTWISE:
        raise ValueError(
            f"unknown function {function!r}; choose one of {', '.join(ELEMENTWISE)}"
        )
    x = np.linspace(-x_max, x_max, n_points)
    f, grad = _CURVES[function]
    if function in USES_ALPHA:
        return {"x": x, "y": f(x, alpha), "dy": grad(x, alpha)}
    if function == "swish":
        return {"x": x, "y": f(x, beta), "dy": grad(x, beta)}
    return {"x": x, "y": f(x), "dy": grad(x)}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; a wrong name raises a ``KeyError`` listing the choices.

    Examples
    --------
    >>> get_activation("relu").lower
    0.0
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise KeyError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def properties_table(x_max: float = 20.0, n: int = 40001, alpha: float = 0.01):
    """Measure each elementwise activation on a grid and return the facts as a DataFrame.

    Columns: ``min``/``max`` of the output on ``[-x_max, x_max]``, ``f(0)``, the largest
    derivative, the derivative at x = -5 and x = 5 (saturation), ``mean output`` for
    standard-normal inputs (is it zero-centred?), whether the slope ever reaches zero
    for negative inputs (``dead for x<0``), and whether the function is smooth at 0.
    Softmax gets its own row computed on random logit vectors.

    Examples
    --------
    >>> table = properties_table()
    >>> bool(table.loc["sigmoid", "min"] > 0) and bool(table.loc["sigmoid", "max"] < 1)
    True
    """
    import pandas as pd

    x = np.linspace(-x_max, x_max, n)
    rng = np.random.default_rng(0)
    normal = rng.standard_normal(100_000)
    rows = {}
    for name, act in ACTIVATIONS.items():
        if name == "softmax":
            continue
        a = alpha if name == "leaky_relu" else None
        kwargs = {} if a is None else {"alpha": a}
        y, g = act.fn(x, **kwargs), act.grad(x, **kwargs)
        left = 1e-9
        rows[name] = {
            "min": float(y.min()),
            "max": float(y.max()),
            "f(0)": float(act.fn(np.array(0.0), **kwargs)),
            "max slope": float(g.max()),
            "slope at -5": float(act.grad(np.array(-5.0), **kwargs)),
            "slope at 5": float(act.grad(np.array(5.0), **kwargs)),
            "mean output (N(0,1) input)": float(act.fn(normal, **kwargs).mean()),
            "dead for x<0": bool(np.all(act.grad(x[x < 0], **kwargs) == 0)),
            "smooth at 0": bool(
                abs(
                    float(act.grad(np.array(left), **kwargs))
                    - float(act.grad(np.array(-left), **kwargs))
                )
                < 1e-6
            ),
        }
    logits = rng.normal(0, 5, size=(10_000, 3))
    p = softmax(logits)
    rows["softmax"] = {
        "min": float(p.min()),
        "max": float(p.max()),
        "f(0)": float(softmax(np.zeros(3))[0]),
        "max slope": float(
            max(np.abs(softmax_jacobian(z)).max() for z in logits[:500])
        ),
        "slope at -5": np.nan,
        "slope at 5": np.nan,
        "mean output (N(0,1) input)": float(
            softmax(rng.standard_normal((10_000, 3))).mean()
        ),
        "dead for x<0": False,
        "smooth at 0": True,
    }
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------- experiments
def gradient_norms_per_layer(
    x,
    y,
    activation: str = "sigmoid",
    *,
    depth: int = 10,
    width: int = 32,
    seed: int = 0,
    wrt: str = "preactivation",
    kernel_initializer: str = "glorot_uniform",
) -> np.ndarray:
    """Gradient norm at each hidden layer of a deep dense stack, at initialisation.

    Builds ``depth`` Dense layers of ``width`` units with the given activation
    (Glorot-uniform weights, the Keras default, for every activation so only the
    activation differs), a sigmoid output and binary cross-entropy, and
    measures with ``tf.GradientTape``:

    * ``wrt="preactivation"`` (default): ``||dL/dz_l||``, the gradient reaching
      layer ``l``'s pre-activations ``z_l = W_l h_{l-1} + b_l``. This is the
      signal backpropagation carries down the stack, so comparing it across
      layers isolates what the activations (and weights) do to it;
    * ``wrt="kernel"``: ``||dL/dW_l|| = ||h_{l-1}^T dL/dz_l||``, which also
      scales with the layer's input ``h_{l-1}``: the first layer sees raw
      inputs and the others see activations, so comparing layer 1 with the
      rest mixes two effects.

    Parameters
    ----------
    x : (N, D) float32 array
        Inputs (for images, flatten them first).
    y : (N,) array of 0/1 labels
    activation : str
        Any Keras activation name (``"sigmoid"``, ``"relu"``, ``"tanh"``, ...).
    wrt : {"preactivation", "kernel"}
    kernel_initializer : str
        Keras initializer of every hidden layer: ``"glorot_uniform"`` (the
        default, variance 2 / (fan_in + fan_out)) or ``"he_normal"`` (variance
        2 / fan_in, which makes up for ReLU zeroing half its inputs).

    Returns
    -------
    (depth,) float64 array, first hidden layer first.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> norms = gradient_norms_per_layer(rng.random((32, 16), dtype=np.float32),
    ...                                  rng.integers(0, 2, 32), depth=4)
    >>> norms.shape
    (4,)
    >>> bool(norms[0] < norms[-1])      # sigmoid: the signal shrinks going down
    True
    """
    import keras
    import tensorflow as tf

    if wrt not in ("preactivation", "kernel"):
        raise ValueError(f"wrt must be 'preactivation' or 'kernel', got {wrt!r}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(
            f"x must be (N, D); got shape {x.shape}: flatten images with "
            "x.reshape(len(x), -1)"
        )
    y = np.asarray(y, dtype=np.float32).reshape(-1, 1)
    keras.utils.set_random_seed(seed)
    dense = [
        keras.layers.Dense(
            width, kernel_initializer=kernel_initializer, name=f"hidden_{i + 1}"
        )
        for i in range(depth)
    ]
    act = keras.layers.Activation(activation)
    head = keras.layers.Dense(1, activation="sigmoid", name="output")
    loss_fn = keras.losses.BinaryCrossentropy()
    with tf.GradientTape(persistent=True) as tape:
        h = tf.constant(x)
        preactivations = []
        for layer in dense:
            z = layer(h)
            preactivations.append(z)
            h = act(z)
        loss = loss_fn(y, head(h))
    targets = preactivations if wrt == "preactivation" else [d.kernel for d in dense]
    grads = tape.gradient(loss, targets)
    del tape
    return np.array([float(tf.norm(g)) for g in grads])


def dead_unit_fraction(preactivations) -> float:
    """Share of units whose pre-activation is <= 0 for every input (a dead ReLU never fires).

    Parameters
    ----------
    preactivations : (N, units) array
        Pre-activation values of one layer over N inputs.

    Examples
    --------
    >>> import numpy as np
    >>> dead_unit_fraction(np.array([[-1.0, 2.0], [-3.0, -1.0]]))
    0.5
    """
    z = np.asarray(preactivations)
    if z.ndim != 2:
        raise ValueError(f"preactivations must be (N, units); got shape {z.shape}")
    return float(np.mean(np.all(z <= 0, axis=0)))


def train_mlp_and_count_dead(
    x,
    y,
    activation: str = "relu",
    *,
    learning_rate: float = 0.5,
    units: int = 64,
    epochs: int = 3,
    batch_size: int = 32,
    alpha: float = 0.01,
    seed: int = 0,
) -> dict:
    """Train a one-hidden-layer MLP with plain SGD and count its dead hidden units.

    The hidden layer is a linear Dense layer followed by a separate activation layer,
    so its pre-activations can be read before and after training.

    Parameters
    ----------
    x : (N, D) float32 array
    y : (N,) 0/1 labels
    activation : {"relu", "leaky_relu"}
    learning_rate : float
        Large values (about 0.5 on [0, 1] pixels) push many biases far negative.

    Returns
    -------
    dict with ``dead_before``, ``dead_after`` (shares from :func:`dead_unit_fraction`),
    ``grad_zero_share`` (share of hidden units whose kernel gradient is exactly zero
    after training), ``final_loss`` and ``history`` (loss per epoch).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> out = train_mlp_and_count_dead(rng.random((64, 8), dtype=np.float32),
    ...                                rng.integers(0, 2, 64), epochs=1)
    >>> 0.0 <= out["dead_after"] <= 1.0
    True
    """
    import keras
    import tensorflow as tf

    if activation not in ("relu", "leaky_relu"):
        raise ValueError(
            f"activation must be 'relu' or 'leaky_relu', got {activation!r}"
        )
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be (N, D); got shape {x.shape}: flatten images first")
    y = np.asarray(y, dtype=np.float32).reshape(-1, 1)
    keras.utils.set_random_seed(seed)
    act_layer = (
        keras.layers.ReLU(name="act")
        if activation == "relu"
        else keras.layers.LeakyReLU(negative_slope=alpha, name="act")
    )
    pre = keras.layers.Dense(units, name="hidden")
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            pre,
            act_layer,
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    probe = keras.Model(model.inputs[0], pre.output)
    dead_before = dead_unit_fraction(probe.predict(x, verbose=0))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss="binary_crossentropy",
    )
    history = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True
    )
    dead_after = dead_unit_fraction(probe.predict(x, verbose=0))
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    grad = tape.gradient(loss, pre.kernel).numpy()
    grad_zero = float(np.mean(np.all(grad == 0, axis=0)))
    return {
        "dead_before": dead_before,
        "dead_after": dead_after,
        "grad_zero_share": grad_zero,
        "final_loss": float(history.history["loss"][-1]),
        "history": [float(v) for v in history.history["loss"]],
    }
