"""The book's explorers: anywidget widgets that compute and draw in the page.

Each explorer is a small :class:`~cnnguide.explorers._core.Explorer`: traitlets
for its data and parameters on the Python side, one ES module in
``explorers/static/`` that computes what the view shows **and** draws it, in
JupyterLab, Notebook 7, VS Code, Colab and the static book alike (the page
embeds the widget state, ES module included, so the view responds with no
kernel). The controls are ipywidgets, jslinked to the explorer's traits.
Each module also holds the explorer's static small-multiples twin, drawn with
matplotlib from the NumPy references, for print and for readers without
JavaScript.

=========================================  ================================================
module                                     explorer (chapter)
=========================================  ================================================
:mod:`~cnnguide.explorers._core`           the pattern: :class:`Explorer`,
                                           :class:`ImageExplorer`, images to bytes,
                                           :func:`default_images`
:mod:`~cnnguide.explorers.convolution`     :class:`ConvolutionExplorer`: image, kernel,
                                           size, stride, padding, window, products (3)
:mod:`~cnnguide.explorers.stride_padding`  :class:`StridePaddingExplorer`: the window
                                           walk and the output-size formula (4)
:mod:`~cnnguide.explorers.pooling`         :class:`PoolingExplorer`: max / average pooling,
                                           window, stride, padding, global average (4)
:mod:`~cnnguide.explorers.featuremaps`     :class:`FeatureMapExplorer`: a model's
                                           feature maps, layer by layer (5)
:mod:`~cnnguide.explorers.activations`     :class:`ActivationExplorer`: activation
                                           functions and their derivatives (6)
:mod:`~cnnguide.explorers.thresholds`      :class:`ThresholdExplorer`: confusion matrix,
                                           scores and ROC / PR point at a threshold (10)
=========================================  ================================================

The front-end contract (``data-explorer``, ``data-draws``, ``data-values``, the
canvas's ``role="img"`` and ``aria-label``) is described in
:mod:`cnnguide.explorers._core`; the browser tests and ``make check-book`` rely on it.

**Adding an explorer: one module, one .js file, one registry entry.** The
module (``explorers/<name>.py``) holds the :class:`Explorer` subclass, whose
``_esm`` is ``load_esm("<name>")``, and its static small-multiples twin; the ES
module is ``explorers/static/<name>.js`` (using ``_shared.js``); the entry in
:data:`REGISTRY` names the two and a ``demo`` that builds the explorer from
tiny synthetic data. The tests (``tests/test_explorers.py`` checks that every
``.js`` file has an entry and each entry's class loads that file) and the
small test book (``tests/book_small/explorers.ipynb`` shows every demo;
``tests/test_book_browser.py`` expects each one to render and respond) read
the registry, so they need no edit. The module's tests go in
``tests/test_explorers_<name>.py`` (the page, in Chromium:
``tests/test_explorers_<name>_browser.py``).

Examples
--------
>>> import numpy as np
>>> from cnnguide.explorers import PoolingExplorer
>>> explorer = PoolingExplorer(np.zeros((16, 16)), size=2)
>>> explorer.stride = 1      # a notebook sets a trait; the page redraws
>>> explorer.reference()["shape"]
(15, 15)
>>> list(REGISTRY)
['convolution', 'stride_padding', 'pooling', 'featuremaps', 'activations', 'thresholds']
>>> REGISTRY["pooling"]
<explorer 'pooling': PoolingExplorer, twin pooling_small_multiples>
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnguide.explorers._core import (
    Explorer,
    ImageExplorer,
    decode_array,
    default_images,
)
from cnnguide.explorers.convolution import (
    CUSTOM_KERNEL,
    ConvolutionExplorer,
    convolution_small_multiples,
    explorer_kernel,
)
from cnnguide.explorers.pooling import (
    PoolingExplorer,
    pooling_small_multiples,
)
from cnnguide.explorers.stride_padding import (
    StridePaddingExplorer,
    stride_padding_small_multiples,
    window_walk_picture,
)
from cnnguide.explorers.activations import (
    ActivationExplorer,
    activation_small_multiples,
)
from cnnguide.explorers.featuremaps import (
    FeatureMapExplorer,
    featuremap_small_multiples,
)
from cnnguide.explorers.thresholds import (
    ThresholdExplorer,
    threshold_small_multiples,
)

__all__ = [
    "CUSTOM_KERNEL",
    "ActivationExplorer",
    "ConvolutionExplorer",
    "Explorer",
    "FeatureMapExplorer",
    "ImageExplorer",
    "PoolingExplorer",
    "REGISTRY",
    "RegistryEntry",
    "StridePaddingExplorer",
    "ThresholdExplorer",
    "activation_small_multiples",
    "convolution_small_multiples",
    "decode_array",
    "default_images",
    "explorer_kernel",
    "featuremap_small_multiples",
    "pooling_small_multiples",
    "stride_padding_small_multiples",
    "threshold_small_multiples",
    "window_walk_picture",
]


@dataclass(frozen=True, repr=False)
class RegistryEntry:
    """One explorer of the book, as :data:`REGISTRY` lists it.

    Attributes
    ----------
    name : str
        The explorer's name: the ``data-explorer`` attribute of its view's root
        and the stem of its ES module, ``explorers/static/<name>.js``.
    cls : type
        The :class:`Explorer` subclass (its ``_esm`` is ``load_esm(name)``).
    twin : callable
        Its static small-multiples twin (a matplotlib figure), in the same module.
    demo : callable
        ``demo()`` builds the explorer from tiny synthetic data: no dataset, no
        model, well under a second. The small test book shows each one.

    Examples
    --------
    >>> entry = REGISTRY["thresholds"]
    >>> isinstance(entry.demo(), entry.cls), entry.twin.__name__
    (True, 'threshold_small_multiples')
    """

    name: str
    cls: type
    twin: Callable
    demo: Callable[[], Explorer]

    def __repr__(self) -> str:
        return (
            f"<explorer {self.name!r}: {self.cls.__name__}, twin {self.twin.__name__}>"
        )


def _demo_images() -> dict[str, np.ndarray]:
    """Two synthetic 32x32 images: a bright ring and uniform noise."""
    yy, xx = np.mgrid[0:32, 0:32]
    ring = np.exp(-((np.hypot(yy - 16, xx - 12) - 8) ** 2) / 8)
    return {"ring": ring, "noise": np.random.default_rng(0).random((32, 32))}


def _demo_maps() -> dict[str, np.ndarray]:
    """Two random (H, W, C) "layers", as a model's feature maps would be."""
    rng = np.random.default_rng(0)
    return {"conv1": rng.random((16, 16, 4)), "conv2": rng.random((8, 8, 6))}


