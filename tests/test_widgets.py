"""cnnguide.widgets: explorers built headless, driven by setting control values."""

import matplotlib

matplotlib.use("Agg")

import datetime

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnguide import kernels as K
from cnnguide import widgets as W
from cnnguide.ops import conv2d, pool2d


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


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# ---------------------------------------------------------------- the shared pattern


def test_explorer_pattern_updates_once_per_change_and_once_per_hold():
    calls = []
    figure = Figure(figsize=(2, 2))
    ax = figure.add_subplot()
    (line,) = ax.plot([0, 1])

    def view(slope, offset):
        calls.append((slope, offset))
        return {
            "y": [offset, offset + slope],
            "label": f"slope {slope} <b>",
            "detail_html": "<i>d</i>",
        }

    explorer = W.Explorer(
        {
            "slope": widgets.FloatSlider(value=1.0),
            "offset": widgets.FloatSlider(value=0.0),
        },
        view,
        figure,
        lambda state: line.set_ydata(state["y"]),
    )
    assert calls == [(1.0, 0.0)]
    explorer.controls["slope"].value = 2.0
    assert calls[-1] == (2.0, 0.0) and len(calls) == 2
    assert explorer.label.value == "slope 2.0 &lt;b&gt;"  # label text is escaped
    assert explorer.detail.value == "<i>d</i>"
    assert list(line.get_ydata()) == [0.0, 2.0]
    with explorer.hold():
        explorer.controls["slope"].value = 3.0
        explorer.controls["offset"].value = 1.0
    assert len(calls) == 3 and calls[-1] == (3.0, 1.0)
    assert _png_size(explorer.image.value) == (144, 144)  # 2 in at 72 dpi
    assert explorer.last_update_s > 0 and explorer.last_update_cpu_s >= 0
    assert isinstance(explorer.widget, widgets.VBox)


def test_render_png_is_a_png_of_the_figure_size():
    assert _png_size(W.render_png(Figure(figsize=(3, 2)), dpi=50)) == (150, 100)


# ---------------------------------------------------------------- convolution explorer


def test_convolution_view_arithmetic_matches_the_feature_map(image):
    kernel = K.sobel("x")
    for stride, padding in [(1, "valid"), (2, "same"), (3, "same"), (2, 1)]:
        state = W.convolution_view(image, kernel, stride, padding, row=5, col=7)
        expected = conv2d(image, kernel, stride=stride, padding=padding)
        np.testing.assert_array_equal(state["feature_map"], expected)
        assert state["shape"] == expected.shape
        assert np.isclose(state["value"], expected[5, 7], atol=1e-5)
        np.testing.assert_allclose(state["products"], state["patch"] * kernel)
        top, left, kh, kw = state["window"]
        assert (kh, kw) == (3, 3)
        assert (
            top == 5 * stride - state["pads"][0][0]
            and left == 7 * stride - state["pads"][1][0]
        )
        assert f"{expected.shape[0]}x{expected.shape[1]}" in state["label"]
        assert "sum" in state["detail_html"]


def test_convolution_view_clips_the_chosen_pixel(image):
    state = W.convolution_view(image, K.box_blur(3), 4, "valid", row=999, col=-5)
    assert (state["row"], state["col"]) == (15, 0)


def test_convolution_explorer_responds_to_every_control(image):
    explorer = W.convolution_explorer(
        {"ramp": image, "flat": np.full((40, 40), 0.5)}, "sobel_x", upload=False
    )
    assert explorer.state["shape"] == (62, 62)
    assert "62x62" in explorer.label.value

    explorer.controls["stride"].value = 2
    assert explorer.state["shape"] == (31, 31) and "31x31" in explorer.label.value
    assert (
        explorer.controls["row"].max == 30
    )  # the pixel sliders follow the feature map

    explorer.controls["padding"].value = "same"
    assert explorer.state["shape"] == (32, 32)
    np.testing.assert_allclose(
        explorer.state["feature_map"], conv2d(image, K.sobel("x"), 2, "same")
    )

    explorer.controls["kernel"].value = "box_blur"
    assert explorer.controls["size"].disabled is False
    explorer.controls["size"].value = 7
    assert explorer.state["kernel"].shape == (7, 7)
    explorer.controls["kernel"].value = "laplacian_8"
    assert (
        explorer.state["kernel"].shape == (3, 3) and explorer.controls["size"].disabled
    )

    with explorer.hold():
        explorer.controls["row"].value = 10
        explorer.controls["col"].value = 3
    value = explorer.state["feature_map"][10, 3]
    assert np.isclose(explorer.state["value"], value, atol=1e-5)
    assert f"{value:.3f}" in explorer.detail.value

    explorer.controls["image"].value = "flat"
    assert explorer.state["shape"] == (20, 20)
    # a flat image has no edges: zero everywhere except where the zero padding
    # (TensorFlow puts it bottom/right only here) makes one
    np.testing.assert_allclose(explorer.state["feature_map"][:-1, :-1], 0.0, atol=1e-6)
    assert np.abs(explorer.state["feature_map"][-1]).max() > 0


