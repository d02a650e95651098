"""The Streamlit page, driven by AppTest; one real server clicked through in Chromium;
and ``cnnguide app`` stopping on one SIGTERM."""

import io
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import cnnguide
import cnnguide.deploy.app as app_module
from cnnguide.deploy import service
from cnnguide import cli
from servers import free_port, stop_process, wait_for
from tiny_models import dicom_bytes, png_bytes, save_tiny_model

# Keras's model.save calls np.array on TF tensors, which NumPy 2 flags (upstream issue).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

APP = str(Path(app_module.__file__).resolve())
TIMEOUT = 180  # seconds per script run: TensorFlow is slow to start on a busy CI box

#: A card threshold that is not on the slider's 0.01 grid: 0.2895 rounds to 0.29.
CARD_THRESHOLD = 0.2895
#: Two grey levels whose scores fall just below and just above CARD_THRESHOLD.
BELOW, ABOVE = 100, 101
_DELTA = 0.0002


def _logit(p):
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model"), threshold=0.35)


@pytest.fixture(scope="module")
def edge_model_dir(tmp_path_factory):
    """p = sigmoid(w * mean(x) + b), tuned so grey levels BELOW and ABOVE score
    CARD_THRESHOLD - 0.0002 and CARD_THRESHOLD + 0.0002; its card has validation and
    test figures with intervals, on (claimed) real PneumoniaMNIST."""
    import keras

    from cnnguide.train import save

    w = (_logit(CARD_THRESHOLD + _DELTA) - _logit(CARD_THRESHOLD - _DELTA)) * 255
    b = _logit(CARD_THRESHOLD - _DELTA) - w * BELOW / 255
    inputs = keras.Input((28, 28, 1))
    conv = keras.layers.Conv2D(1, 1, use_bias=False, name="last_conv")
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(
        inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs))), name="edge"
    )
    conv.set_weights([np.ones((1, 1, 1, 1), np.float32)])
    dense.set_weights([np.array([[w]], np.float32), np.array([b], np.float32)])
    figures = {"roc_auc": 0.951234, "recall": 0.96789, "specificity": 0.7012}
    card = {
        "name": "edge",
        "created": "2026-01-01T00:00:00",
        "disclaimer": cnnguide.DISCLAIMER,
        "threshold": CARD_THRESHOLD,
        "threshold_rule": "highest threshold keeping validation recall >= 0.95",
        "input_shape": [28, 28, 1],
        "epochs_run": 7,
        "data": {
            "name": "PneumoniaMNIST",
            "source": "test fixture",
            "citation": "",
            "is_real": True,
            "image_size": 28,
            "split_sizes": {"train": 4708, "val": 524, "test": 624},
        },
        "validation": {"roc_auc": 0.97312, "recall": 0.95012, "specificity": 0.8},
        "test": {
            **figures,
            "roc_auc_ci": [0.934567, 0.966123],
            "recall_ci": [0.95, 0.98],
            "specificity_ci": [0.64, 0.76],
        },
    }
    return save(model, card, tmp_path_factory.mktemp("edge"))


def _grey(value, shape=(28, 28)):
    return png_bytes(np.full(shape, value, np.uint8))


