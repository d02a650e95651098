"""Tests of cnnguide.explain: Grad-CAM on every model layout, and the mask scores.

Grad-CAM is checked for correctness, not only shapes:

* hand-built models where the answer is known pixel by pixel (one channel is the only
  path to the output, and it fires on one region only);
* agreement with a direct computation on a model whose feature map is an output
  (Sequential, Functional, a nested custom backbone, a keras.applications backbone,
  a frozen backbone, augmentation layers in front).
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnnguide.explain import (  # noqa: E402
    find_last_conv_layer,
    gallery,
    grad_cam,
    heat_in_mask,
    overlay,
    pointing_game,
    zhang_tolerance,
    score_localization,
)

SIZE = 32


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------
# Hand-built models with a known answer

R = (slice(2, 10), slice(2, 10))  # bright region (value 1.0)
S = (slice(20, 30), slice(18, 30))  # dimmer region (value 0.5)


def _two_region_image() -> np.ndarray:
    image = np.zeros((SIZE, SIZE), np.float32)
    image[R] = 1.0
    image[S] = 0.5
    return image


def _region_mask(region) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[region] = True
    return mask


def _threshold_model(dense_weights, *, pool: int = 1) -> keras.Model:
    """Channel 0 = relu(x - 0.75) fires on R only; channel 1 = relu(x - 0.25) on R and S.

    The dense weights decide which channel reaches the output.
    """
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.AveragePooling2D(pool)(inputs) if pool > 1 else inputs
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="last_conv")
    x = conv(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(1, activation="sigmoid")
    outputs = dense(x)
    model = keras.Model(inputs, outputs)
    conv.set_weights(
        [np.ones((1, 1, 1, 2), np.float32), np.array([-0.75, -0.25], np.float32)]
    )
    dense.set_weights(
        [np.array(dense_weights, np.float32).reshape(2, 1), np.zeros(1, np.float32)]
    )
    return model


def test_only_path_channel_puts_heat_on_its_region_only():
    heat = grad_cam(_threshold_model([1.0, 0.0]), _two_region_image())
    assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32
    np.testing.assert_allclose(heat[R], 1.0, atol=1e-5)
    np.testing.assert_allclose(
        heat[~_region_mask(R)], 0.0, atol=1e-6
    )  # S is bright too, but silent
    assert heat_in_mask(heat, _region_mask(R)) == pytest.approx(1.0)
    assert pointing_game(heat, _region_mask(R), tolerance=0)


def test_heat_follows_the_channel_that_reaches_the_output():
    # Channel 1 sees R at 0.75 and S at 0.25: heat 1 on R, 1/3 on S, 0 elsewhere.
    heat = grad_cam(_threshold_model([0.0, 1.0]), _two_region_image())
    np.testing.assert_allclose(heat[R], 1.0, atol=1e-5)
    np.testing.assert_allclose(heat[S], 1.0 / 3.0, atol=1e-5)
    background = ~(_region_mask(R) | _region_mask(S))
    np.testing.assert_allclose(heat[background], 0.0, atol=1e-6)


def test_negative_class_has_no_positive_evidence_here():
    # Explaining "normal" (1 - p): every channel weight is negative -> an all-zero map.
    heat = grad_cam(_threshold_model([1.0, 0.0]), _two_region_image(), class_index=0)
    assert heat.shape == (SIZE, SIZE)
    assert np.all(heat == 0.0) and not np.isnan(heat).any()


def test_coarse_feature_map_is_resized_and_still_points_at_the_region():
    model = _threshold_model([1.0, 0.0], pool=4)  # the conv sees an 8x8 map
    image = np.zeros((SIZE, SIZE), np.float32)
    region = (slice(8, 16), slice(4, 12))  # aligned with the 4-pixel cells
    image[region] = 1.0
    image[24:32, 20:28] = 0.5  # channel 0 ignores it
    heat = grad_cam(model, image)
    assert heat.shape == (SIZE, SIZE)
    assert heat.max() == pytest.approx(1.0)
    assert heat.min() >= 0.0
    mask = _region_mask(region)
    assert pointing_game(heat, mask, tolerance=0)
    assert heat_in_mask(heat, mask) > 0.6  # bilinear upsampling spills a little
    assert heat[24:32, 20:28].max() < 0.05


def test_rgb_input_only_the_red_channel_reaches_the_output():
    inputs = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(
        2, 1, activation="relu", use_bias=False, name="last_conv"
    )
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(
        inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs)))
    )
    kernel = np.zeros((1, 1, 3, 2), np.float32)
    kernel[0, 0, 0, 0] = 1.0  # channel 0 = red
    kernel[0, 0, 1, 1] = 1.0  # channel 1 = green
    conv.set_weights([kernel])
    dense.set_weights([np.array([[1.0], [0.0]], np.float32), np.zeros(1, np.float32)])
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    image[R + (0,)] = 1.0  # red square
    image[S + (1,)] = 1.0  # equally bright green square, not on the path
    heat = grad_cam(model, image)
    np.testing.assert_allclose(heat[R], 1.0, atol=1e-5)
    assert heat[S].max() == 0.0


def test_zero_gradients_give_an_all_zero_map_without_nan():
    model = _threshold_model([0.0, 0.0])  # the output no longer depends on the image
    heat = grad_cam(model, _two_region_image())
    assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32
    assert np.all(heat == 0.0) and np.isfinite(heat).all()


def test_dead_layer_gives_an_all_zero_map():
    heat = grad_cam(_threshold_model([1.0, 0.0]), np.zeros((SIZE, SIZE), np.float32))
    assert np.all(heat == 0.0) and np.isfinite(heat).all()


# --------------------------------------------------------------------------------------
# Agreement with a direct computation, on every model layout


def _conv_block(name_prefix=""):
    return [
        keras.layers.Conv2D(
            4, 3, padding="same", activation="relu", name=f"{name_prefix}c1"
        ),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(
            6, 3, padding="same", activation="relu", name=f"{name_prefix}last_conv"
        ),
    ]


def _head():
    return [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ]


def _reference_heat(features, gradients, size):
    """The Grad-CAM formula, written out on NumPy arrays."""
    features, gradients = np.asarray(features)[0], np.asarray(gradients)[0]
    weights = gradients.mean(axis=(0, 1))
    cam = np.maximum((features * weights).sum(axis=-1), 0.0)
    if cam.max() <= 0:
        return np.zeros((size, size), np.float32)
    resized = tf.image.resize((cam / cam.max())[..., None], (size, size)).numpy()[
        ..., 0
    ]
    return resized / resized.max()


def _direct(feature_and_output, image, class_index):
    """Gradients of the class score with respect to an explicitly returned feature map."""
    x = tf.convert_to_tensor(image[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        features, probability = feature_and_output(x)
        score = probability[:, 0] if class_index == 1 else 1.0 - probability[:, 0]
    return _reference_heat(features, tape.gradient(score, features), image.shape[0])


def _sequential(channels=1):
    return keras.Sequential(
        [keras.Input((SIZE, SIZE, channels)), *_conv_block(), *_head()]
    )


def _functional(channels=1):
    inputs = keras.Input((SIZE, SIZE, channels))
    x = inputs
    for layer in _conv_block() + _head():
        x = layer(x)
    return keras.Model(inputs, x)


def _direct_flat(model, target="last_conv"):
    """Call the layers one by one (a chain), returning the target's output as well."""

    def run(x):
        features = None
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            x = layer(x, training=False)
            if layer.name == target:
                features = x
        return features, x

    return run


