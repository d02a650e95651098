"""The ``cnnguide`` command line: where the data is, train, evaluate, predict, serve.

Run ``cnnguide --help`` (or ``python -m cnnguide --help``). The subcommands:

``cnnguide data [--size N] [--download]``
    Where each PneumoniaMNIST size is found (:func:`cnnguide.data.locate`), or that
    synthetic phantoms stand in; ``--size N`` also loads it and shows the split counts.
``cnnguide train [--preset best | --config FILE] [--epochs N] [--seed S] [--out DIR] [--score-test]``
    Train with :func:`cnnguide.train.train`, one progress line per epoch on stderr
    (loss, validation AUC, elapsed, time left); prints the validation metrics and the
    folder. The test split is scored only with ``--score-test`` (or later, once, by
    ``cnnguide evaluate MODEL --split test``), when every choice is made.
``cnnguide evaluate MODEL [FOLDER] [--split val|test] [--csv FILE] [--json]``
    Score a saved model at the threshold in its card: on a PneumoniaMNIST split, or on
    an image folder laid out as ``FOLDER/normal/`` and ``FOLDER/pneumonia/``.
``cnnguide predict MODEL PATH... [--csv FILE] [--json] [--gradcam OUT]``
    Probability and label for image files and folders (searched recursively; files
    that are not images are skipped and reported).
``cnnguide app [MODEL]`` / ``cnnguide serve [MODEL]``
    The Streamlit page and the web API; one SIGTERM (or Ctrl+C) stops them.

Every prediction goes through :mod:`cnnguide.deploy.service`, like the app's and the
API's. An input that cannot be read (missing, corrupt, a colour photo) is named in one
line ``cnnguide: error: ...`` on stderr, the other inputs are still scored, and the exit
status is 1; a bad model or bad flags end the same way. ``--debug`` shows the full
traceback instead. TensorFlow is imported only by the subcommands that need it, so
``cnnguide --help`` and ``cnnguide data`` are fast.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "collect_images", "IMAGE_SUFFIXES"]

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

#: File name endings taken for images inside folders (files named on the command
#: line are always tried). Extensionless files holding the DICOM marker count too.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")

_JUNK = {"thumbs.db", "desktop.ini", "__macosx"}

#: Columns of the ``--csv`` table of ``predict`` (``evaluate`` adds ``truth``).
CSV_COLUMNS = (
    "file",
    "probability",
    "label",
    "threshold",
    "model_version",
    "warnings",
    "error",
)


# --------------------------------------------------------------------------------------
# Small helpers


def _disclaimer() -> str:
    import cnnguide

    return cnnguide.DISCLAIMER


def _clean(value):
    """NaN is not JSON: write null; NumPy scalars and paths as plain values."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _print_json(payload: Any) -> None:
    print(json.dumps(_clean(payload), indent=2))


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


def _note(text: str) -> None:
    print(f"{PROG}: note: {text}", file=sys.stderr)


def _note_phantoms(dataset) -> None:
    if not dataset.is_real:
        _note(
            f"synthetic phantoms stand in for PneumoniaMNIST at "
            f"{dataset.image_size}x{dataset.image_size} (not X-rays); run "
            f"'{PROG} data' to see where the real file is looked for"
        )


def _load_predictor(path: str):
    """The prediction service's view of a saved model (what the app and API load)."""
    _quiet_tensorflow()
    from cnnguide.deploy import service

    return service.load_predictor(path)


def _threshold(predictor, override: float | None) -> tuple[float | None, str]:
    """(value to pass to the service, why): None means the card's threshold."""
    if override is not None:
        if not 0.0 <= override <= 1.0:
            raise ValueError(f"--threshold must be in [0, 1], got {override}")
        return float(override), "given with --threshold"
    if predictor.card.get("threshold") is None:
        return None, "0.5: the model card holds no threshold"
    return None, "saved in the model card (chosen on validation)"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError):  # str(KeyError) is just the quoted key
        text = f"missing key {text}"
    return text or type(exc).__name__


# --------------------------------------------------------------------------------------
# Image files and folders


def _is_dicom_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def _hidden(relative: Path) -> bool:
    return any(p.startswith(".") or p.lower() in _JUNK for p in relative.parts)


