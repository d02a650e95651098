"""The page computes what the reference computes: the threshold explorer in Chromium.

Explorers at several thresholds are embedded in one standalone page (vendored
require.js, anywidget and html-manager; no kernel, network cut) and their
``data-values``, which the same JS function that feeds the drawing produces, are
compared with :mod:`cnnguide.metrics` and scikit-learn (1e-5).

Under ``CI=true`` a missing Chromium fails (``chromium`` fixture).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from cnnguide import metrics
from cnnguide.explorers.thresholds import ThresholdExplorer
from explorer_helpers import (
    assert_clean_and_labelled,
    draws,
    explorers_page,
    shown_values,
)

TOL = 1e-5

RNG = np.random.default_rng(0)
Y_TRUE = RNG.integers(0, 2, 400)
# float32 scores with ties (rounded to 2 decimals), as a model's rounded output
Y_SCORE = np.round(np.clip(0.35 * Y_TRUE + 0.65 * RNG.random(400), 0, 1), 2).astype(
    np.float32
)
# On the slider's 0.01 grid (the page's slider snaps to its step); scores equal
# to 0.25, 0.5 and 0.6 exist, so the >= convention is exercised on ties.
THRESHOLDS = [0.0, 0.05, 0.25, 0.5, 0.6, 0.8, 0.97, 1.0]


@pytest.fixture(scope="module")
def page(tmp_path_factory, chromium):
    explorers = [ThresholdExplorer(Y_TRUE, Y_SCORE, threshold=t) for t in THRESHOLDS]
    with explorers_page(explorers, tmp_path_factory.mktemp("thresholds")) as p:
        yield p


def test_page_loads_clean_and_every_view_is_labelled(page):
    assert_clean_and_labelled(page)


def test_threshold_metrics_match_scikit_learn(page):
    shown = shown_values(page, "thresholds")
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


def test_controls_redraw_the_view_from_the_keyboard(page):
    # threshold: focus the slider handle and press the arrow key
    boxes = page.locator(".widget-vbox:has(.cnnguide-explorer)")
    box = boxes.nth(THRESHOLDS.index(0.5))
    view = box.locator(".cnnguide-explorer")
    before = draws(view)
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
    assert page.errors == []