def _custom_backbone(channels=1):
    return keras.Sequential(
        [keras.Input((SIZE, SIZE, channels)), *_conv_block()], name="backbone"
    )


def _wrap(backbone, shape, *, sequential=False):
    head = _head()
    if sequential:
        return keras.Sequential([keras.Input(shape), backbone, *head])
    inputs = keras.Input(shape)
    x = backbone(inputs)
    for layer in head:
        x = layer(x)
    return keras.Model(inputs, x)


def _direct_nested(model, backbone, target):
    if isinstance(backbone, keras.Sequential):
        probe = _direct_flat(backbone, target)
    else:  # the two-output probe works inside the backbone's own graph
        two_outputs = keras.Model(
            backbone.inputs, [backbone.get_layer(target).output, backbone.output]
        )

        def probe(x):
            return two_outputs(x, training=False)

    head = model.layers[-2:]  # GlobalAveragePooling2D, Dense

    def run(x):
        features, y = probe(x)
        for layer in head:
            y = layer(y, training=False)
        return features, y

    return run


def _image(shape, seed=1):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _assert_matches(model, direct, image, layer=None):
    compared = 0
    for class_index in (0, 1):
        expected = _direct(direct, image, class_index)
        heat = grad_cam(model, image, layer=layer, class_index=class_index)
        assert heat.shape == image.shape[:2]
        assert 0.0 <= heat.min() and heat.max() <= 1.0
        np.testing.assert_allclose(heat, expected, atol=1e-5)
        compared += bool(expected.max() > 0)
    assert compared >= 1, "degenerate test: both classes gave all-zero maps"


