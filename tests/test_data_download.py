"""Downloads of PneumoniaMNIST through pooch, from a small HTTP server on loopback.

Each test serves a tiny valid ``.npz`` from ``127.0.0.1`` (``CNNGUIDE_DATA_URL``)
and checks what ends up in the (temporary) user cache.
"""

import hashlib
import http.server
import io
import socket
import threading

import numpy as np
import pytest

from cnnguide import data
from cnnguide.data import DataNotFoundError, load_dataset, load_pneumoniamnist


def tiny_npz_bytes(size=28):
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(
            0, 256, (n, size, size), dtype=np.uint8
        )
        arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8)[:, None]
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


class Server:
    """Serves ``body`` for any GET; ``short=True`` promises more bytes than it sends."""

    def __init__(self, body, short=False):
        self.body, self.short, self.paths = body, short, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.paths.append(self.path)
                length = len(outer.body) + (100_000 if outer.short else 0)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(outer.body)
                self.wfile.flush()
                self.close_connection = True  # then hang up: an interrupted transfer

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def online(clean_data_env, monkeypatch):
    """Downloads allowed; returns the (empty) cache folder."""
    monkeypatch.delenv("CNNGUIDE_OFFLINE")
    return clean_data_env


def files_in(folder):
    return (
        sorted(p.name for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def test_good_download_lands_in_cache_once(online, monkeypatch):
    body = tiny_npz_bytes()
    monkeypatch.setitem(data.MD5, 28, hashlib.md5(body).hexdigest())
    with Server(body) as server:
        monkeypatch.setenv("CNNGUIDE_DATA_URL", server.url)
        ds = load_pneumoniamnist(28)
        assert server.paths == ["/pneumoniamnist.npz?download=1"]
        assert files_in(online) == ["pneumoniamnist.npz"]
        assert (online / "pneumoniamnist.npz").read_bytes() == body
        assert ds.is_real and ds.source == str(online / "pneumoniamnist.npz")
        assert ds["train"].images.shape == (6, 28, 28) and ds["train"].labels.shape == (
            6,
        )
        # the second call reads the cache: no new request
        assert load_dataset(28).is_real
        assert len(server.paths) == 1


def test_other_sizes_download_their_own_file(online, monkeypatch):
    body = tiny_npz_bytes(64)
    monkeypatch.setitem(data.MD5, 64, hashlib.md5(body).hexdigest())
    with Server(body) as server:
        monkeypatch.setenv(
            "CNNGUIDE_DATA_URL", server.url.rstrip("/")
        )  # slash optional
        assert load_pneumoniamnist(64)["val"].images.shape == (2, 64, 64)
        assert server.paths == ["/pneumoniamnist_64.npz?download=1"]
    assert files_in(online) == ["pneumoniamnist_64.npz"]


def test_wrong_checksum_leaves_nothing(online, monkeypatch):
    with Server(tiny_npz_bytes()) as server:  # official md5 expected: cannot match
        monkeypatch.setenv("CNNGUIDE_DATA_URL", server.url)
        with pytest.raises(DataNotFoundError, match="md5") as info:
            load_pneumoniamnist(28)
        assert len(server.paths) == 1
    assert server.url in str(info.value)
    assert files_in(online) == []


def test_interrupted_transfer_leaves_nothing(online, monkeypatch):
    body = tiny_npz_bytes()
    # even with the right checksum, a transfer cut short must fail
    monkeypatch.setitem(data.MD5, 28, hashlib.md5(body).hexdigest())
    with Server(body, short=True) as server:
        monkeypatch.setenv("CNNGUIDE_DATA_URL", server.url)
        with pytest.raises(DataNotFoundError, match="download failed"):
            load_pneumoniamnist(28)
        assert len(server.paths) == 1
    assert files_in(online) == []


def test_offline_makes_no_request(clean_data_env, monkeypatch):
    body = tiny_npz_bytes()
    monkeypatch.setitem(data.MD5, 28, hashlib.md5(body).hexdigest())
    with Server(body) as server:
        monkeypatch.setenv("CNNGUIDE_DATA_URL", server.url)
        with pytest.raises(DataNotFoundError) as info:
            load_pneumoniamnist(28)
        with pytest.warns(data.PhantomDataWarning):
            ds = load_dataset(28, n_phantoms=12)
        with pytest.raises(DataNotFoundError, match="download=False"):
            load_pneumoniamnist(28, download=False)
        assert server.paths == []
        # an explicit download=True wins over CNNGUIDE_OFFLINE
        assert load_pneumoniamnist(28, download=True).is_real
        assert len(server.paths) == 1
    msg = str(info.value)
    assert "CNNGUIDE_OFFLINE=1" in msg and "CNNGUIDE_DATA" in msg and server.url in msg
    assert not ds.is_real and "NOT CHEST X-RAYS" in ds.notice


def test_no_server_listening(online, monkeypatch):
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CNNGUIDE_DATA_URL", f"http://127.0.0.1:{port}/")
    with pytest.raises(DataNotFoundError, match="ConnectionError"):
        load_pneumoniamnist(28)
    assert files_in(online) == []
    with pytest.warns(data.PhantomDataWarning, match="ConnectionError"):
        assert not load_dataset(28, n_phantoms=12).is_real


def test_silent_server_times_out(online, monkeypatch):
    """A server that accepts but never answers: the read timeout ends the wait."""
    monkeypatch.setattr(data.pneumoniamnist, "DOWNLOAD_TIMEOUT", 0.3)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts; nobody ever replies
        monkeypatch.setenv(
            "CNNGUIDE_DATA_URL", f"http://127.0.0.1:{listener.getsockname()[1]}/"
        )
        with pytest.raises(DataNotFoundError, match="Timeout"):
            load_pneumoniamnist(28)
    assert files_in(online) == []


def test_unresolvable_host(online, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_DATA_URL", "http://no-such-host.invalid/")
    with pytest.raises(DataNotFoundError, match="no-such-host.invalid"):
        load_pneumoniamnist(28)
    assert files_in(online) == []
