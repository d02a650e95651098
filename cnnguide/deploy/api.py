"""A small web API around :class:`cnnguide.deploy.service.Predictor` (FastAPI).

Endpoints
---------
``GET /health``
    ``{"status": "ok", "model_version": ..., "model_name": ..., "image_size": ...,
    "threshold": ..., "disclaimer": ...}``.
``POST /predict``
    A multipart form with one field ``file`` (PNG, JPEG, or DICOM with pydicom) and an
    optional query parameter ``threshold``; answers the JSON of
    :meth:`cnnguide.deploy.service.Predictor.predict`. Bad input gets a 4xx status and
    ``{"detail": "<what is wrong and how to fix it>"}``: 400 empty file, 413 too large,
    422 not a readable greyscale image (or a bad threshold).

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
import os
import sys

import cnnguide
from cnnguide.data import ImageError
from cnnguide.deploy.service import MAX_UPLOAD_BYTES, load_predictor

__all__ = ["create_app", "run", "main"]

# Multipart framing (boundaries, headers) on top of the file itself.
_FORM_OVERHEAD = 64 * 1024


def create_app(model_dir=None, *, max_bytes: int = MAX_UPLOAD_BYTES):
    """Build the FastAPI application serving one saved model.

    Parameters
    ----------
    model_dir : path, optional
        Folder with ``model.keras`` + ``model_card.json`` (or the ``.keras`` file);
        default ``$CNNGUIDE_MODEL``, then ``./cnnguide-model``.
    max_bytes : int
        Largest accepted upload; bigger requests get 413 before the body is read
        when they declare their length.

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
    app.add_middleware(_LimitBody, max_bytes=max_bytes)

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
    @app.post("/predict")
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
        try:
            image = predictor.prepare(data, file.filename, max_bytes)
        except ImageError as exc:
            raise HTTPException(422, str(exc)) from exc
        # Blocks this worker thread (not the event loop) until the batch is answered.
        return predictor.predict(image, threshold)

    return app


class _LimitBody:
    """ASGI middleware: refuse a request whose declared length exceeds the limit.

    Answers 413 before the body is read (and 400 for a malformed Content-Length).
    Written as plain ASGI rather than ``@app.middleware("http")``, whose wrapping of
    every request and response costs more than the prediction itself.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

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
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            refusal = self._refusal(length) if length is not None else None
            if refusal is not None:
                from fastapi.responses import JSONResponse

                detail, status = refusal
                response = JSONResponse({"detail": detail}, status_code=status)
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


def run(model_dir=None, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted (loopback by default)."""
    import uvicorn

    uvicorn.run(create_app(model_dir), host=host, port=port, log_level="info")


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
    args = parser.parse_args(argv)
    try:
        run(args.model, host=args.host, port=args.port)
    except (NoModelError, ValueError) as exc:
        print(f"cnnguide api: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
