"""Duplicate images within a split and across splits: the leak a split can hide.

A validation image that also sits in the training set is not a test of anything:
the model has seen it. :func:`find_duplicates` finds

* **exact duplicates** by hashing each image's bytes (with its shape and dtype):
  byte-identical pixels, the copies a dataset picks up when the same file is
  exported twice;
* **near duplicates** (``near=True``) with a perceptual hash: the DCT hash
  ("pHash") of each image, compared by Hamming distance. It survives small
  changes of brightness, contrast, noise and resampling, which byte hashes do
  not; it is chosen over SSIM because it needs no extra library (SciPy's DCT)
  and compares thousands of images in seconds (64-bit codes, one XOR a pair).

The training chapter runs both on PneumoniaMNIST and reports what they find.
This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

__all__ = ["find_duplicates", "perceptual_hash", "NEAR_THRESHOLD"]

#: Default largest Hamming distance (of 64 bits) between the perceptual hashes
#: of two images called near duplicates.
NEAR_THRESHOLD = 4

_HASH_SIDE = 32  # images are resampled to 32 x 32 before the DCT
_KEEP = 8  # the 8 x 8 lowest frequencies make the 64-bit code


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


def perceptual_hash(images) -> np.ndarray:
    """64-bit DCT perceptual hash ("pHash") of each image.

    Each image is scaled to ``[0, 1]``, resampled to 32 x 32, transformed with
    a 2-D DCT; the 8 x 8 lowest frequencies are compared with their median
    (the constant term left out of the median), one bit each.

    Parameters
    ----------
    images : array_like
        ``(N, H, W)`` or ``(N, H, W, 1)`` images (any numeric dtype).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` uint64 codes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (1, 28, 28)).astype(np.uint8)
    >>> brighter = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    >>> codes = perceptual_hash(np.concatenate([a, brighter]))
    >>> int(np.bitwise_count(codes[0] ^ codes[1])) <= NEAR_THRESHOLD
    True
    """
    from PIL import Image
    from scipy.fft import dctn

    stack = _as_stack(images, "images").astype(np.float32)
    codes = np.zeros(len(stack), np.uint64)
    weights = (np.uint64(1) << np.arange(_KEEP * _KEEP, dtype=np.uint64))[::-1]
    for k, im in enumerate(stack):
        small = np.asarray(
            Image.fromarray(im).resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BOX)
        )
        low = dctn(small, norm="ortho")[:_KEEP, :_KEEP].reshape(-1)
        bits = low > np.median(low[1:])
        codes[k] = np.sum(weights[bits], dtype=np.uint64)
    return codes


def _hamming_pairs(codes_a, codes_b, threshold: int, same: bool) -> list:
    pairs = []
    for start in range(0, len(codes_a), 512):
        block = codes_a[start : start + 512, None] ^ codes_b[None, :]
        dist = np.bitwise_count(block)
        i, j = np.nonzero(dist <= threshold)
        i = i + start
        if same:
            keep = i < j
            i, j = i[keep], j[keep]
        pairs.extend(zip(i.tolist(), j.tolist()))
    return pairs


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
    threshold: int = NEAR_THRESHOLD,
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
        True: near duplicates, perceptual hashes (:func:`perceptual_hash`) at
        most ``threshold`` bits apart; exact duplicates are among them.
    threshold : int
        Largest Hamming distance (0-64) for ``near=True``.

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
    >>> noisy = np.clip(train[2].astype(int) + 2, 0, 255).astype(np.uint8)
    >>> find_duplicates(train, noisy[None]), find_duplicates(train, noisy[None], near=True)
    ([], [(2, 0)])
    """
    if not 0 <= int(threshold) <= 64:
        raise ValueError(f"threshold={threshold!r}: give a number of bits from 0 to 64")
    a = _as_stack(images_a, "images_a")
    b = None if images_b is None else _as_stack(images_b, "images_b")
    if near:
        codes_a = perceptual_hash(a)
        if b is None:
            return _groups(len(a), _hamming_pairs(codes_a, codes_a, threshold, True))
        return sorted(_hamming_pairs(codes_a, perceptual_hash(b), threshold, False))
    keys_a = _byte_keys(a)
    where = defaultdict(list)
    for i, key in enumerate(keys_a):
        where[key].append(i)
    if b is None:
        return sorted((m for m in where.values() if len(m) > 1), key=lambda m: m[0])
    return sorted(
        (i, j) for j, key in enumerate(_byte_keys(b)) for i in where.get(key, ())
    )
