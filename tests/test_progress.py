"""cnnguide.progress: plain lines for pipes, one updating line on a terminal, and one
summary line left in a notebook's saved output."""

import io

import numpy as np
import pytest

from cnnguide.models import build_small_cnn
from cnnguide import progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_resolve_picks_the_mode_from_where_it_runs():
    assert progress.resolve("auto", io.StringIO()) is None  # a pipe, a test, a script
    assert progress.resolve("auto", FakeTerminal()) == "terminal"
    assert progress.resolve(True, FakeTerminal()) == "terminal"
    assert progress.resolve("text") == "text" and progress.resolve(False) is None
    with pytest.raises(ValueError, match="progress='bar'"):
        progress.resolve("bar")


def test_text_mode_writes_plain_lines_only():
    out = io.StringIO()
    p = progress.Progress("text", title="train", stream=out)
    p.status("transient", force=True)
    p.step("epoch 1/2  loss 0.5")
    p.close("2 epochs in 3 s")
    assert out.getvalue() == "train: epoch 1/2  loss 0.5\ntrain: 2 epochs in 3 s\n"
    p.step("after close")  # ignored
    assert "after close" not in out.getvalue()


def test_terminal_mode_rewrites_one_line_and_keeps_steps():
    out = FakeTerminal()
    p = progress.Progress("terminal", title="t", stream=out)
    p.status("batch 1/9 with a long text", force=True)
    p.status("batch 2/9", force=True)
    p.step("epoch 1/1")
    text = out.getvalue()
    assert text.startswith("\rt: batch 1/9 with a long text\rt: batch 2/9 ")
    assert text.endswith("\rt: epoch 1/1\n")
    # what a terminal shows at the end: the step, the transient line overwritten
    assert text.split("\r")[-1].strip() == "t: epoch 1/1"


def test_silent_mode_writes_nothing():
    out = io.StringIO()
    p = progress.Progress(None, stream=out)
    p.status("x", force=True)
    p.step("y")
    p.close("z")
    assert out.getvalue() == ""


def test_keras_callback_reports_each_epoch_with_time_left():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(
        "adam", "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")]
    )
    x = np.random.default_rng(0).random((64, 4)).astype("float32")
    y = (x[:, 0] > 0.5).astype("float32")
    out = io.StringIO()
    reporter = progress.Progress("text", title="fit", stream=out)
    model.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=3,
        verbose=0,
        callbacks=[progress.keras_callback(reporter, epochs=3, note="(or less)")],
    )
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        f"fit: epoch {i}/3" for i in (1, 2, 3)
    ]
    assert all("loss " in line and "val AUC " in line for line in lines)
    assert "left (or less)" in lines[0] and "left" not in lines[-1]
    assert "\r" not in out.getvalue()


def test_a_notebook_keeps_one_summary_line(tmp_path):
    """Executed as a book build executes it (nbclient): the display updated in place
    is saved as its last state only."""
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from cnnguide.progress import Progress, resolve\n"
            "p = Progress(resolve('auto'), title='train')\n"
            "for i in range(5):\n"
            "    p.status(f'batch {i}', force=True)\n"
            "    p.step(f'epoch {i + 1}/5')\n"
            "p.close('5 epochs in 1 s')\n"
        )
    ]
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    outputs = nb.cells[0].outputs
    assert len(outputs) == 1
    assert outputs[0]["output_type"] == "display_data"
    assert outputs[0]["data"] == {"text/plain": "train: 5 epochs in 1 s"}


def test_fit_can_report_progress(capsys):
    from cnnguide.train import fit

    model = build_small_cnn((28, 28, 1), seed=0)
    images = np.zeros((16, 28, 28), np.uint8)
    labels = np.array([0, 1] * 8)
    fit(model, images, labels, epochs=2, batch_size=8, progress="text")
    err = capsys.readouterr().err.splitlines()
    assert [line.split("  ")[0] for line in err[:2]] == [
        "fit: epoch 1/2",
        "fit: epoch 2/2",
    ]
    assert err[-1].startswith("fit: 2 epochs in ")
    fit(model, images, labels, epochs=1, batch_size=8)  # quiet by default
    assert capsys.readouterr().err == ""


def test_run_comparison_reports_each_method(capsys):
    import warnings

    from cnnguide import data
    from cnnguide import imbalance as im

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.PhantomDataWarning)
        dataset = data.load_dataset(28, n_phantoms=120)
    rows = im.run_comparison(
        dataset, ["none", "class_weight"], epochs=1, n_train=60, progress="text"
    )
    err = capsys.readouterr().err.splitlines()
    assert len(rows) == 2 and len(err) == 3
    assert err[0].startswith("run_comparison: 1/2 none: ") and "left" in err[0]
    assert err[1].startswith("run_comparison: 2/2 class_weight: ")
    assert "validation ROC-AUC" in err[1]
    assert err[2].startswith("run_comparison: 2 methods trained and scored in ")
