"""Start-and-stop helpers for the tests that run a real server (the API, the app, a browser)."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout, proc=None, log=None, retry_on=(Exception,)):
    """Call ``check`` every half second until it returns something true; return that.

    Fails the test when ``proc`` exits first or ``timeout`` seconds pass, with ``log``'s
    text (a path) in the message. Exceptions of the ``retry_on`` types count as "not yet".
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(
                f"{what}: process exited with {proc.returncode}: "
                + (log.read_text() if log else "")
            )
        try:
            value = check()
            if value:
                return value
        except retry_on:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"{what}: not ready after {timeout} s" + (": " + log.read_text() if log else "")
    )


def stop_process(proc, timeout=20):
    """Terminate ``proc`` (if it still runs), killing it when it ignores the request."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serve_api(model_dir, folder):
    """``python -m cnnguide.deploy.api MODEL`` on a free loopback port, until exit.

    Yields ``(base_url, log_path)`` once ``/health`` answers 200; the server's
    output goes to ``folder/server.log``, and the server is stopped on exit.
    """
    import httpx

    port = free_port()
    log_path = Path(folder) / "server.log"
    env = dict(
        os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost"
    )
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cnnguide.deploy.api",
                str(model_dir),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            "api server",
            lambda: httpx.get(base + "/health", timeout=2).status_code == 200,
            120,
            server,
            log_path,
            retry_on=httpx.TransportError,
        )
        yield base, log_path
    finally:
        stop_process(server)
