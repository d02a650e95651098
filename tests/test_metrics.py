"""Tests for cnnguide.metrics: hand-computed counts, agreement with scikit-learn,
the threshold rule and the bootstrap intervals."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from cnnguide.metrics import (
    METRICS,
    _from_counts,
    binary_metrics,
    bootstrap_ci,
    choose_threshold,
    confusion,
    curves,
    operating_point,
)

# Ten cases worked out by hand at threshold 0.5:
#   label : 1    1    1    1    1    0    0    0    0    0
#   score : .9   .8   .6   .4   .2   .7   .3   .2   .1   .05
#   call  : P    P    P    N    N    P    N    N    N    N
# tp = 3, fn = 2, fp = 1, tn = 4.
Y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], np.uint8)
S = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.7, 0.3, 0.2, 0.1, 0.05])


def test_confusion_hand_counts():
    assert confusion(Y, (S >= 0.5).astype(int)) == {"tn": 4, "fp": 1, "fn": 2, "tp": 3}


def test_confusion_counts_absent_class():
    assert confusion([0, 0, 0], [0, 0, 0]) == {"tn": 3, "fp": 0, "fn": 0, "tp": 0}


def test_binary_metrics_hand_values():
    m = binary_metrics(Y, S, 0.5)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 5)
    assert m["specificity"] == pytest.approx(4 / 5)
    assert m["f1"] == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    # ROC-AUC: share of (positive, negative) pairs ranked right, ties count half.
    pairs = [(p, n) for p in S[Y == 1] for n in S[Y == 0]]
    hand_auc = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(
        pairs
    )
    assert m["roc_auc"] == pytest.approx(hand_auc)
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["threshold"]) == (3, 2, 1, 4, 0.5)


def test_threshold_is_inclusive():
    m = binary_metrics([0, 1], [0.5, 0.5], threshold=0.5)
    assert (m["tp"], m["fp"]) == (1, 1)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(8, 80), st.floats(0.05, 0.95))
def test_binary_metrics_agree_with_sklearn(seed, n, threshold):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.random(n)
    pred = (s >= threshold).astype(int)
    m = binary_metrics(y, s, threshold)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(
        skm.precision_score(y, pred, zero_division=0)
    )
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert m["specificity"] == pytest.approx(tn / (tn + fp))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)


def test_auc_undefined_with_one_class():
    m = binary_metrics([1, 1, 1], [0.2, 0.6, 0.9])
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"])
    assert m["recall"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "y, s, message",
    [
        ([0, 1], [0.1], "entries"),
        ([0, 2], [0.1, 0.2], "only 0"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([], [], "empty"),
    ],
)
def test_bad_input_is_named(y, s, message):
    with pytest.raises(ValueError, match=message):
        binary_metrics(y, s)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 200), st.floats(0.05, 1.0), st.booleans())
def test_choose_threshold_is_highest_keeping_recall(seed, n, min_recall, coarse):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0] = 1
    s = rng.random(n)
    if coarse:  # many ties
        s = np.round(s, 1)
    t = choose_threshold(y, s, min_recall=min_recall)

    def recall(th):
        return np.mean(s[y == 1] >= th)

    assert recall(t) >= min_recall
    # Every strictly higher candidate threshold (a higher score) loses recall.
    higher = np.unique(s[s > t])
    assert all(recall(h) < min_recall for h in higher)


def test_choose_threshold_hand_example():
    # 5 positives: recall >= 0.8 needs 4 of them above the threshold -> the 4th highest, 0.4.
    assert choose_threshold(Y, S, min_recall=0.8) == pytest.approx(0.4)
    assert choose_threshold(Y, S, min_recall=1.0) == pytest.approx(0.2)
    assert choose_threshold(
        [1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], min_recall=0.5
    ) == pytest.approx(0.3)


def test_choose_threshold_rejects_bad_input():
    with pytest.raises(ValueError, match="positive"):
        choose_threshold([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="min_recall"):
        choose_threshold([0, 1], [0.1, 0.2], min_recall=0)


def _noisy(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, y + rng.normal(0, 0.9, n)


@pytest.mark.parametrize("metric", METRICS)
def test_bootstrap_contains_point_estimate(metric):
    y, s = _noisy(300, 1)
    low, high = bootstrap_ci(y, s, metric, n_boot=150, threshold=0.5)
    point = binary_metrics(y, s, 0.5)[metric]
    assert low <= point <= high
    assert low < high


def test_bootstrap_narrows_with_n():
    widths = []
    for n in (40, 400, 4000):
        y, s = _noisy(n, 2)
        low, high = bootstrap_ci(y, s, "recall", n_boot=200)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # Width shrinks roughly like 1 / sqrt(n): a tenfold n, about a third of the width.
    assert widths[1] / widths[0] == pytest.approx(10**-0.5, rel=0.4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_fast_path_matches_sklearn(seed):
    # bootstrap_ci scores threshold metrics from one scikit-learn confusion matrix per
    # resample; those scores must equal scikit-learn's own functions.
    y, s = _noisy(50, seed)
    idx = np.random.default_rng(seed).integers(0, 50, 50)
    counts = confusion(y[idx], (s[idx] >= 0.5).astype(int))
    expected = binary_metrics(y[idx], s[idx], 0.5)
    for metric in ("accuracy", "precision", "recall", "specificity", "f1"):
        assert _from_counts(metric, **counts) == pytest.approx(expected[metric])
    assert _from_counts("precision", tn=3, fp=0, fn=2, tp=0) == 0.0  # zero_division=0


def test_bootstrap_is_seeded():
    y, s = _noisy(100, 3)
    assert bootstrap_ci(y, s, "recall", n_boot=100, seed=5) == bootstrap_ci(
        y, s, "recall", n_boot=100, seed=5
    )
    assert bootstrap_ci(y, s, "recall", n_boot=100, seed=5) != bootstrap_ci(
        y, s, "recall", n_boot=100, seed=6
    )


def test_bootstrap_rejects_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_ci([0, 1], [0.1, 0.9], "auroc")


def test_youden_threshold_counts_true_negatives_where_f1_does_not():
    from cnnguide.metrics import binary_metrics, youden_threshold

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.75).astype(int)  # mostly positive, as PneumoniaMNIST
    s = np.clip(0.5 + 0.25 * (2 * y - 1) + rng.normal(0, 0.2, 400), 0, 1)
    t = youden_threshold(y, s)
    at = binary_metrics(y, s, t)
    j = at["recall"] + at["specificity"] - 1
    # No threshold on a fine grid does better (the ROC's corners included).
    grid = [binary_metrics(y, s, g) for g in np.linspace(0, 1, 201)]
    assert j >= max(m["recall"] + m["specificity"] - 1 for m in grid) - 1e-12
    # Calling everything positive keeps recall 1 but J at 0.
    assert binary_metrics(y, s, 0.0)["specificity"] == 0 and j > 0.5


def test_group_difference_is_welch_and_says_when_it_is_unsure():
    from cnnguide.metrics import group_difference

    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(400), np.ones(100)]
    shifted = np.r_[rng.normal(0, 1, 400), rng.normal(0.5, 3, 100)]
    d = group_difference(shifted, labels)
    assert d["low"] < d["mean"] < d["high"] and (d["n0"], d["n1"]) == (400, 100)
    # Welch's interval widens with the noisier group: about 1.96 * 3 / 10
    assert 0.45 < (d["high"] - d["low"]) / 2 < 0.75
    alike = np.r_[np.tile([-1.0, 1.0], 200), np.tile([-1.0, 1.0], 50)]
    same = group_difference(alike, labels)  # equal means: the interval holds 0
    assert same["mean"] == 0 and same["low"] < 0 < same["high"]
    with pytest.raises(ValueError, match="at least 2"):
        group_difference([1.0, 2.0, 3.0], [0, 0, 1])


def test_cue_aucs_scores_each_region_cue_with_its_interval():
    from cnnguide.metrics import bootstrap_ci, cue_aucs

    rng = np.random.default_rng(0)
    x = rng.random((80, 16, 16))
    y = np.r_[np.zeros(40), np.ones(40)].astype(int)
    x[y == 1, 6:10, 6:10] += 0.5  # a brighter centre patch in class 1 only
    plain = cue_aucs(x, y)
    assert set(plain) == {"mean brightness", "contrast (sd)", "centre patch", "border"}
    assert plain["centre patch"][0] > 0.95  # the cue that carries the signal
    assert np.isnan(plain["border"][1]) and np.isnan(plain["border"][2])
    assert 0.2 < plain["border"][0] < 0.8  # the border carries no signal
    boot = cue_aucs(x, y, n_boot=50, seed=3)
    assert boot["border"][0] == plain["border"][0]
    from cnnguide.images import region_statistics

    border = region_statistics(x)["border"]  # the same interval, by hand
    assert boot["border"][1:] == bootstrap_ci(y, border, "roc_auc", n_boot=50, seed=3)


# The operating point the threshold explorer shows (moved from its tests).
Y8 = np.array([0, 0, 0, 1, 1, 1, 1, 1])
S8 = np.array([0.1, 0.4, 0.7, 0.3, 0.6, 0.8, 0.9, 0.95])


def test_operating_point_counts_by_hand():
    s = operating_point(Y8, S8, 0.5)
    # called positive: 0.7 (normal), 0.6, 0.8, 0.9, 0.95 -> TP 4, FP 1; missed 0.3 -> FN 1
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (4, 1, 1, 2)
    assert s["recall"] == pytest.approx(4 / 5)
    assert s["precision"] == pytest.approx(4 / 5)
    assert s["specificity"] == pytest.approx(2 / 3)
    assert s["fpr"] == pytest.approx(1 / 3) and s["tpr"] == s["recall"]
    assert s["f1"] == pytest.approx(0.8)
    assert s["n_called_positive"] == 5 and s["precision_defined"]
    # the >= convention: a score equal to the threshold is called pneumonia
    assert operating_point(Y8, S8, 0.6)["tp"] == 4


def test_operating_point_edges():
    low = operating_point(Y8, S8, 0.0)
    assert low["recall"] == 1.0 and low["specificity"] == 0.0
    high = operating_point(Y8, S8, 0.99)
    assert high["tp"] == 0 and high["fp"] == 0 and not high["precision_defined"]
    assert high["precision"] == 0.0
    with pytest.raises(ValueError, match="finite"):
        operating_point(Y8, S8, float("nan"))


def test_recall_and_fpr_never_rise_with_the_threshold():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    points = [operating_point(y, s, t) for t in np.linspace(0, 1, 21)]
    for a, b in zip(points, points[1:]):
        assert a["recall"] >= b["recall"] and a["fpr"] >= b["fpr"]


def test_operating_point_lies_on_the_curves():
    c = curves(Y8, S8)
    assert c["roc_auc"] == pytest.approx(12 / 15)  # 12 of 15 pairs ranked right
    for t in S8:
        s = operating_point(Y8, S8, t)
        assert (np.isclose(c["fpr"], s["fpr"]) & np.isclose(c["tpr"], s["tpr"])).any()
        on_pr = np.isclose(c["recall"], s["recall"]) & np.isclose(
            c["precision"], s["precision"]
        )
        assert on_pr.any(), t
    with pytest.raises(ValueError, match="both classes"):
        curves([1, 1], [0.2, 0.3])
