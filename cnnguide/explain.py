"""Explaining a Keras classifier's predictions, and scoring the explanations.

Every method has one call shape, ``explain(model, images, method=...)``, which returns
``(N, H, W)`` float32 maps in ``[0, 1]`` (1 = most evidence for the class):

``"grad_cam"``
    Grad-CAM (Selvaraju et al., 2017): a gradient-weighted sum of feature maps. Take the
    *rectified* feature maps ``A_k`` of the last convolution block (after its batch
    normalization and ReLU, :func:`find_feature_layer`) and the model's score ``y`` for
    one class. The weight of channel ``k`` is the mean over the map of ``∂y/∂A_k``; the
    heat map is ``ReLU(Σ_k weight_k · A_k)``, scaled to ``[0, 1]`` and resized to the
    input. It is only as fine as that layer's grid (7 × 7 at 28 px in the book's
    28-px model): it says "which part of the image", never a lesion outline.
``"saliency"``
    Plain gradient saliency (Simonyan et al., 2014): ``|∂y/∂x|`` per pixel, which is
    "where a small change of the input changes the score most" -- not the same thing.
``"occlusion"``
    Occlusion sensitivity (Zeiler and Fergus, 2014): how far the score falls when a
    square patch is greyed out, averaged over the patches that cover each pixel.
``"lime"``
    LIME (Ribeiro et al., 2016), through the ``lime`` package's
    ``lime_image.LimeImageExplainer``: a linear model fitted to the scores of images
    with random superpixels hidden; the map is each superpixel's positive weight.
``"random"``
    Uniform noise: the baseline every score must beat.

**Which score.** For a model that ends in one sigmoid unit (every model of the book),
every method explains the **logit** ``z``, the score before the sigmoid (for class 0,
``-z``), as Selvaraju et al. and the Keras Grad-CAM example do. The probability
``p = sigmoid(z)`` saturates: at ``p = 1.0`` in float32 its gradient is 0 and hiding a
patch changes nothing, so a confident prediction would get a blank map from every
method. For Grad-CAM and saliency, whose maps are scaled to a maximum of 1, this changes
nothing else (``∂p/∂· = p(1 - p) ∂z/∂·``, one positive factor per image); for occlusion
and LIME the falls and weights are measured in logit units. A softmax model is explained
through its class probabilities; :func:`deletion_curve` follows the probability, as
Petsiuk et al. do.

Most published Grad-CAM recipes build ``keras.Model(model.inputs,
[model.get_layer(name).output, model.output])``. That breaks as soon as the convolution
lives inside a sub-model (a pretrained backbone wrapped by a classification head): the
inner layer's symbolic output belongs to the backbone's own graph, not to the outer one.
:func:`grad_cam` avoids graph surgery altogether. It runs the *whole* model once, eagerly,
in inference mode, inside a ``tf.GradientTape``, and records the target layer's output
tensor as it passes through. The tape sees every operation, so ``∂y/∂A`` is available for
any nesting depth and any topology (skip connections across the backbone included), and
preprocessing or augmentation layers act as they do at inference (identity).

On synthetic phantoms the true lesion is known, so a heat map can be scored:
:func:`heat_in_mask` (share of the heat that falls on the lesion) and
:func:`pointing_game` (is the hottest pixel on the lesion?); :func:`score_localization`
does both for a batch, next to the chance level (the lesion's share of the image).
:func:`deletion_curve` (Petsiuk et al., 2018) needs no mask: it removes the most salient
pixels first and follows the score down. The sanity checks of Adebayo et al. (2018) --
does the map change when the model's weights are randomised? -- are
:func:`cascading_randomization` and :func:`map_similarity`; :func:`mean_interval` gives
a bootstrap interval for any per-image score.

Grad-CAM records the target layer's output by shadowing that layer's ``call`` for the
duration of one forward pass; a module lock makes that safe for concurrent callers
that share one model (a web service's threads, say).

This is teaching material, not a diagnostic device: a plausible heat map does not make
a prediction trustworthy.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cnnguide.images import as_model_input

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras
    import matplotlib.axes
    import matplotlib.figure

__all__ = [
    "METHODS",
    "explain",
    "timed_explain",
    "find_last_conv_layer",
    "find_feature_layer",
    "grad_cam",
    "grad_cam_maps",
    "saliency_maps",
    "occlusion_maps",
    "lime_maps",
    "random_maps",
    "deletion_curve",
    "deletion_auc",
    "cascading_randomization",
    "map_similarity",
    "mean_interval",
    "score_maps",
    "heat_in_mask",
    "chest_regions",
    "heat_shares",
    "pointing_game",
    "zhang_tolerance",
    "score_localization",
    "overlay",
    "heat_colorbar",
    "HEAT_CMAP",
    "gallery",
]

_CONV_CLASS_NAMES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")
# Layers that act on each element (or channel) and keep the feature map's grid: the
# batch normalization and activation that follow a convolution in a block.
_ELEMENTWISE_CLASS_NAMES = (
    "BatchNormalization",
    "ReLU",
    "Activation",
    "LeakyReLU",
    "PReLU",
    "ELU",
)
# One forward pass at a time may shadow a layer's ``call`` (see :func:`_recording`).
_RECORDING_LOCK = threading.RLock()


def _sublayers(layer: Any) -> list:
    """Direct child layers of a model (empty for a plain layer)."""
    import keras

    if isinstance(layer, keras.Model):
        return list(layer.layers)
    return []


def _is_conv2d(layer: Any) -> bool:
    import keras

    kinds = tuple(getattr(keras.layers, name) for name in _CONV_CLASS_NAMES)
    return isinstance(layer, kinds)


def _conv_paths(model: Any, prefix: str = "") -> list[str]:
    """Paths ``"outer/inner/conv"`` of every 2-D convolution, in forward order."""
    paths: list[str] = []
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if _sublayers(layer):
            paths.extend(_conv_paths(layer, prefix=path + "/"))
        elif _is_conv2d(layer):
            paths.append(path)
    return paths


def find_last_conv_layer(model: keras.Model) -> str:
    """Path to the last 2-D convolution of a model, descending into nested models.

    Parameters
    ----------
    model : keras.Model
        A Sequential or Functional model; sub-models (for example a backbone from
        ``keras.applications``) are searched too, in forward order.

    Returns
    -------
    str
        The layer names from the outer model inwards, joined by ``"/"``, e.g.
        ``"last_conv"`` or ``"backbone/Conv_1"``. :func:`grad_cam` accepts this path.

    Raises
    ------
    ValueError
        If the model has no ``Conv2D``, ``SeparableConv2D`` or ``DepthwiseConv2D`` layer.

    Examples
    --------
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")],
    ...                          name="backbone")
    >>> outer = keras.Sequential([keras.Input((8, 8, 1)), inner,
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])
    >>> find_last_conv_layer(outer)
    'backbone/c'
    """
    paths = _conv_paths(model)
    if not paths:
        raise ValueError(
            f"model {model.name!r} has no 2-D convolution layer (searched nested models too); "
            "pass layer=<name> of a layer with a (batch, height, width, channels) output"
        )
    return paths[-1]


def _is_elementwise(layer: Any) -> bool:
    import keras

    kinds = tuple(
        getattr(keras.layers, name)
        for name in _ELEMENTWISE_CLASS_NAMES
        if hasattr(keras.layers, name)
    )
    return isinstance(layer, kinds)


def find_feature_layer(model: keras.Model) -> str:
    """Path to the *rectified* output of the last convolution block.

    Grad-CAM weighs feature maps as the rest of the network sees them: after the
    block's batch normalization and activation, not the raw convolution output
    (which can be negative and is rescaled by batch normalization). Starting from
    :func:`find_last_conv_layer`, this walks forward over the layers that directly
    follow it in the same (sub-)model and keep its grid (``BatchNormalization``,
    ``ReLU``, ``Activation``, ``LeakyReLU``, ``PReLU``, ``ELU``), and returns the last.
    A convolution with its own activation and nothing after it is its own answer.

    Parameters
    ----------
    model : keras.Model
        A Sequential or Functional model, nested models included.

    Returns
    -------
    str
        A path as :func:`find_last_conv_layer` gives, e.g. ``"block3_relu1"`` for
        :func:`cnnguide.models.build_cnn` or ``"mobilenetv2_0.35_32/out_relu"`` for a
        ``keras.applications.MobileNetV2`` backbone.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(2, 3, name="c"), keras.layers.BatchNormalization(name="bn"),
    ...     keras.layers.ReLU(name="relu"), keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(1)])
    >>> find_last_conv_layer(model), find_feature_layer(model)
    ('c', 'relu')
    """
    path = find_last_conv_layer(model)
    parts = path.split("/")
    container = model
    for part in parts[:-1]:
        container = {child.name: child for child in _sublayers(container)}[part]
    siblings = list(container.layers)
    names = [layer.name for layer in siblings]
    index = names.index(parts[-1])
    last = index
    for later in siblings[index + 1 :]:
        if not _is_elementwise(later) or not _follows(later, siblings[last]):
            break
        last += 1
    return "/".join(parts[:-1] + [siblings[last].name])


def _follows(layer: Any, previous: Any) -> bool:
    """True when ``layer`` takes ``previous``'s output as its (only) input."""
    try:
        inputs = layer.input
        output = previous.output
    except (AttributeError, ValueError):  # a Sequential layer not yet built: a chain
        return True
    if isinstance(inputs, (list, tuple)):
        return len(inputs) == 1 and inputs[0] is output
    return inputs is output


