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
    >>> from fastapi.testclient import TestClient            # doctest: +SKIP
    >>> client = TestClient(create_app("cnnguide-model"))    # doctest: +SKIP
    >>> client.get("/health").json()["status"]               # doctest: +SKIP
    'ok'
    """
    from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
    from fastapi.responses import JSONResponse

    predictor = load_predictor(model_dir)
    app = FastAPI(
        title="cnnguide pneumonia classifier (teaching)",
        description=cnnguide.DISCLAIMER,
        version=predictor.version,
    )
    app.state.predictor = predictor
    app.state.max_bytes = max_bytes

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > max_bytes + _FORM_OVERHEAD
            except ValueError:
                return JSONResponse(
                    {"detail": "invalid Content-Length header"}, status_code=400
                )
            if too_big:
                return JSONResponse(
                    {
                        "detail": f"request of {int(length):,} bytes exceeds the limit of "
                        f"{max_bytes:,} bytes per image; downscale the image"
                    },
                    status_code=413,
                )
        return await call_next(request)

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

    @app.post("/predict")
    async def predict(
        file: UploadFile = File(
            ..., description="a chest X-ray: PNG, JPEG (DICOM with pydicom)"
        ),
        threshold: float | None = Query(
            None, ge=0.0, le=1.0, description="override the model card's threshold"
        ),
    ) -> dict:
        data = await file.read(max_bytes + 1)  # never more than the limit in memory
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
        # Keras inference is CPU-bound and synchronous; fine for a teaching server.
        return predictor.predict(image, threshold)

    return app


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
