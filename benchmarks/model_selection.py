"""The pre-registered model-selection study (issue 27): choose on validation, test once.

The plan, the candidates and the rule are in ``model_selection_preregistration.md``
beside this script, committed before any training. Three stages, each adding its rows
to ``benchmarks/results/model_selection.json`` (stamped: command, commit, machine):

``screen``
    The base (the preset's member recipe: one network, no test-time augmentation) and
    each option, seed 0: ROC-AUC on clean validation and on its shifted copy.
``confirm``
    The two best options that passed screening (or those named), and the base, with
    seeds 0, 1, 2; the paired difference in shifted-validation ROC-AUC per option.
``final``
    The final recipe that the rule gives (the preset with every confirmed option) and
    the current preset, seeds 0, 100, 200: the test split scored once, mean ROC-AUC,
    the paired bootstrap difference on the same test films, and the operating point
    at the threshold chosen on validation. Refuses to run twice.

Every training runs in a fresh process (its time and peak memory are its own) and
looks at validation only; ``final`` is the only stage that scores test.

Usage::

    CNNGUIDE_DATA=../shared/data python benchmarks/model_selection.py screen
    CNNGUIDE_DATA=../shared/data python benchmarks/model_selection.py confirm
    CNNGUIDE_DATA=../shared/data python benchmarks/model_selection.py final
    python benchmarks/model_selection.py screen --epochs 1 --out /tmp/look.json  # a look

Needs the real data for the study; on phantoms the file says so and the book does not
read it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import ROOT, run_child  # noqa: E402
from _results import RESULTS, stamp, write_atomic  # noqa: E402

OUT = RESULTS / "model_selection.json"
SHIFT_SEED = 2027
BUDGET_S, BUDGET_MIB = 600, 2048
#: The pre-registered options: each a change to the base recipe.
OPTIONS = {
    "corruption-aug": {"contrast": 0.3, "brightness": 0.15, "noise": 0.04},
    "upsample-2": {"upsample": 2},
    "no-early-pool": {"pool_first": False},
    "residual-16": {"residual": True},
    "mixup-0.2": {"mixup": 0.2},
    "unweighted": {"class_weight": None},
}
#: The base of screening and confirmation: the preset's member recipe.
BASE = {"members": 1, "tta": False}
CLEAN_TOLERANCE = 0.002  # screening: clean-validation AUC at most this below the base
SCREEN_SEEDS, CONFIRM_SEEDS, FINAL_SEEDS = (0,), (0, 1, 2), (0, 100, 200)
GOAL_AUC, MOONSHOT_AUC = 0.985, 0.991  # mean test ROC-AUC, set by the issue
#: The rule's numbers, written into the results file (the book shows them from there).
RULE = {
    "clean_tolerance": CLEAN_TOLERANCE,
    "budget_s": BUDGET_S,
    "budget_mib": BUDGET_MIB,
    "screen_seeds": list(SCREEN_SEEDS),
    "confirm_seeds": list(CONFIRM_SEEDS),
    "final_seeds": list(FINAL_SEEDS),
    "shift_seed": SHIFT_SEED,
    "goal_auc": GOAL_AUC,
    "moonshot_auc": MOONSHOT_AUC,
}

CHILD = r"""
import json, resource, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
import numpy as np
from cnnguide.data import load_dataset
from cnnguide.models import predict_proba
from cnnguide.train import TrainConfig, train, evaluate_test
args = json.loads(sys.argv[2])
config = TrainConfig.preset("best", **args["config"])
dataset = load_dataset(config.image_size)
result = train(config, dataset, n_boot=1000)
sets = np.load(args["sets"])
out = {
    "real": bool(dataset.is_real),
    "seconds": result.card["training_seconds"],
    "epochs": result.card["epochs_run"],
    "threshold": result.card["threshold"],
    "clean": predict_proba(result.model, sets["clean"]).tolist(),
    "shifted": predict_proba(result.model, sets["shifted"]).tolist(),
}
if args["score_test"]:
    test = evaluate_test(result, dataset, n_boot=1000)
    out["test"] = test
    out["test_scores"] = predict_proba(result.model, dataset["test"].images).tolist()
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def validation_sets(dataset) -> dict:
    """Clean validation (no exact or near copy of a training film) and its shifted copy."""
    from cnnguide.corruptions import shifted_copy
    from cnnguide.data import find_duplicates

    train_x = dataset["train"].images
    val_x, val_y = dataset["val"].images, dataset["val"].labels
    # the pairs copies_between_splits counts: exact, and near by the calibrated threshold
    exact = find_duplicates(train_x, val_x)
    near = find_duplicates(train_x, val_x, near=True)
    dropped = sorted({j for _, j in exact} | {j for _, j in near})
    keep = np.setdiff1d(np.arange(len(val_y)), dropped)
    shifted, record = shifted_copy(val_x[keep], seed=SHIFT_SEED)
    return {
        "clean": val_x[keep],
        "shifted": shifted,
        "labels": val_y[keep].astype(int),
        "corruption": record["corruption"].astype(str),
        "severity": record["severity"],
        "dropped": len(dropped),
    }