@pytest.mark.parametrize("channels", [1, 3])
def test_sequential_matches_direct_computation(channels):
    keras.utils.set_random_seed(0)
    model = _sequential(channels)
    assert find_last_conv_layer(model) == "last_conv"
    _assert_matches(model, _direct_flat(model), _image((SIZE, SIZE, channels)))


def test_functional_matches_direct_computation():
    keras.utils.set_random_seed(1)
    model = _functional()
    _assert_matches(model, _direct_flat(model), _image((SIZE, SIZE, 1)))
    # an earlier layer, by name
    # an earlier layer, by name, against the usual two-output probe model
    probe = keras.Model(model.inputs, [model.get_layer("c1").output, model.output])
    _assert_matches(
        model, lambda x: probe(x, training=False), _image((SIZE, SIZE, 1)), layer="c1"
    )
    _assert_matches(
        model, _direct_flat(model, "c1"), _image((SIZE, SIZE, 1)), layer="c1"
    )


@pytest.mark.parametrize("sequential_outer", [False, True])
def test_custom_nested_backbone_matches_direct_computation(sequential_outer):
    keras.utils.set_random_seed(2)
    backbone = _custom_backbone()
    model = _wrap(backbone, (SIZE, SIZE, 1), sequential=sequential_outer)
    assert find_last_conv_layer(model) == "backbone/last_conv"
    image = _image((SIZE, SIZE, 1))
    direct = _direct_nested(model, backbone, "last_conv")
    _assert_matches(model, direct, image)
    # a bare name is found inside the backbone too
    np.testing.assert_array_equal(
        grad_cam(model, image, layer="last_conv"), grad_cam(model, image)
    )


def test_the_published_recipe_fails_on_nested_models_but_grad_cam_does_not():
    keras.utils.set_random_seed(2)
    model = _wrap(_custom_backbone(), (SIZE, SIZE, 1))
    with pytest.raises(Exception):  # the inner layer's output is not in the outer graph
        probe = keras.Model(
            model.inputs,
            [model.get_layer("backbone").get_layer("last_conv").output, model.output],
        )
        probe(_image((1, SIZE, SIZE, 1)))
    assert grad_cam(model, _image((SIZE, SIZE, 1))).shape == (SIZE, SIZE)


@pytest.fixture(scope="module")
def mobilenet():
    keras.utils.set_random_seed(3)
    backbone = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(SIZE, SIZE, 3), alpha=0.35
    )
    return backbone, _wrap(backbone, (SIZE, SIZE, 3))


def test_keras_applications_backbone_matches_direct_computation(mobilenet):
    backbone, model = mobilenet
    path = find_last_conv_layer(model)
    assert path == f"{backbone.name}/Conv_1"
    image = _image((SIZE, SIZE, 3), seed=0)
    # Conv_1, the default, is 1x1 at 32x32; block_5_project (4x4) has spatial detail
    direct = _direct_nested(model, backbone, "block_5_project")
    _assert_matches(model, direct, image, layer=f"{backbone.name}/block_5_project")
    heat = grad_cam(model, image)
    assert heat.shape == (SIZE, SIZE) and np.isfinite(heat).all()
    assert np.ptp(heat) == 0.0  # one cell upsampled: a constant map (all 1 or all 0)


def test_frozen_backbone_still_gets_gradients(mobilenet):
    backbone, model = mobilenet
    image = _image((SIZE, SIZE, 3), seed=0)
    target = f"{backbone.name}/block_5_project"
    before = grad_cam(model, image, layer=target)
    backbone.trainable = False  # the usual transfer-learning set-up
    try:
        after = grad_cam(model, image, layer=target)
    finally:
        backbone.trainable = True
    assert before.max() > 0
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_grey_image_into_rgb_backbone_is_repeated_over_channels(mobilenet):
    _, model = mobilenet
    grey = _image((SIZE, SIZE), seed=4)
    np.testing.assert_allclose(
        grad_cam(model, grey),
        grad_cam(model, np.repeat(grey[..., None], 3, axis=-1)),
        atol=1e-6,
    )


