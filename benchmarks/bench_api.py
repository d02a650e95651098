"""The web API under load: throughput, latency, errors and server memory on loopback.

Starts ``python -m cnnguide.deploy.api`` on 127.0.0.1 in its own process, then keeps
``--clients`` (default 16) persistent connections busy, each posting one 256 × 256 PNG
after the other and waiting for the answer (a closed loop: at most one request in
flight per client). Every request carries a *different* image (a smooth "chest" with
its own random patch), so no cache keyed on content could help. The load is bounded
twice: each round lasts ``--seconds`` and no client sends more than its share of the
pre-built requests.

Reports, per round: predictions per second, p50 / p95 / max latency, errors (any
status other than 200, or an answer without a probability in [0, 1]), and the server's
resident memory (RSS) after warm-up and after each round, so a leak shows up as growth
from round to round. The load average and the number of CPUs are printed first: the
figures mean little on a machine that is busy with something else.

The model is the one in ``--model`` / ``$CNNGUIDE_MODEL`` / ``./cnnguide-model`` (what
``cnnguide train`` saves) when there is one; otherwise the book's recommended network
(:func:`cnnguide.models.build_recommended`, 28 × 28, untrained: the same computation
as a trained one) is saved to a temporary folder with a model card.

With ``--hostile N`` each clean round is followed by a *mixed* round: the same
valid clients, plus N hostile ones that cycle through an upload declared larger
than the limit (by 1 MiB), a chunked upload that streams past it, a decompression bomb (a
small PNG that claims 16,000 x 16,000 pixels) and a corrupt PNG, each on a new
connection. The mixed round reports the valid clients' throughput and p95
against the clean round's, the statuses the hostile uploads got, any 500, and
any 503 a valid request got; the run fails when throughput or p95 of the valid
requests moves by more than 20 %, RSS grows by 50 MiB or more, or any 500 or
valid 503 appears. ``--hostile-pause S`` makes each hostile client wait S seconds
between uploads; without it they send back to back, and on a 2-core machine the
load generator's own work (pushing 10 MiB bodies) then takes CPU from the server
too. The warm-up runs the same mix, so RSS growth measures the rounds.

Usage::

    python benchmarks/bench_api.py [--model DIR] [--clients 16] [--seconds 15]
        [--rounds 2] [--max-requests 8000] [--hostile 4] [--hostile-pause 0.25]

Targets on 2 cores: >= 200 predictions per second, p95 <= 100 ms at 16 clients, zero
errors, RSS flat between rounds. Teaching material, not a diagnostic device.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]
SIDE = 256
BOUNDARY = "cnnguidebenchboundary"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_folder(requested: str | None, tmp: Path) -> tuple[Path, str]:
    """The model to serve and a line saying which one it is."""
    from cnnguide.deploy import service

    try:
        model_file = service.find_model(requested)
        return model_file.parent, f"saved model {model_file}"
    except service.NoModelError:
        if requested:
            raise
    import keras

    import cnnguide
    from cnnguide.models import build_recommended
    from cnnguide.train import save

    keras.utils.set_random_seed(0)
    model = build_recommended((28, 28, 1))
    card = {
        "name": "bench_recommended_untrained",
        "created": "2026-01-01T00:00:00",
        "threshold": 0.5,
        "input_shape": [28, 28, 1],
        "disclaimer": cnnguide.DISCLAIMER,
        "data": {"name": "none", "is_real": False, "image_size": 28},
    }
    folder = save(model, card, tmp / "model")
    return folder, "book's recommended network, untrained (28 x 28)"


def request_bytes(n: int, port: int, seed: int = 0) -> list[bytes]:
    """``n`` complete HTTP requests, each posting a different 256 x 256 greyscale PNG."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    base = 200.0 * np.exp(-(((xx - 0.5) / 0.35) ** 2 + ((yy - 0.55) / 0.45) ** 2))
    base = base.astype(np.uint8)
    out = []
    for i in range(n):
        image = base.copy()
        top, left = rng.integers(0, SIDE - 24, 2)
        image[top : top + 24, left : left + 24] = rng.integers(0, 256, (24, 24))
        image[0, :4] = np.frombuffer(i.to_bytes(4, "little"), np.uint8)  # unique
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG", compress_level=1)
        body = (
            (
                f"--{BOUNDARY}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="x{i}.png"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + buf.getvalue()
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        head = (
            "POST /predict HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def _exchange(reader, writer, request: bytes) -> tuple[int, bytes]:
    """Send one request on a kept-alive connection; return (status, body)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1])
        for line in lines[1:]
        if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


def _valid(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        p = json.loads(body)["probability"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(p, float) and 0.0 <= p <= 1.0


async def load_round(
    port: int, requests: list[bytes], clients: int, seconds: float
) -> dict:
    """Closed-loop load: ``clients`` connections, each sends its next request on answer."""
    latencies: list[float] = []
    errors: list[str] = []
    shares = [requests[i::clients] for i in range(clients)]
    deadline = time.perf_counter() + seconds

    async def client(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in share:
                if time.perf_counter() >= deadline:
                    break
                start = time.perf_counter()
                try:
                    status, body = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - start)
                if not _valid(status, body):
                    errors.append(f"HTTP {status}: {body[:200]!r}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(share) for share in shares))
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000.0
    return {
        "requests": len(latencies),
        "wall_s": wall,
        "per_s": len(latencies) / wall,
        "p50": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
        "p95": float(np.percentile(ms, 95)) if len(ms) else float("nan"),
        "max": float(ms.max()) if len(ms) else float("nan"),
        "errors": errors,
        "exhausted": len(latencies) + len(errors) >= len(requests),
    }


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    crc = zlib.crc32(kind + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + kind + data + crc


def bomb_png(side: int = 16_000) -> bytes:
    """A valid greyscale PNG of ``side`` x ``side`` zeros, built without the pixels.

    About 250 kB on disk, ``side**2`` bytes once decoded: the server must refuse
    it from its header, never decode it.
    """
    import zlib

    packer = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the pixels
    parts = [packer.compress(row * 64) for _ in range(side // 64)]
    data = b"".join(parts) + packer.flush()
    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def corrupt_png() -> bytes:
    """A PNG signature and header, then bytes that are no image data."""
    ihdr = (256).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    garbage = np.random.default_rng(7).integers(0, 256, 4000, np.uint8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", garbage.tobytes())
    )


def _multipart(port: int, payload: bytes, name: str) -> bytes:
    body = (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        "POST /predict HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


async def _hostile_one(port: int, kind: str, payloads: dict, limit: int) -> str:
    """Send one hostile upload on a new connection; return its status (or how it ended)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            "POST /predict HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        )
        try:
            if kind == "declared too large":
                writer.write(
                    (head + f"Content-Length: {limit + 2**20}\r\n\r\n").encode()
                    + b"x" * 1024
                )
                await writer.drain()
            elif kind == "streamed past the limit":
                writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
                chunk = b"%x\r\n" % 65536 + b"y" * 65536 + b"\r\n"
                for _ in range(limit // 65536 + 16):
                    writer.write(chunk)
                    await writer.drain()
            else:
                writer.write(_multipart(port, payloads[kind], "hostile.png"))
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server may answer and close before the body is sent
        try:
            line = await asyncio.wait_for(reader.readline(), 30)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            return "connection closed"
        parts = line.split()
        return parts[1].decode() if len(parts) > 1 else "connection closed"
    finally:
        writer.close()


HOSTILE_KINDS = [
    "declared too large",
    "streamed past the limit",
    "decompression bomb",
    "corrupt PNG",
]


async def mixed_round(
    port: int,
    requests: list[bytes],
    clients: int,
    seconds: float,
    hostile: int,
    limit: int,
    kinds: list[str] = HOSTILE_KINDS,
    pause: float = 0.0,
) -> dict:
    """:func:`load_round` with ``hostile`` extra clients sending hostile uploads."""
    payloads = {"decompression bomb": bomb_png(), "corrupt PNG": corrupt_png()}
    statuses: dict[str, dict[str, int]] = {k: {} for k in kinds}
    deadline = time.perf_counter() + seconds

    async def attacker(k: int) -> None:
        i = k
        while time.perf_counter() < deadline:
            kind = kinds[i % len(kinds)]
            status = await _hostile_one(port, kind, payloads, limit)
            statuses[kind][status] = statuses[kind].get(status, 0) + 1
            i += 1
            if pause:
                await asyncio.sleep(pause)

    valid = load_round(port, requests, clients, seconds)
    result, *_ = await asyncio.gather(valid, *(attacker(k) for k in range(hostile)))
    result["hostile"] = statuses
    return result


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def wait_ready(port: int, proc: subprocess.Popen, log: Path, timeout=120.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API exited ({proc.returncode}):\n{log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the API was not ready after {timeout} s:\n{log.read_text()}")


def run_mixed(port: int, requests: list[bytes], seconds: float, args) -> dict:
    """:func:`mixed_round` with the command line's clients and hostile settings."""
    from cnnguide.deploy.service import MAX_UPLOAD_BYTES

    return asyncio.run(
        mixed_round(
            port,
            requests,
            args.clients,
            seconds,
            args.hostile,
            MAX_UPLOAD_BYTES,
            args.hostile_kinds,
            args.hostile_pause,
        )
    )


def report_mixed(port, pid, args, clean: dict, rss: list, seed: int) -> bool:
    """Run one mixed round after a clean one, print it, return True if it failed."""
    requests = request_bytes(args.max_requests, port, seed=seed)
    mixed = run_mixed(port, requests, args.seconds, args)
    rss.append(rss_mib(pid))
    speed = mixed["per_s"] / clean["per_s"] - 1
    p95 = mixed["p95"] / clean["p95"] - 1
    valid_503 = sum(e.startswith("HTTP 503") for e in mixed["errors"])
    hostile_500 = sum(
        n
        for seen in mixed["hostile"].values()
        for status, n in seen.items()
        if status.startswith("5") and status != "503"
    )
    valid_500 = sum(e.startswith("HTTP 5") for e in mixed["errors"]) - valid_503
    print(
        f"  mixed, +{args.hostile} hostile clients: {mixed['per_s']:.0f}/s valid "
        f"({speed:+.0%} vs clean), p95 {mixed['p95']:.1f} ms ({p95:+.0%}); "
        f"valid errors {len(mixed['errors'])} (503: {valid_503}); server RSS "
        f"{rss[-1]:.0f} MiB"
    )
    for kind, seen in mixed["hostile"].items():
        counts = ", ".join(f"{s} x{n}" for s, n in sorted(seen.items()))
        print(f"    {kind}: {counts or 'none sent'}")
    for error in mixed["errors"][:3]:
        print(f"    valid error: {error}")
    bad = []
    if abs(speed) > 0.20:
        bad.append("throughput moved by more than 20 %")
    if p95 > 0.20:
        bad.append("p95 grew by more than 20 %")
    if hostile_500 or valid_500:
        bad.append(f"{hostile_500 + valid_500} answers with status 5xx (not 503)")
    if valid_503:
        bad.append(f"{valid_503} valid requests got 503")
    if rss[-1] - rss[0] >= 50:
        bad.append(f"RSS grew by {rss[-1] - rss[0]:.0f} MiB")
    for line in bad:
        print(f"  FAILED: {line}")
    return bool(bad or mixed["errors"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="saved model folder (default: see above)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0, help="per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--max-requests",
        type=int,
        default=8000,
        help="distinct requests built per round (bounds the load)",
    )
    parser.add_argument(
        "--hostile",
        type=int,
        default=0,
        help="hostile clients in a mixed round after each clean one (0: none)",
    )
    parser.add_argument(
        "--hostile-kinds",
        type=lambda text: text.split(","),
        default=HOSTILE_KINDS,
        help="comma-separated subset of: " + ", ".join(HOSTILE_KINDS),
    )
    parser.add_argument(
        "--hostile-pause",
        type=float,
        default=0.0,
        help="seconds each hostile client waits between uploads (0: none)",
    )
    args = parser.parse_args(argv)

    load1, load5, _ = os.getloadavg()
    print(
        f"CPUs: {os.cpu_count()}; load average before the run: "
        f"{load1:.2f} (1 min), {load5:.2f} (5 min)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, origin = model_folder(args.model, tmp)
        port = free_port()
        log = tmp / "server.log"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
        with open(log, "wb") as log_file:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cnnguide.deploy.api",
                    str(folder),
                    "--port",
                    str(port),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        try:
            wait_ready(port, server, log)
            # Warm-up under the same load, so that round 1 starts from a server whose
            # threads and allocator pools are already there.
            warm = request_bytes(2000, port, seed=10_000)
            if args.hostile:  # the same load as the rounds: hostile clients too
                run_mixed(port, warm, 5.0, args)
            else:
                asyncio.run(load_round(port, warm, args.clients, 5.0))
            del warm
            rss = [rss_mib(server.pid)]
            print(
                f"model: {origin}; {args.clients} clients, {args.rounds} rounds of "
                f"{args.seconds:.0f} s, a different {SIDE}x{SIDE} PNG per request"
            )
            print(f"server RSS after warm-up: {rss[0]:.0f} MiB")
            failed = False
            for r in range(args.rounds):
                requests = request_bytes(args.max_requests, port, seed=r)
                result = load_round(port, requests, args.clients, args.seconds)
                result = asyncio.run(result)
                rss.append(rss_mib(server.pid))
                print(
                    f"round {r + 1}: {result['requests']} predictions in "
                    f"{result['wall_s']:.1f} s = {result['per_s']:.0f}/s; latency p50 "
                    f"{result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, max "
                    f"{result['max']:.1f} ms; errors {len(result['errors'])}; "
                    f"server RSS {rss[-1]:.0f} MiB"
                    + ("  (request pool exhausted)" if result["exhausted"] else "")
                )
                for error in result["errors"][:3]:
                    print(f"  error: {error}")
                failed |= bool(result["errors"])
                if args.hostile:
                    failed |= report_mixed(
                        port, server.pid, args, result, rss, seed=100 + r
                    )
            print(
                f"server RSS: {' -> '.join(f'{m:.0f}' for m in rss)} MiB "
                f"(growth over the rounds: {rss[-1] - rss[0]:+.0f} MiB)"
            )
            load1, _, _ = os.getloadavg()
            print(f"load average after the run: {load1:.2f} (1 min)")
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
