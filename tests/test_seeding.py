"""The one seed knob, the statistical rule for verdicts, and the data mode."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from cnnguide import metrics, prose, seeding
from cnnguide.data import load_dataset
from cnnguide.data import pneumoniamnist as pm


def test_base_seed_shifts_every_offset(monkeypatch):
    monkeypatch.delenv("CNNGUIDE_SEED", raising=False)
    assert [seeding.seed(k) for k in (0, 1, 999)] == [0, 1, 999]
    monkeypatch.setenv("CNNGUIDE_SEED", "3")
    assert [seeding.seed(k) for k in (0, 1, 999)] == [3000, 3001, 3999]
    assert seeding.rng(5).integers(1 << 30) == np.random.default_rng(3005).integers(
        1 << 30
    )


@pytest.mark.parametrize("bad", ["-1", "1.5", "one"])
def test_a_bad_seed_gets_one_clear_error(monkeypatch, bad):
    monkeypatch.setenv("CNNGUIDE_SEED", bad)
    with pytest.raises(ValueError, match="CNNGUIDE_SEED=.*whole number"):
        seeding.base_seed()


def test_offsets_outside_the_stride_are_refused():
    with pytest.raises(ValueError, match="outside"):
        seeding.seed(1000)


def test_phantoms_follow_the_base_seed(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNGUIDE_PHANTOMS", "1")
    warnings.simplefilter("ignore", pm.PhantomDataWarning)
    counts = {"train": 6, "val": 4, "test": 4}
    monkeypatch.setenv("CNNGUIDE_SEED", "0")
    a = load_dataset(28, n_phantoms=counts)
    monkeypatch.setenv("CNNGUIDE_SEED", "1")
    b = load_dataset(28, n_phantoms=counts)
    assert not np.array_equal(a["train"].images, b["train"].images)
    assert b.source == "synthetic (seed=1000)"


def test_forced_phantoms_ignore_the_real_file(monkeypatch, tmp_path):
    """CNNGUIDE_PHANTOMS=1 wins over CNNGUIDE_DATA and data_dir."""
    from realdata import real_data_dir

    folder = real_data_dir()
    if folder is None:
        pytest.skip("no real PneumoniaMNIST here")
    monkeypatch.setenv("CNNGUIDE_DATA", str(folder))
    assert load_dataset(28).is_real
    monkeypatch.setenv("CNNGUIDE_PHANTOMS", "1")
    with pytest.warns(pm.PhantomDataWarning):
        ds = load_dataset(28, folder)
    assert not ds.is_real and "CNNGUIDE_PHANTOMS=1" in ds.notice
    with pytest.raises(pm.DataNotFoundError, match="unset CNNGUIDE_PHANTOMS"):
        load_dataset(28, folder, allow_phantoms=False)


def test_the_banner_names_the_file_not_the_folder(monkeypatch, tmp_path):
    from realdata import real_data_dir

    folder = real_data_dir()
    if folder is None:
        pytest.skip("no real PneumoniaMNIST here")
    ds = load_dataset(28, folder)
    shown = repr(ds) + ds._repr_html_()
    assert str(folder.resolve()) not in shown and str(folder) not in shown
    assert "pneumoniamnist.npz, md5 " in shown and pm.file_md5(ds.source) in shown


def test_the_phantom_banner_prints_no_path(monkeypatch, tmp_path):
    missing = tmp_path / "deep" / "nowhere"
    monkeypatch.setenv("CNNGUIDE_DATA", str(missing))
    monkeypatch.setenv("CNNGUIDE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNGUIDE_OFFLINE", "1")
    with pytest.warns(pm.PhantomDataWarning):
        ds = load_dataset(28, n_phantoms=12)
    shown = repr(ds) + ds._repr_html_()
    assert str(tmp_path) not in shown
    assert "CNNGUIDE_DATA folder 'nowhere': folder does not exist" in shown
    assert "https://zenodo.org/records/" in shown  # URLs are kept whole


def test_glue_run_reports_mode_and_seed(monkeypatch):
    monkeypatch.setenv("CNNGUIDE_SEED", "4")

    class Real:
        is_real = True

    assert prose.glue_run(Real()) == {"data_mode": "real", "base_seed": 4}
    assert prose.glued("data_mode") == "real"


def test_verdict_follows_the_interval_not_the_point():
    # A mean difference of +0.02 with an interval that crosses zero is no verdict.
    d = metrics.paired_difference([0.95, 0.90, 0.99], [0.92, 0.91, 0.95])
    assert d["mean"] > 0 and d["low"] < 0
    assert metrics.verdict(d["low"], d["high"]) == "shows no clear difference from"
    clear = metrics.paired_difference([0.95, 0.96, 0.97], [0.91, 0.92, 0.92])
    assert metrics.verdict(clear["low"], clear["high"]) == "beats"
    with pytest.raises(ValueError, match="not ordered"):
        metrics.verdict(float("nan"), 1.0)


def test_seed_spread_interval_covers_the_mean_at_the_stated_rate():
    """The t interval of 5 seeds covers the true mean about 95 % of the time."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        s = metrics.seed_spread(rng.normal(0.9, 0.01, 5))
        hits += s["low"] <= 0.9 <= s["high"]
    assert 0.93 < hits / 2000 < 0.97


