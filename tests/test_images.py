"""Tests for cnnguide.images: normalisation, greyscale, tensor layout, pixel figures."""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from cnnguide import images
from cnnguide.images import (
    channels_first_to_last,
    channels_last_to_first,
    mean_normalize,
    min_max_normalize,
    rgb_to_grey,
    show_colour_swatches,
    show_pixel_values,
    show_rgb_planes,
    standardize,
    summary,
    to_tensor,
)

uint8_images = arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_doctests():
    result = doctest.testmod(images, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0


# --- min-max -----------------------------------------------------------------


def test_min_max_maps_extremes_to_target_range():
    out = min_max_normalize(np.array([[3, 7], [5, 11]], dtype=np.uint8))
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out, [[0.0, 0.5], [0.25, 1.0]])


def test_min_max_to_minus_one_one_with_fixed_8bit_range():
    out = min_max_normalize(np.array([0, 255, 127.5]), -1, 1, data_min=0, data_max=255)
    np.testing.assert_allclose(out, [-1.0, 1.0, 0.0], atol=1e-6)


def test_min_max_fixed_range_does_not_stretch_a_dark_image():
    dark = np.array([0, 51], dtype=np.uint8)
    assert min_max_normalize(dark).max() == 1.0
    assert min_max_normalize(dark, data_min=0, data_max=255).max() == pytest.approx(0.2)


def test_min_max_constant_image_maps_to_new_min():
    out = min_max_normalize(np.full((2, 2), 9, dtype=np.uint8), -1, 1)
    assert np.all(out == -1.0)


@pytest.mark.parametrize(
    "kwargs", [dict(new_min=1, new_max=0), dict(data_min=5, data_max=1)]
)
def test_min_max_rejects_reversed_ranges(kwargs):
    with pytest.raises(ValueError):
        min_max_normalize([1, 2, 3], **kwargs)


def test_rejects_empty_and_non_numeric():
    with pytest.raises(ValueError, match="empty"):
        min_max_normalize(np.array([]))
    with pytest.raises(TypeError, match="numeric"):
        mean_normalize(np.array(["a", "b"]))


@settings(max_examples=60, deadline=None)
@given(uint8_images)
def test_min_max_properties(image):
    out = min_max_normalize(image)
    assert out.shape == image.shape
    assert 0.0 <= out.min() and out.max() <= 1.0
    if image.min() != image.max():
        assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
        # order of pixel values is preserved
        flat_in, flat_out = image.ravel().astype(int), out.ravel()
        assert np.all(np.diff(flat_out[np.argsort(flat_in, kind="stable")]) >= -1e-7)


# --- mean normalisation and standardisation ----------------------------------


@settings(max_examples=60, deadline=None)
@given(uint8_images)
def test_mean_normalize_properties(image):
    out = mean_normalize(image)
    assert abs(float(out.mean(dtype=np.float64))) < 1e-5
    assert -1.0 <= out.min() and out.max() <= 1.0
    if image.min() != image.max():
        assert float(out.max() - out.min()) == pytest.approx(1.0, abs=1e-5)
    else:
        assert np.all(out == 0)


@settings(max_examples=60, deadline=None)
@given(uint8_images)
def test_standardize_properties(image):
    if image.min() == image.max():
        with pytest.raises(ValueError, match="std"):
            standardize(image)
        return
    out = standardize(image)
    assert abs(float(out.mean(dtype=np.float64))) < 1e-4
    assert float(out.std(dtype=np.float64)) == pytest.approx(1.0, abs=1e-4)


def test_standardize_with_given_statistics():
    out = standardize(np.array([10.0, 20.0]), mean=10.0, std=5.0)
    np.testing.assert_allclose(out, [0.0, 2.0])


# --- greyscale ----------------------------------------------------------------


def test_rgb_to_grey_primary_colours():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]]], dtype=np.uint8)
    np.testing.assert_array_equal(rgb_to_grey(rgb), [[76, 150, 29, 0]])


def test_rgb_to_grey_float_input_stays_float():
    out = rgb_to_grey(np.ones((2, 2, 3), dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 10), st.integers(1, 10), st.just(3))))
def test_rgb_to_grey_agrees_with_pillow_within_one_level(rgb):
    pil = np.asarray(Image.fromarray(rgb).convert("L"))
    ours = rgb_to_grey(rgb)
    assert ours.shape == rgb.shape[:2]
    assert np.abs(ours.astype(int) - pil.astype(int)).max() <= 1


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (3,)])
def test_rgb_to_grey_rejects_non_rgb(shape):
    with pytest.raises(ValueError, match="length 3"):
        rgb_to_grey(np.zeros(shape, dtype=np.uint8))


# --- tensors and channel order ------------------------------------------------


def test_to_tensor_adds_channel_axis_and_scales_uint8():
    batch = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    tensor = to_tensor(batch)
    assert tensor.shape == (1, 2, 2, 1)
    assert tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]], atol=1e-6)


def test_to_tensor_keeps_floats_and_checks_channels():
    rgb = np.random.default_rng(0).random((2, 5, 6, 3)).astype(np.float64)
    tensor = to_tensor(rgb, channels=3)
    assert tensor.shape == (2, 5, 6, 3) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor, rgb, rtol=1e-6)
    with pytest.raises(ValueError, match="channel"):
        to_tensor(rgb, channels=1)


@pytest.mark.parametrize("shape", [(28, 28), (1, 2, 3, 4, 5)])
def test_to_tensor_rejects_wrong_rank(shape):
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        to_tensor(np.zeros(shape, dtype=np.uint8))


