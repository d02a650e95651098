"""The Streamlit page: upload a chest X-ray (or pick a sample), see what the model says.

Start it with ``cnnguide app [MODEL]`` / ``make app`` (both call :func:`run`), or with
Streamlit directly::

    streamlit run cnnguide/deploy/app.py -- --model cnnguide-model

The page shows the image as the model sees it (resized, greyscale), the probability,
the label at exactly the model card's threshold (the one ``cnnguide predict`` uses)
until the reader moves the slider, the Grad-CAM overlay, the model card as tables
(validation and test figures with the test's 95 % intervals), what the model was
trained on (with every prediction), and the disclaimer. Uploads that look unlike the
training images (colour, far from square, tiny, a lateral or adult DICOM) get a
warning; bad uploads (not an image, empty, huge, a colour photo) get a message; with
no trained model the page says how to train one. The predictions come from
:mod:`cnnguide.deploy.service`, shared with the web API and the command line.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

import cnnguide
from cnnguide.deploy import service

__all__ = [
    "render",
    "run",
    "command",
    "main",
    "display_image",
    "card_table",
    "metrics_table",
    "training_notice",
    "current_threshold",
    "N_SAMPLES",
]

#: How many test-split images the sample picker offers.
N_SAMPLES = 8

UPLOAD_TYPES = ["png", "jpg", "jpeg", "dcm"]


def display_image(image: np.ndarray, side: int = 224) -> np.ndarray:
    """Upscale a small ``[0, 1]`` image to ``side`` pixels (nearest) as uint8 for display.

    Nearest-neighbour keeps the pixels visible: the reader sees exactly the 28×28 grid
    the network received, not a smoothed picture.

    Examples
    --------
    >>> display_image(np.eye(2, dtype=np.float32), side=4)
    array([[255, 255,   0,   0],
           [255, 255,   0,   0],
           [  0,   0, 255, 255],
           [  0,   0, 255, 255]], dtype=uint8)
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[..., 0]
    factor = max(1, side // max(image.shape))
    big = np.kron(np.clip(image, 0, 1), np.ones((factor, factor), np.float32))
    return np.round(big * 255).astype(np.uint8)


def _model_argument() -> str | None:
    """``--model X`` after ``--`` on the streamlit command line, else ``$CNNGUIDE_MODEL``."""
    argv = sys.argv[1:]
    if "--model" in argv:
        index = argv.index("--model")
        if index + 1 < len(argv):
            return argv[index + 1]
    return os.environ.get("CNNGUIDE_MODEL") or None


def _samples(size: int):
    """A few test-split images with their true labels (real data, or phantoms)."""
    import streamlit as st

    @st.cache_data(show_spinner="Loading sample images ...")
    def load(size: int):
        import warnings

        from cnnguide.data import PhantomDataWarning, load_dataset

        with warnings.catch_warnings():  # the page says so in a caption instead
            warnings.simplefilter("ignore", PhantomDataWarning)
            dataset = load_dataset(size, n_phantoms=200)
        test = dataset["test"]
        # alternate normal / pneumonia so both classes are on offer
        picks = []
        for label in (0, 1):
            picks.extend(
                np.flatnonzero(test.labels == label)[: N_SAMPLES // 2].tolist()
            )
        picks.sort()
        images = test.as_float()[picks, ..., 0]
        names = [
            f"test #{i} ({dataset.class_names[int(test.labels[i])]})" for i in picks
        ]
        return dataset.name, dataset.is_real, names, images

    return load(size)


def _fmt(value, digits: int = 3) -> str:
    """A card value for a table: floats rounded, missing as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if np.isfinite(value) else "n/a"
    return str(value)


def card_table(predictor: service.Predictor) -> list[tuple[str, str]]:
    """The model card's main fields as ``(field, value)`` rows, rounded for reading.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> p = SimpleNamespace(name="cnn", version="cnn-1", size=28, threshold=0.289471,
    ...     card={"data": {"name": "PneumoniaMNIST", "is_real": True},
    ...           "epochs_run": 12, "threshold_rule": "recall >= 0.95"})
    >>> dict(card_table(p))["threshold (from the card)"]
    '0.2895'
    """
    card = predictor.card
    data = card.get("data") or {}
    sizes = data.get("split_sizes") or {}
    rows = [
        ("model", predictor.name),
        ("version", predictor.version),
        ("created", card.get("created")),
        ("trained on", data.get("name")),
        ("real X-rays", data.get("is_real")),
        ("input", f"{predictor.size} × {predictor.size} greyscale"),
        (
            "images (train / val / test)",
            " / ".join(str(sizes[k]) for k in ("train", "val", "test") if k in sizes)
            or None,
        ),
        ("epochs run", card.get("epochs_run")),
        ("threshold (from the card)", f"{predictor.threshold:.4f}"),
        ("threshold rule", card.get("threshold_rule")),
    ]
    return [(name, _fmt(value)) for name, value in rows]


_METRIC_NAMES = (
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("recall", "recall (sensitivity)"),
    ("specificity", "specificity"),
    ("precision", "precision"),
    ("accuracy", "accuracy"),
    ("f1", "F1"),
)


def metrics_table(card: dict) -> list[dict]:
    """Validation and test figures of the card, rounded, with the test's 95 % intervals.

    Examples
    --------
    >>> card = {"validation": {"roc_auc": 0.97123}, "test": {"roc_auc": 0.9512,
    ...         "roc_auc_ci": [0.93449, 0.96611]}}
    >>> metrics_table(card)
    [{'metric': 'ROC-AUC', 'validation': '0.971', 'test (95% interval)': '0.951 (0.934–0.966)'}]
    """
    validation = card.get("validation") or {}
    test = card.get("test") or {}
    rows = []
    for key, name in _METRIC_NAMES:
        if key not in validation and key not in test:
            continue
        ci = test.get(f"{key}_ci")
        figure = _fmt(test.get(key))
        if ci and all(v is not None and np.isfinite(v) for v in ci):
            figure += f" ({ci[0]:.3f}–{ci[1]:.3f})"
        rows.append(
            {
                "metric": name,
                "validation": _fmt(validation.get(key)),
                "test (95% interval)": figure,
            }
        )
    return rows


def training_notice(card: dict, size: int) -> str:
    """What the model was trained on, and so what its answers cover.

    Examples
    --------
    >>> "Guangzhou" in training_notice({"data": {"name": "PneumoniaMNIST",
    ...     "is_real": True}}, 28)
    True
    >>> "synthetic" in training_notice({"data": {"is_real": False}}, 28)
    True
    """
    data = card.get("data") or {}
    name = str(data.get("name") or "an unnamed data set")
    if not data.get("is_real"):
        return (
            f"This model was trained on {name}: synthetic chest phantoms drawn by "
            f"cnnguide at {size} × {size} pixels, not X-rays. Its answers on real "
            "X-rays mean nothing."
        )
    if any(word in name.lower() for word in ("pneumoniamnist", "kermany", "chest")):
        return (
            f"This model was trained on {name}: paediatric (ages 1 to 5) frontal "
            "chest X-rays from one centre, Guangzhou Women and Children's Medical "
            f"Center (China), seen at {size} × {size} pixels. Adult films, lateral "
            "views, other hospitals' machines, photographs and other diseases are "
            "outside what it has seen: its answer on them is not meaningful."
        )
    return (
        f"This model was trained on {name} at {size} × {size} pixels; its card "
        "does not say more. Images unlike those are outside what it has seen."
    )


def _threshold_moved() -> None:
    import streamlit as st

    st.session_state["threshold_moved"] = True


def current_threshold(card_threshold: float, slider_value: float, moved: bool) -> float:
    """The threshold in use: exactly the card's until the user moves the slider.

    Examples
    --------
    >>> current_threshold(0.2895, 0.29, moved=False)
    0.2895
    >>> current_threshold(0.2895, 0.4, moved=True)
    0.4
    """
    return float(slider_value) if moved else float(card_threshold)


def render(model_path: str | os.PathLike | None = None) -> None:
    """Draw the page (called by Streamlit on every interaction).

    Four steps, each a function below: load the model (once, cached), the
    sidebar (threshold slider and model card), the image (an upload or a
    test-split sample), and the answer (image, probability, label, Grad-CAM).
    """
    import streamlit as st

    st.set_page_config(page_title="cnnguide: chest X-ray demo", layout="wide")
    st.title("Pneumonia on chest X-rays: a teaching demo")
    st.warning(cnnguide.DISCLAIMER, icon="⚠️")
    predictor = _load(model_path)
    if predictor is None:
        return
    notice = training_notice(predictor.card, predictor.size)
    threshold, moved = _sidebar(predictor)
    chosen = _choose_image(predictor, notice)
    if chosen is None:
        return
    image, caption, looks_odd = chosen
    result = predictor.predict(image, threshold if moved else None)
    st.session_state["last_result"] = result
    _show_answer(predictor, image, caption, result, looks_odd, notice, threshold, moved)


def _load(model_path) -> service.Predictor | None:
    """The predictor, loaded once per model file (and again when it changes)."""
    import streamlit as st

    @st.cache_resource(show_spinner="Loading the model ...")
    def get_predictor(path: str, stamp: float) -> service.Predictor:
        return service.load_predictor(path)

    try:
        model_file = service.find_model(model_path)
        return get_predictor(str(model_file.resolve()), model_file.stat().st_mtime)
    except service.NoModelError as exc:
        st.error("No trained model yet.")
        st.info(str(exc))
    except ValueError as exc:
        st.error(f"The model could not be loaded: {exc}")
    return None


def _sidebar(predictor: service.Predictor) -> tuple[float, bool]:
    """The threshold slider and the model card; returns (threshold, moved)."""
    import pandas as pd
    import streamlit as st

    with st.sidebar:
        st.header("Decision threshold")
        value = st.slider(
            "Label 'pneumonia' when the probability is at least",
            min_value=0.0,
            max_value=1.0,
            value=float(predictor.threshold),
            step=0.001,
            format="%.4f",
            key="threshold",
            on_change=_threshold_moved,
            help="The model card's value was chosen on the validation split to keep "
            "recall high. Moving it trades missed pneumonias against false alarms.",
        )
        moved = bool(st.session_state.get("threshold_moved"))
        threshold = current_threshold(predictor.threshold, value, moved)
        st.caption(f"Model card threshold: {predictor.threshold:.4f}")
        st.header("Model card")
        st.table(pd.DataFrame(card_table(predictor), columns=["field", "value"]))
        rows = metrics_table(predictor.card)
        if rows:
            st.markdown("**Validation and test** (at the card's threshold)")
            st.table(pd.DataFrame(rows))
        with st.expander("Full model card (JSON)"):
            st.json(predictor.card, expanded=False)
    return threshold, moved


def _choose_image(predictor: service.Predictor, notice: str):
    """An upload or a test-split sample: (image, caption, warnings), or None."""
    import streamlit as st

    source = st.radio(
        "Image", ["Upload an X-ray", "Pick a sample"], horizontal=True, key="source"
    )
    looks_odd: list[str] = []  # the service's warnings, as the API returns them
    if source == "Upload an X-ray":
        uploaded = st.file_uploader(
            "PNG, JPEG or DICOM chest X-ray",
            type=UPLOAD_TYPES,
            key="upload",
            max_upload_size=service.MAX_UPLOAD_BYTES // 2**20,
        )
        if uploaded is None:
            st.info("Upload an image, or pick a sample above.")
            st.caption(notice)
            return None
        try:
            image = predictor.prepare(
                uploaded.getvalue(), uploaded.name, notes=looks_odd
            )
        except service.ImageError as exc:
            st.error(f"Cannot use this file: {exc}")
            return None
        return image, uploaded.name, looks_odd
    data_name, is_real, names, images = _samples(predictor.size)
    if not is_real:
        st.caption(
            f"Samples come from {data_name} (synthetic, not X-rays): "
            "the real PneumoniaMNIST file was not found."
        )
    choice = st.selectbox("Sample from the test split", names, key="sample")
    return images[names.index(choice)], choice, looks_odd


def _show_answer(
    predictor, image, caption, result, looks_odd, notice, threshold, moved
) -> None:
    """The image as the model sees it, the answer, and the Grad-CAM map."""
    import matplotlib.pyplot as plt
    import streamlit as st

    for text in looks_odd:
        st.warning(f"Unlike the training images: {text}", icon="🔎")
    left, middle, right = st.columns(3)
    with left:
        st.subheader("What the model sees")
        st.image(
            display_image(image),
            caption=f"{caption}: {predictor.size}×{predictor.size}",
            clamp=True,
        )
    with middle:
        st.subheader("Prediction")
        st.metric("Probability of pneumonia", f"{result['probability']:.3f}")
        st.markdown(
            f"**Label: {result['label']}** at threshold {result['threshold']:.4f}"
        )
        if moved and abs(threshold - predictor.threshold) > 1e-12:
            st.caption(
                f"You moved the threshold from the card's {predictor.threshold:.4f}."
            )
        else:
            st.caption("The threshold is the model card's, chosen on validation.")
        st.info(notice, icon="ℹ️")
        st.caption(f"Model version {result['model_version']}. {cnnguide.DISCLAIMER}")
    with right:
        st.subheader("Grad-CAM")
        try:
            from cnnguide.explain import overlay

            heat = predictor.explain(image)
            fig, ax = plt.subplots(figsize=(3, 3))
            overlay(image, heat, ax=ax, alpha=0.4)
            st.pyplot(fig)
            plt.close(fig)
            st.caption(
                "Where the last convolution layer's evidence for 'pneumonia' lies. "
                "A plausible map does not make the prediction right."
            )
        except Exception as exc:  # the explanation must never take the page down
            st.error(f"Grad-CAM failed: {exc}")


def command(model_path=None, *, port: int = 8501, host: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line that :func:`run` executes.

    The toolbar is ``minimal``: no "Deploy" button on a local teaching page.

    Examples
    --------
    >>> cmd = command("m", port=8600)
    >>> cmd[1:4], cmd[cmd.index("--client.toolbarMode") + 1], cmd[-2:]
    (['-m', 'streamlit', 'run'], 'minimal', ['--model', 'm'])
    """
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(Path(__file__).resolve()),
        "--server.port",
        str(int(port)),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",
        str(max(1, service.MAX_UPLOAD_BYTES // 2**20)),
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]
    if model_path is not None:
        cmd += ["--", "--model", str(model_path)]
    return cmd


def run(
    model_path=None,
    *,
    port: int = 8501,
    host: str = "127.0.0.1",
    replace_process: bool = False,
) -> int:
    """Serve the app on ``http://host:port`` until it is stopped; returns its status.

    ``cnnguide app`` and ``make app`` call this. ``model_path`` defaults to
    ``$CNNGUIDE_MODEL``, then ``./cnnguide-model``; without a model the page explains
    how to train one.

    Parameters
    ----------
    model_path : path, optional
    port, host
        Where to listen (loopback by default).
    replace_process : bool
        Become the Streamlit server (``os.execv``, POSIX only): what the command line
        does, so one SIGTERM from a service manager or ``kill`` stops the server
        itself and frees its port, with no orphan left behind. Otherwise (and on
        Windows) Streamlit runs as a child, and SIGTERM, SIGINT or Ctrl+C sent to this
        process are passed on to it; a Python session calling ``run`` survives.
    """
    cmd = command(model_path, port=port, host=host)
    print(
        f"cnnguide app: http://{host}:{port}  (Ctrl+C to stop). {cnnguide.DISCLAIMER}",
        flush=True,
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if replace_process and os.name == "posix":
        sys.stderr.flush()
        os.execv(cmd[0], cmd)  # does not return
    child = subprocess.Popen(cmd)

    def forward(signum, frame):
        if child.poll() is None:
            child.send_signal(signum) if os.name == "posix" else child.terminate()

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            previous[number] = signal.signal(number, forward)
        except ValueError:  # not the main thread: signals stay as they are
            pass
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        child.wait()
        return 130
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnguide.deploy.app [MODEL] [--port P] [--host H]``."""
    parser = argparse.ArgumentParser(
        prog="python -m cnnguide.deploy.app",
        description="Streamlit demo page. " + cnnguide.DISCLAIMER,
    )
    parser.add_argument(
        "model",
        nargs="?",
        default=None,
        help="model folder or .keras file (default: $CNNGUIDE_MODEL, "
        "then ./cnnguide-model)",
    )
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    return run(args.model, port=args.port, host=args.host, replace_process=True)


def _inside_streamlit() -> bool:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover
        return False
    return get_script_run_ctx(suppress_warning=True) is not None


if __name__ == "__main__":
    if _inside_streamlit():
        render(_model_argument())
    else:  # python -m cnnguide.deploy.app
        sys.exit(main())
