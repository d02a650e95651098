"""Keras versus TensorFlow Lite (float32, float16, int8): file size, latency, test ROC-AUC.

Uses the model in ``$CNNGUIDE_MODEL`` or ``./cnnguide-model`` when there is one (what
``cnnguide train`` saves); otherwise trains a short run of the book's recipe first
(``--epochs``, default 5). The int8 variant is calibrated on 200 training images; every
row is scored on the test split. Latency is the median of one-image predictions on this
CPU (batch of one, as a device sees images).

Usage::

    python benchmarks/bench_edge.py [--model DIR] [--epochs 5] [--n-timing 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        help="saved model folder (default: $CNNGUIDE_MODEL, "
        "then ./cnnguide-model, else train one)",
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-timing", type=int, default=200)
    args = parser.parse_args(argv)

    from cnnguide.deploy import edge, service
    from cnnguide.data import load_dataset
    from cnnguide.train import TrainConfig, load, train

    with tempfile.TemporaryDirectory() as tmp:
        try:
            model_file = service.find_model(args.model)
            model, _ = load(model_file)
            origin = f"saved model {model_file}"
        except service.NoModelError:
            start = time.perf_counter()
            result = train(
                TrainConfig(epochs=args.epochs), out_dir=Path(tmp) / "model", n_boot=10
            )
            model = result.model
            model_file = Path(tmp) / "model" / "model.keras"
            origin = (
                f"trained now ({args.epochs} epochs max, "
                f"{time.perf_counter() - start:.0f} s)"
            )
        size = int(model.input_shape[1])
        dataset = load_dataset(size)
        rep = edge.representative_images(dataset["train"].images, n=200)
        start = time.perf_counter()
        paths = edge.export_tflite(model, Path(tmp) / "tflite", rep)
        export_s = time.perf_counter() - start
        test = dataset["test"]
        rows = edge.compare(
            model,
            paths,
            test.images,
            test.labels,
            keras_file=model_file,
            n_timing=args.n_timing,
        )
    print(
        f"Edge export: {dataset.name} {size}x{size}, test split n={len(test.labels)}; "
        f"model: {origin}; export of 3 variants {export_s:.0f} s"
    )
    if not dataset.is_real:
        print(
            "  (synthetic phantoms, not X-rays: the real PneumoniaMNIST was not found)"
        )
    print(edge.format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
