"""TFLite export (float32, float16, int8) and the Keras-versus-TFLite comparison."""

import numpy as np
import pytest

from cnnguide.deploy import edge


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(
                32, 3, padding="same", activation="relu", name="last_conv"
            ),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


@pytest.fixture(scope="module")
def data():
    from cnnguide.data.phantoms import make_phantoms

    train = make_phantoms(60, size=28, seed=1)
    test = make_phantoms(40, size=28, seed=2)
    return train.images, test.images, test.labels


@pytest.fixture(scope="module")
def exported(model, data, tmp_path_factory):
    train_images, _, _ = data
    rep = edge.representative_images(train_images, n=50)
    return edge.export_tflite(model, tmp_path_factory.mktemp("tflite"), rep)


def test_export_writes_three_variants(exported):
    assert set(exported) == {"float32", "float16", "int8"}
    sizes = {k: p.stat().st_size for k, p in exported.items()}
    assert all(p.suffix == ".tflite" for p in exported.values())
    assert sizes["float16"] < sizes["float32"]
    assert sizes["int8"] < sizes["float16"]


def test_float_variants_match_keras(model, exported, data):
    _, images, _ = data
    x = images.astype(np.float32)[..., None] / 255.0
    keras_p = model(x, training=False).numpy().ravel()
    p32 = edge.TFLiteClassifier(exported["float32"]).predict_proba(images)
    p16 = edge.TFLiteClassifier(exported["float16"]).predict_proba(images)
    assert p32.shape == (40,) and p32.dtype == np.float32
    np.testing.assert_allclose(p32, keras_p, atol=1e-5)
    np.testing.assert_allclose(p16, keras_p, atol=1e-2)


def test_runs_on_litert_not_the_deprecated_tf_lite(exported):
    # ai-edge-litert is a dependency wherever TensorFlow has wheels
    from ai_edge_litert.interpreter import Interpreter

    lite = edge.TFLiteClassifier(exported["float32"])
    assert isinstance(lite._interpreter, Interpreter)


def test_int8_is_fully_integer_and_close(model, exported, data):
    _, images, _ = data
    lite = edge.TFLiteClassifier(exported["int8"])
    assert lite.input_dtype == np.int8
    keras_p = (
        model(images.astype(np.float32)[..., None] / 255.0, training=False)
        .numpy()
        .ravel()
    )
    p8 = lite.predict_proba(images)
    assert np.all((0.0 <= p8) & (p8 <= 1.0))
    assert np.max(np.abs(p8 - keras_p)) < 0.05  # calibration keeps int8 near float
    # uint8 and float [0, 1] inputs are the same images
    np.testing.assert_allclose(
        p8, lite.predict_proba(images.astype(np.float32) / 255.0)
    )


def test_compare_rows(model, exported, data):
    _, images, labels = data
    rows = edge.compare(model, exported, images, labels, n_timing=5)
    assert [r["format"] for r in rows] == [
        "Keras (.keras)",
        "TFLite float32",
        "TFLite float16",
        "TFLite int8",
    ]
    for r in rows:
        assert r["size_kb"] > 0 and r["latency_ms"] > 0 and 0.0 <= r["roc_auc"] <= 1.0
    assert rows[0]["max_abs_diff"] == 0.0
    assert rows[1]["roc_auc"] == pytest.approx(rows[0]["roc_auc"], abs=1e-6)
    assert rows[3]["max_abs_diff"] < 0.05
    table = edge.format_table(rows)
    assert len(table.splitlines()) == 5 and "TFLite int8" in table


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="representative"):
        edge.convert(model, "int8")
    with pytest.raises(ValueError, match="variant"):
        edge.convert(model, "int4")
    with pytest.raises(FileNotFoundError, match="export_tflite"):
        edge.TFLiteClassifier(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="empty"):
        edge.representative_images(np.zeros((0, 28, 28), np.uint8))


def test_wrong_image_shape(exported):
    with pytest.raises(ValueError, match="shaped"):
        edge.TFLiteClassifier(exported["float32"]).predict_proba(
            np.zeros((2, 32, 32), np.uint8)
        )
