"""Feature maps: extract every layer's output for one image, and plot them.

The explorer that browses them in the page, and its static small-multiples twin,
live in :mod:`cnnguide.explorers.featuremaps`.

Examples
--------
>>> import numpy as np
>>> from cnnguide.layers import build_demo_model
>>> maps = feature_maps(build_demo_model(), np.zeros((28, 28), np.float32))
>>> maps["conv"].shape
(28, 28, 8)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from cnnguide.images import as_model_input
from cnnguide.plotting import show_signed, signed_limit

__all__ = [
    "feature_maps",
    "describe_maps",
    "spatial_layers",
    "layer_map",
    "plot_feature_maps",
]


def _as_batch(image, input_shape) -> np.ndarray:
    """One image or a batch -> the model's batch, by the package's one rule
    (:func:`cnnguide.images.as_model_input`: uint8 /255, floats kept)."""
    x = np.asarray(image)
    expected = tuple(input_shape[1:])
    single = x.shape == expected or (expected[-1] == 1 and x.shape == expected[:-1])
    x = as_model_input(x[np.newaxis] if single else x)
    if x.shape[1:] != expected:
        raise ValueError(
            f"image has shape {np.shape(image)}; the model expects {expected} "
            f"(or a batch of them): resize it or pass image[..., None]"
        )
    return x


def feature_maps(
    model, image, layer_names=None, *, training: bool = False
) -> dict[str, np.ndarray]:
    """Every (or the named) layer's output for one image, in model order, batch axis removed.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional model.
    image : (H, W), (H, W, C) or (1, H, W, C) array
        One image, already scaled as the model expects (float32 in [0, 1] here).
    layer_names : list of str, optional
        Default: every layer.
    training : bool
        Run layers in training mode (dropout active, BN uses batch statistics).

    Returns
    -------
    dict name -> array of shape (H', W', C') for spatial layers or (units,) after flatten.
    """
    import keras

    x = _as_batch(image, model.input_shape)
    layers = (
        model.layers
        if layer_names is None
        else [model.get_layer(n) for n in layer_names]
    )
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.output for layer in layers])
    outputs = probe(x, training=training)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {layer.name: np.asarray(out)[0] for layer, out in zip(layers, outputs)}


def describe_maps(maps: dict[str, np.ndarray]):
    """One row per layer: the shape of its output and what happened to the values.

    Returns
    -------
    pandas.DataFrame with columns ``shape``, ``values`` (number of numbers), ``min``,
    ``max``, ``mean`` and ``zeros`` (share of exact zeros).

    Examples
    --------
    >>> t = describe_maps({"a": np.array([[[0.0, 2.0]]])})
    >>> float(t.loc["a", "zeros"])
    0.5
    """
    import pandas as pd

    return pd.DataFrame(
        {
            name: {
                "shape": str(tuple(np.shape(m))),
                "values": int(np.size(m)),
                "min": float(np.min(m)),
                "max": float(np.max(m)),
                "mean": float(np.mean(m)),
                "zeros": float(np.mean(np.asarray(m) == 0)),
            }
            for name, m in maps.items()
        }
    ).T.astype(
        {"values": int, "min": float, "max": float, "mean": float, "zeros": float}
    )


def spatial_layers(maps: dict[str, np.ndarray]) -> list[str]:
    """Names of the maps that still have a spatial (H, W, C) layout.

    Examples
    --------
    >>> spatial_layers({"conv": np.zeros((4, 4, 2)), "dense": np.zeros(3)})
    ['conv']
    """
    return [name for name, m in maps.items() if np.ndim(m) == 3]


def layer_map(maps: dict[str, np.ndarray], layer: str) -> np.ndarray:
    """One layer's ``(H, W, C)`` feature map from :func:`feature_maps`' dict.

    Raises a clear error for an unknown layer or one that is not spatial (a
    dense layer's vector), so every figure and explorer checks it the same way.

    Examples
    --------
    >>> layer_map({"conv": np.zeros((4, 4, 2))}, "conv").shape
    (4, 4, 2)
    >>> layer_map({"dense": np.zeros(3)}, "dense")
    Traceback (most recent call last):
    ...
    ValueError: layer 'dense' has shape (3,), not a (H, W, C) feature map
    """
    if layer not in maps:
        raise KeyError(f"no layer {layer!r}; choose one of {list(maps)}")
    m = np.asarray(maps[layer])
    if m.ndim != 3:
        raise ValueError(
            f"layer {layer!r} has shape {m.shape}, not a (H, W, C) feature map"
        )
    return m


def plot_feature_maps(
    maps: dict[str, np.ndarray],
    layer: str,
    channels=None,
    *,
    ncols: int = 8,
    size: float = 1.3,
    cmap: str = "viridis",
):
    """Grid of the channels of one layer's feature map, on one colour scale.

    All channels shown share the layer's scale and one colour bar, so a weak
    channel looks weak. A signed layer (any value below zero: convolution,
    batch norm) is drawn by :func:`cnnguide.plotting.show_signed`, centred on
    zero; a non-negative one (after ReLU) uses ``cmap`` from 0 to its maximum.

    Examples
    --------
    >>> fig = plot_feature_maps({"conv": np.random.default_rng(0).random((6, 6, 3))}, "conv")
    >>> len([ax for ax in fig.axes if ax.images])
    3
    >>> fig = plot_feature_maps({"conv": np.linspace(-1, 2, 18).reshape(3, 3, 2)}, "conv")
    >>> fig.axes[0].images[0].get_clim()
    (-2.0, 2.0)
    """
    m = layer_map(maps, layer)
    channels = list(range(m.shape[-1])) if channels is None else list(channels)
    shown = m[..., channels]
    signed = bool(np.nanmin(shown) < 0)
    ncols = min(ncols, len(channels))
    nrows = -(-len(channels) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols + 0.8, size * nrows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.axis("off")
    limit = signed_limit(shown)
    for ax, c in zip(axes.flat, channels):
        if signed:
            image = show_signed(m[..., c], ax=ax, limit=limit, colorbar=False)
        else:
            image = ax.imshow(m[..., c], cmap=cmap, vmin=0.0, vmax=limit)
        ax.set_title(f"ch {c}", fontsize=8)
    fig.colorbar(image, ax=axes, fraction=0.05, shrink=0.9, label="activation")
    fig.suptitle(f"{layer}: {m.shape[0]}x{m.shape[1]}x{m.shape[2]}", fontsize=10)
    return fig
