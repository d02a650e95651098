"""Every remedy of chapter 9 over five seeds at equal optimiser steps.

The chapter compares the core remedies (none, class weights, focal loss, random
over- and undersampling) over five seeds in the build; this script runs all ten
remedies of :data:`cnnguide.imbalance.METHODS` the same way
(:func:`cnnguide.imbalance.compare_over_seeds`: each seed its own subset,
samplers, weights and order; every model the same number of steps; validation
only) and writes ``benchmarks/results/imbalance.json``, stamped.

Usage::

    CNNGUIDE_DATA=../shared/data python benchmarks/bench_imbalance.py
    python benchmarks/bench_imbalance.py --seeds 0 1 --steps 60   # a quick look

About 4 minutes on 2 cores for five seeds. Without the real data the rows are on
phantoms, and the file says so (``data_mode``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from pathlib import Path

from _results import RESULTS, stamp, write_atomic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--out", type=Path, default=RESULTS / "imbalance.json")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from cnnguide import imbalance as im
    from cnnguide.data import load_dataset

    dataset = load_dataset(28)
    study = im.compare_over_seeds(
        dataset, args.seeds, steps=args.steps, n_train=args.n_train
    )
    for run in study["runs"]:
        run.pop("scores")
    command = " ".join(
        ["python", "benchmarks/bench_imbalance.py"]
        + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])]
    )
    report = {
        "stamp": stamp(Path(__file__), command),
        "data_mode": "real" if dataset.is_real else "phantom",
        **study,
    }
    write_atomic(args.out, json.dumps(report, indent=1) + "\n")
    print(f"{'method':15s} {'ROC-AUC':>16s} {'spec@recall':>16s}  verdicts vs none")
    for row in study["summary"]:
        print(
            f"{row['method']:15s} {row['roc_auc_mean']:.3f} ± {row['roc_auc_sd']:.3f}"
            f"    {row['specificity_mean']:.3f} ± {row['specificity_sd']:.3f}   "
            f"{row.get('roc_auc_verdict', '')} / {row.get('specificity_verdict', '')}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
