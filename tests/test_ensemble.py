"""Tests for cnnguide.ensemble and the ensemble preset of cnnguide.train.

The views are checked against SciPy's bilinear resampling; a tiny ensemble of two
members (with TTA, EMA and a cleaned validation split) is trained on phantoms, saved,
loaded, served, explained, exported to TFLite and resumed after a crash mid-member.
"""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

import keras

from cnnguide.data import Dataset, Split
from cnnguide.data.phantoms import make_phantoms
from cnnguide.ensemble import (
    TTAViews,
    build_ensemble,
    members,
    sampling_table,
    view_images,
    view_transforms,
)
from cnnguide.models import build_small_cnn, predict_proba
from cnnguide.train import TrainConfig, load, train

TINY = dict(widths=(4, 8), dense_units=8, batch_size=32, patience=5)


def _scipy_view(image, dy, dx, angle):
    """The same view with scipy: output o reads input M (o - c - s) + c."""
    theta = np.deg2rad(angle)
    matrix = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    centre = (np.array(image.shape) - 1) / 2.0
    offset = centre - matrix @ (centre + np.array([dy, dx]))
    return ndimage.affine_transform(
        image, matrix, offset=offset, order=1, mode="grid-constant", cval=0.0
    )


@pytest.mark.parametrize(
    "dy, dx, angle", [(0, 1, 0), (-1, 0, 0), (2, -1, 0), (0, 0, 5), (0, 0, -12.5)]
)
def test_views_match_scipy_bilinear_resampling(dy, dx, angle):
    image = np.random.default_rng(0).random((13, 17))
    index, weight = sampling_table(13, 17, (dy, dx), angle)
    flat = np.append(image.reshape(-1), 0.0)
    ours = (flat[index] * weight).sum(axis=0).reshape(13, 17)
    np.testing.assert_allclose(ours, _scipy_view(image, dy, dx, angle), atol=1e-6)
    np.testing.assert_allclose(weight.sum(axis=0), 1.0, atol=1e-6)


def test_a_rotation_turns_the_image_anticlockwise():
    image = np.zeros((9, 9))
    image[4, 8] = 1.0  # a dot on the right edge, middle row
    turned = view_images(image[None, ..., None], shifts=[], angles=[90])[1, 0, ..., 0]
    assert np.unravel_index(turned.argmax(), turned.shape) == (0, 4)  # at the top


def test_the_layer_equals_the_numpy_reference_and_keeps_view_zero():
    x = np.random.default_rng(1).random((3, 10, 10, 1)).astype(np.float32)
    layer = TTAViews()
    y = np.asarray(layer(x))
    n_views = len(view_transforms())
    assert y.shape == (n_views * 3, 10, 10, 1) and layer.n_views == n_views
    np.testing.assert_array_equal(y[:3], x)
    reference = view_images(x).reshape(n_views * 3, 10, 10, 1)
    np.testing.assert_allclose(y, reference, atol=1e-6)


def test_ensemble_is_the_mean_over_members_and_views():
    parts = [build_small_cnn((12, 12, 1), seed=s, dropout=0.0) for s in (0, 1, 2)]
    x = np.random.default_rng(2).random((4, 12, 12, 1)).astype(np.float32)
    views = view_images(x)  # (V, N, H, W, C)
    expected = np.mean(
        [[np.asarray(p(v, training=False)) for v in views] for p in parts],
        axis=(0, 1),
    )
    model = build_ensemble(parts, tta=True)
    np.testing.assert_allclose(predict_proba(model, x), expected[:, 0], atol=1e-6)
    assert [m.name for m in members(model)] == ["member_0", "member_1", "member_2"]
    plain = build_ensemble(parts)
    no_views = np.mean([np.asarray(p(x, training=False)) for p in parts], axis=0)
    np.testing.assert_allclose(predict_proba(plain, x), no_views[:, 0], atol=1e-6)


