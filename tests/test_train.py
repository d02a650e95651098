"""Tests for cnnguide.train: pipeline, determinism, resume after a crash, a distribute
strategy, saving and loading. Tiny networks on a few hundred 28×28 phantoms, 1–3 epochs."""

import json
import types
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from cnnguide import files
import pytest

import keras  # noqa: E402

from cnnguide.data import Dataset, Split  # noqa: E402
from cnnguide.metrics import binary_metrics  # noqa: E402
from cnnguide.data.phantoms import make_phantoms  # noqa: E402
from cnnguide.models import build_small_cnn, predict_proba  # noqa: E402
from cnnguide.train import (  # noqa: E402
    TrainConfig,
    fit,
    step_order,
    evaluate_test,
    load,
    make_dataset,
    save,
    train,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(widths=(4, 8), dense_units=8, batch_size=32, patience=5)
CARD_KEYS = {
    "name",
    "created",
    "disclaimer",
    "data",
    "config",
    "seed",
    "training_seconds",
    "epochs_run",
    "threshold",
    "threshold_rule",
    "validation",
    "input_shape",
    "versions",
}


def _phantom_dataset(n_train=192, n_eval=64, size=28):
    splits = {}
    for seed, (name, n) in enumerate(
        [("train", n_train), ("val", n_eval), ("test", n_eval)]
    ):
        b = make_phantoms(n, size, seed=seed, pneumonia_fraction=0.6)
        splits[name] = Split(b.images, b.labels.astype(np.uint8))
    return Dataset(
        name="Synthetic chest phantoms",
        splits=splits,
        source="synthetic (test)",
        citation="none",
        is_real=False,
        image_size=size,
    )


@pytest.fixture(scope="module")
def data():
    return _phantom_dataset()


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return train(TrainConfig(epochs=2, seed=3, **TINY), data, out_dir=out, n_boot=50)


def test_pipeline_keeps_uint8_until_the_batch():
    images = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    ds = make_dataset(
        images, np.array([0, 1, 0, 1, 1]), batch_size=2, shuffle=True, seed=1
    )
    assert ds.element_spec[0].dtype.name == "float32"
    batches = [x.numpy() for x, _ in ds]
    got = np.concatenate(batches)[..., 0]
    assert [len(b) for b in batches] == [2, 2, 1]
    # Every image exactly once, scaled to [0, 1].
    assert sorted(map(tuple, (got * 255).round().reshape(5, -1))) == sorted(
        map(tuple, images.reshape(5, -1))
    )
    again = np.concatenate([x.numpy() for x, _ in ds])[..., 0]
    assert not np.array_equal(got, again)  # reshuffled each epoch


def test_train_writes_model_card_and_files(trained, data):
    card = trained.card
    assert CARD_KEYS <= set(card)
    assert card["data"]["split_sizes"] == {"train": 192, "val": 64, "test": 64}
    assert card["data"]["is_real"] is False
    assert card["config"]["epochs"] == 2 and card["seed"] == 3
    assert card["epochs_run"] == 2 and card["input_shape"] == [28, 28, 1]
    # the card's time covers every logged epoch (it is measured after the last one)
    assert card["training_seconds"] >= round(trained.history["elapsed"][-1], 2) - 0.01
    names = sorted(p.name for p in trained.out_dir.iterdir())
    assert {"model.keras", "model_card.json", "log.csv"} <= set(names)
    assert "backup" not in names  # a finished run removes its crash backup
    # The threshold was chosen on validation and keeps validation recall >= min_recall.
    y_val = data["val"].labels
    assert card["validation"]["recall"] >= card["config"]["min_recall"]
    assert card["validation"] == pytest.approx(
        binary_metrics(y_val, trained.scores["val"], card["threshold"]), nan_ok=True
    )
    # The test split is not looked at while training.
    assert "test" not in card and "test" not in trained.scores
    assert set(trained.history) >= {
        "epoch",
        "loss",
        "val_loss",
        "val_auc",
        "learning_rate",
    }


def test_evaluate_test_scores_the_test_split_once_and_saves_it(data, tmp_path):
    result = train(
        TrainConfig(epochs=1, seed=4, **TINY), data, out_dir=tmp_path, n_boot=50
    )
    assert "test" not in json.loads((tmp_path / "model_card.json").read_text())
    test = evaluate_test(result, data, n_boot=50)
    expected = binary_metrics(
        data["test"].labels, result.scores["test"], result.card["threshold"]
    )
    for key, value in expected.items():
        assert test[key] == pytest.approx(value, nan_ok=True)
    low, high = test["roc_auc_ci"]
    assert low <= test["roc_auc"] <= high
    saved = json.loads((tmp_path / "model_card.json").read_text())
    assert saved["test"]["roc_auc"] == pytest.approx(test["roc_auc"])
    model, card = load(tmp_path)  # the rewritten card still matches its model
    assert card["test"]["tp"] == test["tp"]
    with pytest.raises(ValueError, match="already scored"):
        evaluate_test(result, data)


def test_score_test_true_scores_it_in_the_same_call(data):
    result = train(
        TrainConfig(epochs=1, seed=4, **TINY), data, score_test=True, n_boot=50
    )
    assert len(result.scores["test"]) == len(data["test"])
    assert result.card["test"]["roc_auc"] == pytest.approx(
        binary_metrics(data["test"].labels, result.scores["test"])["roc_auc"]
    )


def test_same_seed_same_metrics(trained, data):
    again = train(TrainConfig(epochs=2, seed=3, **TINY), data, n_boot=50)
    assert again.out_dir is None
    assert np.array_equal(again.scores["val"], trained.scores["val"])
    assert again.card["validation"] == trained.card["validation"]
    assert again.history["val_loss"] == trained.history["val_loss"]


def test_save_load_round_trip(trained, data, tmp_path):
    folder = save(trained.model, trained.card, tmp_path / "copy")
    model, card = load(folder)
    # the card names the model file it was saved with, byte for byte
    assert card.pop("model_sha256") == files.sha256_of(folder / "model.keras")
    expected = json.loads(json.dumps(trained.card))
    expected.pop("model_sha256", None)
    assert card == expected
    images = data["test"].images[:16]
    assert np.allclose(
        predict_proba(model, images), predict_proba(trained.model, images), atol=1e-6
    )
    model2, _ = load(folder / "model.keras")
    assert model2.get_layer("last_conv").filters == 8


def test_load_missing_or_corrupt_model_is_clear(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="no model at"):
        load(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.keras").write_bytes(b"not a zip archive")
    (broken / "model_card.json").write_text("{}")
    with pytest.raises(ValueError, match="corrupt"):
        load(broken)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    raw = (trained.out_dir / "model.keras").read_bytes()
    (truncated / "model.keras").write_bytes(raw[: len(raw) // 2])
    (truncated / "model_card.json").write_text("{}")
    with pytest.raises(ValueError, match="corrupt"):
        load(truncated)
    no_card = tmp_path / "no_card"
    no_card.mkdir()
    (no_card / "model.keras").write_bytes(raw)
    with pytest.raises(FileNotFoundError, match="model card"):
        load(no_card)


def test_predict_proba_checks_shape(trained):
    p = predict_proba(trained.model, np.zeros((2, 28, 28, 1), np.float32))
    assert p.shape == (2,) and p.dtype == np.float32
    with pytest.raises(ValueError, match="expects images shaped"):
        predict_proba(trained.model, np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predict_proba(trained.model, np.full((1, 28, 28), 200.0))


class _Crash(keras.callbacks.Callback):
    """Simulates a killed run: raises at the end of epoch `after` (0-based)."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after:
            raise RuntimeError("simulated crash")


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_crashed_run_resumes_where_it_stopped(data, tmp_path):
    config = TrainConfig(epochs=4, seed=1, **TINY)
    first = _Epochs()
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(
            config,
            data,
            out_dir=tmp_path,
            callbacks=[first, _Crash(after=1)],
            n_boot=20,
        )
    assert first.seen == [0, 1]
    assert (tmp_path / "backup").is_dir() and not (tmp_path / "model.keras").exists()
    second = _Epochs()
    result = train(config, data, out_dir=tmp_path, callbacks=[second], n_boot=20)
    assert second.seen == [2, 3]  # resumed at epoch 3 of 4 (0-based 2), not from 0
    assert result.card["resumed_after_epoch"] == 2
    assert result.history["epoch"] == [0, 1, 2, 3]
    assert result.card["epochs_run"] == 4
    assert (tmp_path / "model.keras").is_file() and not (tmp_path / "backup").exists()


def test_config_from_dict_and_file(tmp_path):
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ValueError, match="model"):
        TrainConfig(model="resnet")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(TrainConfig(epochs=7, widths=(8, 16)).to_dict()))
    assert TrainConfig.from_file(path) == TrainConfig(epochs=7, widths=(8, 16))
    yml = tmp_path / "c.yaml"
    yml.write_text("epochs: 5\nseed: 2\n")
    assert TrainConfig.from_file(yml).seed == 2
    with pytest.raises(FileNotFoundError):
        TrainConfig.from_file(tmp_path / "missing.json")


def test_config_augmentation_reaches_the_model():
    from cnnguide.train import _build_model

    def augmentation_layers(**overrides):
        model = _build_model(TrainConfig(**TINY, **overrides), (28, 28, 1))
        return {
            type(layer).__name__: layer
            for layer in model.get_layer("augmentation").layers
        }

    layers = augmentation_layers(contrast=0.3, brightness=0.15)
    assert layers["RandomContrast"].factor == (0.3, 0.3)  # both ways: lower and raise
    assert "RandomBrightness" in layers
    assert "RandomBrightness" not in augmentation_layers()  # off by default
    with pytest.raises(ValueError, match="augmentation"):
        _build_model(TrainConfig(**TINY, augment=False), (28, 28, 1)).get_layer(
            "augmentation"
        )


DISTRIBUTED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    sys.path.insert(0, sys.argv[1])
    from tests.test_train import TINY, _phantom_dataset
    from cnnguide.train import TrainConfig, train
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = train(TrainConfig(epochs=2, seed=0, **TINY), _phantom_dataset(96, 32),
                   strategy=strategy, n_boot=20, score_test=True)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "epochs": result.card["epochs_run"],
                      "auc": result.card["test"]["roc_auc"],
                      "n_scores": len(result.scores["test"])}))
    """
)


def test_distribute_strategy_with_two_logical_cpus():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", DISTRIBUTED, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["epochs"] == 2 and report["n_scores"] == 32
    assert 0.0 <= report["auc"] <= 1.0


# ---------------------------------------------------------------- fit (short experiments)
def _toy_split(n):
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    return types.SimpleNamespace(images=images, labels=np.arange(n) % 2)


def test_step_order_covers_every_image_once_per_pass():
    order = step_order(7, steps=5, batch_size=3, seed=1)
    assert order.shape == (15,)
    assert sorted(order[:7].tolist()) == list(range(7))
    assert sorted(order[7:14].tolist()) == list(range(7))
    with pytest.raises(ValueError, match="steps"):
        step_order(7, steps=0, batch_size=3)


def test_fit_with_steps_takes_that_many_optimiser_steps_whatever_the_set_size():
    small, large = _toy_split(40), _toy_split(400)
    counts = []
    for data in (small, large):
        model = build_small_cnn((28, 28, 1), seed=0)
        fit(model, data.images, data.labels, steps=7, batch_size=16)
        counts.append(int(model.optimizer.iterations.numpy()))
    assert counts == [7, 7]


def test_fit_records_metrics_and_validation_per_epoch():
    data, val = _toy_split(48), _toy_split(16)
    model = build_small_cnn((28, 28, 1), seed=0)
    out = fit(
        model,
        data.images,
        data.labels,
        epochs=2,
        metrics=["accuracy"],
        validation=(val.images, val.labels),
    )
    assert sorted(out["history"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 2 for v in out["history"].values()) and out["seconds"] > 0


# --------------------------------------------------------------- model-selection options
def test_mixup_blends_images_labels_and_class_weights_reproducibly():
    images = np.stack([np.full((4, 4), v, np.uint8) for v in (0, 255) * 4])
    labels = np.array([0, 1] * 4)
    weights = {0: 2.0, 1: 0.5}

    def first_batch():
        ds = make_dataset(
            images, labels, batch_size=8, mixup=0.4, class_weight=weights, seed=3
        )
        return [t.numpy() for t in next(iter(ds))]

    x, y, w = first_batch()
    # an image of value v/255 has label v/255 and weight 2 - 1.5 (v/255): blended
    # alike, every image still lies on that line
    np.testing.assert_allclose(x[:, 0, 0, 0], y[:, 0], atol=1e-6)
    np.testing.assert_allclose(w, 2.0 - 1.5 * y[:, 0], atol=1e-5)
    assert ((y > 0) & (y < 1)).any()  # soft labels: something was mixed
    for a, b in zip(first_batch(), (x, y, w)):
        np.testing.assert_array_equal(a, b)  # the same blend on every run


def test_config_options_reach_the_network():
    from cnnguide.train import _build_model

    model = _build_model(
        TrainConfig(**TINY, noise=0.04, upsample=2, pool_first=False, residual=True),
        (28, 28, 1),
    )
    names = [layer.name for layer in model.layers]
    assert "upsample" in names and any(n.endswith("_add") for n in names)
    assert "block1_pool" not in names
    augmentation = [type(x).__name__ for x in model.get_layer("augmentation").layers]
    assert "GaussianNoise" in augmentation
    with pytest.raises(ValueError, match="mixup"):
        TrainConfig(mixup=-0.1)


def test_a_run_with_every_option_on_trains_and_scores(data):
    config = TrainConfig(
        epochs=1,
        seed=2,
        **TINY,
        noise=0.04,
        upsample=2,
        pool_first=False,
        residual=True,
        mixup=0.2,
    )
    result = train(config, data, n_boot=20)
    assert result.card["config"]["mixup"] == 0.2
    assert np.isfinite(result.card["validation"]["roc_auc"])
