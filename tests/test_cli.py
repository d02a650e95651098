"""Tests of the command line (cnnguide.cli): in-process through main(), plus subprocesses
for ``python -m cnnguide`` and for the lazy TensorFlow import.

The tiny models are built and saved here, with a model card written by hand, so the
predict and evaluate tests do not depend on training.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnguide
from cnnguide import cli

# Keras's model.save calls np.array on TF tensors, which NumPy 2 flags (upstream issue).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

REAL_DATA = Path(os.environ.get("CNNGUIDE_TEST_DATA", "/work/shared/data"))
HAVE_REAL_DATA = (REAL_DATA / "pneumoniamnist.npz").is_file()


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    env.update(extra)
    return env


def _card(input_shape, *, threshold=0.5, is_real=False):
    """A model card with the contract's keys (the values of a made-up run)."""
    return {
        "name": "tiny_test_cnn",
        "created": "2026-01-01T00:00:00+00:00",
        "disclaimer": cnnguide.DISCLAIMER,
        "data": {
            "name": "Synthetic chest phantoms",
            "source": "synthetic (seed=0)",
            "citation": "",
            "is_real": is_real,
            "image_size": input_shape[0],
            "split_sizes": {"train": 1, "val": 1, "test": 1},
        },
        "config": {"image_size": input_shape[0], "epochs": 0, "seed": 0},
        "seed": 0,
        "training_seconds": 0.0,
        "epochs_run": 0,
        "threshold": threshold,
        "threshold_rule": "fixed for the test",
        "validation": {},
        "test": {},
        "input_shape": list(input_shape),
        "versions": {},
    }


def _save_tiny_model(
    folder: Path, input_shape, *, threshold=0.5, is_real=False
) -> Path:
    """Brighter image -> higher probability: p = sigmoid(8 * mean(box-filtered x) - 3)."""
    import keras

    inputs = keras.Input(input_shape)
    conv = keras.layers.Conv2D(
        1, 3, padding="same", activation="relu", name="last_conv"
    )
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(
        inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs)))
    )
    conv.set_weights(
        [
            np.full((3, 3, input_shape[-1], 1), 1 / 9, np.float32),
            np.zeros(1, np.float32),
        ]
    )
    dense.set_weights([np.array([[8.0]], np.float32), np.array([-3.0], np.float32)])
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    card = _card(input_shape, threshold=threshold, is_real=is_real)
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    pytest.importorskip("cnnguide.train")
    return _save_tiny_model(
        tmp_path_factory.mktemp("model"), (28, 28, 1), threshold=0.5
    )


@pytest.fixture(scope="module")
def rgb_model_dir(tmp_path_factory):
    pytest.importorskip("cnnguide.train")
    return _save_tiny_model(tmp_path_factory.mktemp("rgb_model"), (28, 28, 3))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Good greyscale PNGs (dark, bright, larger than the model), and bad files."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = {}
    dark = (rng.random((28, 28)) * 40).astype(np.uint8)
    bright = (200 + rng.random((28, 28)) * 55).astype(np.uint8)
    large = (120 + rng.random((64, 80)) * 60).astype(
        np.uint8
    )  # resized to 28x28 on load
    for name, array in (("dark", dark), ("bright", bright), ("large", large)):
        paths[name] = folder / f"{name}.png"
        Image.fromarray(array, mode="L").save(paths[name])
    colour = np.zeros((40, 40, 3), np.uint8)
    colour[:, :20] = (220, 30, 30)
    colour[:, 20:] = (30, 200, 40)
    paths["colour"] = folder / "holiday.png"
    Image.fromarray(colour, mode="RGB").save(paths["colour"])
    paths["text"] = folder / "notes.png"
    paths["text"].write_text("this is not an image\n", encoding="utf-8")
    paths["missing"] = folder / "no_such_image.png"
    return paths


def _expected_probability(model_dir, path):
    from cnnguide import data, train

    model, _ = train.load(model_dir)
    return float(train.predict_proba(model, data.load_image(path, size=28)[None])[0])


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# --------------------------------------------------------------------------------------
# help, usage, lazy imports


