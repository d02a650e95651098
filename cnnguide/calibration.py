"""Calibration of predicted probabilities: measure it, decompose it, repair it.

A detector's scores are *calibrated* when, among the cases scored about 0.8,
about 80 % are positive. Three tools, for chapter 10:

* :func:`brier_decomposition` splits the Brier score into Murphy's (1973) three
  terms, ``reliability - resolution + uncertainty``: reliability (how far the
  binned forecasts sit from the observed frequencies; lower is better),
  resolution (how far those frequencies sit from the base rate; higher is
  better) and uncertainty (the base rate's own variance, fixed by the data);
* :func:`expected_calibration_error`: the bin-weighted mean gap between forecast
  and observed frequency;
* :func:`reliability_diagram` draws observed share against mean score per bin,
  with a histogram of where the scores lie beneath it;
* :func:`fit_recalibration`: temperature scaling, Platt scaling or isotonic
  regression (scikit-learn), fitted on the **validation** split only, returning
  a function that maps new scores to recalibrated ones.

The binning is the one :func:`sklearn.calibration.calibration_curve` uses with
``strategy="uniform"``: equal-width bins over [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

__all__ = [
    "brier_decomposition",
    "expected_calibration_error",
    "fit_recalibration",
    "cross_validated_ece",
    "ece_change",
    "reliability_diagram",
    "RECALIBRATION_METHODS",
]

#: Methods accepted by :func:`fit_recalibration`.
RECALIBRATION_METHODS = ("temperature", "platt", "isotonic")

_EPS = 1e-7


def _checked(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel()
    p = np.asarray(y_score, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(
            f"y_true has {y.size} labels but y_score has {p.size} scores; "
            "pass one score per case."
        )
    if y.size == 0:
        raise ValueError("no cases: pass at least one label and one score.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold 0 (normal) and 1 (pneumonia) only.")
    if np.any((p < 0) | (p > 1)) or not np.isfinite(p).all():
        raise ValueError("y_score must be probabilities in [0, 1].")
    return y.astype(np.float64), p


def _bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}.")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Same assignment as sklearn's calibration_curve (uniform strategy).
    return np.searchsorted(edges[1:-1], p, side="right")


def brier_decomposition(y_true, y_score, *, n_bins: int = 10) -> dict[str, float]:
    """Murphy's decomposition of the Brier score over equal-width bins.

    Parameters
    ----------
    y_true : array_like of {0, 1}, shape (n,)
    y_score : array_like of float in [0, 1], shape (n,)
        Predicted probability of the positive class.
    n_bins : int
        Number of equal-width forecast bins.

    Returns
    -------
    dict
        ``brier`` (the score itself, from scikit-learn), ``reliability``,
        ``resolution``, ``uncertainty`` and ``within_bin``: the part the three
        terms miss because forecasts inside one bin differ, so that
        ``brier == reliability - resolution + uncertainty + within_bin``
        holds exactly (``within_bin`` is 0 when each bin holds one forecast
        value).

    Examples
    --------
    >>> y = [0, 0, 1, 1]
    >>> d = brier_decomposition(y, [0.1, 0.1, 0.9, 0.9])
    >>> round(d["reliability"], 3), round(d["resolution"], 3), d["uncertainty"]
    (0.01, 0.25, 0.25)
    >>> round(d["brier"], 3)
    0.01
    """
    y, p = _checked(y_true, y_score)
    bins = _bins(p, n_bins)
    n = y.size
    base_rate = y.mean()
    reliability = resolution = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        count = in_bin.sum()
        forecast, observed = p[in_bin].mean(), y[in_bin].mean()
        reliability += count * (forecast - observed) ** 2 / n
        resolution += count * (observed - base_rate) ** 2 / n
    uncertainty = base_rate * (1.0 - base_rate)
    brier = float(brier_score_loss(y, p))
    return {
        "brier": brier,
        "reliability": float(reliability),
        "resolution": float(resolution),
        "uncertainty": float(uncertainty),
        "within_bin": float(brier - (reliability - resolution + uncertainty)),
    }


def expected_calibration_error(y_true, y_score, *, n_bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean ``|forecast - observed|``.

    Parameters
    ----------
    y_true : array_like of {0, 1}, shape (n,)
    y_score : array_like of float in [0, 1], shape (n,)
    n_bins : int
        Number of equal-width bins over [0, 1].

    Returns
    -------
    float
        ECE in [0, 1]; 0 for perfectly calibrated binned forecasts.

    Examples
    --------
    >>> expected_calibration_error([0, 1, 1, 1], [0.75, 0.75, 0.75, 0.75])
    0.0
    >>> expected_calibration_error([0, 0, 0, 0], [0.95, 0.95, 0.95, 0.95])
    0.95
    """
    y, p = _checked(y_true, y_score)
    bins = _bins(p, n_bins)
    gaps = [
        (bins == b).sum() * abs(p[bins == b].mean() - y[bins == b].mean())
        for b in np.unique(bins)
    ]
    return float(np.sum(gaps) / y.size)


