"""Small figure helpers shared by the chapters."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


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

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = show_images(np.zeros((3, 8, 8), dtype=np.uint8), ["a", "b", "c"])
    >>> len(fig.axes)
    3
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
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
