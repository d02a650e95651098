"""Stamped results files: what a benchmark wrote, with what, where and when.

A chapter may show a figure too costly to compute in the build (a multi-seed
sweep) by reading it from ``benchmarks/results/``. Such a file must say where
it came from: the command, the commit, the date, the machine, and the sha256 of
the script that wrote it (``tests/test_seeding.py`` fails when the script has
changed since, so no figure goes stale silently). Files are written to a
temporary name and renamed, so a killed run leaves the old file whole.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def script_sha256(path) -> str:
    """sha256 of a script's bytes, as the stamp records it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def machine() -> dict:
    """What the numbers were measured on (CPU model, cores, system, Python)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def commit() -> str:
    """The checked-out commit, with ``+dirty`` when the package or chapters changed."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "cnnguide", "notebooks"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def stamp(script, command: str) -> dict:
    """The stamp of a results file written by ``script`` run as ``command``."""
    script = Path(script).resolve()
    return {
        "command": command.replace(str(ROOT) + os.sep, ""),
        "script": script.relative_to(ROOT).as_posix(),
        "script_sha256": script_sha256(script),
        "commit": commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def write_atomic(path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
