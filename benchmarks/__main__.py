"""Run every ``benchmarks/bench_*.py`` in its own process, one after the other.

Usage::

    python -m benchmarks              # all of them
    python -m benchmarks ops explorers  # only bench_ops.py and bench_explorers.py
    python -m benchmarks api          # the web API under load (bench_api.py)

Each script runs in a fresh interpreter so that its timings and peak memory are its own.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    wanted = argv if argv is not None else sys.argv[1:]
    scripts = sorted(HERE.glob("bench_*.py"))
    if wanted:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
        if not scripts:
            print(
                f"no benchmark named {wanted}; have: "
                f"{[s.stem.removeprefix('bench_') for s in sorted(HERE.glob('bench_*.py'))]}"
            )
            return 2
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(
            f"--- {script.name}: exit {code}, {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        if code:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
