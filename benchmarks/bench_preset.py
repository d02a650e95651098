"""Score, time and memory of the ensemble preset on PneumoniaMNIST (28×28).

Trains ``TrainConfig.preset("best")`` (every choice made on validation; see
``benchmarks/search_recipes.py``) three times, each with different seeds for the whole
ensemble and in a fresh process so that its time and peak memory are its own, and
prints per repetition and on average: test ROC-AUC with its bootstrap 95 % interval;
accuracy, recall and specificity at the threshold chosen on the (cleaned) validation
split; validation ROC-AUC with and without the copies of training images; training
seconds and peak RSS. Then the published results and the targets.

Usage::

    python benchmarks/bench_preset.py                   # seeds 0, 100, 200 (~25 min)
    python benchmarks/bench_preset.py --seeds 0 --epochs 2   # a quick look

Needs the real data (``CNNGUIDE_DATA``, or a network for the download); without it
the rows are on phantoms and say so. Targets: mean test ROC-AUC >= 0.985 and accuracy
>= 0.94 at recall >= 0.95 (Google AutoML Vision: 0.991 / 0.946); each repetition
trained in at most 10 minutes on 2 cores with peak RSS at most 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import sys

from _child import run_child
from _results import RESULTS
from bench_training import ANCHORS

CHILD = r"""
import json, resource, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
from cnnguide.data import load_dataset
from cnnguide.train import TrainConfig, train
args = json.loads(sys.argv[2])
overrides = {"seed": args["seed"]}
if args.get("epochs"):
    overrides["epochs"] = args["epochs"]
config = TrainConfig.preset("best", **overrides)
result = train(
    config, load_dataset(config.image_size), n_boot=1000, score_test=True
)
card = result.card
print("RESULT " + json.dumps({
    "seed": args["seed"], "real": card["data"]["is_real"],
    "members": len(card.get("members", [])) or 1, "epochs": card["epochs_run"],
    "seconds": card["training_seconds"], "threshold": card["threshold"],
    "val_auc": card["validation"]["roc_auc"],
    "val_auc_all": card.get("validation_with_duplicates", card["validation"])["roc_auc"],
    "dropped": card["data"].get("validation_duplicates_dropped", 0),
    "auc": card["test"]["roc_auc"], "auc_ci": card["test"]["roc_auc_ci"],
    "acc": card["test"]["accuracy"], "recall": card["test"]["recall"],
    "spec": card["test"]["specificity"],
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

BUDGET_S = 600
BUDGET_MIB = 2048


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seeds",
        default="0,100,200",
        help="first seed of each repetition's ensemble (default 0,100,200)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="most epochs per member"
    )
    opts = parser.parse_args(argv)
    rows = []
    for seed in [int(s) for s in opts.seeds.split(",") if s.strip()]:
        row = run_child(CHILD, {"seed": seed, "epochs": opts.epochs})
        rows.append(row)
        print(f"seeds {seed}..: done in {row['seconds']:.0f} s", flush=True)

    data = (
        "PneumoniaMNIST"
        if all(r["real"] for r in rows)
        else "SYNTHETIC PHANTOMS (not X-rays)"
    )
    print(
        f"\nPreset 'best' ({rows[0]['members']} members), 28×28, {data}; threshold "
        f"chosen on validation without its {rows[0]['dropped']} copies of training "
        "images (recall >= 0.95)"
    )
    header = (
        f"{'seeds':>6} {'val AUC':>8} {'(+dups)':>8} {'test AUC':>8} {'95% CI':>15} "
        f"{'acc':>6} {'recall':>6} {'spec':>6} {'train s':>8} {'peak MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ci = f"[{r['auc_ci'][0]:.3f}, {r['auc_ci'][1]:.3f}]"
        print(
            f"{r['seed']:>6} {r['val_auc']:>8.4f} {r['val_auc_all']:>8.4f} "
            f"{r['auc']:>8.4f} {ci:>15} {r['acc']:>6.3f} {r['recall']:>6.3f} "
            f"{r['spec']:>6.3f} {r['seconds']:>8.0f} {r['peak_mib']:>8.0f}"
        )
    keys = ("val_auc", "val_auc_all", "auc", "acc", "recall", "spec", "seconds")
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    print(
        f"{'mean':>6} {mean['val_auc']:>8.4f} {mean['val_auc_all']:>8.4f} "
        f"{mean['auc']:>8.4f} {'':>15} {mean['acc']:>6.3f} {mean['recall']:>6.3f} "
        f"{mean['spec']:>6.3f} {mean['seconds']:>8.0f} "
        f"{max(r['peak_mib'] for r in rows):>8.0f}"
    )

    if opts.epochs is None:  # a quick look trains another recipe than the study's
        study_comparison(rows)
    print("\nPublished results on the same test split:")
    print(f"{'model':<40} {'AUC':>6} {'ACC':>6}")
    for name, auc, acc in ANCHORS:
        acc_text = "n/a" if acc is None else f"{acc:.3f}"
        print(f"{name:<40} {auc:>6.3f} {acc_text:>6}")
    print("(their ACC is at threshold 0.5, with no recall constraint)")

    targets = {
        "mean test ROC-AUC >= 0.985": (mean["auc"] >= 0.985, f"{mean['auc']:.4f}"),
        "mean accuracy >= 0.94 at recall >= 0.95": (
            mean["acc"] >= 0.94 and mean["recall"] >= 0.95,
            f"{mean['acc']:.3f} at {mean['recall']:.3f}",
        ),
        f"each repetition <= {BUDGET_S} s": (
            all(r["seconds"] <= BUDGET_S for r in rows),
            f"max {max(r['seconds'] for r in rows):.0f} s",
        ),
        f"peak RSS <= {BUDGET_MIB} MiB": (
            all(r["peak_mib"] <= BUDGET_MIB for r in rows),
            f"max {max(r['peak_mib'] for r in rows):.0f} MiB",
        ),
    }
    print("\nTargets:")
    for name, (ok, value) in targets.items():
        print(f"  [{'met' if ok else 'NOT met'}] {name}: {value}")
    return 0


def study_comparison(rows: list) -> None:
    """The model-selection study's test figures for the same recipe and seeds, if any.

    When the study confirmed no option, its final recipe is this preset, trained with
    the same seeds: on the machine and thread count of its stamp, the figures match.
    """
    path = RESULTS / "model_selection.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    final = results.get("final")
    if not final or final["options"]:
        return  # no final stage yet, or its recipe is not the preset
    study = final["recipes"]["preset"]
    theirs = dict(zip(study["seeds"], study["test_auc"]))
    stamp = results["stamp"]
    print(
        "\nThe model-selection study's final recipe is this preset; its test "
        f"ROC-AUC from {path.name} (commit {stamp['commit'][:7]}, "
        f"{stamp['machine']['cpu']}, {stamp['machine']['cores']} cores) beside this run's:"
    )
    for r in rows:
        if r["seed"] in theirs:
            print(
                f"  seeds {r['seed']}..: study {theirs[r['seed']]:.4f}, "
                f"this run {r['auc']:.4f}"
            )


if __name__ == "__main__":
    sys.exit(main())
