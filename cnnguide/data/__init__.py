"""Data for the book: PneumoniaMNIST, folders of chest X-rays, single images.

Three ways in, one kind of object out:

* :func:`load_dataset` -- what every chapter calls. Real PneumoniaMNIST when it
  can be found (or downloaded); otherwise synthetic chest phantoms from
  :mod:`cnnguide.data.phantoms`, with a :attr:`Dataset.notice` that says so plainly.
* :func:`load_pneumoniamnist` -- the real data or a clear error, never phantoms.
* :func:`load_image_folder` and :func:`load_image` -- your own PNG or JPEG files
  (for instance the Kermany et al. release ``chest_xray/train/NORMAL/...``).

Where PneumoniaMNIST is looked for, in this order:

1. the folder given as ``data_dir`` (or the ``.npz`` file itself);
2. the folder named by the environment variable ``CNNGUIDE_DATA``;
3. the user cache, ``pooch.os_cache("cnnguide")`` (the environment variable
   ``CNNGUIDE_CACHE`` replaces it);
4. a download from Zenodo record 10519652 into that cache, checked against the
   official md5 -- skipped when ``CNNGUIDE_OFFLINE=1``. The base address can be
   replaced with ``CNNGUIDE_DATA_URL`` (a mirror, or a test server).

Files found on disk are checked by structure (keys, shapes, dtypes, label
values), not by checksum, so a faithful rebuilt copy works too. Every bad input
raises one :class:`DataError` whose message names the file and the fix.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import functools
import html
import io
import os
import threading
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import urlsplit

import numpy as np

__all__ = [
    "DataError",
    "DataNotFoundError",
    "CorruptDataError",
    "ImageError",
    "PhantomDataWarning",
    "Split",
    "Dataset",
    "load_dataset",
    "load_pneumoniamnist",
    "load_image_folder",
    "load_image",
    "pneumoniamnist_filename",
    "pneumoniamnist_url",
    "cache_dir",
    "SIZES",
    "MD5",
    "DATA_URL",
    "DOWNLOAD_TIMEOUT",
    "MAX_PIXELS",
    "COLOUR_SATURATION_THRESHOLD",
    "CITATION",
    "PHANTOM_COUNTS",
    "PNEUMONIA_FRACTION",
]

# --------------------------------------------------------------------------- #
# Constants
# --------------------------------------------------------------------------- #

#: Image sizes MedMNIST v2 publishes for PneumoniaMNIST.
SIZES = (28, 64, 128, 224)

#: Official md5 checksums of the Zenodo files (record 10519652).
MD5 = {
    28: "28209eda62fecd6e6a2d98b1501bb15f",
    64: "8f4eceb4ccffa70c672198ea285246c6",
    128: "05b46931834c231683c68f40c47b2971",
    224: "d6a3c71de1b945ea11211b03746c1fe1",
}

#: Base address of the official files; ``CNNGUIDE_DATA_URL`` replaces it.
DATA_URL = "https://zenodo.org/records/10519652/files/"

#: Seconds to wait for the server (connect, and each read) before giving up.
DOWNLOAD_TIMEOUT = 5.0

#: Largest image (width x height) the loaders decode: a guard against
#: decompression bombs, small files that declare gigapixel images.
MAX_PIXELS = 50_000_000

#: Mean HSV saturation above which an image is taken for a colour photograph.
COLOUR_SATURATION_THRESHOLD = 0.2

CITATION = (
    "Kermany D. S. et al. Identifying medical diagnoses and treatable diseases by "
    "image-based deep learning. Cell 172(5), 1122-1131 (2018), "
    "doi:10.1016/j.cell.2018.02.010. "
    "Yang J. et al. MedMNIST v2 - a large-scale lightweight benchmark for 2D and 3D "
    "biomedical image classification. Scientific Data 10, 41 (2023), "
    "doi:10.1038/s41597-022-01721-8. Licence: CC BY 4.0."
)

KERMANY_CITATION = (
    "Kermany D. S. et al. Cell 172(5), 1122-1131 (2018), doi:10.1016/j.cell.2018.02.010; "
    "data: Mendeley Data rscbjbr9sj, licence CC BY 4.0."
)

PHANTOM_CITATION = "Synthetic chest phantoms drawn by cnnguide.data.phantoms; no patient data, nothing to cite."

#: Default phantom counts per split, close to the real split proportions.
PHANTOM_COUNTS = {"train": 1200, "val": 200, "test": 300}

#: Share of pneumonia images in PneumoniaMNIST (about 0.74 in every split).
PNEUMONIA_FRACTION = 0.74

SPLITS = ("train", "val", "test")
CLASS_NAMES = ("normal", "pneumonia")

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
_PIL_FORMATS = ("PNG", "JPEG")  # JPEG also opens multi-picture (MPO) files
_JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}
_SPLIT_ALIASES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


class DataError(Exception):
    """Base class of every data error; the message names the file and the fix."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The data is in none of the places looked at, and could not be downloaded."""