def test_augmentation_layers_act_as_identity():
    keras.utils.set_random_seed(5)
    shared = _conv_block() + _head()
    augmentation = [
        keras.layers.RandomRotation(0.2),
        keras.layers.RandomZoom(0.2),
        keras.layers.RandomTranslation(0.1, 0.1),
        keras.layers.RandomFlip("horizontal"),
        keras.layers.Rescaling(1.0),
    ]

    def build(front):
        inputs = keras.Input((SIZE, SIZE, 1))
        x = inputs
        for layer in front + shared:
            x = layer(x)
        return keras.Model(inputs, x)

    plain, augmented = build([]), build(augmentation)
    image = _image((SIZE, SIZE, 1), seed=6)
    first = grad_cam(augmented, image)
    assert first.max() > 0
    np.testing.assert_array_equal(grad_cam(augmented, image), first)  # deterministic
    np.testing.assert_allclose(first, grad_cam(plain, image), atol=1e-6)


def test_image_formats_give_the_same_heat():
    keras.utils.set_random_seed(7)
    model = _sequential()
    image_u8 = np.random.default_rng(8).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    as_float = image_u8.astype(np.float32) / 255.0
    reference = grad_cam(model, as_float)
    np.testing.assert_allclose(grad_cam(model, image_u8), reference, atol=1e-6)
    np.testing.assert_allclose(
        grad_cam(model, as_float[..., None]), reference, atol=1e-6
    )


def test_recording_hook_is_removed_even_after_an_error():
    keras.utils.set_random_seed(9)
    inputs = keras.Input((SIZE, SIZE, 1))
    conv = keras.layers.Conv2D(3, 3, name="last_conv")
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(conv(inputs))
    )
    model = keras.Model(inputs, outputs)
    image = _image((SIZE, SIZE, 1))
    assert grad_cam(model, image).shape == (SIZE, SIZE)  # softmax: predicted class
    assert "call" not in vars(conv)
    with pytest.raises(Exception):
        grad_cam(model, image, class_index=5)  # no such class
    assert "call" not in vars(conv)


def test_bad_inputs_raise_clear_errors():
    keras.utils.set_random_seed(10)
    model = _functional()
    with pytest.raises(ValueError, match="32×32"):
        grad_cam(model, np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError, match="channel"):
        grad_cam(model, np.zeros((SIZE, SIZE, 2), np.float32))
    with pytest.raises(ValueError, match="one image"):
        grad_cam(model, np.zeros((2, SIZE, SIZE, 1), np.float32))
    with pytest.raises(ValueError, match="no layer 'nope'"):
        grad_cam(model, np.zeros((SIZE, SIZE), np.float32), layer="nope")
    dense_name = model.layers[-1].name
    with pytest.raises(ValueError, match="feature map"):
        grad_cam(model, np.zeros((SIZE, SIZE), np.float32), layer=dense_name)


def test_find_last_conv_layer_without_any_convolution():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="no 2-D convolution"):
        find_last_conv_layer(model)


def test_book_model_from_cnnguide_models():
    from cnnguide import models

    keras.utils.set_random_seed(11)
    model = models.build_recommended((28, 28, 1))
    assert find_last_conv_layer(model).split("/")[-1] == "last_conv"
    heat = grad_cam(
        model, np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    )
    assert heat.shape == (28, 28) and 0.0 <= heat.min() and heat.max() <= 1.0


# --------------------------------------------------------------------------------------
# heat_in_mask and pointing_game


def test_heat_in_mask_known_answers():
    heat = np.array([[1.0, 0.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.0, 4.0]])
    mask = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], bool)
    assert heat_in_mask(heat, mask) == pytest.approx(4.0 / 10.0)
    assert heat_in_mask(heat, ~mask) == pytest.approx(6.0 / 10.0)
    assert heat_in_mask(heat, np.ones((3, 3), bool)) == pytest.approx(1.0)
    assert heat_in_mask(heat, np.zeros((3, 3), bool)) == 0.0
    assert heat_in_mask(heat[..., None], mask.astype(np.uint8)) == pytest.approx(0.4)
    # a uniform map scores the mask's own share of the image
    assert heat_in_mask(np.ones((4, 5)), np.eye(4, 5, dtype=bool)) == pytest.approx(
        4 / 20
    )


def test_heat_in_mask_of_empty_heat_is_nan():
    assert np.isnan(heat_in_mask(np.zeros((3, 3)), np.ones((3, 3), bool)))