def collect_images(paths) -> tuple[list[Path], list[Path]]:
    """The image files among ``paths``, searching folders recursively.

    A file named directly is always kept (reading it will say if it is no image);
    inside a folder, files ending in :data:`IMAGE_SUFFIXES` (any case) and
    extensionless DICOM files are kept, hidden files (``.DS_Store``) and
    ``Thumbs.db`` are ignored, and every other file is returned as skipped.

    Parameters
    ----------
    paths : iterable of str or Path

    Returns
    -------
    (list of Path, list of Path)
        The images, in the order given (folders sorted), and the skipped files.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b.png", "sub/a.JPG", "notes.txt", ".DS_Store"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     _ = (root / name).write_bytes(b"")
    >>> images, skipped = collect_images([root])
    >>> [p.relative_to(root).as_posix() for p in images], [p.name for p in skipped]
    (['b.png', 'sub/a.JPG'], ['notes.txt'])
    """
    images: list[Path] = []
    skipped: list[Path] = []
    for name in paths:
        path = Path(name)
        if not path.is_dir():
            images.append(path)
            continue
        for file in sorted(path.rglob("*")):
            if not file.is_file() or _hidden(file.relative_to(path)):
                continue
            suffix = file.suffix.lower()
            if suffix in IMAGE_SUFFIXES or (not suffix and _is_dicom_file(file)):
                images.append(file)
            else:
                skipped.append(file)
    return images, skipped


def _report_skipped(skipped: list[Path]) -> None:
    if not skipped:
        return
    names = ", ".join(str(p) for p in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    _note(
        f"skipped {len(skipped)} file(s) that are not images "
        f"({', '.join(IMAGE_SUFFIXES)}): {names}{more}"
    )


def _read_error(path: Path, exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file; check the path."
    if isinstance(exc, IsADirectoryError):
        return f"{path} is a folder; give its images, or the folder itself."
    message = _one_line(exc)
    return message if str(path) in message else f"{path}: {message}"


def _predict_files(predictor, files: list[Path], threshold: float | None):
    """Read and score each file through the service: (results, errors).

    ``results`` holds ``(path, image, service answer)``; ``errors`` holds
    ``{"file", "error"}`` for each file that could not be read.
    """
    from cnnguide.data import DataError

    results, errors = [], []
    for path in files:
        notes: list[str] = []
        try:
            # A local file is limited by its pixels, not its bytes: an uncompressed
            # DICOM of 30 MB is ordinary (the upload limit is for the web API).
            image = predictor.prepare(path.read_bytes(), str(path), None, notes)
        except (DataError, OSError, ValueError) as exc:
            errors.append({"file": str(path), "error": _read_error(path, exc)})
            continue
        results.append((path, image, predictor.predict(image, threshold, notes)))
    return results, errors


def _write_csv(target: str, rows: list[dict], columns) -> None:
    """Rows as CSV (``-`` for stdout), for a spreadsheet."""

    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: ("" if row.get(k) is None else row[k]) for k in columns}
            )

    if target == "-":
        write(sys.stdout)
        return
    from cnnguide.files import atomic_path

    # Whole or not at all: a killed run leaves the earlier table, not half a one.
    with atomic_path(Path(target)) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            write(handle)


def _table_rows(results, errors, version: str, threshold: float) -> list[dict]:
    rows = [
        {
            "file": str(path),
            "probability": f"{answer['probability']:.6f}",
            "label": answer["label"],
            "threshold": answer["threshold"],
            "model_version": answer["model_version"],
            "warnings": "; ".join(answer.get("warnings", [])),
            **({"truth": answer["truth"]} if "truth" in answer else {}),
        }
        for path, _, answer in results
    ]
    rows += [
        {
            "file": e["file"],
            "threshold": threshold,
            "model_version": version,
            "error": e["error"],
            **({"truth": e["truth"]} if "truth" in e else {}),
        }
        for e in errors
    ]
    return rows


def _print_errors(errors: list[dict]) -> None:
    for error in errors:
        print(f"{PROG}: error: {error['error']}", file=sys.stderr)


