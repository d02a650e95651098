"""Tests for cnnguide.models: the step-4 architecture and the recommended variant."""

import numpy as np
import pytest

import keras  # noqa: E402

from cnnguide.models import (
    RECOMMENDED,
    build_augmentation,
    build_cnn,
    build_recommended,
)  # noqa: E402


def _kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_source_architecture_layers_in_order():
    model = build_cnn((28, 28, 1), widths=(8, 16), dense_units=128, dropout=0.4)
    assert _kinds(model) == [
        "InputLayer",
        "Conv2D",
        "BatchNormalization",
        "ReLU",
        "MaxPooling2D",
        "Conv2D",
        "BatchNormalization",
        "ReLU",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
    ]
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convs] == [(3, 3), (3, 3)]
    assert [c.filters for c in convs] == [8, 16]
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.get_layer("dense").units == 128
    assert model.get_layer("dropout_1").rate == pytest.approx(0.4)
    # Flatten after two 2x2 poolings of 28x28: 7 * 7 * 16 features into the dense layer.
    assert model.get_layer("dense").kernel.shape == (7 * 7 * 16, 128)


@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3), (32, 48, 1)])
def test_output_is_a_probability_per_image(shape):
    model = build_cnn(shape, widths=(4, 8), global_pooling=True)
    x = np.random.default_rng(0).random((3, *shape)).astype("float32")
    p = np.asarray(model(x, training=False))
    assert p.shape == (3, 1)
    assert ((p > 0) & (p < 1)).all()


def test_depth_width_and_convs_per_block():
    model = build_cnn((32, 32, 1), widths=(4, 8, 16), convs_per_block=2)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [4, 4, 8, 8, 16, 16]
    assert convs[-1].name == "last_conv"
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.layers) == 3


def test_without_batchnorm_convs_keep_bias():
    model = build_cnn(widths=(4,), batchnorm=False)
    assert "BatchNormalization" not in _kinds(model)
    assert model.get_layer("last_conv").use_bias


def test_global_pooling_shrinks_the_dense_layer():
    flat = build_cnn(widths=(8, 16), dense_units=32)
    gap = build_cnn(widths=(8, 16), dense_units=32, global_pooling=True)
    assert gap.get_layer("dense").kernel.shape == (16, 32)
    assert gap.count_params() < flat.count_params()


def test_recommended_variant():
    model = build_recommended()
    assert isinstance(model, keras.Model) and model.name == "recommended_cnn"
    assert model.get_layer("last_conv").filters == RECOMMENDED["widths"][-1]
    assert "GlobalAveragePooling2D" in _kinds(model)
    assert model.input_shape == (None, 28, 28, 1)
    small = build_recommended((28, 28, 1), widths=(4, 8), dense_units=16)
    assert small.get_layer("last_conv").filters == 8


def test_augmentation_is_identity_at_inference_only():
    aug = build_augmentation(seed=3)
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    assert np.allclose(np.asarray(aug(x, training=False)), x)
    assert not np.allclose(np.asarray(aug(x, training=True)), x)
    model = build_cnn(widths=(4,), augmentation=aug)
    assert model.get_layer("augmentation") is aug
    a, b = (np.asarray(model(x, training=False)) for _ in range(2))
    assert np.array_equal(a, b)


def test_no_horizontal_flip_in_augmentation():
    names = [type(layer).__name__ for layer in build_augmentation().layers]
    assert "RandomFlip" not in names


def test_augmentation_strength_zero_leaves_a_layer_out():
    def names(**kwargs):
        return [type(layer).__name__ for layer in build_augmentation(**kwargs).layers]

    assert names() == ["RandomRotation", "RandomTranslation", "RandomZoom"]
    assert names(rotation=0, translation=0, zoom=0) == []
    assert names(brightness=0.1, contrast=0.1, noise=0.02, horizontal_flip=True) == [
        "RandomFlip",
        "RandomRotation",
        "RandomTranslation",
        "RandomZoom",
        "RandomBrightness",
        "RandomContrast",
        "GaussianNoise",
    ]
    contrast = build_augmentation(contrast=0.2).layers[-1]
    assert contrast.factor == (0.2, 0.2)  # lowers and raises the contrast
    flip = build_augmentation(vertical_flip=True).layers[0]
    assert flip.mode == "vertical"


