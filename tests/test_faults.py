"""Kill a training run at each phase, with a real SIGKILL, and judge the rerun.

The run announces named phases (``cnnguide.train._phase``): a child process
trains a tiny model and pauses at the phase the test names; the parent waits
until the phase file says "now", sends SIGKILL, checks what is on disk, then
reruns in the same folder. The rerun must resume or refuse clearly, never lose
finished epochs, never serve a model with another model's card. Tiny models,
so the whole file takes about a minute.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnguide import files

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

CHILD = r"""
import sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from cnnguide.data import Dataset, Split
from cnnguide.data.phantoms import make_phantoms
from cnnguide.train import TrainConfig, train

splits = {}
for k, (name, n) in enumerate([("train", 128), ("val", 48), ("test", 48)]):
    b = make_phantoms(n, 28, seed=k, pneumonia_fraction=0.6)
    splits[name] = Split(b.images, b.labels.astype(np.uint8))
data = Dataset("Synthetic chest phantoms", splits, is_real=False, image_size=28)
config = TrainConfig(epochs=int(sys.argv[2]), seed=int(sys.argv[3]), widths=(4,),
                     dense_units=4, batch_size=32, patience=10)
train(config, data, out_dir=sys.argv[1], n_boot=20, progress=None)
"""


def run_child(out_dir, phases, *, pause=None, epochs=3, seed=0, timeout=240):
    """Run a training child; with ``pause``, SIGKILL it there and return."""
    env = {
        **os.environ,
        "CNNGUIDE_PHASE_FILE": str(phases),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("CNNGUIDE_PHASE_PAUSE", None)
    if pause:
        env["CNNGUIDE_PHASE_PAUSE"] = pause
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out_dir), str(epochs), str(seed)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if pause is None:
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err[-3000:]
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pause in reached(phases):
            break
        if child.poll() is not None:
            raise AssertionError(f"child ended before {pause}: {child.stderr.read()}")
        time.sleep(0.05)
    else:
        child.kill()
        raise AssertionError(f"phase {pause} never reached")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return reached(phases)


def reached(phases: Path) -> list[str]:
    return phases.read_text().split() if phases.exists() else []


def card_of(folder: Path) -> dict:
    return json.loads((folder / "model_card.json").read_text())


def test_killed_mid_training_resumes_after_its_last_finished_epoch(tmp_path):
    run, phases = tmp_path / "run", tmp_path / "phases"
    run_child(run, phases, pause="epoch_end:2", epochs=4)
    assert (run / "backup").is_dir() and not (run / "model.keras").exists()
    phases.unlink()
    run_child(run, phases, epochs=4)
    card = card_of(run)
    # the two finished epochs are kept: the rerun trains epochs 3 and 4 only
    assert card["resumed_after_epoch"] == 2 and card["epochs_run"] == 4
    assert [p for p in reached(phases) if p.startswith("epoch_end")] == [
        "epoch_end:3",
        "epoch_end:4",
    ]
    assert not (run / "backup").exists()  # removed once model and card were saved


def test_killed_between_fit_and_scoring_finishes_without_training_again(tmp_path):
    run, phases = tmp_path / "run", tmp_path / "phases"
    seen = run_child(run, phases, pause="fit_done", epochs=3)
    assert "epoch_end:3" in seen
    # everything the fit made is still there: backup, log, chosen weights
    assert (run / "backup").is_dir() and (run / "fitted.weights.h5").is_file()
    assert (run / "log.csv").is_file()
    phases.unlink()
    run_child(run, phases, epochs=3)
    assert not any(p.startswith("epoch_end") for p in reached(phases))
    assert card_of(run)["epochs_run"] == 3


def test_killed_between_model_and_card_never_serves_a_mismatched_pair(tmp_path):
    from cnnguide.deploy.service import load_predictor
    from cnnguide.train import load

    run, phases = tmp_path / "run", tmp_path / "phases"
    run_child(run, phases, epochs=2, seed=0)  # a finished run: model A, card A
    old_card = card_of(run)
    phases.unlink()
    run_child(run, phases, pause="model_saved", epochs=2, seed=5)  # model B only
    assert card_of(run) == old_card  # the card on disk is still A's
    with pytest.raises(ValueError, match="not the model its card"):
        load(run)
    with pytest.raises(ValueError, match="not the model its card"):
        load_predictor(run)
    phases.unlink()
    run_child(run, phases, epochs=2, seed=5)  # the rerun completes B's save
    model, card = load(run)
    assert card["seed"] == 5 and card["model_sha256"] != old_card["model_sha256"]
    assert not any(p.startswith("epoch_end") for p in reached(phases))


def test_killed_export_leaves_the_earlier_file_whole(tmp_path):
    from cnnguide.deploy import edge
    from cnnguide.models import build_cnn

    out, phases = tmp_path / "edge", tmp_path / "phases"
    model = build_cnn(widths=(4,), dense_units=4)
    first = edge.export_tflite(model, out, variants=("float32",))["float32"]
    before = first.read_bytes()
    code = (
        "import sys; from cnnguide.deploy import edge; "
        "from cnnguide.models import build_cnn; "
        "edge.export_tflite(build_cnn(widths=(8,), dense_units=4), sys.argv[1], "
        "variants=('float32',))"
    )
    env = {
        **os.environ,
        "CNNGUIDE_PHASE_FILE": str(phases),
        "CNNGUIDE_PHASE_PAUSE": "export_converted:float32",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    child = subprocess.Popen([sys.executable, "-c", code, str(out)], env=env)
    deadline = time.monotonic() + 180
    while "export_converted:float32" not in reached(phases):
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert first.read_bytes() == before  # the earlier export, whole
    assert sorted(p.name for p in out.iterdir()) == [first.name]  # no part-file


def test_a_full_disk_during_save_keeps_the_earlier_model(tmp_path):
    from cnnguide.models import build_cnn
    from cnnguide.train import load, save

    folder = save(build_cnn(widths=(4,)), {"threshold": 0.3}, tmp_path / "m")
    model_before = (folder / "model.keras").read_bytes()

    class FullDisk:
        """A model whose save writes half a file, then finds the disk full."""

        def save(self, path):
            Path(path).write_bytes(b"PK\x03\x04 half a zip")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        save(FullDisk(), {"threshold": 0.9}, folder)
    assert (folder / "model.keras").read_bytes() == model_before
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.keras",
        "model_card.json",
    ]
    _, card = load(folder)
    assert card["threshold"] == 0.3


def test_a_damaged_backup_gets_an_error_that_says_what_to_delete(tmp_path):
    run, phases = tmp_path / "run", tmp_path / "phases"
    run_child(run, phases, pause="epoch_end:1", epochs=3)
    weights = sorted((run / "backup").rglob("*.h5"))
    assert weights, "the backup holds weights"
    files.write_bytes(weights[0], weights[0].read_bytes()[:100])  # truncated
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("CNNGUIDE_PHASE_PAUSE", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(run), "3", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode != 0
    assert "damaged" in out.stderr and "delete the folder" in out.stderr
    assert str(run / "backup") in out.stderr
