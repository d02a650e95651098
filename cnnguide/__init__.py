"""cnnguide: the companion package of the book *Convolutional neural networks on chest X-rays*.

Every chapter of the book narrates; the logic lives here, one module per idea:

========================  ==================================================
``cnnguide.data``         PneumoniaMNIST, image folders, single images
``cnnguide.phantoms``     synthetic chest radiographs with lesion masks
``cnnguide.plotting``     small figure helpers shared by the chapters
========================  ==================================================

This is teaching material, not a diagnostic device.
"""

import os as _os

# TensorFlow reads these once, at import: set them before any module imports it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"

DISCLAIMER = (
    "Teaching material, not a diagnostic device: no output of cnnguide may be "
    "used to diagnose, treat or triage a patient."
)
