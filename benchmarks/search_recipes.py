"""Which training recipe? A search scored on the validation split only.

The book's recipe (``TrainConfig()``) was chosen without looking at the test split, and
this script shows the evidence: it trains the recipe and a handful of principled
alternatives (the chapter's shorter run, wider, stronger intensity augmentation, no label
smoothing, more dropout, bigger batches) on PneumoniaMNIST at 28×28 and scores each on
the **validation** split.
The test split is never scored here: each run gets a dataset whose ``test`` entry is the
validation split, so nothing in this search can leak the test labels.

It prints, per recipe: validation ROC-AUC, the number of mis-ranked (normal, pneumonia)
pairs behind it, validation log-loss, accuracy and specificity at the threshold keeping
validation recall >= 0.95 (optimistic: chosen and scored on the same split), epochs and
training seconds. A recipe run with several seeds gets one more row: the mean of its
seeds' scores (a seed ensemble). Each run is a fresh process, so its time is its own.

Usage::

    python benchmarks/search_recipes.py               # every recipe (about 35 minutes)
    python benchmarks/search_recipes.py --only recipe wider

Not part of ``make bench`` (it is a study, not a speed or score measurement of the book's
model). Needs the real data (``CNNGUIDE_DATA``); on phantoms it says so.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from _child import run_child

ROOT = Path(__file__).resolve().parents[1]

#: name -> (TrainConfig overrides, seeds)
RECIPES = {
    "recipe": ({}, (0, 1, 2)),
    "chapter's run (15 epochs)": ({"epochs": 15, "patience": 4}, (0, 1, 2)),
    "wider 32/64/128": ({"widths": [32, 64, 128], "epochs": 20}, (0,)),
    "contrast 0.3 + brightness 0.15": ({"contrast": 0.3, "brightness": 0.15}, (0,)),
    "no label smoothing": ({"label_smoothing": 0.0}, (0,)),
    "dropout 0.5": ({"dropout": 0.5}, (0,)),
    "batch 128, lr 2e-3": ({"batch_size": 128, "learning_rate": 2e-3}, (0,)),
}

CHILD = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
from cnnguide.data import Dataset, load_dataset
from cnnguide.train import TrainConfig, train
args = json.loads(sys.argv[2])
real = load_dataset(28)
# The test entry is the validation split: this search cannot see the test labels.
blind = Dataset(name=real.name, splits={"train": real["train"], "val": real["val"], "test": real["val"]},
                class_names=real.class_names, source=real.source, citation=real.citation,
                is_real=real.is_real)
result = train(TrainConfig(**args["overrides"], seed=args["seed"]), blind, n_boot=10)
np.save(args["scores"], result.scores["val"])
card = result.card
print("RESULT " + json.dumps({"real": card["data"]["is_real"], "epochs": card["epochs_run"],
                              "seconds": card["training_seconds"]}))
"""


def _run(overrides: dict, seed: int, scores_path: Path) -> dict:
    return run_child(
        CHILD, {"overrides": overrides, "seed": seed, "scores": str(scores_path)}
    )


def _validation_row(y_val, scores) -> dict:
    from sklearn.metrics import log_loss, roc_auc_score

    from cnnguide.metrics import binary_metrics, choose_threshold

    auc = roc_auc_score(y_val, scores)
    at = binary_metrics(y_val, scores, choose_threshold(y_val, scores, min_recall=0.95))
    pairs = int(np.sum(y_val == 0)) * int(np.sum(y_val == 1))
    return {
        "auc": auc,
        "misranked": round((1 - auc) * pairs),
        "logloss": log_loss(y_val, np.clip(scores, 1e-7, 1 - 1e-7)),
        "acc": at["accuracy"],
        "spec": at["specificity"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="recipe names (or their first words) to run; default: all",
    )
    opts = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from cnnguide.data import load_dataset

    dataset = load_dataset(28)
    y_val = np.asarray(dataset["val"].labels).reshape(-1)
    chosen = {
        name: spec
        for name, spec in RECIPES.items()
        if not opts.only or any(name.startswith(o) for o in opts.only)
    }

    header = (
        f"{'recipe':<44} {'seed':>5} {'val AUC':>8} {'misranked':>9} {'logloss':>8} "
        f"{'acc':>6} {'spec':>6} {'epochs':>6} {'train s':>8}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (overrides, seeds) in chosen.items():
            all_scores = []
            for seed in seeds:
                path = Path(tmp) / f"{len(rows)}.npy"
                run = _run(overrides, seed, path)
                scores = np.load(path)
                all_scores.append(scores)
                rows.append(
                    {
                        "name": name,
                        "seed": seed,
                        **run,
                        **_validation_row(y_val, scores),
                    }
                )
                print(
                    f"{name}, seed {seed}: done in {run['seconds']:.0f} s", flush=True
                )
            if len(seeds) > 1:
                ensemble = np.mean(all_scores, axis=0)
                rows.append(
                    {
                        "name": f"{name}: mean of {len(seeds)} seeds",
                        "seed": "-",
                        "epochs": "-",
                        "seconds": sum(r["seconds"] for r in rows[-len(seeds) :]),
                        **_validation_row(y_val, ensemble),
                    }
                )

    data = "PneumoniaMNIST" if dataset.is_real else "SYNTHETIC PHANTOMS (not X-rays)"
    print(
        f"\n28×28 {data}, scored on the VALIDATION split ({len(y_val)} images); "
        "the test split is not used"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['name']:<44} {r['seed']!s:>5} {r['auc']:>8.4f} {r['misranked']:>9} {r['logloss']:>8.4f} "
            f"{r['acc']:>6.3f} {r['spec']:>6.3f} {r['epochs']!s:>6} {r['seconds']:>8.0f}"
        )
    print(
        "(log-loss is higher with label smoothing, which pulls scores away from 0 and 1)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
