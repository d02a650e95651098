"""Chapter 4: the stride and padding explorer, computed and drawn in the page.

:class:`StridePaddingExplorer` draws a k×k window walking over a small n×n
input: the padding around it, one highlighted window position, the centre of
every position, the output grid, and the output size from the formula
``floor((n + 2p - k) / s) + 1`` (``ceil(n / s)`` for 'same') next to the
number of positions counted by walking the window. The same k, stride and
padding are applied (as a k×k mean) to a whole image, so the reader sees the
effect at full size. Its ES module is ``static/stride_padding.js``;
:meth:`StridePaddingExplorer.reference` gives the NumPy answer
(:func:`cnnguide.ops.output_size`, :func:`cnnguide.ops.conv2d`) and
:func:`stride_padding_small_multiples` the static twin.

Examples
--------
>>> import numpy as np
>>> explorer = StridePaddingExplorer(np.zeros((32, 32)), n=7, k=3)
>>> explorer.stride = 2
>>> ref = explorer.reference(); ref["formula"], ref["produced"]
(3, 3)
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.patches import Rectangle

from cnnguide.explorers._core import ImageExplorer, load_esm
from cnnguide.ops import conv2d, output_size, pad_amounts

__all__ = [
    "PADDINGS",
    "StridePaddingExplorer",
    "formula_text",
    "stride_padding_small_multiples",
    "window_walk_picture",
]

PADDINGS = ("valid", "same", 1, 2)
"""Paddings the explorer offers: the two Keras names and explicit pixel counts."""

WINDOW_COLOUR = "#e4572e"

_PALETTE = np.array(
    [
        [205, 205, 205],  # 0 padding
        [250, 250, 250],  # 1 input
        [255, 214, 196],  # 2 = padding + window: the window over padding
        [236, 170, 150],  # 3 = input + window: the window over the input
    ],
    dtype=np.uint8,
)


def window_walk_picture(
    n: int, k: int, stride: int, padding, step: int = 0, cell: int = 12
) -> dict:
    """Picture of a k×k window walking over an n×n input: padding, input cells, window positions.

    Parameters
    ----------
    n, k, stride : int
    padding : "valid", "same" or int
    step : int
        Which window position (row-major) to highlight; clipped to the last one.
    cell : int
        Pixels per cell in the picture.

    Returns
    -------
    dict
        ``picture`` (P*cell, P*cell, 3) uint8 with grid lines (P = padded side),
        ``pads`` ((top, bottom), (left, right)), ``out`` (the number of positions per axis,
        counted by walking), ``starts`` (the window's first cell on each axis),
        ``centres`` (positions' centres in picture pixels, (M, 2) x/y),
        ``window`` (x, y, w, h) of the highlighted window in picture pixels, ``step``.

    Examples
    --------
    >>> walk = window_walk_picture(5, 3, 2, "valid")
    >>> walk["out"], walk["centres"].shape
    (2, (4, 2))
    """
    pads = pad_amounts(padding, (n, n), (k, k), stride)
    (top, bottom), (left, right) = pads
    rows, cols = n + top + bottom, n + left + right
    # Walk the window: every start that keeps it inside the padded input.
    starts_r = np.arange(0, rows - k + 1, stride)
    starts_c = np.arange(0, cols - k + 1, stride)
    if len(starts_r) == 0 or len(starts_c) == 0:
        raise ValueError(
            f"a {k}x{k} window does not fit in a {n}x{n} input with padding {padding!r}"
        )
    step = int(np.clip(step, 0, len(starts_r) * len(starts_c) - 1))
    r0, c0 = starts_r[step // len(starts_c)], starts_c[step % len(starts_c)]
    codes = np.zeros((rows, cols), dtype=np.uint8)
    codes[top : top + n, left : left + n] = 1
    codes[r0 : r0 + k, c0 : c0 + k] += 2
    picture = np.repeat(np.repeat(_PALETTE[codes], cell, axis=0), cell, axis=1)
    picture[::cell, :] = 90
    picture[:, ::cell] = 90
    picture[-1, :] = 90
    picture[:, -1] = 90
    grid_r, grid_c = np.meshgrid(starts_r, starts_c, indexing="ij")
    centres = np.stack(
        [(grid_c.ravel() + k / 2) * cell, (grid_r.ravel() + k / 2) * cell], axis=1
    )
    return {
        "picture": picture,
        "pads": pads,
        "out": len(starts_r),  # square input, symmetric rule: as many rows as columns
        "starts": starts_r.tolist(),
        "centres": centres,
        "window": (c0 * cell, r0 * cell, k * cell, k * cell),
        "step": step,
    }


def formula_text(n: int, k: int, stride: int, padding) -> str:
    """The output-size formula written out with numbers, as the explorer shows it.

    Examples
    --------
    >>> formula_text(7, 3, 2, "same"), formula_text(7, 3, 2, 1)
    ('ceil(7/2) = 4', 'floor((7 + 2*1 - 3)/2) + 1 = 4')
    """
    if padding == "same":
        return f"ceil({n}/{stride}) = {output_size(n, k, stride, 'same')}"
    p = 0 if padding == "valid" else int(padding)
    return f"floor(({n} + 2*{p} - {k})/{stride}) + 1 = {output_size(n, k, stride, p)}"


class StridePaddingExplorer(ImageExplorer):
    """Stride and padding explorer: how the window walks, where padding sits, output sizes.

    Parameters
    ----------
    images : dict of name to (H, W) array, or one array, optional
        The image the settings are applied to (right panel). Default: the
        phantom and, when present, a real training X-ray.
    n : int
        Side of the small input (3 to 12).
    k : int
        Window side (1 to 7).
    stride : int
        1 to 4.
    padding : {"valid", "same", 1, 2}
    step : int
        Highlighted window position, row-major (the page clamps it).

    Attributes
    ----------
    controls : dict
        ``image`` (Dropdown), ``n``, ``k``, ``stride`` (IntSliders), ``padding``
        (ToggleButtons), ``step`` (IntSlider).

    Examples
    --------
    >>> import numpy as np
    >>> ex = StridePaddingExplorer(np.zeros((32, 32)), padding="same", stride=2)
    >>> ex.reference()["formula_text"]
    'ceil(7/2) = 4'
    """

    _esm = load_esm("stride_padding")

    n = traitlets.Int(7, min=3, max=12).tag(sync=True)
    k = traitlets.Int(3, min=1, max=7).tag(sync=True)
    stride = traitlets.Int(1, min=1, max=4).tag(sync=True)
    padding = traitlets.Enum(PADDINGS, default_value="valid")
    padding_index = traitlets.Int(0).tag(sync=True)
    step = traitlets.Int(0, min=0).tag(sync=True)

    @traitlets.validate("padding")
    def _check_padding(self, proposal):
        value = proposal["value"]
        if isinstance(value, bool):  # True == 1 would pass the Enum
            raise traitlets.TraitError(
                f"padding must be one of {PADDINGS}, got {value!r}"
            )
        return value

    def __init__(
        self,
        images=None,
        *,
        n: int = 7,
        k: int = 3,
        stride: int = 1,
        padding="valid",
        step: int = 0,
    ):
        style = {"description_width": "initial"}
        controls = {
            "n": ipywidgets.IntSlider(min=3, max=12, description="input n"),
            "k": ipywidgets.IntSlider(min=1, max=7, description="kernel k"),
            "stride": ipywidgets.IntSlider(min=1, max=4, description="stride"),
            "padding": ipywidgets.ToggleButtons(
                options=[(str(p), p) for p in PADDINGS],
                description="padding",
                style={**style, "button_width": "60px"},
            ),
            "step": ipywidgets.IntSlider(min=0, max=143, description="position"),
        }
        super().__init__(
            controls,
            images=images,
            rows=[["n", "k", "stride"], ["padding", "step"], ["image"]],
            n=n,
            k=k,
            stride=stride,
            padding=padding,
            step=step,
        )

    def reference(self, dtype=np.float64) -> dict:
        """What the page should show now, computed with :mod:`cnnguide.ops`.

        Parameters
        ----------
        dtype : numpy dtype
            Precision of the reference (the page computes in float64).

        Returns
        -------
        dict
            ``n``, ``k``, ``stride``, ``padding``, ``pads``, ``formula``
            (:func:`cnnguide.ops.output_size` of n), ``formula_text``
            (:func:`formula_text`), ``produced`` (side of ``conv2d`` on an n×n
            input), ``walk`` (:func:`window_walk_picture` at ``step``),
            ``feature_map`` (the chosen image's k×k mean with the same stride and
            padding, from :func:`cnnguide.ops.conv2d`), ``image_formula``
            ((rows, cols) from the formula), ``image``.

        Examples
        --------
        >>> import numpy as np
        >>> ex = StridePaddingExplorer(np.zeros((16, 16)), n=7, k=3, stride=2, padding="same")
        >>> state = ex.reference()
        >>> state["formula"], state["produced"], state["feature_map"].shape
        (4, 4, (8, 8))
        """
        image = self.images_as(dtype)[self.image]
        n, k, stride, padding = self.n, self.k, self.stride, self.padding
        formula = output_size(n, k, stride, padding)
        produced = conv2d(np.zeros((n, n)), np.ones((k, k)), stride, padding).shape[0]
        walk = window_walk_picture(n, k, stride, padding, self.step)
        weight = np.float32(1 / k**2).astype(image.dtype)  # the page's float32 weight
        feature_map = conv2d(
            image, np.full((k, k), weight, image.dtype), stride, padding
        )
        return {
            "n": n,
            "k": k,
            "stride": stride,
            "padding": padding,
            "pads": walk["pads"],
            "formula": formula,
            "formula_text": formula_text(n, k, stride, padding),
            "produced": produced,
            "walk": walk,
            "feature_map": feature_map,
            "image_formula": (
                output_size(image.shape[0], k, stride, padding),
                output_size(image.shape[1], k, stride, padding),
            ),
            "image": self.image,
        }


def stride_padding_small_multiples(
    n: int = 7,
    k: int = 3,
    settings=((1, "valid"), (1, "same"), (2, "valid"), (2, "same")),
    size: float = 2.4,
) -> plt.Figure:
    """Static companion of the stride and padding explorer: window walks for a few settings.

    Each panel shows the n×n input (white), its padding (grey), the first window (orange)
    and the centre of every window position, titled with the output size from the formula
    and the one ``conv2d`` produced.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = stride_padding_small_multiples(); len(fig.axes); plt.close(fig)
    4
    """
    fig, axes = plt.subplots(
        1, len(settings), figsize=(size * len(settings), size + 0.9), squeeze=False
    )
    for ax, (stride, padding) in zip(axes[0], settings, strict=True):
        walk = window_walk_picture(n, k, stride, padding)
        produced = conv2d(np.zeros((n, n)), np.ones((k, k)), stride, padding).shape[0]
        ax.imshow(walk["picture"], interpolation="nearest")
        ax.scatter(walk["centres"][:, 0], walk["centres"][:, 1], s=10, c=WINDOW_COLOUR)
        x, y, w, h = walk["window"]
        ax.add_patch(
            Rectangle((x, y), w, h, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2)
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(
            f"stride {stride}, {padding}\nformula {output_size(n, k, stride, padding)}, produced {produced}",
            fontsize=9,
        )
    fig.suptitle(
        f"A {k}x{k} window on a {n}x{n} input: dots mark each position's centre",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig
