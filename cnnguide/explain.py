"""Grad-CAM heat maps for Keras models, and scores that check them against a lesion mask.

Grad-CAM (Selvaraju et al., 2017) asks a trained network *where* it looked. Take the
feature maps ``A_k`` of a convolution layer (``h × w × K``) and the model's score ``y``
for one class. The weight of channel ``k`` is the mean over the map of ``∂y/∂A_k``; the
heat map is ``ReLU(Σ_k weight_k · A_k)``, scaled to ``[0, 1]`` and resized to the input.

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

This is teaching material, not a diagnostic device: a plausible heat map does not make
a prediction trustworthy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras
    import matplotlib.axes
    import matplotlib.figure

__all__ = [
    "find_last_conv_layer",
    "grad_cam",
    "heat_in_mask",
    "pointing_game",
    "score_localization",
    "overlay",
    "gallery",
]

_CONV_CLASS_NAMES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")


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


def _resolve_layer(model: Any, layer: Any) -> Any:
    """Turn ``None``, a name, a ``"a/b/c"`` path or a layer object into a layer of ``model``."""
    if layer is None:
        layer = find_last_conv_layer(model)
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
    differentiate the model's output with respect to it.
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
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
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
        A trained classifier. A single sigmoid output is read as the probability of the
        positive class (pneumonia); a softmax output as class probabilities.
    image : np.ndarray
        One image, ``(H, W)`` or ``(H, W, C)``; uint8 (0-255) is scaled to ``[0, 1]``,
        floats are used as they are. A greyscale image fed to a 3-channel model is
        repeated over the channels.
    layer : str or keras.layers.Layer, optional
        The convolution layer to explain: a name, a path ``"backbone/Conv_1"`` or the
        layer itself. Default: :func:`find_last_conv_layer`.
    class_index : int, optional
        Which class to explain. For a single sigmoid output, 1 (default) explains the
        positive class and 0 the negative one (score ``1 - p``). For a softmax output,
        the default is the predicted class.

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
    import tensorflow as tf

    target = _resolve_layer(model, layer)
    batch = tf.convert_to_tensor(_prepare_image(image, model))
    with _recording(target) as records, tf.GradientTape() as tape:
        # Watch the input, not only the trainable weights: with a frozen backbone
        # (trainable=False, the usual transfer-learning set-up) nothing else is watched.
        tape.watch(batch)
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
        if outputs.shape[-1] == 1:
            score = outputs[:, 0] if class_index in (None, 1) else 1.0 - outputs[:, 0]
        else:
            index = (
                int(tf.argmax(outputs[0])) if class_index is None else int(class_index)
            )
            score = outputs[:, index]
    if len(features.shape) != 4:
        raise ValueError(
            f"layer {target.name!r} outputs shape {tuple(features.shape)}, not a "
            "(batch, height, width, channels) feature map; choose a convolution layer"
        )
    gradients = tape.gradient(score, features)
    if gradients is None:  # the score does not depend on this layer at all
        gradients = tf.zeros_like(features)
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # (1, K): one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(features * weights[:, None, None, :], axis=-1))[0]
    cam = np.nan_to_num(cam.numpy().astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    height, width = int(batch.shape[1]), int(batch.shape[2])
    peak = cam.max()
    if not peak > 0:  # no positive evidence (or zero gradients): an honest blank map
        return np.zeros((height, width), dtype=np.float32)
    # Scale before resizing (raw values can be ~1e-15), and again after: bilinear
    # upsampling rarely lands a pixel exactly on the hottest cell's centre.
    resized = tf.image.resize(
        (cam / peak)[..., None], (height, width), method="bilinear"
    )
    resized = np.clip(resized.numpy()[..., 0], 0.0, None)
    if not resized.max() > 0:
        return np.zeros((height, width), dtype=np.float32)
    return (resized / resized.max()).astype(np.float32)


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


def pointing_game(heat: np.ndarray, mask: np.ndarray, *, tolerance: int = 0) -> bool:
    """Pointing game (Zhang et al., 2018): is the hottest pixel inside the mask?

    Parameters
    ----------
    heat : np.ndarray
        ``(H, W)`` non-negative heat map.
    mask : np.ndarray
        ``(H, W)`` boolean (or 0/1) mask of the true lesion.
    tolerance : int
        Grow the mask by this many pixels first (the original paper allows 15 pixels
        at full resolution); 0 means the pixel must lie on the mask itself.

    Returns
    -------
    bool
        True when the maximum of ``heat`` lies inside the (grown) mask. When several
        pixels share the maximum, all of them must be inside. An all-zero heat map points
        nowhere and scores False.

    Examples
    --------
    >>> import numpy as np
    >>> heat = np.zeros((4, 4)); heat[1, 2] = 1.0
    >>> mask = np.zeros((4, 4), dtype=bool); mask[1, 2] = True
    >>> pointing_game(heat, mask), pointing_game(heat, ~mask)
    (True, False)
    """
    heat, mask = _check_pair(heat, mask)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 pixels, got {tolerance}")
    peak = heat.max()
    if peak == 0:
        return False
    if tolerance:
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, iterations=int(tolerance))
    return bool(np.all(mask[heat == peak]))


def score_localization(
    model: keras.Model,
    images: np.ndarray,
    masks: np.ndarray,
    *,
    layer: str | Any | None = None,
    tolerance: int = 0,
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
    tolerance : int
        Passed to :func:`pointing_game`.

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


def overlay(
    image: np.ndarray,
    heat: np.ndarray | None,
    *,
    ax: matplotlib.axes.Axes | None = None,
    alpha: float = 0.4,
    cmap: str = "jet",
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
        Colour map of the heat.
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

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((6, 8, 8)); heats = np.ones((6, 8, 8)) * 0.5
    >>> fig = gallery(images, heats, ncols=3, row_labels=["TP", "FN"])
    >>> len(fig.axes)
    6
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
    return fig
