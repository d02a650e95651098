"""Samplers, weights, losses and the comparison runner of cnnguide.imbalance, on small known arrays."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cnnguide.models import build_small_cnn, predict_proba
from cnnguide import imbalance as im


def _toy(n0=6, n1=14, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0, 1, (n0, d)), rng.normal(3, 1, (n1, d))]).astype(
        np.float64
    )
    y = np.array([0] * n0 + [1] * n1, dtype=np.uint8)
    return X, y


def _rows_in(rows, pool):
    return all(np.any(np.all(np.isclose(pool, r), axis=1)) for r in rows)


# ---------------------------------------------------------------- resample


def test_random_oversampling_copies_minority_up_to_majority():
    X, y = _toy()
    Xr, yr = im.resample(X, y, "random_over", seed=0)
    assert np.bincount(yr).tolist() == [14, 14]
    assert _rows_in(Xr[yr == 0], X[y == 0])  # only copies of real normals
    assert _rows_in(Xr[yr == 1], X[y == 1])


def test_random_undersampling_keeps_a_subset_of_the_majority():
    X, y = _toy()
    Xr, yr = im.resample(X, y, "random_under", seed=0)
    assert np.bincount(yr).tolist() == [6, 6]
    kept = Xr[yr == 1]
    assert _rows_in(kept, X[y == 1]) and np.unique(kept, axis=0).shape[0] == 6


def test_smote_samples_lie_on_segments_between_minority_neighbours():
    X, y = _toy(n0=6, n1=14, d=3)
    k = 3
    Xr, yr = im.resample(X, y, "smote", seed=0, k_neighbors=k)
    assert np.bincount(yr).tolist() == [14, 14]
    minority = X[y == 0]
    # imbalanced-learn keeps the originals first and appends the synthetic cases
    assert np.allclose(Xr[: len(X)], X)
    synthetic = Xr[len(X) :]
    assert synthetic.shape == (8, 3) and (yr[len(X) :] == 0).all()
    dist = np.linalg.norm(minority[:, None] - minority[None], axis=2)
    neighbours = np.argsort(dist, axis=1)[:, 1 : k + 1]
    for s in synthetic:
        found = False
        for i, a in enumerate(minority):
            for j in neighbours[i]:
                b = minority[j]
                lam = np.dot(s - a, b - a) / np.dot(b - a, b - a)
                if -1e-9 <= lam <= 1 + 1e-9 and np.allclose(
                    a + lam * (b - a), s, atol=1e-9
                ):
                    found = True
        assert found, (
            f"synthetic case {s} is not on a segment between minority neighbours"
        )


def test_cluster_undersampling_with_hard_voting_keeps_real_majority_cases():
    X, y = _toy(n0=5, n1=30)
    Xr, yr = im.resample(X, y, "cluster_under", seed=0)
    assert np.bincount(yr).tolist() == [5, 5]
    assert _rows_in(Xr[yr == 1], X[y == 1])
    assert _rows_in(Xr[yr == 0], X[y == 0])


def test_resample_flattens_images_and_restores_shape_and_dtype():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (20, 4, 5), dtype=np.uint8)
    labels = np.array([0] * 5 + [1] * 15, dtype=np.uint8)
    for method in ("random_over", "random_under", "smote", "cluster_under"):
        Xr, yr = im.resample(images, labels, method, seed=0, k_neighbors=3)
        assert Xr.shape[1:] == (4, 5) and Xr.dtype == np.uint8, method
        assert (
            Xr.shape[0] == yr.shape[0] and np.bincount(yr)[0] == np.bincount(yr)[1]
        ), method
    Xn, yn = im.resample(images, labels, "none")
    assert np.array_equal(Xn, images) and Xn is not images


def test_resample_rejects_bad_input():
    X, y = _toy()
    with pytest.raises(ValueError, match="unknown resampling method"):
        im.resample(X, y, "magic")
    with pytest.raises(ValueError, match="labels"):
        im.resample(X, y[:-1], "smote")
    with pytest.raises(ValueError, match="two classes"):
        im.resample(X, np.ones_like(y), "smote")


def test_smote_blend_is_the_segment_point():
    a, b = np.zeros((2, 2)), np.full((2, 2), 200.0)
    assert np.array_equal(im.smote_blend(a, b, 0.0), a)
    assert np.array_equal(im.smote_blend(a, b, 1.0), b)
    assert np.allclose(im.smote_blend(a, b, 0.3), 60.0)
    with pytest.raises(ValueError):
        im.smote_blend(a, b, 1.5)


def test_subsample_keeps_class_shares():
    y = np.array([0] * 30 + [1] * 90, dtype=np.uint8)
    X = np.arange(120)
    Xs, ys = im.subsample(X, y, 40, seed=3)
    assert np.bincount(ys).tolist() == [10, 30]
    assert np.array_equal(y[Xs], ys)


# ---------------------------------------------------------------- weights and losses


def test_balanced_class_weights_follow_n_over_2_nc():
    y = np.array([0] * 10 + [1] * 30)
    w = im.class_weights(y)
    assert w == pytest.approx({0: 40 / (2 * 10), 1: 40 / (2 * 30)})
    # each class then carries the same total weight
    assert 10 * w[0] == pytest.approx(30 * w[1])


def test_custom_class_weights_and_errors():
    assert im.class_weights([0, 1, 1], {0: 2, 1: 1}) == {0: 2.0, 1: 1.0}
    with pytest.raises(ValueError):
        im.class_weights([0, 1], {0: 1.0})
    with pytest.raises(ValueError):
        im.class_weights([0, 1], {0: -1.0, 1: 1.0})
    with pytest.raises(ValueError):
        im.class_weights([1, 1, 1])
    with pytest.raises(ValueError):
        im.class_weights([0, 1], "inverse")


def _per_example(loss, y, p):

    loss = loss.__class__.from_config({**loss.get_config(), "reduction": None})
    return np.asarray(loss(y.reshape(-1, 1), p.reshape(-1, 1))).reshape(-1)


def test_focal_loss_with_gamma_zero_and_no_alpha_is_cross_entropy():
    import keras

    y = np.array([0, 0, 1, 1, 1], dtype=np.float32)
    p = np.array([0.1, 0.7, 0.2, 0.6, 0.95], dtype=np.float32)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    focal = _per_example(im.focal_loss(gamma=0.0, alpha=None), y, p)
    assert np.allclose(focal, bce, rtol=1e-4)
    keras_bce = float(
        keras.losses.BinaryCrossentropy()(y.reshape(-1, 1), p.reshape(-1, 1))
    )
    assert float(
        im.focal_loss(gamma=0.0)(y.reshape(-1, 1), p.reshape(-1, 1))
    ) == pytest.approx(keras_bce, rel=1e-4)


def test_focal_loss_down_weights_easy_examples():
    y = np.array([1, 1], dtype=np.float32)
    p = np.array([0.95, 0.3], dtype=np.float32)  # easy (right, confident), hard
    bce = -np.log(p)
    focal = _per_example(im.focal_loss(gamma=2.0, alpha=None), y, p)
    assert np.allclose(focal, (1 - p) ** 2 * bce, rtol=1e-4)
    ratio = focal / bce
    assert ratio[0] < 0.01 < 0.4 < ratio[1]


def test_focal_loss_alpha_weights_the_classes():
    y = np.array([1, 0], dtype=np.float32)
    p = np.array([0.6, 0.4], dtype=np.float32)  # symmetric: same p_t = 0.6
    plain = _per_example(im.focal_loss(gamma=2.0), y, p)
    weighted = _per_example(im.focal_loss(gamma=2.0, alpha=0.25), y, p)
    assert plain[0] == pytest.approx(plain[1], rel=1e-5)
    assert weighted[0] == pytest.approx(0.25 * plain[0], rel=1e-4)
    assert weighted[1] == pytest.approx(0.75 * plain[1], rel=1e-4)
    with pytest.raises(ValueError):
        im.focal_loss(gamma=-1)
    with pytest.raises(ValueError):
        im.focal_loss(alpha=1.5)


# ---------------------------------------------------------------- augmentation and models


def test_the_sources_augmentation_is_identity_at_inference_and_random_in_training():
    from cnnguide.models import SOURCE_AUGMENTATION, build_augmentation

    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    aug = build_augmentation(**SOURCE_AUGMENTATION, seed=0)
    names = [layer.__class__.__name__ for layer in aug.layers]
    assert "RandomFlip" not in names  # no flips for chest films by default
    assert {
        "RandomRotation",
        "RandomZoom",
        "RandomBrightness",
        "RandomContrast",
        "GaussianNoise",
    } <= set(names)
    assert "RandomTranslation" not in names  # the source's list has no shifts
    assert np.allclose(aug(x, training=False), x)
    out = np.asarray(aug(x, training=True))
    assert out.shape == x.shape and not np.allclose(out, x)
    assert "RandomFlip" in [
        la.__class__.__name__
        for la in build_augmentation(**SOURCE_AUGMENTATION, horizontal_flip=True).layers
    ]


def test_augmentation_gallery_shows_each_transform():
    image = np.zeros((28, 28), np.uint8)
    image[:, :10] = 255  # bright band on the left
    gallery = dict(im.augmentation_gallery(image))
    assert len(gallery) == 10
    original = gallery["original"]
    assert original.max() == 1.0 and original.dtype == np.float32
    flipped = gallery["horizontal flip (heart on the right!)"]
    assert np.array_equal(flipped, original[:, ::-1])
    assert flipped[:, -10:].mean() == 1.0 and flipped[:, :10].mean() == 0.0
    assert gallery["brightness +0.1"].mean() > original.mean()
    assert not np.allclose(gallery["rotation +10°"], original)
    with pytest.raises(ValueError):
        im.augmentation_gallery(np.zeros((2, 28, 28)))


def test_small_cnn_is_small_and_seeded():
    a = build_small_cnn(seed=3)
    b = build_small_cnn(seed=3)
    assert 15_000 < a.count_params() < 30_000
    assert a.output_shape == (None, 1)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    s = predict_proba(a, x)
    assert s.shape == (3,) and s.dtype == np.float32 and ((s > 0) & (s < 1)).all()
    assert im.feature_extractor(a).output_shape == (None, 64)


def test_applications_path_builds_offline_with_random_weights():
    model = im.build_applications_model("MobileNetV2", (28, 28, 1), weights=None)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 1)
    with pytest.raises(ValueError, match="32"):
        im.build_applications_model(size=16)
    with pytest.raises(ValueError, match="keras.applications"):
        im.build_applications_model("NoSuchNet")


# ---------------------------------------------------------------- table and runner


def test_format_table_marks_the_best_values():
    rows = [
        {"method": "a", "f1": 0.5, "seconds": 3.0},
        {"method": "b", "f1": 0.75, "seconds": 9.0},
    ]
    text = im.format_table(rows, ("method", "f1", "seconds"))
    lines = text.splitlines()
    assert lines[0].split() == ["method", "f1", "seconds"]
    assert "0.750*" in lines[3] and "0.500*" not in text
    assert "3.0*" in lines[2] and "9.0*" not in text


def test_run_comparison_rejects_unknown_methods():
    with pytest.raises(ValueError, match="unknown methods"):
        im.run_comparison({}, ["none", "magic"])


def _toy_data(n_train, n_val, seed=0):
    rng = np.random.default_rng(seed)

    def split(n):
        y = (rng.random(n) < 0.74).astype(np.uint8)
        images = rng.integers(0, 120, (n, 28, 28)).astype(np.uint8)
        images[y == 1, 8:20, 8:20] += 100  # a learnable "opacity"
        return SimpleNamespace(images=images, labels=y)

    return {"train": split(n_train), "val": split(n_val)}


@pytest.mark.slow
def test_run_comparison_returns_one_scored_row_per_method():
    data = _toy_data(160, 60)
    rows = im.run_comparison(
        data, ["class_weight", "smote_features", "random_under"], epochs=1, n_train=None
    )
    # the baseline that SMOTE on features needs is trained, but not reported
    assert [r["method"] for r in rows] == [
        "class_weight",
        "smote_features",
        "random_under",
    ]
    for r in rows:
        for key in ("recall", "precision", "f1", "roc_auc", "pr_auc", "specificity"):
            assert 0.0 <= r[key] <= 1.0, (r["method"], key)
    by = {r["method"]: r for r in rows}
    assert by["random_under"]["normal_share"] == pytest.approx(0.5)
    assert by["class_weight"]["normal_share"] < 0.4
    assert by["smote_features"]["normal_share"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "methods",
    [["smote_features", "none"], ["none", "smote_features"], ["smote_features"]],
)
def test_run_comparison_smote_features_in_any_order(methods):
    """SMOTE on features reuses the baseline's encoder, wherever "none" stands."""
    data = _toy_data(40, 16)
    rows = im.run_comparison(
        data, methods, epochs=1, n_train=None, keep_scores=True, progress=None
    )
    assert [r["method"] for r in rows] == methods
    by = {r["method"]: r for r in rows}
    assert by["smote_features"]["normal_share"] == pytest.approx(0.5)
    if "none" in by:
        # its training time is part of SMOTE-on-features' cost
        assert by["smote_features"]["seconds"] >= by["none"]["seconds"]
        assert by["none"]["n_train"] == 40


