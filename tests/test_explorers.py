"""cnnguide.explorers, Python side: the pattern (_core), the three explorers of
chapters 3-4 (traits, defaults, links to their controls, bad input), their
NumPy references and their static small multiples. What the page computes is
tested in test_explorers_browser.py."""

import matplotlib

matplotlib.use("Agg")

import json

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import traitlets

from cnnguide import kernels as K
from cnnguide.explorers import (
    CUSTOM_KERNEL,
    ConvolutionExplorer,
    Explorer,
    PoolingExplorer,
    StridePaddingExplorer,
    convolution_explorer,
    convolution_small_multiples,
    convolution_view,
    decode_array,
    default_images,
    explorer_kernel,
    pooling_explorer,
    pooling_small_multiples,
    pooling_view,
    stride_padding_explorer,
    stride_padding_small_multiples,
    stride_padding_view,
    window_walk_picture,
)
from cnnguide.explorers import _core
from cnnguide.explorers.convolution import KERNEL_SIZES, SIZED_KERNELS, kernel_bank
from cnnguide.ops import conv2d, output_size, pool2d


@pytest.fixture(scope="module")
def image():
    """A 64x64 float image with structure: a bright square on a ramp."""
    ramp = np.tile(np.linspace(0, 0.5, 64, dtype=np.float32), (64, 1))
    ramp[20:44, 20:44] = 1.0
    return ramp


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- _core


class Demo(Explorer):
    _esm = "export default { render() {} }"
    n = traitlets.Int(2).tag(sync=True)
    mode = traitlets.Enum(["a", "b", "c"], "a")
    mode_index = traitlets.Int(0).tag(sync=True)


def demo():
    return Demo(
        {
            "n": ipywidgets.IntSlider(min=0, max=10),
            "mode": ipywidgets.ToggleButtons(options=["a", "b", "c"]),
        },
        rows=[["mode"], [ipywidgets.HTML("note"), "n"]],
    )


def test_core_links_value_controls_by_value_and_selections_by_index():
    ex = demo()
    from ipywidgets.widgets.widget_link import Link

    links = [link for link in ex._links if isinstance(link, Link)]
    pairs = {(link.source[1], link.target[1]) for link in links}
    assert pairs == {("value", "n"), ("index", "mode_index")}
    assert ex.options == {"mode": ["a", "b", "c"]}
    assert set(ex.control_models) == {"n", "mode"}
    # widget references the page can resolve
    state = ex.get_state()
    assert state["control_models"]["n"] == f"IPY_MODEL_{ex.controls['n'].model_id}"


def test_core_keeps_trait_index_and_control_equal():
    ex = demo()
    ex.mode = "c"
    assert (ex.mode_index, ex.controls["mode"].value) == (2, "c")
    ex.mode_index = 1  # what the page's link sends back
    assert (ex.mode, ex.controls["mode"].value) == ("b", "b")
    ex.n = 7  # Python -> control, so a saved notebook shows it
    assert ex.controls["n"].value == 7
    with pytest.raises(traitlets.TraitError):
        ex.mode = "z"


def test_core_layout_and_display():
    ex = demo()
    rows = ex.box.children
    assert rows[-1] is ex
    assert rows[0].children == (ex.controls["mode"],)
    assert rows[1].children[1] is ex.controls["n"]
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in (
        bundle[0] if isinstance(bundle, tuple) else bundle
    )


def test_core_refuses_a_selection_without_index_trait_or_a_missing_trait():
    class NoIndex(Explorer):
        _esm = "export default { render() {} }"
        mode = traitlets.Unicode("a")

    with pytest.raises(TypeError, match="mode_index"):
        NoIndex({"mode": ipywidgets.Dropdown(options=["a"])})
    with pytest.raises(TypeError, match="no trait"):
        NoIndex({"other": ipywidgets.IntSlider()})


def test_load_esm_puts_the_shared_helpers_first():
    for name in ("convolution", "stride_padding", "pooling"):
        source = _core.load_esm(name)
        assert source.index("function bytesOf") < source.index("function render")
        assert source.rstrip().endswith("export default { render };")


def test_images_travel_as_bytes_and_come_back_as_the_page_sees_them():
    data, shapes, names = _core.encode_images(
        {"u8": np.array([[0, 128, 255]], np.uint8), "f": np.array([[0.5], [1.0]])}
    )
    assert data == bytes([0, 128, 255, 128, 255]) and shapes == [[1, 3], [2, 1]]
    back = _core.decode_images(data, shapes, np.float64)
    assert back[0].tolist() == [[0.0, 128 / 255, 1.0]]
    assert back[1].shape == (2, 1)
    with pytest.raises(ValueError, match="bytes"):
        _core.decode_images(data, [[1, 3]])


