"""Ensembles and test-time augmentation, saved as one ordinary Keras model.

Several networks trained from different seeds make different mistakes; the mean of
their probabilities ranks cases better than any one of them. Test-time augmentation
(TTA) does the same with one network and several slightly moved copies of the image.
:func:`build_ensemble` puts both inside **one** Keras model::

    image ─▶ TTAViews ─▶ member_0 ─┐
           (V moved copies)  member_1 ─┼─▶ Average ─▶ ViewMean ─▶ probability
                             member_2 ─┘  (members)   (views)

so everything that takes a model (``cnnguide evaluate``, ``predict``, the app, the API,
the TFLite export) takes an ensemble unchanged. Grad-CAM of an ensemble is the mean of
its members' Grad-CAM maps (:func:`cnnguide.explain.grad_cam` looks for
:func:`members`), each computed on the unmoved image.

The views are small shifts and rotations only. No flips: a mirrored chest radiograph
puts the heart on the wrong side, an image no scanner makes. Each view is a fixed
bilinear resampling (four gathers and a weighted sum, zeros outside the image), the
same in Keras, in TensorFlow Lite and in :func:`view_images`' NumPy reference.

Whether an ensemble or TTA is worth its cost is decided on the validation split
(``benchmarks/search_recipes.py`` prints the evidence); the preset ``"best"`` of
:class:`cnnguide.train.TrainConfig` trains one.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = [
    "DEFAULT_SHIFTS",
    "DEFAULT_ANGLES",
    "view_transforms",
    "sampling_table",
    "view_images",
    "TTAViews",
    "ViewMean",
    "build_ensemble",
    "members",
    "is_ensemble",
]

#: Shifts (rows, columns) in pixels of the default test-time views.
DEFAULT_SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))
#: Rotations in degrees (anticlockwise) of the default test-time views.
DEFAULT_ANGLES = (5.0, -5.0)

MEMBER_PREFIX = "member_"


def view_transforms(shifts=DEFAULT_SHIFTS, angles=DEFAULT_ANGLES) -> list:
    """The test-time views as ``(row shift, column shift, angle)``; the first is identity.

    Examples
    --------
    >>> view_transforms(shifts=[(0, 1)], angles=[5])
    [(0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 5.0)]
    """
    views = [(0.0, 0.0, 0.0)]
    views += [(float(dy), float(dx), 0.0) for dy, dx in shifts]
    views += [(0.0, 0.0, float(angle)) for angle in angles]
    return views


def sampling_table(
    height: int, width: int, shift=(0.0, 0.0), angle: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel of a moved image reads the input, and with what weight.

    The output is the input rotated by ``angle`` degrees (anticlockwise) about its
    centre, then shifted by ``shift = (rows, columns)`` pixels, sampled bilinearly;
    what falls outside the image is 0 (a black border, as the training augmentation
    fills).

    Parameters
    ----------
    height, width : int
        Image size.
    shift : (float, float)
        Rows down and columns right.
    angle : float
        Degrees, anticlockwise.

    Returns
    -------
    indices : numpy.ndarray
        ``(4, height * width)`` int32 indices into the flattened image followed by one
        zero pixel (index ``height * width``, used for neighbours outside the image).
    weights : numpy.ndarray
        ``(4, height * width)`` float32 bilinear weights; each column sums to 1.

    Examples
    --------
    >>> idx, w = sampling_table(2, 3, shift=(0, 1))
    >>> idx[0].reshape(2, 3)  # column 0 reads outside (the zero pixel 6)
    array([[6, 0, 1],
           [6, 3, 4]], dtype=int32)
    >>> float(w[0].min()), float(w[0].max())
    (1.0, 1.0)
    """
    dy, dx = (float(v) for v in shift)
    theta = np.deg2rad(float(angle))
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    # Output pixel o reads input M (o - c - s) + c, M the inverse of the rotation
    # (rows point down, so anticlockwise on screen is (y, x) -> (cy - sx, sy + cx)).
    y, x = rows - cy - dy, cols - cx - dx
    cos, sin = np.cos(theta), np.sin(theta)
    src_y = cos * y + sin * x + cy
    src_x = -sin * y + cos * x + cx
    src_y = np.round(src_y, 9)  # 2.9999999999 is 3: keep identities exact
    src_x = np.round(src_x, 9)
    y0, x0 = np.floor(src_y), np.floor(src_x)
    fy, fx = src_y - y0, src_x - x0
    indices, weights = [], []
    for oy, ox, weight in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        yy, xx = y0 + oy, x0 + ox
        inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        index = np.where(inside, yy * width + xx, height * width)
        indices.append(index.reshape(-1).astype(np.int32))
        weights.append(weight.reshape(-1).astype(np.float32))
    return np.stack(indices), np.stack(weights)


