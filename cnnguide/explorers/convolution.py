"""Chapter 3: the convolution explorer, computed and drawn in the page.

:class:`ConvolutionExplorer` holds the images (8-bit bytes, synced), every
named kernel of :mod:`cnnguide.kernels` at every size the explorer offers (the
``kernel_bank``), and the parameters as traits: ``image``, ``kernel``,
``size``, ``stride``, ``padding``, the output pixel ``row`` / ``col`` whose
window is shown, and the custom 3×3 weights ``w00`` ... ``w22``. Its ES module
(``static/convolution.js``) convolves and draws: the input with its padding
frame and the window, the feature map with the chosen pixel, the window's
products pixel × weight and their sum. :meth:`ConvolutionExplorer.reference`
is the NumPy answer (:func:`cnnguide.ops.conv2d`) the browser test compares
with, and :func:`convolution_small_multiples` the static twin for print.

Examples
--------
>>> import numpy as np
>>> explorer = ConvolutionExplorer({"square": np.ones((16, 16))})
>>> explorer.stride = 2          # from Python: the slider moves, the page redraws
>>> explorer.reference()["shape"]
(7, 7)
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import traitlets

from cnnguide import kernels as _kernels
from cnnguide.explorers._core import (
    ImageExplorer,
    as_grey_image,
    image_choices,
    load_esm,
    show_array,
)
from cnnguide.ops import conv2d, pad_amounts

__all__ = [
    "CUSTOM_KERNEL",
    "KERNEL_CHOICES",
    "SIZED_KERNELS",
    "ConvolutionExplorer",
    "convolution_small_multiples",
    "explorer_kernel",
    "kernel_bank",
    "separable_factors",
]

CUSTOM_KERNEL = "custom 3x3"
"""Kernel choice that reads the 3×3 grid of editable weights ``w00`` ... ``w22``."""

SIZED_KERNELS = ("identity", "box_blur", "gaussian", "unsharp", "gabor")
"""Kernel families built at the chosen size; the others are fixed 3×3."""

KERNEL_SIZES = tuple(range(1, 16, 2))
"""Sizes the explorer offers for the families with a size (odd, 1 to 15)."""

KERNEL_CHOICES = (*_kernels.kernel_names(), CUSTOM_KERNEL)

WINDOW_COLOUR = "#e4572e"


def explorer_kernel(name: str, size: int = 3, weights=None) -> np.ndarray:
    """The kernel the convolution explorer applies for a choice of name and size.

    Families with a size (identity, box blur, Gaussian, unsharp, Gabor) are built at
    ``size`` (with ``sigma = size / 6`` for the Gaussian-based ones); fixed 3×3 kernels
    ignore it; :data:`CUSTOM_KERNEL` returns ``weights`` as a 3×3 array.

    Examples
    --------
    >>> explorer_kernel("box_blur", 5).shape, explorer_kernel("sobel_x", 7).shape
    ((5, 5), (3, 3))
    """
    if name == CUSTOM_KERNEL:
        kernel = np.asarray(weights, dtype=np.float32)
        if kernel.shape != (3, 3):
            raise ValueError(f"custom weights must be 3x3, got shape {kernel.shape}")
        return kernel
    if name in ("gaussian", "unsharp"):
        return _kernels.get_kernel(name, size=size, sigma=max(size / 6, 0.5))
    if name == "gabor":
        return _kernels.get_kernel(
            name, size=size, sigma=max(size / 6, 0.5), wavelength=max(size / 2, 2.0)
        )
    if name in SIZED_KERNELS:
        return _kernels.get_kernel(name, size=size)
    return _kernels.get_kernel(name)


SEPARABLE_ERROR = 1e-8
"""Largest Frobenius norm of what a kernel's separable form leaves out (see :func:`separable_factors`)."""


