"""Reference implementations of convolution and pooling that a reader can read.

What deep-learning libraries call *convolution* is **cross-correlation**: the kernel slides
over the image unflipped and each output pixel is the sum of kernel × window. These
functions compute exactly what ``tf.nn.conv2d``, ``tf.nn.max_pool2d`` and
``tf.nn.avg_pool2d`` (and so Keras ``Conv2D`` / ``MaxPooling2D`` / ``AveragePooling2D``)
compute, including TensorFlow's rule for ``'same'`` padding with a stride.

Shapes follow Keras (channels last):

=====================  ======================  =====================
input                  kernel                  output
=====================  ======================  =====================
``(H, W)``             ``(kh, kw)``            ``(H', W')``
``(H, W, C)``          ``(kh, kw, C, F)``      ``(H', W', F)``
``(N, H, W, C)``       ``(kh, kw, C, F)``      ``(N, H', W', F)``
=====================  ======================  =====================

No Python loop runs over pixels: :func:`conv2d` loops over the ``kh * kw`` kernel taps and
adds one shifted, strided slice of the whole (padded) image per tap; :func:`im2col` builds
the patch matrix with :func:`numpy.lib.stride_tricks.sliding_window_view` so that
convolution becomes one matrix product (:func:`conv2d_as_matmul`), as libraries do it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "conv2d",
    "conv2d_as_matmul",
    "global_average_pool",
    "im2col",
    "output_size",
    "pad_amounts",
    "pool2d",
    "receptive_field",
    "same_padding",
]


def _pair(value, name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``; positive ints only."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
        )
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(
            f"{name} must be a positive int or a pair of them, got {value!r}"
        )
    if min(pair) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return pair


def same_padding(n: int, k: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """Padding ``(before, after)`` that TensorFlow/Keras add for ``padding='same'``.

    The output has ``ceil(n / stride)`` positions; the total padding is whatever makes the
    last window fit, and when it is odd the extra pixel goes **after** (bottom / right).

    Parameters
    ----------
    n, k, stride, dilation : int
        Input length, kernel length, stride and dilation along one axis.

    Returns
    -------
    tuple of int
        ``(before, after)``.

    Examples
    --------
    >>> same_padding(5, 3)          # stride 1: one pixel each side
    (1, 1)
    >>> same_padding(6, 3, stride=2)  # total 1: the extra pixel goes at the end
    (0, 1)
    """
    out = math.ceil(n / stride)
    effective = dilation * (k - 1) + 1
    total = max((out - 1) * stride + effective - n, 0)
    return total // 2, total - total // 2


def pad_amounts(
    padding, shape: tuple[int, int], kernel_shape: tuple[int, int], stride=1, dilation=1
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Resolve a padding spec to ``((top, bottom), (left, right))`` pixel counts.

    Parameters
    ----------
    padding : {"valid", "same"} or int or (int, int) or ((int, int), (int, int))
        ``"valid"``: none. ``"same"``: TensorFlow's rule (:func:`same_padding`).
        ``p``: p pixels on every side. ``(ph, pw)``: ph above and below, pw left and right.
        ``((top, bottom), (left, right))``: explicit.
    shape : (int, int)
        Input height and width.
    kernel_shape : (int, int)
        Kernel height and width.
    stride, dilation : int or (int, int)

    Examples
    --------
    >>> pad_amounts("same", (6, 6), (3, 3), stride=2)
    ((0, 1), (0, 1))
    >>> pad_amounts(2, (6, 6), (3, 3))
    ((2, 2), (2, 2))
    """
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            return (
                same_padding(shape[0], kernel_shape[0], sh, dh),
                same_padding(shape[1], kernel_shape[1], sw, dw),
            )
        raise ValueError(
            f"padding must be 'valid', 'same', an int or pairs of ints, got {padding!r}"
        )
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        pads = ((int(padding),) * 2, (int(padding),) * 2)
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(isinstance(p, (int, np.integer)) for p in padding):
            pads = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
        elif all(isinstance(p, (tuple, list)) and len(p) == 2 for p in padding):
            pads = tuple((int(p[0]), int(p[1])) for p in padding)
        else:
            raise ValueError(
                f"cannot read padding {padding!r}; use ((top, bottom), (left, right))"
            )
    else:
        raise ValueError(
            f"padding must be 'valid', 'same', an int or pairs of ints, got {padding!r}"
        )
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return pads  # type: ignore[return-value]


