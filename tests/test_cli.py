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

from realdata import BESIDE_CLONE, REAL_DIR  # noqa: E402

REAL_DATA = REAL_DIR or BESIDE_CLONE
HAVE_REAL_DATA = REAL_DIR is not None


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
    return _save_tiny_model(
        tmp_path_factory.mktemp("model"), (28, 28, 1), threshold=0.5
    )


@pytest.fixture(scope="module")
def rgb_model_dir(tmp_path_factory):
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
    from cnnguide import data, models, train

    model, _ = train.load(model_dir)
    return float(models.predict_proba(model, data.load_image(path, size=28)[None])[0])


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
        assert f"-> {label} (threshold 0.5000)" in line
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
    assert len(lines) == 1 and "(28, 28, 3)" in lines[0] and "greyscale" in lines[0]


def test_corrupt_model_file(tmp_path, images, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"not a zip archive")
    (folder / "model_card.json").write_text("{}", encoding="utf-8")
    assert cli.main(["predict", str(folder), str(images["bright"])]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "model.keras" in lines[0]


def test_debug_shows_the_traceback(tmp_path, images):
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
    from cnnguide import data, metrics, models, train

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
        dataset["test"].labels, models.predict_proba(model, dataset["test"].images), 0.5
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
    assert cli.main(["evaluate", str(tmp_path / "nothing")]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("cnnguide: error: no trained model at")
    assert "nothing" in lines[0] and "cnnguide train" in lines[0]


def test_evaluate_size_without_a_dataset(tmp_path, clean_data_env, capsys):
    folder = _save_tiny_model(tmp_path / "m32", (32, 32, 1))
    assert cli.main(["evaluate", str(folder)]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "size=32" in lines[0]


# --------------------------------------------------------------------------------------
# train (end to end: train, then predict with the saved model)


@pytest.mark.slow
def test_train_one_epoch_on_tiny_phantoms(clean_data_env, tmp_path, images, capsys):
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
            "--score-test",
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


@pytest.mark.slow
def test_train_preset_best_saves_one_ensemble_that_predicts(
    clean_data_env, tmp_path, images, capsys
):
    out_dir = tmp_path / "best"
    code = cli.main(
        ["train", "--preset", "best", "--epochs", "1", "--n-phantoms", "60"]
        + ["--n-boot", "20", "--out", str(out_dir), "--quiet"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "ensemble of 4 networks (seeds 0, 1, 2, 3)" in out
    assert "copies of training images left out" in out
    assert "test split not scored" in out  # training never looks at test
    card = json.loads((out_dir / "model_card.json").read_text())
    assert "test" not in card
    assert len(card["members"]) == 4 and card["config"]["tta"] is True
    assert card["config"]["ema"] == 0.99
    assert cli.main(["predict", str(out_dir), str(images["bright"])]) == 0
    assert "p(pneumonia)=" in capsys.readouterr().out


def test_train_preset_and_config_together_is_a_one_line_error(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text("{}")
    code = cli.main(["train", "--preset", "best", "--config", str(config)])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 1 and len(lines) == 1 and "not both" in lines[0]


def test_train_bad_config_is_a_one_line_error(tmp_path, capsys):
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


# --------------------------------------------------------------------------------------
# folders, tables, and the one prediction service


def _png(path: Path, value: int, shape=(28, 28)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8), mode="L").save(path)
    return path


def _read_csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_predict_folder_recurses_skips_and_writes_a_table(model_dir, tmp_path, capsys):
    from cnnguide.deploy import service

    folder = tmp_path / "class"
    dark = _png(folder / "dark.png", 10)
    bright = _png(folder / "ward" / "bright.PNG", 240)
    (folder / "readme.txt").write_text("notes", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    broken = folder / "ward" / "broken.png"
    broken.write_text("not an image", encoding="utf-8")
    table = tmp_path / "out" / "predictions.csv"

    code = cli.main(
        ["predict", str(model_dir), str(folder), "--csv", str(table), "--json"]
    )
    assert code == 1  # one input could not be read
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert [p["file"] for p in payload["predictions"]] == [str(dark), str(bright)]
    assert payload["skipped"] == [str(folder / "readme.txt")]
    assert [e["file"] for e in payload["errors"]] == [str(broken)]
    errors = [line for line in _error_lines(captured.err) if "error:" in line]
    assert len(errors) == 1 and "broken.png" in errors[0]
    assert "readme.txt" in captured.err and ".DS_Store" not in captured.err

    # the same answers as the prediction service gives for the same bytes
    predictor = service.load_predictor(model_dir)
    for entry in payload["predictions"]:
        answer = predictor.predict_bytes(
            Path(entry["file"]).read_bytes(), entry["file"]
        )
        assert entry["probability"] == pytest.approx(answer["probability"], abs=1e-6)
        assert entry["label"] == answer["label"]
    assert payload["model_version"] == predictor.version

    rows = _read_csv(table)
    assert list(rows[0]) == [
        "file",
        "probability",
        "label",
        "threshold",
        "model_version",
        "warnings",
        "error",
    ]
    assert [r["file"] for r in rows] == [str(dark), str(bright), str(broken)]
    assert [r["label"] for r in rows] == ["normal", "pneumonia", ""]
    assert float(rows[0]["probability"]) == pytest.approx(
        payload["predictions"][0]["probability"], abs=1e-6
    )
    assert {r["threshold"] for r in rows} == {"0.5"}
    assert {r["model_version"] for r in rows} == {predictor.version}
    assert rows[2]["probability"] == "" and "broken.png" in rows[2]["error"]


def test_predict_folder_of_good_images_exits_zero(model_dir, tmp_path, capsys):
    folder = tmp_path / "good"
    _png(folder / "a.png", 20)
    _png(folder / "b" / "c.jpg.png", 230)
    assert cli.main(["predict", str(model_dir), str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1] == cnnguide.DISCLAIMER
    assert out[0].startswith(f"{folder / 'a.png'}: p(pneumonia)=")


def test_predict_csv_to_stdout(model_dir, tmp_path, capsys):
    image = _png(tmp_path / "x.png", 240)
    assert cli.main(["predict", str(model_dir), str(image), "--csv", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,probability,label,threshold,model_version,warnings,error"
    assert (
        lines[1].startswith(f"{image},") and ",pneumonia,0.5,tiny_test_cnn-" in lines[1]
    )
    assert len(lines) == 2  # nothing else on stdout: the table can be piped


def test_predict_an_empty_folder_is_one_error(model_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x", encoding="utf-8")
    assert cli.main(["predict", str(model_dir), str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    errors = [line for line in _error_lines(err) if "error:" in line]
    assert len(errors) == 1 and "no images to predict" in errors[0]


def test_evaluate_an_image_folder(model_dir, tmp_path, capsys):
    root = tmp_path / "ward"
    for i, value in enumerate((5, 30)):
        _png(root / "normal" / f"n{i}.png", value)
    for i, value in enumerate((220, 250, 200)):
        _png(root / "PNEUMONIA" / "batch" / f"p{i}.png", value)
    (root / "PNEUMONIA" / "bad.png").write_bytes(b"")  # any case: PNEUMONIA/
    (root / "normal" / "index.csv").write_text("a,b\n", encoding="utf-8")
    table = tmp_path / "eval.csv"

    code = cli.main(
        ["evaluate", str(model_dir), str(root), "--json", "--csv", str(table)]
    )
    assert code == 1  # bad.png is empty: named, the others still scored
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["n"] == 5 and payload["counts"] == {"normal": 2, "pneumonia": 3}
    result = payload["metrics"]
    assert (result["tn"], result["fp"], result["fn"], result["tp"]) == (2, 0, 0, 3)
    assert payload["threshold"] == 0.5 and payload["disclaimer"] == cnnguide.DISCLAIMER
    assert [e["file"] for e in payload["errors"]] == [
        str(root / "PNEUMONIA" / "bad.png")
    ]
    assert payload["skipped"] == [str(root / "normal" / "index.csv")]
    errors = [line for line in _error_lines(captured.err) if "error:" in line]
    assert len(errors) == 1 and "bad.png" in errors[0]
    rows = _read_csv(table)
    assert list(rows[0])[:2] == ["file", "truth"] and len(rows) == 6
    assert sorted(r["truth"] for r in rows) == ["normal"] * 2 + ["pneumonia"] * 4

    (root / "PNEUMONIA" / "bad.png").unlink()
    assert cli.main(["evaluate", str(model_dir), str(root)]) == 0
    out = capsys.readouterr().out
    assert f"data: {root}, 5 images (normal 2, pneumonia 3)" in out
    assert "confusion: tn=2 fp=0 fn=0 tp=3" in out and cnnguide.DISCLAIMER in out


@pytest.mark.parametrize(
    "layout", [("cats", "dogs"), ("normal",), ("train", "test")], ids=str
)
def test_evaluate_folder_with_the_wrong_layout(model_dir, tmp_path, layout, capsys):
    root = tmp_path / "images"
    for name in layout:
        _png(root / name / "x.png", 100)
    assert cli.main(["evaluate", str(model_dir), str(root)]) == 1
    captured = capsys.readouterr()
    lines = _error_lines(captured.err)
    assert len(lines) == 1 and captured.out == ""
    assert str(root) in lines[0] and "normal/ and pneumonia/" in lines[0]
    if "train" in layout:
        assert str(root / "test") in lines[0]


# --------------------------------------------------------------------------------------
# progress of `cnnguide train`, and servers that stop on one SIGTERM


@pytest.mark.slow
def test_train_shows_plain_progress_lines_and_quiet_silences_them(
    clean_data_env, tmp_path, capsys
):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"widths": [4, 8], "dense_units": 8, "patience": 5}))
    common = ["train", "--config", str(config), "--n-phantoms", "60", "--n-boot", "10"]
    assert cli.main([*common, "--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err  # not a terminal: plain lines
    assert "\r" not in err and "\x1b" not in err
    lines = [line for line in err.splitlines() if line.startswith("train: epoch")]
    assert [line.split("  ")[0] for line in lines] == [
        "train: epoch 1/2",
        "train: epoch 2/2",
    ]
    assert "loss " in lines[0] and "val AUC " in lines[0] and "elapsed" in lines[0]
    assert " left" in lines[0]  # an estimate of what remains, after the first epoch
    assert any(line.startswith("train: 2 epochs in ") for line in err.splitlines())

    assert (
        cli.main([*common, "--epochs", "1", "--quiet", "--out", str(tmp_path / "b")])
        == 0
    )
    assert capsys.readouterr().err == ""


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGTERM is a POSIX signal")
def test_serve_stops_on_one_sigterm(model_dir, tmp_path):
    import signal

    import httpx
    from servers import free_port, stop_process, wait_for

    port = free_port()
    log = tmp_path / "serve.log"
    env = _env(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cnnguide",
                "serve",
                str(model_dir),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url = f"http://127.0.0.1:{port}/health"
        wait_for(
            "API", lambda: httpx.get(url, timeout=2).status_code == 200, 120, proc, log
        )
        proc.send_signal(signal.SIGTERM)  # what a service manager or `kill` sends
        proc.wait(timeout=30)
        wait_for("port freed", lambda: _port_is_free(port), 10)
    finally:
        stop_process(proc)
