"""A small web API around :class:`cnnguide.deploy.service.Predictor` (FastAPI).

Endpoints
---------
``GET /health``
    ``{"status": "ok", "model_version": ..., "model_name": ..., "image_size": ...,
    "threshold": ..., "disclaimer": ...}``.
``POST /predict``
    A multipart form with one field ``file`` (PNG, JPEG, or DICOM with pydicom) and an
    optional query parameter ``threshold``; answers the JSON of
    :meth:`cnnguide.deploy.service.Predictor.predict`, whose ``warnings`` list says
    what about the image needs saying. Bad input gets a 4xx status and
    ``{"detail": "<what is wrong and how to fix it>"}``: 400 empty file, 408 body
    too slow, 413 too large (counted as the bytes arrive, whether or not the
    request declares its length), 415 not an image, 422 not a readable greyscale
    image (or a bad threshold); 503 with ``Retry-After`` when every decoding
    slot is busy.

Run it with ``python -m cnnguide.deploy.api MODEL_DIR --port 8000`` (or :func:`run`), then::

    curl -F file=@xray.png http://127.0.0.1:8000/predict

Under load
----------
An ``async`` endpoint that calls the model blocks the event loop: every other
request waits, and sixteen clients are served one after the other. ``/predict`` is
a plain ``def`` endpoint instead, which FastAPI runs in its thread pool; decoding
happens there, and the threads hand their images to the predictor's micro-batcher
(:class:`cnnguide.deploy.service.Predictor`), which answers all waiting requests
with one compiled forward pass. ``benchmarks/bench_api.py`` measures the result.

This is teaching material, not a diagnostic device.
"""

import argparse
import asyncio
import ipaddress
import os
import sys
import threading

import cnnguide
from cnnguide.data import ImageError, NotAnImageError
from cnnguide.deploy.service import MAX_UPLOAD_BYTES, load_predictor

__all__ = ["create_app", "run", "main", "is_loopback", "LOOPBACK_HOSTS", "BODY_TIMEOUT"]

# Multipart framing (boundaries, headers) on top of the file itself.
_FORM_OVERHEAD = 64 * 1024

#: Seconds a client may take to send a whole request body (408 after that).
BODY_TIMEOUT = 30.0

#: Host names a server bound to loopback answers to: a page on another site
#: that resolves its own name to 127.0.0.1 (DNS rebinding) sends its own
#: name, and is refused.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")

_RESPONSES = {
    400: {"description": "an empty upload, or a malformed request"},
    408: {"description": "the request body did not arrive in time"},
    413: {"description": "the upload is larger than the limit"},
    415: {"description": "the upload is not an image the service reads"},
    422: {"description": "not a readable greyscale image, or a bad parameter"},
    503: {"description": "every decoding slot is busy; retry after Retry-After s"},
}


def create_app(
    model_dir=None,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    decode_slots: int | None = None,
    queue_seconds: float = 2.0,
    body_timeout: float = BODY_TIMEOUT,
    allowed_hosts=None,
):
    """Build the FastAPI application serving one saved model.

    Parameters
    ----------
    model_dir : path, optional
        Folder with ``model.keras`` + ``model_card.json`` (or the ``.keras`` file);
        default ``$CNNGUIDE_MODEL``, then ``./cnnguide-model``.
    max_bytes : int
        Largest accepted upload. A request that declares a larger length gets 413
        before its body is read; one that does not (chunked) gets 413 as soon as
        the bytes received pass the limit, so no client can make the server read,
        hold or spool more.
    decode_slots : int, optional
        Uploads decoded at once (default: the number of CPUs). Decoding is where
        a small file can cost memory; a request that finds every slot busy for
        ``queue_seconds`` gets 503 with ``Retry-After`` instead of piling up.
    queue_seconds : float
        How long a request waits for a decoding slot.
    body_timeout : float
        Seconds to receive a whole request body; slower clients get 408.
    allowed_hosts : sequence of str, optional
        Host names the server answers to (others get 400); ``None`` answers any.
        :func:`run` passes :data:`LOOPBACK_HOSTS` when it binds to loopback, plus
        any names given to it (a proxy, a test client).

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    cnnguide.deploy.service.NoModelError
        No model found (the message says how to train one): a service without a model
        should not start.

    Examples
    --------
    >>> import tempfile
    >>> from fastapi.testclient import TestClient
    >>> from cnnguide.models import build_cnn
    >>> from cnnguide.train import save
    >>> folder = save(build_cnn(widths=(4,)), {"threshold": 0.4}, tempfile.mkdtemp())
    >>> client = TestClient(create_app(folder))
    >>> client.get("/health").json()["threshold"]
    0.4
    """
    from fastapi import FastAPI, File, HTTPException, Query, UploadFile

    predictor = load_predictor(model_dir)
    app = FastAPI(
        title="cnnguide pneumonia classifier (teaching)",
        description=cnnguide.DISCLAIMER,
        version=predictor.version,
    )
    app.state.predictor = predictor
    app.state.max_bytes = max_bytes
    app.add_middleware(_LimitBody, max_bytes=max_bytes, timeout=body_timeout)
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    slots = threading.BoundedSemaphore(decode_slots or os.cpu_count() or 2)

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "model_version": predictor.version,
            "model_name": predictor.name,
            "image_size": predictor.size,
            "threshold": predictor.threshold,
            "disclaimer": cnnguide.DISCLAIMER,
        }

    # A plain `def`: FastAPI runs it in its thread pool, off the event loop.
    @app.post("/predict", responses=_RESPONSES)
    def predict(
        file: UploadFile = File(
            ..., description="a chest X-ray: PNG, JPEG (DICOM with pydicom)"
        ),
        threshold: float | None = Query(
            None, ge=0.0, le=1.0, description="override the model card's threshold"
        ),
    ) -> dict:
        data = file.file.read(max_bytes + 1)  # never more than the limit in memory
        if not data:
            raise HTTPException(
                400,
                f"{file.filename or 'the file'} is empty; "
                "send a PNG or JPEG chest X-ray in the form field 'file'",
            )
        if len(data) > max_bytes:
            raise HTTPException(
                413,
                f"{file.filename or 'the file'} exceeds the limit of "
                f"{max_bytes:,} bytes; downscale the image",
            )
        if not slots.acquire(timeout=queue_seconds):
            raise HTTPException(
                503,
                "the service is decoding as many images as it may; retry shortly",
                headers={"Retry-After": "1"},
            )
        notes: list[str] = []
        try:
            image = predictor.prepare(data, file.filename, max_bytes, notes)
        except ImageError as exc:
            status = 415 if isinstance(exc, NotAnImageError) else 422
            raise HTTPException(status, str(exc)) from exc
        finally:
            slots.release()
        # Blocks this worker thread (not the event loop) until the batch is answered.
        return predictor.predict(image, threshold, notes)

    return app