def output_size(
    n: int, k: int, stride: int = 1, padding="valid", dilation: int = 1
) -> int:
    """Output length along one axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1``.

    Parameters
    ----------
    n : int
        Input length.
    k : int
        Kernel (or pooling window) length.
    stride : int
        Step between windows.
    padding : "valid", "same", int or (int, int)
        ``"valid"`` is p = 0; ``"same"`` gives ``ceil(n / stride)`` (TensorFlow's rule);
        an int ``p`` pads p on both sides; a pair pads ``(before, after)``.
    dilation : int
        Spacing between kernel taps; the kernel spans ``d(k - 1) + 1`` pixels.

    Returns
    -------
    int

    Examples
    --------
    >>> output_size(28, 3)                            # valid: shrinks by k - 1
    26
    >>> output_size(28, 3, padding="same"), output_size(28, 3, stride=2, padding="same")
    (28, 14)
    >>> output_size(7, 3, stride=2, padding=1)
    4
    >>> output_size(7, 3, dilation=2)
    3
    """
    for value, name in ((n, "n"), (k, "k"), (stride, "stride"), (dilation, "dilation")):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < 1
        ):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if padding == "same":
        return math.ceil(n / stride)
    if padding == "valid":
        total = 0
    elif (
        isinstance(padding, (int, np.integer))
        and not isinstance(padding, bool)
        and padding >= 0
    ):
        total = 2 * int(padding)
    elif isinstance(padding, (tuple, list)) and len(padding) == 2 and min(padding) >= 0:
        total = int(padding[0]) + int(padding[1])
    else:
        raise ValueError(
            f"padding must be 'valid', 'same', an int >= 0 or (before, after), got {padding!r}"
        )
    size = (n + total - dilation * (k - 1) - 1) // stride + 1
    if size < 1:
        raise ValueError(
            f"a kernel spanning {dilation * (k - 1) + 1} pixels does not fit in an input of "
            f"{n} padded by {total}: use a smaller kernel or more padding"
        )
    return size


def _to_nhwc(image: np.ndarray, kernel: np.ndarray):
    """Bring (image, kernel) to ((N, H, W, C), (kh, kw, C, F)) and say how to squeeze back."""
    if image.ndim == 2:
        if kernel.ndim != 2:
            raise ValueError(
                f"an (H, W) image needs a (kh, kw) kernel, got kernel shape {kernel.shape}"
            )
        return image[None, :, :, None], kernel[:, :, None, None], "hw"
    if image.ndim in (3, 4):
        if kernel.ndim != 4:
            raise ValueError(
                f"an image of shape {image.shape} needs a (kh, kw, C, F) kernel, got {kernel.shape}"
            )
        channels = image.shape[-1]
        if kernel.shape[2] != channels:
            raise ValueError(
                f"kernel has {kernel.shape[2]} input channels but the image has {channels}"
            )
        return (
            (image[None], kernel, "hwc") if image.ndim == 3 else (image, kernel, "nhwc")
        )
    raise ValueError(
        f"image must be (H, W), (H, W, C) or (N, H, W, C), got shape {image.shape}"
    )


def _from_nhwc(out: np.ndarray, layout: str) -> np.ndarray:
    if layout == "hw":
        return out[0, :, :, 0]
    if layout == "hwc":
        return out[0]
    return out


