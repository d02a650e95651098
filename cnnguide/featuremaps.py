"""Feature maps: extract every layer's output for one image, plot them, browse them.

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

from cnnguide.widgets import render_png

__all__ = [
    "feature_maps",
    "describe_maps",
    "spatial_layers",
    "plot_feature_maps",
    "featuremap_small_multiples",
    "FeatureMapViewer",
    "featuremap_explorer",
]


def _as_batch(image, input_shape) -> np.ndarray:
    x = np.asarray(image, dtype=np.float32)
    expected = tuple(input_shape[1:])
    if x.shape == expected[:-1] and expected[-1] == 1:
        x = x[..., None]
    if x.shape == expected:
        x = x[None]
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


def _check_map(maps, layer):
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
    """Grid of the channels of one layer's feature map, each on its own colour scale.

    Examples
    --------
    >>> fig = plot_feature_maps({"conv": np.random.default_rng(0).random((6, 6, 3))}, "conv")
    >>> len([ax for ax in fig.axes if ax.images])
    3
    """
    m = _check_map(maps, layer)
    channels = list(range(m.shape[-1])) if channels is None else list(channels)
    ncols = min(ncols, len(channels))
    nrows = -(-len(channels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, c in zip(axes.flat, channels):
        ax.imshow(m[..., c], cmap=cmap)
        ax.set_title(f"ch {c}", fontsize=8)
    fig.suptitle(f"{layer}: {m.shape[0]}x{m.shape[1]}x{m.shape[2]}", fontsize=10)
    fig.tight_layout()
    return fig


def featuremap_small_multiples(
    maps: dict[str, np.ndarray],
    layers=None,
    *,
    n_channels: int = 4,
    image=None,
    size: float = 1.4,
    cmap: str = "viridis",
):
    """Static grid: one row per spatial layer, its first ``n_channels`` channels as columns.

    The static companion of :func:`featuremap_explorer` for the rendered book. If
    ``image`` is given, it is drawn in an extra first row.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = featuremap_small_multiples({"a": rng.random((8, 8, 2)), "b": rng.random((4, 4, 6))})
    >>> len([ax for ax in fig.axes if ax.images])
    6
    """
    layers = spatial_layers(maps) if layers is None else list(layers)
    if not layers:
        raise ValueError("no (H, W, C) feature maps to show")
    rows = (
        [
            (
                "input",
                np.asarray(image, dtype=np.float32).reshape(*np.shape(image)[:2], -1),
            )
        ]
        if image is not None
        else []
    )
    rows += [(name, _check_map(maps, name)) for name in layers]
    fig, axes = plt.subplots(
        len(rows),
        n_channels,
        figsize=(size * n_channels + 1.2, size * len(rows)),
        squeeze=False,
    )
    for r, (name, m) in enumerate(rows):
        for c in range(n_channels):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < m.shape[-1] and (name != "input" or c == 0):
                ax.imshow(m[..., c], cmap="gray" if name == "input" else cmap)
                if r == 0 or (r == 1 and image is not None):
                    ax.set_title(f"channel {c}", fontsize=8)
        axes[r, 0].set_ylabel(
            f"{name}\n{m.shape[0]}x{m.shape[1]}x{m.shape[2]}", fontsize=8
        )
    fig.tight_layout()
    return fig


class FeatureMapViewer:
    """Widget: a layer slider and a channel slider over a dict of feature maps.

    Attributes
    ----------
    layer : ipywidgets.SelectionSlider
        Which spatial layer is shown.
    channel : ipywidgets.IntSlider
        Which channel; its maximum follows the chosen layer.
    image : ipywidgets.Image
        The current map as a PNG (saved in the page, so the book shows the first one).
    shown : np.ndarray
        The 2-D map on display right now (tests read it).
    widget : ipywidgets.VBox
    """

    def __init__(self, maps: dict[str, np.ndarray], *, cmap: str = "viridis"):
        import ipywidgets as widgets

        self.maps = {k: np.asarray(maps[k]) for k in spatial_layers(maps)}
        if not self.maps:
            raise ValueError(
                "FeatureMapViewer needs at least one (H, W, C) feature map"
            )
        self.cmap = cmap
        names = list(self.maps)
        self.layer = widgets.SelectionSlider(
            options=names, value=names[0], description="layer", continuous_update=False
        )
        self.channel = widgets.IntSlider(
            value=0,
            min=0,
            max=self.maps[names[0]].shape[-1] - 1,
            description="channel",
            continuous_update=False,
        )
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox(
            [widgets.HBox([self.layer, self.channel]), self.info, self.image]
        )
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(self._redraw, names="value")
        self._redraw()

    def _on_layer(self, change):
        depth = self.maps[self.layer.value].shape[-1]
        # Changing max may clamp value and fire a redraw; redraw once more afterwards anyway.
        self.channel.max = depth - 1
        self._redraw()

    def _redraw(self, change=None):
        m = self.maps[self.layer.value]
        c = min(self.channel.value, m.shape[-1] - 1)
        self.shown = m[..., c]
        fig, ax = plt.subplots(figsize=(3.2, 3.2))
        im = ax.imshow(self.shown, cmap=self.cmap)
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_title(f"{self.layer.value}, channel {c}", fontsize=10)
        ax.axis("off")
        fig.tight_layout()
        self.image.value = render_png(fig, dpi=80)
        plt.close(fig)
        self.info.value = (
            f"shape {m.shape[0]}x{m.shape[1]}x{m.shape[2]}; this channel: "
            f"min {self.shown.min():.3f}, max {self.shown.max():.3f}, "
            f"zeros {np.mean(self.shown == 0):.0%}"
        )

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def featuremap_explorer(maps: dict[str, np.ndarray], **kwargs) -> FeatureMapViewer:
    """Build the feature-map viewer (see :class:`FeatureMapViewer`).

    Examples
    --------
    >>> viewer = featuremap_explorer({"conv": np.random.default_rng(0).random((6, 6, 3))})
    >>> viewer.channel.max
    2
    """
    return FeatureMapViewer(maps, **kwargs)