def test_pointing_game_known_answers():
    heat = np.zeros((5, 5))
    heat[3, 1] = 0.9
    heat[0, 0] = 0.5
    mask = np.zeros((5, 5), bool)
    mask[3, 1] = True
    assert pointing_game(heat, mask) is True
    assert pointing_game(heat, ~mask) is False
    shifted = np.zeros((5, 5), bool)
    shifted[3, 2] = True  # one pixel beside the peak
    assert pointing_game(heat, shifted) is False  # 5 px: Zhang's tolerance is 0
    assert pointing_game(heat, shifted, tolerance=1) is True
    diagonal = np.zeros((5, 5), bool)
    diagonal[4, 2] = True  # sqrt(2) px away: Euclidean, not city-block
    assert pointing_game(heat, diagonal, tolerance=1) is False
    assert pointing_game(heat, diagonal, tolerance=2) is True
    assert (
        pointing_game(np.zeros((5, 5)), np.ones((5, 5), bool)) is False
    )  # points nowhere


def test_pointing_game_tolerance_scales_zhangs_15_pixels_at_224():
    assert zhang_tolerance((224, 224)) == 15 and zhang_tolerance((28, 28)) == 2
    heat = np.zeros((28, 28))
    heat[10, 10] = 1.0
    near = np.zeros((28, 28), bool)
    near[10, 12] = True  # 2 px away: a hit at 28 px by default, not strictly
    assert pointing_game(heat, near) is True
    assert pointing_game(heat, near, tolerance=0) is False


def test_pointing_game_breaks_ties_by_one_seeded_draw():
    """One maximum, as in Zhang et al.: of two tied peaks, one is drawn."""
    heat = np.zeros((4, 4))
    heat[0, 0] = heat[3, 3] = 1.0
    one = np.zeros((4, 4), bool)
    one[0, 0] = True
    outcomes = {pointing_game(heat, one, tolerance=0, seed=k) for k in range(20)}
    assert outcomes == {True, False}  # each peak is drawn by some seed
    assert pointing_game(heat, one, tolerance=0, seed=3) == pointing_game(
        heat, one, tolerance=0, seed=3
    )
    both = one.copy()
    both[3, 3] = True
    assert all(pointing_game(heat, both, tolerance=0, seed=k) for k in range(5))


def test_scores_reject_mismatched_or_negative_input():
    with pytest.raises(ValueError, match="same shape"):
        heat_in_mask(np.ones((4, 4)), np.ones((5, 5), bool))
    with pytest.raises(ValueError, match="same shape"):
        pointing_game(np.ones((4, 4)), np.ones((4, 4, 2), bool))
    with pytest.raises(ValueError, match="non-negative"):
        heat_in_mask(-np.ones((2, 2)), np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(np.ones((2, 2)), np.ones((2, 2), bool), tolerance=-1)


def test_scores_on_phantom_lesion_masks():
    from cnnguide.data import phantoms

    batch = phantoms.make_phantoms(6, 64, seed=0, pneumonia_fraction=1.0)
    for mask in batch.masks:
        assert mask.any()
        perfect = mask.astype(np.float32)
        assert heat_in_mask(perfect, mask) == pytest.approx(1.0)
        assert pointing_game(perfect, mask)
        assert heat_in_mask(np.ones_like(perfect), mask) == pytest.approx(mask.mean())
        assert not pointing_game(1.0 - perfect, mask)


def test_score_localization_on_known_regions():
    model = _threshold_model([1.0, 0.0])
    images = np.stack([_two_region_image()] * 3)
    on_lesion = np.stack([_region_mask(R)] * 3)
    scores = score_localization(model, images, on_lesion)
    np.testing.assert_allclose(scores["heat_in_mask"], 1.0, atol=1e-6)
    assert scores["pointing_game"].tolist() == [True] * 3
    np.testing.assert_allclose(scores["mask_share"], 64 / SIZE**2)
    assert scores["heats"].shape == (3, SIZE, SIZE)
    elsewhere = score_localization(model, images, np.stack([_region_mask(S)] * 3))
    np.testing.assert_allclose(elsewhere["heat_in_mask"], 0.0, atol=1e-6)
    assert not elsewhere["pointing_game"].any()
    with pytest.raises(ValueError, match="empty"):
        score_localization(model, images, np.zeros_like(on_lesion))
    with pytest.raises(ValueError, match="masks"):
        score_localization(model, images, on_lesion[:2])


# --------------------------------------------------------------------------------------
# overlay and gallery


def test_overlay_draws_the_image_and_a_semi_transparent_heat_map():
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    heat = np.zeros((16, 16), np.float32)
    heat[4:8, 4:8] = 1.0
    ax = overlay(image, heat, alpha=0.3, title="case")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.images) == 2
    np.testing.assert_array_equal(ax.images[0].get_array(), image)
    assert ax.images[0].get_cmap().name == "gray"
    np.testing.assert_array_equal(ax.images[1].get_array(), heat)
    assert ax.images[1].get_alpha() == 0.3
    assert ax.images[1].get_clim() == (0.0, 1.0)
    assert ax.get_title() == "case"


