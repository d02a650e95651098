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

Examples
--------
>>> import numpy as np
>>> from cnnguide.explorers import PoolingExplorer
>>> explorer = PoolingExplorer(np.zeros((16, 16)), size=2)
>>> explorer.stride = 1      # a notebook sets a trait; the page redraws
>>> explorer.reference()["shape"]
(15, 15)
"""

from cnnguide.explorers._core import (
    Explorer,
    ImageExplorer,
    decode_array,
    default_images,
)
from cnnguide.explorers.convolution import (
    CUSTOM_KERNEL,
    ConvolutionExplorer,
    convolution_explorer,
    convolution_small_multiples,
    convolution_view,
    explorer_kernel,
)
from cnnguide.explorers.pooling import (
    PoolingExplorer,
    pooling_explorer,
    pooling_small_multiples,
    pooling_view,
)
from cnnguide.explorers.stride_padding import (
    StridePaddingExplorer,
    stride_padding_explorer,
    stride_padding_small_multiples,
    stride_padding_view,
    window_walk_picture,
)
from cnnguide.explorers.activations import (  # noqa: E402  (helper H2's explorers)
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
    "StridePaddingExplorer",
    "ThresholdExplorer",
    "activation_small_multiples",
    "convolution_explorer",
    "convolution_small_multiples",
    "convolution_view",
    "decode_array",
    "default_images",
    "explorer_kernel",
    "featuremap_small_multiples",
    "pooling_explorer",
    "pooling_small_multiples",
    "pooling_view",
    "stride_padding_explorer",
    "stride_padding_small_multiples",
    "stride_padding_view",
    "threshold_small_multiples",
    "window_walk_picture",
]
