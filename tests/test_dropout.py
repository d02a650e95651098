import keras
import numpy as np
import pytest

from cnnguide.dropout import inverted_dropout, original_dropout


def test_original_and_inverted_dropout_keep_the_expected_value():
    x = np.ones(200_000)
    rng = np.random.default_rng(0)
    inv_train = inverted_dropout(x, 0.3, training=True, rng=rng)
    assert set(np.unique(inv_train)) == {0.0, 1 / 0.7}
    assert inv_train.mean() == pytest.approx(1.0, abs=0.01)
    assert np.array_equal(inverted_dropout(x, 0.3, training=False), x)
    orig_train = original_dropout(x, 0.3, training=True, rng=rng)
    assert set(np.unique(orig_train)) == {0.0, 1.0}
    assert original_dropout(x, 0.3, training=False).mean() == pytest.approx(
        orig_train.mean(), abs=0.01
    )
    with pytest.raises(ValueError, match="rate"):
        inverted_dropout(x, 1.0, training=True)


def test_keras_dropout_is_inverted_dropout():
    layer = keras.layers.Dropout(0.5, seed=0)
    x = np.ones((1, 1000), np.float32)
    train = np.asarray(layer(x, training=True))
    assert set(np.unique(train)) == {0.0, 2.0}
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
