"""Folders of chest X-ray files laid out as ``split/class/image`` (e.g. Kermany et al.).

A missing validation folder is made from train **by patient**, so that no patient
is on both sides of the split. This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from cnnguide.data.containers import (
    CLASS_NAMES,
    SPLITS,
    DataError,
    DataNotFoundError,
    Dataset,
    ImageError,
    Split,
)
from cnnguide.data.imagefile import _IMAGE_SUFFIXES, MAX_PIXELS, _read_image

__all__ = ["load_image_folder", "patient_id", "KERMANY_CITATION"]

KERMANY_CITATION = (
    "Kermany D. S. et al. Cell 172(5), 1122-1131 (2018), doi:10.1016/j.cell.2018.02.010; "
    "data: Mendeley Data rscbjbr9sj, licence CC BY 4.0."
)

#: The layout every "not found" message describes.
_LAYOUT = (
    "expected root/train/{normal,pneumonia}/*.png|jpg|dcm and "
    "root/test/{normal,pneumonia}/..., val/ optional, names in any case"
)

_JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}
_SPLIT_ALIASES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}

# personNNN_bacteria_... / personNNN_virus_... (pneumonia); [NORMAL2-]IM-NNNN-... (normal)
_PATIENT = re.compile(
    r"^(?:(person\d+)_(?:bacteria|virus)|((?:NORMAL2-)?IM-\d+)-)", re.IGNORECASE
)


def _visible(p: Path) -> bool:
    return not p.name.startswith(".") and p.name.lower() not in _JUNK_NAMES


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))


def _match(folder: Path, names: Sequence[str]) -> Path | None:
    for p in _subdirs(folder):
        if p.name.lower() in names:
            return p
    return None


def _find_split_root(root: Path) -> Path | None:
    """``root`` itself, or a lone subfolder (``chest_xray/``), holding train/ and test/."""
    folder = root
    for _ in range(3):
        if _match(folder, _SPLIT_ALIASES["train"]) and _match(
            folder, _SPLIT_ALIASES["test"]
        ):
            return folder
        subs = _subdirs(folder)
        if len(subs) != 1:
            return None
        folder = subs[0]
    return None


def load_image_folder(
    root,
    size: int = 128,
    *,
    on_error: str = "raise",
    allow_colour: bool = False,
    max_pixels: int = MAX_PIXELS,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Load a folder of chest X-rays laid out as ``split/class/image``.

    Layout (names in any case; the Kermany et al. release works as is)::

        root/                 (or root/chest_xray/)
            train/normal/*.jpeg   train/pneumonia/*.jpeg    required
            test/normal/...       test/pneumonia/...        required
            val/normal/...        val/pneumonia/...         optional

    ``val`` may also be spelled ``valid`` or ``validation``. When it is
    missing, a stratified ``val_fraction`` of train (fixed ``seed``) becomes
    the validation split **by patient**: all images of one patient go to the
    same side, so validation never sees a patient the model trained on (see
    :func:`patient_id` for the names parsed). When the names carry no patient,
    the split falls back to single images, and the notice says so. Hidden files
    (``.DS_Store``) and ``__MACOSX`` folders are ignored. Files may be PNG,
    JPEG or DICOM (read by :func:`cnnguide.data.load_image`).

    Parameters
    ----------
    root : str or Path
        The top folder.
    size : int
        Output side: each image's centre square is resized to ``size`` x ``size``.
    on_error : {"raise", "skip"}
        "raise": the first bad file raises :class:`ImageError` naming it.
        "skip": bad files are left out, listed in :attr:`Dataset.skipped` as
        ``(path, reason)``, and summarised in one warning. Layout problems
        (missing or empty class folders) raise in both modes.
    allow_colour, max_pixels
        As in :func:`load_image`.
    val_fraction : float
        Share of train moved to val when there is no val folder.
    seed : int
        Seed of that split.

    Returns
    -------
    Dataset
        float32 ``(N, size, size)`` images in ``[0, 1]``, uint8 labels
        (0 = normal, 1 = pneumonia), ``is_real=True``.

    Raises
    ------
    DataNotFoundError
        ``root`` missing, no train/test folders, or a class folder missing or empty.
    DataError
        An unexpected subfolder inside a split.
    ImageError
        A bad file, with ``on_error="raise"``.

    Examples
    --------
    >>> ds = load_image_folder("chest_xray", size=128, on_error="skip")  # doctest: +SKIP
    >>> ds.counts()["test"]                                              # doctest: +SKIP
    {'normal': 234, 'pneumonia': 390}
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error={on_error!r}: use 'raise' or 'skip'.")
    if isinstance(size, bool) or int(size) != size or size < 1:
        raise ValueError(f"size={size!r}: give a positive integer.")
    size = int(size)
    root = Path(root).expanduser()
    base = _require_split_root(root)

    splits: dict[str, Split] = {}
    file_names: dict[str, list[str]] = {}
    skipped: list[tuple[str, str]] = []
    for split in SPLITS:
        split_dir = _match(base, _SPLIT_ALIASES[split])
        if split_dir is None:
            continue  # only val can be missing: train/test were checked above
        splits[split], file_names[split], bad = _load_split(
            split_dir,
            size,
            on_error=on_error,
            allow_colour=allow_colour,
            max_pixels=max_pixels,
        )
        skipped.extend(bad)

    notice = ""
    if "val" not in splits:
        splits["train"], splits["val"], how = _split_off(
            splits["train"], file_names["train"], val_fraction, seed
        )
        notice = (
            f"No val folder in {base}: {len(splits['val'])} training images "
            f"({val_fraction:.0%}, stratified, seed={seed}) serve as the validation "
            f"split, {how}."
        )
    if skipped:
        _warn_skipped(root, skipped)
    kermany = any(part.lower() == "chest_xray" for part in (base.name, root.name))
    return Dataset(
        name=f"Chest X-ray folder {root.name}",
        splits=splits,
        source=str(base),
        citation=KERMANY_CITATION
        if kermany
        else f"Images from {base}: cite their source.",
        is_real=True,
        image_size=size,
        notice=notice,
        skipped=tuple(skipped),
    )


def _require_split_root(root: Path) -> Path:
    """The folder holding train/ and test/ (``root`` or a lone subfolder of it).

    Raises :class:`DataNotFoundError`, describing the layout, when there is none.
    """
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder; {_LAYOUT}.")
    base = _find_split_root(root)
    if base is None:
        found = [p.name for p in _subdirs(root)]
        raise DataNotFoundError(
            f"{root} does not have the expected layout (found subfolders {found}); "
            f"{_LAYOUT}."
        )
    return base


def _load_split(
    split_dir: Path, size: int, *, on_error: str, allow_colour: bool, max_pixels: int
) -> tuple[Split, list[str], list[tuple[str, str]]]:
    """Read one split folder: its images and labels, their file names, and the
    ``(path, reason)`` of what was skipped."""
    class_dirs, skipped = _class_folders(split_dir, on_error)
    images, labels, names = [], [], []
    for k, folder in enumerate(class_dirs):
        found, found_names, bad = _read_class_folder(
            folder,
            size,
            on_error=on_error,
            allow_colour=allow_colour,
            max_pixels=max_pixels,
        )
        skipped.extend(bad)
        if not found:
            raise DataNotFoundError(
                f"{folder} holds no usable images; put the {CLASS_NAMES[k]} PNG, "
                "JPEG or DICOM files there."
            )
        images.extend(found)
        labels.extend([k] * len(found))
        names.extend(found_names)
    split = Split(
        np.stack(images).astype(np.float32, copy=False),
        np.asarray(labels, dtype=np.uint8),
    )
    return split, names, skipped


def _class_folders(
    split_dir: Path, on_error: str
) -> tuple[list[Path], list[tuple[str, str]]]:
    """The class folders of a split, in :data:`CLASS_NAMES` order, and the other
    folders found beside them (skipped, or raised with ``on_error="raise"``)."""
    class_dirs = []
    for cls in CLASS_NAMES:
        folder = _match(split_dir, (cls,))
        if folder is None:
            found = [p.name for p in _subdirs(split_dir)]
            raise DataNotFoundError(
                f"{split_dir} has no '{cls}' folder (found {found}); {_LAYOUT}."
            )
        class_dirs.append(folder)
    extra = [p for p in _subdirs(split_dir) if p.name.lower() not in CLASS_NAMES]
    if extra and on_error == "raise":
        raise DataError(
            f"{split_dir} holds folders {[p.name for p in extra]} besides normal/ and "
            "pneumonia/; move them out (this loader knows two classes)."
        )
    return class_dirs, [(str(p), "unexpected folder, not loaded") for p in extra]


def _read_class_folder(
    folder: Path, size: int, *, on_error: str, allow_colour: bool, max_pixels: int
) -> tuple[list[np.ndarray], list[str], list[tuple[str, str]]]:
    """The images of one class folder, their file names, and the ``(path, reason)``
    of each file skipped (with ``on_error="raise"`` the first bad file raises)."""
    images, names, skipped = [], [], []
    for f in sorted(p for p in folder.iterdir() if _visible(p)):
        reason = _not_an_image(f)
        if reason is None:
            try:
                image = _read_image(
                    f,
                    size,
                    name=str(f),
                    allow_colour=allow_colour,
                    max_pixels=max_pixels,
                )
            except (DataError, OSError) as exc:
                # OSError: a file that vanished or cannot be opened (permission)
                if on_error == "raise":
                    raise
                reason = (
                    str(exc)
                    if isinstance(exc, DataError)
                    else f"cannot be read ({type(exc).__name__}: {exc})"
                )
            else:
                images.append(image)
                names.append(f.name)
                continue
        elif on_error == "raise":
            raise ImageError(f"{f}: {reason}; remove it, or pass on_error='skip'.")
        skipped.append((str(f), reason))
    return images, names, skipped


def _not_an_image(f: Path) -> str | None:
    """Why ``f`` is not even tried as an image (a folder, a wrong suffix), or None."""
    if f.is_dir():
        return "a subfolder inside a class folder"
    if f.suffix.lower() not in _IMAGE_SUFFIXES:
        return (
            f"not an image file (suffix {f.suffix or 'none'!r}; "
            "expected .png, .jpg, .jpeg, .dcm)"
        )
    return None


def _warn_skipped(root: Path, skipped: list[tuple[str, str]]) -> None:
    """One warning for all skipped files: the first three, then a count."""
    shown = "; ".join(f"{p} ({r})" for p, r in skipped[:3])
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    warnings.warn(
        f"load_image_folder skipped {len(skipped)} file(s) in {root}: {shown}{more}. "
        "The full list is in the dataset's .skipped.",
        stacklevel=3,  # point at the caller of load_image_folder, as before
    )


def patient_id(filename: str) -> str | None:
    """The patient a Kermany et al. file name belongs to, or None.

    Pneumonia images are named ``personNNN_bacteria_MMM.jpeg`` or
    ``personNNN_virus_MMM.jpeg``; normal ones ``IM-NNNN-MMMM.jpeg`` or, in the
    second batch, ``NORMAL2-IM-NNNN-MMMM.jpeg``. The second batch numbers its
    patients on its own, so its prefix stays part of the identifier.

    Examples
    --------
    >>> patient_id("person1017_bacteria_2948.jpeg"), patient_id("person3_virus_15.jpeg")
    ('person1017', 'person3')
    >>> patient_id("IM-0115-0001.jpeg"), patient_id("NORMAL2-IM-0115-0001.jpeg")
    ('IM-0115', 'NORMAL2-IM-0115')
    >>> patient_id("scan_42.png") is None
    True
    """
    match = _PATIENT.match(Path(filename).name)
    if match is None:
        return None
    person, normal = match.groups()
    return person.lower() if person else normal.upper()


def _split_off(
    split: Split, names: Sequence[str], fraction: float, seed: int
) -> tuple[Split, Split, str]:
    """Stratified, grouped by patient: about ``fraction`` of train becomes val.

    Uses scikit-learn's ``StratifiedGroupKFold`` with ``round(1 / fraction)``
    folds and keeps its first fold as val. Files without a patient in their
    name count as patients of their own. Returns the two splits and a phrase
    saying how the split was made (for the notice).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction={fraction!r}: give a number between 0 and 1.")
    from sklearn.model_selection import StratifiedGroupKFold

    ids = [patient_id(n) for n in names]
    n_known = sum(i is not None for i in ids)
    groups = np.array([i if i is not None else f"image:{k}" for k, i in enumerate(ids)])
    labels = np.asarray(split.labels)
    n_splits = max(2, int(round(1 / fraction)))
    if n_known == 0:
        how = "image by image (the file names carry no patient)"
    else:
        n_patients = len(set(i for i in ids if i is not None))
        how = f"by patient ({n_patients} patients parsed from {n_known} file names"
        how += (
            ")"
            if n_known == len(ids)
            else (
                f"; {len(ids) - n_known} files without one count as their own patient)"
            )
        )
    try:
        folds = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        _, val_idx = next(folds.split(np.zeros(len(labels)), labels, groups))
    except ValueError:  # fewer groups than folds: a tiny folder
        val_idx = _image_level(labels, fraction, seed)
        how = "image by image (too few patients for a grouped split)"
    is_val = np.zeros(len(split), bool)
    is_val[val_idx] = True
    return (
        Split(split.images[~is_val], split.labels[~is_val]),
        Split(split.images[is_val], split.labels[is_val]),
        how,
    )


def _image_level(labels: np.ndarray, fraction: float, seed: int) -> list[int]:
    """Stratified: ``fraction`` of each class (at least one image) goes to val."""
    rng = np.random.default_rng(seed)
    val_idx: list[int] = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        n = max(1, int(round(fraction * len(idx)))) if len(idx) > 1 else 0
        val_idx.extend(rng.choice(idx, size=n, replace=False).tolist())
    return val_idx
