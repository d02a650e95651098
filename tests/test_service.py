import numpy as np
import pytest

import cnnguide
from cnnguide.deploy import service
from cnnguide.data import ImageError, load_image

from tiny_models import png_bytes, save_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model"), threshold=0.4)


@pytest.fixture(scope="module")
def predictor(model_dir):
    return service.load_predictor(model_dir)


@pytest.fixture(scope="module")
def xray():
    """A radiograph-like greyscale image: bright ribs, dark lungs (a phantom)."""
    from cnnguide.data.phantoms import make_phantom

    return png_bytes(make_phantom(64, seed=3, subtype="lobar").images[0])


def test_predictor_reads_card(predictor, model_dir):
    assert predictor.size == 28
    assert predictor.threshold == 0.4
    assert predictor.name == "tiny_cnn"
    assert predictor.model_file == model_dir / "model.keras"
    assert predictor.version.startswith("tiny_cnn-2026-01-01-")
    assert len(predictor.version.rsplit("-", 1)[1]) == 12


def test_predict_bytes_matches_direct_prediction(predictor, xray):
    from cnnguide.models import predict_proba

    result = predictor.predict_bytes(xray, "chest.png")
    expected = float(predict_proba(predictor.model, load_image(xray, size=28)[None])[0])
    assert result["probability"] == pytest.approx(expected, abs=1e-6)
    assert 0.0 <= result["probability"] <= 1.0
    assert result["threshold"] == 0.4 and result["threshold_source"] == "model card"
    assert result["label"] == ("pneumonia" if expected >= 0.4 else "normal")
    assert result["model_version"] == predictor.version
    assert result["disclaimer"] == cnnguide.DISCLAIMER
    assert result["image_size"] == 28


def test_batch_scores_match_one_image_predictions(predictor):
    """The CLI's evaluate scores a split through the service: same numbers."""
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    batch = predictor.scores(images)
    assert batch.shape == (5,) and batch.dtype == np.float32
    one = [predictor.predict(image)["probability"] for image in images]
    np.testing.assert_allclose(batch, one, atol=1e-6)
    with pytest.raises(ValueError, match="28x28"):
        predictor.scores(np.zeros((2, 32, 32), np.uint8))


def test_threshold_override_moves_the_label(predictor, xray):
    image = predictor.prepare(xray)
    p = predictor.predict(image)["probability"]
    assert predictor.predict(image, 0.0)["label"] == "pneumonia"
    assert predictor.predict(image, min(1.0, p + 0.01))["label"] == "normal"
    # The reported probability is rounded to 6 decimals; the label uses the exact one.
    low = predictor.predict(image, p - 1e-6)
    assert low["label"] == "pneumonia" and low["threshold_source"] == "user"
    with pytest.raises(ValueError, match="threshold"):
        predictor.predict(image, 1.5)


def test_prepare_gives_model_input(predictor, xray):
    image = predictor.prepare(xray, "chest.png")
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    with pytest.raises(ValueError, match="28x28"):
        predictor.predict(np.zeros((32, 32), np.float32))


def test_explain_gives_heat_map(predictor, xray):
    heat = predictor.explain(predictor.prepare(xray))
    assert heat.shape == (28, 28)
    assert 0.0 <= heat.min() and heat.max() <= 1.0


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "empty"),
        (b"this is a text file, not an image", "not a PNG or JPEG"),
        (png_bytes((40, 40), (200, 30, 30), mode="RGB"), "colour photograph"),
        (png_bytes((40, 40))[:60], "corrupt or truncated|not a PNG"),
    ],
    ids=["empty", "text", "colour", "truncated"],
)
def test_bad_uploads_raise_clear_errors(predictor, data, match):
    with pytest.raises(ImageError, match=match) as info:
        predictor.prepare(data, "upload.png")
    if data:
        assert "upload.png" in str(info.value)


def test_huge_image_is_refused_before_decoding(predictor):
    huge = png_bytes((8000, 7000))  # 56 million pixels, a few kB compressed
    with pytest.raises(ImageError, match="pixels"):
        predictor.prepare(huge, "huge.png")


def test_upload_size_limit(predictor, xray):
    with pytest.raises(ImageError, match="limit"):
        predictor.prepare(xray, "big.png", max_bytes=len(xray) - 1)
    assert predictor.prepare(xray, "ok.png", max_bytes=len(xray)).shape == (28, 28)


def test_dicom_without_pydicom_says_how(predictor, monkeypatch):
    import builtins
    import sys

    real_import = builtins.__import__

    def no_pydicom(name, *args, **kwargs):
        if name == "pydicom":
            raise ImportError("no pydicom")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pydicom", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pydicom)
    fake = b"\0" * 128 + b"DICM" + b"\0" * 64
    with pytest.raises(ImageError, match="pydicom"):
        predictor.prepare(fake, "scan.dcm")


def test_no_model_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNGUIDE_MODEL", raising=False)
    with pytest.raises(service.NoModelError, match="cnnguide train") as info:
        service.load_predictor(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(info.value)
    monkeypatch.chdir(tmp_path)  # the default ./cnnguide-model is absent too
    with pytest.raises(service.NoModelError, match="cnnguide-model"):
        service.find_model()


def test_model_without_card_is_no_model(tmp_path, model_dir):
    (tmp_path / "model.keras").write_bytes((model_dir / "model.keras").read_bytes())
    with pytest.raises(service.NoModelError, match="model card"):
        service.load_predictor(tmp_path)


def test_environment_variable_names_the_model(model_dir, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_MODEL", str(model_dir))
    assert service.find_model() == model_dir / "model.keras"
    assert service.find_model(model_dir / "model.keras") == model_dir / "model.keras"


def test_version_changes_with_the_weights(tmp_path, predictor):
    other = service.load_predictor(save_tiny_model(tmp_path / "other", seed=1))
    assert other.version != predictor.version
    assert other.version.startswith("tiny_cnn-2026-01-01-")


def test_predictions_and_heat_maps_from_many_threads_match_one_at_a_time(predictor):
    """Threads predicting while others run Grad-CAM get exactly the one-at-a-time answers:
    Grad-CAM's wrapped layer never sees another request's tensors."""
    from concurrent.futures import ThreadPoolExecutor

    from cnnguide.explain import grad_cam

    rng = np.random.default_rng(11)
    images = rng.random((24, 28, 28), dtype=np.float32)
    expected_p = [predictor.predict(x)["probability"] for x in images]
    expected_heat = [grad_cam(predictor.model, x) for x in images[:8]]

    def heat(i):
        return predictor.explain(images[i])

    with ThreadPoolExecutor(8) as pool:
        heats = [pool.submit(heat, i) for i in range(8)]
        answers = list(pool.map(predictor.predict, images))
    probabilities = [answer["probability"] for answer in answers]
    np.testing.assert_allclose(probabilities, expected_p, atol=2e-6)
    for got, want in zip(heats, expected_heat):
        np.testing.assert_allclose(got.result(), want, atol=1e-5)
