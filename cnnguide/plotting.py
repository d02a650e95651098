"""Small figure helpers shared by the chapters."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["SIGNED_CMAP", "show_images", "show_signed", "signed_limit"]

#: The colour map of every signed map in the book: white at zero, red above,
#: blue below.
SIGNED_CMAP = "RdBu_r"


def signed_limit(*arrays: np.ndarray) -> float:
    """Half-width of a colour range centred on zero that shows every value.

    The largest finite ``|value|`` over all arrays; 1.0 when they are all zero
    (a range must have a width).

    Examples
    --------
    >>> import numpy as np
    >>> signed_limit(np.array([-3.0, 1.0]), np.array([2.0]))
    3.0
    >>> signed_limit(np.zeros(4))
    1.0
    """
    largest = 0.0
    for array in arrays:
        values = np.abs(np.asarray(array, dtype=np.float64))
        values = values[np.isfinite(values)]
        if values.size:
            largest = max(largest, float(values.max()))
    return largest if largest > 0 else 1.0


def show_signed(
    values: np.ndarray,
    ax=None,
    *,
    limit: float | None = None,
    title: str | None = None,
    label: str | None = None,
    colorbar: bool = True,
    **imshow_kwargs,
):
    """Draw a signed (H, W) map: diverging colours centred on zero.

    Zero is always the map's middle colour (white), positive values red and
    negative blue, on the range ``[-limit, +limit]``; a colour bar says what
    the colours mean. Every signed map of the book (kernel weights, feature
    maps, differences) is drawn by this function or by :func:`show_images`
    with ``signed=True``, which calls it.

    Parameters
    ----------
    values : (H, W) array
        The map.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    limit : float, optional
        Half-width of the colour range (default :func:`signed_limit` of
        ``values``: no value is clipped). Values beyond it are clipped.
    title, label : str, optional
        Axes title; colour bar label.
    colorbar : bool
        Add a colour bar to ``ax``'s figure.
    **imshow_kwargs
        Passed to ``imshow`` (``aspect``, ``interpolation``...).

    Returns
    -------
    matplotlib.image.AxesImage

    Examples
    --------
    >>> import numpy as np
    >>> image = show_signed(np.array([[-1.0, 3.0]]), label="response")
    >>> image.get_clim(), float(image.norm(0.0))
    ((-3.0, 3.0), 0.5)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"show_signed draws one (H, W) map, got shape {values.shape}")
    limit = signed_limit(values) if limit is None else float(limit)
    if not limit > 0:
        raise ValueError(f"limit must be positive, got {limit}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    image = ax.imshow(
        values, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, **imshow_kwargs
    )
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    return image


def show_images(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    cmap: str = "gray",
    size: float = 2.0,
    suptitle: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    signed: bool = False,
    label: str | None = None,
):
    """Show images side by side in a grid, without axes.

    Parameters
    ----------
    images : sequence of (H, W) or (H, W, C) arrays, or an (N, H, W[, C]) array
        The images. A trailing channel axis of length 1 is dropped.
    titles : sequence of str, optional
        One title per image.
    ncols : int, optional
        Columns of the grid (default: all images in one row, at most 8).
    cmap : str
        Colour map for single-channel images.
    size : float
        Width and height of each panel in inches.
    suptitle : str, optional
        Title over the whole figure.
    vmin, vmax : float, optional
        Shared intensity limits; by default each panel is scaled to its own range.
    signed : bool
        Signed maps: every panel drawn by :func:`show_signed` on one range
        centred on zero (``[-vmax, vmax]``, default :func:`signed_limit` of all
        panels), with one colour bar for the figure; ``cmap`` and ``vmin`` are
        not used.
    label : str, optional
        The colour bar's label (with ``signed=True``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = show_images(np.zeros((3, 8, 8), dtype=np.uint8), ["a", "b", "c"])
    >>> len(fig.axes)
    3
    >>> fig = show_images([np.eye(3) - 0.5, np.eye(3)], signed=True)
    >>> [ax.images[0].get_clim() for ax in fig.axes[:2]]
    [(-1.0, 1.0), (-1.0, 1.0)]
    """
    images = [np.asarray(image) for image in images]
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = ncols or min(len(images), 8)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
        squeeze=False,
    )
    images = [i[..., 0] if i.ndim == 3 and i.shape[-1] == 1 else i for i in images]
    limit = (vmax if vmax is not None else signed_limit(*images)) if signed else None
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        if signed:
            drawn = show_signed(image, ax=ax, limit=limit, colorbar=False)
        else:
            ax.imshow(
                image, cmap=cmap if image.ndim == 2 else None, vmin=vmin, vmax=vmax
            )
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    if signed:
        fig.colorbar(drawn, ax=axes, fraction=0.03, pad=0.02, label=label)
    return fig
