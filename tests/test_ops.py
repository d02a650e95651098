"""cnnguide.ops against scipy.signal.correlate2d and TensorFlow, over many random shapes."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest
import tensorflow as tf  # imported once for the whole module (about 4 s)
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from cnnguide.ops import (
    conv2d,
    conv2d_as_matmul,
    global_average_pool,
    im2col,
    output_size,
    pad_amounts,
    pool2d,
    same_padding,
)

SETTINGS = settings(max_examples=40, deadline=None)


def _random(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _tf_conv(x, k, stride, padding, dilation=1):
    """tf.nn.conv2d on NHWC float64; explicit padding as ((top, bottom), (left, right))."""
    if not isinstance(padding, str):
        (top, bottom), (left, right) = padding
        padding = [[0, 0], [top, bottom], [left, right], [0, 0]]
    else:
        padding = padding.upper()
    return tf.nn.conv2d(
        tf.constant(x),
        tf.constant(k),
        strides=stride,
        padding=padding,
        dilations=dilation,
    ).numpy()


# ---------------------------------------------------------------- output_size


def test_output_size_formula_examples():
    assert output_size(28, 3) == 26
    assert output_size(28, 3, padding="same") == 28
    assert output_size(28, 3, stride=2, padding="same") == 14
    assert output_size(27, 3, stride=2, padding="same") == 14
    assert output_size(28, 5, stride=2) == 12
    assert output_size(7, 3, stride=2, padding=1) == 4
    assert output_size(7, 3, dilation=2) == 3
    assert output_size(7, 3, padding=(0, 1)) == 6


def test_output_size_rejects_kernel_larger_than_input():
    with pytest.raises(ValueError, match="does not fit"):
        output_size(3, 5)
    with pytest.raises(ValueError, match="stride"):
        output_size(8, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        output_size(8, 3, padding="full")


@SETTINGS
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
)
def test_same_padding_gives_ceil_n_over_s_and_puts_extra_pixel_after(n, k, s, d):
    before, after = same_padding(n, k, s, d)
    assert after - before in (0, 1)
    assert (
        output_size(n, k, s, (before, after), d)
        == output_size(n, k, s, "same", d)
        == -(-n // s)
    )


def test_pad_amounts_forms():
    assert pad_amounts("valid", (5, 5), (3, 3)) == ((0, 0), (0, 0))
    assert pad_amounts(1, (5, 5), (3, 3)) == ((1, 1), (1, 1))
    assert pad_amounts((1, 2), (5, 5), (3, 3)) == ((1, 1), (2, 2))
    assert pad_amounts(((0, 1), (2, 3)), (5, 5), (3, 3)) == ((0, 1), (2, 3))
    with pytest.raises(ValueError):
        pad_amounts(-1, (5, 5), (3, 3))


# ---------------------------------------------------------------- conv2d, single channel


def test_conv2d_is_cross_correlation_not_convolution():
    image = np.zeros((5, 5))
    image[2, 2] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    # An impulse returns the kernel flipped under cross-correlation.
    assert np.array_equal(
        conv2d(image, kernel, padding="same")[1:4, 1:4], kernel[::-1, ::-1]
    )


@SETTINGS
@given(
    h=st.integers(3, 24),
    w=st.integers(3, 24),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    mode=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 10_000),
)
def test_conv2d_matches_scipy_correlate2d(h, w, kh, kw, mode, seed):
    image, kernel = _random(seed, (h, w)), _random(seed + 1, (kh, kw))
    if mode == "valid" and (kh > h or kw > w):
        return
    ours = conv2d(image, kernel, padding=mode)
    if mode == "valid":
        expected = correlate2d(image, kernel, mode="valid")
    else:
        # scipy centres with the extra pixel on top/left for even kernels; TF puts it
        # bottom/right. For odd kernels at stride 1 they agree.
        if kh % 2 == 0 or kw % 2 == 0:
            return
        expected = correlate2d(image, kernel, mode="same")
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


def test_conv2d_float32_and_reflect_padding():
    image = _random(0, (9, 9)).astype(np.float32)
    kernel = _random(1, (3, 3)).astype(np.float32)
    out = conv2d(image, kernel, padding="same")
    assert out.dtype == np.float32
    reflected = conv2d(image, kernel, padding="same", pad_mode="reflect")
    expected = correlate2d(np.pad(image, 1, mode="reflect"), kernel, mode="valid")
    np.testing.assert_allclose(reflected, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, reflected)  # the borders differ


def test_conv2d_shape_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"\(kh, kw\) kernel"):
        conv2d(np.zeros((5, 5)), np.zeros((3, 3, 1, 1)))
    with pytest.raises(ValueError, match="input channels"):
        conv2d(np.zeros((5, 5, 2)), np.zeros((3, 3, 3, 1)))
    with pytest.raises(ValueError, match="does not fit"):
        conv2d(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="pad_mode"):
        conv2d(np.zeros((5, 5)), np.zeros((3, 3)), padding=1, pad_mode="wrap")


# ---------------------------------------------------------------- conv2d against TensorFlow


@SETTINGS
@given(
    n=st.integers(1, 2),
    h=st.integers(4, 16),
    w=st.integers(4, 16),
    c=st.integers(1, 3),
    f=st.integers(1, 3),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same", "explicit"]),
    seed=st.integers(0, 10_000),
)
def test_conv2d_matches_tf_nn_conv2d(n, h, w, c, f, kh, kw, stride, padding, seed):
    x, k = _random(seed, (n, h, w, c)), _random(seed + 1, (kh, kw, c, f))
    if padding == "explicit":
        rng = np.random.default_rng(seed)
        padding = tuple(tuple(int(p) for p in rng.integers(0, 3, 2)) for _ in range(2))
    ours = conv2d(x, k, stride=stride, padding=padding)
    expected = _tf_conv(x, k, stride, padding)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(
    h=st.integers(6, 16),
    w=st.integers(6, 16),
    k=st.integers(2, 3),
    dilation=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 10_000),
)
def test_dilated_conv2d_matches_tf(h, w, k, dilation, padding, seed):
    # TensorFlow on CPU supports dilation with stride 1 only.
    x, kern = _random(seed, (1, h, w, 2)), _random(seed + 1, (k, k, 2, 2))
    if padding == "valid" and dilation * (k - 1) + 1 > min(h, w):
        return
    ours = conv2d(x, kern, padding=padding, dilation=dilation)
    np.testing.assert_allclose(
        ours, _tf_conv(x, kern, 1, padding, dilation), rtol=1e-9, atol=1e-9
    )


@SETTINGS
@given(
    h=st.integers(7, 20),
    k=st.integers(1, 3),
    stride=st.integers(2, 3),
    dilation=st.integers(2, 3),
    seed=st.integers(0, 10_000),
)
def test_strided_dilated_valid_conv_is_subsampled_stride_one(
    h, k, stride, dilation, seed
):
    x, kern = _random(seed, (h, h)), _random(seed + 1, (k, k))
    full = conv2d(x, kern, dilation=dilation)
    np.testing.assert_allclose(
        conv2d(x, kern, stride=stride, dilation=dilation), full[::stride, ::stride]
    )


def test_layouts_agree():
    x = _random(3, (10, 10))
    k = _random(4, (3, 3))
    single = conv2d(x, k, stride=2, padding="same")
    channels = conv2d(x[:, :, None], k[:, :, None, None], stride=2, padding="same")
    batched = conv2d(x[None, :, :, None], k[:, :, None, None], stride=2, padding="same")
    assert (
        single.shape == (5, 5)
        and channels.shape == (5, 5, 1)
        and batched.shape == (1, 5, 5, 1)
    )
    np.testing.assert_allclose(single, channels[..., 0])
    np.testing.assert_allclose(single, batched[0, ..., 0])


# ---------------------------------------------------------------- im2col


@SETTINGS
@given(
    h=st.integers(4, 12),
    c=st.integers(1, 3),
    f=st.integers(1, 3),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same", 1]),
    dilation=st.integers(1, 2),
    seed=st.integers(0, 10_000),
)
def test_im2col_matmul_equals_conv2d(h, c, f, k, stride, padding, dilation, seed):
    pad_total = {"valid": 0, "same": dilation * (k - 1), 1: 2}[padding]
    if dilation * (k - 1) + 1 > h + pad_total:
        return
    x, kern = _random(seed, (2, h, h, c)), _random(seed + 1, (k, k, c, f))
    np.testing.assert_allclose(
        conv2d_as_matmul(x, kern, stride, padding, dilation),
        conv2d(x, kern, stride, padding, dilation),
        rtol=1e-10,
        atol=1e-10,
    )


def test_im2col_rows_are_windows():
    x = np.arange(16.0).reshape(4, 4)
    columns = im2col(x, (2, 2), stride=2)
    assert columns.shape == (4, 4)
    assert columns[0].tolist() == [0.0, 1.0, 4.0, 5.0]
    assert columns[3].tolist() == [10.0, 11.0, 14.0, 15.0]


# ---------------------------------------------------------------- pooling


@SETTINGS
@given(
    n=st.integers(1, 2),
    h=st.integers(2, 17),
    w=st.integers(2, 17),
    c=st.integers(1, 3),
    size=st.integers(1, 4),
    stride=st.integers(1, 4),
    padding=st.sampled_from(["valid", "same"]),
    mode=st.sampled_from(["max", "average"]),
    seed=st.integers(0, 10_000),
)
def test_pool2d_matches_tf(n, h, w, c, size, stride, padding, mode, seed):
    if padding == "valid" and size > min(h, w):
        return
    x = _random(seed, (n, h, w, c))
    tf_pool = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
    expected = tf_pool(
        tf.constant(x), ksize=size, strides=stride, padding=padding.upper()
    ).numpy()
    ours = pool2d(x, size, stride, padding, mode)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)


def test_pool2d_defaults_and_layouts():
    x = np.arange(36, dtype=np.float32).reshape(6, 6)
    out = pool2d(x, 2)
    assert out.shape == (3, 3) and out.dtype == np.float32
    assert out[0].tolist() == [7.0, 9.0, 11.0]
    assert pool2d(x, 3, mode="avg").tolist() == [[7.0, 10.0], [25.0, 28.0]]
    assert pool2d(x[..., None], 2, padding="same").shape == (3, 3, 1)
    with pytest.raises(ValueError, match="mode"):
        pool2d(x, 2, mode="median")
    with pytest.raises(ValueError, match="padding"):
        pool2d(x, 2, padding=1)


def test_global_average_pool_matches_keras_semantics():
    x = _random(5, (2, 5, 6, 3))
    expected = tf.reduce_mean(tf.constant(x), axis=(1, 2)).numpy()
    np.testing.assert_allclose(global_average_pool(x), expected)
    assert global_average_pool(x[0]).shape == (3,)
    assert global_average_pool(np.ones((4, 4))).shape == ()
    with pytest.raises(ValueError):
        global_average_pool(np.ones(4))


def test_receptive_field_grows_by_kernel_times_jump():
    from cnnguide.ops import receptive_field

    stack = receptive_field([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)])
    assert [r["rf"] for r in stack] == [3, 5, 6, 10, 14, 16]
    assert [r["jump"] for r in stack] == [1, 1, 2, 2, 2, 4]
    with pytest.raises(ValueError, match="layer 1"):
        receptive_field([(3, 1), (0, 1)])
    with pytest.raises(ValueError, match="pair"):
        receptive_field([3])