def test_overlay_on_given_axes_and_without_heat():
    fig, (left, right) = plt.subplots(1, 2)
    assert overlay(np.zeros((8, 8, 1)), None, ax=left) is left
    assert len(left.images) == 1 and len(right.images) == 0
    rgb = overlay(
        np.zeros((8, 8, 3)), np.ones((4, 4)) * 0.5, ax=right
    )  # heat stretched over
    assert (
        len(rgb.images) == 2
        and rgb.images[0].get_extent() == rgb.images[1].get_extent()
    )
    with pytest.raises(ValueError, match="alpha"):
        overlay(np.zeros((8, 8)), np.zeros((8, 8)), alpha=1.5)


def test_gallery_lays_out_rows_with_labels():
    images = np.random.default_rng(1).random((6, 12, 12)).astype(np.float32)
    heats = [np.full((12, 12), 0.5, np.float32)] * 5 + [None]
    titles = [f"p={p:.2f}" for p in np.linspace(0.1, 0.9, 6)]
    fig = gallery(
        images, heats, titles, ncols=2, row_labels=["TP", "FP", "FN"], suptitle="cases"
    )
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 7  # six panels and one colour bar for the heat
    assert [fig.axes[i].get_ylabel() for i in (0, 2, 4)] == ["TP", "FP", "FN"]
    assert [len(ax.images) for ax in fig.axes[:6]] == [2, 2, 2, 2, 2, 1]
    assert fig.axes[3].get_title() == titles[3]
    assert fig.axes[6].get_ylabel() == "heat (0 to 1)"
    assert fig.axes[0].images[1].get_cmap().name == "inferno"
    plain = gallery(images, None, ncols=2)  # no heat, no colour bar
    assert len(plain.axes) == 6


def test_gallery_rejects_mismatched_lengths():
    images = np.zeros((3, 8, 8))
    with pytest.raises(ValueError, match="heat maps"):
        gallery(images, [None, None])
    with pytest.raises(ValueError, match="titles"):
        gallery(images, None, ["a"])
    with pytest.raises(ValueError, match="row labels"):
        gallery(images, None, ncols=3, row_labels=["TP", "FP"])
    with pytest.raises(ValueError, match="at least one"):
        gallery([], [])


# --------------------------------------------------------------------------------------
# The rectified feature layer, concurrency, and every method behind explain()

from cnnguide import explain as ex  # noqa: E402


def _bn_model():
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="last_conv")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def test_feature_layer_is_the_rectified_output_of_the_last_block(mobilenet):
    keras.utils.set_random_seed(20)
    model = _bn_model()
    assert ex.find_last_conv_layer(model) == "last_conv"
    assert ex.find_feature_layer(model) == "relu2"
    image = _image((SIZE, SIZE, 1))
    np.testing.assert_array_equal(
        grad_cam(model, image), grad_cam(model, image, layer="relu2")
    )
    # a convolution with its own activation is already rectified
    assert ex.find_feature_layer(_sequential()) == "last_conv"
    backbone, wrapped = mobilenet
    assert ex.find_feature_layer(wrapped) == f"{backbone.name}/out_relu"
    cnn = pytest.importorskip("cnnguide.models").build_cnn((28, 28, 1))
    assert ex.find_feature_layer(cnn) == "block3_relu1"


def test_rectified_maps_follow_the_formula_on_the_relu_output():
    keras.utils.set_random_seed(21)
    model = _bn_model()
    image = _image((SIZE, SIZE, 1), seed=3)
    probe = keras.Model(model.inputs, [model.get_layer("relu2").output, model.output])
    _assert_matches(model, lambda x: probe(x, training=False), image)


def test_concurrent_callers_get_the_serial_answers():
    from concurrent.futures import ThreadPoolExecutor

    keras.utils.set_random_seed(22)
    model = _bn_model()
    images = [_image((SIZE, SIZE, 1), seed=s) for s in range(8)]
    serial = [grad_cam(model, im) for im in images]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda im: grad_cam(model, im), images * 2))
    for got, want in zip(parallel, serial * 2):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert "call" not in vars(model.get_layer("relu2"))