def _resolve_layer(model: Any, layer: Any) -> Any:
    """Turn ``None``, a name, a ``"a/b/c"`` path or a layer object into a layer of ``model``."""
    if layer is None:
        layer = find_feature_layer(model)
    if not isinstance(layer, str):
        return layer
    current = model
    for part in layer.split("/"):
        children = {child.name: child for child in _sublayers(current)}
        if part not in children:
            break
        current = children[part]
    else:
        return current
    # A bare name: search nested models, outermost first.
    matches = []

    def visit(container: Any) -> None:
        for child in _sublayers(container):
            if child.name == layer:
                matches.append(child)
            visit(child)

    visit(model)
    if not matches:
        raise ValueError(
            f"model {model.name!r} has no layer {layer!r}; use find_last_conv_layer(model) "
            "or a path such as 'backbone/Conv_1'"
        )
    return matches[0]


@contextlib.contextmanager
def _recording(layer: Any):
    """Record every output of ``layer.call`` while the context is open.

    Keras 3 invokes ``self.call`` from ``Layer.__call__``; shadowing it on the instance
    lets us keep the exact tensor that the rest of the model consumes, so the tape can
    differentiate the model's output with respect to it. Callers hold
    ``_RECORDING_LOCK`` for as long as the context is open.
    """
    records: list = []
    original = layer.call

    def call_and_record(*args, **kwargs):
        outputs = original(*args, **kwargs)
        records.append(outputs)
        return outputs

    layer.call = call_and_record
    try:
        yield records
    finally:
        del layer.call  # the class's own method shows through again


def _model_input_shape(model: Any) -> tuple:
    shape = (
        model.inputs[0].shape if getattr(model, "inputs", None) else model.input_shape
    )
    return tuple(shape)[1:]


def _prepare_image(image: np.ndarray, model: Any) -> np.ndarray:
    """(H, W) / (H, W, C), uint8 or float -> (1, H, W, C) float32 matching the model."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(
            f"grad_cam takes one image shaped (H, W) or (H, W, C), got shape {np.shape(image)}; "
            "for a batch, call it once per image"
        )
    array = as_model_input(array[np.newaxis])[0]
    expected = _model_input_shape(model)
    if len(expected) == 3:
        height, width, channels = expected
        if channels is not None and array.shape[-1] != channels:
            if array.shape[-1] == 1 and channels == 3:
                array = np.repeat(array, 3, axis=-1)  # greyscale into an RGB backbone
            else:
                raise ValueError(
                    f"the model takes {channels}-channel images but the image has "
                    f"{array.shape[-1]} channel(s); convert it (greyscale has 1, RGB 3)"
                )
        if (height is not None and array.shape[0] != height) or (
            width is not None and array.shape[1] != width
        ):
            raise ValueError(
                f"the model takes {height}×{width} images but the image is "
                f"{array.shape[0]}×{array.shape[1]}; resize it first "
                "(cnnguide.data.load_image(path, size=...) does)"
            )
    return array[None]


def grad_cam(
    model: keras.Model,
    image: np.ndarray,
    *,
    layer: str | Any | None = None,
    class_index: int | None = None,
) -> np.ndarray:
    """Grad-CAM heat map of one image, for any Sequential, Functional or nested model.

    Parameters
    ----------
    model : keras.Model
        A trained classifier. With a single sigmoid output, the score explained is the
        logit of the positive class (pneumonia), the sigmoid's input, which does not
        saturate; a softmax output is read as class probabilities.
    image : np.ndarray
        One image, ``(H, W)`` or ``(H, W, C)``; uint8 (0-255) is scaled to ``[0, 1]``,
        floats are used as they are. A greyscale image fed to a 3-channel model is
        repeated over the channels.
    layer : str or keras.layers.Layer, optional
        The layer to explain: a name, a path ``"backbone/Conv_1"`` or the layer itself.
        Default: :func:`find_feature_layer`, the rectified output of the last
        convolution block (after its batch normalization and ReLU); for an ensemble
        (:mod:`cnnguide.ensemble`), the mean of each member's map at that layer.
    class_index : int, optional
        Which class to explain. For a single sigmoid output, 1 (default) explains the
        positive class (score ``z``, the logit) and 0 the negative one (``-z``). For a
        softmax output, the default is the predicted class.

    Returns
    -------
    np.ndarray
        ``(H, W)`` float32 heat in ``[0, 1]``, resized (bilinear) to the input size; its
        maximum is 1, unless the map is all zero (no positive evidence for the class, or
        zero gradients), which is returned as zeros, never NaN.

    Raises
    ------
    ValueError
        If the image does not fit the model, the layer is unknown, or its output is not
        a ``(batch, height, width, channels)`` feature map.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16, 16, 1)),
    ...                           keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
    ...                           keras.layers.GlobalAveragePooling2D(),
    ...                           keras.layers.Dense(1, activation="sigmoid")])
    >>> heat = grad_cam(model, np.random.default_rng(0).random((16, 16), dtype=np.float32))
    >>> heat.shape, heat.dtype, bool(0.0 <= heat.min() and heat.max() <= 1.0)
    ((16, 16), dtype('float32'), True)
    """
    return _grad_cam_batch(model, _prepare_image(image, model), layer, class_index)[0]


def _grad_cam_batch(
    model: Any, batch: np.ndarray, layer: Any, class_index: int | None
) -> np.ndarray:
    """Grad-CAM of a prepared ``(N, H, W, C)`` float32 batch, in one forward pass.

    In inference mode every image is processed on its own (batch normalization uses
    its moving statistics), so one tape over the batch gives each image's gradients.
    An ensemble (:func:`cnnguide.ensemble.build_ensemble`) with no layer named gets
    the mean of its members' maps, each member explained on the unmoved image.
    """
    import tensorflow as tf

    from cnnguide.ensemble import members

    if layer is None and members(model):
        maps = [
            _grad_cam_batch(member, batch, None, class_index)
            for member in members(model)
        ]
        return _normalise(np.mean(maps, axis=0))
    target = _resolve_layer(model, layer)
    batch = tf.convert_to_tensor(batch)
    with _RECORDING_LOCK, _recording(target) as records, tf.GradientTape() as tape:
        # Watch the input, not only the trainable weights: with a frozen backbone
        # (trainable=False, the usual transfer-learning set-up) nothing else is watched.
        tape.watch(batch)
        with _pre_sigmoid(model) as logits:
            outputs = model(batch, training=False)
        if isinstance(outputs, (list, tuple, dict)):
            raise ValueError(
                "grad_cam explains single-output models; this one has several outputs"
            )
        if not records:
            raise ValueError(
                f"layer {target.name!r} was not used when the model ran; pick a layer on the "
                "path from the input to the output"
            )
        features = records[-1]
        score = _class_score(outputs, class_index, logits)
    if len(features.shape) != 4:
        raise ValueError(
            f"layer {target.name!r} outputs shape {tuple(features.shape)}, not a "
            "(batch, height, width, channels) feature map; choose a convolution layer"
        )
    gradients = tape.gradient(score, features)
    if gradients is None:  # the score does not depend on this layer at all
        gradients = tf.zeros_like(features)
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # (N, K): one weight per channel
    cams = tf.nn.relu(tf.reduce_sum(features * weights[:, None, None, :], axis=-1))
    cams = np.nan_to_num(
        cams.numpy().astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0
    )
    height, width = int(batch.shape[1]), int(batch.shape[2])
    out = np.zeros((len(cams), height, width), dtype=np.float32)
    for index, cam in enumerate(cams):
        peak = cam.max()
        if not peak > 0:  # no positive evidence (or zero gradients): a blank map
            continue
        # Scale before resizing (raw values can be ~1e-15), and again after: bilinear
        # upsampling rarely lands a pixel exactly on the hottest cell's centre.
        resized = tf.image.resize(
            (cam / peak)[..., None], (height, width), method="bilinear"
        )
        resized = np.clip(resized.numpy()[..., 0], 0.0, None)
        if resized.max() > 0:
            out[index] = resized / resized.max()
    return out


def _class_score(outputs: Any, class_index: int | None, logits: bool = False) -> Any:
    """The score to explain, per image.

    A single sigmoid output: its logit ``z`` (``-z`` for class 0) when ``logits``
    (the model ran inside :func:`_pre_sigmoid`), else ``p`` (``1 - p``). Softmax: a
    column of the probabilities.
    """
    import tensorflow as tf

    if outputs.shape[-1] == 1:
        if class_index not in (None, 0, 1):
            raise ValueError(
                f"class_index={class_index!r}: a single sigmoid output has classes 0 and 1"
            )
        column = outputs[:, 0]
        if class_index in (None, 1):
            return column
        return -column if logits else 1.0 - column
    if class_index is None:
        index = tf.argmax(outputs, axis=-1)
        return tf.gather(outputs, index, axis=1, batch_dims=1)
    index = int(class_index)
    if not 0 <= index < outputs.shape[-1]:
        raise ValueError(
            f"class_index={index} but the model has {outputs.shape[-1]} classes"
        )
    return outputs[:, index]


@contextlib.contextmanager
def _pre_sigmoid(model: Any):
    """Run ``model`` without its final sigmoid: it outputs the logit while inside.

    Yields True when the model's last layer applies a sigmoid (a ``Dense`` with
    ``activation="sigmoid"``, as every model of the book ends), which is then
    switched off for the duration (the Keras Grad-CAM example does the same);
    False for any other model, left as it is.
    """
    import keras

    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(last, "activation", None)
    if activation is not keras.activations.sigmoid:
        yield False
        return
    with _RECORDING_LOCK:
        last.activation = keras.activations.linear
        try:
            yield True
        finally:
            last.activation = activation


def _logit(p: np.ndarray) -> np.ndarray:
    """Logit of probabilities, clipped where float32 saturates (the fallback)."""
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


# --------------------------------------------------------------------------------------
# One call shape for every method: (model, images, **options) -> (N, H, W) maps


def _prepare_batch(images: np.ndarray, model: Any) -> np.ndarray:
    """(N, H, W) / (N, H, W, C), uint8 or float -> (N, H, W, C) float32 for the model."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be a batch shaped (N, H, W) or (N, H, W, C), got shape "
            f"{images.shape}; for one image use images[None]"
        )
    if images.ndim == 3 or images.shape[-1] not in (1, 3):
        images = images[..., None] if images.ndim == 3 else images
    if len(images) == 0:
        raise ValueError("images is empty: give at least one image")
    return np.concatenate([_prepare_image(image, model) for image in images])


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to a maximum of 1 (an all-zero map stays zero)."""
    maps = np.clip(np.nan_to_num(np.asarray(maps, np.float64)), 0.0, None)
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    safe = np.where(peaks > 0, peaks, 1.0)[:, None, None]
    return (maps / safe).astype(np.float32)


def _probabilities(model: Any, batch: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs ``(N, classes)`` in inference mode, in chunks."""
    parts = [
        np.asarray(model(batch[i : i + batch_size], training=False))
        for i in range(0, len(batch), batch_size)
    ]
    return np.concatenate(parts).astype(np.float64)


def _logits(model: Any, batch: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The score perturbation methods compare: ``(N, classes)``.

    A single sigmoid output gives its logit, which does not saturate (a
    probability of 1.0 in float32 hides every change); softmax outputs stay
    probabilities.
    """
    with _pre_sigmoid(model) as logits:
        out = _probabilities(model, batch, batch_size)
    if out.shape[1] == 1 and not logits:
        out = _logit(out)  # a model that does not end in a sigmoid layer
    return out


def _class_of(probabilities: np.ndarray, class_index: int | None) -> np.ndarray:
    """Per-image class to explain: the given one, or 1 / the predicted one."""
    n, classes = probabilities.shape
    if classes == 1:
        return np.full(n, 1 if class_index is None else int(class_index))
    if class_index is None:
        return probabilities.argmax(axis=1)
    return np.full(n, int(class_index))


def _pick(probabilities: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if probabilities.shape[1] == 1:
        p = probabilities[:, 0]
        return np.where(classes == 1, p, 1.0 - p)
    return probabilities[np.arange(len(probabilities)), classes]


def _pick_logit(logits: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if logits.shape[1] == 1:
        z = logits[:, 0]
        return np.where(classes == 1, z, -z)
    return logits[np.arange(len(logits)), classes]


def grad_cam_maps(
    model: keras.Model,
    images: np.ndarray,
    *,
    layer: str | Any | None = None,
    class_index: int | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Grad-CAM of a batch: :func:`grad_cam` for each image, in batched passes.

    Parameters
    ----------
    model : keras.Model
        A trained single-output classifier.
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float in ``[0, 1]``.
    layer, class_index
        As in :func:`grad_cam` (default layer: :func:`find_feature_layer`).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    np.ndarray
        ``(N, H, W)`` float32 in ``[0, 1]``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(2, 3, padding="same", activation="relu"),
    ...     keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(1, activation="sigmoid")])
    >>> grad_cam_maps(model, np.zeros((3, 8, 8), np.uint8)).shape
    (3, 8, 8)
    """
    batch = _prepare_batch(images, model)
    return np.concatenate(
        [
            _grad_cam_batch(model, batch[i : i + batch_size], layer, class_index)
            for i in range(0, len(batch), batch_size)
        ]
    )


def saliency_maps(
    model: keras.Model,
    images: np.ndarray,
    *,
    class_index: int | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Plain gradient saliency: ``|∂y/∂x|`` per pixel (the largest over channels).

    Parameters
    ----------
    model : keras.Model
        A trained single-output classifier.
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float in ``[0, 1]``.
    class_index : int, optional
        As in :func:`grad_cam`.
    batch_size : int
        Images per pass.

    Returns
    -------
    np.ndarray
        ``(N, H, W)`` float32 in ``[0, 1]``, each map scaled to a maximum of 1.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(1, activation="sigmoid")])
    >>> w = np.zeros((16, 1), np.float32); w[5] = 2.0  # only pixel (1, 1) counts
    >>> model.layers[-1].set_weights([w, np.zeros(1, np.float32)])
    >>> saliency_maps(model, np.zeros((1, 4, 4), np.float32))[0][1, 1]
    np.float32(1.0)
    """
    import tensorflow as tf

    batch = _prepare_batch(images, model)
    out = []
    for i in range(0, len(batch), batch_size):
        x = tf.convert_to_tensor(batch[i : i + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(x)
            with _pre_sigmoid(model) as logits:
                outputs = model(x, training=False)
            score = _class_score(outputs, class_index, logits)
        grads = np.abs(tape.gradient(score, x).numpy()).max(axis=-1)
        out.append(grads)
    return _normalise(np.concatenate(out))


def occlusion_maps(
    model: keras.Model,
    images: np.ndarray,
    *,
    patch: int = 8,
    stride: int = 4,
    class_index: int | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Occlusion sensitivity: the score's fall when a patch is greyed out.

    A ``patch × patch`` square, set to the image's mean, slides over the image in
    steps of ``stride``; each pixel gets the mean fall of the class score over the
    patches that cover it. Rises (hiding the patch *raised* the score) count as 0.
    With a single sigmoid output the score is the logit, which does not saturate.

    Parameters
    ----------
    model : keras.Model
        A trained single-output classifier.
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float in ``[0, 1]``.
    patch, stride : int
        Side of the square and step between positions, in pixels.
    class_index : int, optional
        As in :func:`grad_cam` (softmax: the class predicted on the whole image).
    batch_size : int
        Occluded images per forward pass.

    Returns
    -------
    np.ndarray
        ``(N, H, W)`` float32 in ``[0, 1]``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(1, activation="sigmoid")])
    >>> w = np.zeros((64, 1), np.float32); w[0] = 5.0  # only pixel (0, 0) counts
    >>> model.layers[-1].set_weights([w, np.zeros(1, np.float32)])
    >>> image = np.zeros((1, 8, 8), np.float32); image[0, 0, 0] = 1.0
    >>> heat = occlusion_maps(model, image, patch=2, stride=2)
    >>> float(heat[0, 0, 0]), float(heat[0, 7, 7])
    (1.0, 0.0)
    """
    if patch < 1 or stride < 1:
        raise ValueError(f"patch and stride must be >= 1 pixel, got {patch}, {stride}")
    batch = _prepare_batch(images, model)
    n, height, width, _ = batch.shape
    if patch > min(height, width):
        raise ValueError(f"patch={patch} is larger than the {height}×{width} images")
    tops = list(range(0, height - patch + 1, stride))
    lefts = list(range(0, width - patch + 1, stride))
    if tops[-1] != height - patch:
        tops.append(height - patch)
    if lefts[-1] != width - patch:
        lefts.append(width - patch)
    positions = [(t, l) for t in tops for l in lefts]
    base = _logits(model, batch)
    classes = _class_of(base, class_index)
    reference = _pick_logit(base, classes)
    maps = np.zeros((n, height, width))
    for index in range(n):
        image = batch[index]
        fill = image.mean(axis=(0, 1))
        occluded = np.repeat(image[None], len(positions), axis=0)
        for k, (t, l) in enumerate(positions):
            occluded[k, t : t + patch, l : l + patch] = fill
        scores = _pick_logit(
            _logits(model, occluded, batch_size),
            np.full(len(positions), classes[index]),
        )
        drop = np.maximum(reference[index] - scores, 0.0)
        total = np.zeros((height, width))
        count = np.zeros((height, width))
        for k, (t, l) in enumerate(positions):
            total[t : t + patch, l : l + patch] += drop[k]
            count[t : t + patch, l : l + patch] += 1
        maps[index] = total / np.maximum(count, 1)
    return _normalise(maps)


def lime_maps(
    model: keras.Model,
    images: np.ndarray,
    *,
    num_samples: int = 300,
    n_segments: int = 40,
    class_index: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """LIME maps from the ``lime`` package's ``lime_image.LimeImageExplainer``.

    The image is cut into about ``n_segments`` SLIC superpixels (scikit-image);
    LIME scores ``num_samples`` copies with random superpixels hidden (set to the
    image's mean grey, as occlusion does; LIME's own default, each superpixel's mean,
    hides almost nothing on a smooth radiograph) and fits a weighted linear model to
    their scores (the logit, for a single sigmoid output: a saturated probability
    would leave it nothing to fit); the map gives each superpixel its weight for the
    class, negative weights set to 0.

    Parameters
    ----------
    model : keras.Model
        A trained single-output classifier.
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float in ``[0, 1]``.
    num_samples : int
        Perturbed images per explanation (LIME's default is 1000; the cost grows with it).
    n_segments : int
        Approximate number of superpixels.
    class_index : int, optional
        As in :func:`grad_cam`.
    seed : int
        Seed of LIME's sampling (the maps are repeatable).

    Returns
    -------
    np.ndarray
        ``(N, H, W)`` float32 in ``[0, 1]``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(1, activation="sigmoid")])
    >>> lime_maps(model, np.zeros((1, 16, 16), np.float32), num_samples=20).shape
    (1, 16, 16)
    """
    from unittest import mock

    from lime import lime_image
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    batch = _prepare_batch(images, model)
    grey = batch.shape[-1] == 1
    base = _logits(model, batch)
    classes = _class_of(base, class_index)
    n_out = max(2, base.shape[1])

    def classify(rgb: np.ndarray) -> np.ndarray:
        # LIME fits a linear model to any score: the logit (as [-z, z], one column
        # per class) does not saturate where the probability sits at 1.0
        x = rgb.mean(axis=-1, keepdims=True) if grey else rgb
        z = _logits(model, x.astype(np.float32))
        return np.concatenate([-z, z], axis=1) if z.shape[1] == 1 else z

    segmenter = SegmentationAlgorithm(
        "slic", n_segments=n_segments, compactness=10, sigma=1, start_label=0
    )
    explainer = lime_image.LimeImageExplainer(random_state=seed)
    maps = np.zeros(batch.shape[:3])

    def quiet(iterable, *args, **kwargs):  # lime shows a tqdm bar per image
        return iterable

    for index, image in enumerate(batch):
        rgb = np.repeat(image, 3, axis=-1) if grey else image
        label = int(classes[index]) if n_out > 1 else 1
        with mock.patch.object(lime_image, "tqdm", quiet):
            explanation = explainer.explain_instance(
                rgb.astype(np.float64),
                classify,
                labels=(label,),
                hide_color=float(rgb.mean()),
                top_labels=None,
                num_samples=int(num_samples),
                segmentation_fn=segmenter,
                random_seed=seed,
                batch_size=num_samples,
            )
        weights = dict(explanation.local_exp[label])
        table = np.array(
            [weights.get(k, 0.0) for k in range(explanation.segments.max() + 1)]
        )
        maps[index] = np.maximum(table[explanation.segments], 0.0)
    return _normalise(maps)


def random_maps(model: keras.Model, images: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Uniform noise maps, the baseline every explanation must beat.

    Examples
    --------
    >>> random_maps(None, np.zeros((2, 4, 4))).shape
    (2, 4, 4)
    """
    images = np.asarray(images)
    rng = np.random.default_rng(seed)
    return rng.random(images.shape[:3]).astype(np.float32)


#: The methods behind :func:`explain`, each ``(model, images, **options) -> maps``.
METHODS: dict[str, Callable[..., np.ndarray]] = {
    "grad_cam": grad_cam_maps,
    "saliency": saliency_maps,
    "occlusion": occlusion_maps,
    "lime": lime_maps,
    "random": random_maps,
}


def explain(
    model: keras.Model, images: np.ndarray, method: str = "grad_cam", **options
) -> np.ndarray:
    """Explanation maps of a batch of images, by one of :data:`METHODS`.

    Parameters
    ----------
    model : keras.Model
        A trained single-output classifier (sigmoid or softmax).
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float in ``[0, 1]``.
    method : {"grad_cam", "saliency", "occlusion", "lime", "random"}
        Which explanation (see the module's docstring).
    **options
        Passed to the method (e.g. ``layer=`` for Grad-CAM, ``patch=`` for occlusion,
        ``num_samples=`` for LIME).

    Returns
    -------
    np.ndarray
        ``(N, H, W)`` float32 maps in ``[0, 1]``; higher is more evidence for the class.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(2, 3, padding="same", activation="relu"),
    ...     keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(1, activation="sigmoid")])
    >>> images = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    >>> {m: explain(model, images, m).shape for m in ("grad_cam", "saliency")}
    {'grad_cam': (2, 8, 8), 'saliency': (2, 8, 8)}
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    return METHODS[method](model, images, **options)


def timed_explain(
    model: keras.Model, images: np.ndarray, method: str = "grad_cam", **options
) -> tuple[np.ndarray, float]:
    """:func:`explain` and the wall-clock seconds it took per image.

    Examples
    --------
    >>> maps, seconds = timed_explain(None, np.zeros((2, 4, 4)), "random")
    >>> maps.shape, seconds >= 0
    ((2, 4, 4), True)
    """
    start = time.perf_counter()
    maps = explain(model, images, method, **options)
    return maps, (time.perf_counter() - start) / max(1, len(maps))


# --------------------------------------------------------------------------------------
# Scores that need no mask, and sanity checks


def deletion_curve(
    model: keras.Model,
    images: np.ndarray,
    maps: np.ndarray,
    *,
    steps: int = 16,
    class_index: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion curve (Petsiuk et al., 2018): remove the most salient pixels first.

    For each image, pixels are ranked by their map value (ties broken at random) and
    replaced, a ``1/steps`` share at a time, by the image's mean; the class score is
    read after every step. A map that finds what the model uses makes the score fall
    fast: a small area under the curve (:func:`deletion_auc`).

    Parameters
    ----------
    model : keras.Model
        A trained single-output classifier.
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float in ``[0, 1]``.
    maps : np.ndarray
        ``(N, H, W)`` explanation maps of those images.
    steps : int
        Number of deletion steps (the curve has ``steps + 1`` points).
    class_index : int, optional
        As in :func:`grad_cam` (softmax: the class predicted on the intact image).
    seed : int
        Seed of the tie-breaking.

    Returns
    -------
    fractions : np.ndarray
        ``(steps + 1,)`` share of pixels removed, from 0 to 1.
    scores : np.ndarray
        ``(N, steps + 1)`` class score after each step.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(1, activation="sigmoid")])
    >>> w = np.zeros((16, 1), np.float32); w[0] = 2.0
    >>> model.layers[-1].set_weights([w, np.zeros(1, np.float32)])
    >>> image = np.zeros((1, 4, 4), np.float32); image[0, 0, 0] = 1.0
    >>> good = image.copy()  # the map points at the one pixel that counts
    >>> f, s = deletion_curve(model, image, good, steps=4)  # 4 pixels per step
    >>> f.tolist(), round(float(s[0, 0]), 3), round(float(s[0, 1]), 3)
    ([0.0, 0.25, 0.5, 0.75, 1.0], 0.881, 0.531)
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    batch = _prepare_batch(images, model)
    maps = np.asarray(maps, dtype=np.float64)
    if maps.shape != batch.shape[:3]:
        raise ValueError(
            f"maps have shape {maps.shape} but the images {batch.shape[:3]}; "
            "pass the (N, H, W) output of explain(model, images, ...)"
        )
    n, height, width, _ = batch.shape
    pixels = height * width
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.round(fractions * pixels).astype(int)
    rng = np.random.default_rng(seed)
    base = _probabilities(model, batch)
    classes = _class_of(base, class_index)
    scores = np.empty((n, steps + 1))
    for index in range(n):
        jitter = rng.random(pixels) * 1e-9
        order = np.argsort(-(maps[index].ravel() + jitter), kind="stable")
        image = batch[index]
        fill = image.mean(axis=(0, 1))
        variants = np.repeat(image[None], steps + 1, axis=0).reshape(
            steps + 1, pixels, -1
        )
        for k, count in enumerate(counts):
            variants[k, order[:count]] = fill
        variants = variants.reshape(steps + 1, height, width, -1)
        scores[index] = _pick(
            _probabilities(model, variants), np.full(steps + 1, classes[index])
        )
    return fractions, scores


