"""Run one training in a fresh Python process, so that its time and peak memory are its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_child(code: str, args: dict, *, env: dict | None = None, drop_env=()) -> dict:
    """Run ``code`` as ``python -c code ROOT json(args)``; return its ``RESULT {...}`` line.

    The child prints one line ``RESULT <json>``; a failed child (non-zero exit or no such
    line) stops the benchmark with its stderr, never a half-filled table.
    """
    full_env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "CNNGUIDE_OFFLINE": os.environ.get("CNNGUIDE_OFFLINE", "1"),
        **(env or {}),
    }
    for name in drop_env:
        full_env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), json.dumps(args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"training run {args} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT ") :])
