"""Tests for cnnguide.layers: parameter counts by hand, the demo models, dropout, output heads."""

import numpy as np
import pytest

from cnnguide.models import build_small_cnn
from cnnguide import layers as Ly

import keras  # noqa: E402


def test_formulas():
    assert Ly.conv2d_params(3, 3, 1, 8) == 80
    assert Ly.conv2d_params(3, 3, 1, 8, bias=False) == 72
    assert Ly.conv2d_params(5, 3, 16, 32) == 5 * 3 * 16 * 32 + 32
    assert Ly.dense_params(10, 4) == 44
    assert (
        Ly.batchnorm_params(16) == 64
        and Ly.batchnorm_params(16, trainable_only=True) == 32
    )
    with pytest.raises(ValueError, match="filters"):
        Ly.conv2d_params(3, 3, 1, 0)
    with pytest.raises(ValueError, match="units"):
        Ly.dense_params(3, 2.5)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: Ly.build_demo_model(),
        lambda: Ly.build_demo_model((32, 32, 3), filters=5, dense_units=7),
        lambda: build_small_cnn(batchnorm=True),
        lambda: build_small_cnn(batchnorm=False, dropout=0.3),
        lambda: keras.Sequential(
            [
                keras.Input((12, 12, 2)),
                keras.layers.Conv2D(4, (5, 3), use_bias=False),
                keras.layers.PReLU(),
                keras.layers.LayerNormalization(axis=(1, 2, 3)),
                keras.layers.GroupNormalization(groups=4),
                keras.layers.AveragePooling2D(2),
                keras.layers.SpatialDropout2D(0.2),
                keras.layers.Flatten(),
                keras.layers.Dense(3, use_bias=False),
                keras.layers.Softmax(),
            ]
        ),
    ],
)
def test_count_by_hand_matches_keras(factory):
    model = factory()
    rows = Ly.count_params_by_hand(model)
    assert [r.name for r in rows] == [layer.name for layer in model.layers]
    for row, layer in zip(rows, model.layers):
        assert row.by_hand == layer.count_params(), row
    assert sum(r.by_hand for r in rows) == model.count_params()
    table = Ly.parameter_table(model)
    assert (table["by hand"] == table["Keras"]).all()


def test_unknown_layer_is_named():
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.DepthwiseConv2D(3, name="dw")]
    )
    with pytest.raises(ValueError, match="'dw'.*DepthwiseConv2D"):
        Ly.count_params_by_hand(model)


def test_demo_model_follows_the_source_list():
    model = Ly.build_demo_model()
    names = [layer.name for layer in model.layers]
    assert names == [
        "conv",
        "batchnorm",
        "activation",
        "pool",
        "dropout",
        "flatten",
        "dense",
        "output",
    ]
    assert model.get_layer("pool").output.shape[1:] == (14, 14, 8)
    assert model.get_layer("flatten").output.shape[1:] == (14 * 14 * 8,)


def test_same_seed_same_weights():
    a = build_small_cnn(seed=3).get_weights()
    b = build_small_cnn(seed=3).get_weights()
    c = build_small_cnn(seed=4).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "task, units, lo, hi",
    [("binary", 1, 0, 1), ("multiclass", 3, 0, 1), ("regression", 1, -np.inf, np.inf)],
)
def test_output_heads(task, units, lo, hi):
    model = Ly.build_head_model(task, n_classes=3)
    out = np.asarray(
        model(np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32))
    )
    assert out.shape == (4, units)
    assert np.all((out >= lo) & (out <= hi))
    if task == "multiclass":
        np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)
    assert model.loss == Ly.OUTPUT_HEADS[task].loss
    with pytest.raises(ValueError, match="choose one of"):
        Ly.build_head_model("ranking")


def test_train_small_cnn_learns_a_separable_toy_task():
    rng = np.random.default_rng(0)
    y = np.arange(64) % 2
    x = rng.random((64, 28, 28, 1), dtype=np.float32) * 0.2
    x[y == 1, 10:18, 10:18] += 0.8
    _, hist = Ly.train_small_cnn(x, y, epochs=8, learning_rate=1e-2)
    assert hist["loss"][-1] < hist["loss"][0]


def test_separable_convolution_parameters_match_keras():
    import keras

    from cnnguide.layers import depthwise_separable_params

    layer = keras.layers.SeparableConv2D(32, 3)
    layer.build((None, 28, 28, 16))
    assert layer.count_params() == depthwise_separable_params(3, 3, 16, 32)


def test_measured_receptive_field_agrees_with_the_formula():
    import keras

    from cnnguide.layers import measured_receptive_field
    from cnnguide.ops import receptive_field

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((48, 48, 1)),
            keras.layers.Conv2D(4, 3, padding="same", name="c1"),
            keras.layers.Conv2D(4, 3, padding="same", name="c2"),
            keras.layers.AveragePooling2D(2, name="p1"),
            keras.layers.Conv2D(4, 3, padding="same", name="c3"),
        ]
    )
    expected = receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)])[-1]["rf"]
    assert measured_receptive_field(model, "c3") == (expected, expected)
    assert measured_receptive_field(model, "c1") == (3, 3)
