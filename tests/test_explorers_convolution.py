"""cnnguide.explorers.convolution, Python side: the kernel bank, ConvolutionExplorer
(traits, defaults, links to its controls, bad input), its NumPy reference and its
static small multiples. What the page computes: test_explorers_convolution_browser.py."""

import matplotlib

matplotlib.use("Agg")

import json

import numpy as np
import pytest
import traitlets

from cnnguide import kernels as K
from cnnguide.explorers import (
    CUSTOM_KERNEL,
    ConvolutionExplorer,
    convolution_small_multiples,
    explorer_kernel,
)
from cnnguide.explorers.convolution import KERNEL_SIZES, SIZED_KERNELS, kernel_bank
from cnnguide.ops import conv2d
from explorer_helpers import close_figures, image_fixture  # noqa: F401


def test_kernel_bank_holds_every_kernel_at_every_size():
    bank = kernel_bank()
    assert set(bank) == set(K.kernel_names())
    for name, entry in bank.items():
        if name in SIZED_KERNELS:
            assert entry["sized"] and sorted(map(int, entry["sizes"])) == list(
                KERNEL_SIZES
            )
            for size in KERNEL_SIZES:
                e = entry["sizes"][str(size)]
                np.testing.assert_array_equal(
                    np.reshape(e["weights"], e["shape"]), explorer_kernel(name, size)
                )
        else:
            e = entry["sizes"]["*"]
            np.testing.assert_array_equal(
                np.reshape(e["weights"], e["shape"]), K.get_kernel(name)
            )
    json.dumps(bank)  # it travels as JSON


def test_explorer_kernel_sizes_and_custom():
    assert explorer_kernel("box_blur", 5).shape == (5, 5)
    assert explorer_kernel("sobel_x", 7).shape == (3, 3)
    assert explorer_kernel("gabor", 9).shape == (9, 9)
    np.testing.assert_array_equal(
        explorer_kernel(CUSTOM_KERNEL, 3, np.eye(3)), np.eye(3)
    )
    with pytest.raises(ValueError, match="3x3"):
        explorer_kernel(CUSTOM_KERNEL, 3, np.eye(2))


def test_convolution_reference_arithmetic_matches_the_feature_map(image):
    ex = ConvolutionExplorer(image, "sobel_x", row=5, col=7)
    kernel = ex.kernel_array.astype(np.float64)
    for stride, padding in [(1, "valid"), (2, "same"), (3, "same"), (4, "valid")]:
        ex.stride, ex.padding = stride, padding
        state = ex.reference()
        pixels = ex.images_as(np.float64)[ex.image]
        expected = conv2d(pixels, kernel, stride=stride, padding=padding)
        np.testing.assert_array_equal(state["feature_map"], expected)
        assert state["shape"] == expected.shape
        assert np.isclose(state["value"], expected[5, 7], atol=1e-5)
        np.testing.assert_allclose(state["products"], state["patch"] * kernel)
        top, left, kh, kw = state["window"]
        assert (kh, kw) == (3, 3)
        assert top == 5 * stride - state["pads"][0][0]
        assert left == 7 * stride - state["pads"][1][0]
    ex.kernel, ex.stride, ex.padding = "box_blur", 4, "valid"
    ex.row, ex.col = 999, 999
    clipped = ex.reference()
    assert (clipped["row"], clipped["col"]) == (15, 15)


def test_convolution_explorer_defaults_and_traits(image):
    ex = ConvolutionExplorer({"ramp": image, "flat": np.full((40, 40), 0.5)})
    assert (ex.kernel, ex.size, ex.stride, ex.padding, ex.row, ex.col) == (
        "sobel_x",
        3,
        1,
        "valid",
        0,
        0,
    )
    assert ex.image == "ramp" and ex.options["image"] == ["ramp", "flat"]
    assert ex.shapes == [[64, 64], [40, 40]] and len(ex.pixels) == 64 * 64 + 40 * 40
    assert ex.options["kernel"][-1] == CUSTOM_KERNEL
    assert ex.controls["kernel"].value == "sobel_x"
    assert ex.controls["row"].max == 63  # the page narrows it to the feature map
    np.testing.assert_array_equal(
        ex.weights, K.sobel("x")
    )  # the grid starts at Sobel x
    assert ex.reference()["shape"] == (62, 62)


def test_convolution_explorer_settings_from_python(image):
    ex = ConvolutionExplorer({"ramp": image, "flat": np.full((40, 40), 0.5)}, "sobel_x")
    ex.stride = 2
    assert ex.controls["stride"].value == 2 and ex.reference()["shape"] == (31, 31)
    ex.padding = "same"
    assert (ex.padding_index, ex.controls["padding"].value) == (1, "same")
    np.testing.assert_allclose(
        ex.reference()["feature_map"],
        conv2d(ex.image_array, K.sobel("x"), 2, "same"),
        atol=1e-6,
    )
    ex.kernel = "box_blur"
    ex.size = 7
    assert ex.kernel_array.shape == (7, 7) and ex.kernel_index == ex.options[
        "kernel"
    ].index("box_blur")
    ex.kernel = "laplacian_8"
    assert ex.kernel_array.shape == (3, 3)
    ex.row, ex.col = 10, 3
    state = ex.reference()
    assert np.isclose(state["value"], state["feature_map"][10, 3])
    ex.image = "flat"
    assert ex.image_index == 1 and ex.reference()["shape"] == (20, 20)
    ex.image_index = 0  # what the page's dropdown link sends
    assert ex.image == "ramp"


def test_convolution_explorer_custom_weights(image):
    ex = ConvolutionExplorer(image, CUSTOM_KERNEL, weights=np.zeros((3, 3)))
    assert ex.w11 == 0.0 and ex.controls["w11"].value == 0.0
    grid = np.zeros((3, 3))
    grid[1, 1] = 1.0
    ex.weights = grid
    assert ex.controls["w11"].value == 1.0
    np.testing.assert_allclose(
        ex.reference()["feature_map"], ex.image_array[1:-1, 1:-1], atol=1e-7
    )
    with pytest.raises(ValueError, match="3x3"):
        ex.weights = np.ones((2, 2))


def test_convolution_explorer_refuses_bad_settings(image):
    ex = ConvolutionExplorer(image)
    for name, value in [
        ("stride", 5),
        ("stride", 0),
        ("size", 4),
        ("size", 17),
        ("padding", "full"),
        ("kernel", "blur"),
        ("image", "nope"),
        ("row", -1),
    ]:
        with pytest.raises(traitlets.TraitError):
            setattr(ex, name, value)
    with pytest.raises(traitlets.TraitError):
        ConvolutionExplorer(image, kernel="nope")
    with pytest.raises(ValueError, match="greyscale"):
        ConvolutionExplorer(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="at least one"):
        ConvolutionExplorer({})


def test_convolution_explorer_state_is_small_enough_for_a_page(image):
    ex = ConvolutionExplorer({"phantom": np.zeros((256, 256))})
    state = ex.get_state()
    size = len(json.dumps({k: v for k, v in state.items() if k != "pixels"}))
    assert size < 200_000 and len(state["pixels"]) == 256 * 256


def test_convolution_small_multiples(image):
    fig = convolution_small_multiples(image, ["sobel_x", "gaussian_3x3"], [1, 2])
    assert len(fig.axes) == 6
    assert fig.axes[2].get_title() == "gaussian_3x3\n64x64"
    assert fig.axes[5].get_title() == "gaussian_3x3\n32x32"
