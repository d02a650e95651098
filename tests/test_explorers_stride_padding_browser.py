"""The page agrees with the reference: the stride and padding explorer rendered in
headless Chromium (no kernel, network cut), driven through its ipywidgets controls
over a grid of settings, against cnnguide.ops (output_size, conv2d).

Every setting is made by changing a control's model in the page, exactly what a
reader's click does; ``data-values`` is what the drawing was made from.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnguide.explorers import StridePaddingExplorer, decode_array
from cnnguide.ops import conv2d, output_size, pad_amounts
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
    return {"stride_padding": StridePaddingExplorer(browser_images())}


def test_every_view_renders_with_a_text_alternative(pages):
    for name, page in pages.items():
        root = page.locator(f'[data-explorer="{name}"]')
        canvas = root.locator("canvas").first
        assert canvas.get_attribute("role") == "img"
        label = canvas.get_attribute("aria-label")
        assert label and ("x" in label), label
        assert float(root.get_attribute("data-draw-ms")) >= 0
        assert page.errors == []


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
