"""The Streamlit page, driven by AppTest; and one real server clicked through in Chromium."""

import io
import os

import numpy as np
import pytest
from PIL import Image

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import cnnguide

pytest.importorskip(
    "streamlit", reason="the app needs streamlit (pip install streamlit)"
)
from streamlit.testing.v1 import AppTest  # noqa: E402

import cnnguide.deploy.app as app_module  # noqa: E402

APP = str(Path(app_module.__file__).resolve())
TIMEOUT = (
    180  # seconds per script run: TensorFlow is slow to start on a busy 2-core CI box
)

from servers import free_port, stop_process, wait_for  # noqa: E402
from tiny_models import png_bytes, save_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model"), threshold=0.35)


@pytest.fixture
def page(model_dir, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_MODEL", str(model_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements):
    return " ".join(str(e.value) for e in elements)


def test_page_shows_disclaimer_card_and_threshold(page):
    assert cnnguide.DISCLAIMER in texts(page.warning)
    slider = page.slider(key="threshold")
    assert slider.value == pytest.approx(0.35)
    assert "tiny_cnn" in texts(page.json)
    assert "Upload an image" in texts(page.info)


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
    page.file_uploader(key="upload").set_value(
        ("chest.png", png_bytes(), "image/png")
    ).run()
    assert not page.exception, page.exception
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
    page.file_uploader(key="upload").set_value((name, data, "image/png")).run()
    assert not page.exception, page.exception
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
    assert cmd[-2:] == ["--model", "some/model"]


# --------------------------------------------------------------------------------------
# End to end: a real Streamlit server and headless Chromium over the DevTools protocol

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs."""

    def __init__(self, ws_url):
        from websockets.sync.client import connect

        # Entered like a context manager (websockets >= 15 warns otherwise), left in close().
        self._connection = connect(ws_url, max_size=2**26, open_timeout=30)
        self.ws = self._connection.__enter__()
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def close(self):
        self._connection.__exit__(None, None, None)


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Debian's chromium package "
    "(apt-get install chromium) for the end-to-end browser test",
)
def test_end_to_end_upload_in_chromium(model_dir, tmp_path):
    import httpx

    pytest.importorskip("websockets", reason="the DevTools client needs websockets")
    port = free_port()
    server_log = tmp_path / "streamlit.log"
    browser_log = tmp_path / "chromium.log"
    profile = tmp_path / "chromium-profile"
    xray = tmp_path / "chest.png"
    from cnnguide.data.phantoms import make_phantom

    Image.fromarray(make_phantom(128, seed=5, subtype="lobar").images[0]).save(xray)
    env = dict(
        os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost"
    )
    server = browser = devtools = None
    try:
        with open(server_log, "wb") as out:
            server = subprocess.Popen(
                app_module.command(model_dir, port=port),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        base = f"http://127.0.0.1:{port}"
        wait_for(
            "streamlit",
            lambda: httpx.get(base + "/_stcore/health", timeout=2).status_code == 200,
            120,
            server,
            server_log,
        )

        with open(browser_log, "wb") as out:
            browser = subprocess.Popen(
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    f"--user-data-dir={profile}",
                    "--remote-debugging-port=0",
                    "--window-size=1400,1000",
                    "about:blank",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        active = profile / "DevToolsActivePort"
        cdp_port = wait_for(
            "chromium", lambda: active.read_text().split()[0], 60, browser, browser_log
        )
        targets = wait_for(
            "chromium targets",
            lambda: [
                t
                for t in httpx.get(
                    f"http://127.0.0.1:{cdp_port}/json/list", timeout=2
                ).json()
                if t["type"] == "page"
            ],
            30,
            browser,
            browser_log,
        )
        devtools = DevTools(targets[0]["webSocketDebuggerUrl"])
        devtools.call("Page.enable")
        devtools.call("Page.navigate", url=base)

        wait_for(
            "upload widget",
            lambda: devtools.evaluate(
                "document.querySelector('input[type=file]') !== null"
            ),
            120,
        )
        body = devtools.evaluate("document.body.innerText")
        assert "not a diagnostic device" in body
        root = devtools.call("DOM.getDocument")["root"]["nodeId"]
        node = devtools.call(
            "DOM.querySelector", nodeId=root, selector="input[type=file]"
        )
        devtools.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(xray)])

        body = wait_for(
            "prediction",
            lambda: (
                lambda t: (
                    t
                    if "Label:" in t
                    and "Grad-CAM" in t
                    and devtools.evaluate("document.querySelectorAll('img').length")
                    >= 2
                    else None
                )
            )(devtools.evaluate("document.body.innerText")),
            120,
        )
        assert "Probability of pneumonia" in body
        assert "chest.png" in body
        time.sleep(1.0)  # let the Grad-CAM image finish painting
        shot = devtools.call("Page.captureScreenshot", format="png")
        screenshot = tmp_path / "app_upload.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {screenshot}")
        with Image.open(screenshot) as im:
            assert im.size[0] >= 800 and im.size[1] >= 600
            assert np.asarray(im.convert("L")).std() > 5  # not a blank page
    finally:
        if devtools is not None:
            devtools.close()
        stop_process(browser)
        stop_process(server)
