"""The page agrees with the reference: the pooling explorer rendered in headless
Chromium (no kernel, network cut), driven through its ipywidgets controls over a
grid of settings, against cnnguide.ops.pool2d (its ``reference()``); a trait set
from Python is what the saved page shows.

Every setting is made by changing a control's model in the page, exactly what a
reader's click does; ``data-values`` is what the drawing was made from.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cnnguide.explorers import PoolingExplorer, decode_array
from cnnguide.ops import output_size
from explorer_helpers import (  # noqa: F401
    ATOL,
    browser_images,
    browser_page_fixture,
    drive,
    open_page,
    pages_fixture,
    random_image,
)

pytestmark = pytest.mark.usefixtures("chromium")


@pytest.fixture(scope="module")
def explorers():
    return {"pooling": PoolingExplorer(browser_images())}


def test_every_view_renders_with_a_text_alternative(pages):
    for name, page in pages.items():
        root = page.locator(f'[data-explorer="{name}"]')
        canvas = root.locator("canvas").first
        assert canvas.get_attribute("role") == "img"
        label = canvas.get_attribute("aria-label")
        assert label and ("x" in label), label
        assert float(root.get_attribute("data-draw-ms")) >= 0
        assert page.errors == []


# ------------------------------------------------------------------ pooling


def test_pooling_agrees_with_pool2d(pages, explorers):
    explorer = explorers["pooling"]
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
    for step, got in zip(steps, results):
        v = got["values"]
        assert (v["mode"], v["size"], v["stride"], v["padding"]) == (
            step["mode"],
            step["size"],
            step["stride"],
            step["padding"],
        )
        # the explorer's NumPy reference at the settings the page was driven to
        explorer.image = "tall"
        for name in ("mode", "size", "stride", "padding", "row", "col"):
            setattr(explorer, name, step[name])
        ref = explorer.reference()
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
    explorer = PoolingExplorer({"a": random_image(20, 20, 5)}, size=2, stride=2)
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
