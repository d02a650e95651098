"""Synthetic frontal chest radiographs ("phantoms") with exact lesion masks.

The phantoms stand in for real X-rays when PneumoniaMNIST is not at hand, and they
do one thing real data sets cannot: every pneumonia case comes with the exact
pixel mask of its lesion, its subtype (lobar or bronchopneumonia) and the share of
the lung it covers, so a chapter can *measure* what a filter or a network responds
to.

Each phantom is a posteroanterior (PA) film drawn in radiological convention: the
patient faces the viewer, so the patient's **right** lung is on the viewer's
**left**. The anatomy is built from simple analytic shapes on a normalised
coordinate grid, ``x`` and ``y`` in ``[-1, 1]``, and summed as X-ray attenuation
(soft tissue, air in the lungs, bone), so overlaps behave as on a film: ribs show
over the dark lungs and fade over the bright mediastinum.

* body outline and soft tissue, shoulders and upper abdomen;
* two lungs with their lobes (right: upper, middle, lower; left: upper, lower),
  faint vessel markings radiating from the hila;
* heart (bulging to the patient's left) and mediastinum with the aortic knob;
* thoracic spine, posterior ribs (curved bands), clavicles;
* diaphragm domes (the right dome higher) and a gastric air bubble.

Every patient differs in size, position, a small rotation, depth of inspiration,
heart size, exposure (brightness, contrast, gamma) and quantum-like noise with a
mild detector blur.

Pneumonia cases are of two kinds:

``"lobar"``
    a hazy opacity filling one or more lobes, always covering at least 33 % of the
    affected lung (the source's working heuristic for calling pneumonia lobar, not
    a clinical definition); about half show air bronchograms (dark branching
    airways inside the opacity).
``"bronchopneumonia"``
    several small patchy opacities scattered in one or both lungs, typically well
    below the lobar threshold.

All generation is vectorised over the batch (NumPy only, no per-pixel loops) and
seeded: the same arguments always give the same arrays.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

__all__ = [
    "LOBAR_THRESHOLD",
    "LOBE_NAMES",
    "show_lobes",
    "LUNG_NAMES",
    "SUBTYPES",
    "PhantomBatch",
    "describe",
    "make_phantom",
    "make_phantoms",
    "show_with_mask",
]

#: Share of a lung that a lesion must cover to be called lobar (the source's heuristic).
LOBAR_THRESHOLD = 0.33

#: Pneumonia subtypes that :func:`make_phantoms` can draw.
SUBTYPES = ("lobar", "bronchopneumonia")

#: Names of the values of :attr:`PhantomBatch.lung_masks`.
LUNG_NAMES = {0: "outside the lungs", 1: "right lung", 2: "left lung"}

#: Names of the values of :attr:`PhantomBatch.lobe_masks`.
LOBE_NAMES = {
    0: "outside the lungs",
    1: "right upper lobe",
    2: "right middle lobe",
    3: "right lower lobe",
    4: "left upper lobe",
    5: "left lower lobe",
}

_MIN_SIZE = 16
# Fine details (ribs about 0.15 apart in normalised units) alias below this many
# pixels, so small images are drawn larger and averaged down.
_MIN_RENDER = 64
# Pixels per chunk: small enough for the temporaries to stay in cache (measured:
# larger chunks were slower, smaller ones pay more per-call overhead).
_CHUNK_PIXELS = 1 << 15
# Mean film signal that automatic exposure control aims at (about that of a
# normal phantom without it).
_AEC_LEVEL = 0.46


@dataclass(frozen=True)
class PhantomBatch:
    """A batch of synthetic chest radiographs with their ground truth.

    Attributes
    ----------
    images : numpy.ndarray
        ``(N, H, W)`` uint8, radiograph polarity: air dark, bone bright.
    labels : numpy.ndarray
        ``(N,)`` uint8, 0 = normal, 1 = pneumonia.
    masks : numpy.ndarray
        ``(N, H, W)`` bool lesion pixels; all False for normal cases.
    subtypes : numpy.ndarray
        ``(N,)`` str: ``"normal"``, ``"lobar"`` or ``"bronchopneumonia"``.
    affected_fraction : numpy.ndarray
        ``(N,)`` float32: lesion pixels divided by the pixels of the lung(s) that
        hold the lesion (both lungs when a bronchopneumonia is bilateral); 0 for
        normal cases, at least :data:`LOBAR_THRESHOLD` for lobar ones.
    lung_masks : numpy.ndarray
        ``(N, H, W)`` uint8: 0 outside, 1 right lung, 2 left lung (the patient's
        right is on the viewer's left).
    lobe_masks : numpy.ndarray
        ``(N, H, W)`` uint8: 0 none, 1-3 right upper/middle/lower, 4-5 left
        upper/lower (see :data:`LOBE_NAMES`).

    Examples
    --------
    >>> batch = make_phantoms(4, size=64, seed=1)
    >>> len(batch), batch.images.shape, batch.images.dtype
    (4, (4, 64, 64), dtype('uint8'))
    >>> bool((batch.masks.any(axis=(1, 2)) == (batch.labels == 1)).all())
    True
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    subtypes: np.ndarray
    affected_fraction: np.ndarray
    lung_masks: np.ndarray
    lobe_masks: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        n, h, w = self.images.shape
        counts = {s: int((self.subtypes == s).sum()) for s in ("normal",) + SUBTYPES}
        parts = ", ".join(f"{k}={v}" for k, v in counts.items())
        return f"PhantomBatch(n={n}, size={h}x{w}, {parts})"


# ----------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an integer number of pixels, got {size!r}")
    if size < _MIN_SIZE:
        raise ValueError(
            f"size={size} is too small for a chest phantom: use size >= {_MIN_SIZE} "
            "(28, 64, 128 and 224 are the usual choices)"
        )
    return int(size)


def _check_range(name: str, value, lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}") from None
    if not lo <= a <= b <= hi:
        raise ValueError(f"{name}={value!r} must satisfy {lo} <= low <= high <= {hi}")
    return a, b


def _check_options(body_scale, blob_radius, exposure_control) -> dict:
    return {
        "body_scale": _check_range("body_scale", body_scale, 0.6, 1.2),
        "blob_radius": _check_range("blob_radius", blob_radius, 0.02, 0.25),
        "exposure_control": bool(exposure_control),
    }


def _check_subtypes(subtypes) -> tuple[str, ...]:
    if isinstance(subtypes, str):
        subtypes = (subtypes,)
    subtypes = tuple(subtypes)
    if not subtypes:
        raise ValueError(f"subtypes is empty: give one or more of {SUBTYPES}")
    unknown = [s for s in subtypes if s not in SUBTYPES]
    if unknown:
        raise ValueError(
            f"unknown pneumonia subtype(s) {unknown}: valid subtypes are {SUBTYPES}"
        )
    return subtypes


# ----------------------------------------------------------------------------
# per-patient parameters
# ----------------------------------------------------------------------------


def _draw_parameters(
    rng: np.random.Generator,
    n: int,
    body_scale=(0.86, 1.02),
    blob_radius=(0.06, 0.12),
    exposure_control: bool = False,
) -> dict[str, np.ndarray]:
    """Per-patient anatomy, pose and exposure, each ``(n, 1, 1)`` float32."""
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    p = {
        "scale": u(*body_scale),  # patient size relative to the field of view
        "dx": u(-0.06, 0.06),  # position on the detector
        "dy": u(-0.05, 0.07),
        "angle": np.deg2rad(u(-4.0, 4.0)),  # small rotation
        "fat": u(0.04, 0.16),  # soft tissue outside the rib cage
        "diaph_r": u(0.34, 0.50),  # top of the right dome (depth of inspiration)
        "diaph_lr": u(0.03, 0.09),  # left dome lower by this much
        "heart": u(0.90, 1.12),  # heart size
        "minor": u(-0.22, -0.12),  # level of the horizontal fissure
        "oblique": u(-0.50, -0.36),  # where the left oblique fissure meets the wall
        "rib_gap": u(0.115, 0.130),  # spacing of the posterior ribs
        "rib_phase": u(0.0, 1.0),
        "vessel_phase": u(0.0, 2 * np.pi),
        "kappa": u(1.3, 1.8),  # attenuation-to-film mapping (exposure)
        "contrast": u(0.85, 1.20),
        "brightness": u(-0.06, 0.06),
        "gamma": u(0.80, 1.25),
        "noise": u(0.010, 0.035),
        "blur": u(0.15, 0.60),
        # constants, not draws (the random stream stays that of the defaults)
        "radius_lo": np.full(n, blob_radius[0]),
        "radius_hi": np.full(n, blob_radius[1]),
        "aec": np.full(n, float(exposure_control)),
    }
    return {k: v.astype(np.float32).reshape(n, 1, 1) for k, v in p.items()}


def _take(params: dict[str, np.ndarray], sl: slice) -> dict[str, np.ndarray]:
    return {k: v[sl] for k, v in params.items()}


# ----------------------------------------------------------------------------
# geometry (patient frame: u to the viewer's right, v downwards, both ~[-1, 1])
# ----------------------------------------------------------------------------


def _patient_frame(p, res: int):
    """Map the pixel grid into each patient's frame: ``(n, res, res)`` u and v."""
    c = (np.arange(res, dtype=np.float32) + 0.5) * (2.0 / res) - 1.0
    x = c[None, None, :] - p["dx"]
    y = c[None, :, None] - p["dy"]
    cos, sin = np.cos(p["angle"]), np.sin(p["angle"])
    inv = 1.0 / p["scale"]
    u = (cos * x + sin * y) * inv
    v = (cos * y - sin * x) * inv
    return u, v


def _cage_half_width(v):
    """Half width of the rib cage at height v (narrow apex, widest at the bases)."""
    w = (v - 0.32) * (1.0 / 1.15)
    return 0.80 - 0.30 * (w * w)


def _ramp(x):
    """Clip to [0, 1] in place: a linear soft edge."""
    return np.clip(x, 0.0, 1.0, out=x)


def _smoothstep(x):
    """Smooth soft edge in [0, 1] (overwrites ``x``)."""
    x = np.clip(x, 0.0, 1.0, out=x)
    return x * x * (3.0 - 2.0 * x)


def _anatomy(u, v, p):
    """Shared geometry: distance from midline, side, heart radius, lung distance.

    Returns ``a`` (= |u|), ``left`` (1.0 on the patient's left, the viewer's right),
    ``heart_r`` (elliptic radius of the heart, < 1 inside), ``diaph`` (height of the
    diaphragm under each lung) and ``dist``, an approximate signed distance to the
    lung border (> 0 inside a lung). Arithmetic on 0/1 floats instead of
    ``np.where`` keeps this cheap.
    """
    a = np.abs(u)
    left = (u >= 0).astype(np.float32)
    # diaphragm domes, the left one lower
    w = a - 0.40
    diaph = p["diaph_r"] + p["diaph_lr"] * left + 0.85 * (w * w)
    # heart: an ellipse tilted 25 degrees, apex down and to the patient's left
    hs = p["heart"]
    du = u - 0.10
    dv = v - (p["diaph_r"] - 0.08)
    s = (du * 0.906 + dv * 0.423) * (1.0 / (0.36 * hs))
    t = (dv * 0.906 - du * 0.423) * (1.0 / (0.24 * hs))
    heart_r = np.sqrt(s * s + t * t)
    # lung: inside the rib cage, below the apex, lateral to the mediastinum
    # (the aortic knob bulges into the left lung), above the diaphragm, off the heart
    d = _cage_half_width(v) - 0.04 - a
    w = a - 0.36
    np.minimum(d, v + 0.80 - 1.5 * (w * w), out=d)
    w = (v + 0.40) * (1.0 / 0.09)
    knob = _ramp(1.0 - w * w)
    np.minimum(d, a - 0.11 - left * (0.01 + 0.09 * knob), out=d)
    np.minimum(d, diaph - v, out=d)
    np.minimum(d, (heart_r - 1.0) * (0.24 * hs), out=d)
    return {"a": a, "left": left, "heart_r": heart_r, "diaph": diaph, "dist": d}


def _lung_distance(u, v, p):
    """Approximate signed distance to the lung border (> 0 inside a lung)."""
    return _anatomy(u, v, p)["dist"]


def _lobes(u, v, p, geo):
    """Lobe labels (0-5, uint8) for each pixel, 0 outside the lungs."""
    a, left = geo["a"], geo["left"] > 0
    below_minor = v > p["minor"] + 0.05 * a
    # the major (oblique) fissure projects from high on the lateral wall down to
    # the medial diaphragm: middle lobe medial-low, lower lobe lateral-low
    lateral_major = a >= 0.58 - 0.55 * (v - p["minor"])
    left_lower = v > p["oblique"] + (0.80 - a) * 0.85
    right_lobe = below_minor.view(np.uint8) + (below_minor & lateral_major).view(
        np.uint8
    )
    right_lobe += 1
    left_lobe = left_lower.view(np.uint8) + np.uint8(4)
    lobe = np.where(left, left_lobe, right_lobe)
    lobe *= geo["dist"] > 0
    return lobe


def _soft_lobe_region(u, v, p, chosen):
    """Share of each pixel in the ``chosen`` lobes, with fuzzy oblique fissures.

    The horizontal fissure is seen edge-on on a PA film (a sharp border); the
    oblique fissures are not, so consolidation fades across them.
    """
    a = np.abs(u)
    below_minor = _smoothstep((v - p["minor"] - 0.05 * a) * (1.0 / 0.015) + 0.5)
    middle = _smoothstep((0.58 - 0.55 * (v - p["minor"]) - a) * (1.0 / 0.14) + 0.5)
    lower_l = _smoothstep((v - p["oblique"] - (0.80 - a) * 0.85) * (1.0 / 0.14) + 0.5)
    c = chosen.astype(np.float32)[:, :, None, None]
    right = (1.0 - below_minor) * c[:, 1] + below_minor * (
        middle * c[:, 2] + (1.0 - middle) * c[:, 3]
    )
    left = (1.0 - lower_l) * c[:, 4] + lower_l * c[:, 5]
    return np.where(u < 0, right, left)


def _upsampling_matrix(cells: int, res: int) -> np.ndarray:
    """``(res, cells + 1)`` weights of a smooth (smoothstep) interpolation."""
    pos = (np.arange(res, dtype=np.float32) + 0.5) * np.float32(cells / res)
    i0 = np.minimum(pos.astype(np.intp), cells - 1)
    f = pos - i0.astype(np.float32)
    f = f * f * (3.0 - 2.0 * f)  # no visible grid lines
    m = np.zeros((res, cells + 1), dtype=np.float32)
    m[np.arange(res), i0] = 1.0 - f
    m[np.arange(res), i0 + 1] = f
    return m


def _low_res_noise(rng, n: int, res: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a ``cells``-square random grid, upsampled.

    Upsampling is two small matrix products (BLAS), far cheaper than gathers.
    """
    g = rng.random((n, cells + 1, cells + 1), dtype=np.float32)
    m = _upsampling_matrix(cells, res)
    return m @ g @ m.T


def _separable_noise(rng, n: int, res: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1] as the mean of a random row curve and column curve.

    One full-size operation; good enough for a phase that only bends lines.
    """
    g = rng.random((n, 2, cells + 1), dtype=np.float32)
    curves = g @ _upsampling_matrix(cells, res).T  # (n, 2, res)
    return 0.5 * (curves[:, 0, :, None] + curves[:, 1, None, :])


def _band(coord, axis: int, lo: float, hi: float) -> slice:
    """Rows (``axis=1``) or columns (``axis=2``) where ``lo <= coord <= hi`` somewhere.

    ``coord`` (u or v) is linear along each row and column, so its extremes lie on
    the borders of the grid: a cheap way to skip pixels a small feature cannot reach.
    """
    if axis == 1:
        e0, e1 = coord[:, :, 0], coord[:, :, -1]
    else:
        e0, e1 = coord[:, 0, :], coord[:, -1, :]
    low = np.minimum(e0, e1).min(axis=0)
    high = np.maximum(e0, e1).max(axis=0)
    hit = np.flatnonzero((high >= lo) & (low <= hi))
    return slice(int(hit[0]), int(hit[-1]) + 1) if hit.size else slice(0, 0)


def _blur3(img: np.ndarray, weight) -> np.ndarray:
    """Mix each image with its 3x3 binomial blur (edges replicated)."""
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = 0.25 * pad[:, :-2, :] + 0.5 * pad[:, 1:-1, :] + 0.25 * pad[:, 2:, :]
    blurred = 0.25 * rows[:, :, :-2] + 0.5 * rows[:, :, 1:-1] + 0.25 * rows[:, :, 2:]
    return img + weight * (blurred - img)


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return x.astype(np.float32, copy=False)
    n, h, w = x.shape
    return x.reshape(n, h // f, f, w // f, f).mean(axis=(2, 4), dtype=np.float32)


def _block_centre(x: np.ndarray, f: int) -> np.ndarray:
    return x if f == 1 else x[:, f // 2 :: f, f // 2 :: f]


# ----------------------------------------------------------------------------
# lesions
# ----------------------------------------------------------------------------

# lobes that touch each other, within one lung
_NEIGHBOURS = {1: (2,), 2: (1, 3), 3: (2,), 4: (5,), 5: (4,)}


def _choose_lobes(rng, lobe_counts: np.ndarray) -> np.ndarray:
    """Pick lobes for each lobar case until they cover >= 33 % of their lung.

    ``lobe_counts`` is ``(m, 6)`` pixel counts per lobe label; returns an ``(m, 6)``
    bool table of chosen lobes. A loop over cases, not pixels: a few scalars each.
    """
    m = lobe_counts.shape[0]
    chosen = np.zeros((m, 6), dtype=bool)
    # the lower lobes are the commonest site, the middle lobe the rarest
    weights = np.array([0.0, 0.22, 0.12, 0.26, 0.16, 0.24])
    starts = rng.choice(6, size=m, p=weights / weights.sum())
    coin = rng.random(m)
    for i in range(m):
        counts = lobe_counts[i]
        start = int(starts[i])
        if counts[start] == 0:  # a lobe can vanish on a tiny image
            start = int(np.argmax(counts[1:]) + 1)
        lung = (1, 2, 3) if start <= 3 else (4, 5)
        lung_px = counts[list(lung)].sum()
        picked = {start}
        while counts[list(picked)].sum() < LOBAR_THRESHOLD * lung_px:
            options = sorted({nb for l in picked for nb in _NEIGHBOURS[l]} - picked)
            if not options:
                break
            picked.add(options[int(coin[i] * len(options))])
        chosen[i, list(picked)] = True
    return chosen


def _blob_centres(rng, p, m: int, k: int):
    """Up to ``k`` blob centres inside the lungs for each of ``m`` cases.

    Rejection sampling done in bulk: 24 candidates per blob, keep the first one that
    lies well inside a lung. Returns centres ``(m, k)`` u, v, radii and an active flag.
    """
    n_blobs = rng.integers(4, k + 1, m)
    bilateral = rng.random(m) < 0.5
    home_right = rng.random(m) < 0.5
    tries = 24
    side_right = np.where(
        bilateral[:, None, None],
        rng.random((m, k, tries)) < 0.5,
        home_right[:, None, None],
    )
    a = rng.uniform(0.18, 0.70, (m, k, tries)).astype(np.float32)
    # patchy bronchopneumonia favours the lower zones
    v = (-0.65 + 1.25 * np.sqrt(rng.random((m, k, tries)))).astype(np.float32)
    u = np.where(side_right, -a, a)
    lo = p["radius_lo"].reshape(m, 1, 1)
    radius = rng.uniform(lo, p["radius_hi"].reshape(m, 1, 1), (m, k, 1))
    radius = radius.astype(np.float32)
    flat = {key: val.reshape(m, 1, 1) for key, val in p.items()}
    d = _lung_distance(u, v, flat)
    ok = d > 0.6 * radius
    first = np.argmax(ok, axis=2)
    found = ok.any(axis=2)
    pick = lambda arr: np.take_along_axis(arr, first[..., None], axis=2)[..., 0]  # noqa: E731
    cu, cv = pick(u), pick(v)
    # a point well inside each lung in case no candidate fitted (rare)
    cu = np.where(found, cu, np.where(pick(side_right), -0.42, 0.42))
    cv = np.where(found, cv, 0.0)
    active = np.arange(k)[None, :] < n_blobs[:, None]
    return cu.astype(np.float32), cv.astype(np.float32), radius[..., 0], active


# ----------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------


def _render_chunk(rng, p, kinds, res: int, ss: int):
    """Render one chunk of patients.

    ``kinds`` is ``(n,)`` int: 0 normal, 1 lobar, 2 bronchopneumonia. Returns the
    film signal in [0, 1], the lesion masks and the lobe labels, at output size.
    """
    n = kinds.shape[0]
    out = res // ss
    u, v = _patient_frame(p, res)
    geo = _anatomy(u, v, p)
    a, dist = geo["a"], geo["dist"]

    # --- soft tissue: body outline with shoulders, neck and upper abdomen -----
    half = _cage_half_width(np.clip(v, -0.55, 0.32)) + p["fat"]
    # shoulders and neck: only the top rows need them
    rs = _band(v, 1, -3.0, -0.40)
    vt, at = v[:, rs], a[:, rs]
    half[:, rs] += 0.70 * _smoothstep((-0.45 - vt) * (1.0 / 0.40))
    # the shoulders slope down from the neck; above them is air
    s_ = np.maximum(at - 0.26, 0.0)
    top = -0.97 + s_ * (0.22 + 0.30 * s_) - 0.6 * _ramp((0.29 - at) * (1.0 / 0.05))
    w = a / half
    body = np.sqrt(_ramp(1.0 - w * w))
    body[:, rs] *= _smoothstep((vt - top) * (1.0 / 0.08))
    atten = 0.95 * body
    # trachea: an air column in the midline down to the carina
    rs, cs = _band(v, 1, -2.0, -0.30), _band(u, 2, -0.05, 0.05)
    ut, vt = np.abs(u[:, rs, cs]), v[:, rs, cs]
    atten[:, rs, cs] -= (
        0.18 * _ramp((0.035 - ut) * (1.0 / 0.015)) * _ramp((-0.30 - vt) * 6.0)
    )

    # --- lungs: air lowers attenuation, most in the middle of the lung ------
    inside = dist > 0
    lobe_hi = _lobes(u, v, p, geo)
    lobe_lo = _block_centre(lobe_hi, ss)
    texture = _low_res_noise(rng, n, res, 12)
    lung = _smoothstep(dist * (1.0 / 0.12)) * 0.5 + np.float32(0.5) * inside
    lung *= 0.88 + 0.24 * texture  # parenchyma

    # vessels: tapering branches that radiate from each hilum. A pseudo-angle
    # (dv / (|du| + |dv|), monotonic in the true angle) is far cheaper than arctan2.
    du, dv = a - 0.20, v - (p["minor"] + 0.05)
    r2 = du * du + dv * dv
    angle = dv / (np.abs(du) + np.abs(dv) + 1e-3)
    # the branches wander: a smooth random phase, separable (two 1-D curves) to be cheap
    wobble = _separable_noise(rng, n, res, 9)
    vessels = np.maximum(np.cos(angle * 26.0 + p["vessel_phase"] + 10.0 * wobble), 0.0)
    vessels *= vessels
    vessels *= vessels
    fade = _ramp(1.0 - r2 * (1.0 / 0.30))
    vessels *= fade * (np.float32(0.5) + (texture > 0.45))
    vessels += 0.9 * _ramp(1.0 - r2 * (1.0 / 0.017)) * (0.6 + 0.8 * texture)  # hila
    air = lung * (1.0 - 0.22 * np.minimum(vessels, 1.0))

    # --- lesions: consolidation replaces the air in the alveoli --------------
    masks = np.zeros((n, out, out), dtype=bool)
    fill = np.zeros_like(u)
    lob = np.flatnonzero(kinds == 1)
    if lob.size:
        counts = np.stack(
            [(lobe_lo[lob] == j).sum(axis=(1, 2)) for j in range(6)], axis=1
        )
        chosen = _choose_lobes(rng, counts)
        masks[lob] = chosen[np.arange(lob.size)[:, None, None], lobe_lo[lob]]
        region = _soft_lobe_region(u[lob], v[lob], _take(p, lob), chosen) * inside[lob]
        density = 0.72 + 0.28 * texture[lob]
        # air bronchograms: dark branching airways in about half of the cases
        with_air = (rng.random(lob.size) < 0.5).astype(np.float32)[:, None, None]
        airways = np.maximum(np.cos(angle[lob] * 14.0 + 1.7 + 2.0 * wobble[lob]), 0.0)
        for _ in range(4):  # raise to the 16th power: thin dark lines
            airways *= airways
        airways *= fade[lob] * with_air
        fill[lob] = region * _ramp(density - 0.7 * airways)
    bro = np.flatnonzero(kinds == 2)
    if bro.size:
        cu, cv, rad, active = _blob_centres(rng, _take(p, bro), bro.size, 9)
        ub, vb = u[bro], v[bro]
        field = np.zeros(ub.shape, dtype=np.float32)
        for j in range(cu.shape[1]):
            inv_r2 = np.where(active[:, j], 1.0 / rad[:, j] ** 2, 1e6).astype(
                np.float32
            )[:, None, None]
            x = ub - cu[:, j, None, None]
            y = vb - cv[:, j, None, None]
            blob = _ramp(1.0 - (x * x + y * y) * inv_r2)
            np.maximum(field, blob * blob, out=field)
        patchy = field * (0.55 + 0.9 * texture[bro]) * inside[bro]
        fill[bro] = 0.6 * _smoothstep(patchy * (1.0 / 0.9))
        lesion = _block_mean(patchy > 0.5, ss) > 0.5
        lesion &= lobe_lo[bro] > 0
        # a blob can fall between pixels of a small image: keep its strongest pixel
        empty = ~lesion.any(axis=(1, 2))
        if empty.any():
            score = _block_mean(patchy[empty], ss) * (lobe_lo[bro][empty] > 0)
            flat = score.reshape(score.shape[0], -1).argmax(axis=1)
            idx = np.unravel_index(flat, (out, out))
            lesion[np.flatnonzero(empty), idx[0], idx[1]] = True
        masks[bro] = lesion
    atten -= 0.62 * air * (1.0 - fill)

    # heart, liver and the rest of the upper abdomen: denser than the chest wall,
    # so the heart merges with the diaphragm below it as on a film
    heart = _smoothstep((1.0 - geo["heart_r"]) * 6.0)
    np.maximum(heart, _ramp((v - geo["diaph"]) * 8.0), out=heart)
    mediastinum = _ramp(-25.0 * dist) * _ramp((0.45 - a) * 8.0)
    np.maximum(heart, mediastinum, out=heart)
    atten += 0.12 * heart

    # gastric air bubble under the left dome
    centre = p["diaph_r"] + p["diaph_lr"] + 0.17
    rs = _band(v, 1, float(centre.min()) - 0.08, float(centre.max()) + 0.08)
    cs = _band(u, 2, 0.26, 0.54)
    gu = (u[:, rs, cs] - 0.40) * (1.0 / 0.13)
    gv = (v[:, rs, cs] - centre) * (1.0 / 0.07)
    atten[:, rs, cs] -= 0.22 * _ramp(1.5 * (1.0 - gu * gu - gv * gv))

    # --- bone ---------------------------------------------------------------
    bone = np.zeros_like(u)
    cs = _band(u, 2, -0.08, 0.08)
    spine = _smoothstep((0.075 - a[:, :, cs]) * (1.0 / 0.02))
    period = (v[:, :, cs] + 1.0) * (1.0 / 0.13)
    vertebrae = np.abs(period - np.floor(period) - 0.5)  # triangle wave, 0 to 0.5
    bone[:, :, cs] = spine * (0.16 + 0.12 * vertebrae)

    # posterior ribs: arcs rising from the spine, then sweeping down laterally;
    # the gaps widen towards the bases
    t = np.maximum(v + 0.35 * a - 0.85 * a * a + 0.92, 0.0)
    k = (t - 0.12 * t * t) / p["rib_gap"] + 0.3 * p["rib_phase"]
    frac = np.abs(k - np.floor(k) - 0.5)
    band = _ramp((0.19 - frac) * (1.0 / 0.05))
    w = (frac - 0.16) * (1.0 / 0.035)
    cortex = _ramp(1.0 - w * w)  # bright rib edges
    reach = _ramp((_cage_half_width(v) + 0.02 - a) * (1.0 / 0.04))
    reach *= _ramp((a - 0.07) * 20.0)
    reach *= _ramp((k - 0.5) * 2.0) * _ramp((11.6 - k) * 1.5)
    # film processing flattens ribs over the dense mediastinum and abdomen
    reach *= 0.35 + 0.65 * _ramp(dist * 8.0 + 0.6)
    bone += 0.15 * (band + 0.5 * cortex) * reach

    # clavicles: slightly S-shaped bars from the sternum to the shoulders
    rs = _band(v, 1, -1.06, -0.64)
    ac, vc = a[:, rs], v[:, rs]
    w = ac - 0.08
    cl = vc + 0.74 + 0.20 * w - 0.3 * w * (1.0 - 2.0 * w)  # polynomial S-bend
    clav = _ramp((0.045 - np.abs(cl)) * (1.0 / 0.012))
    clav *= _ramp((ac - 0.05) * 25.0) * _ramp((0.80 - ac) * 12.0)
    bone[:, rs] += 0.40 * clav

    atten = np.maximum(atten, 0.0) + bone * body

    # --- film: attenuation to brightness ------------------------------------
    signal = _block_mean(1.0 - np.exp(-p["kappa"] * atten), ss)
    return signal, masks, lobe_lo


def _finish_film(rng, signal: np.ndarray, p) -> np.ndarray:
    """Exposure, quantum-like noise and detector blur; returns uint8 images.

    With automatic exposure control (``p["aec"]`` = 1) each film's mean signal is
    set to the same level before the patient's own exposure settings act, as an
    exposure-controlled radiograph does: a lesion then no longer brightens the
    whole film, only its own pixels.
    """
    aec = p["aec"] > 0
    if aec.any():
        level = signal.mean(axis=(1, 2), keepdims=True)
        signal = np.where(aec, signal - level + _AEC_LEVEL, signal)
    img = np.clip((signal - 0.5) * p["contrast"] + 0.5 + p["brightness"], 0.0, 1.0)
    img = img ** p["gamma"]
    # fewer photons reach the film behind dense tissue, so noise grows there
    sigma = p["noise"] * (0.5 + img)
    img = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)
    img = _blur3(img, p["blur"])
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _generate(
    kinds: np.ndarray, size: int, rng: np.random.Generator, **options
) -> PhantomBatch:
    """Draw a batch for given case kinds (0 normal, 1 lobar, 2 broncho)."""
    n = int(kinds.shape[0])
    ss = max(1, math.ceil(_MIN_RENDER / size))
    res = size * ss
    params = _draw_parameters(rng, n, **options)
    images = np.empty((n, size, size), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=bool)
    lobes = np.empty((n, size, size), dtype=np.uint8)
    chunk = max(1, _CHUNK_PIXELS // (res * res))
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        p = _take(params, sl)
        signal, masks[sl], lobes[sl] = _render_chunk(rng, p, kinds[sl], res, ss)
        images[sl] = _finish_film(rng, signal, p)

    lungs = np.zeros_like(lobes)
    lungs[(lobes >= 1) & (lobes <= 3)] = 1
    lungs[lobes >= 4] = 2
    lesion_px = masks.sum(axis=(1, 2))
    right_px = (lungs == 1).sum(axis=(1, 2))
    left_px = (lungs == 2).sum(axis=(1, 2))
    in_right = (masks & (lungs == 1)).any(axis=(1, 2))
    in_left = (masks & (lungs == 2)).any(axis=(1, 2))
    affected_px = right_px * in_right + left_px * in_left
    fraction = np.where(affected_px > 0, lesion_px / np.maximum(affected_px, 1), 0.0)

    names = np.array(("normal",) + SUBTYPES)
    return PhantomBatch(
        images=images,
        labels=(kinds > 0).astype(np.uint8),
        masks=masks,
        subtypes=names[kinds],
        affected_fraction=fraction.astype(np.float32),
        lung_masks=lungs,
        lobe_masks=lobes,
    )


# ----------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------


def make_phantoms(
    n: int,
    size: int = 128,
    *,
    seed: int = 0,
    pneumonia_fraction: float = 0.5,
    subtypes: Iterable[str] = SUBTYPES,
    body_scale: tuple[float, float] = (0.86, 1.02),
    blob_radius: tuple[float, float] = (0.06, 0.12),
    exposure_control: bool = False,
) -> PhantomBatch:
    """Draw ``n`` synthetic PA chest radiographs, normal and pneumonia.

    Exactly ``round(n * pneumonia_fraction)`` cases have pneumonia, placed in a
    shuffled order; each pneumonia case draws its subtype uniformly from
    ``subtypes``.

    Parameters
    ----------
    n : int
        Number of images (0 gives an empty batch).
    size : int, default 128
        Height and width in pixels, at least 16. Images below 64 pixels are drawn
        larger and averaged down, so ribs do not alias.
    seed : int, default 0
        Seed of the random generator: the same arguments give identical arrays.
        The first ``k`` images of ``make_phantoms(n, seed=s)`` are *not* those of
        ``make_phantoms(k, seed=s)``: the exact class count depends on ``n``.
    pneumonia_fraction : float, default 0.5
        Share of pneumonia cases, in ``[0, 1]``.
    subtypes : iterable of str, default ``("lobar", "bronchopneumonia")``
        Pneumonia subtypes to draw from (see :data:`SUBTYPES`).
    body_scale : (float, float), default (0.86, 1.02)
        Range of patient sizes relative to the field of view (drawn uniformly).
        Another range, with other seeds and ``blob_radius``, gives a second
        family of phantoms for checks that must not see the first.
    blob_radius : (float, float), default (0.06, 0.12)
        Range of the radii of bronchopneumonia patches (normalised units).
    exposure_control : bool, default False
        Automatic exposure control: give every film the same mean signal before
        the patient's exposure settings act, so that a lesion no longer raises
        the brightness of the whole image (a shortcut a network can learn; see
        chapter 11). Off by default, which keeps the phantoms of the other
        chapters as they were.

    Returns
    -------
    PhantomBatch
        Images, labels, lesion masks, subtypes, affected fractions and the lung and
        lobe label maps.

    Raises
    ------
    ValueError
        If ``n < 0``, ``size < 16``, ``pneumonia_fraction`` is outside ``[0, 1]``
        or a subtype is unknown (the message lists the valid ones).

    Examples
    --------
    >>> batch = make_phantoms(10, size=28, seed=0, pneumonia_fraction=0.3)
    >>> batch.images.shape, int(batch.labels.sum())
    ((10, 28, 28), 3)
    >>> sorted(set(batch.subtypes.tolist()) - {"normal"}) <= ["bronchopneumonia", "lobar"]
    True
    >>> lobar = batch.subtypes == "lobar"
    >>> bool((batch.affected_fraction[lobar] >= LOBAR_THRESHOLD).all())
    True
    >>> bool((batch.masks <= (batch.lung_masks > 0)).all())  # lesions lie in the lungs
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(
            f"n must be a non-negative integer number of images, got {n!r}"
        )
    size = _check_size(size)
    subtypes = _check_subtypes(subtypes)
    fraction = float(pneumonia_fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(
            f"pneumonia_fraction={pneumonia_fraction!r} must lie in [0, 1] "
            "(0.5 gives balanced classes)"
        )
    options = _check_options(body_scale, blob_radius, exposure_control)
    rng = np.random.default_rng(seed)
    n_sick = int(round(n * fraction))
    codes = np.array([1 + SUBTYPES.index(s) for s in subtypes])
    kinds = np.zeros(n, dtype=np.int64)
    kinds[:n_sick] = codes[rng.integers(0, len(codes), n_sick)]
    kinds = rng.permutation(kinds)
    return _generate(kinds, size, rng, **options)


def make_phantom(
    size: int = 128,
    *,
    seed: int = 0,
    subtype: str = "normal",
    exposure_control: bool = False,
) -> PhantomBatch:
    """Draw one phantom of a chosen kind, as a batch of one.

    Parameters
    ----------
    size : int, default 128
        Height and width in pixels, at least 16.
    seed : int, default 0
        Seed of the random generator.
    subtype : {"normal", "lobar", "bronchopneumonia"}, default "normal"
        Kind of case.
    exposure_control : bool, default False
        As in :func:`make_phantoms`.

    Returns
    -------
    PhantomBatch
        A batch with ``len(batch) == 1``; ``batch.images[0]`` is the image.

    Examples
    --------
    >>> one = make_phantom(64, seed=3, subtype="lobar")
    >>> one.images.shape, one.subtypes[0], bool(one.masks[0].any())
    ((1, 64, 64), np.str_('lobar'), True)
    >>> bool(make_phantom(64, seed=3).masks.any())  # normal: empty mask
    False
    """
    size = _check_size(size)
    valid = ("normal",) + SUBTYPES
    if subtype not in valid:
        raise ValueError(f"unknown subtype {subtype!r}: valid subtypes are {valid}")
    options = _check_options((0.86, 1.02), (0.06, 0.12), exposure_control)
    rng = np.random.default_rng(seed)
    return _generate(np.array([valid.index(subtype)]), size, rng, **options)


def describe(batch: PhantomBatch, i: int) -> str:
    """One-line summary of phantom ``i``: size, subtype, lobes and affected share.

    Parameters
    ----------
    batch : PhantomBatch
        A batch from :func:`make_phantoms` or :func:`make_phantom`.
    i : int
        Index of the image.

    Returns
    -------
    str

    Examples
    --------
    >>> describe(make_phantom(64, seed=0), 0)
    'phantom #0, 64x64: normal'
    >>> describe(make_phantom(64, seed=0, subtype="lobar"), 0)  # doctest: +ELLIPSIS
    'phantom #0, 64x64: lobar pneumonia, left upper lobe (57 % of the left lung)'
    """
    n = len(batch)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for a batch of {n} phantoms")
    i = i % n
    h, w = batch.images.shape[1:]
    head = f"phantom #{i}, {h}x{w}: "
    subtype = str(batch.subtypes[i])
    if subtype == "normal":
        return head + "normal"
    mask = batch.masks[i]
    lobes = sorted(int(x) for x in np.unique(batch.lobe_masks[i][mask]) if x > 0)
    lungs = sorted({1 if lobe <= 3 else 2 for lobe in lobes})
    lung_names = " and ".join(LUNG_NAMES[l].split()[0] for l in lungs)
    share = f"{100 * float(batch.affected_fraction[i]):.0f} % of the {lung_names} lung"
    share += "s" if len(lungs) > 1 else ""
    if subtype == "lobar":
        where = " + ".join(LOBE_NAMES[l].replace(" lobe", "") for l in lobes)
        noun = "lobes" if len(lobes) > 1 else "lobe"
        return head + f"lobar pneumonia, {where} {noun} ({share})"
    return head + f"bronchopneumonia, patches in {int(mask.sum())} pixels ({share})"


def show_with_mask(image, mask, ax=None, *, color="tab:red", title=None):
    """Show a greyscale radiograph with the outline of a lesion mask.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` image (uint8 or float).
    mask : array_like
        ``(H, W)`` bool mask; an empty mask draws no outline.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    color : str, default "tab:red"
        Colour of the outline.
    title : str, optional
        Title of the axes.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> one = make_phantom(64, seed=1, subtype="bronchopneumonia")
    >>> ax = show_with_mask(one.images[0], one.masks[0], title="patches")
    >>> ax.get_title()
    'patches'
    """
    import matplotlib.pyplot as plt

    image = np.asarray(image)
    mask = np.asarray(mask, dtype=bool)
    if image.ndim != 2 or mask.shape != image.shape:
        raise ValueError(
            f"image and mask must be (H, W) arrays of one shape, got {image.shape} "
            f"and {mask.shape}: pass batch.images[i] and batch.masks[i]"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    vmax = 255 if image.dtype == np.uint8 else None
    ax.imshow(image, cmap="gray", vmin=0, vmax=vmax)
    if mask.any():
        ax.contour(
            mask.astype(np.float32), levels=[0.5], colors=[color], linewidths=1.2
        )
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


#: Colours of the five lobes (index 0, outside the lungs, is transparent).
LOBE_COLOURS = ("#00000000", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#d62728")


def show_lobes(image, lobe_mask):
    """A phantom beside the same phantom with its five lobes coloured.

    The x axis is labelled with the patient's sides: on a frontal film the
    patient's right lies on the viewer's left.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` uint8 phantom.
    lobe_mask : array_like
        ``(H, W)`` ints, 0 outside the lungs and 1-5 per lobe (:data:`LOBE_NAMES`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> one = make_phantom(64, seed=1)
    >>> fig = show_lobes(one.images[0], one.lobe_masks[0])
    >>> [t.get_text() for t in fig.axes[1].get_legend().get_texts()][0]
    'right upper lobe'
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.9))
    for ax, title in zip(axes, ("phantom", "its five lobes")):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("← patient's right          patient's left →", fontsize=8)
    axes[1].imshow(
        lobe_mask,
        cmap=ListedColormap(LOBE_COLOURS),
        vmin=0,
        vmax=5,
        alpha=0.6,
        interpolation="nearest",
    )
    handles = [Patch(color=LOBE_COLOURS[k], label=LOBE_NAMES[k]) for k in range(1, 6)]
    axes[1].legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    return fig