def separable_factors(kernel, error: float = SEPARABLE_ERROR) -> list | None:
    """The kernel as a short sum of column x row products, when that is cheaper.

    A k×k kernel that is a sum of r outer products ``u vᵀ`` (a Gaussian or a box
    blur: r = 1) convolves in ``r * 2k`` multiply-adds per pixel instead of ``k²``
    (the page skips zero weights, so the plain way costs the nonzero count),
    a column pass then a row pass. The factors come from the kernel's singular
    value decomposition, keeping terms until what is left has a Frobenius norm of
    at most ``error``; on images in [0, 1] the result then differs from the plain
    convolution by at most ``error * k`` per pixel (1.5e-7 for 15×15), far below
    what a picture shows or the browser test tolerates (1e-5).

    Returns
    -------
    list of (u, v) pairs of float lists, or None
        None when the separable form would not be cheaper.

    Examples
    --------
    >>> from cnnguide import kernels
    >>> len(separable_factors(kernels.box_blur(7))), separable_factors(kernels.identity(7))
    (1, None)
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    u, sigma, vt = np.linalg.svd(kernel)
    left = np.sqrt(np.cumsum((sigma**2)[::-1])[::-1])  # what terms r.. leave out
    rank = next(
        (r for r in range(len(sigma) + 1) if r == len(sigma) or left[r] <= error),
        len(sigma),
    )
    if rank * (kh + kw) >= np.count_nonzero(kernel):  # the page skips zero weights
        return None
    return [
        ([float(x) for x in u[:, r] * sigma[r]], [float(x) for x in vt[r]])
        for r in range(rank)
    ]


def kernel_bank() -> dict:
    """Every named kernel at every offered size, as the page receives it.

    Returns
    -------
    dict
        ``name -> {"sized": bool, "sizes": {"3": {"shape": [3, 3], "weights": [...],
        "factors": [[u, v], ...] or None}}}``; fixed kernels have the one key ``"*"``.
        Weights are the float32 values, row-major; ``factors`` is
        :func:`separable_factors` (the page convolves with it when present).

    Examples
    --------
    >>> bank = kernel_bank()
    >>> bank["sobel_x"]["sizes"]["*"]["weights"][:3], sorted(bank["box_blur"]["sizes"], key=int)[:3]
    ([-1.0, 0.0, 1.0], ['1', '3', '5'])
    """

    def entry(kernel):
        return {
            "shape": list(kernel.shape),
            "weights": [float(v) for v in kernel.ravel()],
            "factors": separable_factors(kernel),
        }

    bank = {}
    for name in _kernels.kernel_names():
        if name in SIZED_KERNELS:
            sizes = {str(s): entry(explorer_kernel(name, s)) for s in KERNEL_SIZES}
            bank[name] = {"sized": True, "sizes": sizes}
        else:
            bank[name] = {"sized": False, "sizes": {"*": entry(explorer_kernel(name))}}
    return bank


def _check_odd_size(proposal):
    size = proposal["value"]
    if size not in KERNEL_SIZES:
        raise traitlets.TraitError(
            f"size must be odd, from 1 to 15 (a kernel needs a centre pixel), got {size!r}"
        )
    return size


class ConvolutionExplorer(ImageExplorer):
    """Convolution explorer: image, kernel (named or a 3×3 grid of weights), size, stride, padding.

    The page shows the input with the current window (orange) and the padding (the
    shaded frame), the feature map with the chosen output pixel, the feature map's
    shape, and the arithmetic at that pixel (products and their sum), as CNN
    Explainer does; click a pixel or use the arrow keys on either picture to move
    the window. A reader can also open a PNG/JPEG of their own: it is read and
    convolved in the page (it stays there; Python does not see it).

    Parameters
    ----------
    images : dict of name to (H, W) array, or one array, optional
        Default: :func:`cnnguide.explorers.default_images` (phantom, plus a real
        training X-ray when the dataset is present). Images travel at 8 bits.
    kernel : str
        One of :func:`cnnguide.kernels.kernel_names` or :data:`CUSTOM_KERNEL`.
    size : int
        Size of the kernel families that have one (odd, 1 to 15).
    stride : int
        1 to 4.
    padding : {"valid", "same"}
    row, col : int
        Output pixel whose window is shown (the page clamps it to the feature map).
    weights : (3, 3) array, optional
        Custom weights (default: Sobel x).

    Attributes
    ----------
    controls : dict
        ``image``, ``kernel`` (Dropdowns), ``size``, ``stride`` (IntSliders),
        ``padding`` (ToggleButtons), ``row``, ``col`` (IntSliders), ``w00`` ...
        ``w22`` (FloatTexts), each jslinked to its trait.

    Examples
    --------
    >>> import numpy as np
    >>> ex = ConvolutionExplorer(np.zeros((20, 30)), kernel="box_blur", size=5)
    >>> ex.padding = "same"; ex.stride = 3
    >>> ex.reference()["shape"], ex.kernel_array.shape
    ((7, 10), (5, 5))
    """

    _esm = load_esm("convolution")

    kernel = traitlets.Enum(KERNEL_CHOICES, default_value="sobel_x")
    kernel_index = traitlets.Int(0).tag(sync=True)
    kernel_bank = traitlets.Dict().tag(sync=True)
    custom_name = traitlets.Unicode(CUSTOM_KERNEL).tag(sync=True)
    size = traitlets.Int(3).tag(sync=True)
    stride = traitlets.Int(1, min=1, max=4).tag(sync=True)
    padding = traitlets.Enum(("valid", "same"), default_value="valid")
    padding_index = traitlets.Int(0).tag(sync=True)
    row = traitlets.Int(0, min=0).tag(sync=True)
    col = traitlets.Int(0, min=0).tag(sync=True)
    w00 = traitlets.Float(-1.0).tag(sync=True)
    w01 = traitlets.Float(0.0).tag(sync=True)
    w02 = traitlets.Float(1.0).tag(sync=True)
    w10 = traitlets.Float(-2.0).tag(sync=True)
    w11 = traitlets.Float(0.0).tag(sync=True)
    w12 = traitlets.Float(2.0).tag(sync=True)
    w20 = traitlets.Float(-1.0).tag(sync=True)
    w21 = traitlets.Float(0.0).tag(sync=True)
    w22 = traitlets.Float(1.0).tag(sync=True)

    @traitlets.validate("size")
    def _check_size(self, proposal):
        return _check_odd_size(proposal)

    def __init__(
        self,
        images=None,
        kernel: str = "sobel_x",
        *,
        size: int = 3,
        stride: int = 1,
        padding: str = "valid",
        row: int = 0,
        col: int = 0,
        weights=None,
    ):
        images = image_choices(images)
        largest = max(max(image.shape) for image in images.values())
        style = {"description_width": "initial"}
        controls = {
            "kernel": ipywidgets.Dropdown(
                options=list(KERNEL_CHOICES), description="kernel", style=style
            ),
            "size": ipywidgets.IntSlider(
                min=1, max=15, step=2, description="size", continuous_update=False
            ),
            "stride": ipywidgets.IntSlider(
                min=1, max=4, description="stride", continuous_update=False
            ),
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
        grid_names = [f"w{i}{j}" for i in range(3) for j in range(3)]
        for name in grid_names:
            controls[name] = ipywidgets.FloatText(
                step=0.5,
                description=f"weight {name[1]},{name[2]}",
                layout=ipywidgets.Layout(width="80px"),
                style={"description_width": "0px"},
            )
        traits = {}
        if weights is not None:
            grid = np.asarray(weights, dtype=float)
            if grid.shape != (3, 3):
                raise ValueError(f"custom weights must be 3x3, got shape {grid.shape}")
            traits = {f"w{i}{j}": float(grid[i, j]) for i in range(3) for j in range(3)}
        grid = ipywidgets.GridBox(
            [controls[name] for name in grid_names],
            layout=ipywidgets.Layout(grid_template_columns="repeat(3, 85px)"),
        )
        rows = [
            ["image", "kernel", "size"],
            ["stride", "padding"],
            ["row", "col"],
            [ipywidgets.HTML(f"<b>{CUSTOM_KERNEL}</b> weights:&nbsp;"), grid],
        ]
        super().__init__(
            controls,
            images=images,
            rows=rows,
            kernel=kernel,
            kernel_bank=kernel_bank(),
            size=size,
            stride=stride,
            padding=padding,
            row=row,
            col=col,
            **traits,
        )

    # ------------------------------------------------------------------ Python views

    @property
    def weights(self) -> np.ndarray:
        """The custom 3×3 weights (float64); assign a 3×3 array to set all nine."""
        return np.array(
            [[getattr(self, f"w{i}{j}") for j in range(3)] for i in range(3)]
        )

    @weights.setter
    def weights(self, grid) -> None:
        grid = np.asarray(grid, dtype=float)
        if grid.shape != (3, 3):
            raise ValueError(f"custom weights must be 3x3, got shape {grid.shape}")
        with self.hold_trait_notifications():
            for i in range(3):
                for j in range(3):
                    setattr(self, f"w{i}{j}", float(grid[i, j]))

    @property
    def kernel_array(self) -> np.ndarray:
        """The kernel the page applies now (float32)."""
        return explorer_kernel(self.kernel, self.size, self.weights)

    def reference(self, dtype=np.float64) -> dict:
        """What the page should show now, computed with :func:`cnnguide.ops.conv2d`.

        Parameters
        ----------
        dtype : numpy dtype
            Precision of the reference (the page computes in float64).

        Returns
        -------
        dict
            ``feature_map`` (H', W') from :func:`cnnguide.ops.conv2d` of the
            chosen image and kernel, ``shape``, ``pads`` ((top, bottom), (left,
            right)), ``row``, ``col`` (clipped to the feature map), ``window``
            (top, left, kh, kw) in input coordinates (negative or beyond the
            edge where it covers padding), ``patch`` and ``products`` (kh, kw),
            ``value`` (their sum), ``kernel`` and ``image`` (the names).

        Examples
        --------
        >>> import numpy as np
        >>> ex = ConvolutionExplorer(np.ones((8, 8)), "box_blur", stride=2, padding="same", row=1, col=1)
        >>> state = ex.reference()
        >>> state["shape"], state["pads"], state["window"], round(float(state["value"]), 6)
        ((4, 4), ((0, 1), (0, 1)), (2, 2, 3, 3), 1.0)
        """
        image = self.images_as(dtype)[self.image]
        kernel = self.kernel_array.astype(dtype)
        stride, padding = self.stride, self.padding
        kh, kw = kernel.shape
        pads = pad_amounts(padding, image.shape, kernel.shape, stride)
        feature_map = conv2d(image, kernel, stride=stride, padding=padding)
        out_h, out_w = feature_map.shape
        row = int(np.clip(self.row, 0, out_h - 1))
        col = int(np.clip(self.col, 0, out_w - 1))
        padded = np.pad(image, pads)
        patch = padded[
            row * stride : row * stride + kh, col * stride : col * stride + kw
        ]
        products = patch * kernel
        return {
            "feature_map": feature_map,
            "shape": (out_h, out_w),
            "pads": pads,
            "row": row,
            "col": col,
            "window": (row * stride - pads[0][0], col * stride - pads[1][0], kh, kw),
            "patch": patch,
            "products": products,
            "value": products.sum(),
            "kernel": self.kernel,
            "image": self.image,
        }

    def show_strongest(self) -> tuple[int, int]:
        """Move the window to the output pixel where the kernel responds most.

        The largest ``|feature map|`` value of the current image, kernel, stride
        and padding (the first one on ties): a page that opens there shows the
        kernel at work on an edge, not on a flat corner whose sum is 0.

        Returns
        -------
        (row, col) : tuple of int
            The new ``row`` and ``col``.

        Examples
        --------
        >>> import numpy as np
        >>> step = np.zeros((9, 9)); step[:, 5:] = 1.0
        >>> ex = ConvolutionExplorer(step, kernel="sobel_x")
        >>> ex.show_strongest()
        (0, 3)
        """
        response = np.abs(self.reference()["feature_map"])
        row, col = np.unravel_index(int(np.argmax(response)), response.shape)
        self.row, self.col = int(row), int(col)
        return self.row, self.col


# --------------------------------------------------------------------------- static twin


def convolution_small_multiples(
    image,
    kernels=("sobel_x", "sobel_y", "laplacian_4", "gaussian_3x3", "sharpen"),
    strides=(1, 2, 4),
    padding: str = "same",
    size: float = 1.9,
) -> plt.Figure:
    """Static companion of the convolution explorer: feature maps for kernels × strides.

    Parameters
    ----------
    image : (H, W) array
    kernels : sequence of str
        Names from :func:`cnnguide.kernels.kernel_names`.
    strides : sequence of int
        One row per stride.
    padding : {"valid", "same"}
    size : float
        Panel side in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The input in the first column, then one feature map per kernel, titled with its shape.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig = convolution_small_multiples(np.random.rand(32, 32), ["sobel_x"], [1, 2])
    >>> len(fig.axes); plt.close(fig)
    4
    """
    image = as_grey_image(image)
    fig, axes = plt.subplots(
        len(strides),
        len(kernels) + 1,
        figsize=(size * (len(kernels) + 1), size * len(strides)),
        squeeze=False,
    )
    for r, stride in enumerate(strides):
        show_array(axes[r, 0], image).set_clim(0, 1)
        axes[r, 0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=8)
        axes[r, 0].set_ylabel(f"stride {stride}", fontsize=9)
        for c, name in enumerate(kernels, start=1):
            fmap = conv2d(
                image, _kernels.get_kernel(name), stride=stride, padding=padding
            )
            show_array(axes[r, c], fmap)
            axes[r, c].set_title(f"{name}\n{fmap.shape[0]}x{fmap.shape[1]}", fontsize=8)
    fig.suptitle(
        f"Feature maps ('{padding}' padding) for several kernels and strides",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig
