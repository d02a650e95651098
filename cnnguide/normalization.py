"""Batch, layer and instance normalization: which axes each one averages over.

For a batch of feature maps of shape ``(N, H, W, C)``:

==============  ======================  =========================================
kind            statistics over axes    one mean and one std per ...
==============  ======================  =========================================
batch           ``(0, 1, 2)``           channel (shared by every image)
layer           ``(1, 2, 3)``           image (shared by every channel)
instance        ``(1, 2)``              image and channel
==============  ======================  =========================================

The NumPy reference :func:`normalize` is checked in the tests against
``keras.layers.BatchNormalization`` (training mode), ``LayerNormalization`` and
``GroupNormalization(groups=C)`` (which is instance normalization).

Examples
--------
>>> normalization_axes("instance")
(1, 2)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NORMALIZATION_AXES",
    "normalization_axes",
    "normalize",
    "axis_statistics",
    "keras_normalization_layer",
    "statistics_table",
]

NORMALIZATION_AXES: dict[str, tuple[int, ...]] = {
    "batch": (0, 1, 2),
    "layer": (1, 2, 3),
    "instance": (1, 2),
}
"""Axes of an ``(N, H, W, C)`` tensor that each normalization averages over."""


def normalization_axes(kind: str) -> tuple[int, ...]:
    """The axes of an ``(N, H, W, C)`` tensor that ``kind`` normalization reduces.

    Examples
    --------
    >>> normalization_axes("batch")
    (0, 1, 2)
    """
    try:
        return NORMALIZATION_AXES[kind]
    except KeyError:
        raise ValueError(
            f"unknown normalization {kind!r}; choose one of "
            f"{sorted(NORMALIZATION_AXES)}"
        ) from None


def _check_nhwc(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(
            f"expected feature maps of shape (N, H, W, C); got shape {x.shape}"
        )
    return x


def normalize(x, kind: str, eps: float = 1e-3) -> np.ndarray:
    """Standardise ``x`` (N, H, W, C) over the axes of ``kind``: ``(x - mean) / sqrt(var + eps)``.

    This is what the Keras layers compute before their learned scale (gamma, initially
    1) and shift (beta, initially 0). ``eps`` defaults to Keras's 1e-3 for batch and
    layer normalization; pass the layer's ``epsilon`` to compare exactly.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(5, 3, (4, 6, 6, 2))
    >>> z = normalize(x, "batch")
    >>> np.allclose(z.mean(axis=(0, 1, 2)), 0)
    True
    """
    x = _check_nhwc(x)
    axes = normalization_axes(kind)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def axis_statistics(x, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard deviations of ``x`` over the axes ``kind`` normalizes.

    Returns arrays with the reduced axes removed: ``(C,)`` for batch, ``(N,)`` for
    layer, ``(N, C)`` for instance.

    Examples
    --------
    >>> import numpy as np
    >>> means, stds = axis_statistics(np.ones((2, 3, 3, 4)), "instance")
    >>> means.shape
    (2, 4)
    """
    x = _check_nhwc(x)
    axes = normalization_axes(kind)
    return x.mean(axis=axes), x.std(axis=axes)


def keras_normalization_layer(kind: str, channels: int, epsilon: float = 1e-3):
    """The Keras layer for ``kind``: BatchNormalization, LayerNormalization over (H, W, C),
    or GroupNormalization with one group per channel (instance normalization).

    Examples
    --------
    >>> type(keras_normalization_layer("instance", 8)).__name__
    'GroupNormalization'
    """
    import keras

    normalization_axes(kind)
    if kind == "batch":
        return keras.layers.BatchNormalization(epsilon=epsilon, name="batch_norm")
    if kind == "layer":
        return keras.layers.LayerNormalization(
            axis=(1, 2, 3), epsilon=epsilon, name="layer_norm"
        )
    return keras.layers.GroupNormalization(
        groups=channels, epsilon=epsilon, name="instance_norm"
    )


def statistics_table(x, outputs: dict[str, np.ndarray]):
    """Summarise, per normalization, the spread of the means and stds it equalises.

    Parameters
    ----------
    x : (N, H, W, C) array
        The feature maps before normalization.
    outputs : dict kind -> (N, H, W, C) array
        The normalized maps (e.g. from the Keras layers).

    Returns
    -------
    pandas.DataFrame, one row per kind: the axes, how many (mean, std) pairs there
    are, and the largest |mean| and |std - 1| over those groups before and after.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(2, 3, (4, 5, 5, 3))
    >>> t = statistics_table(x, {"batch": normalize(x, "batch")})
    >>> bool(t.loc["batch", "max |mean| after"] < 1e-6)
    True
    """
    import pandas as pd

    rows = {}
    for kind, y in outputs.items():
        m0, s0 = axis_statistics(x, kind)
        m1, s1 = axis_statistics(y, kind)
        rows[kind] = {
            "axes": str(normalization_axes(kind)),
            "groups": int(np.size(m0)),
            "max |mean| before": float(np.abs(m0).max()),
            "max |std-1| before": float(np.abs(s0 - 1).max()),
            "max |mean| after": float(np.abs(m1).max()),
            "max |std-1| after": float(np.abs(s1 - 1).max()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
