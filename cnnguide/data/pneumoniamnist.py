"""PneumoniaMNIST: where it is looked for, its download, and the phantom fallback.

* :func:`load_dataset` -- what every chapter calls. Real PneumoniaMNIST when it
  can be found (or downloaded); otherwise synthetic chest phantoms from
  :mod:`cnnguide.data.phantoms`, with a :attr:`Dataset.notice` that says so plainly.
* :func:`load_pneumoniamnist` -- the real data or a clear error, never phantoms.
* :func:`locate` -- where the file would be found, and every place looked at.

Where PneumoniaMNIST is looked for, in this order:

1. the folder given as ``data_dir`` (or the ``.npz`` file itself);
2. the folder named by the environment variable ``CNNGUIDE_DATA``;
3. the user cache, ``pooch.os_cache("cnnguide")`` (the environment variable
   ``CNNGUIDE_CACHE`` replaces it);
4. a download from Zenodo record 10519652 into that cache, checked against the
   official md5 -- skipped when ``CNNGUIDE_OFFLINE=1``. The base address can be
   replaced with ``CNNGUIDE_DATA_URL`` (a mirror, or a test server).

Files found on disk are checked by structure (keys, shapes, dtypes, label
values), not by checksum, so a faithful rebuilt copy works too.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import threading
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import urlsplit

import numpy as np

from cnnguide import seeding
from cnnguide.data.containers import (
    SPLITS,
    CorruptDataError,
    DataError,
    DataNotFoundError,
    Dataset,
    PhantomDataWarning,
    Split,
)

__all__ = [
    "Location",
    "locate",
    "load_dataset",
    "load_pneumoniamnist",
    "pneumoniamnist_filename",
    "pneumoniamnist_url",
    "cache_dir",
    "file_md5",
    "phantoms_forced",
    "PHANTOMS_VARIABLE",
    "SIZES",
    "MD5",
    "DATA_URL",
    "DOWNLOAD_TIMEOUT",
    "CITATION",
    "PHANTOM_CITATION",
    "PHANTOM_COUNTS",
    "PNEUMONIA_FRACTIONS",
]

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

CITATION = (
    "Kermany D. S. et al. Identifying medical diagnoses and treatable diseases by "
    "image-based deep learning. Cell 172(5), 1122-1131 (2018), "
    "doi:10.1016/j.cell.2018.02.010. "
    "Yang J. et al. MedMNIST v2 - a large-scale lightweight benchmark for 2D and 3D "
    "biomedical image classification. Scientific Data 10, 41 (2023), "
    "doi:10.1038/s41597-022-01721-8. Licence: CC BY 4.0."
)

PHANTOM_CITATION = "Synthetic chest phantoms drawn by cnnguide.data.phantoms; no patient data, nothing to cite."
#: Default phantom counts per split, close to the real split proportions.
PHANTOM_COUNTS = {"train": 1200, "val": 200, "test": 300}

#: Share of pneumonia images in each PneumoniaMNIST split: 0.742 in train and
#: validation (one random 9:1 re-split of Kermany's training set), 0.625 in test
#: (Kermany's held-out set, 390 of 624). Phantom splits are drawn at the same shares.
PNEUMONIA_FRACTIONS = {"train": 0.742, "val": 0.742, "test": 0.625}


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


def _how_to_get(size: int, *, for_page: bool = False) -> str:
    name = pneumoniamnist_filename(size)
    # A page names the cache by the call that finds it, not by this machine's path.
    cache = "the user cache (cnnguide.data.cache_dir())" if for_page else cache_dir()
    return (
        f"To get it: download {pneumoniamnist_url(size)} (PneumoniaMNIST, MedMNIST v2, "
        f"CC BY 4.0), save it as {name} in a folder and set CNNGUIDE_DATA to that "
        f"folder (or pass data_dir=...), or put it in {cache}; with a network "
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


def _search(size: int, data_dir) -> tuple[Path | None, list[str]]:
    """The first file found on disk, in the documented order, and the places looked at."""
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
        looked.append(f"{label} {Path(folder).expanduser()}: {status}")
        if path is not None:
            return path, looked
    return None, looked


@dataclasses.dataclass(frozen=True)
class Location:
    """Where PneumoniaMNIST was found (or not), as :func:`locate` reports it.

    Attributes
    ----------
    size : int
        Image side asked for.
    path : Path or None
        The ``.npz`` file that :func:`load_pneumoniamnist` would read; None
        when there is none.
    looked : tuple of str
        Every place looked at, in order, each with what was found there.
    how_to_get : str
        How to get the file (shown when it is missing).
    """

    size: int
    path: Path | None
    looked: tuple
    how_to_get: str

    @property
    def found(self) -> bool:
        """True when a file was found (or downloaded)."""
        return self.path is not None

    def __str__(self) -> str:
        head = (
            f"PneumoniaMNIST {self.size}x{self.size}: {self.path}"
            if self.found
            else f"PneumoniaMNIST {self.size}x{self.size}: not found"
        )
        lines = [head, *("  looked at " + place for place in self.looked)]
        if not self.found:
            lines.append("  " + self.how_to_get)
        return "\n".join(lines)


def locate(size: int = 28, data_dir=None, *, download: bool = False) -> Location:
    """Where PneumoniaMNIST would be found, and every place looked at.

    Looks in the same places, in the same order, as :func:`load_pneumoniamnist`
    (``data_dir``, ``$CNNGUIDE_DATA``, the user cache), but reads no array and,
    unless ``download=True``, downloads nothing: this is what
    ``cnnguide data`` prints.

    Parameters
    ----------
    size : {28, 64, 128, 224}
        Image side in pixels.
    data_dir : str or Path, optional
        A folder holding the file, or the ``.npz`` file itself.
    download : bool
        When the file is nowhere on disk, download it into the cache (the
        md5 is checked), even when ``CNNGUIDE_OFFLINE=1``.

    Returns
    -------
    Location
        ``.path`` (None when not found), ``.looked``, ``.found``, ``.how_to_get``.

    Examples
    --------
    >>> import tempfile
    >>> where = locate(28, tempfile.mkdtemp())
    >>> where.looked[0].startswith("data_dir ") and where.looked[0].endswith(
    ...     "no pneumoniamnist.npz there")
    True
    """
    size = _check_size(size)
    path, looked = _search(size, data_dir)
    if path is None and download:
        try:
            path = _download(size, DOWNLOAD_TIMEOUT)
            looked.append(f"download: saved to {path}")
        except DataNotFoundError as exc:
            looked.append(str(exc))
    elif path is None:
        looked.append("download: not tried (download=False)")
    return Location(size, path, tuple(looked), _how_to_get(size))


def _locate(size: int, data_dir, download) -> Path:
    """The first PneumoniaMNIST file found (or downloaded), in the documented order."""
    path, looked = _search(size, data_dir)
    if path is not None:
        return path
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
    >>> ds = load_pneumoniamnist(28, "path/to/folder")   # doctest: +SKIP
    >>> ds["train"].images.shape                          # doctest: +SKIP
    (4708, 28, 28)
    """
    size = _check_size(size)
    path = _locate(size, data_dir, download)
    splits = _validate_npz(path, size)
    md5 = file_md5(path)
    official = (
        "the official download"
        if md5 == MD5[size]
        else f"a copy; the official download's md5 is {MD5[size]}"
    )
    return Dataset(
        name="PneumoniaMNIST",
        splits=splits,
        source=str(path),
        label=f"{path.name}, md5 {md5} ({official})",
        citation=CITATION,
        is_real=True,
        image_size=size,
        notice="",
    )


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