def test_run_comparison_baseline_is_the_same_in_either_order():
    data = _toy_data(40, 16)
    kwargs = dict(epochs=1, n_train=None, keep_scores=True, progress=None)
    first = im.run_comparison(data, ["none", "smote_features"], **kwargs)
    second = im.run_comparison(data, ["smote_features", "none"], **kwargs)
    np.testing.assert_allclose(first[0]["scores"], second[1]["scores"], atol=1e-6)
    np.testing.assert_allclose(first[1]["scores"], second[0]["scores"], atol=1e-6)


@pytest.mark.slow
def test_compare_over_seeds_pairs_each_remedy_with_the_baseline_seed_by_seed():
    data = _toy_data(120, 60)
    study = im.compare_over_seeds(data, [0, 1], ["class_weight"], steps=4, n_train=None)
    runs, summary = study["runs"], {r["method"]: r for r in study["summary"]}
    assert sorted((r["seed"], r["method"]) for r in runs) == [
        (0, "class_weight"),
        (0, "none"),
        (1, "class_weight"),
        (1, "none"),
    ]
    cw = summary["class_weight"]
    diffs = [
        a["roc_auc"] - b["roc_auc"]
        for a in runs
        if a["method"] == "class_weight"
        for b in runs
        if b["method"] == "none" and b["seed"] == a["seed"]
    ]
    assert cw["roc_auc_diff"] == pytest.approx(np.mean(diffs))
    assert cw["roc_auc_low"] <= cw["roc_auc_diff"] <= cw["roc_auc_high"]
    assert cw["roc_auc_verdict"] in {
        "beats",
        "shows no clear difference from",
        "trails",
    }
    assert "roc_auc_verdict" not in summary["none"]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        im.compare_over_seeds(data, [0], ["none"])


