"""The Streamlit page: upload a chest X-ray (or pick a sample), see what the model says.

Start it with ``cnnguide app [MODEL]`` / ``make app`` (both call :func:`run`), or with
Streamlit directly::

    streamlit run cnnguide/deploy/app.py -- --model cnnguide-model

The page shows the image as the model sees it (resized, greyscale), the probability,
the label at the model card's threshold with a slider to move it, the Grad-CAM overlay,
the model card and the disclaimer. Bad uploads (not an image, empty, huge, a colour
photo) get a message on the page; with no trained model the page says how to train one.
All the logic lives in :mod:`cnnguide.deploy.service`, shared with the web API.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import cnnguide
from cnnguide.deploy import service

__all__ = ["render", "run", "command", "main", "display_image", "N_SAMPLES"]

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
        from cnnguide.data import load_dataset

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


def _card_summary(predictor: service.Predictor) -> dict:
    card = predictor.card
    test = card.get("test") or {}
    return {
        "model": predictor.name,
        "version": predictor.version,
        "created": card.get("created"),
        "trained on": (card.get("data") or {}).get("name"),
        "real X-rays": (card.get("data") or {}).get("is_real"),
        "input": f"{predictor.size}×{predictor.size} greyscale",
        "threshold (card)": predictor.threshold,
        "threshold rule": card.get("threshold_rule"),
        "test ROC-AUC": test.get("roc_auc"),
        "test recall": test.get("recall"),
        "test specificity": test.get("specificity"),
    }


def render(model_path: str | os.PathLike | None = None) -> None:
    """Draw the page (called by Streamlit on every interaction)."""
    import matplotlib.pyplot as plt
    import streamlit as st

    st.set_page_config(page_title="cnnguide: chest X-ray demo", layout="wide")
    st.title("Pneumonia on chest X-rays: a teaching demo")
    st.warning(cnnguide.DISCLAIMER, icon="⚠️")

    @st.cache_resource(show_spinner="Loading the model ...")
    def get_predictor(path: str, stamp: float) -> service.Predictor:
        return service.load_predictor(path)

    try:
        model_file = service.find_model(model_path)
        predictor = get_predictor(str(model_file.resolve()), model_file.stat().st_mtime)
    except service.NoModelError as exc:
        st.error("No trained model yet.")
        st.info(str(exc))
        return
    except ValueError as exc:
        st.error(f"The model could not be loaded: {exc}")
        return

    with st.sidebar:
        st.header("Decision threshold")
        threshold = st.slider(
            "Label 'pneumonia' when the probability is at least",
            min_value=0.0,
            max_value=1.0,
            value=float(round(predictor.threshold, 2)),
            step=0.01,
            key="threshold",
            help="The model card's value was chosen on the validation split to keep recall "
            "high. Moving it trades missed pneumonias against false alarms.",
        )
        st.caption(f"Model card threshold: {predictor.threshold:.3f}")
        st.header("Model card")
        st.json(_card_summary(predictor), expanded=True)
        with st.expander("Full model card"):
            st.json(predictor.card, expanded=False)

    source = st.radio(
        "Image", ["Upload an X-ray", "Pick a sample"], horizontal=True, key="source"
    )
    image = None
    caption = ""
    if source == "Upload an X-ray":
        uploaded = st.file_uploader(
            "PNG or JPEG chest X-ray (DICOM when pydicom is installed)",
            type=UPLOAD_TYPES,
            key="upload",
            max_upload_size=service.MAX_UPLOAD_BYTES // 2**20,
        )
        if uploaded is None:
            st.info("Upload an image, or pick a sample above.")
            return
        try:
            image = predictor.prepare(uploaded.getvalue(), uploaded.name)
        except service.ImageError as exc:
            st.error(f"Cannot use this file: {exc}")
            return
        caption = uploaded.name
    else:
        data_name, is_real, names, images = _samples(predictor.size)
        if not is_real:
            st.caption(
                f"Samples come from {data_name} (synthetic, not X-rays): "
                "the real PneumoniaMNIST file was not found."
            )
        choice = st.selectbox("Sample from the test split", names, key="sample")
        image = images[names.index(choice)]
        caption = choice

    result = predictor.predict(image, threshold)
    st.session_state["last_result"] = result

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
        st.markdown(f"**Label: {result['label']}** at threshold {threshold:.2f}")
        if abs(threshold - predictor.threshold) > 1e-9:
            st.caption(
                f"You moved the threshold from the card's {predictor.threshold:.3f}."
            )
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
    """The ``streamlit run`` command line that :func:`run` executes."""
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
    ]
    if model_path is not None:
        cmd += ["--", "--model", str(model_path)]
    return cmd


def run(model_path=None, *, port: int = 8501, host: str = "127.0.0.1") -> int:
    """Start the app on ``http://host:port`` and block until it stops; returns its status.

    ``cnnguide app`` and ``make app`` call this. ``model_path`` defaults to
    ``$CNNGUIDE_MODEL``, then ``./cnnguide-model``; without a model the page explains
    how to train one.
    """
    print(
        f"cnnguide app: http://{host}:{port}  (Ctrl+C to stop). {cnnguide.DISCLAIMER}"
    )
    try:
        return subprocess.call(command(model_path, port=port, host=host))
    except KeyboardInterrupt:
        return 130


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
    return run(args.model, port=args.port, host=args.host)


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