def test_channel_order_round_trip():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # (N, C, H, W)
    last = channels_first_to_last(x)
    assert last.shape == (2, 4, 5, 3)
    assert last[1, 2, 3, 0] == x[1, 0, 2, 3]
    np.testing.assert_array_equal(channels_last_to_first(last), x)
    with pytest.raises(ValueError):
        channels_first_to_last(np.zeros((3, 3)))


def test_summary_values():
    info = summary(np.array([[0, 255], [255, 0]], dtype=np.uint8))
    assert info == {
        "shape": (2, 2),
        "dtype": "uint8",
        "min": 0.0,
        "max": 255.0,
        "mean": 127.5,
        "std": 127.5,
    }


# --- figures -------------------------------------------------------------------


def test_show_pixel_values_writes_every_value():
    crop = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    fig = show_pixel_values(crop)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0", "100", "200", "255"]
    # dark cells get white text, light cells black
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours == ["white", "white", "black", "black"]


def test_show_pixel_values_floats_and_limits():
    fig = show_pixel_values(np.array([[0.25, 0.5]]), vmin=0, vmax=1)
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.25", "0.50"]
    with pytest.raises(ValueError, match="crop"):
        show_pixel_values(np.zeros((40, 40)))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        show_pixel_values(np.zeros((4, 4, 3)))


def test_show_rgb_planes_isolates_each_channel():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    fig = show_rgb_planes(rgb, annotate=True)
    planes = [ax.get_images()[0].get_array() for ax in fig.axes[1:]]
    for index, plane in enumerate(planes):
        kept = np.asarray(plane)[..., index]
        others = np.delete(np.asarray(plane), index, axis=-1)
        assert np.all(kept == rgb[..., index]) and np.all(others == 0)
    with pytest.raises(ValueError, match="uint8"):
        show_rgb_planes(np.zeros((2, 2, 3), dtype=np.float32))


def test_show_colour_swatches_labels_hex_codes():
    fig = show_colour_swatches({"source's 'pinkish blue'": (0, 25, 51)})
    assert "#001933" in fig.axes[0].get_xlabel()
    swatch = np.asarray(fig.axes[0].get_images()[0].get_array())
    np.testing.assert_array_equal(swatch[0, 0], [0, 25, 51])
    with pytest.raises(ValueError, match="0..255"):
        show_colour_swatches({"bad": (0, 0, 300)})
    with pytest.raises(ValueError, match="empty"):
        show_colour_swatches({})


# ------------------------------------------------ the one model-input converter


def test_as_model_input_scales_by_dtype():
    from cnnguide.images import as_model_input

    u8 = as_model_input(np.array([[0, 51, 255]], np.uint8))
    u16 = as_model_input(np.array([[0, 13107, 65535]], np.uint16))
    f = as_model_input(np.array([[0.0, 0.2, 1.0]], np.float64))
    for x in (u8, u16, f):
        assert x.dtype == np.float32 and x.shape == (1, 1, 3, 1)
        np.testing.assert_allclose(x.ravel(), [0.0, 0.2, 1.0], atol=1e-6)
    # a 16-bit radiograph keeps its range: not divided by 255 into values up to 257
    assert as_model_input(np.full((2, 2), 65535, np.uint16)).max() == 1.0


@pytest.mark.parametrize(
    "shape, expected",
    [((5, 6), (1, 5, 6, 1)), ((3, 5, 6), (3, 5, 6, 1)), ((3, 5, 6, 1), (3, 5, 6, 1))],
)
def test_as_model_input_shapes(shape, expected):
    from cnnguide.images import as_model_input

    assert as_model_input(np.zeros(shape, np.uint8)).shape == expected


@pytest.mark.parametrize("dtype", [bool, np.int8, np.int32, np.int64, np.uint32])
def test_as_model_input_refuses_dtypes_of_unknown_scale(dtype):
    from cnnguide.images import as_model_input

    with pytest.raises(TypeError, match=f"dtype {np.dtype(dtype)}.*uint8"):
        as_model_input(np.zeros((2, 4, 4), dtype))


def test_as_model_input_refuses_bad_floats_and_shapes():
    from cnnguide.images import as_model_input

    with pytest.raises(ValueError, match=r"\[0, 1\].*from 0 to 200"):
        as_model_input(np.array([[0.0, 200.0]]))
    with pytest.raises(ValueError, match="NaN"):
        as_model_input(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        as_model_input(np.zeros(4, np.uint8))


def test_window_clips_outside_and_spreads_inside():
    from cnnguide.images import window

    raw = np.arange(0, 4096, dtype=np.uint16)
    out = window(raw, level=2048, width=1024)
    assert out.dtype == np.uint8
    assert (out[raw <= 1536] == 0).all() and (out[raw >= 2560] == 255).all()
    inside = out[(raw > 1536) & (raw < 2560)]
    assert np.all(np.diff(inside.astype(int)) >= 0) and len(np.unique(inside)) == 256
    with pytest.raises(ValueError, match="width"):
        window(raw, 100, 0)


def test_region_statistics_measure_each_region_separately():
    from cnnguide.images import region_statistics

    x = np.full((2, 12, 12), 10.0)
    x[0, :2, :] = 250.0  # a bright top border on the first image only
    x[1, 4:8, 4:8] = 90.0  # a bright centre on the second only
    s = region_statistics(x.astype(np.uint8)[..., None], border=2, centre=4)
    assert set(s) == {"mean brightness", "contrast (sd)", "centre patch", "border"}
    assert s["border"][0] > s["border"][1] == 10.0
    assert s["centre patch"][1] == 90.0 and s["centre patch"][0] == 10.0
    assert s["contrast (sd)"][0] > 0 and s["mean brightness"].dtype == np.float64
    with pytest.raises(ValueError, match="do not fit"):
        region_statistics(x, border=6)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        region_statistics(x[0])
