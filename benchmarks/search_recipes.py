"""Which training recipe, which preset? Searches scored on the validation split only.

Two studies, both blind to the test split:

* the preset study (the default): the evidence behind ``TrainConfig.preset("best")``.
  It trains the recipe from five seeds, with and without an exponential moving average
  of the weights (EMA, momentum 0.99), on a validation split cleaned of the images that
  duplicate training images, and scores on that cleaned split: one network and
  ensembles of 2 to 5 members, each with and without test-time augmentation (TTA). It
  also reports the validation score with the duplicates left in. It ends with the
  choice for each option and the numbers behind it: the fewest members within
  ``TOLERANCE_PAIRS`` mis-ranked pairs of the best size (members cost training time),
  then TTA and EMA each kept only if they raise validation AUC at that size (about 20
  minutes).
* ``--recipes``: single-model recipes (below).

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

    python benchmarks/search_recipes.py               # the preset study (~20 minutes)
    python benchmarks/search_recipes.py --recipes     # every recipe (about 35 minutes)
    python benchmarks/search_recipes.py --recipes --only recipe wider

Not part of ``make bench`` (it is a study, not a speed or score measurement of the book's
model). Needs the real data (``CNNGUIDE_DATA``); on phantoms it says so.
"""

from __future__ import annotations

import argparse
import json
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


PRESET_CHILD = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
from cnnguide.data import Dataset, load_dataset
from cnnguide.ensemble import build_ensemble
from cnnguide.models import predict_proba
from cnnguide.train import TrainConfig, train
args = json.loads(sys.argv[2])
real = load_dataset(28)
# The test entry is the validation split: this search cannot see the test labels.
blind = Dataset(name=real.name, splits={"train": real["train"], "val": real["val"],
                "test": real["val"]}, class_names=real.class_names, source=real.source,
                citation=real.citation, is_real=real.is_real)
config = TrainConfig(**args["overrides"], seed=args["seed"], clean_validation=True)
result = train(config, blind, n_boot=10)
x_val = real["val"].images
np.save(args["plain"], predict_proba(result.model, x_val))
np.save(args["tta"], predict_proba(build_ensemble([result.model], tta=True), x_val))
card = result.card
print("RESULT " + json.dumps({"real": card["data"]["is_real"], "epochs": card["epochs_run"],
                              "seconds": card["training_seconds"]}))
