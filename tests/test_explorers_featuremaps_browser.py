"""The page computes what the reference computes: the feature-map explorer in Chromium.

Explorers at several settings are embedded in one standalone page (vendored
require.js, anywidget and html-manager; no kernel, network cut) and their
``data-values``, which the same JS function that feeds the drawing produces, are
compared with the precomputed float feature maps: the shown mean is within half
a grey level, ``(max - min) / 510``, of the float map's mean (min and max to
1e-9).

Under ``CI=true`` a missing Chromium fails (``chromium`` fixture).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnguide.explorers.featuremaps import FeatureMapExplorer
from explorer_helpers import (
    assert_clean_and_labelled,
    draws,
    explorers_page,
    press,
    shown_values,
)

RNG = np.random.default_rng(0)
MAPS = {
    "conv": RNG.normal(size=(28, 28, 8)),
    "pool": RNG.random((14, 14, 3)) * 5 - 1,
    "dense": RNG.random(10),
}
FM_SETTINGS = [
    ("conv", 0, "grid"),
    ("conv", 5, "channel"),
    ("pool", 2, "grid"),
    ("pool", 6, "channel"),  # pool has 3 channels: the page shows channel 2
]


@pytest.fixture(scope="module")
def page(tmp_path_factory, chromium):
    explorers = [
        FeatureMapExplorer(MAPS, layer=l, channel=c, view=v) for l, c, v in FM_SETTINGS
    ]
    with explorers_page(explorers, tmp_path_factory.mktemp("featuremaps")) as p:
        yield p


def test_page_loads_clean_and_every_view_is_labelled(page):
    assert_clean_and_labelled(page)


def test_feature_maps_shown_match_the_float_maps(page):
    shown = shown_values(page, "featuremaps")
    assert len(shown) == len(FM_SETTINGS)
    for (layer, channel, view), v in zip(FM_SETTINGS, shown):
        m = MAPS[layer]
        c = min(channel, m.shape[-1] - 1)
        assert (v["layer"], v["channel"], v["view"]) == (layer, c, view)
        assert v["shape"] == list(m.shape)
        mc = m[..., c]
        half_level = (mc.max() - mc.min()) / 510
        assert v["min"] == pytest.approx(mc.min(), abs=1e-9)
        assert v["max"] == pytest.approx(mc.max(), abs=1e-9)
        assert abs(v["mean"] - mc.mean()) <= half_level + 1e-9


def test_controls_redraw_the_view_from_the_keyboard(page):
    # feature maps: layer dropdown, then the view toggle
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    box = boxes.nth(0)
    view = box.locator(".cnnguide-explorer")
    before = draws(view)
    box.locator("select").first.select_option(label="pool")
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n", arg=[view.element_handle(), before]
    )
    v = json.loads(view.get_attribute("data-values"))
    assert v["layer"] == "pool" and v["shape"] == [14, 14, 3]
    # the channel slider's range follows the layer (pool has 3 channels)
    page.wait_for_function(
        """async el => {
            const m = await el.cnnguide.control("channel");
            return m !== null && m.get("max") === 2;
        }""",
        arg=view.element_handle(),
    )
    before = draws(view)
    box.locator("button", has_text="one channel").click()
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n", arg=[view.element_handle(), before]
    )
    assert json.loads(view.get_attribute("data-values"))["view"] == "channel"
    assert page.errors == []


def test_every_slider_redraws_with_reference_values(page):
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    # feature maps: the channel slider (conv, channel 5 -> 6, channel view)
    fm = boxes.nth(1)
    v = press(page, fm, 0)
    assert (v["layer"], v["channel"], v["view"]) == ("conv", 6, "channel")
    m = MAPS["conv"][..., 6]
    assert v["mean"] == pytest.approx(m.mean(), abs=np.ptp(m) / 510 + 1e-9)
    assert page.errors == []