def test_batched_grad_cam_equals_one_image_at_a_time():
    keras.utils.set_random_seed(23)
    model = _bn_model()
    images = np.stack([_image((SIZE, SIZE), seed=s) for s in range(5)])
    maps = ex.explain(model, images, "grad_cam", batch_size=2)
    for image, heat in zip(images, maps):
        np.testing.assert_allclose(heat, grad_cam(model, image), atol=1e-6)


@pytest.mark.parametrize("method", ["grad_cam", "saliency", "occlusion", "lime"])
def test_every_method_finds_the_only_region_that_counts(method):
    model = _threshold_model([1.0, 0.0])  # the score depends on region R only
    images = np.stack([_two_region_image()] * 2)
    # occlusion blurs by its patch: a patch smaller than R keeps the peak on R
    options = {"lime": {"num_samples": 150}, "occlusion": {"patch": 4, "stride": 2}}
    maps = ex.explain(model, images, method, **options.get(method, {}))
    assert maps.shape == (2, SIZE, SIZE) and maps.dtype == np.float32
    assert 0.0 <= maps.min() and maps.max() == pytest.approx(1.0)
    scores = ex.score_maps(maps, np.stack([_region_mask(R)] * 2))
    assert scores["pointing_game"].all()
    assert scores["heat_in_mask"].min() > 0.6  # R is 6 % of the image


def _lesion_only_model(mask):
    """A model whose score is the mean brightness of one lesion's pixels."""
    size = mask.shape[0]
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    weights = (mask.reshape(-1, 1) / mask.sum() * 8.0).astype(np.float32)
    model.layers[-1].set_weights([weights, np.array([-4.0], np.float32)])
    return model


@pytest.mark.parametrize("method", ["saliency", "occlusion", "lime"])
def test_methods_on_a_phantom_whose_answer_is_known(method):
    from cnnguide.data.phantoms import make_phantom

    one = make_phantom(32, seed=4, subtype="lobar")
    mask = one.masks[0]
    model = _lesion_only_model(mask)
    options = {"num_samples": 200, "n_segments": 30} if method == "lime" else {}
    heat = ex.explain(model, one.images, method, **options)[0]
    assert heat_in_mask(heat, mask) > 2 * mask.mean()
    if method == "saliency":  # exactly the lesion's pixels have a gradient
        assert pointing_game(heat, mask)
    elif method == "occlusion":  # an 8-pixel patch blurs by half its size
        assert pointing_game(heat, mask, tolerance=4)
    else:  # LIME's peak is a whole superpixel: it must overlap the lesion
        assert mask[heat == heat.max()].any()


def test_random_maps_score_about_the_mask_share():
    from cnnguide.data.phantoms import make_phantoms

    batch = make_phantoms(40, 32, seed=3, pneumonia_fraction=1.0, subtypes="lobar")
    maps = ex.explain(None, batch.images, "random")
    scores = ex.score_maps(maps, batch.masks)
    assert abs(np.mean(scores["heat_in_mask"]) - np.mean(scores["mask_share"])) < 0.02


def test_deletion_curve_falls_faster_for_the_right_map():
    model = _threshold_model([1.0, 0.0])
    images = np.stack([_two_region_image()] * 3)
    right = np.stack([_region_mask(R).astype(np.float32)] * 3)
    wrong = np.stack([_region_mask(S).astype(np.float32)] * 3)
    fractions, good = ex.deletion_curve(model, images, right, steps=8)
    _, bad = ex.deletion_curve(model, images, wrong, steps=8)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and good.shape == (3, 9)
    np.testing.assert_allclose(good[:, 0], bad[:, 0])  # same intact score
    assert (ex.deletion_auc(fractions, good) < ex.deletion_auc(fractions, bad)).all()
    with pytest.raises(ValueError, match="maps have shape"):
        ex.deletion_curve(model, images, right[:2])


def test_cascading_randomization_leaves_the_model_alone_and_changes_the_maps():
    keras.utils.set_random_seed(24)
    model = _bn_model()
    before = [w.copy() for w in model.get_weights()]
    image = _image((SIZE, SIZE, 1), seed=5)[None]
    original = ex.explain(model, image, "saliency")
    steps = list(ex.cascading_randomization(model, seed=1))
    names = [name for name, _ in steps]
    assert names[0] == model.layers[-1].name and names[-1] == "c1"
    for want, got in zip(before, model.get_weights()):
        np.testing.assert_array_equal(want, got)
    # the yielded copy is the same object, randomised further at each step
    _, scrambled = steps[-1]
    changed = ex.explain(scrambled, image, "saliency")
    assert ex.map_similarity(original, original)[0] == pytest.approx(1.0)
    assert ex.map_similarity(original, changed)[0] < 0.9


