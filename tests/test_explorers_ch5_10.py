"""The explorers of chapters 5, 6 and 10 on the Python side: data, traits, references, twins.

What the page computes is checked in test_explorers_browser_ch5_10.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import traitlets  # noqa: E402

from cnnguide import activations as A  # noqa: E402
from cnnguide import metrics  # noqa: E402
from cnnguide.explorers.activations import (  # noqa: E402
    FUNCTIONS,
    ActivationExplorer,
    activation_small_multiples,
    activation_values,
)
from cnnguide.explorers.featuremaps import (  # noqa: E402
    MAX_BYTES,
    FeatureMapExplorer,
    featuremap_small_multiples,
    quantize_maps,
)
from cnnguide.explorers.thresholds import (  # noqa: E402
    ThresholdExplorer,
    threshold_small_multiples,
)

Y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
S = np.array([0.1, 0.4, 0.7, 0.3, 0.6, 0.8, 0.9, 0.95])


# --------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", FUNCTIONS)
def test_activation_values_are_the_numpy_reference(name):
    v = activation_values(name, alpha=0.3, beta=2.0, x_max=4.0, n_points=81)
    np.testing.assert_array_equal(v["x"], np.linspace(-4, 4, 81))
    if name in ("leaky_relu", "prelu", "elu"):
        want = getattr(A, name)(v["x"], 0.3), getattr(A, f"{name}_grad")(v["x"], 0.3)
    elif name == "swish":
        want = A.swish(v["x"], 2.0), A.swish_grad(v["x"], 2.0)
    else:
        want = getattr(A, name)(v["x"]), getattr(A, f"{name}_grad")(v["x"])
    np.testing.assert_array_equal(v["y"], want[0])
    np.testing.assert_array_equal(v["dy"], want[1])


def test_activation_explorer_traits_drive_controls_and_reference():
    ex = ActivationExplorer("elu", alpha=0.5)
    assert ex.function_index == FUNCTIONS.index("elu")
    assert ex.controls["function"].value == "elu"
    # never disabled: in the page a disabled slider could not be re-enabled
    assert not ex.controls["alpha"].disabled and not ex.controls["beta"].disabled
    ex.function = "swish"
    assert ex.function_index == FUNCTIONS.index("swish")
    assert ex.controls["function"].value == "swish"
    ex.beta = 2.5
    assert ex.controls["beta"].value == 2.5
    np.testing.assert_array_equal(
        ex.reference()["y"], A.swish(np.linspace(-5, 5, 401), 2.5)
    )
    ex.function_index = FUNCTIONS.index("relu")  # what the page's link sets
    assert ex.function == "relu"
    with pytest.raises(traitlets.TraitError, match="choose one of"):
        ex.function = "gelu"
    with pytest.raises(ValueError, match="choose one of"):
        activation_values("softmax")


def test_activation_small_multiples():
    fig = activation_small_multiples()
    assert len(fig.axes) == len(A.ACTIVATIONS)
    plt.close(fig)


# --------------------------------------------------------------------------- thresholds
def test_operating_point_counts_by_hand():
    s = metrics.operating_point(Y, S, 0.5)
    # called positive: 0.7 (normal), 0.6, 0.8, 0.9, 0.95 -> TP 4, FP 1; missed 0.3 -> FN 1
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (4, 1, 1, 2)
    assert s["recall"] == pytest.approx(4 / 5)
    assert s["precision"] == pytest.approx(4 / 5)
    assert s["specificity"] == pytest.approx(2 / 3)
    assert s["fpr"] == pytest.approx(1 / 3) and s["tpr"] == s["recall"]
    assert s["f1"] == pytest.approx(0.8)
    assert s["n_called_positive"] == 5 and s["precision_defined"]
    # the >= convention: a score equal to the threshold is called pneumonia
    assert metrics.operating_point(Y, S, 0.6)["tp"] == 4


def test_operating_point_edges():
    low = metrics.operating_point(Y, S, 0.0)
    assert low["recall"] == 1.0 and low["specificity"] == 0.0
    high = metrics.operating_point(Y, S, 0.99)
    assert high["tp"] == 0 and high["fp"] == 0 and not high["precision_defined"]
    assert high["precision"] == 0.0
    with pytest.raises(ValueError, match="finite"):
        metrics.operating_point(Y, S, float("nan"))


def test_recall_and_fpr_never_rise_with_the_threshold():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    points = [metrics.operating_point(y, s, t) for t in np.linspace(0, 1, 21)]
    for a, b in zip(points, points[1:]):
        assert a["recall"] >= b["recall"] and a["fpr"] >= b["fpr"]


def test_operating_point_lies_on_the_curves():
    c = metrics.curves(Y, S)
    assert c["roc_auc"] == pytest.approx(12 / 15)  # 12 of 15 pairs ranked right
    for t in S:
        s = metrics.operating_point(Y, S, t)
        assert (np.isclose(c["fpr"], s["fpr"]) & np.isclose(c["tpr"], s["tpr"])).any()
        on_pr = np.isclose(c["recall"], s["recall"]) & np.isclose(
            c["precision"], s["precision"]
        )
        assert on_pr.any(), t
    with pytest.raises(ValueError, match="both classes"):
        metrics.curves([1, 1], [0.2, 0.3])


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


# --------------------------------------------------------------------------- feature maps
def _maps(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv": rng.normal(size=(12, 10, 4)),
        "pool": rng.random((6, 5, 2)),
        "dense": rng.random(16),
    }


def test_quantize_maps_within_half_a_level():
    maps = _maps()
    maps["flat"] = np.full((3, 3, 1), 2.5)  # a constant channel
    layers, data = quantize_maps(maps)
    assert [d["name"] for d in layers] == ["conv", "pool", "flat"]
    assert len(data) == 12 * 10 * 4 + 6 * 5 * 2 + 9
    ex = FeatureMapExplorer(maps)
    for d in layers:
        m = maps[d["name"]]
        for c in range(d["c"]):
            shown = ex.dequantized(d["name"], c)
            span = m[..., c].max() - m[..., c].min()
            assert np.abs(shown - m[..., c]).max() <= span / 510 + 1e-12
            assert shown.min() == pytest.approx(m[..., c].min(), abs=1e-12)
            assert shown.max() == pytest.approx(m[..., c].max(), abs=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        quantize_maps({"bad": np.full((2, 2, 1), np.nan)})


def test_featuremap_explorer_controls_and_checks():
    ex = FeatureMapExplorer(_maps(), channel=3)
    assert ex.layer_names == ["conv", "pool"] and ex.layer == "conv"
    assert ex.controls["channel"].max == 3 and ex.shown_channel() == 3
    ex.layer = "pool"
    assert ex.layer_index == 1 and ex.controls["layer"].value == "pool"
    assert ex.shown_channel() == 1  # pool has two channels: the page shows the last
    ex.view = "channel"
    assert ex.view_index == 1
    ex.layer_index = 0  # what the page's link sets
    assert ex.layer == "conv"
    with pytest.raises(traitlets.TraitError, match="choose one of"):
        ex.layer = "dense"
    with pytest.raises(traitlets.TraitError, match="out of range"):
        ex.channel = 4
    with pytest.raises(ValueError, match="at least one"):
        FeatureMapExplorer({"dense": np.zeros(4)})
    with pytest.raises(ValueError, match="fewer layers"):
        FeatureMapExplorer({"big": np.zeros((1, 1, MAX_BYTES + 1))})


def test_featuremap_small_multiples():
    fig = featuremap_small_multiples(_maps(), n_channels=2, image=np.zeros((12, 10)))
    assert len([ax for ax in fig.axes if ax.images]) == 1 + 2 * 2
    plt.close(fig)
