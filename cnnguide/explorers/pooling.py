"""Chapter 4: the pooling explorer, computed and drawn in the page.

:class:`PoolingExplorer` pools the chosen image (8-bit bytes, synced) with max
or average pooling, any window size, stride and padding, and shows the window
of one output pixel (``row``, ``col``) on the input, the pooled map, and the
global average. Its ES module is ``static/pooling.js``;
:meth:`PoolingExplorer.reference` gives the NumPy answer
(:func:`cnnguide.ops.pool2d`) and :func:`pooling_small_multiples` the static
twin.

Examples
--------
>>> import numpy as np
>>> explorer = PoolingExplorer(np.zeros((32, 32)), size=4, stride=2)
>>> explorer.reference()["shape"]          # overlapping windows
(15, 15)
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import traitlets

from cnnguide.explorers._core import (
    ImageExplorer,
    as_grey_image,
    image_choices,
    load_esm,
    show_array,
)
from cnnguide.ops import pad_amounts, pool2d

__all__ = [
    "PoolingExplorer",
    "pooling_small_multiples",
]

WINDOW_COLOUR = "#e4572e"


class PoolingExplorer(ImageExplorer):
    """Pooling explorer: max versus average, window, stride, padding, and the global average.

    Parameters
    ----------
    images : dict of name to (H, W) array, or one array, optional
        Default: the phantom and, when present, a real training X-ray.
    mode : {"max", "average"}
    size : int
        Window side, 1 to 16.
    stride : int
        1 to 16.
    padding : {"valid", "same"}
    row, col : int
        Output pixel whose window is shown (the page clamps it).

    Attributes
    ----------
    controls : dict
        ``image`` (Dropdown), ``mode``, ``padding`` (ToggleButtons), ``size``,
        ``stride``, ``row``, ``col`` (IntSliders).

    Examples
    --------
    >>> import numpy as np
    >>> ex = PoolingExplorer(np.zeros((32, 32)))
    >>> ex.size = 8; ex.stride = 8; ex.mode = "average"
    >>> ex.reference()["shape"], ex.controls["mode"].value
    ((4, 4), 'average')
    """

    _esm = load_esm("pooling")

    mode = traitlets.Enum(("max", "average"), default_value="max")
    mode_index = traitlets.Int(0).tag(sync=True)
    size = traitlets.Int(2, min=1, max=16).tag(sync=True)
    stride = traitlets.Int(2, min=1, max=16).tag(sync=True)
    padding = traitlets.Enum(("valid", "same"), default_value="valid")
    padding_index = traitlets.Int(0).tag(sync=True)
    row = traitlets.Int(0, min=0).tag(sync=True)
    col = traitlets.Int(0, min=0).tag(sync=True)

    def __init__(
        self,
        images=None,
        *,
        mode: str = "max",
        size: int = 2,
        stride: int = 2,
        padding: str = "valid",
        row: int = 0,
        col: int = 0,
    ):
        if mode == "avg":
            mode = "average"
        images = image_choices(images)
        largest = max(max(image.shape) for image in images.values())
        style = {"description_width": "initial"}
        controls = {
            "mode": ipywidgets.ToggleButtons(
                options=["max", "average"], description="pooling", style=style
            ),
            "size": ipywidgets.IntSlider(min=1, max=16, description="window"),
            "stride": ipywidgets.IntSlider(min=1, max=16, description="stride"),
            "padding": ipywidgets.ToggleButtons(
                options=["valid", "same"], description="padding", style=style
            ),
            "row": ipywidgets.IntSlider(
                min=0, max=largest - 1, description="output row", style=style
            ),
            "col": ipywidgets.IntSlider(
                min=0, max=largest - 1, description="output col", style=style
            ),
        }
        super().__init__(
            controls,
            images=images,
            rows=[["mode", "padding"], ["size", "stride"], ["row", "col"], ["image"]],
            mode=mode,
            size=size,
            stride=stride,
            padding=padding,
            row=row,
            col=col,
        )

    def reference(self, dtype=np.float64) -> dict:
        """What the page should show now, computed with :func:`cnnguide.ops.pool2d`.

        Parameters
        ----------
        dtype : numpy dtype
            Precision of the reference (the page computes in float64).

        Returns
        -------
        dict
            ``pooled`` (H', W') from :func:`cnnguide.ops.pool2d` of the chosen
            image, ``shape``, ``pads``, ``global_average`` (float), ``window``
            (top, left, h, w) of output pixel (row, col) in input coordinates,
            ``row``, ``col`` (clipped), ``value``, ``mode``, ``image``.

        Examples
        --------
        >>> import numpy as np
        >>> ex = PoolingExplorer(np.arange(16, dtype=np.uint8).reshape(4, 4) * 17)
        >>> state = ex.reference()      # the pixels are k / 15
        >>> (state["pooled"] * 15).round().tolist(), state["global_average"]
        ([[5.0, 7.0], [13.0, 15.0]], 0.5)
        """
        image = self.images_as(dtype)[self.image]
        size, stride, padding = self.size, self.stride, self.padding
        pooled = pool2d(image, size, stride, padding, self.mode)
        pads = pad_amounts(padding, image.shape, (size, size), stride)
        out_h, out_w = pooled.shape
        row = int(np.clip(self.row, 0, out_h - 1))
        col = int(np.clip(self.col, 0, out_w - 1))
        return {
            "pooled": pooled,
            "shape": (out_h, out_w),
            "pads": pads,
            "global_average": float(image.mean()),
            "window": (
                row * stride - pads[0][0],
                col * stride - pads[1][0],
                size,
                size,
            ),
            "row": row,
            "col": col,
            "value": float(pooled[row, col]),
            "mode": self.mode,
            "image": self.image,
        }


def pooling_small_multiples(
    image, sizes=(2, 4, 8), modes=("max", "average"), size: float = 2.0
) -> plt.Figure:
    """Static companion of the pooling explorer: max and average pooling at a few window sizes.

    Windows are non-overlapping (stride = window); each panel is titled with its shape,
    and the last column shows the global average.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig = pooling_small_multiples(np.random.rand(32, 32)); len(fig.axes); plt.close(fig)
    10
    """
    image = as_grey_image(image)
    ncols = len(sizes) + 2
    fig, axes = plt.subplots(
        len(modes),
        ncols,
        figsize=(size * ncols, size * len(modes) + 0.3),
        squeeze=False,
    )
    for r, mode in enumerate(modes):
        show_array(axes[r, 0], image).set_clim(0, 1)
        axes[r, 0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=8)
        axes[r, 0].set_ylabel(mode, fontsize=9)
        for c, window in enumerate(sizes, start=1):
            pooled = pool2d(image, window, mode=mode)
            show_array(axes[r, c], pooled).set_clim(0, 1)
            axes[r, c].set_title(
                f"{mode} {window}x{window}\n→ {pooled.shape[0]}x{pooled.shape[1]}",
                fontsize=8,
            )
        gap = float(image.mean())
        show_array(axes[r, -1], np.array([[gap]])).set_clim(0, 1)
        axes[r, -1].text(
            0,
            0,
            f"{gap:.3f}",
            ha="center",
            va="center",
            color=WINDOW_COLOUR,
            fontsize=11,
        )
        axes[r, -1].set_title("global average\n→ 1x1", fontsize=8)
    fig.tight_layout()
    return fig