def score(run: dict, sets: dict) -> dict:
    """ROC-AUC on clean and shifted validation, and per corruption on the shifted films."""
    from sklearn.metrics import roc_auc_score

    y = sets["labels"]
    shifted = np.asarray(run["shifted"])
    per = {}
    for name in sorted(set(sets["corruption"])):
        rows = sets["corruption"] == name
        # None where the films of one corruption hold a single class (tiny looks)
        both = len(set(y[rows])) == 2
        per[name] = float(roc_auc_score(y[rows], shifted[rows])) if both else None
    return {
        "auc_clean": float(roc_auc_score(y, run["clean"])),
        "auc_shift": float(roc_auc_score(y, shifted)),
        "auc_per_corruption": per,
    }


def train_once(
    name: str,
    config: dict,
    seed: int,
    sets_file: Path,
    sets: dict,
    *,
    epochs,
    score_test=False,
) -> dict:
    config = {**config, "seed": seed, **({"epochs": epochs} if epochs else {})}
    run = run_child(
        CHILD, {"config": config, "sets": str(sets_file), "score_test": score_test}
    )
    row = {
        "name": name,
        "seed": seed,
        "config": config,
        "real": run["real"],
        "seconds": run["seconds"],
        "epochs": run["epochs"],
        "peak_mib": round(run["peak_mib"]),
        "within_budget": run["seconds"] <= BUDGET_S and run["peak_mib"] <= BUDGET_MIB,
        "threshold": run["threshold"],
        **score(run, sets),
    }
    if score_test:
        row["test"] = run["test"]
        row["test_scores"] = run["test_scores"]
    print(
        f"{name:>16} seed {seed:>3}: clean {row['auc_clean']:.4f} shifted "
        f"{row['auc_shift']:.4f} ({row['seconds']:.0f} s, {row['peak_mib']} MiB)",
        flush=True,
    )
    return row


def screening_choice(rows: list) -> list:
    """Options that passed screening, best first (the pre-registered rule 1)."""
    base = next(r for r in rows if r["name"] == "base")
    passed = [
        r
        for r in rows
        if r["name"] != "base"
        and r["within_budget"]
        and r["auc_shift"] > base["auc_shift"]
        and r["auc_clean"] >= base["auc_clean"] - CLEAN_TOLERANCE
    ]
    return [r["name"] for r in sorted(passed, key=lambda r: -r["auc_shift"])]


def confirmed(rows: list) -> dict:
    """Paired differences in shifted AUC over the confirmation seeds (rule 2)."""
    from cnnguide.metrics import paired_difference

    base = {r["seed"]: r["auc_shift"] for r in rows if r["name"] == "base"}
    out = {}
    for name in sorted({r["name"] for r in rows} - {"base"}):
        mine = {r["seed"]: r["auc_shift"] for r in rows if r["name"] == name}
        seeds = sorted(set(mine) & set(base))
        diff = paired_difference([mine[s] for s in seeds], [base[s] for s in seeds])
        out[name] = {**diff, "seeds": seeds, "confirmed": bool(diff["low"] > 0)}
    return out


def final_options(results: dict, members: int) -> tuple[list, list]:
    """Confirmed options that fit the budget in ``members`` networks, and those too slow.

    Rule 3 as amended before confirmation: an option joins the final recipe only if
    its screening time of one network, times the preset's members, is within budget.
    """
    seconds = {r["name"]: r["seconds"] for r in results["screen"]["rows"]}
    differences = results["confirm"]["differences"]
    confirmed_names = [n for n, d in differences.items() if d["confirmed"]]
    fits = [n for n in confirmed_names if seconds[n] * members <= BUDGET_S]
    return fits, [n for n in confirmed_names if n not in fits]