def deletion_auc(fractions: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Area under each deletion curve (trapezoids; lower = the map found more).

    Examples
    --------
    >>> deletion_auc(np.array([0.0, 0.5, 1.0]), np.array([[1.0, 0.0, 0.0]]))
    array([0.25])
    """
    return np.trapezoid(np.asarray(scores), np.asarray(fractions), axis=-1)


def _weighted_layers(model: Any) -> list:
    """Leaf layers with weights, in forward order, nested models flattened."""
    out = []
    for layer in model.layers:
        if _sublayers(layer):
            out.extend(_weighted_layers(layer))
        elif layer.weights:
            out.append(layer)
    return out


def cascading_randomization(
    model: keras.Model, *, seed: int = 0
) -> Iterator[tuple[str, keras.Model]]:
    """Randomise a copy of the model layer by layer, from the output down (Adebayo et al.).

    Each step scrambles one more layer's weights (a random permutation of every
    weight array: the values keep their spread, what was learnt is gone) and
    yields the copy; the original model is never touched.

    Parameters
    ----------
    model : keras.Model
        A trained model; it is cloned once (``keras.models.clone_model``).
    seed : int
        Seed of the permutations.

    Yields
    ------
    (str, keras.Model)
        The name of the layer just randomised and the copy, with that layer and every
        layer above it randomised.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                           keras.layers.Dense(1, name="b")])
    >>> [name for name, _ in cascading_randomization(model)]
    ['b', 'a']
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    for layer in reversed(_weighted_layers(copy)):
        layer.set_weights(
            [rng.permutation(w.ravel()).reshape(w.shape) for w in layer.get_weights()]
        )
        yield layer.name, copy


