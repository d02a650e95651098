"""The ``cnnguide`` command line: where the data is, train, evaluate, predict.

Run ``cnnguide --help`` (or ``python -m cnnguide --help``). Four subcommands:

``cnnguide data [--size N] [--download]``
    Which PneumoniaMNIST file each image size would use, or that synthetic phantoms
    stand in; ``--size N`` also loads that size and shows the split counts;
    ``--download`` fetches the file.
``cnnguide train [--config FILE] [--epochs N] [--seed S] [--image-size N] [--out DIR]``
    Train with :func:`cnnguide.train.train`; prints the test metrics and the folder.
``cnnguide evaluate MODEL [--split val|test] [--json]``
    Score a saved model on a split, at the threshold saved in its card.
``cnnguide predict MODEL IMAGE... [--gradcam OUT.png] [--json]``
    Probability and label for each image file, optionally a Grad-CAM overlay.

Bad input (a missing model or image, a corrupt file, a colour photo, a model that
cannot take greyscale images) ends with one line ``cnnguide: error: ...`` on stderr and
exit status 1; ``--debug`` shows the full traceback instead. TensorFlow is imported only
by the subcommands that need it, so ``cnnguide --help`` and ``cnnguide data`` are fast.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

PROG = "cnnguide"
_SIZES = (28, 64, 128, 224)
_METRIC_ORDER = (
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "roc_auc",
    "pr_auc",
)


# --------------------------------------------------------------------------------------
# Small helpers


def _disclaimer() -> str:
    import cnnguide

    return cnnguide.DISCLAIMER


def _print_json(payload: Any) -> None:
    def default(value):
        if hasattr(value, "item"):
            return value.item()
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"cannot write {type(value).__name__} as JSON")

    def clean(value):  # NaN is not JSON: write null
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    print(json.dumps(clean(payload), indent=2, default=default))


def _format_metrics(metrics: dict) -> list[str]:
    parts = []
    for name in _METRIC_ORDER:
        if name in metrics:
            value = metrics[name]
            parts.append(
                f"{name} {value:.3f}"
                if value is not None and math.isfinite(value)
                else f"{name} n/a"
            )
    lines = ["  " + "  ".join(parts)]
    if all(k in metrics for k in ("tn", "fp", "fn", "tp")):
        lines.append(
            "  confusion: tn={tn} fp={fp} fn={fn} tp={tp}".format(
                **{k: metrics[k] for k in ("tn", "fp", "fn", "tp")}
            )
        )
    return lines


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _load_dataset(size: int, data_dir, n_phantoms=None):
    """load_dataset without the PhantomDataWarning: the CLI prints its own note."""
    from cnnguide import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.PhantomDataWarning)
        return data.load_dataset(size, data_dir, n_phantoms=n_phantoms)


def _note_phantoms(dataset) -> None:
    if not dataset.is_real:
        print(
            f"{PROG}: note: synthetic phantoms stand in for PneumoniaMNIST at "
            f"{dataset.image_size}x{dataset.image_size} (not X-rays); run "
            f"'{PROG} data' to see where the real file is looked for",
            file=sys.stderr,
        )


def _load_model(path: str):
    _quiet_tensorflow()
    from cnnguide import train

    return train.load(path)


def _greyscale_input_size(model, card: dict) -> int:
    """The square side the model takes, after checking it takes 1-channel images."""
    shape = tuple(model.input_shape)
    if len(shape) != 4:
        raise ValueError(
            f"the model takes inputs shaped {shape[1:]}, not images (height, width, channels)"
        )
    _, height, width, channels = shape
    if channels != 1:
        raise ValueError(
            f"the model takes {channels}-channel images, but {PROG} feeds greyscale X-rays "
            "(1 channel); use a model trained with cnnguide.train"
        )
    if height is None or width is None:
        size = (
            card.get("data", {}).get("image_size")
            or (card.get("input_shape") or [None])[0]
        )
        if size is None:
            raise ValueError(
                "the model accepts any image size and its card names none; "
                "add data.image_size to the model card"
            )
        return int(size)
    if height != width:
        raise ValueError(
            f"the model takes {height}x{width} images; {PROG} handles square ones only"
        )
    return int(height)


def _threshold(card: dict, override: float | None) -> tuple[float, str]:
    if override is not None:
        if not 0.0 <= override <= 1.0:
            raise ValueError(f"--threshold must be in [0, 1], got {override}")
        return float(override), "given with --threshold"
    if card.get("threshold") is None:
        return 0.5, "0.5: the model card holds no threshold"
    return float(card["threshold"]), "saved in the model card (chosen on validation)"


# --------------------------------------------------------------------------------------
# data


def _locate(size: int, data_dir) -> tuple[str | None, str]:
    """Where load_dataset(size) would find PneumoniaMNIST, mirroring cnnguide.data."""
    from cnnguide import data

    name = data.pneumoniamnist_filename(size)
    places = []
    if data_dir is not None:
        places.append(("--data-dir", Path(data_dir)))
    if os.environ.get("CNNGUIDE_DATA"):
        places.append(("CNNGUIDE_DATA", Path(os.environ["CNNGUIDE_DATA"])))
    places.append(("user cache", data.cache_dir()))
    for label, folder in places:
        folder = folder.expanduser()
        if folder.is_file():
            return str(folder), label
        if (folder / name).is_file():
            return str(folder / name), label
    offline = os.environ.get("CNNGUIDE_OFFLINE", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    if offline:
        return None, "not found; CNNGUIDE_OFFLINE=1, so synthetic phantoms are used"
    return None, (
        f"not found; load_dataset would try to download it into {data.cache_dir()} "
        "and use synthetic phantoms if that fails"
    )


def _cmd_data(args) -> int:
    from cnnguide import data

    sizes = [args.size] if args.size is not None else list(_SIZES)
    for size in sizes:
        if size not in _SIZES:
            raise ValueError(
                f"--size {size} is not a PneumoniaMNIST size; use one of {_SIZES}"
            )
    if args.download:
        results = []
        for size in sizes:
            dataset = data.load_pneumoniamnist(size, args.data_dir, download=True)
            results.append(
                {"size": size, "path": dataset.source, "counts": dataset.counts()}
            )
        if args.json:
            _print_json({"downloaded": results})
        else:
            for item in results:
                print(f"{item['size']:>3}x{item['size']:<3}  {item['path']}")
        return 0

    report = []
    for size in sizes:
        path, where = _locate(size, args.data_dir)
        report.append(
            {
                "size": size,
                "file": data.pneumoniamnist_filename(size),
                "path": path,
                "real": path is not None,
                "where": where,
            }
        )
    loaded = None
    if args.size is not None:
        dataset = _load_dataset(args.size, args.data_dir)
        loaded = {
            "name": dataset.name,
            "source": dataset.source,
            "is_real": dataset.is_real,
            "counts": dataset.counts(),
            "notice": dataset.notice,
        }
    if args.json:
        payload = {
            "CNNGUIDE_DATA": os.environ.get("CNNGUIDE_DATA"),
            "CNNGUIDE_OFFLINE": os.environ.get("CNNGUIDE_OFFLINE"),
            "sizes": report,
        }
        if loaded is not None:
            payload["dataset"] = loaded
        _print_json(payload)
        return 0
    print(
        f"CNNGUIDE_DATA={os.environ.get('CNNGUIDE_DATA', '(not set)')}  "
        f"CNNGUIDE_OFFLINE={os.environ.get('CNNGUIDE_OFFLINE', '(not set)')}"
    )
    for item in report:
        size = item["size"]
        if item["real"]:
            print(
                f"{size:>3}x{size:<3}  real PneumoniaMNIST: {item['path']}  (from {item['where']})"
            )
        else:
            print(f"{size:>3}x{size:<3}  {item['file']} {item['where']}")
    if loaded is not None:
        print(f"loaded: {loaded['name']} ({loaded['source']})")
        for split, counts in loaded["counts"].items():
            print(f"  {split:<5} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
        if loaded["notice"]:
            print(f"note: {loaded['notice']}")
    if not any(item["real"] for item in report):
        print(
            f"Get the real data: '{PROG} data --download --size 28' (needs a network), or set "
            "CNNGUIDE_DATA to a folder holding pneumoniamnist.npz."
        )
    return 0


# --------------------------------------------------------------------------------------
# train


def _cmd_train(args) -> int:
    _quiet_tensorflow()
    from cnnguide import train

    config = (
        train.TrainConfig.from_file(args.config) if args.config else train.TrainConfig()
    )
    overrides = {
        "epochs": args.epochs,
        "seed": args.seed,
        "image_size": args.image_size,
        "model": args.model,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "patience": args.patience,
        "min_recall": args.min_recall,
    }
    if args.no_augment:
        overrides["augment"] = False
    values = config.to_dict()
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = train.TrainConfig.from_dict(values)
    dataset = _load_dataset(
        config.image_size, args.data_dir, n_phantoms=args.n_phantoms
    )
    _note_phantoms(dataset)
    result = train.train(
        config, dataset, out_dir=args.out, verbose=args.verbose, n_boot=args.n_boot
    )
    card = result.card
    if args.json:
        _print_json(
            {
                "out_dir": str(result.out_dir),
                "threshold": card["threshold"],
                "epochs_run": card["epochs_run"],
                "training_seconds": card["training_seconds"],
                "data": card["data"],
                "validation": card["validation"],
                "test": card["test"],
                "disclaimer": _disclaimer(),
            }
        )
        return 0
    data_kind = "real" if card["data"]["is_real"] else "SYNTHETIC PHANTOMS, not X-rays"
    print(
        f"trained {card['name']} on {card['data']['name']} ({data_kind}), "
        f"{card['epochs_run']} epoch(s) in {card['training_seconds']:.1f} s"
    )
    print(f"threshold {card['threshold']:.4f}: {card['threshold_rule']}")
    print(
        f"test split ({card['data']['split_sizes']['test']} images) at that threshold:"
    )
    for line in _format_metrics(card["test"]):
        print(line)
    ci = card["test"].get("roc_auc_ci")
    if ci and all(v is not None and math.isfinite(v) for v in ci):
        print(f"  roc_auc 95% bootstrap interval [{ci[0]:.3f}, {ci[1]:.3f}]")
    print(f"saved in {result.out_dir}: {train.MODEL_FILE}, {train.CARD_FILE}")
    print(_disclaimer())
    return 0


# --------------------------------------------------------------------------------------
# evaluate


def _cmd_evaluate(args) -> int:
    model, card = _load_model(args.model)
    from cnnguide import metrics, train

    size = _greyscale_input_size(model, card)
    dataset = _load_dataset(size, args.data_dir)
    _note_phantoms(dataset)
    split = dataset[args.split]
    threshold, why = _threshold(card, args.threshold)
    scores = train.predict_proba(model, split.images)
    result = metrics.binary_metrics(split.labels, scores, threshold)
    trained_real = card.get("data", {}).get("is_real")
    mismatch = trained_real is not None and bool(trained_real) != dataset.is_real
    if args.json:
        _print_json(
            {
                "model": str(args.model),
                "split": args.split,
                "n": int(len(split.labels)),
                "data": {
                    "name": dataset.name,
                    "source": dataset.source,
                    "is_real": dataset.is_real,
                    "image_size": dataset.image_size,
                },
                "threshold": threshold,
                "threshold_source": why,
                "trained_on_real_data": trained_real,
                "metrics": result,
                "disclaimer": _disclaimer(),
            }
        )
        return 0
    print(f"model: {args.model} ({card.get('name', 'unnamed')})")
    kind = "real" if dataset.is_real else "SYNTHETIC PHANTOMS, not X-rays"
    print(
        f"data: {dataset.name} ({kind}), {args.split} split, {len(split.labels)} images"
    )
    if mismatch:
        trained = "real X-rays" if trained_real else "synthetic phantoms"
        print(
            f"warning: the model was trained on {trained}; these scores mix the two worlds"
        )
    print(f"threshold {threshold:.4f}: {why}")
    for line in _format_metrics(result):
        print(line)
    print(_disclaimer())
    return 0


# --------------------------------------------------------------------------------------
# predict


def _gradcam_paths(target: str, images: list[str]) -> list[Path]:
    """One output file per image: the name itself for one image, else name_<stem>.png."""
    target_path = Path(target)
    if target.endswith(("/", os.sep)) or target_path.is_dir():
        target_path.mkdir(parents=True, exist_ok=True)
        paths = [target_path / f"{Path(image).stem}_gradcam.png" for image in images]
    elif len(images) == 1:
        paths = [target_path]
    else:
        suffix = target_path.suffix or ".png"
        paths = [
            target_path.with_name(f"{target_path.stem}_{Path(image).stem}{suffix}")
            for image in images
        ]
    seen: dict[Path, int] = {}
    unique = []
    for path in paths:  # two images with the same stem must not overwrite each other
        count = seen.get(path, 0)
        seen[path] = count + 1
        unique.append(
            path if count == 0 else path.with_name(f"{path.stem}_{count}{path.suffix}")
        )
    return unique


def _save_gradcam(
    model, image, probability: float, label: str, title: str, path: Path
) -> None:
    from matplotlib.figure import Figure

    from cnnguide.explain import grad_cam, overlay

    heat = grad_cam(model, image)
    figure = Figure(figsize=(3.2, 3.6))
    ax = figure.add_subplot()
    overlay(image, heat, ax=ax, title=f"{title}\np={probability:.3f} ({label})")
    figure.text(
        0.5,
        0.02,
        "Teaching material, not a diagnostic device.",
        ha="center",
        fontsize=6,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")


def _cmd_predict(args) -> int:
    model, card = _load_model(args.model)
    import numpy as np

    from cnnguide import data, train

    size = _greyscale_input_size(model, card)
    threshold, why = _threshold(card, args.threshold)
    class_names = tuple(card.get("class_names") or ("normal", "pneumonia"))
    loaded, errors = [], []
    for name in args.images:
        try:
            loaded.append((name, data.load_image(name, size=size)))
        except (data.DataError, OSError, ValueError) as exc:
            errors.append({"file": name, "error": _one_line(exc)})
    predictions = []
    if loaded:
        probabilities = train.predict_proba(
            model, np.stack([image for _, image in loaded])
        )
        outputs = (
            _gradcam_paths(args.gradcam, [n for n, _ in loaded])
            if args.gradcam
            else None
        )
        for index, ((name, image), probability) in enumerate(
            zip(loaded, probabilities)
        ):
            label = class_names[int(probability >= threshold)]
            entry = {"file": name, "probability": float(probability), "label": label}
            if outputs is not None:
                _save_gradcam(
                    model,
                    image,
                    float(probability),
                    label,
                    Path(name).name,
                    outputs[index],
                )
                entry["gradcam"] = str(outputs[index])
            predictions.append(entry)
    for error in errors:
        print(f"{PROG}: error: {error['error']}", file=sys.stderr)
    if args.json:
        _print_json(
            {
                "model": str(args.model),
                "image_size": size,
                "threshold": threshold,
                "threshold_source": why,
                "predictions": predictions,
                "errors": errors,
                "disclaimer": _disclaimer(),
            }
        )
    else:
        for entry in predictions:
            line = (
                f"{entry['file']}: p(pneumonia)={entry['probability']:.3f} -> "
                f"{entry['label']} (threshold {threshold:.3f})"
            )
            if "gradcam" in entry:
                line += f"  Grad-CAM: {entry['gradcam']}"
            print(line)
        if predictions:
            print(_disclaimer())
    return 1 if errors else 0


def _cmd_app(args) -> int:
    from cnnguide.deploy.app import run

    return run(args.model, port=args.port, host=args.host)


def _cmd_serve(args) -> int:
    from cnnguide.deploy.api import run
    from cnnguide.deploy.service import NoModelError

    try:
        run(args.model, host=args.host, port=args.port)
    except NoModelError as exc:
        raise FileNotFoundError(str(exc)) from exc
    return 0


# --------------------------------------------------------------------------------------
# parser and entry point


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cnnguide`` command (no heavy imports).

    Examples
    --------
    >>> args = build_parser().parse_args(["evaluate", "models/run1", "--split", "val"])
    >>> args.command, args.split
    ('evaluate', 'val')
    """
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of any error",
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[debug],
        description="Train, evaluate and explain the cnnguide pneumonia CNN. "
        "Teaching material, not a diagnostic device.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser(
        "data",
        parents=[debug],
        help="where the data is; download it",
        description="Show which PneumoniaMNIST file each size uses "
        "(or that synthetic phantoms stand in).",
    )
    p.add_argument(
        "--size",
        type=int,
        help="only this size (28, 64, 128 or 224); also load it "
        "and show the split counts",
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="download PneumoniaMNIST (all sizes, or --size N) into the user cache "
        "or --data-dir",
    )
    p.add_argument(
        "--data-dir",
        help="folder holding pneumoniamnist*.npz (default: "
        "$CNNGUIDE_DATA, then the user cache)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_data)

    p = commands.add_parser(
        "train",
        parents=[debug],
        help="train a model and save it",
        description="Train with cnnguide.train.train: flags override the config file.",
    )
    p.add_argument("--config", help="JSON or YAML file of TrainConfig fields")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--image-size", type=int, help="28, 64, 128 or 224")
    p.add_argument("--model", choices=("recommended", "source"))
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--patience", type=int)
    p.add_argument(
        "--min-recall", type=float, help="recall the validation threshold keeps"
    )
    p.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    p.add_argument(
        "--out",
        default="cnnguide-model",
        help="folder for model.keras and model_card.json (default: %(default)s)",
    )
    p.add_argument("--data-dir", help="folder holding pneumoniamnist*.npz")
    p.add_argument(
        "--n-phantoms",
        type=int,
        help="total phantom images when no real data is found (default 1700)",
    )
    p.add_argument(
        "--n-boot",
        type=int,
        default=1000,
        help="bootstrap resamples for the test intervals (default %(default)s)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        default=0,
        choices=(0, 1, 2),
        help="Keras progress output (default 0)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_train)

    p = commands.add_parser(
        "evaluate",
        parents=[debug],
        help="score a saved model on a split",
        description="Metrics of a saved model on the val or test split, "
        "at the threshold saved in its card.",
    )
    p.add_argument(
        "model", help="model folder (model.keras + model_card.json) or .keras file"
    )
    p.add_argument("--split", choices=("val", "test"), default="test")
    p.add_argument("--threshold", type=float, help="override the card's threshold")
    p.add_argument("--data-dir", help="folder holding pneumoniamnist*.npz")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_evaluate)

    p = commands.add_parser(
        "predict",
        parents=[debug],
        help="probability for image files",
        description="Probability of pneumonia and label for each PNG/JPEG. "
        "Teaching material, not a diagnostic device.",
    )
    p.add_argument(
        "model", help="model folder (model.keras + model_card.json) or .keras file"
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    p.add_argument(
        "--gradcam",
        metavar="OUT.png",
        help="save a Grad-CAM overlay: this file for one image; OUT_<image>.png for "
        "several; a folder (ending in /) gets <image>_gradcam.png",
    )
    p.add_argument("--threshold", type=float, help="override the card's threshold")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_predict)

    servers = [
        (
            "app",
            "start the Streamlit demo page",
            "Serve the demo page on localhost.",
            8501,
            _cmd_app,
        ),
        (
            "serve",
            "start the web API (FastAPI)",
            "POST /predict and GET /health on localhost.",
            8000,
            _cmd_serve,
        ),
    ]
    for name, summary, description, port, func in servers:
        p = commands.add_parser(
            name,
            parents=[debug],
            help=summary,
            description=f"{description} {_disclaimer()}",
        )
        p.add_argument(
            "model",
            nargs="?",
            help="model folder or .keras file (default: "
            "$CNNGUIDE_MODEL, then ./cnnguide-model)",
        )
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=port)
        p.set_defaults(func=func)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError):  # str(KeyError) is just the quoted key
        text = f"missing key {text}"
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the ``cnnguide`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 an error (reported in one line on stderr), 2 a usage
        error from argparse, 130 interrupted.

    Examples
    --------
    >>> main(["data", "--size", "999"])   # doctest: +SKIP
    cnnguide: error: --size 999 is not a PneumoniaMNIST size; use one of (28, 64, 128, 224)
    1
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        from cnnguide.data import DataError

        if isinstance(exc, (DataError, FileNotFoundError, ValueError, OSError)):
            message = _one_line(exc)
        else:
            message = (
                f"unexpected {type(exc).__name__}: {_one_line(exc)} "
                "(rerun with --debug for the traceback)"
            )
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