def ece_change(
    y_true,
    before,
    after,
    *,
    n_bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Change in ECE from ``before`` to ``after`` scores, with a paired bootstrap.

    Both sets of scores belong to the same cases, so each resample draws the
    cases once and scores both on them: the interval is that of the
    difference, not two overlapping intervals. A recalibration "lowers" the
    ECE only when the whole interval lies below zero (see
    :func:`cnnguide.metrics.verdict`).

    Parameters
    ----------
    y_true : array_like of {0, 1}, shape (n,)
    before, after : array_like of float in [0, 1], shape (n,)
        Scores of the same cases before and after a repair.
    n_bins : int
        Bins of :func:`expected_calibration_error`.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the resampling.
    level : float
        Coverage of the percentile interval.

    Returns
    -------
    dict
        ``before``, ``after`` (the ECEs on all cases), ``diff``
        (after - before), ``low`` and ``high`` (its interval).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fair = rng.uniform(0, 1, 400)  # calibrated: y is 1 with chance fair
    >>> y = (rng.uniform(0, 1, 400) < fair).astype(int)
    >>> skewed = fair**3  # over-confident that y is 0
    >>> c = ece_change(y, skewed, fair, n_boot=200)
    >>> bool(c["high"] < 0)  # removing the skew lowers the ECE
    True
    """
    y, p0 = _checked(y_true, before)
    _, p1 = _checked(y_true, after)
    if p0.shape != p1.shape:
        raise ValueError(
            f"before and after need one score per case, got {p0.size} and {p1.size}"
        )
    ece = expected_calibration_error
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for b in range(n_boot):
        i = rng.integers(0, y.size, y.size)
        diffs[b] = ece(y[i], p1[i], n_bins=n_bins) - ece(y[i], p0[i], n_bins=n_bins)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    e0, e1 = ece(y, p0, n_bins=n_bins), ece(y, p1, n_bins=n_bins)
    return {
        "before": e0,
        "after": e1,
        "diff": e1 - e0,
        "low": float(low),
        "high": float(high),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def fit_recalibration(
    y_true, y_score, method: str = "temperature"
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit a recalibration map on validation scores; apply it to any scores.

    Parameters
    ----------
    y_true, y_score : array_like, shape (n,)
        Labels and predicted probabilities of the split to fit on: the
        validation split, never the test split.
    method : {"temperature", "platt", "isotonic"}
        ``"temperature"`` divides the logit by one fitted T > 0 (it keeps the
        ranking, so ROC-AUC is unchanged); ``"platt"`` fits a logistic
        regression on the logit (slope and intercept); ``"isotonic"`` fits a
        monotone step function (:class:`sklearn.isotonic.IsotonicRegression`),
        the most flexible and the hungriest for data.

    Returns
    -------
    callable
        ``recalibrate(scores) -> probabilities`` (float64, same shape); its
        attribute ``params`` holds what was fitted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> overconfident = np.where(y == 1, 0.99, 0.01)
    >>> flip = rng.random(400) < 0.2                 # 20 % of them are wrong
    >>> s = np.where(flip, 1 - overconfident, overconfident)
    >>> recal = fit_recalibration(y, s, "temperature")
    >>> recal.params["temperature"] > 1               # it softens the scores
    True
    >>> bool(expected_calibration_error(y, recal(s))
    ...      < expected_calibration_error(y, s))
    True
    """
    y, p = _checked(y_true, y_score)
    if method not in RECALIBRATION_METHODS:
        raise ValueError(
            f"unknown method {method!r}; choose one of {RECALIBRATION_METHODS}."
        )
    z = _logit(p)
    if method == "temperature":

        def nll(log_t: float) -> float:
            q = np.clip(_sigmoid(z / np.exp(log_t)), _EPS, 1 - _EPS)
            return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))

        t = float(np.exp(minimize_scalar(nll, bounds=(-5, 5), method="bounded").x))

        def recalibrate(scores):
            return _sigmoid(_logit(np.asarray(scores, np.float64)) / t)

        recalibrate.params = {"temperature": t}
    elif method == "platt":
        model = LogisticRegression(C=1e6).fit(z[:, None], y.astype(int))

        def recalibrate(scores):
            zs = _logit(np.asarray(scores, np.float64))
            return model.predict_proba(zs.reshape(-1, 1))[:, 1].reshape(zs.shape)

        recalibrate.params = {
            "slope": float(model.coef_[0, 0]),
            "intercept": float(model.intercept_[0]),
        }
    else:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(p, y)

        def recalibrate(scores):
            s = np.asarray(scores, np.float64)
            return iso.predict(s.ravel()).reshape(s.shape)

        recalibrate.params = {"n_steps": int(len(iso.X_thresholds_))}
    recalibrate.method = method
    return recalibrate