def map_similarity(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each pair of maps (1 = same ranking of pixels).

    A constant map has no ranking; its correlation is ``nan``.

    Examples
    --------
    >>> a = np.arange(16.0).reshape(1, 4, 4)
    >>> map_similarity(a, a ** 2).tolist(), map_similarity(a, -a).tolist()
    ([1.0], [-1.0])
    """
    from scipy.stats import spearmanr

    maps_a, maps_b = np.asarray(maps_a), np.asarray(maps_b)
    if maps_a.shape != maps_b.shape:
        raise ValueError(f"maps of shapes {maps_a.shape} and {maps_b.shape} differ")
    out = []
    for a, b in zip(maps_a, maps_b):
        a, b = a.ravel(), b.ravel()
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            out.append(float("nan"))
        else:
            out.append(float(spearmanr(a, b).statistic))
    return np.array(out)


def mean_interval(
    values: np.ndarray, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-image scores with a percentile bootstrap interval (NaNs dropped).

    Uses ``scipy.stats.bootstrap``.

    Examples
    --------
    >>> mean, low, high = mean_interval(np.r_[np.ones(30), np.zeros(10)])
    >>> round(mean, 2), low < mean < high
    (0.75, True)
    """
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2 or np.ptp(values) == 0:
        return mean, mean, mean
    result = bootstrap(
        (values,),
        np.mean,
        n_resamples=n_boot,
        confidence_level=level,
        method="percentile",
        random_state=seed,
    )
    low, high = result.confidence_interval
    return mean, float(low), float(high)


def score_maps(maps: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    """Pointing game and heat in mask of each map against its lesion mask.

    Examples
    --------
    >>> maps = np.zeros((1, 4, 4)); maps[0, 1, 1] = 1.0
    >>> masks = maps > 0
    >>> scores = score_maps(maps, masks)
    >>> scores["pointing_game"].tolist(), scores["heat_in_mask"].tolist()
    ([True], [1.0])
    """
    maps, masks = np.asarray(maps), np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} differ in shape")
    return {
        "pointing_game": np.array(
            [pointing_game(h, m) for h, m in zip(maps, masks)], bool
        ),
        "heat_in_mask": np.array([heat_in_mask(h, m) for h, m in zip(maps, masks)]),
        "mask_share": masks.reshape(len(masks), -1).mean(axis=1),
    }


def _check_pair(heat: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    heat = np.asarray(heat, dtype=np.float64)
    mask = np.asarray(mask)
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if heat.shape != mask.shape or heat.ndim != 2:
        raise ValueError(
            f"heat and mask must be (H, W) arrays of the same shape, got {heat.shape} and "
            f"{mask.shape}; grad_cam already resizes its heat to the input image"
        )
    if np.any(heat < 0) or not np.all(np.isfinite(heat)):
        raise ValueError(
            "heat must be finite and non-negative (grad_cam's output is in [0, 1])"
        )
    return heat, mask.astype(bool)


def heat_in_mask(heat: np.ndarray, mask: np.ndarray) -> float:
    """Share of the total heat that falls inside a mask.

    Parameters
    ----------
    heat : np.ndarray
        ``(H, W)`` non-negative heat map (e.g. from :func:`grad_cam`).
    mask : np.ndarray
        ``(H, W)`` boolean (or 0/1) mask of the true lesion.

    Returns
    -------
    float
        ``Σ heat[mask] / Σ heat`` in ``[0, 1]``. Compare it with the mask's own share of
        the image (``mask.mean()``): a heat map that ignores the lesion scores about that.
        ``nan`` when the heat is all zero (nothing to share out).

    Examples
    --------
    >>> import numpy as np
    >>> heat = np.array([[1.0, 0.0], [3.0, 0.0]])
    >>> mask = np.array([[False, False], [True, True]])
    >>> heat_in_mask(heat, mask)
    0.75
    """
    heat, mask = _check_pair(heat, mask)
    total = heat.sum()
    if total == 0:
        return float("nan")
    return float(heat[mask].sum() / total)


def chest_regions(shape, *, border: int = 2) -> dict:
    """Fixed regions of a chest film, for reading heat maps without lung masks.

    A frontal film centred on the chest has the mediastinum (heart, great vessels,
    spine) in a vertical band down the middle, the lung fields either side of it,
    and, at the edges, what lies outside the body (collimation, markers, the
    detector's edge). These masks are that geometry, not a segmentation: a film
    that is off-centre or rotated puts its anatomy elsewhere.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)`` of the heat maps.
    border : int
        Width of the edge frame in pixels at 28 px, scaled with the image side.

    Returns
    -------
    dict of str to (H, W) bool
        ``"edges"`` (the outer frame), ``"centre band"`` (the middle quarter of the
        width inside the frame: the mediastinum) and ``"lung fields"`` (the rest
        inside the frame); they do not overlap and cover the image.

    Examples
    --------
    >>> regions = chest_regions((28, 28))
    >>> {k: int(v.sum()) for k, v in regions.items()}
    {'edges': 208, 'centre band': 192, 'lung fields': 384}
    """
    h, w = (int(v) for v in shape)
    edge = max(1, round(border * min(h, w) / 28))
    if not 0 < 2 * edge < min(h, w):
        raise ValueError(f"border {border} leaves nothing inside a {h}x{w} image")
    inside = np.zeros((h, w), bool)
    inside[edge : h - edge, edge : w - edge] = True
    band = np.zeros((h, w), bool)
    half = max(1, round(w / 8))  # the middle quarter of the width
    band[:, w // 2 - half : w // 2 + half] = True
    return {
        "edges": ~inside,
        "centre band": inside & band,
        "lung fields": inside & ~band,
    }


def heat_shares(heats, regions: dict | None = None) -> dict:
    """Mean share of each map's heat in each region, with the region's area.

    Parameters
    ----------
    heats : sequence of (H, W) arrays
        Non-negative heat maps (e.g. from :func:`grad_cam`); all-zero maps are
        skipped (nothing to share out).
    regions : dict of str to (H, W) bool, optional
        Default :func:`chest_regions` of the maps' shape.

    Returns
    -------
    dict of str to dict
        Per region: ``"heat"`` (mean share of heat over the maps, in [0, 1]),
        ``"area"`` (the region's share of the image: what heat spread evenly would
        give) and ``"maps"`` (how many maps were averaged).

    Examples
    --------
    >>> heat = np.zeros((28, 28)); heat[10:18, 12:16] = 1.0  # on the mediastinum
    >>> shares = heat_shares([heat])
    >>> shares["centre band"]["heat"], round(shares["centre band"]["area"], 3)
    (1.0, 0.245)
    """
    maps = [np.asarray(h, dtype=np.float64) for h in heats]
    if not maps:
        raise ValueError("heat_shares needs at least one heat map")
    if regions is None:
        regions = chest_regions(maps[0].shape)
    used = [h for h in maps if h.sum() > 0]
    return {
        name: {
            "heat": float(np.mean([heat_in_mask(h, mask) for h in used]))
            if used
            else float("nan"),
            "area": float(np.mean(mask)),
            "maps": len(used),
        }
        for name, mask in regions.items()
    }


def zhang_tolerance(shape) -> int:
    """The pointing game's tolerance in pixels for images of ``shape``.

    Zhang et al. (2018) count a hit within 15 pixels of the object on images
    about 224 pixels across; the same share of the image's side here.

    Examples
    --------
    >>> zhang_tolerance((224, 224)), zhang_tolerance((28, 28)), zhang_tolerance((5, 5))
    (15, 2, 0)
    """
    return int(round(15 * max(shape[:2]) / 224))


def pointing_game(
    heat: np.ndarray, mask: np.ndarray, *, tolerance: int | None = None, seed: int = 0
) -> bool:
    """Pointing game (Zhang et al., 2018): is the map's maximum on the lesion?

    As in the paper, the map points with **one** pixel, its maximum; when
    several pixels share the maximum (LIME's superpixels, a saturated map),
    one of them is drawn at random, so a flat region is neither all credited
    nor all blamed. It is a hit when that pixel lies within ``tolerance``
    pixels (Euclidean) of the lesion.

    Parameters
    ----------
    heat : np.ndarray
        ``(H, W)`` non-negative heat map.
    mask : np.ndarray
        ``(H, W)`` boolean (or 0/1) mask of the true lesion.
    tolerance : int, optional
        Default :func:`zhang_tolerance` of the image (the paper's 15 pixels at
        224, i.e. 2 pixels at 28); 0 means the pixel must lie on the mask.
    seed : int
        Seed of the draw among tied maxima (the score is repeatable).

    Returns
    -------
    bool
        An all-zero heat map points nowhere and scores False.

    Examples
    --------
    >>> import numpy as np
    >>> heat = np.zeros((4, 4)); heat[1, 2] = 1.0
    >>> mask = np.zeros((4, 4), dtype=bool); mask[1, 2] = True
    >>> pointing_game(heat, mask), pointing_game(heat, ~mask, tolerance=0)
    (True, False)
    """
    heat, mask = _check_pair(heat, mask)
    if tolerance is None:
        tolerance = zhang_tolerance(heat.shape)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 pixels, got {tolerance}")
    peak = heat.max()
    if peak == 0 or not mask.any():
        return False
    rows, cols = np.nonzero(heat == peak)
    pick = 0 if rows.size == 1 else int(np.random.default_rng(seed).integers(rows.size))
    row, col = rows[pick], cols[pick]
    lesion_rows, lesion_cols = np.nonzero(mask)
    nearest = ((lesion_rows - row) ** 2 + (lesion_cols - col) ** 2).min()
    return bool(nearest <= tolerance**2)


def score_localization(
    model: keras.Model,
    images: np.ndarray,
    masks: np.ndarray,
    *,
    layer: str | Any | None = None,
    tolerance: int | None = None,
) -> dict[str, np.ndarray]:
    """Grad-CAM of each image, scored against its true lesion mask (phantoms know it).

    Parameters
    ----------
    model : keras.Model
        A trained classifier (see :func:`grad_cam`).
    images : np.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)`` images, uint8 or float in ``[0, 1]``.
    masks : np.ndarray
        ``(N, H, W)`` boolean lesion masks, none of them empty: score pneumonia cases
        only (``split.images[split.labels == 1]``), a normal case has no lesion to find.
    layer : str or keras.layers.Layer, optional
        Passed to :func:`grad_cam`.
    tolerance : int, optional
        Passed to :func:`pointing_game` (default: Zhang et al.'s, scaled).

    Returns
    -------
    dict of np.ndarray
        ``"heat_in_mask"`` (N,) float, ``"pointing_game"`` (N,) bool, ``"mask_share"``
        (N,) float -- the lesion's share of the image, which is what a heat map spread
        evenly would score -- and ``"heats"`` (N, H, W) float32.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...                           keras.layers.Conv2D(1, 1, activation="relu"),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])
    >>> model.set_weights([np.ones((1, 1, 1, 1)), np.zeros(1), np.ones((1, 1)), np.zeros(1)])
    >>> images = np.zeros((2, 8, 8), np.float32); images[:, 2:4, 2:4] = 1.0
    >>> scores = score_localization(model, images, images > 0)
    >>> scores["heat_in_mask"].tolist(), scores["pointing_game"].tolist()
    ([1.0, 1.0], [True, True])
    """
    images = np.asarray(images)
    masks = np.asarray(masks, dtype=bool)
    if len(images) != len(masks):
        raise ValueError(f"got {len(images)} images but {len(masks)} masks")
    empty = [index for index, mask in enumerate(masks) if not mask.any()]
    if empty:
        raise ValueError(
            f"masks {empty[:5]} are empty (normal cases have no lesion to point at); "
            "score pneumonia cases only, e.g. images[labels == 1]"
        )
    heats = (
        np.stack([grad_cam(model, image, layer=layer) for image in images])
        if len(images)
        else np.zeros((0,) + masks.shape[1:], np.float32)
    )
    return {
        "heat_in_mask": np.array(
            [heat_in_mask(h, m) for h, m in zip(heats, masks)], np.float64
        ),
        "pointing_game": np.array(
            [pointing_game(h, m, tolerance=tolerance) for h, m in zip(heats, masks)],
            bool,
        ),
        "mask_share": masks.reshape(len(masks), -1).mean(axis=1),
        "heats": heats,
    }


def _as_display(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    return image


#: Colour map of every heat map (values 0 to 1) the package draws.
HEAT_CMAP = "inferno"


def overlay(
    image: np.ndarray,
    heat: np.ndarray | None,
    *,
    ax: matplotlib.axes.Axes | None = None,
    alpha: float = 0.4,
    cmap: str = HEAT_CMAP,
    title: str | None = None,
) -> matplotlib.axes.Axes:
    """Draw an image with a semi-transparent heat map on top.

    Parameters
    ----------
    image : np.ndarray
        ``(H, W)`` or ``(H, W, 1)`` greyscale (drawn in grey) or ``(H, W, 3)`` RGB.
    heat : np.ndarray or None
        Heat in ``[0, 1]``; any size, stretched over the image. None draws the image only.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    alpha : float
        Opacity of the heat map, in ``[0, 1]``.
    cmap : str
        Colour map of the heat (default :data:`HEAT_CMAP`, perceptually uniform:
        a rainbow such as ``"jet"`` invents edges where its hues change).
    title : str, optional
        Title of the panel.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, holding two images: ``ax.images[0]`` the picture, ``ax.images[1]``
        the heat map.

    Examples
    --------
    >>> import numpy as np
    >>> ax = overlay(np.zeros((8, 8)), np.eye(8), alpha=0.5)
    >>> len(ax.images), ax.images[1].get_alpha()
    (2, 0.5)
    """
    import matplotlib.pyplot as plt

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    picture = _as_display(image)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    height, width = picture.shape[:2]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, extent=extent)
    if heat is not None:
        heat = _as_display(heat)
        ax.imshow(
            heat,
            cmap=cmap,
            alpha=alpha,
            vmin=0.0,
            vmax=1.0,
            extent=extent,
            interpolation="bilinear",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def gallery(
    images: Sequence[np.ndarray] | np.ndarray,
    heats: Sequence[np.ndarray | None] | np.ndarray | None,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    row_labels: Sequence[str] | None = None,
    alpha: float = 0.4,
    size: float = 2.0,
    suptitle: str | None = None,
    colorbar: bool = True,
) -> matplotlib.figure.Figure:
    """A grid of images with their heat maps, e.g. one row each of TP, FP and FN cases.

    Parameters
    ----------
    images : sequence of arrays or (N, H, W[, C]) array
        The images, filled into the grid row by row.
    heats : sequence of arrays (or None entries), or None
        One heat map per image; None (or a None entry) draws the image alone.
    titles : sequence of str, optional
        One title per panel (e.g. ``"p=0.93"``).
    ncols : int, optional
        Panels per row (default: all in one row, at most 6).
    row_labels : sequence of str, optional
        One label per row, written at the left (e.g. ``["TP", "FP", "FN"]``).
    alpha : float
        Opacity of the heat maps.
    size : float
        Width and height of each panel in inches.
    suptitle : str, optional
        Title over the whole figure.
    colorbar : bool
        One colour bar for the heat scale (0 to 1), when any panel has heat.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((6, 8, 8)); heats = np.ones((6, 8, 8)) * 0.5
    >>> fig = gallery(images, heats, ncols=3, row_labels=["TP", "FN"])
    >>> len(fig.axes), fig.axes[-1].get_ylabel()
    (7, 'heat (0 to 1)')
    """
    import matplotlib.pyplot as plt

    images = [np.asarray(image) for image in images]
    if not images:
        raise ValueError("gallery needs at least one image")
    heats = [None] * len(images) if heats is None else list(heats)
    if len(heats) != len(images):
        raise ValueError(f"got {len(images)} images but {len(heats)} heat maps")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = int(ncols or min(len(images), 6))
    nrows = -(-len(images) // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"got {len(row_labels)} row labels for {nrows} rows")
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(
            size * ncols + (0.4 if row_labels else 0),
            size * nrows + (0.4 if suptitle else 0),
        ),
        squeeze=False,
    )
    for index, ax in enumerate(axes.flat):
        if index >= len(images):
            ax.axis("off")
            continue
        overlay(
            images[index],
            heats[index],
            ax=ax,
            alpha=alpha,
            title=None if titles is None else titles[index],
        )
        for spine in ax.spines.values():
            spine.set_visible(False)
    if row_labels is not None:
        for row, label in enumerate(row_labels):
            axes[row, 0].set_ylabel(label, fontsize=11)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    if colorbar and any(heat is not None for heat in heats):
        heat_colorbar(fig, axes)
    return fig


def heat_colorbar(fig, axes):
    """One colour bar for the heat maps :func:`overlay` drew on ``axes``.

    Call it after ``fig.tight_layout()`` (the bar takes its room from ``axes``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 2)
    >>> heat_colorbar(fig, axes).ax.get_ylabel()
    'heat (0 to 1)'
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    scale = ScalarMappable(Normalize(0.0, 1.0), HEAT_CMAP)
    return fig.colorbar(scale, ax=axes, fraction=0.03, pad=0.02, label="heat (0 to 1)")