class CorruptDataError(DataError, ValueError):
    """A data file exists but is truncated, unreadable or has the wrong structure."""


class ImageError(DataError, ValueError):
    """An image cannot be used: unreadable, not an image, too large, or not an X-ray."""


class PhantomDataWarning(UserWarning):
    """Synthetic phantoms stand in for chest X-rays (see :attr:`Dataset.notice`)."""


# --------------------------------------------------------------------------- #
# Containers
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Split:
    """One split (train, val or test) of a dataset.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, H, W)`` images: uint8 for PneumoniaMNIST and phantoms, float32 in
        ``[0, 1]`` for image folders.
    labels : numpy.ndarray
        ``(N,)`` uint8 labels, 0 = normal, 1 = pneumonia.
    masks : numpy.ndarray or None
        ``(N, H, W)`` bool lesion masks (phantoms only), else None.

    Examples
    --------
    >>> import numpy as np
    >>> s = Split(np.zeros((2, 4, 4), np.uint8), np.array([0, 1], np.uint8))
    >>> len(s), s.as_float().shape
    (2, (2, 4, 4, 1))
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray | None = None

    def __post_init__(self):
        if self.images.ndim != 3:
            raise ValueError(
                f"Split images must be (N, H, W), got shape {self.images.shape}; "
                "drop any channel axis first."
            )
        if self.labels.shape != (len(self.images),):
            raise ValueError(
                f"Split labels must be (N,) = ({len(self.images)},), got shape "
                f"{self.labels.shape}; flatten them and match the number of images."
            )
        if self.masks is not None and self.masks.shape != self.images.shape:
            raise ValueError(
                f"Split masks must match the images' shape {self.images.shape}, "
                f"got {self.masks.shape}."
            )

    def __len__(self) -> int:
        return len(self.labels)

    def as_float(self) -> np.ndarray:
        """Images as ``(N, H, W, 1)`` float32 in ``[0, 1]``, ready for Keras.

        Integer images are divided by their dtype's maximum (255 for uint8);
        float images are taken to be in ``[0, 1]`` already and clipped to it.

        Returns
        -------
        numpy.ndarray
            ``(N, H, W, 1)`` float32.

        Examples
        --------
        >>> import numpy as np
        >>> s = Split(np.full((1, 2, 2), 255, np.uint8), np.array([1], np.uint8))
        >>> float(s.as_float().max()), s.as_float().dtype
        (1.0, dtype('float32'))
        """
        x = self.images
        if np.issubdtype(x.dtype, np.integer):
            out = x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max)
        else:
            out = np.clip(x.astype(np.float32), 0.0, 1.0)
        return out[..., np.newaxis]


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset with train, val and test splits, and where it came from.

    Attributes
    ----------
    name : str
        ``"PneumoniaMNIST"``, ``"Synthetic chest phantoms"`` or a folder's name.
    splits : dict of str to Split
        Keys ``"train"``, ``"val"``, ``"test"``.
    class_names : tuple of str
        Label 0 and label 1: ``("normal", "pneumonia")``.
    source : str
        The file or folder read, or ``"synthetic (seed=0)"``.
    citation : str
        What to cite when showing results on it.
    is_real : bool
        True for chest X-rays, False for synthetic phantoms.
    image_size : int
        Side of the square images, in pixels.
    notice : str
        Non-empty when something needs saying, above all when phantoms stand in
        for X-rays; shown as a banner by ``repr`` and in notebooks.
    skipped : tuple of (str, str)
        ``(path, reason)`` for files :func:`load_image_folder` skipped.

    Examples
    --------
    >>> ds = load_dataset(n_phantoms=12)            # doctest: +SKIP
    >>> ds["train"].images.shape, ds.counts()["test"]  # doctest: +SKIP
    """

    name: str
    splits: dict
    class_names: tuple = CLASS_NAMES
    source: str = ""
    citation: str = ""
    is_real: bool = False
    image_size: int | None = None
    notice: str = ""
    skipped: tuple = field(default=())

    def __post_init__(self):
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise ValueError(
                f"Dataset splits lack {missing}; give train, val and test."
            )
        if self.image_size is None:
            object.__setattr__(
                self, "image_size", int(self.splits["train"].images.shape[-1])
            )

    def __getitem__(self, split: str) -> Split:
        try:
            return self.splits[split]
        except KeyError:
            raise KeyError(
                f"No split {split!r}; this dataset has {sorted(self.splits)}."
            ) from None

    @property
    def train(self) -> Split:
        """The training split."""
        return self.splits["train"]

    @property
    def val(self) -> Split:
        """The validation split."""
        return self.splits["val"]

    @property
    def test(self) -> Split:
        """The test split."""
        return self.splits["test"]

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class in each split.

        Returns
        -------
        dict
            ``{"train": {"normal": n0, "pneumonia": n1}, "val": ..., "test": ...}``.

        Examples
        --------
        >>> ds = load_dataset(n_phantoms=12)   # doctest: +SKIP
        >>> ds.counts()["train"]               # doctest: +SKIP
        {'normal': 3, 'pneumonia': 9}
        """
        return {
            name: {
                cls: int(np.count_nonzero(split.labels == k))
                for k, cls in enumerate(self.class_names)
            }
            for name, split in self.splits.items()
        }

    def _summary_lines(self) -> list[str]:
        counts = self.counts()
        lines = [
            f"{self.name} ({'chest X-rays' if self.is_real else 'NOT X-rays'}), "
            f"{self.image_size}x{self.image_size} px",
            f"source: {self.source}",
        ]
        for split in SPLITS:
            c = counts[split]
            parts = ", ".join(f"{c[k]} {k}" for k in self.class_names)
            lines.append(f"{split}: {sum(c.values())} images ({parts})")
        if self.skipped:
            lines.append(
                f"skipped: {len(self.skipped)} unreadable file(s), see .skipped"
            )
        lines.append(f"cite: {self.citation}")
        return lines

    def __repr__(self) -> str:
        body = "\n".join("  " + line for line in self._summary_lines())
        head = f"Dataset: {self.name}"
        if self.notice:
            bar = "!" * 72
            return f"{bar}\n{self.notice}\n{bar}\n{head}\n{body}"
        return f"{head}\n{body}"

    def _repr_html_(self) -> str:
        if not self.is_real:
            colour, background, label = (
                "#b35c00",
                "#fff4e0",
                "SYNTHETIC PHANTOMS - NOT X-RAYS",
            )
        elif self.notice:
            colour, background, label = "#8a6d00", "#fffbe6", "CHEST X-RAYS - NOTE"
        else:
            colour, background, label = "#1b6e3a", "#eaf7ee", "CHEST X-RAYS"
        esc = html.escape
        counts = self.counts()
        rows = "".join(
            f"<tr><td>{esc(s)}</td>"
            + "".join(f"<td>{counts[s][k]}</td>" for k in self.class_names)
            + f"<td>{sum(counts[s].values())}</td></tr>"
            for s in SPLITS
        )
        header = "".join(f"<th>{esc(k)}</th>" for k in self.class_names)
        notice = (
            f"<p style='margin:4px 0;font-weight:bold'>{esc(self.notice)}</p>"
            if self.notice
            else ""
        )
        skipped = (
            f"<p style='margin:4px 0'>Skipped {len(self.skipped)} unreadable file(s) "
            "(see <code>.skipped</code>).</p>"
            if self.skipped
            else ""
        )
        return (
            f"<div class='cnnguide-dataset' style='border-left:6px solid {colour};"
            f"background:{background};padding:6px 12px;margin:4px 0;color:#222'>"
            f"<div style='color:{colour};font-weight:bold;letter-spacing:0.05em'>{label}</div>"
            f"<div><b>{esc(self.name)}</b>, {self.image_size}&times;{self.image_size} px"
            f" &mdash; <code>{esc(self.source)}</code></div>"
            f"{notice}"
            "<table style='margin:4px 0'><tr><th>split</th>"
            f"{header}<th>total</th></tr>{rows}</table>"
            f"{skipped}"
            f"<div style='font-size:smaller'>Cite: {esc(self.citation)}</div></div>"
        )


# --------------------------------------------------------------------------- #
# PneumoniaMNIST
# --------------------------------------------------------------------------- #


def _check_size(size) -> int:
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or int(size) not in SIZES
    ):
        raise ValueError(
            f"size={size!r} is not a PneumoniaMNIST size; use one of {SIZES}."
        )
    return int(size)


def pneumoniamnist_filename(size: int = 28) -> str:
    """File name MedMNIST v2 gives PneumoniaMNIST at ``size``.

    Examples
    --------
    >>> pneumoniamnist_filename(28), pneumoniamnist_filename(64)
    ('pneumoniamnist.npz', 'pneumoniamnist_64.npz')
    """
    size = _check_size(size)
    return "pneumoniamnist.npz" if size == 28 else f"pneumoniamnist_{size}.npz"


def pneumoniamnist_url(size: int = 28) -> str:
    """Download address of PneumoniaMNIST at ``size`` (``CNNGUIDE_DATA_URL`` overrides the base).

    Examples
    --------
    >>> pneumoniamnist_url(28)   # doctest: +SKIP
    'https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1'
    """
    base = os.environ.get("CNNGUIDE_DATA_URL") or DATA_URL
    if not base.endswith("/"):
        base += "/"
    return f"{base}{pneumoniamnist_filename(size)}?download=1"


def cache_dir() -> Path:
    """The user cache folder for downloads (``CNNGUIDE_CACHE`` overrides it).

    Examples
    --------
    >>> cache_dir().name   # doctest: +SKIP
    'cnnguide'
    """
    env = os.environ.get("CNNGUIDE_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("cnnguide"))


def _offline() -> bool:
    return os.environ.get("CNNGUIDE_OFFLINE", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def _how_to_get(size: int) -> str:
    name = pneumoniamnist_filename(size)
    return (
        f"To get it: download {pneumoniamnist_url(size)} (PneumoniaMNIST, MedMNIST v2, "
        f"CC BY 4.0), save it as {name} in a folder and set CNNGUIDE_DATA to that "
        f"folder (or pass data_dir=...), or put it in {cache_dir()}; with a network "
        "and CNNGUIDE_OFFLINE unset, cnnguide downloads it there by itself."
    )


def _validate_npz(path: Path, size: int) -> dict[str, Split]:
    """Read every array once, close the file, then check the structure."""
    fix = (
        f"Delete {path} and download it again ({pneumoniamnist_url(size)}), "
        "or point CNNGUIDE_DATA at a good copy."
    )
    keys = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")]
    try:
        npz = np.load(path, allow_pickle=False)
        if not hasattr(npz, "files"):
            raise CorruptDataError(
                f"{path} is a single .npy array, not a PneumoniaMNIST .npz archive. {fix}"
            )
        with npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise CorruptDataError(
                    f"{path} lacks the PneumoniaMNIST keys {missing} (it has {sorted(npz.files)}). {fix}"
                )
            arrays = {k: npz[k] for k in keys}
    except DataError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        KeyError,
    ) as exc:
        raise CorruptDataError(
            f"{path} is truncated or not a valid .npz file ({type(exc).__name__}: {exc}). {fix}"
        ) from exc

    splits = {}
    for s in SPLITS:
        images, labels = arrays[f"{s}_images"], arrays[f"{s}_labels"]
        if images.dtype != np.uint8:
            raise CorruptDataError(
                f"{path}: {s}_images has dtype {images.dtype}, expected uint8. {fix}"
            )
        if images.ndim != 3 or images.shape[1:] != (size, size):
            hint = ""
            if (
                images.ndim == 3
                and images.shape[1] == images.shape[2]
                and images.shape[1] in SIZES
            ):
                hint = (
                    f" It holds {images.shape[1]}x{images.shape[1]} images: load it with "
                    f"size={images.shape[1]}, or name it {pneumoniamnist_filename(images.shape[1])}."
                )
            raise CorruptDataError(
                f"{path}: {s}_images has shape {images.shape}, expected (N, {size}, {size}) "
                f"for size={size}.{hint} {fix}"
            )
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise CorruptDataError(
                f"{path}: {s}_labels has shape {labels.shape}, expected (N,) or (N, 1). {fix}"
            )
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
            raise CorruptDataError(
                f"{path}: {s}_labels has dtype {labels.dtype}, expected integers 0/1. {fix}"
            )
        if len(labels) != len(images):
            raise CorruptDataError(
                f"{path}: {s} has {len(images)} images but {len(labels)} labels. {fix}"
            )
        bad = np.setdiff1d(np.unique(labels), [0, 1])
        if bad.size:
            raise CorruptDataError(
                f"{path}: {s}_labels holds values {bad.tolist()} outside {{0, 1}} "
                f"(0 = normal, 1 = pneumonia). {fix}"
            )
        splits[s] = Split(np.ascontiguousarray(images), labels.astype(np.uint8))
    return splits


def _candidate(folder, size: int) -> tuple[Path | None, str]:
    """The npz in ``folder`` (or ``folder`` itself when it is a file), and a status word."""
    p = Path(folder).expanduser()
    if p.is_file():
        return p, "found"
    if not p.is_dir():
        return None, "folder does not exist"
    f = p / pneumoniamnist_filename(size)
    if f.is_file():
        return f, "found"
    return None, f"no {f.name} there"


def _resolves(url: str, timeout: float) -> str | None:
    """None when the host name resolves within ``timeout`` s, else why not.

    Name lookups ignore socket timeouts; a thread bounds them so an offline
    machine gives up in seconds.
    """
    import socket

    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return f"bad URL {url!r}"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: list = []

    def lookup():
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            result.append(None)
        except OSError as exc:
            result.append(f"cannot resolve {host} ({exc})")

    t = threading.Thread(target=lookup, daemon=True)
    t.start()
    t.join(timeout)
    if not result:
        return f"no answer from DNS for {host} within {timeout:g} s"
    return result[0]


def _download(size: int, timeout: float) -> Path:
    """Fetch the official file into the cache with pooch, md5-checked.

    pooch writes to a temporary file in the cache and moves it into place
    only after the checksum matches, so a failed transfer leaves nothing
    that a later run would trust.
    """
    import pooch
    import requests

    url = pneumoniamnist_url(size)
    folder = cache_dir()
    why = _resolves(url, timeout)
    if why is None:
        try:
            path = pooch.retrieve(
                url,
                known_hash=f"md5:{MD5[size]}",
                fname=pneumoniamnist_filename(size),
                path=folder,
                downloader=pooch.HTTPDownloader(timeout=timeout, progressbar=False),
            )
            return Path(path)
        except requests.exceptions.RequestException as exc:
            why = f"download failed ({type(exc).__name__}: {exc})"
        except ValueError as exc:  # pooch: checksum mismatch
            why = f"the downloaded file failed its md5 check and was discarded ({exc})"
        except OSError as exc:
            why = f"could not write to {folder} ({exc})"
    raise DataNotFoundError(f"download of {url} failed: {why}")


def _locate(size: int, data_dir, download) -> Path:
    """The first PneumoniaMNIST file found (or downloaded), in the documented order."""
    looked: list[str] = []
    places = [] if data_dir is None else [("data_dir", data_dir)]
    places += [
        ("CNNGUIDE_DATA", os.environ.get("CNNGUIDE_DATA")),
        ("user cache", cache_dir()),
    ]
    for label, folder in places:
        if not folder:
            looked.append(f"{label}: not set")
            continue
        path, status = _candidate(folder, size)
        if path is not None:
            return path
        looked.append(f"{label} {Path(folder).expanduser()}: {status}")

    want = (not _offline()) if download is None else bool(download)
    if not want:
        reason = "download=False" if download is False else "CNNGUIDE_OFFLINE=1"
        looked.append(f"download: not tried ({reason})")
    else:
        try:
            return _download(size, DOWNLOAD_TIMEOUT)
        except DataNotFoundError as exc:
            looked.append(str(exc))
    error = DataNotFoundError(
        f"PneumoniaMNIST ({pneumoniamnist_filename(size)}) not found. Looked at: "
        + "; ".join(looked)
        + ". "
        + _how_to_get(size)
    )
    error.looked = tuple(looked)
    raise error


def load_pneumoniamnist(
    size: int = 28, data_dir=None, *, download: bool | None = None
) -> Dataset:
    """Load the real PneumoniaMNIST at ``size`` x ``size`` pixels, or raise.

    Looks in ``data_dir``, then ``$CNNGUIDE_DATA``, then the user cache
    (:func:`cache_dir`), then downloads from Zenodo into the cache.

    Parameters
    ----------
    size : {28, 64, 128, 224}
        Image side in pixels (file ``pneumoniamnist.npz`` for 28,
        ``pneumoniamnist_<size>.npz`` otherwise).
    data_dir : str or Path, optional
        A folder holding the file, or the ``.npz`` file itself.
    download : bool, optional
        None (default): download unless ``CNNGUIDE_OFFLINE=1``. False: never.
        True: download even when ``CNNGUIDE_OFFLINE=1`` (an explicit argument
        wins over the environment).

    Returns
    -------
    Dataset
        uint8 ``(N, size, size)`` images, uint8 ``(N,)`` labels, ``is_real=True``.

    Raises
    ------
    DataNotFoundError
        Nowhere to be found and no download; the message lists where it
        looked and how to get the file.
    CorruptDataError
        A file was found but is truncated or has the wrong structure.

    Examples
    --------
    >>> ds = load_pneumoniamnist(28, "/work/shared/data")   # doctest: +SKIP
    >>> ds["train"].images.shape                             # doctest: +SKIP
    (4708, 28, 28)
    """
    size = _check_size(size)
    path = _locate(size, data_dir, download)
    splits = _validate_npz(path, size)
    return Dataset(
        name="PneumoniaMNIST",
        splits=splits,
        source=str(path),
        citation=CITATION,
        is_real=True,
        image_size=size,
        notice="",
    )


# --------------------------------------------------------------------------- #
# Phantoms and load_dataset
# --------------------------------------------------------------------------- #


def _phantom_counts(n_phantoms) -> dict[str, int]:
    if n_phantoms is None:
        return dict(PHANTOM_COUNTS)
    if isinstance(n_phantoms, Mapping):
        counts = {s: int(n_phantoms.get(s, 0)) for s in SPLITS}
    elif isinstance(n_phantoms, (int, np.integer)) and not isinstance(n_phantoms, bool):
        n, total = int(n_phantoms), sum(PHANTOM_COUNTS.values())
        counts = {
            s: max(2, int(round(n * PHANTOM_COUNTS[s] / total)))
            for s in ("val", "test")
        }
        counts = {"train": n - counts["val"] - counts["test"], **counts}
    else:
        raise ValueError(
            f"n_phantoms={n_phantoms!r}: give a total (int) or a dict "
            "{'train': ..., 'val': ..., 'test': ...}."
        )
    if any(n < 2 for n in counts.values()):
        raise ValueError(
            f"n_phantoms={n_phantoms!r} gives split sizes {counts}; every split needs "
            "at least 2 images (one per class): ask for at least 6 in all."
        )
    return counts


def _phantom_notice(size: int, looked: Sequence[str]) -> str:
    return (
        "SYNTHETIC PHANTOMS, NOT CHEST X-RAYS: PneumoniaMNIST was not found, so this "
        "dataset holds computer-drawn chest phantoms. Results on them are NOT results "
        f"on X-rays. (Looked at: {'; '.join(looked)}.) " + _how_to_get(size)
    )


@functools.lru_cache(maxsize=2)
def _phantom_splits(size: int, seed: int, counts: tuple) -> tuple:
    """Phantoms per split, kept for the next call in this process (they take seconds)."""
    from cnnguide.data.phantoms import make_phantoms

    seeds = np.random.SeedSequence(seed).generate_state(len(SPLITS))
    out = []
    for n, split_seed in zip(counts, seeds):
        batch = make_phantoms(
            n, size, seed=int(split_seed), pneumonia_fraction=PNEUMONIA_FRACTION
        )
        arrays = (
            np.asarray(batch.images, dtype=np.uint8),
            np.asarray(batch.labels, dtype=np.uint8).reshape(-1),
            np.asarray(batch.masks, dtype=bool),
        )
        for a in arrays:
            a.flags.writeable = False  # the cached copy must never change
        out.append(arrays)
    return tuple(out)


def load_dataset(
    size: int = 28,
    data_dir=None,
    *,
    allow_phantoms: bool = True,
    seed: int = 0,
    n_phantoms=None,
) -> Dataset:
    """The book's dataset: real PneumoniaMNIST if found, else synthetic phantoms.

    Real data is looked for as in :func:`load_pneumoniamnist` (a download is
    tried unless ``CNNGUIDE_OFFLINE=1``). When none is found and
    ``allow_phantoms`` is true, synthetic chest phantoms from
    :func:`cnnguide.data.phantoms.make_phantoms` stand in: the returned dataset has
    ``is_real=False``, a :attr:`Dataset.notice` that says so plainly, and a
    :class:`PhantomDataWarning` is issued once per call.

    Parameters
    ----------
    size : {28, 64, 128, 224}
        Image side in pixels.
    data_dir : str or Path, optional
        Folder holding the ``.npz`` (or the file itself).
    allow_phantoms : bool
        If False, a missing dataset raises :class:`DataNotFoundError`.
    seed : int
        Seed for the phantoms (each split gets its own seed derived from it);
        unused for real data.
    n_phantoms : int or dict, optional
        Phantom counts: None for train 1200 / val 200 / test 300; an int total
        shared in those proportions; or ``{"train": n, "val": n, "test": n}``.
        About 74 % of phantoms show pneumonia, as in the real data.

    Returns
    -------
    Dataset

    Raises
    ------
    DataNotFoundError
        No real data and ``allow_phantoms=False``.
    CorruptDataError
        A data file was found but is broken (never silently replaced by phantoms).

    Examples
    --------
    >>> ds = load_dataset()     # doctest: +SKIP
    >>> ds                      # doctest: +SKIP
    >>> x, y = ds["train"].as_float(), ds["train"].labels   # doctest: +SKIP
    """
    size = _check_size(size)
    try:
        return load_pneumoniamnist(size, data_dir)
    except DataNotFoundError as exc:
        if not allow_phantoms:
            raise
        looked = getattr(exc, "looked", (str(exc),))
    counts = _phantom_counts(n_phantoms)
    cached = _phantom_splits(size, int(seed), tuple(counts[s] for s in SPLITS))
    # copies: callers may change their arrays in place without touching the cache
    splits = {
        s: Split(*(a.copy() for a in arrays)) for s, arrays in zip(SPLITS, cached)
    }
    notice = _phantom_notice(size, looked)
    warnings.warn(notice, PhantomDataWarning, stacklevel=2)
    return Dataset(
        name="Synthetic chest phantoms",
        splits=splits,
        source=f"synthetic (seed={seed})",
        citation=PHANTOM_CITATION,
        is_real=False,
        image_size=size,
        notice=notice,
    )


# --------------------------------------------------------------------------- #
# Single images
# --------------------------------------------------------------------------- #


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{len(source)} bytes>" if hasattr(source, "__len__") else "<image bytes>"


def _to_grey_float(im, name: str, allow_colour: bool) -> np.ndarray:
    """Any PIL mode -> (H, W) float32 in [0, 1], keeping 16-bit precision."""

    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        a = np.asarray(im, dtype=np.float64) / 65535.0
    elif mode == "I":
        a = np.asarray(im, dtype=np.float64)
        # 16-bit PNGs may open as 32-bit "I"; their values still fit 0..65535.
        top = 65535.0 if a.min() >= 0 and a.max() <= 65535 else None
        a = a / top if top else (a - a.min()) / max(a.max() - a.min(), 1e-12)
    elif mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if a.min() < 0 or a.max() > 1:
            a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
    elif mode in ("L", "1"):
        a = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    elif mode == "LA":
        a = np.asarray(im.getchannel("L"), dtype=np.float64) / 255.0
    else:  # RGB, RGBA, P, CMYK, YCbCr, ...: through RGB, alpha dropped
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
        rgb = im.convert("RGB")
        if not allow_colour:
            sat = _mean_saturation(rgb)
            if sat > COLOUR_SATURATION_THRESHOLD:
                raise ImageError(
                    f"{name} looks like a colour photograph, not a chest X-ray "
                    f"(mean saturation {sat:.2f} > {COLOUR_SATURATION_THRESHOLD}). "
                    "Use a greyscale radiograph, or pass allow_colour=True to load it anyway."
                )
        a = np.asarray(rgb.convert("L"), dtype=np.float64) / 255.0
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def _mean_saturation(rgb) -> float:
    """Mean HSV saturation, on a thumbnail; near-black pixels count as grey."""
    thumb = rgb.copy()
    thumb.thumbnail((128, 128))
    a = np.asarray(thumb, dtype=np.float32) / 255.0
    hi, lo = a.max(axis=-1), a.min(axis=-1)
    sat = np.where(hi > 0.06, (hi - lo) / np.maximum(hi, 1e-6), 0.0)
    return float(sat.mean())


def _centre_square(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return a[top : top + s, left : left + s]


def _read_image(
    source, size, *, name: str, allow_colour: bool, max_pixels: int
) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise DataNotFoundError(f"{path}: no such file; check the path.")
        if path.is_dir():
            raise ImageError(
                f"{path} is a folder, not an image; use load_image_folder for folders."
            )
        if path.stat().st_size == 0:
            raise ImageError(
                f"{path} is an empty (zero-byte) file; replace it with a PNG or JPEG."
            )
        opener = path
    else:
        data = bytes(source)
        if not data:
            raise ImageError(
                f"{name} is empty (zero bytes); give the bytes of a PNG or JPEG."
            )
        opener = io.BytesIO(data)

    fix = "re-export or re-download it as PNG or JPEG, or remove it"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(opener, formats=_PIL_FORMATS) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageError(
                        f"{name} declares {w}x{h} = {w * h:,} pixels, more than the limit "
                        f"of {max_pixels:,} (a guard against decompression bombs); "
                        "downscale it first, or raise max_pixels if you trust it."
                    )
                if size is not None and im.format in ("JPEG", "MPO"):
                    im.draft(im.mode, (size, size))  # decode at a reduced scale: fast
                im.load()
                im = ImageOps.exif_transpose(im)
                a = _to_grey_float(im, name, allow_colour)
        except DataError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(
                f"{name} is too large to decode safely ({exc}), refused as a guard against "
                "decompression bombs; downscale it first."
            ) from exc
        except UnidentifiedImageError as exc:
            raise ImageError(
                f"{name} is not a PNG or JPEG image that can be read (unrecognised content); "
                f"{fix}."
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise ImageError(
                f"{name} is corrupt or truncated ({type(exc).__name__}: {exc}); {fix}."
            ) from exc

    if size is not None:
        sq = np.ascontiguousarray(_centre_square(a), dtype=np.float32)
        if sq.shape != (size, size):
            # float32 arrays become mode "F" images: 16-bit precision survives the resize
            sq = np.asarray(
                Image.fromarray(sq).resize((size, size), Image.Resampling.BILINEAR)
            )
        a = np.clip(sq, 0.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(a)


def load_image(
    source,
    size: int | None = None,
    *,
    allow_colour: bool = False,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Read one PNG or JPEG (a path, or its bytes) as a greyscale image.

    Every mode is handled: L, RGB, RGBA and LA (alpha dropped), P (palette),
    16-bit I;16 (divided by 65535, so its full range is kept -- not clipped
    at 255), and JPEG EXIF orientation is applied.

    Parameters
    ----------
    source : str, Path, bytes or bytearray
        The file, or its content (e.g. from an upload widget).
    size : int, optional
        If given, the centre square (side = the short edge) is resized to
        ``size`` x ``size``, as MedMNIST does. None keeps the original size.
    allow_colour : bool
        Colour images whose mean HSV saturation exceeds
        ``COLOUR_SATURATION_THRESHOLD`` (0.2) are refused as "not a chest
        X-ray" unless this is True. Radiographs saved as RGB are grey
        (saturation near 0) and pass. A simple heuristic, not a classifier.
    max_pixels : int
        Images declaring more pixels than this (default 50 million) are
        refused before decoding. Pillow's own limit (``Image.MAX_IMAGE_PIXELS``,
        about 89 million; above it Pillow warns, which is turned into this
        error) still applies on top.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32 in ``[0, 1]``.

    Raises
    ------
    DataNotFoundError
        The path does not exist.
    ImageError
        Empty, corrupt, truncated, not an image, too large, or a colour photo.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (40, 30), 128).save(buf, "PNG")
    >>> x = load_image(buf.getvalue(), size=16)
    >>> x.shape, x.dtype, round(float(x.mean()), 3)
    ((16, 16), dtype('float32'), 0.502)
    """
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 1):
        raise ValueError(
            f"size={size!r}: give a positive integer, or None to keep the size."
        )
    if not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        raise TypeError(
            f"load_image takes a path or bytes, not {type(source).__name__}; "
            "for a file object pass f.read()."
        )
    return _read_image(
        source,
        None if size is None else int(size),
        name=_describe(source),
        allow_colour=allow_colour,
        max_pixels=max_pixels,
    )