def test_help_in_process(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("data", "train", "evaluate", "predict"):
        assert command in out


def test_missing_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_python_dash_m_help_in_a_subprocess():
    run = subprocess.run(
        [sys.executable, "-m", "cnnguide", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert run.returncode == 0
    assert "usage: cnnguide" in run.stdout and "predict" in run.stdout


def test_help_and_data_do_not_import_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from cnnguide.cli import main\n"
        "main(['--help']); main(['data'])\n"
        "print('HEAVY', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    env = _env(CNNGUIDE_OFFLINE="1", CNNGUIDE_CACHE=str(tmp_path / "cache"))
    env.pop("CNNGUIDE_DATA", None)
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "HEAVY False False" in run.stdout


# --------------------------------------------------------------------------------------
# data


def test_data_without_real_data_says_phantoms(clean_data_env, capsys):
    assert cli.main(["data"]) == 0
    out = capsys.readouterr().out
    for size in (28, 64, 128, 224):
        assert f"{size}x{size}" in out
    assert out.count("synthetic phantoms are used") == 4
    assert "--download" in out


def test_data_json_lists_every_size(clean_data_env, capsys):
    assert cli.main(["data", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [item["size"] for item in payload["sizes"]] == [28, 64, 128, 224]
    assert not any(item["real"] for item in payload["sizes"])


@pytest.mark.skipif(not HAVE_REAL_DATA, reason=f"no pneumoniamnist.npz in {REAL_DATA}")
def test_data_finds_the_real_file_and_counts_it(clean_data_env, monkeypatch, capsys):
    monkeypatch.setenv("CNNGUIDE_DATA", str(REAL_DATA))
    assert cli.main(["data", "--size", "28", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    (item,) = payload["sizes"]
    assert item["real"] and item["path"] == str(REAL_DATA / "pneumoniamnist.npz")
    assert payload["dataset"]["is_real"]
    assert payload["dataset"]["counts"]["test"] == {"normal": 234, "pneumonia": 390}


def test_data_bad_size_is_a_one_line_error(capsys):
    assert cli.main(["data", "--size", "99"]) == 1
    err = capsys.readouterr().err
    assert _error_lines(err) == [
        "cnnguide: error: --size 99 is not a PneumoniaMNIST size; use one of (28, 64, 128, 224)"
    ]


def test_data_download_failure_is_a_one_line_error(clean_data_env, monkeypatch, capsys):
    monkeypatch.setenv(
        "CNNGUIDE_DATA_URL", "http://127.0.0.1:9/"
    )  # nothing listens there
    assert cli.main(["data", "--download", "--size", "28"]) == 1
    err = capsys.readouterr().err  # pooch may log "Downloading data from ..." first
    lines = [line for line in _error_lines(err) if line.startswith("cnnguide:")]
    assert len(lines) == 1 and lines[0].startswith("cnnguide: error: ")
    assert "pneumoniamnist.npz" in lines[0] and "Traceback" not in err


# --------------------------------------------------------------------------------------
# predict


def test_predict_good_images(model_dir, images, capsys):
    files = [str(images["dark"]), str(images["bright"]), str(images["large"])]
    assert cli.main(["predict", str(model_dir), *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[-1] == cnnguide.DISCLAIMER
    for line, name in zip(out, files):
        assert line.startswith(f"{name}: p(pneumonia)=")
        expected = _expected_probability(model_dir, name)
        assert f"p(pneumonia)={expected:.3f}" in line
        label = "pneumonia" if expected >= 0.5 else "normal"
        assert f"-> {label} (threshold 0.500)" in line
    assert "-> normal" in out[0] and "-> pneumonia" in out[1]  # dark vs bright


def test_predict_json_and_threshold_override(model_dir, images, capsys):
    files = [str(images["dark"]), str(images["bright"])]
    assert (
        cli.main(
            [
                "predict",
                str(model_dir / "model.keras"),
                *files,
                "--json",
                "--threshold",
                "0.0",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["threshold"] == 0.0 and payload["disclaimer"] == cnnguide.DISCLAIMER
    assert payload["errors"] == [] and payload["image_size"] == 28
    assert [p["file"] for p in payload["predictions"]] == files
    assert all(
        p["label"] == "pneumonia" for p in payload["predictions"]
    )  # p >= 0 always
    assert payload["predictions"][0]["probability"] == pytest.approx(
        _expected_probability(model_dir, files[0]), abs=1e-6
    )


def test_predict_writes_gradcam_overlays(model_dir, images, tmp_path, capsys):
    single = tmp_path / "one.png"
    assert (
        cli.main(
            ["predict", str(model_dir), str(images["bright"]), "--gradcam", str(single)]
        )
        == 0
    )
    assert f"Grad-CAM: {single}" in capsys.readouterr().out
    with Image.open(single) as im:
        assert im.format == "PNG" and im.size[0] > 100
    several = tmp_path / "cam.png"
    assert (
        cli.main(
            [
                "predict",
                str(model_dir),
                str(images["bright"]),
                str(images["large"]),
                "--gradcam",
                str(several),
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    written = [p["gradcam"] for p in payload["predictions"]]
    assert written == [
        str(tmp_path / "cam_bright.png"),
        str(tmp_path / "cam_large.png"),
    ]
    assert all(Path(path).is_file() for path in written)


def test_predict_text_file_renamed_png(model_dir, images, capsys):
    code = cli.main(
        ["predict", str(model_dir), str(images["text"]), str(images["bright"])]
    )
    assert code == 1
    captured = capsys.readouterr()
    lines = _error_lines(captured.err)
    assert len(lines) == 1 and lines[0].startswith("cnnguide: error: ")
    assert "notes.png" in lines[0] and "Traceback" not in captured.err
    assert (
        f"{images['bright']}: p(pneumonia)=" in captured.out
    )  # the good file still ran


def test_predict_colour_photo_is_refused(model_dir, images, capsys):
    assert cli.main(["predict", str(model_dir), str(images["colour"])]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "holiday.png" in lines[0] and "colour" in lines[0]


def test_predict_missing_image(model_dir, images, capsys):
    assert cli.main(["predict", str(model_dir), str(images["missing"])]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "no_such_image.png" in lines[0]


def test_predict_missing_model(tmp_path, images, capsys):
    assert cli.main(["predict", str(tmp_path / "nowhere"), str(images["bright"])]) == 1
    captured = capsys.readouterr()
    lines = _error_lines(captured.err)
    assert len(lines) == 1 and lines[0].startswith("cnnguide: error: ")
    assert "nowhere" in lines[0] and captured.out == ""


def test_predict_with_a_model_that_wants_colour(rgb_model_dir, images, capsys):
    assert cli.main(["predict", str(rgb_model_dir), str(images["bright"])]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "3-channel" in lines[0]


def test_corrupt_model_file(tmp_path, images, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"not a zip archive")
    (folder / "model_card.json").write_text("{}", encoding="utf-8")
    assert cli.main(["predict", str(folder), str(images["bright"])]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "model.keras" in lines[0]


def test_debug_shows_the_traceback(tmp_path, images):
    pytest.importorskip("cnnguide.train")
    with pytest.raises(FileNotFoundError):
        cli.main(
            ["--debug", "predict", str(tmp_path / "nowhere"), str(images["bright"])]
        )
    with pytest.raises(FileNotFoundError):  # --debug after the subcommand works too
        cli.main(
            ["predict", "--debug", str(tmp_path / "nowhere"), str(images["bright"])]
        )


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("something nobody planned for")

    monkeypatch.setattr(cli, "_cmd_data", boom)
    assert cli.main(["data"]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert lines == [
        "cnnguide: error: unexpected RuntimeError: something nobody planned for "
        "(rerun with --debug for the traceback)"
    ]
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "data"])


# --------------------------------------------------------------------------------------
# evaluate


def test_evaluate_on_phantoms(model_dir, clean_data_env, capsys):
    from cnnguide import data, metrics, train

    assert cli.main(["evaluate", str(model_dir), "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert "synthetic phantoms" in captured.err  # the note, on stderr
    assert payload["data"]["is_real"] is False and payload["split"] == "test"
    result = payload["metrics"]
    assert payload["threshold"] == 0.5 == result["threshold"]
    assert result["tn"] + result["fp"] + result["fn"] + result["tp"] == payload["n"]
    # the same numbers as computing them directly
    with pytest.warns(data.PhantomDataWarning):
        dataset = data.load_dataset(28)
    model, _ = train.load(model_dir)
    expected = metrics.binary_metrics(
        dataset["test"].labels, train.predict_proba(model, dataset["test"].images), 0.5
    )
    assert payload["n"] == len(dataset["test"].labels)
    for key in ("accuracy", "recall", "specificity", "tp", "fp"):
        assert result[key] == pytest.approx(expected[key])

    assert cli.main(["evaluate", str(model_dir), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC PHANTOMS" in out and "val split" in out
    assert "threshold 0.5000: saved in the model card" in out
    assert (
        "roc_auc" in out
        and "confusion: tn=" in out
        and out.rstrip().endswith(cnnguide.DISCLAIMER)
    )


@pytest.mark.skipif(not HAVE_REAL_DATA, reason=f"no pneumoniamnist.npz in {REAL_DATA}")
def test_evaluate_on_real_data_warns_about_a_phantom_trained_model(
    model_dir, clean_data_env, monkeypatch, capsys
):
    monkeypatch.setenv("CNNGUIDE_DATA", str(REAL_DATA))
    assert cli.main(["evaluate", str(model_dir), "--threshold", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "PneumoniaMNIST (real), test split, 624 images" in out
    assert "trained on synthetic phantoms" in out
    assert "threshold 0.9000: given with --threshold" in out


def test_evaluate_missing_model(tmp_path, capsys):
    pytest.importorskip("cnnguide.train")
    assert cli.main(["evaluate", str(tmp_path / "nothing")]) == 1
    assert _error_lines(capsys.readouterr().err)[0].startswith(
        "cnnguide: error: no model at"
    )


def test_evaluate_size_without_a_dataset(tmp_path, clean_data_env, capsys):
    folder = _save_tiny_model(tmp_path / "m32", (32, 32, 1))
    assert cli.main(["evaluate", str(folder)]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "size=32" in lines[0]


# --------------------------------------------------------------------------------------
# train (end to end: train, then predict with the saved model)


@pytest.mark.slow
def test_train_one_epoch_on_tiny_phantoms(clean_data_env, tmp_path, images, capsys):
    pytest.importorskip("cnnguide.train")
    out_dir = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"epochs": 5, "widths": [8, 16], "dense_units": 16}))
    code = cli.main(
        [
            "train",
            "--config",
            str(config),
            "--epochs",
            "1",
            "--seed",
            "3",
            "--n-phantoms",
            "60",
            "--n-boot",
            "20",
            "--out",
            str(out_dir),
            "--json",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert "synthetic phantoms" in captured.err
    assert payload["epochs_run"] == 1 and payload["out_dir"] == str(out_dir)
    assert payload["data"]["is_real"] is False
    assert {"roc_auc", "recall", "specificity", "tp"} <= set(payload["test"])
    card = json.loads((out_dir / "model_card.json").read_text())
    assert card["config"]["epochs"] == 1 and card["config"]["seed"] == 3  # flags win
    assert card["config"]["widths"] == [8, 16]  # from the file
    assert cli.main(["predict", str(out_dir), str(images["bright"])]) == 0
    assert "p(pneumonia)=" in capsys.readouterr().out


def test_train_bad_config_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("cnnguide.train")
    config = tmp_path / "config.yaml"
    config.write_text("epochs: 2\nnot_a_field: 1\n")
    assert cli.main(["train", "--config", str(config)]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "not_a_field" in lines[0]


def test_serve_without_a_model_is_one_line_error(tmp_path, capsys):
    code = cli.main(["serve", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("cnnguide: error:") and err.count("\n") == 1
    assert "train" in err  # says how to get a model
