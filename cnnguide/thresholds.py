"""The threshold explorer: one decision threshold, its confusion matrix and its place on the curves.

A detector outputs a score; a threshold turns it into a yes/no. Moving the threshold
trades false negatives for false positives. :func:`threshold_state` computes everything
that depends on the threshold (a pure function, tested); :func:`draw_threshold` draws the
confusion matrix and the operating point on the ROC and precision-recall curves;
:func:`threshold_explorer` wires a slider to it, and :func:`threshold_small_multiples`
is the static companion for the rendered book, where sliders do nothing.

Convention (as in :mod:`cnnguide.metrics`): label 1 = pneumonia; a score ``>=
threshold`` is called pneumonia. Teaching material, not a diagnostic device.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from sklearn import metrics as skm

from cnnguide.metrics import binary_metrics

__all__ = [
    "threshold_state",
    "curves",
    "draw_threshold",
    "threshold_explorer",
    "threshold_small_multiples",
]


def threshold_state(y_true, y_score, threshold: float) -> dict:
    """Everything the explorer shows for one threshold.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (N,)
    y_score : array-like of float, shape (N,)
    threshold : float
        Scores ``>= threshold`` are called pneumonia.

    Returns
    -------
    dict
        The keys of :func:`cnnguide.metrics.binary_metrics` (``tn, fp, fn, tp``,
        ``precision, recall, specificity, f1, accuracy, roc_auc, pr_auc``) plus
        ``fpr`` (1 − specificity, the ROC x-coordinate), ``tpr`` (= recall),
        ``n_called_positive`` and ``precision_defined`` (False when nothing is called
        positive, where precision is 0 by convention).

    Examples
    --------
    >>> s = threshold_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5)
    >>> s["tp"], s["fp"], s["fn"], s["tn"], s["fpr"], s["tpr"]
    (1, 1, 1, 1, 0.5, 0.5)
    """
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    m = binary_metrics(y_true, y_score, threshold=float(threshold))
    m["fpr"] = 1.0 - m["specificity"]
    m["tpr"] = m["recall"]
    m["n_called_positive"] = m["tp"] + m["fp"]
    m["precision_defined"] = m["n_called_positive"] > 0
    return m


def curves(y_true, y_score) -> dict:
    """ROC and precision-recall curves with their areas (scikit-learn).

    Returns
    -------
    dict
        ``fpr, tpr, roc_thresholds, precision, recall, pr_thresholds`` (arrays) and
        ``roc_auc, pr_auc`` (floats; ``pr_auc`` is average precision).

    Examples
    --------
    >>> c = curves([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> c["roc_auc"]
    0.75
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    fpr, tpr, roc_t = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    precision, recall, pr_t = skm.precision_recall_curve(y_true, y_score)
    return {
        "fpr": fpr,
        "tpr": tpr,
        "roc_thresholds": roc_t,
        "precision": precision,
        "recall": recall,
        "pr_thresholds": pr_t,
        "roc_auc": float(skm.roc_auc_score(y_true, y_score)),
        "pr_auc": float(skm.average_precision_score(y_true, y_score)),
    }


def _draw_confusion(ax, s: dict, class_names=("normal", "pneumonia")) -> None:
    grid = np.array([[s["tn"], s["fp"]], [s["fn"], s["tp"]]])
    ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(1, grid.max()))
    labels = [["TN", "FP"], ["FN", "TP"]]
    for i in range(2):
        for j in range(2):
            colour = "white" if grid[i, j] > grid.max() / 2 else "black"
            ax.text(
                j,
                i,
                f"{labels[i][j]}\n{grid[i, j]}",
                ha="center",
                va="center",
                color=colour,
                fontsize=10,
            )
    ax.set_xticks([0, 1], list(class_names), fontsize=8)
    ax.set_yticks([0, 1], list(class_names), fontsize=8)
    ax.set_xlabel("called", fontsize=8)
    ax.set_ylabel("truth", fontsize=8)


def _draw_roc(ax, c: dict, points: Sequence[tuple[float, dict]]) -> None:
    ax.plot(
        c["fpr"],
        c["tpr"],
        color="tab:blue",
        lw=1.5,
        label=f"ROC (AUC {c['roc_auc']:.3f})",
    )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="chance")
    for t, s in points:
        ax.plot(s["fpr"], s["tpr"], "o", ms=7, label=f"t = {t:.3g}")
    ax.set(
        xlabel="false positive rate (1 − specificity)",
        ylabel="recall (sensitivity)",
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        title="ROC curve",
    )
    ax.legend(fontsize=7, loc="lower right")


def _draw_pr(
    ax, c: dict, points: Sequence[tuple[float, dict]], prevalence: float
) -> None:
    ax.plot(
        c["recall"],
        c["precision"],
        color="tab:blue",
        lw=1.5,
        label=f"PR (AP {c['pr_auc']:.3f})",
    )
    ax.axhline(
        prevalence, color="grey", lw=0.8, ls="--", label=f"chance ({prevalence:.2f})"
    )
    for t, s in points:
        if s["precision_defined"]:
            ax.plot(s["recall"], s["precision"], "o", ms=7, label=f"t = {t:.3g}")
    ax.set(
        xlabel="recall (sensitivity)",
        ylabel="precision",
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        title="Precision-recall curve",
    )
    ax.legend(fontsize=7, loc="lower left")