def test_views_shrink_the_default_batch_but_not_the_scores():
    from cnnguide.models import batch_budget

    parts = [build_small_cnn((28, 28, 1), seed=s, dropout=0.0) for s in (0, 1)]
    model = build_ensemble(parts, tta=True)
    n_views = len(view_transforms())
    assert batch_budget(parts[0], (28, 28)) == 256
    assert batch_budget(model, (28, 28)) == 2**18 // (28 * 28 * n_views)
    x = np.random.default_rng(3).random((300, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(
        predict_proba(model, x), predict_proba(model, x, batch_size=300), atol=1e-6
    )


def test_members_must_share_an_input_shape():
    with pytest.raises(ValueError, match="one input shape"):
        build_ensemble([build_small_cnn((12, 12, 1)), build_small_cnn((16, 16, 1))])
    with pytest.raises(ValueError, match="at least one"):
        build_ensemble([])


def test_unknown_preset_and_bad_ema_are_refused():
    with pytest.raises(ValueError, match="unknown preset 'fastest'"):
        TrainConfig.preset("fastest")
    with pytest.raises(ValueError, match="ema must be in"):
        TrainConfig(ema=1.0)
    with pytest.raises(ValueError, match="members must be a positive"):
        TrainConfig(members=0)


# ------------------------------------------------------------------------------------
# A tiny trained ensemble


def _dataset_with_validation_copies(n_copies=5):
    splits = {}
    for seed, (name, n) in enumerate([("train", 160), ("val", 64), ("test", 64)]):
        b = make_phantoms(n, 28, seed=seed, pneumonia_fraction=0.6)
        splits[name] = [b.images.copy(), b.labels.astype(np.uint8)]
    # The first validation images become byte-identical copies of training images.
    splits["val"][0][:n_copies] = splits["train"][0][10 : 10 + n_copies]
    splits["val"][1][:n_copies] = splits["train"][1][10 : 10 + n_copies]
    return Dataset(
        name="Synthetic chest phantoms",
        splits={k: Split(*v) for k, v in splits.items()},
        source="synthetic (test)",
        is_real=False,
        image_size=28,
    )


ENSEMBLE = dict(
    epochs=2, seed=4, members=2, tta=True, ema=0.9, clean_validation=True, **TINY
)


@pytest.fixture(scope="module")
def data():
    return _dataset_with_validation_copies()


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble")
    return train(TrainConfig(**ENSEMBLE), data, out_dir=out, n_boot=20, score_test=True)


@pytest.mark.slow
def test_ensemble_card_reports_members_views_and_both_validations(trained, data):
    card = trained.card
    assert [m["seed"] for m in card["members"]] == [4, 5]
    assert all(m["epochs_run"] == 2 for m in card["members"])
    assert card["epochs_run"] == 4
    assert card["tta_views"][0] == [0.0, 0.0, 0.0] and len(card["tta_views"]) == 7
    assert card["data"]["validation_duplicates_dropped"] == 5
    assert card["data"]["validation_dropped"] == [0, 1, 2, 3, 4]  # the copies
    assert card["data"]["split_sizes"]["val"] == len(data.val) - 5
    assert set(card["validation_with_duplicates"]) >= {"roc_auc", "recall"}
    assert len(trained.scores["val"]) == len(data.val) - 5
    assert len(trained.scores["val_with_duplicates"]) == len(data.val)
    assert card["config"]["members"] == 2 and card["config"]["ema"] == 0.9
    folder = trained.out_dir
    for k in (0, 1):
        assert (folder / "members" / f"member_{k}" / "model.keras").is_file()
        assert not (folder / "members" / f"member_{k}" / "backup").exists()


@pytest.mark.slow
def test_saved_ensemble_loads_predicts_and_explains_as_one_model(trained, data):
    from cnnguide.deploy.service import load_predictor
    from cnnguide.explain import grad_cam_maps

    model, card = load(trained.out_dir)
    assert len(members(model)) == 2
    x = data.test.as_float()
    np.testing.assert_allclose(
        predict_proba(model, x), trained.scores["test"], atol=1e-6
    )
    maps = grad_cam_maps(model, x[:3])
    each = [grad_cam_maps(m, x[:3]) for m in members(model)]
    mean = np.mean(each, axis=0)
    peak = mean.reshape(3, -1).max(axis=1)[:, None, None]
    np.testing.assert_allclose(maps, mean / np.where(peak > 0, peak, 1), atol=1e-5)
    predictor = load_predictor(trained.out_dir)
    result = predictor.predict(x[0])
    assert result["probability"] == pytest.approx(float(trained.scores["test"][0]))
    heat = predictor.explain(x[0])
    np.testing.assert_allclose(heat, maps[0], atol=1e-5)


@pytest.mark.slow
def test_ensemble_exports_to_tflite(trained, data, tmp_path):
    from cnnguide.deploy.edge import TFLiteClassifier, export_tflite

    x = data.test.as_float()[:16]
    paths = export_tflite(
        trained.model,
        tmp_path,
        representative=data.train.as_float()[:32],
        variants=("float32", "int8"),
    )
    keras_scores = predict_proba(trained.model, x)
    lite = TFLiteClassifier(paths["float32"]).predict_proba(x)
    np.testing.assert_allclose(lite, keras_scores, atol=1e-4)
    int8 = TFLiteClassifier(paths["int8"]).predict_proba(x)
    assert np.abs(int8 - keras_scores).mean() < 0.05


class _CrashInSecondMember(keras.callbacks.Callback):
    """Raises at the end of the second member's first epoch."""

    fits = 0

    def on_train_begin(self, logs=None):
        type(self).fits += 1

    def on_epoch_end(self, epoch, logs=None):
        if type(self).fits == 2 and epoch == 0:
            raise RuntimeError("simulated crash")


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


@pytest.mark.slow
def test_a_killed_ensemble_resumes_at_its_member(data, tmp_path):
    config = TrainConfig(**{**ENSEMBLE, "tta": False, "ema": 0.0})
    first = _Epochs()
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(
            config,
            data,
            out_dir=tmp_path,
            callbacks=[first, _CrashInSecondMember()],
            n_boot=10,
        )
    assert first.seen == [0, 1, 0]
    assert (tmp_path / "members" / "member_0" / "model.keras").is_file()
    assert (tmp_path / "members" / "member_1" / "backup").is_dir()
    second = _Epochs()
    result = train(config, data, out_dir=tmp_path, callbacks=[second], n_boot=10)
    assert second.seen == [1]  # member 0 loaded, member 1 resumed at its epoch 2
    assert result.card["members"][1]["resumed_after_epoch"] == 1
    assert (tmp_path / "model.keras").is_file()
    third = _Epochs()  # another seed in the same folder: no stale member is reused
    other = dataclasses.replace(config, seed=9)
    again = train(other, data, out_dir=tmp_path, callbacks=[third], n_boot=10)
    assert third.seen == [0, 1, 0, 1]
    assert [m["seed"] for m in again.card["members"]] == [9, 10]
