"""Named convolution kernels, each with a one-line description of what it detects.

Every kernel is a float32 array of explicit shape ``(kh, kw)``; all kernels here are
*cross-correlation* kernels, the way deep-learning libraries apply them
(:func:`cnnguide.ops.conv2d`): weight ``k[i, j]`` multiplies the pixel ``i`` rows below and
``j`` columns right of the window's top-left corner, with no flip.

Orientation convention: rows grow downwards, columns grow to the right. ``sobel_x`` measures
the change from left to right (a horizontal gradient), so it responds to **vertical** edges;
``sobel_y`` is its transpose and responds to **horizontal** edges.

Two ways in:

- :data:`KERNELS`, a registry ``name -> (array, description)`` of every kernel at its default
  parameters (arrays are read-only);
- :func:`get_kernel` ``(name, **params)``, which builds a fresh, writable kernel, with
  parameters for the families that have them (``box_blur(size)``, ``gaussian(size, sigma)``,
  ``gabor(orientation, wavelength, sigma)``, ...).

The non-linear counterpart of the blurs, the median filter, is :func:`median_filter`; true
unsharp masking of an image is :func:`unsharp_mask`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

__all__ = [
    "KERNELS",
    "box_blur",
    "describe",
    "emboss",
    "gabor",
    "gaussian",
    "get_kernel",
    "high_boost",
    "identity",
    "kernel_names",
    "laplacian",
    "median_filter",
    "prewitt",
    "sharpen",
    "sobel",
    "unsharp_kernel",
    "unsharp_mask",
]


def _as_kernel(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def _check_odd_size(size: int, name: str = "size") -> int:
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or size < 1
        or size % 2 == 0
    ):
        raise ValueError(
            f"{name} must be a positive odd integer (a kernel needs a centre pixel), got {size!r}"
        )
    return int(size)


def identity(size: int = 3) -> np.ndarray:
    """The identity kernel: a single 1 at the centre; the feature map is the image itself.

    Parameters
    ----------
    size : int
        Odd side length.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32.

    Examples
    --------
    >>> identity(3)[1, 1], identity(3).sum()
    (np.float32(1.0), np.float32(1.0))
    """
    size = _check_odd_size(size)
    kernel = np.zeros((size, size), dtype=np.float32)
    kernel[size // 2, size // 2] = 1.0
    return kernel


def sobel(direction: str = "x") -> np.ndarray:
    """Sobel kernel: a derivative across, smoothing (1, 2, 1) along.

    Parameters
    ----------
    direction : {"x", "y"}
        ``"x"``: change from left to right, responds to vertical edges.
        ``"y"``: change from top to bottom, responds to horizontal edges (the transpose).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32.

    Examples
    --------
    >>> sobel("x")[1].tolist()
    [-2.0, 0.0, 2.0]
    >>> bool((sobel("y") == sobel("x").T).all())
    True
    """
    kernel = _as_kernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    if direction == "x":
        return kernel
    if direction == "y":
        return np.ascontiguousarray(kernel.T)
    raise ValueError(f"direction must be 'x' or 'y', got {direction!r}")


def prewitt(direction: str = "x") -> np.ndarray:
    """Prewitt kernel: like Sobel but with equal (1, 1, 1) weights along the edge.

    Same 3×3 cost as Sobel (nine multiply-adds); without the centre emphasis it smooths
    less along the edge.

    Parameters
    ----------
    direction : {"x", "y"}
        ``"x"`` responds to vertical edges, ``"y"`` to horizontal edges.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32.

    Examples
    --------
    >>> prewitt("x")[:, 0].tolist()
    [-1.0, -1.0, -1.0]
    """
    kernel = _as_kernel([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]])
    if direction == "x":
        return kernel
    if direction == "y":
        return np.ascontiguousarray(kernel.T)
    raise ValueError(f"direction must be 'x' or 'y', got {direction!r}")


def laplacian(neighbours: int = 4) -> np.ndarray:
    """Negative Laplacian (centre minus neighbours): responds to edges in every direction.

    It is zero on flat regions and on linear ramps; its response is strongest at thin
    lines and sharp corners. The sign follows the source (positive centre), which is minus
    the mathematical Laplacian.

    Parameters
    ----------
    neighbours : {4, 8}
        4: the four edge-sharing neighbours; 8: the diagonals too.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32 summing to 0.

    Examples
    --------
    >>> laplacian(4).tolist()
    [[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]
    >>> float(laplacian(8).sum())
    0.0
    """
    if neighbours == 4:
        return _as_kernel([[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    if neighbours == 8:
        return _as_kernel([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    raise ValueError(f"neighbours must be 4 or 8, got {neighbours!r}")


def box_blur(size: int = 3) -> np.ndarray:
    """Box blur (mean filter): every pixel becomes the average of its size×size window.

    Parameters
    ----------
    size : int
        Odd side length; 3 gives ``1/9`` times a 3×3 block of ones (three rows of three).

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 summing to 1.

    Examples
    --------
    >>> box_blur(3).shape, round(float(box_blur(3).sum()), 6)
    ((3, 3), 1.0)
    """
    size = _check_odd_size(size)
    return np.full((size, size), 1.0 / (size * size), dtype=np.float32)


def gaussian(size: int | None = None, sigma: float = 1.0) -> np.ndarray:
    """Gaussian blur: a weighted average that favours the centre, normalised to sum 1.

    Parameters
    ----------
    size : int, optional
        Odd side length; default ``2 * ceil(3 * sigma) + 1`` (covers ±3 sigma).
    sigma : float
        Standard deviation in pixels (> 0).

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 summing to 1.

    Examples
    --------
    >>> gaussian(sigma=1.0).shape
    (7, 7)
    >>> k = gaussian(5, 1.0); bool(k[2, 2] == k.max()), round(float(k.sum()), 6)
    (True, 1.0)
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    if size is None:
        size = 2 * math.ceil(3 * sigma) + 1
    size = _check_odd_size(size)
    offsets = np.arange(size, dtype=np.float64) - size // 2
    profile = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel = np.outer(profile, profile)
    return (kernel / kernel.sum()).astype(np.float32)


def binomial_blur() -> np.ndarray:
    """The 3×3 binomial blur ``1/16 [[1,2,1],[2,4,2],[1,2,1]]``, a small Gaussian (sigma ≈ 0.85).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32 summing to 1.

    Examples
    --------
    >>> (binomial_blur() * 16).tolist()[1]
    [2.0, 4.0, 2.0]
    """
    return _as_kernel([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / np.float32(16)


def sharpen() -> np.ndarray:
    """Basic sharpening: identity plus the 4-neighbour Laplacian (centre 5, cross of -1).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32 summing to 1 (flat regions keep their brightness).

    Examples
    --------
    >>> bool((sharpen() == identity(3) + laplacian(4)).all())
    True
    """
    return identity(3) + laplacian(4)


def high_boost(boost: float = 1.0) -> np.ndarray:
    """High-boost (Laplacian) sharpening: ``boost`` × identity plus the 8-neighbour Laplacian.

    With ``boost=1`` this is ``[[-1,-1,-1],[-1,9,-1],[-1,-1,-1]]``, the kernel the source
    calls "unsharp masking". It is unsharp masking with a 3 × 3 box blur and gain 9:
    ``identity + 9 * (identity - box_blur(3))`` (the 8-neighbour Laplacian is
    ``9 * (box_blur(3) - identity)``). The usual unsharp mask blurs with a Gaussian
    and adds a small gain (0.5–2): see :func:`unsharp_kernel` and :func:`unsharp_mask`.

    Parameters
    ----------
    boost : float
        Weight of the original image (>= 0); the sum of the kernel equals ``boost``.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32.

    Examples
    --------
    >>> float(high_boost(1.0)[1, 1])
    9.0
    >>> bool(np.allclose(high_boost(), identity() + 9 * (identity() - box_blur())))
    True
    """
    return (np.float32(boost) * identity(3) + laplacian(8)).astype(np.float32)


def unsharp_kernel(
    sigma: float = 1.0, amount: float = 1.0, size: int | None = None
) -> np.ndarray:
    """The single kernel equivalent to unsharp masking: ``I + amount * (I - G)``.

    ``I`` is the identity and ``G`` the Gaussian of the same size; convolving with this
    kernel equals :func:`unsharp_mask` (with the same padding) because convolution is linear.

    Parameters
    ----------
    sigma : float
        Blur of the subtracted copy, in pixels.
    amount : float
        How much of the detail (image minus blur) is added back.
    size : int, optional
        Odd side length; default as in :func:`gaussian`.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 summing to 1.

    Examples
    --------
    >>> k = unsharp_kernel(1.0, 1.0, size=3); round(float(k.sum()), 6)
    1.0
    """
    blur = gaussian(size, sigma)
    ident = identity(blur.shape[0])
    return (ident + np.float32(amount) * (ident - blur)).astype(np.float32)


def emboss() -> np.ndarray:
    """Emboss: a diagonal derivative plus the pixel itself, giving a lit-from-the-top-left relief.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float32 summing to 1.

    Examples
    --------
    >>> emboss()[0].tolist()
    [-2.0, -1.0, 0.0]
    """
    return _as_kernel([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def gabor(
    orientation: float = 0.0,
    wavelength: float = 4.0,
    sigma: float = 2.0,
    size: int | None = None,
    aspect: float = 0.5,
    phase: float = 0.0,
) -> np.ndarray:
    """Gabor kernel: a cosine wave under a Gaussian envelope; detects stripes and edges at one angle.

    ``g(x, y) = exp(-(x'^2 + aspect^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + phase)``
    with ``x' = x cos(t) + y sin(t)``, ``y' = -x sin(t) + y cos(t)``. The mean is subtracted so
    that flat regions give 0 (the kernel answers to texture, not to brightness).

    Parameters
    ----------
    orientation : float
        Angle ``t`` in degrees of the wave's direction of variation; 0 varies along x, so it
        responds to vertical stripes and edges; 90 responds to horizontal ones. Rows point
        down, so positive angles turn clockwise on screen.
    wavelength : float
        Period of the cosine, in pixels (> 0).
    sigma : float
        Width of the Gaussian envelope, in pixels (> 0).
    size : int, optional
        Odd side length; default ``2 * ceil(3 * sigma) + 1``.
    aspect : float
        Spatial aspect ratio (how elongated the envelope is along the stripes).
    phase : float
        Phase offset in radians (0: even, line-like; pi/2: odd, edge-like).

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 with zero mean.

    Examples
    --------
    >>> k = gabor(0, wavelength=4, sigma=2); k.shape, abs(float(k.sum())) < 1e-5
    ((13, 13), True)
    """
    if not wavelength > 0 or not sigma > 0:
        raise ValueError(
            f"wavelength and sigma must be > 0, got {wavelength!r} and {sigma!r}"
        )
    if size is None:
        size = 2 * math.ceil(3 * sigma) + 1
    size = _check_odd_size(size)
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    theta = np.deg2rad(orientation)
    x_rot = x * np.cos(theta) + y * np.sin(theta)
    y_rot = -x * np.sin(theta) + y * np.cos(theta)
    envelope = np.exp(-(x_rot**2 + aspect**2 * y_rot**2) / (2 * sigma**2))
    kernel = envelope * np.cos(2 * np.pi * x_rot / wavelength + phase)
    kernel -= kernel.mean()
    return kernel.astype(np.float32)


# name -> (factory, description). The factory takes the family's parameters as keywords.
_FACTORIES: dict[str, tuple[Callable[..., np.ndarray], str]] = {
    "identity": (
        identity,
        "Identity: copies the image unchanged (the reference for every other kernel).",
    ),
    "sobel_x": (
        lambda: sobel("x"),
        "Sobel x: left-to-right change, responds to vertical edges, with (1,2,1) smoothing along them.",
    ),
    "sobel_y": (
        lambda: sobel("y"),
        "Sobel y: top-to-bottom change, responds to horizontal edges, with (1,2,1) smoothing along them.",
    ),
    "prewitt_x": (
        lambda: prewitt("x"),
        "Prewitt x: left-to-right change, responds to vertical edges, equal weights (less smoothing than Sobel).",
    ),
    "prewitt_y": (
        lambda: prewitt("y"),
        "Prewitt y: top-to-bottom change, responds to horizontal edges, equal weights (less smoothing than Sobel).",
    ),
    "laplacian_4": (
        lambda: laplacian(4),
        "Laplacian (4-neighbour): second derivative, edges and thin lines in every direction; zero on flat areas.",
    ),
    "laplacian_8": (
        lambda: laplacian(8),
        "Laplacian (8-neighbour): second derivative including diagonals; stronger, more isotropic, noisier.",
    ),
    "box_blur": (
        box_blur,
        "Box blur: mean of the window; removes fine detail and noise, blurs edges evenly.",
    ),
    "gaussian_3x3": (
        binomial_blur,
        "Gaussian 3x3 (binomial 1/16): weighted mean favouring the centre; gentle smoothing.",
    ),
    "gaussian": (
        gaussian,
        "Gaussian blur: weighted mean with a bell-shaped profile; smooths noise while keeping structure.",
    ),
    "sharpen": (
        sharpen,
        "Sharpen: identity plus 4-neighbour Laplacian; boosts local contrast at edges.",
    ),
    "high_boost": (
        high_boost,
        "High-boost: identity plus 8-neighbour Laplacian (the source's 'unsharp' kernel); strong sharpening.",
    ),
    "unsharp": (
        unsharp_kernel,
        "Unsharp masking: image plus amount x (image - Gaussian blur); sharpens at the blur's scale.",
    ),
    "emboss": (
        emboss,
        "Emboss: diagonal derivative plus the pixel; relief effect, highlights edges facing top-left/bottom-right.",
    ),
    "gabor": (
        gabor,
        "Gabor: oriented wave in a Gaussian window; stripes, textures and edges at one angle and scale.",
    ),
}


def kernel_names() -> list[str]:
    """Names accepted by :func:`get_kernel`, in teaching order.

    Examples
    --------
    >>> "sobel_x" in kernel_names()
    True
    """
    return list(_FACTORIES)


def get_kernel(name: str, **params) -> np.ndarray:
    """Build the named kernel, passing ``params`` to its family.

    Parameters
    ----------
    name : str
        One of :func:`kernel_names`.
    **params
        Family parameters: ``identity(size)``, ``box_blur(size)``, ``gaussian(size, sigma)``,
        ``high_boost(boost)``, ``unsharp(sigma, amount, size)``,
        ``gabor(orientation, wavelength, sigma, size, aspect, phase)``; fixed kernels take none.

    Returns
    -------
    numpy.ndarray
        A new float32 ``(kh, kw)`` array.

    Examples
    --------
    >>> get_kernel("box_blur", size=5).shape
    (5, 5)
    >>> get_kernel("gabor", orientation=45, wavelength=6, sigma=2).dtype
    dtype('float32')
    """
    if name not in _FACTORIES:
        raise KeyError(
            f"unknown kernel {name!r}; choose one of {', '.join(_FACTORIES)}"
        )
    factory, _ = _FACTORIES[name]
    try:
        kernel = factory(**params)
    except TypeError as error:
        raise TypeError(
            f"kernel {name!r} does not take parameters {sorted(params)}: {error}"
        ) from None
    return np.array(kernel, dtype=np.float32)


def describe(name: str) -> str:
    """One-line description of what the named kernel detects.

    Examples
    --------
    >>> describe("sobel_x").startswith("Sobel x")
    True
    """
    if name not in _FACTORIES:
        raise KeyError(
            f"unknown kernel {name!r}; choose one of {', '.join(_FACTORIES)}"
        )
    return _FACTORIES[name][1]


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float32)
    array.setflags(write=False)
    return array


KERNELS: dict[str, tuple[np.ndarray, str]] = {
    name: (_frozen(factory()), description)
    for name, (factory, description) in _FACTORIES.items()
}
"""Every named kernel at its default parameters: ``name -> (read-only float32 array, description)``."""


def median_filter(image: np.ndarray, size: int = 3) -> np.ndarray:
    """Median filter, the non-linear counterpart of the blurs: each pixel becomes its window's median.

    No kernel can do this (a median is not a weighted sum); it removes isolated outliers
    (salt-and-pepper noise) while keeping edges sharp. Borders are reflected.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` image.
    size : int
        Odd window side.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1.0
    >>> float(median_filter(img, 3).max())
    0.0
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(
            f"median_filter expects an (H, W) image, got shape {image.shape}"
        )
    size = _check_odd_size(size)
    return ndimage.median_filter(image.astype(np.float32), size=size, mode="reflect")


def unsharp_mask(
    image: np.ndarray, sigma: float = 1.0, amount: float = 1.0, size: int | None = None
) -> np.ndarray:
    """True unsharp masking: ``image + amount * (image - gaussian_blur(image))``.

    The blurred copy is computed with :func:`cnnguide.ops.conv2d` ('same' output size, borders
    reflected), so the result equals ``conv2d(image, unsharp_kernel(sigma, amount, size),
    padding="same", pad_mode="reflect")`` up to rounding.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` float image.
    sigma : float
        Blur of the subtracted copy, in pixels.
    amount : float
        Strength of the sharpening.
    size : int, optional
        Odd side length of the Gaussian; default as in :func:`gaussian`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32 (not clipped).

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((8, 8), 0.5, np.float32)
    >>> bool(np.allclose(unsharp_mask(flat, 1.0, 2.0), flat))
    True
    """
    from cnnguide.ops import conv2d  # local import: ops does not depend on kernels

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(
            f"unsharp_mask expects an (H, W) image, got shape {image.shape}"
        )
    blurred = conv2d(image, gaussian(size, sigma), padding="same", pad_mode="reflect")
    return (image + np.float32(amount) * (image - blurred)).astype(np.float32)