#: Set to 1 to use the phantoms even where PneumoniaMNIST is found: the
#: setting ignores ``data_dir``, ``CNNGUIDE_DATA`` and the download cache.
PHANTOMS_VARIABLE = "CNNGUIDE_PHANTOMS"

# An absolute path in a message (POSIX or Windows): a built page must name the
# place looked at, never this machine's folders.
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])(?:[A-Za-z]:\\|/)[^\s;:]*")


def phantoms_forced() -> bool:
    """True when ``CNNGUIDE_PHANTOMS`` asks for the phantoms whatever is on disk.

    Examples
    --------
    >>> import os
    >>> os.environ["CNNGUIDE_PHANTOMS"] = "1"
    >>> phantoms_forced()
    True
    >>> del os.environ["CNNGUIDE_PHANTOMS"]
    >>> phantoms_forced()
    False
    """
    value = os.environ.get(PHANTOMS_VARIABLE, "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def _without_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last part (``folder 'name'``).

    No slash is left: JupyterLab turns anything that looks like a path in an
    output into a link and asks its server whether that file exists, which
    logs a 404 in the browser for a folder the server does not serve.

    >>> _without_paths("CNNGUIDE_DATA /home/me/data: folder does not exist")
    "CNNGUIDE_DATA folder 'data': folder does not exist"
    """
    return _ABSOLUTE_PATH.sub(
        lambda m: (
            "folder '"
            + m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
            + "'"
        ),
        text,
    )


def _phantom_notice(size: int, looked: Sequence[str]) -> str:
    where = "; ".join(_without_paths(place) for place in looked)
    return (
        "SYNTHETIC PHANTOMS, NOT CHEST X-RAYS: PneumoniaMNIST was not found, so this "
        "dataset holds computer-drawn chest phantoms. Results on them are NOT results "
        f"on X-rays. (Looked at: {where}.) " + _how_to_get(size, for_page=True)
    )


def file_md5(path) -> str:
    """The md5 of a file, read in chunks (the official checksums are md5).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> _ = f.write_bytes(b"abc")
    >>> file_md5(f)
    '900150983cd24fb0d6963f7d28e17f72'
    """
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=2)
def _phantom_splits(size: int, seed: int, counts: tuple) -> tuple:
    """Phantoms per split, kept for the next call in this process (they take seconds)."""
    from cnnguide.data.phantoms import make_phantoms

    seeds = np.random.SeedSequence(seed).generate_state(len(SPLITS))
    out = []
    for split, n, split_seed in zip(SPLITS, counts, seeds):
        batch = make_phantoms(
            n,
            size,
            seed=int(split_seed),
            pneumonia_fraction=PNEUMONIA_FRACTIONS[split],
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
    seed: int | None = None,
    n_phantoms=None,
) -> Dataset:
    """The book's dataset: real PneumoniaMNIST if found, else synthetic phantoms.

    Real data is looked for as in :func:`load_pneumoniamnist` (a download is
    tried unless ``CNNGUIDE_OFFLINE=1``); ``CNNGUIDE_PHANTOMS=1`` skips that
    search and uses the phantoms (:func:`phantoms_forced`). When none is found and
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
    seed : int, optional
        Seed for the phantoms (each split gets its own seed derived from it);
        unused for real data. None: :func:`cnnguide.seeding.seed` ``(0)``, so
        ``CNNGUIDE_SEED`` shifts it.
    n_phantoms : int or dict, optional
        Phantom counts: None for train 1200 / val 200 / test 300; an int total
        shared in those proportions; or ``{"train": n, "val": n, "test": n}``.
        Each split shows pneumonia at the real split's share
        (:data:`PNEUMONIA_FRACTIONS`: 74.2 % in train and validation, 62.5 % in test).

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
    if seed is None:
        seed = seeding.seed()
    if phantoms_forced():
        if not allow_phantoms:
            raise DataNotFoundError(
                f"{PHANTOMS_VARIABLE}=1 asks for the phantoms but allow_phantoms is "
                f"False: unset {PHANTOMS_VARIABLE} to load PneumoniaMNIST."
            )
        looked = (f"nowhere: {PHANTOMS_VARIABLE}=1 forces the phantoms",)
    else:
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
        label=f"synthetic phantoms (seed={seed}), generated by cnnguide",
        citation=PHANTOM_CITATION,
        is_real=False,
        image_size=size,
        notice=notice,
    )