@pytest.fixture
def page(model_dir, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_MODEL", str(model_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def edge_page(edge_model_dir, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_MODEL", str(edge_model_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements):
    return " ".join(str(e.value) for e in elements)


def upload(at, name, data, mime="image/png"):
    at.file_uploader(key="upload").set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def test_page_shows_disclaimer_card_and_threshold(page):
    assert cnnguide.DISCLAIMER in texts(page.warning)
    slider = page.slider(key="threshold")
    assert slider.value == pytest.approx(0.35)
    card = page.table[0].value
    assert list(card.columns) == ["field", "value"]
    fields = dict(zip(card["field"], card["value"]))
    assert (
        fields["model"] == "tiny_cnn"
        and fields["threshold (from the card)"] == "0.3500"
    )
    assert "Upload an image" in texts(page.info)
    assert "synthetic chest phantoms" in texts(page.caption)  # what it was trained on


def test_slider_starts_at_exactly_the_card_threshold(edge_page):
    assert edge_page.slider(key="threshold").value == CARD_THRESHOLD
    assert "Model card threshold: 0.2895" in texts(edge_page.caption)


def test_card_is_a_readable_table_with_intervals(edge_page):
    fields = dict(
        zip(edge_page.table[0].value["field"], edge_page.table[0].value["value"])
    )
    assert fields["trained on"] == "PneumoniaMNIST" and fields["real X-rays"] == "yes"
    assert fields["images (train / val / test)"] == "4708 / 524 / 624"
    assert fields["input"] == "28 × 28 greyscale"
    figures = edge_page.table[1].value.set_index("metric")
    assert figures.loc["ROC-AUC", "validation"] == "0.973"
    assert figures.loc["ROC-AUC", "test (95% interval)"] == "0.951 (0.935–0.966)"
    assert figures.loc["recall (sensitivity)", "test (95% interval)"].startswith(
        "0.968 ("
    )
    assert not any(
        len(v) > 20 for v in figures.to_numpy().ravel()
    )  # no 16-digit floats


def test_app_and_cli_agree_on_both_sides_of_the_card_threshold(
    edge_page, edge_model_dir, tmp_path, capsys
):
    files = []
    for value in (BELOW, ABOVE):
        files.append(tmp_path / f"grey{value}.png")
        files[-1].write_bytes(_grey(value))
    assert cli.main(["predict", str(edge_model_dir), *map(str, files), "--json"]) == 0
    from_cli = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["label"] for p in from_cli] == ["normal", "pneumonia"]
    for file, expected in zip(files, from_cli):
        upload(edge_page, file.name, file.read_bytes())
        result = edge_page.session_state["last_result"]
        assert result["probability"] == pytest.approx(expected["probability"], abs=1e-6)
        assert result["label"] == expected["label"]
        assert result["threshold"] == CARD_THRESHOLD
        assert f"Label: {expected['label']}" in texts(edge_page.markdown)
        assert "You moved the threshold" not in texts(edge_page.caption)


def test_moving_the_slider_changes_the_label(edge_page):
    upload(edge_page, "grey.png", _grey(ABOVE))
    assert edge_page.session_state["last_result"]["label"] == "pneumonia"
    edge_page.slider(key="threshold").set_value(0.5).run()
    assert edge_page.session_state["last_result"]["label"] == "normal"
    assert edge_page.session_state["last_result"]["threshold"] == 0.5
    assert "You moved the threshold from the card's 0.2895" in texts(edge_page.caption)
    edge_page.slider(key="threshold").set_value(0.0).run()
    assert "Label: pneumonia" in texts(edge_page.markdown)


def test_every_prediction_says_what_the_model_was_trained_on(edge_page):
    upload(edge_page, "grey.png", _grey(BELOW))
    notice = texts(edge_page.info)
    assert "paediatric" in notice and "frontal" in notice and "Guangzhou" in notice
    assert "28 × 28" in notice and "one centre" in notice
    assert cnnguide.DISCLAIMER in texts(edge_page.caption)
    edge_page.radio(key="source").set_value("Pick a sample").run()
    assert not edge_page.exception
    assert "Guangzhou" in texts(edge_page.info)


def test_a_phantom_model_says_so_with_its_prediction(page):
    upload(page, "chest.png", png_bytes())
    assert "synthetic chest phantoms" in texts(page.info)
    assert "not X-rays" in texts(page.info)