def test_adding_a_transform_keeps_the_other_layers_draws():
    # Each layer's seed is fixed by its kind, so the training recipe's draws do not move
    # when another transform is switched on.
    x = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    plain = build_augmentation(seed=5)
    with_noise = build_augmentation(seed=5, noise=0.05)
    assert [layer.seed for layer in plain.layers] == [
        layer.seed for layer in with_noise.layers[:3]
    ]
    assert not np.allclose(
        np.asarray(with_noise(x, training=True)), np.asarray(plain(x, training=True))
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_shape=(28, 28)), "height, width, channels"),
        (dict(widths=()), "widths"),
        (dict(dropout=1.0), "dropout"),
        (dict(convs_per_block=0), "convs_per_block"),
        (dict(input_shape=(8, 8, 1), widths=(4, 4, 4, 4)), "at least 16 pixels"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_cnn(**kwargs)


def test_predict_proba_one_rule_for_every_input():
    from cnnguide.models import predict_proba

    keras.utils.set_random_seed(0)
    model = build_cnn((28, 28, 1), widths=(4,), dense_units=8)
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    p = predict_proba(model, u8, batch_size=2)
    assert p.shape == (5,) and p.dtype == np.float32 and ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(predict_proba(model, u8 / 255.0), p, atol=1e-6)
    np.testing.assert_allclose(
        predict_proba(model, u8.astype(np.uint16) * 257), p, atol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(model(u8[..., None] / 255.0)).ravel(), p, atol=1e-6
    )
    assert predict_proba(model, u8[0]).shape == (1,)  # one (H, W) image
    with pytest.raises(ValueError, match=r"expects images shaped \(28, 28, 1\)"):
        predict_proba(model, np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(TypeError, match="int32"):
        predict_proba(model, np.zeros((2, 28, 28), np.int32))


def test_one_build_small_cnn_shared_by_the_chapters():
    from cnnguide import imbalance, layers
    from cnnguide.models import build_small_cnn

    # One home: the other modules call models.build_small_cnn, re-export nothing.
    assert not hasattr(imbalance, "build_small_cnn")
    assert not hasattr(layers, "build_small_cnn")
    a, b = build_small_cnn(seed=2), build_small_cnn(seed=2)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert a.get_layer("global_pool").output.shape[-1] == 64
    assert a.get_layer("last_conv").filters == 64
    moments = {
        l.momentum for l in a.layers if isinstance(l, keras.layers.BatchNormalization)
    }
    assert moments == {0.9}
    plain = build_small_cnn(
        filters=(8, 16), dense_units=0, dropout=0.0, batchnorm=False
    )
    assert "dense" not in [l.name for l in plain.layers]
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in plain.layers)


def test_augmentation_adds_no_black_frame():
    """Pixels brought in from outside repeat the edge: a flat film stays flat."""
    flat = np.full((16, 28, 28, 1), 0.6, np.float32)
    for seed in (0, 1):
        out = np.asarray(build_augmentation(seed=seed)(flat, training=True))
        assert np.allclose(out, 0.6, atol=1e-5)


def test_residual_upsampled_and_unpooled_variants():
    plain = build_cnn((28, 28, 1), widths=(8, 16), convs_per_block=2)
    res = build_cnn((28, 28, 1), widths=(8, 16), convs_per_block=2, residual=True)
    # a 1x1 shortcut only where the width changes (1 -> 8, 8 -> 16)
    shortcuts = [x.name for x in res.layers if x.name.endswith("_shortcut")]
    assert shortcuts == ["block1_shortcut", "block2_shortcut"]
    assert res.count_params() == plain.count_params() + 1 * 8 + 8 * 16
    same = build_cnn((28, 28, 1), widths=(8, 8), residual=True)
    assert not [x for x in same.layers if x.name == "block2_shortcut"]
    up = build_cnn((28, 28, 1), widths=(8, 16), upsample=2, pool_first=False)
    assert up.get_layer("last_conv").output.shape[1:3] == (56, 56)
    with pytest.raises(ValueError, match="upsample"):
        build_cnn((28, 28, 1), upsample=0)