def test_comparison_figure_and_lines_read_the_study():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(70)].astype(int)
    runs, summary = [], []
    for method in ("none", "focal"):
        for s in (0, 1, 2):
            scores = np.clip(y * 0.3 + rng.random(100) * 0.7, 0, 1)
            runs.append(
                {
                    "seed": s,
                    "method": method,
                    "roc_auc": 0.8 + 0.01 * s,
                    "specificity": 0.5,
                    "scores": scores,
                }
            )
    summary = [
        {"method": "none", "seeds": 3, "roc_auc_mean": 0.81, "roc_auc_sd": 0.01},
        {
            "method": "focal",
            "seeds": 3,
            "roc_auc_diff": 0.0,
            "roc_auc_low": -0.01,
            "roc_auc_high": 0.01,
            "roc_auc_verdict": "shows no clear difference from",
            "specificity_diff": 0.0,
            "specificity_low": -0.1,
            "specificity_high": 0.1,
            "specificity_verdict": "shows no clear difference from",
        },
    ]
    study = {"runs": runs, "summary": summary, "baseline": "none", "min_recall": 0.9}
    fig = im.comparison_figure(study, y)
    top, spec, roc, pr = fig.axes
    assert [t.get_text() for t in top.get_xticklabels()] == ["none", "focal"]
    assert spec.get_title() == "specificity at recall >= 0.9, validation"
    # one curve per remedy of the first seed, plus the chance line
    assert [line.get_label() for line in roc.get_lines()] == ["none", "focal", "chance"]
    assert len(pr.get_lines()) == 3
    plt.close(fig)
    lines = im.comparison_lines(study)
    assert lines[0] == "- No remedy: ROC-AUC 0.810 ± 0.010 over 3 seeds."
    assert lines[1].startswith("- focal shows no clear difference from no remedy")
    assert "specificity at recall 0.9 (" in lines[1]