def _tinted(shape=(300, 300)):
    rgb = np.zeros((*shape, 3), np.uint8)
    rgb[...] = (150, 140, 125)  # a sepia cast: passes as greyscale-ish, but is colour
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, data, match",
    [
        ("tinted.png", _tinted(), "has colour"),
        ("wide.png", png_bytes((900, 300)), "far from square"),
        ("thumb.png", png_bytes((40, 40)), "only 40 × 40 pixels"),
    ],
    ids=["colour", "aspect", "small"],
)
def test_uploads_unlike_the_training_images_get_a_warning(edge_page, name, data, match):
    upload(edge_page, name, data)
    assert not edge_page.error  # still predicted
    assert "last_result" in edge_page.session_state
    warnings = [
        w for w in edge_page.warning if "Unlike the training images" in str(w.value)
    ]
    assert len(warnings) == 1 and match in str(warnings[0].value)


def test_an_ordinary_upload_gets_no_warning(edge_page):
    upload(edge_page, "film.png", png_bytes((512, 480)))
    assert not [w for w in edge_page.warning if "Unlike" in str(w.value)]


def test_dicom_lateral_and_adult_are_flagged():
    upload = dicom_bytes(ViewPosition="LL", PatientAge="045Y")
    found = service.upload_warnings(upload, "x.dcm", 28)
    assert any("lateral" in w for w in found) and any("aged 45" in w for w in found)


def test_sample_and_slider(page):
    page.radio(key="source").set_value("Pick a sample").run()
    assert not page.exception, page.exception
    assert len(page.selectbox(key="sample").options) >= 2
    result = page.session_state["last_result"]
    assert result["threshold"] == pytest.approx(0.35)
    assert page.metric[0].value == f"{result['probability']:.3f}"
    expected = "pneumonia" if result["probability"] >= 0.35 else "normal"
    assert f"Label: {expected}" in texts(page.markdown)

    page.slider(key="threshold").set_value(0.0).run()
    assert "Label: pneumonia" in texts(page.markdown)
    assert "You moved the threshold" in texts(page.caption)
    page.slider(key="threshold").set_value(1.0).run()
    p = page.session_state["last_result"]["probability"]
    assert f"Label: {'pneumonia' if p >= 1.0 else 'normal'}" in texts(page.markdown)

    second = page.selectbox(key="sample").options[1]
    page.selectbox(key="sample").set_value(second).run()
    assert not page.exception, page.exception
    assert "last_result" in page.session_state


def test_upload_good_image(page):
    upload(page, "chest.png", png_bytes())
    assert not page.error
    result = page.session_state["last_result"]
    assert 0.0 <= result["probability"] <= 1.0
    assert result["model_version"].startswith("tiny_cnn-")
    assert page.metric[0].label == "Probability of pneumonia"
    assert "Grad-CAM" in texts(page.subheader)


@pytest.mark.parametrize(
    "name, data, match",
    [
        ("notes.png", b"not an image at all", "not a PNG or JPEG"),
        ("empty.png", b"", "empty"),
        ("photo.jpg", None, "colour photograph"),
        ("huge.png", png_bytes((8000, 7000)), "pixels"),
    ],
    ids=["not-image", "empty", "colour", "huge"],
)
def test_bad_upload_gets_a_message(page, name, data, match):
    if data is None:
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (220, 40, 40)).save(buf, "JPEG")
        data = buf.getvalue()
    upload(page, name, data)
    message = texts(page.error)
    assert "Cannot use this file" in message and match in message
    assert not page.metric


def test_no_model_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_MODEL", str(tmp_path / "no-model-here"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert "No trained model yet." in texts(at.error)
    assert "cnnguide train" in texts(at.info)
    assert cnnguide.DISCLAIMER in texts(at.warning)
    assert not at.slider


def test_display_image_keeps_pixels():
    small = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    big = app_module.display_image(small, side=8)
    assert big.shape == (8, 8) and big.dtype == np.uint8
    assert big[0, 0] == 0 and big[0, 7] == 255 and big[7, 0] == 128


def test_command_line():
    cmd = app_module.command("some/model", port=8765)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == APP
    assert "8765" in cmd and "127.0.0.1" in cmd
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "minimal"  # no Deploy button
    assert cmd[-2:] == ["--model", "some/model"]


# --------------------------------------------------------------------------------------
# A real server: one SIGTERM stops it; and the page clicked through in Chromium


