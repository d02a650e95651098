"""The threshold explorer: its pure state, its curves, its widget and its static companion."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnguide import thresholds as th  # noqa: E402

Y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
S = np.array([0.1, 0.4, 0.7, 0.3, 0.6, 0.8, 0.9, 0.95])


def test_state_counts_by_hand():
    s = th.threshold_state(Y, S, 0.5)
    # called positive: 0.7 (normal), 0.6, 0.8, 0.9, 0.95 -> TP 4, FP 1; missed 0.3 -> FN 1
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (4, 1, 1, 2)
    assert s["recall"] == pytest.approx(4 / 5)
    assert s["precision"] == pytest.approx(4 / 5)
    assert s["specificity"] == pytest.approx(2 / 3)
    assert s["fpr"] == pytest.approx(1 / 3) and s["tpr"] == s["recall"]
    assert s["f1"] == pytest.approx(0.8)
    assert s["n_called_positive"] == 5 and s["precision_defined"]


def test_threshold_edges():
    low = th.threshold_state(Y, S, 0.0)
    assert (
        low["recall"] == 1.0 and low["specificity"] == 0.0
    )  # everything called pneumonia
    high = th.threshold_state(Y, S, 0.99)
    assert high["tp"] == 0 and high["fp"] == 0 and not high["precision_defined"]
    with pytest.raises(ValueError):
        th.threshold_state(Y, S, float("nan"))


def test_recall_never_rises_with_the_threshold():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    recalls = [th.threshold_state(y, s, t)["recall"] for t in np.linspace(0, 1, 21)]
    fprs = [th.threshold_state(y, s, t)["fpr"] for t in np.linspace(0, 1, 21)]
    assert all(a >= b for a, b in zip(recalls, recalls[1:]))
    assert all(a >= b for a, b in zip(fprs, fprs[1:]))


def test_operating_point_lies_on_the_roc_curve():
    c = th.curves(Y, S)
    assert c["roc_auc"] == pytest.approx(
        12 / 15
    )  # 12 of the 15 normal-pneumonia pairs ranked right
    for t in S:
        s = th.threshold_state(Y, S, t)
        on_curve = np.isclose(c["fpr"], s["fpr"]) & np.isclose(c["tpr"], s["tpr"])
        assert on_curve.any(), t
        if s["precision_defined"]:
            on_pr = np.isclose(c["recall"], s["recall"]) & np.isclose(
                c["precision"], s["precision"]
            )
            assert on_pr.any(), t


def test_draw_threshold_has_three_panels():
    fig = th.draw_threshold(Y, S, 0.5)
    assert len(fig.axes) == 3
    assert "0.50" in fig.axes[0].get_title()
    plt.close(fig)


def test_small_multiples_one_matrix_per_threshold_and_both_curves():
    fig = th.threshold_small_multiples(Y, S, (0.2, 0.5, 0.8))
    assert len(fig.axes) == 5
    titles = [ax.get_title() for ax in fig.axes]
    assert "ROC curve" in titles and "Precision-recall curve" in titles
    plt.close(fig)
    with pytest.raises(ValueError):
        th.threshold_small_multiples(Y, S, (0.5,))


def test_explorer_slider_updates_the_summary():
    box = th.threshold_explorer(Y, S, value=0.5)
    slider, summary, picture = box.children
    assert "TP 4" in summary.value and "FN 1" in summary.value
    first_png = picture.value
    assert first_png[:4] == b"\x89PNG"
    slider.value = 0.85
    assert picture.value != first_png
    assert "threshold 0.85" in summary.value
    assert "TP 2" in summary.value and "FN 3" in summary.value
    slider.value = 1.0
    assert "undefined" in summary.value
    plt.close("all")
