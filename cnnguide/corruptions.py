"""Acquisition-style corruptions of X-ray films: a shifted copy of a split.

When a validation split is saturated (every candidate model ranks it almost
perfectly), it cannot tell candidates apart. A *shifted* copy of the same
validation films, each changed the way another scanner, exposure or patient
position would change it, is harder and still contains no test film. This
module makes that copy, in the style of ImageNet-C (Hendrycks & Dietterich
2019) and MedMNIST-C (Di Salvo et al. 2024): six corruptions, each at five
severities, applied with a fixed seed.

The corruptions are written here by hand (NumPy and ``scipy.ndimage``): they
are short, the book teaches what each one does to a film, and the severities
are chosen for 28-pixel films. Severities are in :data:`SEVERITIES`; the
parameter of severity ``s`` is ``SEVERITIES[name][s - 1]``:

============  ==========================================================
contrast      factor ``f``: ``m + f (x - m)``, ``m`` the film's mean
gamma         exponent ``g`` or ``1/g`` (drawn per film): ``x ** g``
brightness    shift ``± b`` (drawn per film), on the 0-1 scale
blur          Gaussian blur of standard deviation ``σ`` pixels at 28 px
              (scaled with the film's side)
noise         Gaussian noise of standard deviation ``σ`` on the 0-1 scale
affine        rotation ``± r`` degrees, zoom ``1 ± z``, shift ``± t`` of
              the side (signs drawn per film); borders repeat the edge
============  ==========================================================

Every function returns new uint8 films of the input's shape; the input is not
changed. Labels are untouched, so prevalence stays that of the split.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["SEVERITIES", "corrupt", "shifted_copy"]

#: Parameter of each corruption at severities 1 to 5 (see the module's table).
SEVERITIES: dict[str, tuple] = {
    "contrast": (0.8, 0.65, 0.5, 0.4, 0.3),
    "gamma": (1.2, 1.4, 1.7, 2.0, 2.5),
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
    "blur": (0.4, 0.6, 0.8, 1.0, 1.3),
    "noise": (0.02, 0.04, 0.06, 0.09, 0.12),
    # (rotation in degrees, zoom change, shift as a share of the side)
    "affine": (
        (3.0, 0.02, 0.02),
        (6.0, 0.04, 0.03),
        (9.0, 0.06, 0.05),
        (12.0, 0.08, 0.06),
        (15.0, 0.10, 0.08),
    ),
}


def _as_unit(images) -> tuple[np.ndarray, tuple]:
    """``(N, H, W)`` float64 films in [0, 1] and the input's shape."""
    x = np.asarray(images)
    shape = x.shape
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(
            f"expected greyscale films of shape (N, H, W) or (N, H, W, 1), got "
            f"{shape}; pass a batch (add an axis for one film)"
        )
    if x.dtype == np.uint8:
        return x / 255.0, shape
    if np.issubdtype(x.dtype, np.floating):
        if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1 or np.isnan(x).any()):
            raise ValueError(
                "float films must lie in [0, 1]; scale them (uint8 / 255) first"
            )
        return x.astype(np.float64), shape
    raise ValueError(f"films must be uint8 or float in [0, 1], got {x.dtype}")


def _to_uint8(x: np.ndarray, shape: tuple) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8).reshape(shape)


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=n)


def _affine(film: np.ndarray, rotate: float, zoom: float, shift: float) -> np.ndarray:
    """Rotate (degrees) and zoom about the centre, then shift (pixels, rows and cols)."""
    theta = np.deg2rad(rotate)
    # affine_transform maps output coordinates to input ones: the inverse map
    inverse = (
        np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
        / zoom
    )
    centre = (np.array(film.shape) - 1) / 2
    offset = centre - inverse @ (centre + shift)
    # "nearest" repeats the border: a constant fill would add a black frame
    return ndimage.affine_transform(
        film, inverse, offset=offset, order=1, mode="nearest"
    )