# --------------------------------------------------------------------------------------
# data


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

    offline = os.environ.get("CNNGUIDE_OFFLINE", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    fallback = (
        "CNNGUIDE_OFFLINE=1, so synthetic phantoms are used"
        if offline
        else "load_dataset would try to download it, then fall back to "
        "synthetic phantoms"
    )
    report = []
    for size in sizes:
        where = data.locate(size, args.data_dir)
        report.append(
            {
                "size": size,
                "file": data.pneumoniamnist_filename(size),
                "path": None if where.path is None else str(where.path),
                "real": where.found,
                "looked": list(where.looked),
                "where": "found" if where.found else f"not found; {fallback}",
                "how_to_get": where.how_to_get,
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
            print(f"{size:>3}x{size:<3}  real PneumoniaMNIST: {item['path']}")
        else:
            print(f"{size:>3}x{size:<3}  {item['file']} {item['where']}")
            for place in item["looked"]:
                print(f"         looked at {place}")
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


def _progress_mode(args) -> str | None:
    """Progress on stderr: an updating line on a terminal, plain lines in a pipe."""
    if args.quiet or args.verbose:
        return None
    isatty = getattr(sys.stderr, "isatty", None)
    return "terminal" if isatty is not None and isatty() else "text"


def _cmd_train(args) -> int:
    _quiet_tensorflow()
    from cnnguide import train

    if args.config and args.preset:
        raise ValueError(
            "give --preset or --config, not both (a config file "
            "can hold the preset's fields: members, tta, ema, clean_validation)"
        )
    if args.preset:
        config = train.TrainConfig.preset(args.preset)
    elif args.config:
        config = train.TrainConfig.from_file(args.config)
    else:
        config = train.TrainConfig()
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
    if not args.quiet:
        _note_phantoms(dataset)
    result = train.train(
        config,
        dataset,
        out_dir=args.out,
        verbose=args.verbose,
        n_boot=args.n_boot,
        progress=_progress_mode(args),
        score_test=args.score_test,
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
                "test": card.get("test"),
                "disclaimer": _disclaimer(),
            }
        )
        return 0
    data_kind = "real" if card["data"]["is_real"] else "SYNTHETIC PHANTOMS, not X-rays"
    print(
        f"trained {card['name']} on {card['data']['name']} ({data_kind}), "
        f"{card['epochs_run']} epoch(s) in {card['training_seconds']:.1f} s"
    )
    if card.get("members"):
        seeds = ", ".join(str(m["seed"]) for m in card["members"])
        print(
            f"ensemble of {len(card['members'])} networks (seeds {seeds}) saved as one "
            "model that averages their probabilities"
            + (" over test-time views" if card.get("tta_views") else "")
        )
    dropped = card["data"].get("validation_duplicates_dropped")
    if dropped is not None:
        print(
            f"validation: {dropped} copies of training images left out; ROC-AUC "
            f"{card['validation']['roc_auc']:.4f} without them, "
            f"{card['validation_with_duplicates']['roc_auc']:.4f} with them"
        )
    print(f"threshold {card['threshold']:.4f}: {card['threshold_rule']}")
    if "test" not in card:
        print(
            "test split not scored: score it once, when every choice is made "
            f"(cnnguide evaluate {result.out_dir} --split test)"
        )
    else:
        print(
            f"test split ({card['data']['split_sizes']['test']} images) at that "
            "threshold:"
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


def _class_folders(root: Path, class_names) -> dict[str, Path]:
    """``root/normal`` and ``root/pneumonia`` (any case), or one clear error."""
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder; check the path.")
    if not root.is_dir():
        raise ValueError(
            f"{root} is a file; give a folder laid out as {root}/normal/ and "
            f"{root}/pneumonia/, or use '{PROG} predict' for single images"
        )
    found = {
        p.name.lower(): p
        for p in sorted(root.iterdir())
        if p.is_dir() and not _hidden(Path(p.name))
    }
    missing = [name for name in class_names if name not in found]
    if missing:
        has = ", ".join(f"{n}/" for n in found) or "no subfolders"
        hint = ""
        if {"train", "test"} & set(found):
            hint = f" (it looks like a split layout: try {root / 'test'})"
        raise ValueError(
            f"{root} is not laid out as expected: it needs the subfolders "
            + " and ".join(f"{n}/" for n in class_names)
            + f" holding the images of each class; it has {has}{hint}"
        )
    return {name: found[name] for name in class_names}


def _evaluate_folder(args, predictor, threshold, why) -> int:
    import numpy as np

    from cnnguide import metrics
    from cnnguide.deploy import service

    root = Path(args.folder)
    class_names = tuple(service.CLASS_NAMES)
    folders = _class_folders(root, class_names)
    results, errors, skipped, truths = [], [], [], []
    for label, (name, folder) in enumerate(folders.items()):
        files, skip = collect_images([folder])
        skipped += skip
        found, failed = _predict_files(predictor, files, threshold)
        for _, _, answer in found:
            answer["truth"] = name
        for error in failed:
            error["truth"] = name
        results += found
        errors += failed
        truths += [label] * len(found)
    if not results:
        raise ValueError(
            f"{root} holds no readable images in "
            + " or ".join(f"{n}/" for n in class_names)
            + " (.png, .jpg, .jpeg or .dcm)"
        )
    value = predictor.threshold if threshold is None else threshold
    scores = np.array([answer["probability"] for _, _, answer in results])
    result = metrics.binary_metrics(np.array(truths), scores, value)
    _report_skipped(skipped)
    _print_errors(errors)
    if args.csv:
        columns = ("file", "truth") + CSV_COLUMNS[1:]
        _write_csv(
            args.csv,
            _table_rows(results, errors, predictor.version, value),
            columns,
        )
    counts = {n: sum(1 for t in truths if class_names[t] == n) for n in class_names}
    if args.json:
        _print_json(
            {
                "model": str(args.model),
                "model_version": predictor.version,
                "folder": str(root),
                "n": len(results),
                "counts": counts,
                "threshold": value,
                "threshold_source": why,
                "metrics": result,
                "errors": errors,
                "skipped": [str(p) for p in skipped],
                "disclaimer": _disclaimer(),
            }
        )
    elif args.csv != "-":
        print(f"model: {args.model} ({predictor.name}, version {predictor.version})")
        print(
            f"data: {root}, {len(results)} images ("
            + ", ".join(f"{n} {c}" for n, c in counts.items())
            + ")"
            + (f", {len(errors)} unreadable" if errors else "")
        )
        print(f"threshold {value:.4f}: {why}")
        for line in _format_metrics(result):
            print(line)
        if args.csv:
            print(f"table: {args.csv}")
        print(_disclaimer())
    return 1 if errors else 0


def _cmd_evaluate(args) -> int:
    predictor = _load_predictor(args.model)
    threshold, why = _threshold(predictor, args.threshold)
    if args.folder is not None:
        return _evaluate_folder(args, predictor, threshold, why)
    if args.csv:
        raise ValueError(
            "--csv writes one row per image file; give an image FOLDER "
            "(normal/ and pneumonia/) to evaluate on"
        )
    from cnnguide import metrics

    card = predictor.card
    dataset = _load_dataset(predictor.size, args.data_dir)
    _note_phantoms(dataset)
    split = dataset[args.split]
    value = predictor.threshold if threshold is None else threshold
    scores = predictor.scores(split.images)  # through the service, batched
    result = metrics.binary_metrics(split.labels, scores, value)
    trained_real = card.get("data", {}).get("is_real")
    mismatch = trained_real is not None and bool(trained_real) != dataset.is_real
    if args.json:
        _print_json(
            {
                "model": str(args.model),
                "model_version": predictor.version,
                "split": args.split,
                "n": int(len(split.labels)),
                "data": {
                    "name": dataset.name,
                    "source": dataset.source,
                    "is_real": dataset.is_real,
                    "image_size": dataset.image_size,
                },
                "threshold": value,
                "threshold_source": why,
                "trained_on_real_data": trained_real,
                "metrics": result,
                "disclaimer": _disclaimer(),
            }
        )
        return 0
    print(f"model: {args.model} ({predictor.name}, version {predictor.version})")
    kind = "real" if dataset.is_real else "SYNTHETIC PHANTOMS, not X-rays"
    print(
        f"data: {dataset.name} ({kind}), {args.split} split, {len(split.labels)} images"
    )
    if mismatch:
        trained = "real X-rays" if trained_real else "synthetic phantoms"
        print(
            f"warning: the model was trained on {trained}; these scores mix the two worlds"
        )
    print(f"threshold {value:.4f}: {why}")
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


def _save_gradcam(predictor, image, answer: dict, title: str, path: Path) -> None:
    from matplotlib.figure import Figure

    from cnnguide.explain import overlay

    heat = predictor.explain(image)
    figure = Figure(figsize=(3.2, 3.6))
    ax = figure.add_subplot()
    overlay(
        image,
        heat,
        ax=ax,
        title=f"{title}\np={answer['probability']:.3f} ({answer['label']})",
    )
    figure.text(
        0.5,
        0.02,
        "Teaching material, not a diagnostic device.",
        ha="center",
        fontsize=6,
    )
    from cnnguide.files import atomic_path

    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png")


def _cmd_predict(args) -> int:
    predictor = _load_predictor(args.model)
    threshold, why = _threshold(predictor, args.threshold)
    value = predictor.threshold if threshold is None else threshold
    files, skipped = collect_images(args.images)
    results, errors = _predict_files(predictor, files, threshold)
    outputs = (
        _gradcam_paths(args.gradcam, [str(p) for p, _, _ in results])
        if args.gradcam and results
        else None
    )
    predictions = []
    for index, (path, image, answer) in enumerate(results):
        entry = {
            "file": str(path),
            "probability": answer["probability"],
            "label": answer["label"],
            "warnings": answer["warnings"],
        }
        if outputs is not None:
            _save_gradcam(predictor, image, answer, path.name, outputs[index])
            entry["gradcam"] = str(outputs[index])
        predictions.append(entry)
    _report_skipped(skipped)
    _print_errors(errors)
    if not files:
        raise ValueError(
            "no images to predict in "
            + ", ".join(args.images)
            + f" (looked for {', '.join(IMAGE_SUFFIXES)})"
        )
    if args.csv:
        _write_csv(
            args.csv,
            _table_rows(results, errors, predictor.version, value),
            CSV_COLUMNS,
        )
    if args.json:
        _print_json(
            {
                "model": str(args.model),
                "model_version": predictor.version,
                "image_size": predictor.size,
                "threshold": value,
                "threshold_source": why,
                "predictions": predictions,
                "errors": errors,
                "skipped": [str(p) for p in skipped],
                "disclaimer": _disclaimer(),
            }
        )
    elif args.csv != "-":
        for entry in predictions:
            line = (
                f"{entry['file']}: p(pneumonia)={entry['probability']:.3f} -> "
                f"{entry['label']} (threshold {value:.4f})"
            )
            if "gradcam" in entry:
                line += f"  Grad-CAM: {entry['gradcam']}"
            print(line)
            for warning in entry["warnings"]:
                print(f"  warning: {warning}")
        if args.csv:
            print(f"table: {args.csv} ({len(predictions)} predictions)")
        if predictions:
            print(_disclaimer())
    return 1 if errors else 0


# --------------------------------------------------------------------------------------
# app and serve: the process becomes the server, so one SIGTERM stops it


def _cmd_app(args) -> int:
    from cnnguide.deploy.app import run

    # the process becomes the Streamlit server: one SIGTERM stops it, port freed
    return run(args.model, port=args.port, host=args.host, replace_process=True)


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
    debug = _debug_parent()
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[debug],
        description="Train, evaluate and explain the cnnguide pneumonia CNN. "
        "Teaching material, not a diagnostic device.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_data(commands, debug)
    _add_train(commands, debug)
    _add_evaluate(commands, debug)
    _add_predict(commands, debug)
    _add_server(
        commands,
        debug,
        "app",
        summary="start the Streamlit demo page",
        description="Serve the demo page on localhost.",
        port=8501,
        func=_cmd_app,
    )
    _add_server(
        commands,
        debug,
        "serve",
        summary="start the web API (FastAPI)",
        description="POST /predict and GET /health on localhost.",
        port=8000,
        func=_cmd_serve,
    )
    return parser


def _debug_parent() -> argparse.ArgumentParser:
    """A parent parser holding only ``--debug``, shared by the command and each
    subcommand."""
    debug = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand that is not given --debug must not overwrite the
    # True set by ``cnnguide --debug COMMAND`` with its own default False.
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of any error",
    )
    return debug


def _add_data(commands, debug: argparse.ArgumentParser) -> None:
    """Add ``cnnguide data`` to ``commands`` (the subparsers of the command)."""
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


def _add_train(commands, debug: argparse.ArgumentParser) -> None:
    """Add ``cnnguide train``: one flag per :class:`TrainConfig` field worth
    changing from the shell."""
    p = commands.add_parser(
        "train",
        parents=[debug],
        help="train a model and save it",
        description="Train with cnnguide.train.train: flags override the config file.",
    )
    p.add_argument("--config", help="JSON or YAML file of TrainConfig fields")
    p.add_argument(
        "--preset",
        choices=("best",),
        help="a named recipe: 'best' trains an ensemble of networks from several "
        "seeds with test-time augmentation, every choice made on validation "
        "(about 10 minutes on 2 cores at 28 px)",
    )
    # No defaults here: a flag left out (None) keeps the value of the preset, the
    # config file or TrainConfig instead of overriding it.
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
        "--score-test",
        action="store_true",
        help="also score the test split (off by default: choose everything on "
        "validation, then score test once with 'cnnguide evaluate MODEL --split test')",
    )
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
        "--quiet",
        "-q",
        action="store_true",
        help="no progress lines (by default one per epoch on stderr: loss, "
        "validation AUC, elapsed time, time left)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        default=0,
        choices=(0, 1, 2),
        help="Keras's own progress output instead (default 0)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_train)


def _add_evaluate(commands, debug: argparse.ArgumentParser) -> None:
    """Add ``cnnguide evaluate MODEL [FOLDER]``."""
    p = commands.add_parser(
        "evaluate",
        parents=[debug],
        help="score a saved model on a split or an image folder",
        description="Metrics of a saved model at the threshold saved in its card: "
        "on the val or test split of PneumoniaMNIST, or on FOLDER laid out as "
        "FOLDER/normal/ and FOLDER/pneumonia/ (searched recursively).",
    )
    p.add_argument(
        "model", help="model folder (model.keras + model_card.json) or .keras file"
    )
    p.add_argument(
        "folder",
        nargs="?",
        metavar="FOLDER",
        help="image folder with normal/ and pneumonia/ subfolders "
        "(default: the PneumoniaMNIST split)",
    )
    p.add_argument(
        "--split",
        choices=("val", "test"),
        default="test",
        help="PneumoniaMNIST split, when no FOLDER is given (default %(default)s)",
    )
    p.add_argument(
        "--csv",
        metavar="FILE",
        help="with FOLDER: write one row per image (file, truth, probability, "
        "label, threshold, model_version, error); '-' for stdout",
    )
    p.add_argument("--threshold", type=float, help="override the card's threshold")
    p.add_argument("--data-dir", help="folder holding pneumoniamnist*.npz")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_evaluate)


