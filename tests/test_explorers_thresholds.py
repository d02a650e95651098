"""cnnguide.explorers.thresholds, Python side: ThresholdExplorer's data and traits,
the static twin and the one-operating-point figure. The operating point itself
(cnnguide.metrics.operating_point) is tested in test_metrics.py; what the page
computes, in test_explorers_thresholds_browser.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import traitlets  # noqa: E402

from cnnguide import metrics  # noqa: E402
from cnnguide.explorers.thresholds import (  # noqa: E402
    ThresholdExplorer,
    operating_point_figure,
    threshold_small_multiples,
)

Y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
S = np.array([0.1, 0.4, 0.7, 0.3, 0.6, 0.8, 0.9, 0.95])


def test_threshold_explorer_embeds_labels_and_float32_scores():
    ex = ThresholdExplorer(Y, S, threshold=0.5)
    assert ex.n_cases == 8 and len(ex.labels) == 8 and len(ex.scores) == 32
    np.testing.assert_array_equal(np.frombuffer(ex.labels, np.uint8), Y)
    np.testing.assert_array_equal(np.frombuffer(ex.scores, "<f4"), S.astype(np.float32))
    assert ex.reference()["tp"] == 4
    ex.threshold = 0.85
    assert ex.controls["threshold"].value == 0.85
    r = ex.reference()
    assert (r["tp"], r["fn"]) == (2, 3)
    with pytest.raises(traitlets.TraitError, match="finite"):
        ex.threshold = float("nan")
    with pytest.raises(ValueError, match="both classes"):
        ThresholdExplorer([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="one score per label"):
        ThresholdExplorer([0, 1], [0.2])


def test_threshold_small_multiples_one_matrix_per_threshold_and_both_curves():
    fig = threshold_small_multiples(Y, S, (0.2, 0.5, 0.8))
    assert len(fig.axes) == 5
    titles = [ax.get_title() for ax in fig.axes]
    assert "ROC curve" in titles and "Precision-recall curve" in titles
    plt.close(fig)
    with pytest.raises(ValueError, match="2 to 8"):
        threshold_small_multiples(Y, S, (0.5,))


def test_operating_point_figure_marks_the_threshold_on_both_curves():
    fig = operating_point_figure(Y, S, 0.5, roc_auc_ci=(0.6, 1.0), pr_auc_ci=(0.7, 1.0))
    confusion, roc, pr = fig.axes
    assert confusion.get_title() == "test, threshold 0.500"
    point = metrics.operating_point(Y, S, 0.5)
    x, y = roc.get_lines()[-1].get_data()  # the marked operating point
    assert (x[0], y[0]) == (point["fpr"], point["tpr"])
    labels = [line.get_label() for line in roc.get_lines()]
    assert labels[0].endswith("[0.600, 1.000])")  # the area with its interval
    assert "[0.700, 1.000])" in pr.get_lines()[0].get_label()
    texts = [t.get_text() for t in confusion.texts]
    assert f"TP\n{point['tp']}" in texts and f"FN\n{point['fn']}" in texts
    plt.close(fig)
