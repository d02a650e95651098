"""Tests for cnnguide.layer_outputs: extraction and figures (the explorer: test_explorers_featuremaps)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnguide import layer_outputs as F
from cnnguide.explorers.featuremaps import featuremap_small_multiples
from cnnguide.layers import build_demo_model


@pytest.fixture(scope="module")
def maps():
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    return F.feature_maps(build_demo_model(), image)


def test_feature_maps_shapes_follow_the_layers(maps):
    assert list(maps) == [
        "conv",
        "batchnorm",
        "activation",
        "pool",
        "dropout",
        "flatten",
        "dense",
        "output",
    ]
    assert maps["conv"].shape == (28, 28, 8) and maps["pool"].shape == (14, 14, 8)
    assert maps["flatten"].shape == (1568,) and maps["output"].shape == (1,)
    assert maps["activation"].min() >= 0
    # inference mode: dropout is the identity
    np.testing.assert_array_equal(maps["dropout"], maps["pool"])
    assert F.spatial_layers(maps) == [
        "conv",
        "batchnorm",
        "activation",
        "pool",
        "dropout",
    ]


def test_feature_maps_accepts_shapes_and_rejects_wrong_ones():
    model = build_demo_model()
    img = np.random.default_rng(1).random((28, 28), dtype=np.float32)
    a = F.feature_maps(model, img, ["conv"])["conv"]
    b = F.feature_maps(model, img[None, ..., None], ["conv"])["conv"]
    np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="expects"):
        F.feature_maps(model, np.zeros((32, 32)))


def test_training_mode_activates_dropout():
    model = build_demo_model(dropout=0.5)
    img = np.random.default_rng(2).random((28, 28), dtype=np.float32)
    m = F.feature_maps(model, img, ["pool", "dropout"], training=True)
    nonzero = m["pool"] != 0
    assert np.mean(m["dropout"][nonzero] == 0) > 0.3


def test_static_figures(maps):
    fig = F.plot_feature_maps(maps, "conv", ncols=4)
    assert len([ax for ax in fig.axes if ax.images]) == 8
    plt.close(fig)
    fig = featuremap_small_multiples(
        maps, ["conv", "pool"], n_channels=3, image=np.zeros((28, 28))
    )
    assert len([ax for ax in fig.axes if ax.images]) == 1 + 2 * 3
    plt.close(fig)
    with pytest.raises(ValueError, match="not a"):
        F.plot_feature_maps(maps, "dense")
    with pytest.raises(KeyError, match="choose one of"):
        F.plot_feature_maps(maps, "nope")
