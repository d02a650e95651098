"""The web API, through FastAPI's test client and one real uvicorn server on loopback."""

import io

import numpy as np
import pytest
from PIL import Image


import cnnguide

# fastapi and python-multipart are in the `app` extra that `make test` installs.
from fastapi.testclient import TestClient  # noqa: E402

from cnnguide.deploy.api import create_app  # noqa: E402
from cnnguide.deploy.service import NoModelError  # noqa: E402

from servers import serve_api  # noqa: E402
from tiny_models import png_bytes, save_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model"), threshold=0.3)


@pytest.fixture(scope="module")
def client(model_dir):
    with TestClient(create_app(model_dir, max_bytes=200_000)) as c:
        yield c


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["model_version"].startswith("tiny_cnn-")
    assert body["threshold"] == 0.3 and body["image_size"] == 28
    assert body["disclaimer"] == cnnguide.DISCLAIMER


def test_predict_returns_probability_label_threshold_version(client):
    r = client.post("/predict", files={"file": ("xray.png", png_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert 0.0 <= body["probability"] <= 1.0
    assert body["threshold"] == 0.3
    assert body["label"] == ("pneumonia" if body["probability"] >= 0.3 else "normal")
    assert body["model_version"] == client.get("/health").json()["model_version"]
    assert body["disclaimer"] == cnnguide.DISCLAIMER


def test_predict_threshold_query(client):
    files = {"file": ("xray.png", png_bytes(), "image/png")}
    assert (
        client.post("/predict?threshold=0", files=files).json()["label"] == "pneumonia"
    )
    body = client.post("/predict?threshold=1", files=files).json()
    assert body["threshold"] == 1.0 and body["threshold_source"] == "user"
    assert body["label"] == ("pneumonia" if body["probability"] >= 1.0 else "normal")
    r = client.post("/predict?threshold=2", files=files)
    assert r.status_code == 422


@pytest.mark.parametrize(
    "name, data, status, match",
    [
        ("empty.png", b"", 400, "empty"),
        ("notes.png", b"plain text, not an image", 415, "not a PNG or JPEG"),
        (
            "photo.png",
            png_bytes((40, 40), (200, 30, 30), "RGB"),
            422,
            "colour photograph",
        ),
        ("huge.png", png_bytes((8000, 7000)), 422, "pixels"),
    ],
    ids=["empty", "text", "colour", "huge"],
)
def test_bad_input_gets_4xx_with_message(client, name, data, status, match):
    import re

    r = client.post("/predict", files={"file": (name, data, "image/png")})
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert re.search(match, detail), detail
    if data:
        assert name in detail


def test_missing_file_field_is_422(client):
    r = client.post("/predict", data={"other": "x"})
    assert r.status_code == 422
    assert "file" in r.text


def test_request_size_limit(client):
    big = np.random.default_rng(0).integers(0, 256, (600, 600), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "PNG")  # noise does not compress: ~360 kB > 200 kB
    r = client.post(
        "/predict", files={"file": ("big.png", buf.getvalue(), "image/png")}
    )
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]


def test_many_simultaneous_requests_each_get_their_own_answer(model_dir):
    """64 requests in flight at once, each a different image: every answer is 200
    and carries the probability of *its* image (the micro-batcher keeps them apart)."""
    import asyncio

    import httpx

    from cnnguide.deploy.service import load_predictor

    rng = np.random.default_rng(7)
    images = [
        rng.integers(0, 256, (28 + i % 5, 28 + i % 3), dtype=np.uint8)
        for i in range(64)
    ]
    uploads = [png_bytes(image) for image in images]
    reference = load_predictor(model_dir)
    expected = [reference.predict_bytes(data)["probability"] for data in uploads]
    assert len({round(p, 5) for p in expected}) > 32  # answers could not be swapped

    app = create_app(model_dir)

    async def post_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api"
        ) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/predict", files={"file": (f"x{i}.png", data, "image/png")}
                    )
                    for i, data in enumerate(uploads)
                )
            )

    responses = asyncio.run(post_all())
    assert [r.status_code for r in responses] == [200] * len(uploads)
    got = [r.json()["probability"] for r in responses]
    np.testing.assert_allclose(got, expected, atol=2e-6)
    for r in responses:
        body = r.json()
        assert body["label"] == (
            "pneumonia" if body["probability"] >= body["threshold"] else "normal"
        )


def test_create_app_without_model_says_how_to_train(tmp_path):
    with pytest.raises(NoModelError, match="cnnguide train"):
        create_app(tmp_path / "none")


@pytest.mark.slow
def test_real_server_on_loopback(model_dir, tmp_path):
    import httpx

    with serve_api(model_dir, tmp_path) as (base, _):
        r = httpx.post(
            base + "/predict",
            files={"file": ("x.png", png_bytes(), "image/png")},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert set(r.json()) >= {"probability", "label", "threshold", "model_version"}
        bad = httpx.post(
            base + "/predict",
            files={"file": ("x.png", b"nope", "image/png")},
            timeout=30,
        )
        assert bad.status_code == 415 and "not a PNG or JPEG" in bad.json()["detail"]
