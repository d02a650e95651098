"""The page computes what the references compute: explorers of chapters 5, 6 and 10 in Chromium.

Each explorer is embedded in a standalone page (vendored require.js, anywidget
and html-manager; no kernel, network cut) and its ``data-values``, which the
same JS function that feeds the drawing produces, are compared with
:mod:`cnnguide.activations`, :mod:`cnnguide.metrics` (scikit-learn) and the
precomputed float feature maps. Tolerances: 1e-5 for activations and metrics;
for feature maps the shown mean is within half a grey level,
``(max - min) / 510``, of the float map's mean (min and max to 1e-9).

Under ``CI=true`` a missing Chromium fails (``chromium`` fixture).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser import chromium, chromium_page, wait_rendered, widgets_page  # noqa: F401
from sklearn import metrics as skm

from cnnguide import metrics
from cnnguide.explorers.activations import (
    FUNCTIONS,
    ActivationExplorer,
    activation_values,
)
from cnnguide.explorers.featuremaps import FeatureMapExplorer
from cnnguide.explorers.thresholds import ThresholdExplorer

TOL = 1e-5

ACT_SETTINGS = [
    (name, alpha, beta, x_max)
    for name in FUNCTIONS
    for alpha, beta, x_max in [(0.1, 1.0, 5.0), (0.7, 2.5, 3.0)]
]

RNG = np.random.default_rng(0)
Y_TRUE = RNG.integers(0, 2, 400)
# float32 scores with ties (rounded to 2 decimals), as a model's rounded output
Y_SCORE = np.round(np.clip(0.35 * Y_TRUE + 0.65 * RNG.random(400), 0, 1), 2).astype(
    np.float32
)
# On the slider's 0.01 grid (the page's slider snaps to its step); scores equal
# to 0.25, 0.5 and 0.6 exist, so the >= convention is exercised on ties.
THRESHOLDS = [0.0, 0.05, 0.25, 0.5, 0.6, 0.8, 0.97, 1.0]

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
def page(tmp_path_factory, chromium):  # noqa: F811
    explorers = (
        [ActivationExplorer(n, alpha=a, beta=b, x_max=x) for n, a, b, x in ACT_SETTINGS]
        + [ThresholdExplorer(Y_TRUE, Y_SCORE, threshold=t) for t in THRESHOLDS]
        + [
            FeatureMapExplorer(MAPS, layer=l, channel=c, view=v)
            for l, c, v in FM_SETTINGS
        ]
    )
    path = widgets_page(
        [e.box for e in explorers], tmp_path_factory.mktemp("ch5_10") / "page.html"
    )
    with chromium_page() as p:
        p.goto(path.as_uri())
        wait_rendered(p, ".cnnguide-explorer", count=len(explorers))
        p.explorers = explorers
        yield p


def _values(page, name):
    return page.eval_on_selector_all(
        f'.cnnguide-explorer[data-explorer="{name}"]',
        "els => els.map(e => JSON.parse(e.dataset.values))",
    )


def test_page_loads_clean_and_every_view_is_labelled(page):
    assert page.errors == [] and page.blocked == []
    labels = page.eval_on_selector_all(
        ".cnnguide-explorer canvas",
        "els => els.map(e => [e.getAttribute('role'), e.getAttribute('aria-label')])",
    )
    assert len(labels) == len(page.explorers)
    assert all(role == "img" and label for role, label in labels)
    draw_ms = page.eval_on_selector_all(
        ".cnnguide-explorer", "els => els.map(e => e.dataset.drawMs)"
    )
    assert all(ms is not None and float(ms) >= 0 for ms in draw_ms)


def test_activation_curves_match_numpy(page):
    shown = _values(page, "activations")
    assert len(shown) == len(ACT_SETTINGS)
    for (name, alpha, beta, x_max), v in zip(ACT_SETTINGS, shown):
        assert v["function"] == name and v["n"] == 401
        ref = activation_values(name, alpha, beta, x_max, 401)
        np.testing.assert_allclose(v["x"], ref["x"], atol=TOL, rtol=0)
        np.testing.assert_allclose(v["y"], ref["y"], atol=TOL, rtol=0, err_msg=name)
        np.testing.assert_allclose(v["dy"], ref["dy"], atol=TOL, rtol=0, err_msg=name)


def test_threshold_metrics_match_scikit_learn(page):
    shown = _values(page, "thresholds")
    assert len(shown) == len(THRESHOLDS)
    curves = metrics.curves(Y_TRUE, Y_SCORE)
    for t, v in zip(THRESHOLDS, shown):
        ref = metrics.operating_point(Y_TRUE, Y_SCORE, t)
        assert v["threshold"] == pytest.approx(t, abs=1e-12)
        assert [v[k] for k in ("tn", "fp", "fn", "tp")] == [
            ref[k] for k in ("tn", "fp", "fn", "tp")
        ], t
        for key in (
            "precision",
            "recall",
            "f1",
            "specificity",
            "accuracy",
            "fpr",
            "tpr",
        ):
            assert v[key] == pytest.approx(ref[key], abs=TOL), (t, key)
        assert v["precision_defined"] == ref["precision_defined"]
        # the drawn point lies on the curves scikit-learn computes
        on_roc = np.isclose(curves["fpr"], v["fpr"], atol=TOL) & np.isclose(
            curves["tpr"], v["tpr"], atol=TOL
        )
        assert on_roc.any(), t
        assert v["roc_auc"] == pytest.approx(curves["roc_auc"], abs=TOL)
        assert v["pr_auc"] == pytest.approx(curves["pr_auc"], abs=TOL)
    assert all((Y_SCORE == np.float32(t)).any() for t in (0.25, 0.5, 0.6))
    sk = skm.precision_score(Y_TRUE, Y_SCORE >= 0.5, zero_division=0)
    assert shown[THRESHOLDS.index(0.5)]["precision"] == pytest.approx(sk, abs=TOL)


def test_feature_maps_shown_match_the_float_maps(page):
    shown = _values(page, "featuremaps")
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


def _draws(locator):
    return int(locator.get_attribute("data-draws"))


def test_controls_redraw_the_view_from_the_keyboard(page):
    # threshold: focus the slider handle and press the arrow key
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    first_thr = len(ACT_SETTINGS)
    box = boxes.nth(first_thr + THRESHOLDS.index(0.5))
    view = box.locator(".cnnguide-explorer")
    before = _draws(view)
    box.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n", arg=[view.element_handle(), before]
    )
    v = json.loads(view.get_attribute("data-values"))
    assert v["threshold"] == pytest.approx(0.51, abs=1e-9)
    ref = metrics.operating_point(Y_TRUE, Y_SCORE, v["threshold"])
    assert [v[k] for k in ("tn", "fp", "fn", "tp")] == [
        ref[k] for k in ("tn", "fp", "fn", "tp")
    ]

    # activation function: the dropdown (a <select>, keyboard-operable)
    box = boxes.nth(0)
    view = box.locator(".cnnguide-explorer")
    before = _draws(view)
    box.locator("select").first.select_option(label="tanh")
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n", arg=[view.element_handle(), before]
    )
    v = json.loads(view.get_attribute("data-values"))
    assert v["function"] == "tanh"
    np.testing.assert_allclose(v["dy"], 1 - np.tanh(np.asarray(v["x"])) ** 2, atol=TOL)

    # feature maps: layer dropdown, then the view toggle
    box = boxes.nth(first_thr + len(THRESHOLDS))
    view = box.locator(".cnnguide-explorer")
    before = _draws(view)
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
    before = _draws(view)
    box.locator("button", has_text="one channel").click()
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n", arg=[view.element_handle(), before]
    )
    assert json.loads(view.get_attribute("data-values"))["view"] == "channel"
    assert page.errors == []


def _press(page, box, handle, key="ArrowRight"):
    """Focus slider ``handle`` of ``box``, press ``key``, wait for the redraw."""
    view = box.locator(".cnnguide-explorer")
    before = _draws(view)
    box.locator(".noUi-handle").nth(handle).focus()
    page.keyboard.press(key)
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n",
        arg=[view.element_handle(), before],
    )
    return json.loads(view.get_attribute("data-values"))


def test_every_slider_redraws_with_reference_values(page):
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    leaky = boxes.nth(ACT_SETTINGS.index(("leaky_relu", 0.1, 1.0, 5.0)))
    v = _press(page, leaky, 0)  # alpha 0.10 -> 0.11
    assert v["alpha"] == pytest.approx(0.11)
    ref = activation_values("leaky_relu", v["alpha"], v["beta"], v["x_max"])
    np.testing.assert_allclose(v["y"], ref["y"], atol=TOL, rtol=0)
    v = _press(page, leaky, 2)  # x range 5.0 -> 5.5
    assert v["x"][0] == pytest.approx(-5.5) and v["x"][-1] == pytest.approx(5.5)
    swish = boxes.nth(ACT_SETTINGS.index(("swish", 0.1, 1.0, 5.0)))
    v = _press(page, swish, 1)  # beta 1.0 -> 1.1
    assert v["beta"] == pytest.approx(1.1)
    ref = activation_values("swish", v["alpha"], v["beta"], v["x_max"])
    np.testing.assert_allclose(v["dy"], ref["dy"], atol=TOL, rtol=0)
    # feature maps: the channel slider (conv, channel 5 -> 6, channel view)
    fm = boxes.nth(len(ACT_SETTINGS) + len(THRESHOLDS) + 1)
    v = _press(page, fm, 0)
    assert (v["layer"], v["channel"], v["view"]) == ("conv", 6, "channel")
    m = MAPS["conv"][..., 6]
    assert v["mean"] == pytest.approx(m.mean(), abs=np.ptp(m) / 510 + 1e-9)
    assert page.errors == []