def _pad_nhwc(x: np.ndarray, pads, pad_mode: str, constant: float = 0.0) -> np.ndarray:
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    widths = ((0, 0), (top, bottom), (left, right), (0, 0))
    if pad_mode in ("zero", "constant"):
        return np.pad(x, widths, mode="constant", constant_values=constant)
    if pad_mode == "reflect":
        if max(top, bottom) >= x.shape[1] or max(left, right) >= x.shape[2]:
            raise ValueError(
                f"reflect padding of {pads} needs an input larger than the padding, got {x.shape[1:3]}"
            )
        return np.pad(x, widths, mode="reflect")
    raise ValueError(f"pad_mode must be 'zero' or 'reflect', got {pad_mode!r}")


def _geometry(shape_hw, kernel_hw, stride, padding, dilation):
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    pads = pad_amounts(padding, shape_hw, kernel_hw, (sh, sw), (dh, dw))
    out_h = output_size(shape_hw[0], kernel_hw[0], sh, pads[0], dh)
    out_w = output_size(shape_hw[1], kernel_hw[1], sw, pads[1], dw)
    return (sh, sw), (dh, dw), pads, (out_h, out_w)


def conv2d(
    image: np.ndarray,
    kernel: np.ndarray,
    stride=1,
    padding="valid",
    dilation=1,
    pad_mode: str = "zero",
) -> np.ndarray:
    """2-D cross-correlation, as ``tf.nn.conv2d`` and Keras ``Conv2D`` compute it.

    ``out[y, x] = sum_{i, j} kernel[i, j] * padded[y * s + i * d, x * s + j * d]``
    (summed over input channels too, for each output channel).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
    kernel : numpy.ndarray
        ``(kh, kw)`` for an ``(H, W)`` image, otherwise ``(kh, kw, C, F)``.
    stride : int or (int, int)
        Step between windows.
    padding : "valid", "same", int, (int, int) or ((int, int), (int, int))
        See :func:`pad_amounts`; ``"same"`` follows TensorFlow (extra pixel bottom/right).
    dilation : int or (int, int)
        Spacing between kernel taps.
    pad_mode : {"zero", "reflect"}
        What the padding holds: zeros (what CNN layers do) or a mirror of the border.

    Returns
    -------
    numpy.ndarray
        ``(H', W')``, ``(H', W', F)`` or ``(N, H', W', F)``; float32 unless an input is float64.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> conv2d(image, np.ones((3, 3), np.float32)).tolist()
    [[45.0, 54.0], [81.0, 90.0]]
    >>> conv2d(image, np.ones((3, 3), np.float32), stride=2, padding="same").shape
    (2, 2)
    """
    image = np.asarray(image)
    kernel = np.asarray(kernel)
    x, k, layout = _to_nhwc(image, kernel)
    dtype = np.result_type(x.dtype, k.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    k = k.astype(dtype, copy=False)
    kh, kw, channels, filters = k.shape
    (sh, sw), (dh, dw), pads, (out_h, out_w) = _geometry(
        x.shape[1:3], (kh, kw), stride, padding, dilation
    )
    padded = _pad_nhwc(x, pads, pad_mode)
    single = channels == 1 and filters == 1
    if single:  # the common teaching case: plain 2-D arrays are fastest
        padded = padded[..., 0]
        out = np.zeros((x.shape[0], out_h, out_w), dtype=dtype)
    else:
        out = np.zeros((x.shape[0], out_h, out_w, filters), dtype=dtype)
    # One step per kernel tap: add weight x (the whole image shifted by that tap).
    for i in range(kh):
        rows = slice(i * dh, i * dh + (out_h - 1) * sh + 1, sh)
        for j in range(kw):
            cols = slice(j * dw, j * dw + (out_w - 1) * sw + 1, sw)
            if single:
                out += k[i, j, 0, 0] * padded[:, rows, cols]
            else:
                out += padded[:, rows, cols, :] @ k[i, j]
    if single:
        out = out[..., None]
    return _from_nhwc(out, layout)


def im2col(
    image: np.ndarray,
    kernel_shape: tuple[int, int],
    stride=1,
    padding="valid",
    dilation=1,
    pad_mode: str = "zero",
) -> np.ndarray:
    """Unfold every window into a row: the patch matrix of "convolution as matrix multiplication".

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
    kernel_shape : (int, int)
        ``(kh, kw)``.
    stride, padding, dilation, pad_mode
        As in :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        ``(N * H' * W', kh * kw * C)``: one row per output pixel (row-major, batch first),
        columns ordered like ``kernel.reshape(kh * kw * C, F)``.

    Examples
    --------
    >>> import numpy as np
    >>> im2col(np.arange(16.0).reshape(4, 4), (3, 3)).shape
    (4, 9)
    """
    image = np.asarray(image)
    kh, kw = _pair(tuple(kernel_shape), "kernel_shape")
    dummy = np.zeros((kh, kw) if image.ndim == 2 else (kh, kw, image.shape[-1], 1))
    x, _, _ = _to_nhwc(image, dummy)
    (sh, sw), (dh, dw), pads, (out_h, out_w) = _geometry(
        x.shape[1:3], (kh, kw), stride, padding, dilation
    )
    padded = _pad_nhwc(x, pads, pad_mode)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = sliding_window_view(
        padded, (span_h, span_w), axis=(1, 2)
    )  # (N, ., ., C, span_h, span_w)
    windows = windows[
        :, : (out_h - 1) * sh + 1 : sh, : (out_w - 1) * sw + 1 : sw, :, ::dh, ::dw
    ]
    windows = windows.transpose(0, 1, 2, 4, 5, 3)  # (N, H', W', kh, kw, C)
    return windows.reshape(-1, kh * kw * x.shape[-1])


def conv2d_as_matmul(
    image: np.ndarray,
    kernel: np.ndarray,
    stride=1,
    padding="valid",
    dilation=1,
    pad_mode: str = "zero",
) -> np.ndarray:
    """:func:`conv2d` computed the way libraries do it: ``im2col(image) @ kernel`` (one GEMM).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image, kernel = rng.random((6, 6)), rng.random((3, 3))
    >>> bool(np.allclose(conv2d_as_matmul(image, kernel), conv2d(image, kernel)))
    True
    """
    image = np.asarray(image)
    kernel = np.asarray(kernel)
    x, k, layout = _to_nhwc(image, kernel)
    kh, kw, channels, filters = k.shape
    _, _, _, (out_h, out_w) = _geometry(
        x.shape[1:3], (kh, kw), stride, padding, dilation
    )
    columns = im2col(x, (kh, kw), stride, padding, dilation, pad_mode)
    dtype = np.result_type(x.dtype, k.dtype, np.float32)
    out = columns.astype(dtype) @ k.reshape(kh * kw * channels, filters).astype(dtype)
    return _from_nhwc(out.reshape(x.shape[0], out_h, out_w, filters), layout)


def pool2d(
    image: np.ndarray, size=2, stride=None, padding: str = "valid", mode: str = "max"
) -> np.ndarray:
    """Max or average pooling, as ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d`` compute them.

    Each channel is pooled on its own. With ``'same'`` padding the padded cells never win
    a max and are left out of an average (TensorFlow's behaviour).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
    size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Step; defaults to ``size`` (non-overlapping windows, as in Keras).
    padding : {"valid", "same"}
    mode : {"max", "average"}
        ``"avg"`` is accepted for ``"average"``.

    Returns
    -------
    numpy.ndarray
        Same layout as the input with pooled height and width; float32 unless float64 in.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> pool2d(x, 2).tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> pool2d(x, 2, mode="average").tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    if mode == "avg":
        mode = "average"
    if mode not in ("max", "average"):
        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
    if padding not in ("valid", "same"):
        raise ValueError(f"pooling padding must be 'valid' or 'same', got {padding!r}")
    image = np.asarray(image)
    if image.ndim not in (2, 3, 4):
        raise ValueError(
            f"image must be (H, W), (H, W, C) or (N, H, W, C), got shape {image.shape}"
        )
    x = {2: lambda a: a[None, :, :, None], 3: lambda a: a[None], 4: lambda a: a}[
        image.ndim
    ](image)
    layout = {2: "hw", 3: "hwc", 4: "nhwc"}[image.ndim]
    dtype = np.result_type(x.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    ph, pw = _pair(size, "size")
    stride = (ph, pw) if stride is None else stride
    (sh, sw), _, pads, (out_h, out_w) = _geometry(
        x.shape[1:3], (ph, pw), stride, padding, 1
    )
    if mode == "max":
        padded = _pad_nhwc(x, pads, "zero", constant=-np.inf)
        out = np.full((x.shape[0], out_h, out_w, x.shape[3]), -np.inf, dtype=dtype)
    else:
        padded = _pad_nhwc(x, pads, "zero")
        counts = _pad_nhwc(np.ones((1, *x.shape[1:3], 1), dtype=dtype), pads, "zero")
        out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), dtype=dtype)
        count = np.zeros((1, out_h, out_w, 1), dtype=dtype)
    for i in range(ph):
        rows = slice(i, i + (out_h - 1) * sh + 1, sh)
        for j in range(pw):
            cols = slice(j, j + (out_w - 1) * sw + 1, sw)
            if mode == "max":
                np.maximum(out, padded[:, rows, cols, :], out=out)
            else:
                out += padded[:, rows, cols, :]
                count += counts[:, rows, cols, :]
    if mode == "average":
        out /= count
    return _from_nhwc(out, layout)


def global_average_pool(image: np.ndarray) -> np.ndarray:
    """Global average pooling: the mean of each channel over all positions.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` -> scalar array ``()``; ``(H, W, C)`` -> ``(C,)``; ``(N, H, W, C)`` -> ``(N, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> global_average_pool(np.ones((2, 4, 4, 3))).shape
    (2, 3)
    """
    image = np.asarray(image)
    axes = {2: (0, 1), 3: (0, 1), 4: (1, 2)}.get(image.ndim)
    if axes is None:
        raise ValueError(
            f"image must be (H, W), (H, W, C) or (N, H, W, C), got shape {image.shape}"
        )
    return image.astype(np.result_type(image.dtype, np.float32)).mean(axis=axes)


def receptive_field(layers) -> list[dict]:
    """Receptive field of each layer in a stack of convolutions and poolings.

    A unit of layer *l* sees ``r_l = r_{l-1} + (k_l - 1) * j_{l-1}`` input
    pixels along one axis, where ``j_{l-1}`` (the *jump*) is the product of the
    strides before it: each stride multiplies the spacing, in input pixels,
    between neighbouring units (Araujo et al. 2019, "Computing receptive fields
    of convolutional neural networks").

    Parameters
    ----------
    layers : sequence of (kernel, stride) pairs
        One pair per layer, in order; a pooling layer is a pair too
        (2 x 2 max pooling is ``(2, 2)``). Dilation ``d`` enters as the
        effective kernel ``d * (k - 1) + 1``.

    Returns
    -------
    list of dict
        Per layer: ``kernel``, ``stride``, ``jump`` (input pixels between
        neighbouring output units) and ``rf`` (receptive field side).

    Examples
    --------
    >>> [r["rf"] for r in receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)])]
    [3, 5, 6, 10]
    >>> receptive_field([(3, 2)])[0]["jump"]
    2
    """
    rf, jump, out = 1, 1, []
    for index, pair in enumerate(layers):
        try:
            k, s = (int(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(
                f"layer {index}: expected a (kernel, stride) pair, got {pair!r}"
            ) from None
        if k < 1 or s < 1:
            raise ValueError(f"layer {index}: kernel and stride must be >= 1")
        rf += (k - 1) * jump
        jump *= s
        out.append({"kernel": k, "stride": s, "jump": jump, "rf": rf})
    return out