def _add_predict(commands, debug: argparse.ArgumentParser) -> None:
    """Add ``cnnguide predict MODEL PATH...``."""
    p = commands.add_parser(
        "predict",
        parents=[debug],
        help="probability for image files and folders",
        description="Probability of pneumonia and label for each PNG, JPEG or "
        "DICOM file; folders are searched recursively and files that are not "
        "images are skipped (and listed). Exit status 1 when an input could not "
        "be read (the others are still predicted). "
        "Teaching material, not a diagnostic device.",
    )
    p.add_argument(
        "model", help="model folder (model.keras + model_card.json) or .keras file"
    )
    p.add_argument(
        "images",
        nargs="+",
        metavar="PATH",
        help="image files (PNG, JPEG, DICOM) or folders of them",
    )
    p.add_argument(
        "--csv",
        metavar="FILE",
        help="write a table: file, probability, label, threshold, model_version, "
        "error (one row per input; '-' for stdout)",
    )
    p.add_argument(
        "--gradcam",
        metavar="OUT.png",
        help="save a Grad-CAM overlay: this file for one image; OUT_<image>.png for "
        "several; a folder (ending in /) gets <image>_gradcam.png",
    )
    p.add_argument("--threshold", type=float, help="override the card's threshold")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_predict)


def _add_server(
    commands,
    debug: argparse.ArgumentParser,
    name: str,
    *,
    summary: str,
    description: str,
    port: int,
    func,
) -> None:
    """Add ``cnnguide app`` or ``cnnguide serve``: they differ only in their texts,
    port and function."""
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
    >>> main(["data", "--size", "999"])  # the one-line error goes to stderr
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
