"""Chapter 10: one decision threshold, its confusion matrix and its place on the curves.

A detector outputs a score; a threshold turns it into a yes/no. Moving the
threshold trades false negatives for false positives. :class:`ThresholdExplorer`
embeds the validation labels (uint8) and scores (float32) in the widget; its ES
module (``static/thresholds.js``) computes, in the page, the confusion matrix,
precision, recall, F1, specificity and accuracy at the chosen threshold, the ROC
and precision-recall curves, and the operating point on both. The Python
reference of the same numbers is :func:`cnnguide.metrics.operating_point` and
:func:`cnnguide.metrics.curves` (scikit-learn); the browser test compares them.
:func:`threshold_small_multiples` is the static twin.

Convention (as in :mod:`cnnguide.metrics`): label 1 = pneumonia; a score
``>= threshold`` is called pneumonia; a ratio with an empty denominator is 0
(precision when nothing is called positive). Teaching material, not a
diagnostic device.

Examples
--------
>>> ex = ThresholdExplorer([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], threshold=0.5)
>>> ex.threshold = 0.3  # from Python: slider and page follow
>>> ex.reference()["tp"], ex.reference()["fp"]
(2, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import traitlets

from cnnguide.explorers._core import Explorer, load_esm
from cnnguide.metrics import _as_arrays, curves, operating_point

__all__ = [
    "ThresholdExplorer",
    "threshold_small_multiples",
    "operating_point_figure",
    "MAX_CASES",
]

#: Most cases the explorer embeds (5 bytes each): 200 000 cases is 1 MB of page.
MAX_CASES = 200_000


class ThresholdExplorer(Explorer):
    """Threshold slider over embedded labels and scores; the page does the counting.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (N,)
        Labels (1 = pneumonia), both classes present.
    y_score : array-like of float, shape (N,)
        Scores; stored as float32, the precision a Keras model gives.
    threshold : float
        Initial threshold, 0 to 1.
    step : float
        Slider step. In the page the slider snaps the threshold to its step
        (a threshold of 0.537 set from Python is shown as 0.54 with the
        default step); the counts always use the value the page shows.

    Attributes
    ----------
    labels, scores : bytes
        The embedded data (uint8 labels, little-endian float32 scores).
    y_true, y_score : numpy.ndarray
        The same data as arrays: what :meth:`reference` computes on.

    Examples
    --------
    >>> ex = ThresholdExplorer([0, 1, 1], [0.2, 0.4, 0.9])
    >>> ex.n_cases, ex.threshold, list(ex.controls)
    (3, 0.5, ['threshold'])
    """

    _esm = load_esm("thresholds")
    labels = traitlets.Bytes().tag(sync=True)
    scores = traitlets.Bytes().tag(sync=True)
    n_cases = traitlets.Int(0).tag(sync=True)
    threshold = traitlets.Float(0.5).tag(sync=True)

    def __init__(self, y_true, y_score, threshold: float = 0.5, *, step: float = 0.01):
        y_true, y_score = _as_arrays(y_true, y_score)
        if y_true.min() == y_true.max():
            raise ValueError(
                "ThresholdExplorer needs both classes in y_true (0 = normal and "
                "1 = pneumonia): pass the validation split, not one class"
            )
        if y_true.size > MAX_CASES:
            raise ValueError(
                f"{y_true.size} cases would make the page too large; pass at most "
                f"{MAX_CASES} (a random subset of the validation split)"
            )
        self.y_true = y_true.astype(np.uint8)
        self.y_score = y_score.astype("<f4")
        control = ipywidgets.FloatSlider(
            value=threshold,
            min=0.0,
            max=1.0,
            step=step,
            description="threshold",
            readout_format=".2f",
            continuous_update=True,
        )
        super().__init__(
            {"threshold": control},
            labels=self.y_true.tobytes(),
            scores=self.y_score.tobytes(),
            n_cases=int(y_true.size),
            threshold=threshold,
        )

    @traitlets.validate("threshold")
    def _check_threshold(self, proposal):
        t = float(proposal["value"])
        if not np.isfinite(t):
            raise traitlets.TraitError(f"threshold must be a finite number, got {t}")
        return t

    def reference(self, threshold: float | None = None) -> dict:
        """What the page shows at ``threshold`` (default: the current one).

        :func:`cnnguide.metrics.operating_point` on the embedded float32 scores,
        plus ``roc_auc`` and ``pr_auc`` from :func:`cnnguide.metrics.curves`.
        """
        t = self.threshold if threshold is None else float(threshold)
        return operating_point(self.y_true, self.y_score, t)


# --------------------------------------------------------------------------- static
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


def _with_interval(text: str, value: float, ci) -> str:
    inside = f"{value:.3f}" if ci is None else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{text} {inside})"


def _draw_roc(ax, c: dict, points: Sequence[tuple[float, dict]], ci=None) -> None:
    ax.plot(
        c["fpr"],
        c["tpr"],
        color="tab:blue",
        lw=1.5,
        label=_with_interval("ROC (AUC", c["roc_auc"], ci),
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
    ax, c: dict, points: Sequence[tuple[float, dict]], prevalence: float, ci=None
) -> None:
    ax.plot(
        c["recall"],
        c["precision"],
        color="tab:blue",
        lw=1.5,
        label=_with_interval("PR (AP", c["pr_auc"], ci),
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


def threshold_small_multiples(
    y_true, y_score, thresholds: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9)
):
    """Static twin of the explorer: a confusion matrix per threshold, every point on both curves.

    Parameters
    ----------
    y_true, y_score : array-like, shape (N,)
    thresholds : sequence of float
        Thresholds to show (2 to 8).

    Returns
    -------
    matplotlib.figure.Figure
        Top row: a confusion matrix per threshold with its recall, precision and
        F1; bottom row: ROC and PR curves with every threshold's operating point.

    Examples
    --------
    >>> fig = threshold_small_multiples([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], (0.3, 0.7))
    >>> len(fig.axes)
    4
    >>> plt.close(fig)
    """
    thresholds = [float(t) for t in thresholds]
    if not 2 <= len(thresholds) <= 8:
        raise ValueError(f"give 2 to 8 thresholds, got {len(thresholds)}")
    c = curves(y_true, y_score)
    states = [(t, operating_point(y_true, y_score, t)) for t in thresholds]
    n = len(thresholds)
    fig = plt.figure(figsize=(max(10, 2.3 * n), 7.5))
    grid = fig.add_gridspec(2, 2 * n, height_ratios=[1, 1.5])
    for i, (t, s) in enumerate(states):
        ax = fig.add_subplot(grid[0, 2 * i : 2 * i + 2])
        _draw_confusion(ax, s)
        ax.set_title(
            f"t = {t:.3g}\nR {s['recall']:.2f}  P {s['precision']:.2f}  "
            f"F1 {s['f1']:.2f}",
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


def operating_point_figure(
    y_true,
    y_score,
    threshold: float,
    *,
    split: str = "test",
    roc_auc_ci=None,
    pr_auc_ci=None,
    class_names: Sequence[str] = ("normal", "pneumonia"),
):
    """One operating point: its confusion matrix, and where it sits on the curves.

    The explorer's drawing, for one fixed threshold (chapter 8's final
    evaluation): the confusion matrix at ``threshold``, the ROC and
    precision-recall curves with the point marked, and the areas with their
    intervals when given.

    Parameters
    ----------
    y_true, y_score : array-like, shape (N,)
    threshold : float
        The operating point (chosen on validation, never on the split shown).
    split : str
        Name of the split, for the titles.
    roc_auc_ci, pr_auc_ci : (low, high), optional
        Intervals printed beside the areas in the legends.
    class_names : (str, str)
        Names of class 0 and class 1.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: confusion matrix, ROC curve, precision-recall curve.

    Examples
    --------
    >>> fig = operating_point_figure([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5,
    ...                              roc_auc_ci=(0.5, 1.0))
    >>> [ax.get_title() for ax in fig.axes]
    ['test, threshold 0.500', 'ROC curve (test)', 'Precision-recall curve (test)']
    >>> plt.close(fig)
    """
    y_true, y_score = _as_arrays(y_true, y_score)
    c = curves(y_true, y_score)
    point = [(float(threshold), operating_point(y_true, y_score, threshold))]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    _draw_confusion(axes[0], point[0][1], class_names)
    axes[0].set_title(f"{split}, threshold {threshold:.3f}")
    _draw_roc(axes[1], c, point, ci=roc_auc_ci)
    axes[1].set_title(f"ROC curve ({split})")
    prevalence = float(np.mean(y_true == 1))
    _draw_pr(axes[2], c, point, prevalence, ci=pr_auc_ci)
    axes[2].set_title(f"Precision-recall curve ({split})")
    fig.tight_layout()
    return fig
