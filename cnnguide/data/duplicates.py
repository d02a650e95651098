"""Duplicate images within a split and across splits: the leak a split can hide.

A validation image that also sits in the training set is not a test of anything:
the model has seen it. :func:`find_duplicates` finds

* **exact duplicates** by hashing each image's bytes (with its shape and dtype):
  byte-identical pixels, the copies a dataset picks up when the same file is
  exported twice;
* **near copies** (``near=True``): pairs whose :func:`copy_similarity` (the
  correlation of their pixels, at the best of the small shifts up to
  :data:`MAX_SHIFT` pixels) reaches :data:`NEAR_THRESHOLD`. Unlike a byte hash it
  survives a shift, a re-encoding, a light blur and a change of brightness or
  contrast.

A near-copy threshold means something only once it has been checked against
known copies and known different films. Without patient identifiers,
:func:`near_copy_study` makes both: copies by the transforms in
:data:`COPY_TRANSFORMS` (some held out from choosing the threshold), certain
negatives (pairs with different labels) and hard negatives (each film's most
similar other film). :data:`NEAR_THRESHOLD` is the threshold that study chose on
PneumoniaMNIST's training split; the training chapter reruns it and shows the
detection and false-alarm rates. This is teaching material, not a diagnostic
device.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict

import numpy as np

__all__ = [
    "find_duplicates",
    "copy_similarity",
    "near_copy_study",
    "copies_between_splits",
    "COPY_TRANSFORMS",
    "HELD_OUT_TRANSFORMS",
    "NEAR_THRESHOLD",
    "MAX_SHIFT",
]

#: Smallest :func:`copy_similarity` of two images called near copies: about the
#: threshold :func:`near_copy_study` chose on PneumoniaMNIST's training split
#: (0.966 to 0.971 for seeds 0, 1, 2; the training chapter reruns the study and
#: uses the threshold it chooses on the data at hand).
NEAR_THRESHOLD = 0.97

#: Largest shift (pixels, each axis) :func:`copy_similarity` tries.
MAX_SHIFT = 2


def _as_stack(images, name: str) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise ValueError(
            f"{name} must be (N, H, W) or (N, H, W, 1) greyscale images, got shape "
            f"{array.shape}"
        )
    return array


def _byte_keys(images: np.ndarray) -> list[bytes]:
    meta = f"{images.shape[1:]}{images.dtype.str}".encode()
    return [
        hashlib.blake2b(
            np.ascontiguousarray(im).tobytes() + meta, digest_size=16
        ).digest()
        for im in images
    ]


def _signatures(stack: np.ndarray, dy: int, dx: int, shift: int) -> np.ndarray:
    """Centre crops moved by (dy, dx), zero-mean and unit-norm, as rows."""
    n, h, w = stack.shape
    crop = stack[:, shift + dy : h - shift + dy, shift + dx : w - shift + dx]
    rows = crop.reshape(n, -1).astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    # a flat image has no pattern to match: it correlates 0 with everything
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 1e-6)


def copy_similarity(images_a, images_b, *, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """How alike each image of one set is to each of another: 1 for a copy.

    The Pearson correlation of the pixels of ``a``'s centre crop (``max_shift``
    pixels trimmed on every side) with the same-sized crop of ``b`` moved by up
    to ``max_shift`` pixels each way; the largest over the moves. Subtracting the
    mean and dividing by the spread make it blind to brightness and contrast;
    the moves make it blind to a small shift.

    Parameters
    ----------
    images_a, images_b : array_like
        ``(N, H, W)`` and ``(M, H, W)`` greyscale images (or with a channel
        axis of 1), any numeric dtype, same size.
    max_shift : int
        Largest shift tried, in pixels along each axis.

    Returns
    -------
    numpy.ndarray
        ``(N, M)`` float32 similarities in ``[-1, 1]``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (2, 12, 12)).astype(np.uint8)
    >>> moved = np.roll(a[:1], 1, axis=2) // 2 + 40  # shifted, darker
    >>> copy_similarity(a, moved).round(2).ravel().tolist()
    [1.0, 0.25]
    """
    a = _as_stack(images_a, "images_a")
    b = _as_stack(images_b, "images_b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"images_a are {a.shape[1:]} and images_b {b.shape[1:]}: compare images "
            "of one size"
        )
    shift = int(max_shift)
    if not 0 <= 2 * shift < min(a.shape[1:]):
        raise ValueError(f"max_shift={max_shift!r} leaves no image to compare")
    sig_a = _signatures(a, 0, 0, shift)
    best = np.full((len(a), len(b)), -1.0, np.float32)
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            np.maximum(best, sig_a @ _signatures(b, dy, dx, shift).T, out=best)
    return best


def _near_pairs(a, b, threshold: float, same: bool) -> list:
    pairs = []
    for start in range(0, len(a), 1024):  # bounded memory on the whole train split
        sim = copy_similarity(a[start : start + 1024], b)
        i, j = np.nonzero(sim >= threshold)
        i = i + start
        if same:
            keep = i < j
            i, j = i[keep], j[keep]
        pairs.extend(zip(i.tolist(), j.tolist()))
    return pairs


# ---------------------------------------------------------------------------------
# Known copies, to validate the threshold


def _shift(im, rng):
    from scipy import ndimage

    dy, dx = rng.integers(1, MAX_SHIFT + 1, 2) * rng.choice([-1, 1], 2)
    return ndimage.shift(im, (int(dy), int(dx)), order=0, mode="nearest")


def _resample(im, rng):
    from PIL import Image

    h, w = im.shape
    small = Image.fromarray(im).resize(
        (3 * w // 4, 3 * h // 4), Image.Resampling.BILINEAR
    )
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR))


def _jpeg(im, rng):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(im).save(buffer, "JPEG", quality=70)
    return np.asarray(Image.open(buffer))


def _blur(im, rng):
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(0.7)))


def _exposure(im, rng):
    gain, offset = rng.uniform(0.9, 1.1), rng.uniform(-15, 15)
    return np.clip(im * gain + offset, 0, 255).astype(np.uint8)


def _zoom(im, rng):
    from PIL import Image

    h, w = im.shape
    big = np.asarray(
        Image.fromarray(im).resize((w + 2, h + 2), Image.Resampling.BILINEAR)
    )
    return big[1 : h + 1, 1 : w + 1]


def _noise(im, rng):
    return np.clip(im + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8)


#: How :func:`near_copy_study` makes known copies of a uint8 film: name ->
#: ``f(image, rng) -> image``. ``shift``: 1-2 pixels each axis, edges repeated;
#: ``resample``: down to 3/4 size and back (bilinear); ``jpeg``: re-encoded at
#: quality 70; ``blur``: Gaussian, sigma 0.7 px; ``exposure``: gain 0.9-1.1 and
#: offset of -15 to 15 grey levels; ``zoom``: enlarged by 2 pixels and
#: centre-cropped (7 % at 28 px); ``noise``: Gaussian, sigma 4 grey levels.
COPY_TRANSFORMS = {
    "shift": _shift,
    "resample": _resample,
    "jpeg": _jpeg,
    "blur": _blur,
    "exposure": _exposure,
    "zoom": _zoom,
    "noise": _noise,
}

#: Transforms :func:`near_copy_study` keeps out of the threshold choice: their
#: detection rate is the honest estimate for copies made in ways not foreseen.
HELD_OUT_TRANSFORMS = ("zoom", "noise")


def near_copy_study(
    images,
    labels,
    *,
    n: int = 400,
    held_out=HELD_OUT_TRANSFORMS,
    max_false_alarm: float = 0.01,
    seed: int = 0,
) -> dict:
    """Choose and check a near-copy threshold on known copies and known different films.

    Draws ``n`` films. **Positives**: each film against a copy of itself made by
    each transform of :data:`COPY_TRANSFORMS`. **Certain negatives**: each film
    against every film of the other label (a film and its copy share a label).
    **Hard negatives**: each film against its most similar other film of the whole
    set, byte-identical copies left out (some of these may be true near copies: no
    patient identifiers can tell). The threshold maximises detection on the
    transforms not held out minus the false-alarm rate on hard negatives, among
    thresholds whose false-alarm rate on certain negatives is at most
    ``max_false_alarm``. Then the held-out transforms say how well it finds copies
    made in other ways.

    Parameters
    ----------
    images : array_like
        ``(N, H, W)`` uint8 films (e.g. ``dataset["train"].images``).
    labels : array_like
        ``(N,)`` labels.
    n : int
        Films drawn (at most N).
    held_out : sequence of str
        Transforms kept out of the choice.
    max_false_alarm : float
        Largest false-alarm rate allowed on certain negatives.
    seed : int
        Seed of the draw and of the transforms.

    Returns
    -------
    dict
        ``threshold``; ``detection`` (transform -> share of copies found);
        ``held_out``; ``false_alarm`` (``"different labels"``, ``"nearest
        neighbours"``); ``similarity`` (the same keys and every transform ->
        the similarities behind the rates, for plotting); ``n``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> small = rng.integers(0, 256, (60, 7, 7)).astype(np.uint8)
    >>> films = np.stack([np.kron(s, np.ones((4, 4), np.uint8)) for s in small])
    >>> study = near_copy_study(films, np.arange(60) % 2, n=30)
    >>> study["detection"]["exposure"], study["false_alarm"]["different labels"]
    (1.0, 0.0)
    """
    stack = _as_stack(images, "images")
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(stack):
        raise ValueError(f"{len(stack)} images but {len(labels)} labels")
    unknown = set(held_out) - set(COPY_TRANSFORMS)
    if unknown:
        raise ValueError(
            f"unknown transforms {sorted(unknown)}; choose from {sorted(COPY_TRANSFORMS)}"
        )
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(stack), size=min(int(n), len(stack)), replace=False))
    films = stack[pick].astype(np.uint8)
    similarity = {}
    for name, transform in COPY_TRANSFORMS.items():
        copies = np.stack([transform(im, rng) for im in films])
        similarity[name] = np.array(
            [copy_similarity(a, c)[0, 0] for a, c in zip(films, copies)], np.float32
        )
    to_all = copy_similarity(films, stack)
    to_all[
        _exact_mask(films, stack)
    ] = -1.0  # itself, and byte-identical copies: not negatives
    similarity["nearest neighbours"] = to_all.max(axis=1)
    different = labels[pick][:, None] != labels[None, :]
    similarity["different labels"] = to_all[different]

    chosen = [k for k in COPY_TRANSFORMS if k not in set(held_out)]
    positives = np.concatenate([similarity[k] for k in chosen])
    candidates = np.unique(
        np.concatenate([positives, similarity["nearest neighbours"]])
    )
    best, threshold = -np.inf, 1.0
    for t in candidates[::-1]:  # from the top: ties keep the higher threshold
        if np.mean(similarity["different labels"] >= t) > max_false_alarm:
            break
        score = np.mean(positives >= t) - np.mean(similarity["nearest neighbours"] >= t)
        if score > best:
            best, threshold = score, float(t)
    return {
        "threshold": threshold,
        "detection": {
            k: float(np.mean(similarity[k] >= threshold)) for k in COPY_TRANSFORMS
        },
        "held_out": tuple(held_out),
        "false_alarm": {
            k: float(np.mean(similarity[k] >= threshold))
            for k in ("different labels", "nearest neighbours")
        },
        "similarity": similarity,
        "n": len(films),
    }


def _exact_mask(films: np.ndarray, stack: np.ndarray) -> np.ndarray:
    keys = _byte_keys(stack)
    where = defaultdict(list)
    for i, key in enumerate(keys):
        where[key].append(i)
    mask = np.zeros((len(films), len(stack)), bool)
    for k, key in enumerate(_byte_keys(films)):
        mask[k, where.get(key, [])] = True
    return mask


def copies_between_splits(splits: dict, *, threshold: float = NEAR_THRESHOLD) -> list:
    """Exact and near copies between every pair of splits, test included.

    Parameters
    ----------
    splits : dict
        Split name -> ``(N, H, W)`` images, in order (e.g. train, val, test).
    threshold : float
        Near-copy threshold on :func:`copy_similarity`.

    Returns
    -------
    list of dict
        One row per pair of splits ``(first, second)``: ``"pair"``, ``"exact"``
        (images of the second split byte-identical to one of the first), ``"near"``
        (images of the second split with a near copy in the first; the exact ones
        among them), ``"images"`` (size of the second split) and ``"near_pairs"``
        (the ``(i, j)`` index pairs of :func:`find_duplicates` with ``near=True``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (4, 12, 12)).astype(np.uint8)
    >>> b = np.stack([a[0], np.clip(a[1] * 0.9 + 10, 0, 255).astype(np.uint8)])
    >>> [(r["pair"], r["exact"], r["near"]) for r in copies_between_splits({"a": a, "b": b})]
    [('a - b', 1, 2)]
    """
    names = list(splits)
    rows = []
    for k, first in enumerate(names):
        for second in names[k + 1 :]:
            a, b = splits[first], splits[second]
            exact = {j for _, j in find_duplicates(a, b)}
            pairs = find_duplicates(a, b, near=True, threshold=threshold)
            near = {j for _, j in pairs}
            rows.append(
                {
                    "pair": f"{first} - {second}",
                    "exact": len(exact),
                    "near": len(near | exact),
                    "images": len(_as_stack(b, second)),
                    "near_pairs": pairs,
                }
            )
    return rows


def _groups(n: int, pairs) -> list[list[int]]:
    """Connected components of the pairs (union-find), groups of two or more."""
    parent = list(range(n))

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    members = defaultdict(list)
    for k in range(n):
        members[root(k)].append(k)
    return sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[0])


def find_duplicates(
    images_a,
    images_b=None,
    *,
    near: bool = False,
    threshold: float = NEAR_THRESHOLD,
):
    """Duplicate images within one set, or shared between two.

    Parameters
    ----------
    images_a : array_like
        ``(N, H, W)`` or ``(N, H, W, 1)`` images, e.g. ``dataset.train.images``.
    images_b : array_like, optional
        A second set (e.g. ``dataset.val.images``). When given, images of
        ``images_b`` that duplicate an image of ``images_a`` are reported.
    near : bool
        False: exact duplicates, byte-identical pixels (same shape and dtype).
        True: near copies, pairs whose :func:`copy_similarity` is at least
        ``threshold``; exact duplicates are among them.
    threshold : float
        Smallest similarity (0 to 1) called a near copy, for ``near=True``
        (default :data:`NEAR_THRESHOLD`, chosen by :func:`near_copy_study`).

    Returns
    -------
    list
        Without ``images_b``: groups (lists of indices into ``images_a``, sorted)
        of two or more images that duplicate each other. With ``images_b``:
        ``(i, j)`` pairs, ``images_a[i]`` duplicating ``images_b[j]``, sorted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.integers(0, 256, (5, 8, 8)).astype(np.uint8)
    >>> train[3] = train[0]
    >>> val = np.stack([train[1], rng.integers(0, 256, (8, 8)).astype(np.uint8)])
    >>> find_duplicates(train), find_duplicates(train, val)
    ([[0, 3]], [(1, 0)])
    >>> brighter = np.clip(train[2].astype(int) + 2, 0, 255).astype(np.uint8)
    >>> find_duplicates(train, brighter[None])
    []
    >>> find_duplicates(train, brighter[None], near=True)
    [(2, 0)]
    """
    if not 0 < float(threshold) <= 1:
        raise ValueError(
            f"threshold={threshold!r}: give a similarity above 0 and at most 1 "
            f"(default {NEAR_THRESHOLD})"
        )
    a = _as_stack(images_a, "images_a")
    b = None if images_b is None else _as_stack(images_b, "images_b")
    if near:
        if b is None:
            return _groups(len(a), _near_pairs(a, a, threshold, True))
        return sorted(_near_pairs(a, b, threshold, False))
    keys_a = _byte_keys(a)
    where = defaultdict(list)
    for i, key in enumerate(keys_a):
        where[key].append(i)
    if b is None:
        return sorted((m for m in where.values() if len(m) > 1), key=lambda m: m[0])
    return sorted(
        (i, j) for j, key in enumerate(_byte_keys(b)) for i in where.get(key, ())
    )