"""

#: The preset study: name -> TrainConfig overrides, each trained from these seeds.
PRESET_VARIANTS = {"recipe": {}, "recipe + EMA 0.99": {"ema": 0.99}}
PRESET_SEEDS = (0, 1, 2, 3, 4)
ENSEMBLE_SIZES = (1, 2, 3, 4, 5)
#: Members cost training time: the preset takes the fewest members whose validation
#: AUC is within this many mis-ranked (normal, pneumonia) pairs of the best size's.
TOLERANCE_PAIRS = 10


def _auc(y, scores) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def preset_study(scratch: Path) -> int:
    """Train the variants, print the validation table and the choices it supports."""
    from cnnguide.data import find_duplicates, load_dataset

    dataset = load_dataset(28)
    y_all = np.asarray(dataset["val"].labels).reshape(-1)
    copies = sorted(
        {j for _, j in find_duplicates(dataset.train.images, dataset.val.images)}
    )
    keep = np.setdiff1d(np.arange(len(y_all)), copies)
    y_val = y_all[keep]
    runs = {}
    for name, overrides in PRESET_VARIANTS.items():
        for seed in PRESET_SEEDS:
            paths = {k: scratch / f"{name}-{seed}-{k}.npy" for k in ("plain", "tta")}
            done = scratch / f"{name}-{seed}.json"
            if done.is_file() and all(v.is_file() for v in paths.values()):
                run = json.loads(done.read_text())
                run.update({k: np.load(v) for k, v in paths.items()})
                runs[(name, seed)] = run
                continue
            run = run_child(
                PRESET_CHILD,
                {
                    "overrides": overrides,
                    "seed": seed,
                    **{k: str(v) for k, v in paths.items()},
                },
            )
            done.write_text(json.dumps(run))
            run.update({k: np.load(v) for k, v in paths.items()})
            runs[(name, seed)] = run
            print(
                f"{name}, seed {seed}: {run['epochs']} epochs in {run['seconds']:.0f} s",
                flush=True,
            )

    data = "PneumoniaMNIST" if dataset.is_real else "SYNTHETIC PHANTOMS (not X-rays)"
    pairs = int(np.sum(y_val == 0)) * int(np.sum(y_val == 1))
    print(
        f"\n28×28 {data}; VALIDATION split without its {len(copies)} copies of training "
        f"images ({len(y_val)} images, {pairs} normal/pneumonia pairs); test not used."
    )
    first = runs[("recipe", PRESET_SEEDS[0])]["plain"]
    print(
        f"Duplicates: one network (recipe, seed {PRESET_SEEDS[0]}) scores validation AUC "
        f"{_auc(y_all, first):.4f} with the copies, {_auc(y_val, first[keep]):.4f} without."
    )
    header = f"{'variant':<20} {'members':>7} {'TTA':>4} {'val AUC':>8} {'misranked':>9} {'train s':>8}"
    print(header)
    print("-" * len(header))
    table = {}
    for name in PRESET_VARIANTS:
        for size in ENSEMBLE_SIZES:
            seeds = PRESET_SEEDS[:size]
            if size == 1:  # one network: the mean over the seeds
                seconds = np.mean([runs[(name, s)]["seconds"] for s in PRESET_SEEDS])
            else:
                seconds = sum(runs[(name, s)]["seconds"] for s in seeds)
            for tta in (False, True):
                scores = np.mean(
                    [runs[(name, s)]["tta" if tta else "plain"] for s in seeds], axis=0
                )
                auc = _auc(y_val, scores[keep])
                if size == 1:  # one network: the mean over the seeds of each alone
                    auc = float(
                        np.mean(
                            [
                                _auc(
                                    y_val,
                                    runs[(name, s)]["tta" if tta else "plain"][keep],
                                )
                                for s in PRESET_SEEDS
                            ]
                        )
                    )
                table[(name, size, tta)] = auc
                print(
                    f"{name:<20} {size:>7} {'yes' if tta else 'no':>4} {auc:>8.4f} "
                    f"{round((1 - auc) * pairs):>9} {seconds:>8.0f}"
                )
    print(
        "(members = 1: the mean AUC of the five networks alone; train s: summed over members)"
    )

    # One option at a time, each on the mean gain over every ensemble size.
    ema_gain = np.mean(
        [
            table[("recipe + EMA 0.99", k, False)] - table[("recipe", k, False)]
            for k in ENSEMBLE_SIZES
        ]
    )
    variant = "recipe + EMA 0.99" if ema_gain > 0 else "recipe"
    tta_gain = np.mean(
        [table[(variant, k, True)] - table[(variant, k, False)] for k in ENSEMBLE_SIZES]
    )
    tta = bool(tta_gain > 0)
    best = max(table[(variant, k, tta)] for k in ENSEMBLE_SIZES)
    size = min(
        k
        for k in ENSEMBLE_SIZES
        if (best - table[(variant, k, tta)]) * pairs <= TOLERANCE_PAIRS
    )
    print("\nChoices (validation only), one option at a time:")
    print(
        f"  EMA: {'kept' if ema_gain > 0 else 'left out'} ({ema_gain:+.4f} AUC on average "
        "over the ensemble sizes, without TTA)"
    )
    print(
        f"  TTA: {'kept' if tta else 'left out'} ({tta_gain:+.4f} AUC on average over "
        f"the ensemble sizes, {variant})"
    )
    print(
        f"  members: {size}, the fewest within {TOLERANCE_PAIRS} mis-ranked pairs of the "
        "best ("
        + ", ".join(f"{k}: {table[(variant, k, tta)]:.4f}" for k in ENSEMBLE_SIZES)
        + ")"
    )
    print(
        f"  so: TrainConfig.preset('best') = members={size}, tta={tta}, "
        f"ema={0.99 if ema_gain > 0 else 0.0}, clean_validation=True"
    )
    print(
        f"  clean validation: kept (it removes {len(copies)} images the model has seen)"
    )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--recipes",
        action="store_true",
        help="the single-model recipe study instead of the preset study",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="with --recipes: recipe names (or their first words); default: all",
    )
    parser.add_argument(
        "--scratch",
        help="preset study: folder that keeps each run's scores (rerun: reused)",
    )
    opts = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from cnnguide.data import load_dataset

    if not opts.recipes:
        if opts.scratch:  # kept: a second call reuses the finished runs
            Path(opts.scratch).mkdir(parents=True, exist_ok=True)
            return preset_study(Path(opts.scratch))
        with tempfile.TemporaryDirectory() as scratch:
            return preset_study(Path(scratch))

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
