"""cnnguide: the companion package of the book *Convolutional neural networks on chest X-rays*.

Every chapter of the book narrates; the logic lives here, one module per idea:

================================  ==================================================
``cnnguide.data``                 the data subpackage; its index lists the modules:
``cnnguide.data.containers``      Dataset, Split and the data errors
``cnnguide.data.pneumoniamnist``  load_dataset, locate, download, phantom fallback
``cnnguide.data.imagefile``       one PNG, JPEG or DICOM image (bit depth, window)
``cnnguide.data.folders``         image folders; validation split by patient
``cnnguide.data.duplicates``      exact and near-duplicate images across splits
``cnnguide.data.phantoms``        synthetic chest radiographs with lesion masks
``cnnguide.neuron``               the artificial neuron (chapter 1)
``cnnguide.images``               pixels, normalisation, tensor layouts (chapter 2)
``cnnguide.kernels``              the named hand-made kernels (chapter 3)
``cnnguide.ops``                  reference conv2d, pool2d, output size (chapters 3-4)
``cnnguide.explorers``            explorers that compute in the page, static twins (3-6, 10)
``cnnguide.layers``               demo model, parameter counts, heads (5, 7)
``cnnguide.layer_outputs``        each layer's output (feature maps) for an image (5)
``cnnguide.activations``          activation functions and gradient experiments (6)
``cnnguide.normalization``        batch, layer and instance normalization (7)
``cnnguide.dropout``              dropout by hand, original and inverted (7)
``cnnguide.models``               the source's CNN and the book's recommended one (8)
``cnnguide.train``                config to trained model, with callbacks (8)
``cnnguide.ensemble``             ensembles and test-time augmentation as one model (8)
``cnnguide.metrics``              confusion counts, scores, intervals, thresholds (8-10)
``cnnguide.explain``              Grad-CAM, saliency, occlusion, LIME, their scores (8, 11)
``cnnguide.calibration``          calibration of predicted probabilities (10)
``cnnguide.corruptions``          acquisition-style corruptions, shifted validation (8)
``cnnguide.imbalance``            samplers, focal loss, augmentation, comparison (9)
``cnnguide.plotting``             small figure helpers shared by the chapters
``cnnguide.progress``             progress of training and comparisons
``cnnguide.prose``                numbers the prose states (glue)
``cnnguide.deploy``               front ends over one prediction service:
``cnnguide.deploy.service``       the prediction service every front end calls
``cnnguide.deploy.api``           the web API (FastAPI)
``cnnguide.deploy.app``           the Streamlit demo page
``cnnguide.deploy.edge``          TFLite export and its checks
``cnnguide.cli``                  ``python -m cnnguide``: data, train, evaluate, predict
================================  ==================================================

Chapter by chapter, the modules its cells call (each chapter opens with the same
list, "The code behind this chapter"; ``tests/test_package_map.py`` checks both
against the imports of the chapter's cells; every chapter also uses ``data``'s
``load_dataset``, ``prose`` and ``seeding``):

================================  ====================================================
01 medical background             neuron, activations, data.phantoms, images,
                                  metrics, plotting
02 images as numbers              images, data.imagefile, data.phantoms, plotting
03 kernels                        kernels, ops, images, explorers.convolution,
                                  data.phantoms, plotting
04 convolution arithmetic         ops, explorers.stride_padding, explorers.pooling,
                                  layers, models, kernels, images, data.phantoms,
                                  plotting
05 layers                         layers, models, layer_outputs, explorers.featuremaps,
                                  kernels, ops
06 activations                    activations, explorers.activations, layers, metrics,
                                  train
07 pooling normalization dropout  normalization, dropout, layers, models, metrics,
                                  plotting, train
08 training                       train, ensemble, models, metrics,
                                  explorers.thresholds, explain, data.duplicates,
                                  corruptions, images, kernels, plotting, prose
09 imbalanced data                imbalance, metrics, plotting
10 evaluation metrics             metrics, calibration, explorers.thresholds, train,
                                  models
11 explaining predictions         explain, metrics, data.phantoms, models, train
12 deployment                     deploy.service, deploy.api, deploy.app,
                                  deploy.edge, cli, explain, models, train
================================  ====================================================

This is teaching material, not a diagnostic device.
"""

import os as _os

# TensorFlow reads these once, at import: set them before any module imports it.
# Level 3 keeps its C++ log lines (tf.data thread-pool notices) out of the book;
# real failures still raise Python exceptions.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# Keras 3 runs on several backends; the book, its models and Grad-CAM use TensorFlow.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

DISCLAIMER = (
    "Teaching material, not a diagnostic device: no output of cnnguide may be "
    "used to diagnose, treat or triage a patient."
)
