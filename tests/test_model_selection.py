"""benchmarks/model_selection.py: the pre-registered rule, applied as written."""

from __future__ import annotations

import numpy as np
import pytest

from script_loader import load_script

study = load_script("benchmarks/model_selection.py")


def row(name, clean, shift, seed=0, seconds=100.0, peak=1000):
    return {
        "name": name,
        "seed": seed,
        "auc_clean": clean,
        "auc_shift": shift,
        "within_budget": seconds <= study.BUDGET_S and peak <= study.BUDGET_MIB,
    }


def test_every_preregistered_option_is_a_field_of_the_training_config():
    from cnnguide.train import TrainConfig

    fields = set(TrainConfig().to_dict())
    for name, change in study.OPTIONS.items():
        assert set(change) <= fields, name
        TrainConfig.preset("best", **study.BASE, **change)  # valid


def test_screening_passes_options_better_on_shift_not_worse_on_clean():
    rows = [
        row("base", 0.997, 0.950),
        row("a", 0.997, 0.960),  # better on shift: passes
        row("b", 0.990, 0.990),  # better on shift, but clean drops 0.007: fails
        row("c", 0.998, 0.940),  # worse on shift: fails
        row("d", 0.996, 0.970),  # within the clean tolerance: passes, ranks first
        row("e", 0.999, 0.999, seconds=900),  # over the time budget: fails
    ]
    assert study.screening_choice(rows) == ["d", "a"]


def test_an_option_is_confirmed_only_when_its_paired_interval_is_above_zero():
    base = [row("base", 0.997, s, seed=k) for k, s in enumerate([0.95, 0.96, 0.94])]
    steady = [row("a", 0.997, s, seed=k) for k, s in enumerate([0.96, 0.97, 0.95])]
    noisy = [row("b", 0.997, s, seed=k) for k, s in enumerate([0.99, 0.95, 0.93])]
    out = study.confirmed(base + steady + noisy)
    assert out["a"]["confirmed"] and out["a"]["seeds"] == [0, 1, 2]
    assert not out["b"]["confirmed"]


def test_paired_bootstrap_over_films_and_seeds():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.6).astype(int)
    weak = y + rng.normal(0, 1.0, (3, 300))
    strong = y + rng.normal(0, 0.4, (3, 300))
    better = study.paired_bootstrap(y, strong, weak, n_boot=100)
    assert (
        better["above_zero"] and better["low"] < better["difference"] < better["high"]
    )
    same = study.paired_bootstrap(y, weak, weak, n_boot=20)
    assert same["difference"] == 0 and not same["above_zero"]


class _Split:
    def __init__(self, labels):
        self.labels = np.asarray(labels)


def test_final_summary_scores_both_recipes_and_the_paired_difference():
    rng = np.random.default_rng(1)
    y = (rng.random(200) < 0.6).astype(int)
    dataset = {"test": _Split(y), "val": _Split(np.r_[np.ones(3), np.zeros(1)])}

    def run(name, seed, noise):
        scores = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, noise, 200))))
        from cnnguide.metrics import binary_metrics
        from sklearn.metrics import roc_auc_score

        test = {**binary_metrics(y, scores, 0.5), "roc_auc": roc_auc_score(y, scores)}
        return {
            "name": name,
            "seed": seed,
            "threshold": 0.5,
            "test": test,
            "test_scores": scores.tolist(),
            "seconds": 1.0,
            "peak_mib": 1,
        }

    rows = [
        run(n, s, 0.6 if n == "final" else 1.5)
        for s in (0, 1)
        for n in ("preset", "final")
    ]
    out = study.final_summary(rows, dataset, ["mixup-0.2"], n_boot=100)
    assert set(out["recipes"]) == {"preset", "final"}
    assert (
        out["recipes"]["final"]["spread"]["mean"]
        > out["recipes"]["preset"]["spread"]["mean"]
    )
    point = out["recipes"]["final"]["operating_point"][0]
    assert point["accuracy_at_validation_prevalence"] == pytest.approx(
        0.75 * point["recall"] + 0.25 * point["specificity"]
    )
    assert out["preset_should_change"] is True
    assert len(out["paired"]["per_seed"]) == 2
    one = study.final_summary(
        rows[:2], dataset, ["mixup-0.2"], n_boot=20
    )  # one seed: no spread
    assert one["recipes"]["final"]["spread"] is None


def test_a_confirmed_option_joins_the_final_recipe_only_within_the_budget():
    """Rule 3 as amended before confirmation: screening time x members <= budget."""
    results = {
        "screen": {
            "rows": [
                {"name": "quick", "seconds": 140.0},
                {"name": "slow", "seconds": 523.0},
                {"name": "unsure", "seconds": 100.0},
            ]
        },
        "confirm": {
            "differences": {
                "quick": {"confirmed": True},
                "slow": {"confirmed": True},
                "unsure": {"confirmed": False},
            }
        },
    }
    assert study.final_options(results, members=4) == (["quick"], ["slow"])
    assert study.final_options(results, members=5) == ([], ["quick", "slow"])
    assert study.final_options(results, members=1) == (["quick", "slow"], [])