def test_as_grey_image_scales_and_refuses():
    """The explorers follow the package's one rule (images.as_model_input)."""
    assert _core.as_grey_image(np.array([[0, 65535]], np.uint16)).tolist() == [
        [0.0, 1.0]
    ]
    assert _core.as_grey_image(np.array([[0.25, 1.0]])).tolist() == [[0.25, 1.0]]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):  # not rescaled silently
        _core.as_grey_image(np.array([[-1.0, 1.0]]))
    assert _core.as_grey_image(np.ones((3, 3, 1))).shape == (3, 3)
    with pytest.raises(ValueError, match="greyscale"):
        _core.as_grey_image(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        _core.as_grey_image(np.array([[np.nan]]))
    with pytest.raises(TypeError, match="scale is unknown"):
        _core.as_grey_image(np.array([["a"]]))


def test_decode_array_reads_what_the_page_exposes():
    import base64

    array = np.arange(6.0).reshape(2, 3)
    encoded = {
        "dtype": "float64",
        "shape": [2, 3],
        "b64": base64.b64encode(array.tobytes()).decode(),
    }
    np.testing.assert_array_equal(decode_array(json.loads(json.dumps(encoded))), array)
    assert decode_array([1, 2]).tolist() == [1, 2]


def test_default_images_use_training_images_only(monkeypatch):
    images = default_images(32)
    first = next(iter(images))
    assert first.startswith("phantom") and images[first].shape == (32, 32)
    for name in images:
        assert "test" not in name.lower()
        assert name.startswith("phantom") or "train" in name


def test_default_images_take_the_first_training_xray(monkeypatch):
    import cnnguide.data as data

    class FakeSplit:
        images = np.full((3, 28, 28), 200, np.uint8)

    class FakeDataset:
        is_real = True

        def __getitem__(self, split):
            assert split == "train", "explorers must not show test images"
            return FakeSplit()

    monkeypatch.setattr(data, "load_dataset", lambda **kwargs: FakeDataset())
    images = default_images(16)
    (xray,) = [v for k, v in images.items() if k.startswith("X-ray")]
    assert xray.shape == (28, 28) and np.isclose(xray[0, 0], 200 / 255)


# ---------------------------------------------------------------- convolution


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


def test_convolution_view_arithmetic_matches_the_feature_map(image):
    kernel = K.sobel("x")
    for stride, padding in [(1, "valid"), (2, "same"), (3, "same"), (2, 1)]:
        state = convolution_view(image, kernel, stride, padding, row=5, col=7)
        expected = conv2d(image, kernel, stride=stride, padding=padding)
        np.testing.assert_array_equal(state["feature_map"], expected)
        assert state["shape"] == expected.shape
        assert np.isclose(state["value"], expected[5, 7], atol=1e-5)
        np.testing.assert_allclose(state["products"], state["patch"] * kernel)
        top, left, kh, kw = state["window"]
        assert (kh, kw) == (3, 3)
        assert top == 5 * stride - state["pads"][0][0]
        assert left == 7 * stride - state["pads"][1][0]
    clipped = convolution_view(image, K.box_blur(3), 4, "valid", row=999, col=-5)
    assert (clipped["row"], clipped["col"]) == (15, 0)


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
    ex = convolution_explorer(
        {"ramp": image, "flat": np.full((40, 40), 0.5)}, "sobel_x"
    )
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


# ---------------------------------------------------------------- stride and padding


@pytest.mark.parametrize(
    "n,k,stride,padding,expected",
    [
        (7, 3, 1, "valid", 5),
        (7, 3, 2, "valid", 3),
        (7, 3, 2, "same", 4),
        (8, 3, 3, "same", 3),
        (6, 4, 2, 1, 3),
    ],
)
def test_window_walk_counts_match_the_formula(n, k, stride, padding, expected):
    walk = window_walk_picture(n, k, stride, padding, cell=5)
    assert walk["out"] == expected == output_size(n, k, stride, padding)
    assert walk["centres"].shape == (expected * expected, 2)
    (top, bottom), (left, right) = walk["pads"]
    assert walk["picture"].shape == ((n + top + bottom) * 5, (n + left + right) * 5, 3)


def test_window_walk_refuses_a_window_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        window_walk_picture(3, 5, 1, "valid")


def test_stride_padding_view_and_explorer(image):
    state = stride_padding_view(image, n=7, k=3, stride=2, padding="same")
    assert state["formula"] == state["produced"] == 4
    assert state["formula_text"] == "ceil(7/2) = 4"
    assert state["feature_map"].shape == (32, 32)
    ex = StridePaddingExplorer(image, n=7, k=3)
    assert (ex.n, ex.k, ex.stride, ex.padding, ex.step) == (7, 3, 1, "valid", 0)
    ref = ex.reference()
    assert (ref["formula"], ref["produced"]) == (5, 5)
    assert ref["formula_text"] == "floor((7 + 2*0 - 3)/1) + 1 = 5"
    ex.stride = 2
    assert ex.controls["stride"].value == 2
    assert (ex.reference()["formula"], ex.reference()["feature_map"].shape) == (
        3,
        (31, 31),
    )
    ex.padding = 2
    assert ex.padding_index == 3 and ex.controls["padding"].value == 2
    ref = ex.reference()
    assert ref["pads"] == ((2, 2), (2, 2)) and ref["formula"] == ref["produced"] == 5
    ex.step = 5
    assert ex.reference()["walk"]["window"][:2] == (0, 2 * 12)  # row 1, col 0
    np.testing.assert_allclose(
        ex.reference()["feature_map"],
        conv2d(ex.image_array, np.full((3, 3), 1 / 9, np.float32), 2, 2),
        atol=1e-6,
    )


def test_stride_padding_explorer_refuses_bad_settings(image):
    ex = stride_padding_explorer(image)
    for name, value in [
        ("n", 2),
        ("n", 13),
        ("k", 0),
        ("k", 8),
        ("stride", 5),
        ("padding", 3),
        ("padding", True),
        ("step", -1),
    ]:
        with pytest.raises(traitlets.TraitError):
            setattr(ex, name, value)


def test_stride_padding_small_multiples():
    fig = stride_padding_small_multiples(7, 3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "stride 1, valid\nformula 5, produced 5"
    assert titles[3] == "stride 2, same\nformula 4, produced 4"


# ---------------------------------------------------------------- pooling


def test_pooling_view_and_explorer(image):
    state = pooling_view(np.arange(16.0).reshape(4, 4), "max", 2)
    assert state["pooled"].tolist() == [[5.0, 7.0], [13.0, 15.0]]
    assert state["global_average"] == 7.5
    ex = pooling_explorer(image)
    assert (ex.mode, ex.size, ex.stride, ex.padding) == ("max", 2, 2, "valid")
    np.testing.assert_array_equal(
        ex.reference()["pooled"], pool2d(ex.images_as(np.float64)[ex.image], 2)
    )
    ex.mode = "average"
    assert ex.controls["mode"].value == "average" and ex.mode_index == 1
    np.testing.assert_allclose(
        ex.reference()["pooled"], pool2d(image, 2, mode="average"), atol=3e-3
    )
    ex.size, ex.stride, ex.padding = 3, 3, "same"
    assert ex.reference()["shape"] == (22, 22)
    ex.mode, ex.row = "max", 21
    ref = ex.reference()
    assert ref["pooled"].max() == 1.0
    assert ref["window"] == (62, -1, 3, 3)  # one padded pixel on each side
    assert np.isclose(ref["global_average"], ex.image_array.mean())
    assert PoolingExplorer(image, mode="avg").mode == "average"


def test_pooling_explorer_refuses_bad_settings(image):
    ex = PoolingExplorer(image)
    for name, value in [
        ("size", 0),
        ("size", 17),
        ("stride", 0),
        ("mode", "min"),
        ("padding", 1),
    ]:
        with pytest.raises(traitlets.TraitError):
            setattr(ex, name, value)
    with pytest.raises(ValueError, match="greyscale"):
        PoolingExplorer(np.zeros((8, 8, 3)))


def test_pooling_small_multiples(image):
    fig = pooling_small_multiples(image, sizes=(2, 8))
    assert len(fig.axes) == 8
    assert fig.axes[2].get_title() == "max 8x8\n→ 8x8"
    assert fig.axes[3].get_title() == "global average\n→ 1x1"


def test_widgets_module_is_gone():
    with pytest.raises(ImportError):
        import cnnguide.widgets  # noqa: F401