def view_images(
    images: np.ndarray, shifts=DEFAULT_SHIFTS, angles=DEFAULT_ANGLES
) -> np.ndarray:
    """NumPy reference of :class:`TTAViews`: every view of every image.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, H, W, C)`` float32.
    shifts, angles
        As in :func:`view_transforms`.

    Returns
    -------
    numpy.ndarray
        ``(V, N, H, W, C)`` float32, view 0 the images themselves.

    Examples
    --------
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    >>> view_images(x, shifts=[(1, 0)], angles=[])[1, 0, :, :, 0]
    array([[0., 0., 0.],
           [0., 1., 2.],
           [3., 4., 5.]], dtype=float32)
    """
    images = np.asarray(images, np.float32)
    n, height, width, channels = images.shape
    flat = images.reshape(n, height * width, channels)
    flat = np.concatenate([flat, np.zeros((n, 1, channels), np.float32)], axis=1)
    out = []
    for dy, dx, angle in view_transforms(shifts, angles):
        index, weight = sampling_table(height, width, (dy, dx), angle)
        view = sum(flat[:, index[k]] * weight[k][None, :, None] for k in range(4))
        out.append(view.reshape(n, height, width, channels))
    return np.stack(out).astype(np.float32)


@keras.saving.register_keras_serializable(package="cnnguide")
class TTAViews(keras.layers.Layer):
    """Stack moved copies of each image along the batch axis: ``(B, ...) -> (V·B, ...)``.

    View ``v`` of image ``b`` is row ``v * B + b``; :class:`ViewMean` undoes the
    stacking. Views are those of :func:`view_transforms`; see :func:`sampling_table`.

    Examples
    --------
    >>> layer = TTAViews(shifts=[(0, 1)], angles=[])
    >>> x = np.random.default_rng(0).random((2, 5, 5, 1)).astype("float32")
    >>> y = np.asarray(layer(x))
    >>> y.shape, bool(np.allclose(y[:2], x))
    ((4, 5, 5, 1), True)
    >>> bool(np.allclose(y[2:], view_images(x, [(0, 1)], [])[1]))
    True
    """

    def __init__(self, shifts=DEFAULT_SHIFTS, angles=DEFAULT_ANGLES, **kwargs):
        super().__init__(**kwargs)
        self.shifts = [tuple(float(v) for v in s) for s in shifts]
        self.angles = [float(a) for a in angles]
        self.n_views = len(view_transforms(self.shifts, self.angles))
        self._tables = None

    def build(self, input_shape):
        height, width = int(input_shape[1]), int(input_shape[2])
        self._tables = [
            sampling_table(height, width, (dy, dx), angle)
            for dy, dx, angle in view_transforms(self.shifts, self.angles)
        ]

    def call(self, images):
        height, width, channels = images.shape[1:]
        flat = ops.reshape(images, (-1, height * width, channels))
        flat = ops.concatenate([flat, ops.zeros_like(flat[:, :1])], axis=1)
        views = []
        for index, weight in self._tables:
            view = 0.0
            for k in range(4):
                taken = ops.take(flat, index[k], axis=1)
                view = view + taken * weight[k][None, :, None]
            views.append(ops.reshape(view, (-1, height, width, channels)))
        return ops.concatenate(views, axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * self.n_views
        return (batch, *input_shape[1:])

    def get_config(self):
        return {
            **super().get_config(),
            "shifts": [list(s) for s in self.shifts],
            "angles": list(self.angles),
        }


@keras.saving.register_keras_serializable(package="cnnguide")
class ViewMean(keras.layers.Layer):
    """Mean over the views stacked by :class:`TTAViews`: ``(V·B, K) -> (B, K)``.

    Examples
    --------
    >>> y = np.array([[0.2], [0.4], [0.6], [0.8]], "float32")  # 2 views of 2 images
    >>> np.asarray(ViewMean(2)(y)).astype(float).round(3).tolist()
    [[0.4], [0.6]]
    """

    def __init__(self, n_views: int, **kwargs):
        super().__init__(**kwargs)
        self.n_views = int(n_views)

    def call(self, outputs):
        stacked = ops.reshape(outputs, (self.n_views, -1, outputs.shape[-1]))
        return ops.mean(stacked, axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.n_views
        return (batch, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "n_views": self.n_views}


def build_ensemble(
    models: list,
    *,
    tta: bool = False,
    shifts=DEFAULT_SHIFTS,
    angles=DEFAULT_ANGLES,
    name: str = "ensemble",
) -> keras.Model:
    """One Keras model that averages the probabilities of ``models`` (and of views).

    Parameters
    ----------
    models : list of keras.Model
        Trained members with the same input shape and a single sigmoid (or softmax)
        output. They are renamed ``member_0``, ``member_1``... and nested as they are
        (their weights are shared, not copied).
    tta : bool
        Average over test-time views too (:class:`TTAViews`).
    shifts, angles
        The views (:func:`view_transforms`); used when ``tta``.
    name : str

    Returns
    -------
    keras.Model
        ``(B, H, W, C) -> (B, K)``: the mean of the members' outputs over the views.

    Examples
    --------
    >>> from cnnguide.models import build_small_cnn
    >>> parts = [build_small_cnn((12, 12, 1), seed=s) for s in (0, 1)]
    >>> x = np.random.default_rng(0).random((3, 12, 12, 1)).astype("float32")
    >>> both = build_ensemble(parts)
    >>> mean = (np.asarray(parts[0](x)) + np.asarray(parts[1](x))) / 2
    >>> bool(np.allclose(both(x), mean, atol=1e-6)), [m.name for m in members(both)]
    (True, ['member_0', 'member_1'])
    >>> build_ensemble(parts, tta=True)(x).shape
    TensorShape([3, 1])
    """
    models = list(models)
    if not models:
        raise ValueError("build_ensemble needs at least one model")
    shapes = {tuple(m.inputs[0].shape[1:]) for m in models}
    if len(shapes) != 1:
        raise ValueError(
            f"ensemble members must share one input shape, got {sorted(shapes)}"
        )
    for k, model in enumerate(models):
        model.name = f"{MEMBER_PREFIX}{k}"
    inputs = keras.Input(shapes.pop(), name="image")
    views = TTAViews(shifts, angles, name="views")(inputs) if tta else inputs
    outputs = [model(views) for model in models]
    mean = (
        keras.layers.Average(name="member_mean")(outputs)
        if len(outputs) > 1
        else outputs[0]
    )
    if tta:
        n_views = len(view_transforms(shifts, angles))
        mean = ViewMean(n_views, name="view_mean")(mean)
    return keras.Model(inputs, mean, name=name)


def members(model: Any) -> list:
    """The member networks of an ensemble built by :func:`build_ensemble`, else ``[]``.

    Examples
    --------
    >>> from cnnguide.models import build_small_cnn
    >>> members(build_small_cnn((12, 12, 1)))
    []
    """
    return [
        layer
        for layer in getattr(model, "layers", [])
        if isinstance(layer, keras.Model) and layer.name.startswith(MEMBER_PREFIX)
    ]


def is_ensemble(model: Any) -> bool:
    """True for a model built by :func:`build_ensemble` (members or views inside).

    Examples
    --------
    >>> from cnnguide.models import build_small_cnn
    >>> is_ensemble(build_small_cnn((12, 12, 1)))
    False
    """
    return bool(members(model)) or any(
        isinstance(layer, TTAViews) for layer in getattr(model, "layers", [])
    )
