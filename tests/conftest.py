"""Shared fixtures.

The unit tests never reach the network: unless the caller set
``CNNGUIDE_OFFLINE`` explicitly, it is set to 1 for the whole session, so a test
without real data gets phantoms at once instead of trying Zenodo.
"""

import os

import pytest


def pytest_configure(config):
    os.environ.setdefault("CNNGUIDE_OFFLINE", "1")


@pytest.fixture
def clean_data_env(tmp_path, monkeypatch):
    """No real data anywhere: CNNGUIDE_DATA and CNNGUIDE_DATA_URL unset,
    CNNGUIDE_OFFLINE=1, and an empty user cache under ``tmp_path``.

    Returns the cache folder (not created yet). A test that downloads (from a
    loopback server) deletes CNNGUIDE_OFFLINE itself. Loopback requests bypass
    any HTTP proxy.
    """
    for var in ("CNNGUIDE_DATA", "CNNGUIDE_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNGUIDE_OFFLINE", "1")
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("CNNGUIDE_CACHE", str(cache))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return cache