def draw_threshold(
    y_true, y_score, threshold: float, *, fig=None, precomputed: dict | None = None
):
    """Confusion matrix, ROC and PR curves with the operating point of ``threshold``.

    Parameters
    ----------
    y_true, y_score : array-like, shape (N,)
    threshold : float
    fig : matplotlib Figure, optional
        Figure to draw into (cleared first); a new one by default.
    precomputed : dict, optional
        The output of :func:`curves` (saves recomputing it on every slider move).

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = threshold_state(y_true, y_score, threshold)
    c = precomputed or curves(y_true, y_score)
    if fig is None:
        fig = plt.figure(figsize=(11, 3.6))
    fig.clear()
    axes = fig.subplots(1, 3)
    _draw_confusion(axes[0], s)
    axes[0].set_title(
        f"threshold {threshold:.2f}\nrecall {s['recall']:.3f}  precision {s['precision']:.3f}  F1 {s['f1']:.3f}",
        fontsize=9,
    )
    _draw_roc(axes[1], c, [(threshold, s)])
    _draw_pr(axes[2], c, [(threshold, s)], float(np.mean(np.asarray(y_true) == 1)))
    fig.tight_layout()
    return fig


def _summary_html(threshold: float, s: dict) -> str:
    precision = (
        f"{s['precision']:.3f}"
        if s["precision_defined"]
        else "undefined (nothing called positive)"
    )
    return (
        f"<b>threshold {threshold:.2f}</b>: TP {s['tp']}, FN {s['fn']}, FP {s['fp']}, TN {s['tn']} &mdash; "
        f"recall {s['recall']:.3f}, specificity {s['specificity']:.3f}, precision {precision}, F1 {s['f1']:.3f}"
    )


def threshold_explorer(y_true, y_score, *, value: float = 0.5, step: float = 0.01):
    """A slider that moves the threshold and redraws :func:`draw_threshold`.

    Needs a running kernel; in the rendered book use :func:`threshold_small_multiples`.

    Parameters
    ----------
    y_true, y_score : array-like, shape (N,)
    value : float
        Initial threshold.
    step : float
        Slider step.

    Returns
    -------
    ipywidgets.VBox
        Children: the ``FloatSlider``, an ``HTML`` summary and an ``Image`` holding the
        figure as PNG (like the other explorers: no ``Output`` widget, whose captured
        display messages can stall headless execution). Setting ``slider.value`` updates
        both.
    """
    import ipywidgets as widgets

    from cnnguide.widgets import render_png

    y_true = np.asarray(y_true).reshape(-1)
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    c = curves(y_true, y_score)
    slider = widgets.FloatSlider(
        value=value,
        min=0.0,
        max=1.0,
        step=step,
        description="threshold",
        continuous_update=False,
        readout_format=".2f",
    )
    summary = widgets.HTML()
    picture = widgets.Image(format="png")

    def update(change=None):
        t = float(slider.value)
        summary.value = _summary_html(t, threshold_state(y_true, y_score, t))
        fig = draw_threshold(y_true, y_score, t, precomputed=c)
        picture.value = render_png(fig)
        plt.close(fig)

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, summary, picture])


def threshold_small_multiples(
    y_true, y_score, thresholds: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9)
):
    """Static companion of the explorer: one confusion matrix per threshold, all points on both curves.

    Parameters
    ----------
    y_true, y_score : array-like, shape (N,)
    thresholds : sequence of float
        Thresholds to show (2 to 8).

    Returns
    -------
    matplotlib.figure.Figure
        Top row: a confusion matrix per threshold with its recall, precision and F1;
        bottom row: ROC and PR curves with every threshold's operating point.
    """
    thresholds = [float(t) for t in thresholds]
    if not 2 <= len(thresholds) <= 8:
        raise ValueError(f"give 2 to 8 thresholds, got {len(thresholds)}")
    c = curves(y_true, y_score)
    states = [(t, threshold_state(y_true, y_score, t)) for t in thresholds]
    n = len(thresholds)
    fig = plt.figure(figsize=(max(10, 2.3 * n), 7.5))
    grid = fig.add_gridspec(2, 2 * n, height_ratios=[1, 1.5])
    for i, (t, s) in enumerate(states):
        ax = fig.add_subplot(grid[0, 2 * i : 2 * i + 2])
        _draw_confusion(ax, s)
        ax.set_title(
            f"t = {t:.3g}\nR {s['recall']:.2f}  P {s['precision']:.2f}  F1 {s['f1']:.2f}",
            fontsize=9,
        )
        if i:
            ax.set_yticks([])
            ax.set_ylabel("")
    _draw_roc(fig.add_subplot(grid[1, :n]), c, states)
    _draw_pr(
        fig.add_subplot(grid[1, n:]), c, states, float(np.mean(np.asarray(y_true) == 1))
    )
    fig.tight_layout()
    return fig