class _TooLarge(Exception):
    pass


class _LimitBody:
    """ASGI middleware: no request body larger than the limit, or slower than the timeout.

    A declared ``Content-Length`` over the limit gets 413 before any byte is read
    (400 when malformed). Every body is then received here, its bytes counted as
    they arrive: 413 the moment the count passes the limit (a chunked upload that
    never declared its length included), 408 when the whole body takes longer than
    ``timeout``. Only a body within both reaches the application, replayed from
    memory; so at most the limit is ever held per request, and nothing is spooled
    to disk. Plain ASGI rather than ``@app.middleware("http")``, whose wrapping of
    every request and response costs more than the prediction itself.
    """

    def __init__(self, app, max_bytes: int, timeout: float = BODY_TIMEOUT):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    def _refusal(self, length: bytes) -> tuple[str, int] | None:
        """``(detail, status)`` for a Content-Length to refuse, else ``None``."""
        try:
            size = int(length)
        except ValueError:
            return "invalid Content-Length header", 400
        if size > self.max_bytes + _FORM_OVERHEAD:
            return (
                f"request of {size:,} bytes exceeds the limit of "
                f"{self.max_bytes:,} bytes per image; downscale the image",
                413,
            )
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from fastapi.responses import JSONResponse

        length = dict(scope["headers"]).get(b"content-length")
        refusal = self._refusal(length) if length is not None else None
        if refusal is None:
            try:
                messages = await asyncio.wait_for(self._body(receive), self.timeout)
            except _TooLarge:
                refusal = (
                    f"request body passed the limit of {self.max_bytes:,} bytes per "
                    "image while it arrived; downscale the image",
                    413,
                )
            except asyncio.TimeoutError:
                refusal = (
                    f"the request body did not arrive within {self.timeout:g} s; "
                    "send it again on a faster connection",
                    408,
                )
        if refusal is not None:
            detail, status = refusal
            response = JSONResponse(
                {"detail": detail},
                status_code=status,
                headers={"Connection": "close"},
            )
            return await response(scope, receive, send)
        replay = iter(messages)

        async def replayed():
            message = next(replay, None)
            return message if message is not None else await receive()

        await self.app(scope, replayed, send)

    async def _body(self, receive) -> list:
        """Every message of the request body, counting bytes as they arrive."""
        limit, seen, messages = self.max_bytes + _FORM_OVERHEAD, 0, []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    return messages  # the client went away: let the app see it
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
                if not message.get("more_body", False):
                    return messages
        except BaseException:
            # Drop the bytes now. The exception's traceback keeps this frame
            # (and the list) alive in a reference cycle until the garbage
            # collector next runs; under a stream of oversized uploads that
            # held hundreds of MiB (benchmarks/bench_api.py --hostile).
            messages.clear()
            raise


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(
    model_dir=None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_hosts=(),
) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted (loopback by default).

    Bound to loopback, the server answers only requests addressed to a loopback
    name (:data:`LOOPBACK_HOSTS`) or to one of ``allow_hosts`` (a proxy's name):
    a web page elsewhere cannot reach it by pointing its own name at 127.0.0.1.
    """
    import uvicorn

    allowed = None
    if is_loopback(host):
        allowed = [*LOOPBACK_HOSTS, *allow_hosts]
    app = create_app(model_dir, allowed_hosts=allowed)
    uvicorn.run(app, host=host, port=port, log_level="info")


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnguide.deploy.api [MODEL] [--host H] [--port P]``; returns an exit status."""
    from cnnguide.deploy.service import NoModelError

    parser = argparse.ArgumentParser(
        prog="python -m cnnguide.deploy.api",
        description="Web API for a saved cnnguide model. " + cnnguide.DISCLAIMER,
    )
    parser.add_argument(
        "model",
        nargs="?",
        default=None,
        help="model folder or .keras file (default: $CNNGUIDE_MODEL, "
        "then ./cnnguide-model)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="on loopback, also answer requests addressed to NAME (a proxy)",
    )
    args = parser.parse_args(argv)
    try:
        run(args.model, host=args.host, port=args.port, allow_hosts=args.allow_host)
    except (NoModelError, ValueError) as exc:
        print(f"cnnguide api: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
