"""Images as numbers: normalisation, greyscale, tensor layout and small pixel figures.

The chapter *Images as numbers* narrates these helpers; later chapters reuse them
whenever pixels are scaled, stacked into a batch or shown as numbers.

Conventions: images are ``(H, W)`` (greyscale) or ``(H, W, 3)`` (RGB) arrays; a batch
is ``(N, H, W)`` or, once it has a channel axis, ``(N, H, W, C)`` ("channels last", the
Keras default). ``uint8`` pixels run from 0 (darkest) to 255 (lightest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from cnnguide.plotting import SIGNED_CMAP, signed_limit

__all__ = [
    "BT601_WEIGHTS",
    "as_model_input",
    "channels_first_to_last",
    "channels_last_to_first",
    "mean_normalize",
    "region_statistics",
    "min_max_normalize",
    "rgb_to_grey",
    "show_colour_swatches",
    "show_pixel_values",
    "show_rgb_planes",
    "standardize",
    "summary",
    "to_tensor",
    "window",
]

#: Luma weights of ITU-R BT.601 (the ones Pillow's ``convert("L")`` uses) for R, G, B.
BT601_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def _as_float(x, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.size == 0:
        raise ValueError(f"{name} is empty: pass an array with at least one pixel")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    return array.astype(np.float32)


def min_max_normalize(
    x,
    new_min: float = 0.0,
    new_max: float = 1.0,
    *,
    data_min: float | None = None,
    data_max: float | None = None,
) -> np.ndarray:
    """Rescale values linearly so that ``data_min -> new_min`` and ``data_max -> new_max``.

    ``x' = new_min + (x - data_min) * (new_max - new_min) / (data_max - data_min)``.

    Parameters
    ----------
    x : array_like
        Pixels of any shape and numeric dtype.
    new_min, new_max : float
        The target range, ``(0, 1)`` by default; ``(-1, 1)`` is the other common choice.
    data_min, data_max : float, optional
        The source range. By default the array's own minimum and maximum; pass
        ``0`` and ``255`` to scale 8-bit images by their *possible* range, so that every
        image is scaled the same way (what a network wants).

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``x``. A constant array (zero range) maps to ``new_min``.

    Examples
    --------
    >>> min_max_normalize(np.array([0, 51, 255], dtype=np.uint8), data_min=0, data_max=255)
    array([0. , 0.2, 1. ], dtype=float32)
    >>> min_max_normalize([10, 20, 30], -1, 1)
    array([-1.,  0.,  1.], dtype=float32)
    """
    array = _as_float(x, "x")
    if new_max <= new_min:
        raise ValueError(f"new_max ({new_max}) must be larger than new_min ({new_min})")
    low = float(array.min()) if data_min is None else float(data_min)
    high = float(array.max()) if data_max is None else float(data_max)
    if high < low:
        raise ValueError(f"data_max ({high}) is below data_min ({low})")
    if high == low:
        return np.full(array.shape, new_min, dtype=np.float32)
    scaled = (array - low) / (high - low)
    return (new_min + scaled * (new_max - new_min)).astype(np.float32)


def mean_normalize(x) -> np.ndarray:
    """Mean normalisation: ``(x - mean) / (max - min)``.

    The result has mean 0 and a range of width 1 that lies inside ``[-1, 1]``.

    Examples
    --------
    >>> mean_normalize([0, 1, 2, 5])
    array([-0.4, -0.2,  0. ,  0.6], dtype=float32)
    """
    array = _as_float(x, "x")
    spread = float(array.max() - array.min())
    centred = array - array.mean(dtype=np.float64)
    if spread == 0:
        return np.zeros(array.shape, dtype=np.float32)
    return (centred / spread).astype(np.float32)


def standardize(x, mean: float | None = None, std: float | None = None) -> np.ndarray:
    """Standardisation (z-score): ``(x - mean) / std``.

    Parameters
    ----------
    x : array_like
        Pixels.
    mean, std : float, optional
        Statistics to use; by default those of ``x``. Pass the *training set's*
        statistics when you standardise validation and test images, so that every
        split is shifted and scaled the same way.

    Returns
    -------
    numpy.ndarray
        float32; mean 0 and standard deviation 1 when the statistics are ``x``'s own.

    Examples
    --------
    >>> standardize([1, 2, 3]).round(4)
    array([-1.2247,  0.    ,  1.2247], dtype=float32)
    """
    array = _as_float(x, "x")
    mean = float(array.mean(dtype=np.float64)) if mean is None else float(mean)
    std = float(array.std(dtype=np.float64)) if std is None else float(std)
    if std <= 0:
        raise ValueError(
            f"std must be positive, got {std}: a constant image cannot be standardised"
        )
    return ((array - mean) / std).astype(np.float32)


def rgb_to_grey(rgb, weights: Sequence[float] = BT601_WEIGHTS) -> np.ndarray:
    """Convert ``(..., 3)`` RGB to greyscale with a weighted sum of the planes.

    The default weights are ITU-R BT.601's (0.299, 0.587, 0.114): green counts most
    because the eye is most sensitive to it.

    Returns
    -------
    numpy.ndarray
        ``(...)`` array: uint8 (rounded) for uint8 input, float32 otherwise.

    Examples
    --------
    >>> rgb_to_grey(np.array([[[255, 0, 0], [0, 255, 0], [255, 255, 255]]], dtype=np.uint8))
    array([[ 76, 150, 255]], dtype=uint8)
    """
    array = np.asarray(rgb)
    if array.ndim < 3 or array.shape[-1] != 3:
        raise ValueError(
            f"rgb must have a last axis of length 3 (R, G, B), got shape {array.shape}"
        )
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (3,):
        raise ValueError(
            f"weights must be three numbers (R, G, B), got {weights.tolist()}"
        )
    grey = array.astype(np.float64) @ weights
    if array.dtype == np.uint8:
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return grey.astype(np.float32)


def as_model_input(images) -> np.ndarray:
    """Images as the ``(N, H, W, C)`` float32 batch every model of the book takes.

    The one converter of the package: the training loop, the prediction service,
    the edge export, Grad-CAM and the feature-map views all go through it.

    * uint8 pixels are divided by 255, uint16 pixels by 65535 (the full 16-bit
      range of a radiograph, not clipped at 255);
    * float images are taken to be in ``[0, 1]`` already and kept (as float32);
    * any other dtype (bool, int8, int32, ...) is refused: its scale is unknown,
      and dividing it by 255 would silently give a wrong image.

    Parameters
    ----------
    images : array_like
        One ``(H, W)`` image, a ``(N, H, W)`` stack, or an ``(N, H, W, C)`` batch.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, 1)`` float32 for greyscale input; a 4-D batch keeps its ``C``.

    Raises
    ------
    TypeError
        A dtype other than uint8, uint16 or float.
    ValueError
        A shape other than those above, or float values outside ``[0, 1]``.

    Examples
    --------
    >>> as_model_input(np.full((28, 28), 255, np.uint8)).shape
    (1, 28, 28, 1)
    >>> float(as_model_input(np.full((2, 4, 4), 65535, np.uint16)).max())
    1.0
    >>> as_model_input(np.zeros((2, 4, 4, 1), np.float64)).dtype
    dtype('float32')
    >>> as_model_input(np.zeros((1, 4, 4), np.int32))
    Traceback (most recent call last):
    ...
    TypeError: images have dtype int32, whose scale is unknown; pass uint8 (0-255), uint16 (0-65535) or float in [0, 1]
    """
    array = np.asarray(images)
    if array.dtype == np.uint8:
        out = array.astype(np.float32) / np.float32(255)
    elif array.dtype == np.uint16:
        out = array.astype(np.float32) / np.float32(65535)
    elif np.issubdtype(array.dtype, np.floating):
        out = array.astype(np.float32, copy=False)
        if out.size and not (np.nanmin(out) >= -1e-6 and np.nanmax(out) <= 1 + 1e-6):
            raise ValueError(
                f"float images must lie in [0, 1], got values from "
                f"{float(np.nanmin(out)):g} to {float(np.nanmax(out)):g}; pass uint8 "
                "0-255 as uint8, or divide by the maximum first"
            )
        if np.isnan(out).any():
            raise ValueError("images contain NaN; replace the missing pixels first")
    else:
        raise TypeError(
            f"images have dtype {array.dtype}, whose scale is unknown; pass uint8 "
            "(0-255), uint16 (0-65535) or float in [0, 1]"
        )
    if out.ndim == 2:
        out = out[np.newaxis, :, :, np.newaxis]
    elif out.ndim == 3:
        out = out[..., np.newaxis]
    elif out.ndim != 4:
        raise ValueError(
            f"images must be (H, W), (N, H, W) or (N, H, W, C), got shape {array.shape}"
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def window(pixels, level: float, width: float) -> np.ndarray:
    """Map raw detector values to 8-bit grey through a window (level and width).

    Radiographs are stored with 12 to 16 bits per pixel, far more grey levels
    than a screen (or PneumoniaMNIST's ``uint8``) shows. A viewer picks a
    *window*: values below ``level - width / 2`` become black (0), values above
    ``level + width / 2`` white (255), and the range between is spread
    linearly over the 256 levels. A narrow window shows more contrast in the
    tissues it covers and clips everything else. (This is the linear window of
    the DICOM standard, up to its half-pixel offsets.)

    Parameters
    ----------
    pixels : array_like of numbers
        Raw values, e.g. ``uint16`` of a 12-bit detector (0 to 4095).
    level : float
        Centre of the window, in the same units.
    width : float
        Width of the window (> 0).

    Returns
    -------
    numpy.ndarray
        ``uint8``, same shape.

    Examples
    --------
    >>> raw = np.array([0, 1000, 1500, 2000, 4095], dtype=np.uint16)
    >>> window(raw, level=1500, width=1000).tolist()
    [0, 0, 128, 255, 255]
    """
    if not width > 0:
        raise ValueError(f"window width must be positive, got {width!r}")
    x = _as_float(pixels, "pixels").astype(np.float64)
    scaled = (x - (level - width / 2)) / width
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def to_tensor(images, *, channels: int | None = None) -> np.ndarray:
    """Stack images into a ``(N, H, W, C)`` float32 tensor, the layout Keras expects.

    Parameters
    ----------
    images : array_like
        ``(N, H, W)`` greyscale images (a channel axis of length 1 is added) or an
        ``(N, H, W, C)`` batch, converted by :func:`as_model_input`.
    channels : int, optional
        When given, the number of channels the result must have.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, C)`` float32.

    Examples
    --------
    >>> to_tensor(np.zeros((32, 28, 28), dtype=np.uint8)).shape
    (32, 28, 28, 1)
    >>> float(to_tensor(np.full((1, 2, 2), 255, dtype=np.uint8)).max())
    1.0
    """
    array = np.asarray(images)
    if array.ndim not in (3, 4):
        raise ValueError(
            f"images must be (N, H, W) or (N, H, W, C), got shape {array.shape}; "
            "add a batch axis with images[np.newaxis] for a single image"
        )
    tensor = as_model_input(array)
    if channels is not None and tensor.shape[-1] != channels:
        raise ValueError(
            f"expected {channels} channel(s), got {tensor.shape[-1]} (shape {array.shape})"
        )
    return tensor


def channels_first_to_last(x) -> np.ndarray:
    """Move the channel axis from ``(..., C, H, W)`` to ``(..., H, W, C)``.

    PyTorch stores images channels-first; Keras (by default) channels-last.

    Examples
    --------
    >>> channels_first_to_last(np.zeros((8, 3, 32, 24))).shape
    (8, 32, 24, 3)
    """
    array = np.asarray(x)
    if array.ndim < 3:
        raise ValueError(f"need at least (C, H, W), got shape {array.shape}")
    return np.moveaxis(array, -3, -1)


def channels_last_to_first(x) -> np.ndarray:
    """Move the channel axis from ``(..., H, W, C)`` to ``(..., C, H, W)``.

    Examples
    --------
    >>> channels_last_to_first(np.zeros((8, 32, 24, 3))).shape
    (8, 3, 32, 24)
    """
    array = np.asarray(x)
    if array.ndim < 3:
        raise ValueError(f"need at least (H, W, C), got shape {array.shape}")
    return np.moveaxis(array, -1, -3)


def summary(x) -> dict[str, object]:
    """Shape, dtype and the basic statistics of an array, rounded for printing.

    Examples
    --------
    >>> summary(np.array([0, 255], dtype=np.uint8))["max"]
    255.0
    """
    array = np.asarray(x)
    values = array.astype(np.float64)
    return {
        "shape": tuple(array.shape),
        "dtype": str(array.dtype),
        "min": round(float(values.min()), 4),
        "max": round(float(values.max()), 4),
        "mean": round(float(values.mean()), 4),
        "std": round(float(values.std()), 4),
    }


def region_statistics(images, *, border: int = 2, centre: int = 8) -> dict:
    """Simple measurements of each image that a network could use as a shortcut.

    Parameters
    ----------
    images : array, shape (N, H, W) or (N, H, W, 1)
        Greyscale images (any dtype; measured as float64 grey levels).
    border : int
        Width in pixels of the frame measured by ``"border"``: on a chest film
        mostly outside the body (collimation, labels, the detector's edge).
    centre : int
        Side of the central square measured by ``"centre patch"``: the
        mediastinum and spine, between the lungs.

    Returns
    -------
    dict of str to (N,) float64
        ``"mean brightness"``, ``"contrast (sd)"`` (the standard deviation of
        the image's pixels), ``"centre patch"`` and ``"border"`` (their means).

    Examples
    --------
    >>> x = np.zeros((1, 8, 8)); x[0, 3:5, 3:5] = 4.0
    >>> {k: float(v[0]) for k, v in region_statistics(x, border=1, centre=2).items()}
    {'mean brightness': 0.25, 'contrast (sd)': 0.9682458365518543, 'centre patch': 4.0, 'border': 0.0}
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {x.shape}")
    n, h, w = x.shape
    if not (0 < border < min(h, w) // 2 and 0 < centre <= min(h, w)):
        raise ValueError(
            f"border {border} and centre {centre} do not fit {h}x{w} images"
        )
    inner = np.zeros((h, w), bool)
    inner[border : h - border, border : w - border] = True
    top, left = (h - centre) // 2, (w - centre) // 2
    flat = x.reshape(n, -1)
    return {
        "mean brightness": flat.mean(axis=1),
        "contrast (sd)": flat.std(axis=1),
        "centre patch": x[:, top : top + centre, left : left + centre].mean(
            axis=(1, 2)
        ),
        "border": x[:, ~inner].mean(axis=1),
    }


def _text_colour(value: float, low: float, high: float) -> str:
    middle = (low + high) / 2
    return "black" if value > middle else "white"


def show_pixel_values(
    image,
    *,
    ax=None,
    fmt: str | None = None,
    cmap: str = "gray",
    vmin: float | None = 0,
    vmax: float | None = 255,
    fontsize: float = 8,
    signed: bool = False,
):
    """Draw a small image as a heatmap with every pixel's value written in its cell.

    Parameters
    ----------
    image : (H, W) array
        A small crop (up to about 16 x 16, or the numbers become unreadable).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    fmt : str, optional
        Format of the numbers; ``"d"`` for integers, ``".2f"`` for floats by default.
    cmap, vmin, vmax
        Colour map and its limits (``0`` and ``255`` by default: the full 8-bit range).
    signed : bool
        Signed values (weights, responses): the book's diverging map
        (:data:`cnnguide.plotting.SIGNED_CMAP`) on ``[-vmax, vmax]``, centred on
        zero (``vmax=None``: the largest ``|value|``); ``cmap`` and ``vmin`` are
        not used.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = show_pixel_values(np.arange(16, dtype=np.uint8).reshape(4, 4))
    >>> len(fig.axes[0].texts)
    16
    >>> fig = show_pixel_values(np.array([[-1.0, 0.5]]), signed=True, vmax=None)
    >>> fig.axes[0].images[0].get_clim()
    (-1.0, 1.0)
    """
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"image must be (H, W), got shape {array.shape}")
    if array.size > 1024:
        raise ValueError(
            f"image has {array.size} pixels: crop it to at most 32 x 32 first"
        )
    if fmt is None:
        fmt = "d" if np.issubdtype(array.dtype, np.integer) else ".2f"
    if ax is None:
        side = max(2.5, 0.42 * max(array.shape))
        fig, ax = plt.subplots(figsize=(side, side))
    else:
        fig = ax.figure
    if signed:
        high = signed_limit(array) if vmax is None else abs(float(vmax))
        low, cmap = -high, SIGNED_CMAP
    else:
        low = float(array.min()) if vmin is None else vmin
        high = float(array.max()) if vmax is None else vmax
    ax.imshow(array, cmap=cmap, vmin=low, vmax=high)
    for (row, col), value in np.ndenumerate(array):
        ax.text(
            col,
            row,
            format(value.item(), fmt),
            ha="center",
            va="center",
            fontsize=fontsize,
            color=_text_colour(float(value), low, high),
        )
    ax.set_xticks(range(array.shape[1]))
    ax.set_yticks(range(array.shape[0]))
    ax.tick_params(labelsize=7, length=0)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    return fig


def show_rgb_planes(rgb, *, size: float = 2.4, annotate: bool = False):
    """Show an RGB image next to its red, green and blue planes.

    Each plane is drawn in its own colour, from black (0) to full intensity (255).

    Parameters
    ----------
    rgb : (H, W, 3) uint8 array
    size : float
        Width of each panel in inches.
    annotate : bool
        Write each plane's pixel values in the cells (for tiny images).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = show_rgb_planes(np.zeros((4, 4, 3), dtype=np.uint8))
    >>> [ax.get_title() for ax in fig.axes]
    ['RGB image', 'red plane', 'green plane', 'blue plane']
    """
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"rgb must be an (H, W, 3) uint8 array, got {array.shape} {array.dtype}"
        )
    fig, axes = plt.subplots(1, 4, figsize=(4 * size, size + 0.3))
    axes[0].imshow(array)
    axes[0].set_title("RGB image")
    for index, (ax, name) in enumerate(zip(axes[1:], ("red", "green", "blue"))):
        tinted = np.zeros_like(array)
        tinted[..., index] = array[..., index]
        ax.imshow(tinted)
        ax.set_title(f"{name} plane")
        if annotate:
            for (row, col), value in np.ndenumerate(array[..., index]):
                ax.text(
                    col,
                    row,
                    str(int(value)),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if value > 160 else "white",
                )
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_colour_swatches(colours: Mapping[str, Sequence[int]], *, size: float = 1.9):
    """Draw one patch per colour, labelled with its name, RGB triple and hex code.

    Parameters
    ----------
    colours : mapping of name -> (R, G, B)
        Integers in 0..255.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = show_colour_swatches({"black": (0, 0, 0), "white": (255, 255, 255)})
    >>> len(fig.axes)
    2
    """
    if not colours:
        raise ValueError("colours is empty: pass at least one name -> (R, G, B)")
    items = list(colours.items())
    for name, triple in items:
        values = np.asarray(triple)
        if values.shape != (3,) or values.min() < 0 or values.max() > 255:
            raise ValueError(
                f"colour {name!r} must be three integers in 0..255, got {triple}"
            )
    fig, axes = plt.subplots(
        1, len(items), figsize=(size * len(items), size * 1.15), squeeze=False
    )
    for ax, (name, triple) in zip(axes[0], items):
        r, g, b = (int(v) for v in triple)
        ax.imshow(np.array([[[r, g, b]]], dtype=np.uint8), aspect="auto")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"RGB ({r}, {g}, {b})\n#{r:02X}{g:02X}{b:02X}", fontsize=8)
    fig.tight_layout()
    return fig
