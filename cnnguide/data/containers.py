"""The containers every loader returns (:class:`Dataset`, :class:`Split`) and the errors.

Every bad input raises one :class:`DataError` subclass whose message names the
file and the fix.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DataError",
    "DataNotFoundError",
    "CorruptDataError",
    "ImageError",
    "NotAnImageError",
    "PhantomDataWarning",
    "Split",
    "Dataset",
    "SPLITS",
    "CLASS_NAMES",
]

SPLITS = ("train", "val", "test")
CLASS_NAMES = ("normal", "pneumonia")


class DataError(Exception):
    """Base class of every data error; the message names the file and the fix."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The data is in none of the places looked at, and could not be downloaded."""


class CorruptDataError(DataError, ValueError):
    """A data file exists but is truncated, unreadable or has the wrong structure."""


class ImageError(DataError, ValueError):
    """An image cannot be used: unreadable, not an image, too large, or not an X-ray."""


class NotAnImageError(ImageError):
    """The content is no image format the loader reads (PNG, JPEG, DICOM)."""


class PhantomDataWarning(UserWarning):
    """Synthetic phantoms stand in for chest X-rays (see :attr:`Dataset.notice`)."""


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

        Converted by :func:`cnnguide.images.as_model_input`: uint8 divided by
        255, uint16 by 65535, float images kept (they must lie in ``[0, 1]``).

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
        from cnnguide.images import as_model_input

        return as_model_input(self.images)


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
    label : str
        How a page names the data (file name and md5, or the phantoms' seed),
        without the machine's folders; see :attr:`shown_source`.

    Examples
    --------
    >>> import numpy as np
    >>> def split(n):
    ...     return Split(np.zeros((n, 4, 4), np.uint8), np.arange(n, dtype=np.uint8) % 2)
    >>> ds = Dataset("toy", {"train": split(4), "val": split(2), "test": split(2)})
    >>> ds.image_size, ds.counts()["train"]
    (4, {'normal': 2, 'pneumonia': 2})
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
    label: str = ""

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
        >>> import numpy as np
        >>> s = Split(np.zeros((3, 2, 2), np.uint8), np.array([0, 1, 1], np.uint8))
        >>> Dataset("toy", {"train": s, "val": s, "test": s}).counts()["val"]
        {'normal': 1, 'pneumonia': 2}
        """
        return {
            name: {
                cls: int(np.count_nonzero(split.labels == k))
                for k, cls in enumerate(self.class_names)
            }
            for name, split in self.splits.items()
        }

    @property
    def shown_source(self) -> str:
        """Where the data came from, as a page may print it: no folders.

        ``label`` when given (file name and checksum, or the phantoms' seed);
        otherwise the last part of ``source``. A built page must never carry
        the build machine's absolute paths.

        Examples
        --------
        >>> import numpy as np
        >>> s = Split(np.zeros((2, 4, 4), np.uint8), np.array([0, 1], np.uint8))
        >>> Dataset("toy", {"train": s, "val": s, "test": s},
        ...         source="/home/me/films").shown_source
        'films'
        """
        if self.label:
            return self.label
        return self.source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]

    def _summary_lines(self) -> list[str]:
        counts = self.counts()
        lines = [
            f"{self.name} ({'chest X-rays' if self.is_real else 'NOT X-rays'}), "
            f"{self.image_size}x{self.image_size} px",
            f"source: {self.shown_source}",
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
            f" &mdash; <code>{esc(self.shown_source)}</code></div>"
            f"{notice}"
            "<table style='margin:4px 0'><tr><th>split</th>"
            f"{header}<th>total</th></tr>{rows}</table>"
            f"{skipped}"
            f"<div style='font-size:smaller'>Cite: {esc(self.citation)}</div></div>"
        )
