"""Every chapter under several base seeds and both data modes: `make robustness`.

Training on a CPU repeats only on the same instruction set and thread count, so
the book's numbers are one sample of what a reader gets. This script executes
every chapter under each base seed (``CNNGUIDE_SEED``) in each data mode (the
real PneumoniaMNIST, and the phantoms forced with ``CNNGUIDE_PHANTOMS=1``), and
writes one table: per chapter, mode and seed, pass or fail, wall time, and every
value the chapter glued (the numbers and the computed verdicts its prose
states). The spread of each number across seeds is then plain to see, and a
verdict that flips between seeds is listed.

Usage (from the repository root)::

    CNNGUIDE_DATA=../shared/data .venv/bin/python benchmarks/robustness.py
    .venv/bin/python benchmarks/robustness.py --seeds 0 1 --modes phantom \\
        --chapters 08 11 --out /tmp/robustness.json

Output: ``benchmarks/results/robustness.json`` (stamped with the command, the
commit, the date, the machine and this script's sha256; a test fails when the
script changes after the file was written) and ``robustness.md`` beside it,
both written to a temporary name and renamed. The exit status is 1 when any
chapter failed or ran in the wrong data mode. Not part of ``make test`` or CI:
it takes about an hour on two cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

from _results import stamp, write_atomic

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = Path(__file__).resolve().parent / "results"
FORMAT = 1  # bump when the JSON layout changes
GLUE_MIME = "application/papermill.record/text/plain"
GLUE_MARKDOWN = "application/papermill.record/text/markdown"


def glued_values(nb) -> dict:
    """Every value a notebook glued (myst-nb's display records), as text.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook.

    Returns
    -------
    dict of str to str
        The last value glued under each name (its ``repr``).
    """
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            data = out.get("data", {})
            # A glued Markdown sentence (a verdict) is recorded as markdown too:
            # its plain-text record is only the object's repr.
            text = data.get(GLUE_MARKDOWN) or data.get(GLUE_MIME)
            if name and text is not None:
                values[name] = text
    return values


def as_number(text: str):
    """The glued text as a float when it is one, else None."""
    text = text.strip()
    for prefix in ("np.float64(", "np.float32(", "np.int64(", "np.int32("):
        if text.startswith(prefix) and text.endswith(")"):
            text = text[len(prefix) : -1]
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def run_chapter(
    path: Path, mode: str, seed: int, data: str | None, timeout: int
) -> dict:
    """Execute one chapter in a fresh kernel; pass/fail, seconds, glued values."""
    import nbclient
    import nbformat

    env_before = dict(os.environ)
    os.environ["CNNGUIDE_SEED"] = str(seed)
    os.environ["CNNGUIDE_OFFLINE"] = "1"
    if mode == "phantom":
        os.environ["CNNGUIDE_PHANTOMS"] = "1"
    else:
        os.environ.pop("CNNGUIDE_PHANTOMS", None)
        if data:
            os.environ["CNNGUIDE_DATA"] = data
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except Exception as exc:  # a failing cell is a result, recorded and reported
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    seconds = time.perf_counter() - start
    glued = glued_values(nb)
    got = glued.get("data_mode", "").strip("'\"")
    if not error and got != mode:
        error = f"ran on {got or 'unreported'} data, not {mode}"
    return {
        "chapter": path.stem,
        "mode": mode,
        "seed": seed,
        "passed": not error,
        "error": error,
        "seconds": round(seconds, 1),
        "glued": glued,
    }


def spreads(runs: list[dict]) -> list[dict]:
    """Per chapter, mode and glued name: the values over seeds and their range."""
    table: dict = {}
    for run in runs:
        for name, text in run["glued"].items():
            key = (run["chapter"], run["mode"], name)
            table.setdefault(key, {})[run["seed"]] = text
    rows = []
    for (chapter, mode, name), by_seed in sorted(table.items()):
        numbers = [as_number(t) for t in by_seed.values()]
        row = {"chapter": chapter, "mode": mode, "name": name, "values": by_seed}
        if all(n is not None for n in numbers) and len(numbers) > 1:
            row["range"] = max(numbers) - min(numbers)
            scale = max(abs(n) for n in numbers) or 1.0
            row["relative_range"] = row["range"] / scale
        elif "verdict" in name or name.endswith(("_vs_random",)):
            row["flips"] = len(set(by_seed.values())) > 1
        rows.append(row)
    return rows


def markdown(report: dict) -> str:
    """The report as a Markdown page: stamp, pass/time table, moved numbers."""
    s = report["stamp"]
    runs = report["runs"]
    lines = [
        "# Robustness sweep: every chapter, several base seeds, both data modes",
        "",
        f"Command: `{s['command']}`  ",
        f"Commit: `{s['commit']}`, {s['date']}  ",
        f"Machine: {s['machine']['cpu']}, {s['machine']['cores']} cores  ",
        f"Script sha256: `{s['script_sha256'][:16]}…`",
        "",
    ]
    cols = sorted({(r["mode"], r["seed"]) for r in runs})
    head = " | ".join(f"{m} {sd}" for m, sd in cols)
    lines += [f"| chapter | {head} |", "|---" * (len(cols) + 1) + "|"]
    for chapter in sorted({r["chapter"] for r in runs}):
        cells = []
        for mode, sd in cols:
            hit = [
                r
                for r in runs
                if (r["chapter"], r["mode"], r["seed"]) == (chapter, mode, sd)
            ]
            if not hit:
                cells.append("")
            else:
                r = hit[0]
                cells.append(
                    ("pass" if r["passed"] else "FAIL") + f" {r['seconds']:.0f} s"
                )
        lines.append(f"| {chapter} | " + " | ".join(cells) + " |")
    failed = [r for r in runs if not r["passed"]]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [
            f"- {r['chapter']} ({r['mode']}, seed {r['seed']}): {r['error']}"
            for r in failed
        ]
    flips = [r for r in report["spreads"] if r.get("flips")]
    lines += ["", "## Verdicts that differ between seeds", ""]
    lines += [
        f"- {r['chapter']} ({r['mode']}) `{r['name']}`: "
        + "; ".join(f"seed {k}: {v}" for k, v in r["values"].items())
        for r in flips
    ] or ["- none"]
    moved = sorted(
        (r for r in report["spreads"] if "relative_range" in r),
        key=lambda r: -r["relative_range"],
    )[:25]
    lines += [
        "",
        "## The numbers that moved most (range over seeds / largest |value|)",
        "",
        "| chapter | mode | name | values by seed | range |",
        "|---|---|---|---|---|",
    ]
    for r in moved:
        vals = ", ".join(f"{as_number(v):.4g}" for v in r["values"].values())
        lines.append(
            f"| {r['chapter']} | {r['mode']} | `{r['name']}` | {vals} "
            f"| {r['range']:.4g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--modes", nargs="+", default=["real", "phantom"], choices=["real", "phantom"]
    )
    parser.add_argument(
        "--chapters",
        nargs="+",
        default=None,
        help="chapter number prefixes, e.g. 08 11 (default: all)",
    )
    parser.add_argument(
        "--data",
        default=os.environ.get("CNNGUIDE_DATA"),
        help="folder with pneumoniamnist.npz (real mode)",
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=RESULTS / "robustness.json")
    args = parser.parse_args(argv)

    if "real" in args.modes:
        from cnnguide.data import locate

        where = locate(28, args.data)
        if not where.found:
            parser.error(
                "the real mode needs PneumoniaMNIST: pass --data FOLDER "
                "or set CNNGUIDE_DATA (or run --modes phantom)"
            )
        args.data = str(where.path.parent)
    chapters = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.chapters:
        chapters = [c for c in chapters if c.name[:2] in set(args.chapters)]
    runs = []
    # Seed by seed, both modes each: the first minutes try every chapter once.
    for seed in args.seeds:
        for mode in args.modes:
            for path in chapters:
                run = run_chapter(path, mode, seed, args.data, args.timeout)
                runs.append(run)
                print(
                    f"{run['chapter']:40s} {mode:8s} seed {seed}: "
                    f"{'pass' if run['passed'] else 'FAIL ' + run['error']}"
                    f" ({run['seconds']:.0f} s)",
                    flush=True,
                )
    command = " ".join(
        [
            "python",
            "benchmarks/robustness.py",
            *map(shlex.quote, (argv if argv is not None else sys.argv[1:])),
        ]
    )
    report = {
        "format": FORMAT,
        "stamp": stamp(Path(__file__), command),
        "runs": runs,
        "spreads": spreads(runs),
    }
    write_atomic(args.out, json.dumps(report, indent=1, sort_keys=False) + "\n")
    write_atomic(args.out.with_suffix(".md"), markdown(report))
    print(f"wrote {args.out} and {args.out.with_suffix('.md').name}")
    return 0 if all(r["passed"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
