"""Score and speed of the book's recommended network on PneumoniaMNIST (28×28).

Trains ``TrainConfig()`` (the recipe of the training chapter) once per seed, each in a
fresh process so that its time and peak memory are its own, and prints per seed and on
average: test ROC-AUC (with its bootstrap 95 % interval), accuracy, recall and specificity
at the threshold chosen on the validation split (highest threshold keeping validation
recall >= 0.95), training seconds and peak RSS; then the published results on the same
test split. A short run at 128×128 on synthetic phantoms reports the peak memory there.

Usage::

    python benchmarks/bench_training.py                 # seeds 0,1,2, the default epochs
    python benchmarks/bench_training.py --seeds 0 --epochs 3   # a quick look

Needs the real data (``CNNGUIDE_DATA`` pointing at the folder with pneumoniamnist.npz,
or a network for the download); without it the 28×28 rows are on phantoms and say so.
Targets: mean test ROC-AUC >= 0.985, accuracy >= 0.94 at recall >= 0.95, each seed
trained in at most 5 minutes on 2 cores, peak RSS at most 2 GiB at 28×28.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from _child import run_child


# Published results on the same PneumoniaMNIST test split (624 images).
ANCHORS = [
    ("MedMNIST v2 ResNet-50 (224)", 0.962, 0.884),
    ("MedMNIST v2 AutoKeras", 0.947, 0.878),
    ("MedMNIST v2 Google AutoML Vision", 0.991, 0.946),
    ("Kermany et al. 2018 (full resolution)", 0.968, None),
]

CHILD = r"""
import json, resource, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
from cnnguide.data import load_dataset
from cnnguide.train import TrainConfig, train
args = json.loads(sys.argv[2])
if args.get("phantoms"):
    ds = load_dataset(args["size"], allow_phantoms=True, n_phantoms=args["phantoms"])
else:
    ds = load_dataset(args["size"])
overrides = {"seed": args["seed"], "image_size": args["size"]}
if args.get("epochs"):
    overrides["epochs"] = args["epochs"]
config = TrainConfig(**overrides)
result = train(config, ds, n_boot=1000, score_test=True)
card = result.card
print("RESULT " + json.dumps({
    "seed": args["seed"], "real": card["data"]["is_real"], "epochs": card["epochs_run"],
    "best_epoch": card["best_epoch"], "seconds": card["training_seconds"],
    "threshold": card["threshold"], "val_auc": card["validation"]["roc_auc"],
    "auc": card["test"]["roc_auc"], "auc_ci": card["test"]["roc_auc_ci"],
    "acc": card["test"]["accuracy"], "recall": card["test"]["recall"],
    "spec": card["test"]["specificity"],
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _run(args: dict) -> dict:
    if args.get("phantoms"):  # no real data anywhere: the phantoms stand in
        with tempfile.TemporaryDirectory() as empty:
            return run_child(
                CHILD,
                args,
                env={"CNNGUIDE_OFFLINE": "1", "CNNGUIDE_CACHE": empty},
                drop_env=("CNNGUIDE_DATA",),
            )
    return run_child(CHILD, args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seeds",
        default="0,1,2",
        help="comma-separated seeds (default 0,1,2); empty: only the 128×128 run",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="most epochs per seed (default: TrainConfig's)",
    )
    parser.add_argument(
        "--skip-128", action="store_true", help="skip the 128×128 memory run"
    )
    opts = parser.parse_args(argv)
    seeds = [int(s) for s in opts.seeds.split(",") if s.strip()]

    if seeds:
        _report_28(seeds, opts.epochs)
    if not opts.skip_128:
        big = _run(
            {
                "seed": 0,
                "size": 128,
                "epochs": 1,
                "phantoms": {"train": 600, "val": 100, "test": 100},
            }
        )
        print(
            f"\n128×128 phantoms, 1 epoch on 600 images: {big['seconds']:.0f} s, "
            f"peak RSS {big['peak_mib']:.0f} MiB"
        )
    return 0


def _report_28(seeds, epochs) -> None:
    rows = []
    for seed in seeds:
        row = _run({"seed": seed, "size": 28, "epochs": epochs})
        rows.append(row)
        print(f"seed {seed} done in {row['seconds']:.0f} s", flush=True)

    data = (
        "PneumoniaMNIST"
        if all(r["real"] for r in rows)
        else "SYNTHETIC PHANTOMS (not X-rays)"
    )
    print(
        f"\nRecommended CNN, 28×28, {data}; threshold chosen on validation (recall >= 0.95)"
    )
    header = (
        f"{'seed':>6} {'epochs':>6} {'val AUC':>8} {'test AUC':>8} {'95% CI':>15} "
        f"{'acc':>6} {'recall':>6} {'spec':>6} {'train s':>8} {'peak MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ci = f"[{r['auc_ci'][0]:.3f}, {r['auc_ci'][1]:.3f}]"
        print(
            f"{r['seed']:>6} {r['epochs']:>6} {r['val_auc']:>8.4f} {r['auc']:>8.4f} {ci:>15} "
            f"{r['acc']:>6.3f} {r['recall']:>6.3f} {r['spec']:>6.3f} {r['seconds']:>8.0f} "
            f"{r['peak_mib']:>8.0f}"
        )
    mean = {
        k: sum(r[k] for r in rows) / len(rows)
        for k in ("val_auc", "auc", "acc", "recall", "spec", "seconds")
    }
    print(
        f"{'mean':>6} {'':>6} {mean['val_auc']:>8.4f} {mean['auc']:>8.4f} {'':>15} "
        f"{mean['acc']:>6.3f} {mean['recall']:>6.3f} {mean['spec']:>6.3f} {mean['seconds']:>8.0f} "
        f"{max(r['peak_mib'] for r in rows):>8.0f}"
    )

    print("\nPublished results on the same test split:")
    print(f"{'model':<40} {'AUC':>6} {'ACC':>6}")
    for name, auc, acc in ANCHORS:
        acc_text = "n/a" if acc is None else f"{acc:.3f}"
        print(f"{name:<40} {auc:>6.3f} {acc_text:>6}")
    print(
        "(their ACC is at threshold 0.5, with no recall constraint; ours keeps recall >= 0.95)"
    )

    targets = {
        "mean test ROC-AUC >= 0.985": mean["auc"] >= 0.985,
        "mean accuracy >= 0.94 at recall >= 0.95": mean["acc"] >= 0.94
        and mean["recall"] >= 0.95,
        "each seed <= 300 s": all(r["seconds"] <= 300 for r in rows),
        "peak RSS <= 2048 MiB at 28×28": all(r["peak_mib"] <= 2048 for r in rows),
    }
    print("\nTargets:")
    for name, ok in targets.items():
        print(f"  [{'met' if ok else 'NOT met'}] {name}")


if __name__ == "__main__":
    sys.exit(main())
