"""The page agrees with the reference: the convolution, stride/padding and pooling
explorers rendered in headless Chromium (no kernel, network cut), driven through
their ipywidgets controls over a grid of settings, against cnnguide.ops.

Every setting is made by changing a control's model in the page (a slider's
``value``, a dropdown's or toggle's ``index``), exactly what a reader's click
does; the control's jslink carries it to the explorer, whose ES module computes
and draws. ``data-values`` is what the drawing was made from.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from browser import chromium_page, wait_rendered, widgets_page
from cnnguide import kernels as K
from cnnguide.explorers import (
    ConvolutionExplorer,
    PoolingExplorer,
    StridePaddingExplorer,
    convolution_view,
    decode_array,
    explorer_kernel,
    pooling_view,
)
from cnnguide.explorers.convolution import CUSTOM_KERNEL, KERNEL_SIZES, SIZED_KERNELS
from cnnguide.ops import conv2d, output_size, pad_amounts

pytestmark = pytest.mark.usefixtures("chromium")

ATOL = 1e-5

# Set controls (by trait name) in one go, let the links and the draw run, and
# return what the view drew. A dropdown or toggle takes an option's index.
DRIVE = """
async ([selector, steps]) => {
  const root = document.querySelector(selector);
  const api = root.cnnguide;
  const options = api.model.get("options");
  // A task (not a timer, which waits for frames): every microtask chain of the
  // links, the draw and the slider-range update has run when it comes.
  const channel = new MessageChannel();
  const tick = () => new Promise((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
  const out = [];
  for (const step of steps) {
    const models = {};
    for (const name of Object.keys(step)) models[name] = await api.control(name);
    const before = Number(root.dataset.draws);
    let changed = false;
    for (const [name, value] of Object.entries(step)) {
      const m = models[name];
      if (!m) throw new Error("no control model for " + name);
      if (name in options) {
        const index = options[name].indexOf(value);
        if (index < 0) throw new Error(name + " has no option " + value);
        if (m.get("index") !== index) { m.set("index", index); changed = true; }
      } else if (m.get("value") !== value) {
        m.set("value", value);
        changed = true;
      }
    }
    await tick();
    await tick();
    const draws = Number(root.dataset.draws);
    if (changed && draws === before) throw new Error("no redraw after " + JSON.stringify(step));
    out.push({ values: JSON.parse(root.dataset.values), label: root.querySelector("canvas").getAttribute("aria-label") });
  }
  return out;
}
"""


def _image(h, w, seed):
    return np.random.default_rng(seed).random((h, w))


@pytest.fixture(scope="module")
def explorers():
    images = {"tall": _image(24, 37, 1), "small": _image(13, 17, 2)}
    return {
        "convolution": ConvolutionExplorer(images, kernel="sobel_x"),
        "stride_padding": StridePaddingExplorer(images),
        "pooling": PoolingExplorer(images),
    }


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """One headless Chromium (network cut) for the module; extra pages share it."""
    with chromium_page(viewport={"width": 1400, "height": 1000}) as page:
        yield page
        assert page.blocked == [], page.blocked


def open_page(browser_page, widgets, path):
    """A new page showing ``widgets``; its page errors land in ``page.errors``.

    Each explorer gets a page of its own: a page holding all three redraws its
    layout after every control change, which makes the grid several times slower.
    """
    page = browser_page.context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            page.errors.append(f"console: {msg.text}")
            if msg.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in msg.text
            else None
        ),
    )
    page.goto(widgets_page(widgets, path).as_uri())
    wait_rendered(page, ".cnnguide-explorer")
    return page


@pytest.fixture(scope="module")
def pages(explorers, browser_page, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explorers")
    opened = {
        name: open_page(browser_page, explorer.box, folder / f"{name}.html")
        for name, explorer in explorers.items()
    }
    yield opened
    for name, page in opened.items():
        assert page.errors == [], (name, page.errors)
    assert browser_page.blocked == [], browser_page.blocked


def drive(pages, name, steps):
    return pages[name].evaluate(DRIVE, [f'[data-explorer="{name}"]', steps])


def images_of(explorer):
    return explorer.images_as(np.float64)


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


def _check_conv(images, step, got, weights=None):
    v = got["values"]
    assert v["kernel"] == step["kernel"] and v["stride"] == step["stride"]
    assert v["padding"] == step["padding"]
    image = images[v["image"]]
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
    ref = convolution_view(
        image, kernel, step["stride"], step["padding"], step["row"], step["col"]
    )
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
        _check_conv(images, {**settings, **where}, got)


def test_convolution_custom_weights_and_image_choice(pages, explorers):
    explorer = explorers["convolution"]
    images = images_of(explorer)
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
        _check_conv(images, {**step, "row": 2, "col": col}, got, weights=grid)
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


# ------------------------------------------------------------------ stride and padding


def test_stride_padding_agrees_with_output_size_and_conv2d(pages, explorers):
    explorer = explorers["stride_padding"]
    images = images_of(explorer)
    steps = [
        {"n": n, "k": k, "stride": s, "padding": p, "step": (n * 7 + k) % 5}
        for n in (3, 4, 5, 7, 8, 12)
        for k in (1, 2, 3, 5, 7)
        for s in (1, 2, 3, 4)
        for p in ("valid", "same", 1, 2)
    ]
    # the settings, then the position (its slider's range follows the settings)
    parts = [
        part
        for step in steps
        for part in (
            {k: v for k, v in step.items() if k != "step"},
            {"step": step["step"]},
        )
    ]
    results = drive(pages, "stride_padding", [{"image": "tall"}] + parts)[2::2]
    for step, got in zip(steps, results):
        v = got["values"]
        n, k, s, p = step["n"], step["k"], step["stride"], step["padding"]
        assert (v["n"], v["k"], v["stride"], v["padding"]) == (n, k, s, p)
        pads = pad_amounts(p, (n, n), (k, k), s)
        assert v["pads"] == [list(pads[0]), list(pads[1])]
        fits = n + sum(pads[0]) >= k
        if fits:
            expected = output_size(n, k, s, p)
            assert v["formula"] == expected
            assert v["produced"] == [expected, expected]
            produced = conv2d(np.zeros((n, n)), np.ones((k, k)), s, p).shape
            assert tuple(v["produced"]) == produced
            assert v["step"] == min(step["step"], expected**2 - 1)
            r, c = divmod(v["step"], expected)
            assert v["window"] == [r * s, c * s, k, k]
            assert f"= {expected}" in v["formula_text"]
        else:
            assert v["produced"] == [0, 0]
            assert v["formula"] < 1
            with pytest.raises(ValueError):
                output_size(n, k, s, p)
        image = images["tall"]
        ref = conv2d(image, np.full((k, k), np.float32(1 / k**2), np.float64), s, p)
        assert v["image_output_shape"] == list(ref.shape)
        assert v["image_formula"] == [
            output_size(image.shape[0], k, s, p),
            output_size(image.shape[1], k, s, p),
        ]
        np.testing.assert_allclose(
            decode_array(v["feature_map"]), ref, atol=ATOL, rtol=0
        )
        if fits:
            assert f"{v['produced'][0]}x{v['produced'][1]} positions" in got["label"]
            assert f"give {ref.shape[0]}x{ref.shape[1]}" in got["label"]


# ------------------------------------------------------------------ pooling


def test_pooling_agrees_with_pool2d(pages, explorers):
    explorer = explorers["pooling"]
    images = images_of(explorer)
    steps = [
        {
            "mode": mode,
            "size": size,
            "stride": stride,
            "padding": padding,
            "row": (size * 5 + stride) % 23,
            "col": (size * 3 + 2 * stride) % 36,
        }
        for mode in ("max", "average")
        for size in (1, 2, 3, 4, 5, 7, 8, 16)
        for stride in (1, 2, 3, 4, 16)
        for padding in ("valid", "same")
    ]
    parts = []
    for step in steps:  # the settings, then the position within the output
        oh = output_size(24, step["size"], step["stride"], step["padding"])
        ow = output_size(37, step["size"], step["stride"], step["padding"])
        step["row"], step["col"] = step["row"] % oh, step["col"] % ow
        parts += [
            {k: step[k] for k in ("mode", "size", "stride", "padding")},
            {"row": step["row"], "col": step["col"]},
        ]
    results = drive(pages, "pooling", [{"image": "tall"}] + parts)[2::2]
    image = images["tall"]
    for step, got in zip(steps, results):
        v = got["values"]
        assert (v["mode"], v["size"], v["stride"], v["padding"]) == (
            step["mode"],
            step["size"],
            step["stride"],
            step["padding"],
        )
        ref = pooling_view(
            image,
            step["mode"],
            step["size"],
            step["stride"],
            step["padding"],
            step["row"],
            step["col"],
        )
        pooled = decode_array(v["pooled"])
        assert pooled.shape == ref["pooled"].shape == tuple(v["shape"])
        assert v["shape"] == [
            output_size(24, step["size"], step["stride"], step["padding"]),
            output_size(37, step["size"], step["stride"], step["padding"]),
        ]
        np.testing.assert_allclose(pooled, ref["pooled"], atol=ATOL, rtol=0)
        assert v["pads"] == [list(p) for p in ref["pads"]]
        assert (v["row"], v["col"]) == (ref["row"], ref["col"])
        assert tuple(v["window"]) == ref["window"]
        assert math.isclose(v["value"], ref["value"], abs_tol=ATOL)
        assert math.isclose(v["global_average"], ref["global_average"], abs_tol=ATOL)
        assert f"-> {v['shape'][0]}x{v['shape'][1]}" in got["label"]


# ------------------------------------------------------------------ Python -> page


def test_setting_a_trait_from_python_moves_the_saved_control(browser_page, tmp_path):
    """A notebook executed headless sets ``explorer.stride = 3``: the saved page
    shows stride 3 (the control's saved value is what the page's link copies)."""
    explorer = PoolingExplorer({"a": _image(20, 20, 5)}, size=2, stride=2)
    explorer.stride = 3
    explorer.mode = "average"
    page = open_page(browser_page, explorer.box, tmp_path / "pool.html")
    v = json.loads(page.get_attribute(".cnnguide-explorer", "data-values"))
    assert (v["stride"], v["mode"]) == (3, "average")
    assert v["shape"] == [7, 7]
    # a keyboard user moves the window with the arrow keys
    page.locator(".cnnguide-explorer canvas").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => JSON.parse(document.querySelector('.cnnguide-explorer')"
        ".dataset.values).row === 1"
    )
    v = json.loads(page.get_attribute(".cnnguide-explorer", "data-values"))
    assert (v["row"], v["col"]) == (1, 1)
    # ... and the sliders follow
    assert page.evaluate(
        """async () => {
            const api = document.querySelector('.cnnguide-explorer').cnnguide;
            return [(await api.control("row")).get("value"), (await api.control("col")).get("value")];
        }"""
    ) == [1, 1]
    assert page.errors == []
    page.close()


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