def test_convolution_explorer_custom_weights(image):
    explorer = W.convolution_explorer(image, W.CUSTOM_KERNEL, upload=False)
    np.testing.assert_array_equal(
        explorer.state["kernel"], K.sobel("x")
    )  # the grid starts at Sobel x
    with explorer.hold():
        for i in range(3):
            for j in range(3):
                explorer.controls[f"w{i}{j}"].value = 1.0 if (i, j) == (1, 1) else 0.0
    np.testing.assert_allclose(explorer.state["feature_map"], image[1:-1, 1:-1])


def test_convolution_explorer_upload_adds_an_image(image, tmp_path):
    pytest.importorskip("cnnguide.data")
    from PIL import Image

    path = tmp_path / "scan.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    explorer = W.convolution_explorer({"ramp": image})
    upload = next(
        w
        for box in explorer.widget.children
        if isinstance(box, widgets.HBox)
        for w in box.children
        if isinstance(w, widgets.FileUpload)
    )
    upload.value = (
        {
            "name": "scan.png",
            "type": "image/png",
            "size": path.stat().st_size,
            "content": memoryview(path.read_bytes()),
            "last_modified": datetime.datetime(
                2026, 1, 1, tzinfo=datetime.timezone.utc
            ),
        },
    )
    assert explorer.controls["image"].value == "upload: scan.png"
    assert explorer.state["image"].shape == (256, 256)
    assert explorer.state["shape"] == (254, 254)


def test_convolution_small_multiples(image):
    fig = W.convolution_small_multiples(image, ["sobel_x", "gaussian_3x3"], [1, 2])
    assert len(fig.axes) == 6
    assert fig.axes[2].get_title() == "gaussian_3x3\n64x64"
    assert fig.axes[5].get_title() == "gaussian_3x3\n32x32"


# ---------------------------------------------------------------- stride and padding explorer


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
    walk = W.window_walk_picture(n, k, stride, padding, cell=5)
    assert walk["out"] == expected
    assert walk["centres"].shape == (expected * expected, 2)
    (top, bottom), (left, right) = walk["pads"]
    assert walk["picture"].shape == ((n + top + bottom) * 5, (n + left + right) * 5, 3)


def test_stride_padding_explorer_labels_formula_and_produced(image):
    explorer = W.stride_padding_explorer(image, n=7, k=3)
    assert (explorer.state["formula"], explorer.state["produced"]) == (5, 5)
    assert "formula floor((7 + 2*0 - 3)/1) + 1 = 5" in explorer.label.value
    explorer.controls["stride"].value = 2
    assert (explorer.state["formula"], explorer.state["produced"]) == (3, 3)
    assert explorer.state["feature_map"].shape == (31, 31)
    explorer.controls["padding"].value = "same"
    assert (explorer.state["formula"], explorer.state["produced"]) == (4, 4)
    assert "ceil(7/2) = 4" in explorer.label.value
    assert explorer.state["feature_map"].shape == (32, 32)
    assert explorer.controls["step"].max == 15
    explorer.controls["step"].value = 5
    assert explorer.state["walk"]["window"][:2] == (
        2 * 12,
        2 * 12,
    )  # row 1, col 1, stride 2
    explorer.controls["padding"].value = 2
    assert explorer.state["walk"]["pads"] == ((2, 2), (2, 2))
    assert explorer.state["formula"] == explorer.state["produced"] == 5


def test_stride_padding_small_multiples():
    fig = W.stride_padding_small_multiples(7, 3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "stride 1, valid\nformula 5, produced 5"
    assert titles[3] == "stride 2, same\nformula 4, produced 4"


# ---------------------------------------------------------------- pooling explorer


def test_pooling_explorer_max_average_and_global_average(image):
    explorer = W.pooling_explorer(image, mode="max", size=2, stride=2)
    np.testing.assert_array_equal(explorer.state["pooled"], pool2d(image, 2))
    assert "64x64 → 32x32" in explorer.label.value
    assert np.isclose(explorer.state["global_average"], image.mean())
    assert f"{image.mean():.3f}" in explorer.label.value
    explorer.controls["mode"].value = "average"
    np.testing.assert_allclose(
        explorer.state["pooled"], pool2d(image, 2, mode="average")
    )
    with explorer.hold():
        explorer.controls["size"].value = 3
        explorer.controls["stride"].value = 3
        explorer.controls["padding"].value = "same"
    assert explorer.state["shape"] == (22, 22) and "→ 22x22" in explorer.label.value
    explorer.controls["mode"].value = "max"
    assert explorer.state["pooled"].max() == 1.0
    explorer.controls["row"].value = 21
    assert explorer.state["window"] == (62, -1, 3, 3)  # one padded pixel on each side


def test_pooling_small_multiples(image):
    fig = W.pooling_small_multiples(image, sizes=(2, 8))
    assert len(fig.axes) == 8
    assert fig.axes[2].get_title() == "max 8x8\n→ 8x8"
    assert fig.axes[3].get_title() == "global average\n→ 1x1"


def test_explorers_refuse_colour_images():
    with pytest.raises(ValueError, match="greyscale"):
        W.pooling_explorer(np.zeros((8, 8, 3)))