def paired_bootstrap(y, a, b, *, n_boot=2000, seed=0) -> dict:
    """Mean ROC-AUC of recipe a minus b over seeds, on the same films, with a 95 % interval.

    ``a`` and ``b`` are ``(S, N)`` scores (one row per seed, paired by row). Each
    resample draws films with replacement and scores every model on the same draw,
    so the interval reflects the test films; the seeds are averaged inside it.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    a, b = np.atleast_2d(a), np.atleast_2d(b)

    def mean_diff(i):
        return np.mean(
            [
                roc_auc_score(y[i], sa[i]) - roc_auc_score(y[i], sb[i])
                for sa, sb in zip(a, b)
            ]
        )

    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() != y[i].max():
            diffs.append(mean_diff(i))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        "difference": float(mean_diff(np.arange(len(y)))),
        "low": float(low),
        "high": float(high),
        "above_zero": bool(low > 0),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=["screen", "confirm", "final"])
    parser.add_argument(
        "--options", nargs="*", help="options to run (default: the rule's)"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="most epochs (a quick look)"
    )
    parser.add_argument(
        "--seeds", type=int, nargs="*", help="other seeds than the stage's (a look)"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    opts = parser.parse_args(argv)

    from cnnguide.data import load_dataset
    from cnnguide.train import TrainConfig

    results = json.loads(opts.out.read_text()) if opts.out.is_file() else {"format": 1}
    dataset = load_dataset(28)
    sets = validation_sets(dataset)
    results["validation"] = {
        "clean_films": int(len(sets["labels"])),
        "dropped_copies": int(sets["dropped"]),
        "prevalence": float(sets["labels"].mean()),
        "shift_seed": SHIFT_SEED,
        "real": bool(dataset.is_real),
    }
    results["rule"] = RULE
    results["options"] = OPTIONS
    with tempfile.TemporaryDirectory() as tmp:
        sets_file = Path(tmp) / "sets.npz"
        np.savez(sets_file, clean=sets["clean"], shifted=sets["shifted"])
        run = lambda name, config, seed, **kw: train_once(  # noqa: E731
            name, config, seed, sets_file, sets, epochs=opts.epochs, **kw
        )
        if opts.stage == "screen":
            names = opts.options or list(OPTIONS)
            (seed,) = opts.seeds or SCREEN_SEEDS
            rows = [run("base", BASE, seed)]
            rows += [run(n, {**BASE, **OPTIONS[n]}, seed) for n in names]
            results["screen"] = {"rows": rows, "passed": screening_choice(rows)}
            print("passed screening, best first:", results["screen"]["passed"])
        elif opts.stage == "confirm":
            names = opts.options or results["screen"]["passed"][:2]
            seeds = opts.seeds or CONFIRM_SEEDS
            rows = [run("base", BASE, s) for s in seeds]
            rows += [run(n, {**BASE, **OPTIONS[n]}, s) for n in names for s in seeds]
            results["confirm"] = {"rows": rows, "differences": confirmed(rows)}
            for name, d in results["confirm"]["differences"].items():
                print(
                    f"{name}: {d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] confirmed={d['confirmed']}"
                )
        else:
            if "final" in results and opts.out == OUT:
                raise SystemExit(
                    f"{OUT.relative_to(ROOT)} already holds the test scoring: the test "
                    "split is scored once. Write elsewhere with --out for a look on phantoms."
                )
            chosen, too_slow = opts.options, []
            if chosen is None:
                members = TrainConfig.preset("best").members
                chosen, too_slow = final_options(results, members)
            recipe = {k: v for n in chosen for k, v in OPTIONS[n].items()}
            rows = []
            for s in opts.seeds or FINAL_SEEDS:
                rows.append(run("preset", {}, s, score_test=True))
                if recipe:
                    rows.append(run("final", recipe, s, score_test=True))
            results["final"] = final_summary(rows, dataset, chosen)
            results["final"]["too_slow"] = too_slow
    here = stamp(__file__, " ".join(["python", *sys.argv]))
    for name in ("screen", "confirm", "final"):
        # each stage keeps the stamp of the run that wrote it; the file's is the last
        if name in results and "stamp" not in results[name]:
            results[name]["stamp"] = here if name == opts.stage else results["stamp"]
    results["stamp"] = here
    write_atomic(opts.out, json.dumps(results, indent=1) + "\n")
    print("written:", opts.out)
    return 0


def final_summary(rows: list, dataset, chosen: list, *, n_boot: int = 2000) -> dict:
    """Mean test ROC-AUC per recipe and the paired difference on the same test films."""
    from cnnguide.metrics import accuracy_at_prevalence, seed_spread

    y = dataset["test"].labels
    by = {name: [r for r in rows if r["name"] == name] for name in ("preset", "final")}
    out = {
        "options": chosen,
        "option_changes": {n: OPTIONS[n] for n in chosen},
        "recipes": {},
        "rows": rows,
    }
    for name, runs in by.items():
        if not runs:
            continue
        aucs = [r["test"]["roc_auc"] for r in runs]
        out["recipes"][name] = {
            "seeds": [r["seed"] for r in runs],
            "test_auc": aucs,
            "spread": seed_spread(aucs) if len(aucs) > 1 else None,
            "operating_point": [
                {
                    "threshold": r["threshold"],
                    "recall": r["test"]["recall"],
                    "specificity": r["test"]["specificity"],
                    "accuracy": r["test"]["accuracy"],
                    "accuracy_at_validation_prevalence": accuracy_at_prevalence(
                        y,
                        r["test_scores"],
                        r["threshold"],
                        float(dataset["val"].labels.mean()),
                    ),
                }
                for r in runs
            ],
            "seconds": [r["seconds"] for r in runs],
            "peak_mib": [r["peak_mib"] for r in runs],
        }
    if by["final"]:
        final = [r["test_scores"] for r in by["final"]]
        preset = [r["test_scores"] for r in by["preset"]]
        out["paired"] = {
            "per_seed": [
                paired_bootstrap(y, f, p, n_boot=n_boot // 2, seed=k)
                for k, (f, p) in enumerate(zip(final, preset))
            ],
            "mean_over_seeds": paired_bootstrap(y, final, preset, n_boot=n_boot),
        }
        # the pre-registered rule: the preset follows only above zero
        out["preset_should_change"] = out["paired"]["mean_over_seeds"]["above_zero"]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