def test_results_files_name_an_unchanged_script():
    """A committed results file is stale once its benchmark script changes."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "benchmarks" / "results").glob("*.json"))
    assert files, "benchmarks/results/ holds no stamped results file"
    for f in files:
        stamp = json.loads(f.read_text())["stamp"]
        for key in ("command", "commit", "date", "machine", "script"):
            assert stamp.get(key), f"{f.name}: stamp lacks {key}"
        script = root / stamp["script"]
        digest = hashlib.sha256(script.read_bytes()).hexdigest()
        assert digest == stamp["script_sha256"], (
            f"{f.name} was written by another version of {stamp['script']}: "
            f"rerun `{stamp['command']}` (or make robustness) to refresh it"
        )


def test_an_installed_package_reads_the_published_results(monkeypatch, tmp_path):
    """Outside a checkout (Colab installs from git) the file comes from main."""
    import json as _json
    from pathlib import Path as _Path

    import pooch

    from cnnguide import prose

    fake_package = tmp_path / "site-packages" / "cnnguide" / "prose.py"
    fake_package.parent.mkdir(parents=True)
    monkeypatch.setattr(prose, "__file__", str(fake_package))
    monkeypatch.delenv("CNNGUIDE_OFFLINE", raising=False)
    asked = []
    published = tmp_path / "imbalance.json"
    published.write_text(_json.dumps({"stamp": {"commit": "abc"}}))

    def retrieve(url, known_hash, progressbar):
        asked.append(url)
        return str(published)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    assert prose.read_results("imbalance.json")["stamp"]["commit"] == "abc"
    assert asked == [prose.RESULTS_URL + "imbalance.json"]
    # Offline, the same call names the way out instead.
    monkeypatch.setenv("CNNGUIDE_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="clone the repository"):
        prose.read_results("imbalance.json")
    assert _Path(prose.__file__) == fake_package


def test_sweep_values_read_the_committed_robustness_file():
    from cnnguide import prose

    report = prose.read_results("robustness.json")
    aucs = prose.sweep_values(report, "08", "tr_test_auc")
    seeds = {
        r["seed"]
        for r in report["runs"]
        if r["chapter"].startswith("08") and r["mode"] == "real" and r["passed"]
    }
    assert sorted(aucs) == sorted(seeds) and len(seeds) >= 2  # every passed seed
    assert all(0.5 < v <= 1 for v in aucs.values())
    assert prose.sweep_values(report, "08", "no_such_name") == {}
    failed = {
        "runs": [
            {
                "chapter": "08",
                "mode": "real",
                "seed": 0,
                "passed": False,
                "glued": {"x": "1.0"},
            }
        ]
    }
    assert prose.sweep_values(failed, "08", "x") == {}  # a failed run says nothing


def test_the_app_screenshot_is_the_one_its_results_file_describes():
    """Chapter 12's picture of the app matches the stamped file that describes it."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    report = json.loads((root / "benchmarks/results/app_screenshot.json").read_text())
    png = (root / report["figure"]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert hashlib.sha256(png).hexdigest() == report["png_sha256"], (
        "book/figures/app_screenshot.png changed without its results file: "
        "rerun `make screenshot`"
    )
    assert "app_screenshot.png" in (root / "notebooks/12_deployment.ipynb").read_text()
