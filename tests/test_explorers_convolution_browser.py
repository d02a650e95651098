"""The page agrees with the reference: the convolution explorer rendered in headless
Chromium (no kernel, network cut), driven through its ipywidgets controls over a
grid of settings, against cnnguide.ops (its ``reference()``).

Every setting is made by changing a control's model in the page (a slider's
``value``, a dropdown's or toggle's ``index``), exactly what a reader's click
does; the control's jslink carries it to the explorer, whose ES module computes
and draws. ``data-values`` is what the drawing was made from.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnguide import kernels as K
from cnnguide.explorers import ConvolutionExplorer, decode_array, explorer_kernel
from cnnguide.explorers.convolution import CUSTOM_KERNEL, KERNEL_SIZES, SIZED_KERNELS
from cnnguide.ops import conv2d, output_size
from explorer_helpers import (  # noqa: F401
    ATOL,
    browser_images,
    browser_page_fixture,
    drive,
    images_of,
    pages_fixture,
)

pytestmark = pytest.mark.usefixtures("chromium")


@pytest.fixture(scope="module")
def explorers():
    return {"convolution": ConvolutionExplorer(browser_images(), kernel="sobel_x")}


def test_every_view_renders_with_a_text_alternative(pages):
    for name, page in pages.items():
        root = page.locator(f'[data-explorer="{name}"]')
        canvas = root.locator("canvas").first
        assert canvas.get_attribute("role") == "img"
        label = canvas.get_attribute("aria-label")
        assert label and ("x" in label), label
        assert float(root.get_attribute("data-draw-ms")) >= 0
        assert page.errors == []


# ------------------------------------------------------------------ convolution


def _conv_grid(shape):
    """Settings, then an output pixel within the feature map they give (the
    position sliders' range follows the feature map, as a reader sees it)."""
    rng = np.random.default_rng(7)
    steps = []
    for name in K.kernel_names():
        sizes = KERNEL_SIZES if name in SIZED_KERNELS else (3,)
        for size in sizes:
            kh, kw = explorer_kernel(name, size).shape
            for stride in (1, 2, 3, 4):
                for padding in ("valid", "same"):
                    oh = output_size(shape[0], kh, stride, padding)
                    ow = output_size(shape[1], kw, stride, padding)
                    settings = {"kernel": name, "size": size, "stride": stride}
                    settings["padding"] = padding
                    where = {
                        "row": int(rng.integers(0, oh)),
                        "col": int(rng.integers(0, ow)),
                    }
                    steps.append((settings, where))
    return steps


def _check_conv(explorer, step, got, weights=None):
    v = got["values"]
    assert v["kernel"] == step["kernel"] and v["stride"] == step["stride"]
    assert v["padding"] == step["padding"]
    image = images_of(explorer)[v["image"]]
    kernel = explorer_kernel(step["kernel"], step["size"], weights).astype(np.float64)
    assert v["kernel_shape"] == list(kernel.shape)
    np.testing.assert_allclose(v["weights"], kernel.ravel(), atol=1e-7)
    if step["padding"] == "valid" and (
        kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]
    ):
        assert v["fits"] is False
        with pytest.raises(ValueError):
            conv2d(image, kernel, step["stride"], "valid")
        return
    # the explorer's NumPy reference at the settings the page was driven to
    explorer.image = v["image"]
    explorer.kernel, explorer.size = step["kernel"], step["size"]
    if weights is not None:
        explorer.weights = weights
    explorer.stride, explorer.padding = step["stride"], step["padding"]
    explorer.row, explorer.col = step["row"], step["col"]
    ref = explorer.reference()
    fmap = decode_array(v["feature_map"])
    assert fmap.shape == ref["feature_map"].shape == tuple(v["shape"])
    np.testing.assert_allclose(fmap, ref["feature_map"], atol=ATOL, rtol=0)
    expected_rows = [
        output_size(image.shape[0], kernel.shape[0], step["stride"], step["padding"]),
        output_size(image.shape[1], kernel.shape[1], step["stride"], step["padding"]),
    ]
    assert v["shape"] == expected_rows
    assert [list(p) for p in ref["pads"]] == v["pads"]
    assert (v["row"], v["col"]) == (ref["row"], ref["col"])
    assert tuple(v["window"]) == ref["window"]
    np.testing.assert_allclose(v["products"], ref["products"].ravel(), atol=ATOL)
    np.testing.assert_allclose(v["patch"], ref["patch"].ravel(), atol=ATOL)
    assert math.isclose(v["value"], float(ref["value"]), abs_tol=ATOL)
    assert math.isclose(v["value"], float(fmap[v["row"], v["col"]]), abs_tol=ATOL)
    label = got["label"]
    assert f"feature map {v['shape'][0]}x{v['shape'][1]}" in label
    assert f"stride {step['stride']}" in label and step["padding"] in label