def cross_validated_ece(
    y_true, y_score, method: str, *, n_splits: int = 5, n_bins: int = 10, seed: int = 0
) -> float:
    """ECE of a recalibration method, fitted and scored by k-fold cross-validation.

    Choosing between recalibration methods by their ECE on the split they were
    fitted on favours the most flexible one (isotonic regression can fit the
    bins almost exactly). Cross-validation on the validation split compares
    them on cases each fit has not seen, so the test split stays untouched
    until the chosen method is reported on it.

    Parameters
    ----------
    y_true, y_score : array_like, shape (n,)
        Validation labels and scores.
    method : {"none", "temperature", "platt", "isotonic"}
        ``"none"`` scores the raw scores on the same folds.
    n_splits, n_bins, seed : int

    Returns
    -------
    float
        Mean ECE over the held-out folds.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 600)
    >>> s = np.clip(np.where(y == 1, 0.97, 0.03) + rng.normal(0, 0.02, 600), 0, 1)
    >>> s[rng.random(600) < 0.2] = 0.5        # some cases the model cannot tell
    >>> bool(cross_validated_ece(y, s, "platt") < cross_validated_ece(y, s, "none"))
    True
    """
    y, p = _checked(y_true, y_score)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    errors = []
    for fit_idx, held_idx in folds.split(p, y):
        if method == "none":
            scored = p[held_idx]
        else:
            scored = fit_recalibration(y[fit_idx], p[fit_idx], method)(p[held_idx])
        errors.append(expected_calibration_error(y[held_idx], scored, n_bins=n_bins))
    return float(np.mean(errors))


def reliability_diagram(
    curves: dict,
    *,
    histogram: tuple | None = None,
    n_bins: int = 10,
    strategy: str = "quantile",
):
    """Reliability diagram of one or more score sets, over a histogram of the scores.

    Each curve is :func:`sklearn.calibration.calibration_curve` (observed share
    of positives against mean score, per bin), labelled with its Brier score;
    the diagonal is perfect calibration. Beneath it, a histogram of one score
    set per class shows where the scores lie: a bin holding few cases is a
    noisy point above.

    Parameters
    ----------
    curves : dict of str to (y_true, y_score)
        One curve per entry, named by its key (e.g. ``"validation"``).
    histogram : (name, y_true, y_score), optional
        The scores to histogram, per class; default the first curve's.
    n_bins : int
        Bins per curve.
    strategy : {"quantile", "uniform"}
        Equal-count bins (each point rests on as many cases) or equal-width.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the diagram, and the histogram beneath it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.random(400); y = (rng.random(400) < s).astype(int)
    >>> fig = reliability_diagram({"validation": (y, s)})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['observed share of pneumonia', 'films']
    """
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    if not curves:
        raise ValueError("curves is empty: give at least one {name: (y, score)}")
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(4.5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for name, (y_true, y_score) in curves.items():
        y, p = _checked(y_true, y_score)
        observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
        brier = brier_score_loss(y, p)
        ax.plot(predicted, observed, "o-", label=f"{name} (Brier {brier:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.set(ylabel="observed share of pneumonia", title="Reliability diagram")
    ax.legend(fontsize=8)
    if histogram is None:
        name, (y_true, y_score) = next(iter(curves.items()))
    else:
        name, y_true, y_score = histogram
    y, p = _checked(y_true, y_score)
    for label, cls in enumerate(["normal", "pneumonia"]):
        hist.hist(
            p[y == label], bins=20, range=(0, 1), alpha=0.6, label=f"{cls} ({name})"
        )
    hist.set(xlabel="predicted probability", ylabel="films")
    hist.legend(fontsize=8)
    return fig