def corrupt(images, name: str, severity: int, *, seed: int = 0) -> np.ndarray:
    """Apply one corruption at one severity (1-5) to every film.

    Parameters
    ----------
    images : ndarray
        ``(N, H, W)`` or ``(N, H, W, 1)`` films, uint8 or float in [0, 1].
    name : str
        One of :data:`SEVERITIES` (contrast, gamma, brightness, blur, noise,
        affine).
    severity : int
        1 (mild) to 5 (strong).
    seed : int
        Seeds the per-film draws (signs, noise).

    Returns
    -------
    ndarray of uint8
        The corrupted films, in the input's shape.

    Examples
    --------
    >>> films = np.full((2, 28, 28), 100, np.uint8)
    >>> films[:, 10:18, 10:18] = 200
    >>> out = corrupt(films, "contrast", 5)
    >>> out.dtype, out.shape, int(out.max()) < 200
    (dtype('uint8'), (2, 28, 28), True)
    """
    if name not in SEVERITIES:
        raise ValueError(
            f"unknown corruption {name!r}; choose one of {sorted(SEVERITIES)}"
        )
    if not 1 <= int(severity) <= len(SEVERITIES[name]):
        raise ValueError(f"severity must be 1 to 5, got {severity}")
    x, shape = _as_unit(images)
    p = SEVERITIES[name][int(severity) - 1]
    rng = np.random.default_rng(seed)
    n, side = len(x), x.shape[1]
    if name == "contrast":
        mean = x.mean(axis=(1, 2), keepdims=True)
        out = mean + p * (x - mean)
    elif name == "gamma":
        exponent = p ** _signs(rng, n)  # darker (g) or lighter (1/g)
        out = x ** exponent[:, None, None]
    elif name == "brightness":
        out = x + p * _signs(rng, n)[:, None, None]
    elif name == "blur":
        sigma = p * side / 28  # the same blur relative to the film at any size
        out = np.stack([ndimage.gaussian_filter(f, sigma, mode="nearest") for f in x])
    elif name == "noise":
        out = x + rng.normal(0.0, p, x.shape)
    else:  # affine
        rotate, zoom, shift = p
        signs = _signs(rng, 4 * n).reshape(n, 4)
        out = np.stack(
            [
                _affine(f, rotate * s[0], 1 + zoom * s[1], shift * side * s[2:])
                for f, s in zip(x, signs)
            ]
        )
    return _to_uint8(out, shape)


def shifted_copy(
    images, *, severities=(1, 2, 3, 4, 5), names=None, seed: int = 0
) -> tuple[np.ndarray, dict]:
    """A shifted copy of a split: each film gets one corruption at one severity.

    The corruption and severity of each film are drawn uniformly (seeded), so
    every kind and level appears about equally often and the labels, and with
    them the prevalence, are those of the split.

    Parameters
    ----------
    images : ndarray
        ``(N, H, W)`` or ``(N, H, W, 1)`` films, uint8 or float in [0, 1].
    severities : sequence of int
        The levels to draw from (1-5).
    names : sequence of str, optional
        The corruptions to draw from; default all of :data:`SEVERITIES`.
    seed : int

    Returns
    -------
    films : ndarray of uint8
        In the input's shape and order.
    record : dict
        ``"corruption"`` (N,) str and ``"severity"`` (N,) int: what each film got.

    Examples
    --------
    >>> films = np.random.default_rng(0).integers(0, 256, (12, 28, 28), np.uint8)
    >>> shifted, record = shifted_copy(films, seed=1)
    >>> shifted.shape, sorted(set(record["corruption"])) <= sorted(SEVERITIES)
    ((12, 28, 28), True)
    """
    names = list(SEVERITIES if names is None else names)
    for name in names:
        if name not in SEVERITIES:
            raise ValueError(
                f"unknown corruption {name!r}; choose from {sorted(SEVERITIES)}"
            )
    levels = np.asarray(severities, dtype=int)
    if levels.size == 0 or levels.min() < 1 or levels.max() > 5:
        raise ValueError(f"severities must be 1 to 5, got {list(severities)}")
    x = np.asarray(images)
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(names), len(x))
    level = levels[rng.integers(0, levels.size, len(x))]
    out = np.empty(x.shape, np.uint8)
    for k, name in enumerate(names):
        for s in np.unique(level):
            rows = np.flatnonzero((kind == k) & (level == s))
            if rows.size:
                # one seed per (corruption, severity) group: reproducible draws
                group = np.random.SeedSequence([seed, k, int(s)])
                out[rows] = corrupt(
                    x[rows], name, int(s), seed=int(group.generate_state(1)[0])
                )
    record = {
        "corruption": np.array([names[k] for k in kind], dtype=object),
        "severity": level,
    }
    return out, record