def _demo_thresholds() -> ThresholdExplorer:
    """200 random cases, pneumonia scored a little higher than normal."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 200)
    y_score = np.clip(0.3 * y_true + 0.7 * rng.random(200), 0, 1)
    return ThresholdExplorer(y_true, y_score)


REGISTRY: dict[str, RegistryEntry] = {
    entry.name: entry
    for entry in (
        RegistryEntry(
            "convolution",
            ConvolutionExplorer,
            convolution_small_multiples,
            lambda: ConvolutionExplorer(_demo_images()),
        ),
        RegistryEntry(
            "stride_padding",
            StridePaddingExplorer,
            stride_padding_small_multiples,
            lambda: StridePaddingExplorer(_demo_images()),
        ),
        RegistryEntry(
            "pooling",
            PoolingExplorer,
            pooling_small_multiples,
            lambda: PoolingExplorer(_demo_images()),
        ),
        RegistryEntry(
            "featuremaps",
            FeatureMapExplorer,
            featuremap_small_multiples,
            lambda: FeatureMapExplorer(_demo_maps()),
        ),
        RegistryEntry(
            "activations",
            ActivationExplorer,
            activation_small_multiples,
            ActivationExplorer,
        ),
        RegistryEntry(
            "thresholds",
            ThresholdExplorer,
            threshold_small_multiples,
            _demo_thresholds,
        ),
    )
}
"""Every explorer of the book, by name, in chapter order (see "Adding an explorer")."""
