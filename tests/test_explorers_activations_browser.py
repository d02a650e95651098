"""The page computes what the reference computes: the activation explorer in Chromium.

Explorers at several settings are embedded in one standalone page (vendored
require.js, anywidget and html-manager; no kernel, network cut) and their
``data-values``, which the same JS function that feeds the drawing produces, are
compared with :mod:`cnnguide.activations` (1e-5).

Under ``CI=true`` a missing Chromium fails (``chromium`` fixture).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnguide.activations import curve
from cnnguide.explorers.activations import (
    FUNCTIONS,
    ActivationExplorer,
)
from explorer_helpers import (
    assert_clean_and_labelled,
    draws,
    explorers_page,
    press,
    shown_values,
)

TOL = 1e-5

ACT_SETTINGS = [
    (name, alpha, beta, x_max)
    for name in FUNCTIONS
    for alpha, beta, x_max in [(0.1, 1.0, 5.0), (0.7, 2.5, 3.0)]
]


@pytest.fixture(scope="module")
def page(tmp_path_factory, chromium):
    explorers = [
        ActivationExplorer(n, alpha=a, beta=b, x_max=x) for n, a, b, x in ACT_SETTINGS
    ]
    with explorers_page(explorers, tmp_path_factory.mktemp("activations")) as p:
        yield p


def test_page_loads_clean_and_every_view_is_labelled(page):
    assert_clean_and_labelled(page)


def test_activation_curves_match_numpy(page):
    shown = shown_values(page, "activations")
    assert len(shown) == len(ACT_SETTINGS)
    for (name, alpha, beta, x_max), v in zip(ACT_SETTINGS, shown):
        assert v["function"] == name and v["n"] == 401
        ref = curve(name, alpha, beta, x_max, 401)
        np.testing.assert_allclose(v["x"], ref["x"], atol=TOL, rtol=0)
        np.testing.assert_allclose(v["y"], ref["y"], atol=TOL, rtol=0, err_msg=name)
        np.testing.assert_allclose(v["dy"], ref["dy"], atol=TOL, rtol=0, err_msg=name)


def test_controls_redraw_the_view_from_the_keyboard(page):
    # the activation function: the dropdown (a <select>, keyboard-operable)
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    box = boxes.nth(0)
    view = box.locator(".cnnguide-explorer")
    before = draws(view)
    box.locator("select").first.select_option(label="tanh")
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n", arg=[view.element_handle(), before]
    )
    v = json.loads(view.get_attribute("data-values"))
    assert v["function"] == "tanh"
    np.testing.assert_allclose(v["dy"], 1 - np.tanh(np.asarray(v["x"])) ** 2, atol=TOL)
    assert page.errors == []


def test_every_slider_redraws_with_reference_values(page):
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    leaky = boxes.nth(ACT_SETTINGS.index(("leaky_relu", 0.1, 1.0, 5.0)))
    v = press(page, leaky, 0)  # alpha 0.10 -> 0.11
    assert v["alpha"] == pytest.approx(0.11)
    ref = curve("leaky_relu", v["alpha"], v["beta"], v["x_max"])
    np.testing.assert_allclose(v["y"], ref["y"], atol=TOL, rtol=0)
    v = press(page, leaky, 2)  # x range 5.0 -> 5.5
    assert v["x"][0] == pytest.approx(-5.5) and v["x"][-1] == pytest.approx(5.5)
    swish = boxes.nth(ACT_SETTINGS.index(("swish", 0.1, 1.0, 5.0)))
    v = press(page, swish, 1)  # beta 1.0 -> 1.1
    assert v["beta"] == pytest.approx(1.1)
    ref = curve("swish", v["alpha"], v["beta"], v["x_max"])
    np.testing.assert_allclose(v["dy"], ref["dy"], atol=TOL, rtol=0)
    assert page.errors == []
