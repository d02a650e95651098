"""Dropout, by hand (chapter 7): the published form and the inverted one.

A NumPy reference written to teach the idea, not to train with (Keras's
``Dropout`` layer trains the book's models; ``tests/test_dropout.py`` checks
that it is the inverted form). During training each unit is kept with
probability ``1 - rate`` and zeroed otherwise. The two forms differ only in
where they rescale so that the expected activation is the same at training and
at inference: the original paper multiplies by the keep rate at inference, the
inverted form divides by it at training and leaves inference untouched.

Examples
--------
>>> import numpy as np
>>> inverted_dropout(np.ones(4), 0.5, training=False).tolist()
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["original_dropout", "inverted_dropout"]


def _keep_mask(shape, rate: float, rng) -> np.ndarray:
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1), got {rate!r}")
    return rng.random(shape) >= rate


def original_dropout(x, rate: float, *, training: bool, rng=None) -> np.ndarray:
    """Dropout as first published: drop units at training, multiply by the keep rate at inference.

    Examples
    --------
    >>> import numpy as np
    >>> original_dropout(np.ones(3), 0.5, training=False).tolist()
    [0.5, 0.5, 0.5]
    """
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return x * (1.0 - rate)
    rng = rng or np.random.default_rng()
    return x * _keep_mask(x.shape, rate, rng)


def inverted_dropout(x, rate: float, *, training: bool, rng=None) -> np.ndarray:
    """Inverted dropout (Keras, PyTorch): drop and scale by ``1/(1 - rate)`` at training, identity at inference.

    Both forms give the same expected activation; the inverted one leaves inference
    untouched, so a saved model needs no special case.

    Examples
    --------
    >>> import numpy as np
    >>> inverted_dropout(np.ones(3), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    >>> sorted(set(inverted_dropout(np.ones(100), 0.5, training=True,
    ...                             rng=np.random.default_rng(0)).tolist()))
    [0.0, 2.0]
    """
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return x.copy()
    rng = rng or np.random.default_rng()
    return x * _keep_mask(x.shape, rate, rng) / (1.0 - rate)