def test_map_similarity_and_mean_interval():
    a = np.random.default_rng(0).random((3, 6, 6))
    np.testing.assert_allclose(ex.map_similarity(a, 2 * a + 1), 1.0)
    assert np.isnan(ex.map_similarity(np.ones((1, 3, 3)), a[:1, :3, :3])[0])
    mean, low, high = ex.mean_interval(np.r_[np.ones(20), np.zeros(20), np.nan])
    assert mean == 0.5 and low < 0.5 < high
    assert ex.mean_interval(np.array([np.nan])) != ex.mean_interval(np.array([1.0]))


def test_explain_rejects_bad_input_clearly():
    model = _threshold_model([1.0, 0.0])
    with pytest.raises(ValueError, match="unknown method 'gradcam'"):
        ex.explain(model, np.zeros((1, SIZE, SIZE)), "gradcam")
    with pytest.raises(ValueError, match="batch shaped"):
        ex.explain(model, np.zeros((SIZE, SIZE)), "saliency")
    with pytest.raises(ValueError, match="patch=64"):
        ex.explain(model, np.zeros((1, SIZE, SIZE)), "occlusion", patch=64)


def test_chest_regions_partition_the_film_and_scale_with_it():
    from cnnguide.explain import chest_regions

    for side in (28, 64):
        regions = chest_regions((side, side))
        stacked = np.stack(list(regions.values())).astype(int)
        assert (stacked.sum(axis=0) == 1).all()  # no overlap, nothing left out
        band = regions["centre band"]
        assert band[side // 2, side // 2] and not band[side // 2, 3 * side // 10]
    assert chest_regions((64, 64))["edges"][4, 32]  # 2 px at 28 is 5 px at 64
    with pytest.raises(ValueError, match="leaves nothing"):
        chest_regions((28, 28), border=14)


def test_heat_shares_average_over_maps_and_skip_empty_ones():
    from cnnguide.explain import chest_regions, heat_shares

    regions = chest_regions((28, 28))
    corner = np.zeros((28, 28))
    corner[0, 0] = 5.0
    middle = regions["centre band"].astype(float)
    shares = heat_shares([corner, middle, np.zeros((28, 28))])
    assert shares["edges"]["heat"] == pytest.approx(0.5)
    assert shares["centre band"]["heat"] == pytest.approx(0.5)
    assert shares["lung fields"]["heat"] == 0.0
    assert shares["edges"]["maps"] == 2
    even = heat_shares([np.ones((28, 28))])
    for share in even.values():  # heat spread evenly: each region gets its area
        assert share["heat"] == pytest.approx(share["area"])


def _saturated_model():
    """A sigmoid model whose probability is exactly 1.0 in float32 on the image."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(
                2, 3, padding="same", activation="relu", name="last_conv"
            ),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    conv, dense = model.layers[0], model.layers[-1]
    conv.set_weights([np.full((3, 3, 1, 2), 1.0, np.float32), np.zeros(2, np.float32)])
    dense.set_weights([np.full((2, 1), 30.0, np.float32), np.zeros(1, np.float32)])
    image = np.zeros((1, 8, 8), np.float32)
    image[0, 2:5, 2:5] = 1.0
    return model, image


@pytest.mark.parametrize("method", ["grad_cam", "saliency", "occlusion", "lime"])
def test_saturated_probability_still_gets_a_map(method):
    """The logit is explained: p = 1.0 in float32 blanks no method."""
    model, image = _saturated_model()
    assert float(model(image[..., None])[0, 0]) == 1.0  # saturated
    options = {"num_samples": 60, "n_segments": 4} if method == "lime" else {}
    if method == "occlusion":
        options = {"patch": 2, "stride": 2}
    maps = ex.explain(model, image, method=method, **options)
    assert maps.max() == pytest.approx(1.0)
    assert maps[0, 3, 3] > maps[0, 7, 7]  # the bright square, not a far corner
    assert model.layers[-1].activation is __import__("keras").activations.sigmoid


def test_logit_is_explained_not_the_probability():
    """Occlusion falls are in logit units: with a saturated p they are not zero."""
    from cnnguide.explain import _logits

    model, image = _saturated_model()
    z = _logits(model, image[..., None])
    assert z.shape == (1, 1) and z[0, 0] > 20  # far beyond float32's p = 1.0