def _start_app(model_dir, tmp_path, *, how="cli"):
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = dict(
        os.environ,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_ENABLE_ONEDNN_OPTS="0",
    )
    if how == "cli":  # the process becomes the server (exec)
        cmd = [sys.executable, "-m", "cnnguide", "app", str(model_dir)]
        cmd += ["--port", str(port)]
    else:  # run() from Python: Streamlit is a child, signals are forwarded
        code = (
            f"from cnnguide.deploy.app import run; run({str(model_dir)!r}, port={port})"
        )
        cmd = [sys.executable, "-c", code]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, port, log


def _wait_healthy(proc, port, log):
    import httpx

    url = f"http://127.0.0.1:{port}/_stcore/health"
    wait_for(
        "streamlit",
        lambda: httpx.get(url, timeout=2).status_code == 200,
        120,
        proc,
        log,
    )


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGTERM is a POSIX signal")
@pytest.mark.parametrize("how", ["cli", "run"])
def test_the_app_stops_on_one_sigterm(model_dir, tmp_path, how):
    proc, port, log = _start_app(model_dir, tmp_path, how=how)
    try:
        _wait_healthy(proc, port, log)
        proc.send_signal(signal.SIGTERM)  # to `cnnguide app`, as `kill` or systemd do
        proc.wait(timeout=30)
        wait_for("port freed", lambda: _port_is_free(port), 10, log=log)
    finally:
        stop_process(proc)


def _wait_text(pg, needles, timeout_ms=120_000) -> str:
    """Wait until the page's text holds every needle at once; return that text."""
    pg.wait_for_function(
        "needles => needles.every(n => document.body.innerText.includes(n))",
        arg=needles,
        timeout=timeout_ms,
    )
    return pg.inner_text("body")


@pytest.mark.slow
def test_end_to_end_upload_in_chromium(edge_model_dir, tmp_path, chromium):
    from browser import chromium_page

    xray = tmp_path / "grey101.png"
    xray.write_bytes(_grey(ABOVE, shape=(256, 256)))
    wide = tmp_path / "wide.png"
    wide.write_bytes(png_bytes((900, 300)))
    proc, port, log = _start_app(edge_model_dir, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, port, log)
        with chromium_page(
            allow=[base + "/"], viewport={"width": 1400, "height": 1100}
        ) as pg:
            pg.goto(base, timeout=120_000)
            pg.wait_for_selector("input[type=file]", state="attached", timeout=120_000)
            body = pg.inner_text("body")
            assert "not a diagnostic device" in body
            assert "0.2895" in body  # the slider and the card show the card's value
            assert "0.951 (0.935–0.966)" in body  # the card's test figure, in a table
            # the toolbar's Deploy button is gone (toolbarMode=minimal)
            assert pg.get_by_role("button", name="Deploy").count() == 0
            assert pg.locator("[data-testid=stAppDeployButton]").count() == 0

            pg.set_input_files("input[type=file]", str(xray))
            needles = ["Label: pneumonia", "Probability of pneumonia", "grey101.png"]
            needles += ["Guangzhou", "paediatric", "Where the last convolution"]
            body = _wait_text(pg, needles)  # the prediction, with the notice
            assert "You moved the threshold" not in body
            pg.wait_for_timeout(1000)  # let the Grad-CAM image paint
            shot = tmp_path / "app_upload.png"
            pg.screenshot(path=str(shot), full_page=True)
            if os.environ.get("CNNGUIDE_APP_SCREENSHOT"):
                pg.screenshot(
                    path=os.environ["CNNGUIDE_APP_SCREENSHOT"], full_page=True
                )
            with Image.open(shot) as im:
                assert im.size[0] >= 800 and im.size[1] >= 600
                assert np.asarray(im.convert("L")).std() > 5  # not a blank page

            pg.set_input_files("input[type=file]", str(wide))
            _wait_text(pg, ["Unlike the training images", "far from square"])
            assert pg.errors == [], pg.errors
    finally:
        stop_process(proc)
