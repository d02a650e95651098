"""Chapter 5: browse precomputed feature maps, layer by layer, channel by channel.

Python computes the maps (:func:`cnnguide.layer_outputs.feature_maps`);
:class:`FeatureMapExplorer` quantises every channel of every spatial layer to
uint8 on its own scale (its minimum and maximum travel with it) and embeds them
in the widget. The ES module (``static/featuremaps.js``) draws the chosen
layer's channels as a grid, or one channel large with its colour bar, in the
page. Quantisation error: a shown value is within ``(max - min) / 510`` of the
float map (half a grey level); the minimum and maximum are exact.
:func:`featuremap_small_multiples` is the static twin.

Examples
--------
>>> import numpy as np
>>> maps = {"conv": np.random.default_rng(0).random((6, 6, 3))}
>>> ex = FeatureMapExplorer(maps)
>>> ex.layer, ex.channel, ex.layer_names
('conv', 0, ['conv'])
>>> ex.channel = 2  # from Python: the page redraws
>>> err = np.abs(ex.dequantized("conv", 2) - maps["conv"][..., 2]).max()
>>> bool(err <= np.ptp(maps["conv"][..., 2]) / 510 + 1e-12)
True
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import traitlets

from cnnguide.explorers._core import Explorer, load_esm
from cnnguide.layer_outputs import layer_map, spatial_layers

__all__ = [
    "FeatureMapExplorer",
    "quantize_maps",
    "featuremap_small_multiples",
    "MAX_BYTES",
]

#: Most bytes of quantised maps one explorer embeds (a page stays under 4 MB).
MAX_BYTES = 2_000_000


def quantize_maps(maps: dict) -> tuple[list[dict], bytes]:
    """Every channel of every (H, W, C) map as uint8 on its own min-max scale.

    Returns
    -------
    layers : list of dict
        One per spatial layer, in order: ``name``, ``h``, ``w``, ``c``,
        ``offset`` (of its first byte in ``data``), ``min`` and ``max`` (lists of
        ``c`` floats). Channel ``k`` of a layer is the ``h * w`` bytes at
        ``offset + k * h * w``, row-major; value ``q`` stands for
        ``min + q * (max - min) / 255``.
    data : bytes

    Examples
    --------
    >>> layers, data = quantize_maps({"a": np.array([[[0.0, 1.0], [2.0, 1.0]]])})
    >>> layers[0]["min"], layers[0]["max"], list(data)
    ([0.0, 1.0], [2.0, 1.0], [0, 255, 0, 0])
    """
    layers, chunks, offset = [], [], 0
    for name in spatial_layers(maps):
        m = np.asarray(maps[name], dtype=np.float64)
        if not np.isfinite(m).all():
            raise ValueError(f"feature map {name!r} holds NaN or infinity")
        h, w, c = m.shape
        lo, hi = m.min(axis=(0, 1)), m.max(axis=(0, 1))
        span = np.where(hi > lo, hi - lo, 1.0)
        q = np.rint((m - lo) / span * 255).clip(0, 255).astype(np.uint8)
        chunks.append(np.ascontiguousarray(q.transpose(2, 0, 1)).tobytes())
        layers.append(
            {
                "name": name,
                "h": int(h),
                "w": int(w),
                "c": int(c),
                "offset": offset,
                "min": [float(v) for v in lo],
                "max": [float(v) for v in hi],
            }
        )
        offset += h * w * c
    return layers, b"".join(chunks)


class FeatureMapExplorer(Explorer):
    """Layer and channel controls over precomputed feature maps, drawn by the page.

    Parameters
    ----------
    maps : dict name -> array
        A layer's output for one image (:func:`cnnguide.layer_outputs.feature_maps`);
        the (H, W, C) ones are shown, the flat ones skipped.
    layer : str, optional
        The layer shown first (default: the first spatial one).
    channel : int
        The channel selected first (highlighted in the grid, shown in "channel"
        view). A layer with fewer channels shows its last one.
    view : {"grid", "channel"}
        All channels of the layer, or the selected one large.

    Attributes
    ----------
    layers : list of dict
        What :func:`quantize_maps` returns, synced to the page.
    controls : dict
        ``layer`` (Dropdown), ``channel`` (IntSlider), ``view``
        (ToggleButtons).

    Examples
    --------
    >>> ex = FeatureMapExplorer({"a": np.zeros((4, 4, 2)), "dense": np.zeros(3)})
    >>> ex.layer_names, ex.controls["channel"].max
    (['a'], 1)
    """

    _esm = load_esm("featuremaps")
    layers = traitlets.List().tag(sync=True)
    data = traitlets.Bytes().tag(sync=True)
    layer = traitlets.Unicode()
    layer_index = traitlets.Int(0).tag(sync=True)
    channel = traitlets.Int(0).tag(sync=True)
    view = traitlets.Unicode("grid")
    view_index = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        maps: dict,
        layer: str | None = None,
        channel: int = 0,
        *,
        view: str = "grid",
    ):
        layers, data = quantize_maps(maps)
        if not layers:
            raise ValueError(
                "FeatureMapExplorer needs at least one (H, W, C) feature map; got "
                f"shapes {[np.shape(m) for m in maps.values()]}"
            )
        if len(data) > MAX_BYTES:
            raise ValueError(
                f"the maps need {len(data)} bytes, more than {MAX_BYTES} for one "
                "page: pass fewer layers (feature_maps(..., layer_names=[...])) "
                "or a smaller image"
            )
        names = [d["name"] for d in layers]
        layer = names[0] if layer is None else layer
        most = max(d["c"] for d in layers)
        self._meta = {d["name"]: d for d in layers}
        self._data = data
        controls = {
            "layer": ipywidgets.Dropdown(
                options=names, value=layer, description="layer"
            ),
            "channel": ipywidgets.IntSlider(
                value=channel, min=0, max=most - 1, description="channel"
            ),
            "view": ipywidgets.ToggleButtons(
                options=[("all channels", "grid"), ("one channel", "channel")],
                value=view,
                description="show",
                style={"button_width": "110px"},
            ),
        }
        super().__init__(
            controls,
            layers=layers,
            data=data,
            layer=layer,
            channel=channel,
            view=view,
        )

    @property
    def layer_names(self) -> list[str]:
        """The spatial layers the explorer offers, in model order."""
        return [d["name"] for d in self.layers]

    @traitlets.validate("layer")
    def _check_layer(self, proposal):
        names = [d["name"] for d in self.layers]
        if proposal["value"] not in names:
            raise traitlets.TraitError(
                f"no spatial layer {proposal['value']!r}; choose one of {names}"
            )
        return proposal["value"]

    @traitlets.validate("channel")
    def _check_channel(self, proposal):
        most = max(d["c"] for d in self.layers)
        if not 0 <= proposal["value"] < most:
            raise traitlets.TraitError(
                f"channel {proposal['value']} out of range: the layers have at "
                f"most {most} channels (0 to {most - 1})"
            )
        return proposal["value"]

    @traitlets.validate("view")
    def _check_view(self, proposal):
        if proposal["value"] not in ("grid", "channel"):
            raise traitlets.TraitError(
                f"view must be 'grid' or 'channel', got {proposal['value']!r}"
            )
        return proposal["value"]

    def shown_channel(self) -> int:
        """The channel the page highlights: ``channel``, or the layer's last one."""
        return min(self.channel, self._meta[self.layer]["c"] - 1)

    def dequantized(self, layer: str, channel: int) -> np.ndarray:
        """The (H, W) map ``layer``/``channel`` as the page sees it (float64)."""
        d = self._meta[layer]
        hw = d["h"] * d["w"]
        start = d["offset"] + channel * hw
        q = np.frombuffer(self._data, np.uint8, hw, start).reshape(d["h"], d["w"])
        lo, hi = d["min"][channel], d["max"][channel]
        return lo + q.astype(np.float64) * ((hi - lo) / 255.0)


# --------------------------------------------------------------------------- static
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

    The static twin of :class:`FeatureMapExplorer`, for print and for readers
    without JavaScript. If ``image`` is given, it is drawn in an extra first row.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = featuremap_small_multiples({"a": rng.random((8, 8, 2)),
    ...                                   "b": rng.random((4, 4, 6))})
    >>> len([ax for ax in fig.axes if ax.images])
    6
    >>> plt.close(fig)
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
    rows += [(name, layer_map(maps, name)) for name in layers]
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
