"""Tests for cnnguide.normalization: NumPy reference against the Keras layers."""

import numpy as np
import pytest

from cnnguide import normalization as N

RNG = np.random.default_rng(0)
X = RNG.normal(0, 1, (6, 5, 5, 4)) * np.array([1, 3, 0.5, 10]) + np.array(
    [0, 5, -2, 40]
)


@pytest.mark.parametrize("kind", ["batch", "layer", "instance"])
def test_numpy_reference_matches_keras_layer(kind):
    import keras

    layer = N.keras_normalization_layer(kind, channels=X.shape[-1], epsilon=1e-3)
    out = np.asarray(layer(X.astype(np.float32), training=True))
    np.testing.assert_allclose(out, N.normalize(X, kind, eps=1e-3), atol=2e-4)
    assert isinstance(layer, keras.layers.Layer)


@pytest.mark.parametrize(
    "kind, shape", [("batch", (4,)), ("layer", (6,)), ("instance", (6, 4))]
)
def test_each_kind_equalises_its_own_groups(kind, shape):
    means, stds = N.axis_statistics(N.normalize(X, kind, eps=0), kind)
    assert means.shape == stds.shape == shape
    np.testing.assert_allclose(means, 0, atol=1e-9)
    np.testing.assert_allclose(stds, 1, atol=1e-9)


def test_batch_norm_leaves_per_image_means_unequal():
    means, _ = N.axis_statistics(N.normalize(X, "batch"), "instance")
    assert (
        np.abs(means).max() > 0.1
    )  # it equalises channels over the batch, not each image


def test_statistics_table_and_errors():
    t = N.statistics_table(X, {k: N.normalize(X, k) for k in N.NORMALIZATION_AXES})
    assert list(t["groups"]) == [4, 6, 24]
    assert (t["max |mean| after"] < 1e-9).all() and (t["max |mean| before"] > 1).all()
    with pytest.raises(ValueError, match="choose one of"):
        N.normalization_axes("group")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        N.normalize(np.zeros((3, 3)), "batch")