# --------------------------------------------------------------------------- #
# Image folders
# --------------------------------------------------------------------------- #


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
    the validation split, and the notice says so. Hidden files (``.DS_Store``)
    and ``__MACOSX`` folders are ignored.

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
    layout = (
        "expected root/train/{normal,pneumonia}/*.png|jpg and root/test/{normal,pneumonia}/..., "
        "val/ optional, names in any case"
    )
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder; {layout}.")
    base = _find_split_root(root)
    if base is None:
        found = [p.name for p in _subdirs(root)]
        raise DataNotFoundError(
            f"{root} does not have the expected layout (found subfolders {found}); {layout}."
        )

    skipped: list[tuple[str, str]] = []
    splits: dict[str, Split] = {}
    for split in SPLITS:
        split_dir = _match(base, _SPLIT_ALIASES[split])
        if split_dir is None:
            continue  # only val can be missing: train/test were checked above
        class_dirs = {}
        for k, cls in enumerate(CLASS_NAMES):
            d = _match(split_dir, (cls,))
            if d is None:
                raise DataNotFoundError(
                    f"{split_dir} has no '{cls}' folder (found {[p.name for p in _subdirs(split_dir)]}); "
                    f"{layout}."
                )
            class_dirs[k] = d
        extra = [p for p in _subdirs(split_dir) if p.name.lower() not in CLASS_NAMES]
        if extra:
            msg = (
                f"{split_dir} holds folders {[p.name for p in extra]} besides normal/ and "
                "pneumonia/; move them out (this loader knows two classes)."
            )
            if on_error == "raise":
                raise DataError(msg)
            skipped.extend((str(p), "unexpected folder, not loaded") for p in extra)

        images, labels = [], []
        for k, d in class_dirs.items():
            n_before = len(images)
            for f in sorted(p for p in d.iterdir() if _visible(p)):
                reason = None
                if f.is_dir():
                    reason = "a subfolder inside a class folder"
                elif f.suffix.lower() not in _IMAGE_SUFFIXES:
                    reason = f"not an image file (suffix {f.suffix or 'none'!r}; expected .png, .jpg, .jpeg)"
                if reason is None:
                    try:
                        images.append(
                            _read_image(
                                f,
                                size,
                                name=str(f),
                                allow_colour=allow_colour,
                                max_pixels=max_pixels,
                            )
                        )
                        labels.append(k)
                        continue
                    except DataError as exc:
                        if on_error == "raise":
                            raise
                        reason = str(exc)
                elif on_error == "raise":
                    raise ImageError(
                        f"{f}: {reason}; remove it, or pass on_error='skip'."
                    )
                skipped.append((str(f), reason))
            if len(images) == n_before:
                raise DataNotFoundError(
                    f"{d} holds no usable images; put the {CLASS_NAMES[k]} PNG/JPEG files there."
                )
        splits[split] = Split(
            np.stack(images).astype(np.float32, copy=False),
            np.asarray(labels, dtype=np.uint8),
        )

    notice = ""
    if "val" not in splits:
        splits["train"], splits["val"] = _split_off(splits["train"], val_fraction, seed)
        notice = (
            f"No val folder in {base}: {len(splits['val'])} training images "
            f"({val_fraction:.0%}, stratified, seed={seed}) serve as the validation split."
        )
    if skipped:
        shown = "; ".join(f"{p} ({r})" for p, r in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        warnings.warn(
            f"load_image_folder skipped {len(skipped)} file(s) in {root}: {shown}{more}. "
            "The full list is in the dataset's .skipped.",
            stacklevel=2,
        )
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


def _split_off(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Stratified: ``fraction`` of each class (at least one image) goes to val."""
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction={fraction!r}: give a number between 0 and 1.")
    rng = np.random.default_rng(seed)
    val_idx = []
    for k in np.unique(split.labels):
        idx = np.flatnonzero(split.labels == k)
        n = max(1, int(round(fraction * len(idx)))) if len(idx) > 1 else 0
        val_idx.extend(rng.choice(idx, size=n, replace=False).tolist())
    is_val = np.zeros(len(split), bool)
    is_val[val_idx] = True
    return (
        Split(split.images[~is_val], split.labels[~is_val]),
        Split(split.images[is_val], split.labels[is_val]),
    )