def test_convolution_agrees_with_conv2d_for_every_kernel_size_stride_padding(
    pages, explorers
):
    explorer = explorers["convolution"]
    images = images_of(explorer)
    drive(pages, "convolution", [{"image": "tall"}])
    grid = _conv_grid(images["tall"].shape)
    results = drive(pages, "convolution", [part for pair in grid for part in pair])
    assert len(results) == 2 * len(grid) > 600
    for (settings, where), got in zip(grid, results[1::2]):
        assert got["values"]["image"] == "tall"
        _check_conv(explorer, {**settings, **where}, got)


def test_convolution_custom_weights_and_image_choice(pages, explorers):
    explorer = explorers["convolution"]
    rng = np.random.default_rng(3)
    steps, grids = [], []
    for stride in (1, 2, 3, 4):
        for padding in ("valid", "same"):
            grid = np.round(rng.normal(size=(3, 3)), 2)
            step = {"image": "small", "kernel": CUSTOM_KERNEL, "size": 3}
            step.update(stride=stride, padding=padding)
            step.update(
                {f"w{i}{j}": float(grid[i, j]) for i in range(3) for j in range(3)}
            )
            steps += [step, {"row": 2, "col": 200}]  # col beyond the slider's range
            grids.append(grid)
    results = drive(pages, "convolution", steps)
    for step, grid, got in zip(steps[::2], grids, results[1::2]):
        assert got["values"]["image"] == "small"
        col = got["values"]["shape"][1] - 1  # the slider stops at the last column
        assert got["values"]["col"] == col
        _check_conv(explorer, {**step, "row": 2, "col": col}, got, weights=grid)
    # the row/col sliders follow the feature map's size
    drive(
        pages,
        "convolution",
        [{"kernel": "box_blur", "size": 3, "stride": 2, "padding": "valid"}],
    )
    max_col = pages["convolution"].evaluate(
        """async () => {
            const root = document.querySelector('[data-explorer="convolution"]');
            const m = await root.cnnguide.control("col");
            await new Promise((r) => setTimeout(r, 0));
            return m.get("max");
        }"""
    )
    assert max_col == output_size(17, 3, 2, "valid") - 1


COLOUR_COUNTS = """() => {
  const root = document.querySelector('[data-explorer="convolution"]');
  const canvas = root.querySelectorAll("canvas")[1];
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let red = 0, blue = 0, all = 0;
  for (let i = 0; i < d.length; i += 4) {
    all++;
    if (d[i] > d[i + 2] + 20) red++;
    else if (d[i + 2] > d[i] + 20) blue++;
  }
  return {red: red / all, blue: blue / all,
          title: root.querySelectorAll("figcaption")[1].textContent};
}"""


def test_signed_feature_maps_are_drawn_diverging_and_centred_on_zero(pages):
    """Sobel's map has both signs: blue and red about a white zero; a blur's is grey."""
    counts = {}
    for kernel in ("sobel_x", "box_blur"):
        drive(
            pages,
            "convolution",
            [
                {
                    "image": "tall",
                    "kernel": kernel,
                    "size": 3,
                    "stride": 1,
                    "padding": "same",
                }
            ],
        )
        counts[kernel] = pages["convolution"].evaluate(COLOUR_COUNTS)
    signed, blur = counts["sobel_x"], counts["box_blur"]
    assert signed["red"] > 0.1 and signed["blue"] > 0.1, signed
    assert "white = 0" in signed["title"]
    # the blur is non-negative: grey, except the small marker around one pixel
    assert blur["blue"] == 0 and blur["red"] < 0.02, blur
    assert "black = 0" in blur["title"]
