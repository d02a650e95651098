"""One base seed for every random choice the book makes.

Training on a CPU repeats exactly only on the same instruction set and thread
count, so a reader's run of a chapter is another sample of the same
experiment. To make that visible on purpose, every random choice a chapter
makes (weights, shuffling, sampling, phantoms, augmentation, LIME, the
bootstrap) takes its seed from :func:`seed`, which offsets one **base seed**.
The base seed is 0 unless the environment variable ``CNNGUIDE_SEED`` says
otherwise; ``make robustness`` runs every chapter under several base seeds.

A chapter asks for ``seed(k)`` with a small fixed offset ``k`` per use (0 for
the model, 1 for the sampler, ...). With the default base seed ``seed(k) ==
k``, so the book's default run is the one its cells always made; base seed
``b`` gives ``1000 * b + k``, so two base seeds never share a seed for
offsets below 1000.

Examples
--------
>>> import os
>>> os.environ.pop("CNNGUIDE_SEED", None) and None
>>> base_seed(), seed(), seed(3)
(0, 0, 3)
>>> os.environ["CNNGUIDE_SEED"] = "2"
>>> base_seed(), seed(3)
(2, 2003)
>>> float(rng(1).random()) == float(rng(1).random())
True
>>> del os.environ["CNNGUIDE_SEED"]
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["SEED_VARIABLE", "base_seed", "rng", "seed", "set_seed"]

#: The environment variable that shifts the base seed.
SEED_VARIABLE = "CNNGUIDE_SEED"

# Offsets stay below this, so that base seeds never overlap.
_STRIDE = 1000


def base_seed() -> int:
    """The base seed: ``$CNNGUIDE_SEED`` as a whole number >= 0, else 0.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``CNNGUIDE_SEED`` is set to something that is not a whole number >= 0;
        the message says how to fix it.

    Examples
    --------
    >>> import os
    >>> os.environ["CNNGUIDE_SEED"] = "seven"
    >>> base_seed()
    Traceback (most recent call last):
    ...
    ValueError: CNNGUIDE_SEED='seven' is not a whole number >= 0; set it to 0, 1, 2, ... or unset it
    >>> del os.environ["CNNGUIDE_SEED"]
    """
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(
            f"{SEED_VARIABLE}={text!r} is not a whole number >= 0; set it to "
            "0, 1, 2, ... or unset it"
        )
    return value


def seed(offset: int = 0) -> int:
    """The seed for one random choice: the base seed shifted by ``offset``.

    Parameters
    ----------
    offset : int, default 0
        A fixed number per use within a chapter, 0 <= offset < 1000.

    Returns
    -------
    int
        ``offset`` under the default base seed 0, ``1000 * base + offset``
        otherwise.

    Examples
    --------
    >>> seed(5)
    5
    """
    offset = int(offset)
    if not 0 <= offset < _STRIDE:
        raise ValueError(f"seed offset {offset} is outside 0..{_STRIDE - 1}")
    return _STRIDE * base_seed() + offset


def rng(offset: int = 0) -> np.random.Generator:
    """A NumPy generator seeded with :func:`seed` ``(offset)``.

    Parameters
    ----------
    offset : int, default 0

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> rng(0).integers(0, 10, 3).tolist() == rng(0).integers(0, 10, 3).tolist()
    True
    """
    return np.random.default_rng(seed(offset))


def set_seed(value: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic (repeatable CPU runs).

    Pass a seed from :func:`seed`, so that ``CNNGUIDE_SEED`` moves it.

    Examples
    --------
    >>> set_seed(0)
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(value)
    tf.config.experimental.enable_op_determinism()
