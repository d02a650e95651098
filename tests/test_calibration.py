"""Tests for cnnguide.calibration: Murphy's decomposition, ECE, recalibration."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from cnnguide.calibration import (
    RECALIBRATION_METHODS,
    brier_decomposition,
    ece_change,
    expected_calibration_error,
    fit_recalibration,
)


def _scores(n=2000, seed=0, temperature=3.0):
    """Labels drawn from true probabilities, reported with a sharpened logit."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.02, 0.98, n)
    y = (rng.random(n) < truth).astype(int)
    logit = np.log(truth / (1 - truth)) * temperature  # overconfident
    return y, 1 / (1 + np.exp(-logit)), truth


def test_decomposition_adds_up_to_the_brier_score():
    y, s, _ = _scores()
    d = brier_decomposition(y, s, n_bins=10)
    assert d["brier"] == pytest.approx(brier_score_loss(y, s))
    total = d["reliability"] - d["resolution"] + d["uncertainty"] + d["within_bin"]
    assert total == pytest.approx(d["brier"], abs=1e-12)
    assert d["uncertainty"] == pytest.approx(y.mean() * (1 - y.mean()))


def test_within_bin_term_vanishes_for_one_value_per_bin():
    y = np.array([0, 1, 0, 1, 1, 1, 0, 0])
    s = np.array([0.05, 0.05, 0.55, 0.55, 0.95, 0.95, 0.35, 0.35])
    d = brier_decomposition(y, s)
    assert d["within_bin"] == pytest.approx(0.0, abs=1e-12)


def test_reliability_matches_sklearn_calibration_curve():
    y, s, _ = _scores(seed=1)
    observed, predicted = calibration_curve(y, s, n_bins=10, strategy="uniform")
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], s, side="right")
    counts = np.bincount(bins, minlength=10)
    counts = counts[counts > 0]
    expected = np.sum(counts * (predicted - observed) ** 2) / y.size
    assert brier_decomposition(y, s)["reliability"] == pytest.approx(expected)
    ece = np.sum(counts * np.abs(predicted - observed)) / y.size
    assert expected_calibration_error(y, s) == pytest.approx(ece)


def test_true_probabilities_are_better_calibrated_than_sharpened_ones():
    y, s, truth = _scores(seed=2)
    assert expected_calibration_error(y, truth) < 0.05
    assert expected_calibration_error(y, s) > 2 * expected_calibration_error(y, truth)
    rel_truth = brier_decomposition(y, truth)["reliability"]
    assert brier_decomposition(y, s)["reliability"] > rel_truth


@pytest.mark.parametrize("method", RECALIBRATION_METHODS)
def test_recalibration_fitted_on_one_split_helps_on_another(method):
    y_fit, s_fit, _ = _scores(seed=3)
    y_new, s_new, _ = _scores(seed=4)
    recalibrate = fit_recalibration(y_fit, s_fit, method)
    after = recalibrate(s_new)
    assert after.shape == s_new.shape
    assert np.all((after >= 0) & (after <= 1))
    assert expected_calibration_error(y_new, after) < 0.5 * expected_calibration_error(
        y_new, s_new
    )
    assert recalibrate.method == method


def test_temperature_recovers_the_sharpening_and_keeps_the_ranking():
    y, s, _ = _scores(n=20000, seed=5, temperature=3.0)
    recalibrate = fit_recalibration(y, s, "temperature")
    assert recalibrate.params["temperature"] == pytest.approx(3.0, rel=0.1)
    assert roc_auc_score(y, recalibrate(s)) == pytest.approx(roc_auc_score(y, s))


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="one score per case"):
        brier_decomposition([0, 1], [0.5])
    with pytest.raises(ValueError, match="probabilities"):
        expected_calibration_error([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        brier_decomposition([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="unknown method"):
        fit_recalibration([0, 1], [0.2, 0.8], "beta")


def test_cross_validation_does_not_reward_isotonic_for_fitting_its_own_bins():
    from cnnguide.calibration import cross_validated_ece

    y, s, truth = _scores(n=600, seed=6, temperature=1.0)  # already calibrated
    in_sample = expected_calibration_error(y, fit_recalibration(y, s, "isotonic")(s))
    held_out = cross_validated_ece(y, s, "isotonic")
    assert in_sample < 0.5 * held_out  # the in-sample figure flatters isotonic
    assert cross_validated_ece(y, truth, "none") < 0.1


def test_ece_change_interval_is_paired_and_honest():
    rng = np.random.default_rng(3)
    fair = rng.uniform(0, 1, 600)
    y = (rng.uniform(0, 1, 600) < fair).astype(int)
    # The same scores twice: no change, and a degenerate interval at zero.
    same = ece_change(y, fair, fair, n_boot=100)
    assert same["diff"] == 0 and same["low"] == same["high"] == 0
    # Over-confident scores repaired: the whole interval lies below zero.
    repaired = ece_change(y, fair**3, fair, n_boot=200)
    assert repaired["high"] < 0 and repaired["low"] <= repaired["diff"]
    assert repaired["diff"] == pytest.approx(
        expected_calibration_error(y, fair) - expected_calibration_error(y, fair**3)
    )
    # A tiny perturbation is no clear change: the interval spans zero.
    nudged = np.clip(fair + rng.normal(0, 0.01, 600), 0, 1)
    small = ece_change(y, fair, nudged, n_boot=200)
    assert small["low"] < 0 < small["high"]
    with pytest.raises(ValueError, match="one score per case"):
        ece_change(y, fair, fair[:10])


def test_reliability_diagram_draws_each_curve_and_the_histogram():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnguide.calibration import reliability_diagram

    rng = np.random.default_rng(0)
    s = rng.random(500)
    y = (rng.random(500) < s).astype(int)
    fig = reliability_diagram({"val": (y, s), "test": (y[:300], s[:300])}, n_bins=5)
    diagram, hist = fig.axes
    labels = [line.get_label() for line in diagram.get_lines()]
    assert labels[0].startswith("val (Brier ") and labels[1].startswith("test (Brier ")
    assert labels[2] == "perfectly calibrated"
    x, observed = diagram.get_lines()[0].get_data()
    assert len(x) == 5 and np.all(np.diff(x) > 0)  # 5 equal-count bins, in order
    assert hist.get_xlabel() == "predicted probability" and hist.get_ylabel() == "films"
    counts = sum(p.get_height() for p in hist.patches)
    assert counts == 500  # the first curve's films, both classes, all of them
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        reliability_diagram({})
