"""Data for the book: PneumoniaMNIST, folders of chest X-rays, single images.

Every loader returns the same containers and raises the same errors; the
modules of this subpackage, one per idea:

========================================  ==========================================
:mod:`cnnguide.data.containers`           :class:`Dataset`, :class:`Split` and the
                                          errors (:class:`DataError` and its kinds)
:mod:`cnnguide.data.pneumoniamnist`       :func:`load_dataset` (what every chapter
                                          calls), :func:`load_pneumoniamnist`,
                                          :func:`locate`, the pooch download
                                          (official md5) and the phantom fallback
:mod:`cnnguide.data.imagefile`            :func:`load_image`: one PNG, JPEG or
                                          DICOM file (bit depth, windowing)
:mod:`cnnguide.data.folders`              :func:`load_image_folder`: a
                                          ``split/class/image`` folder, val split by
                                          patient
:mod:`cnnguide.data.duplicates`           :func:`find_duplicates`: exact and
                                          near-duplicate images across splits
:mod:`cnnguide.data.phantoms`             synthetic chest phantoms (no patient data)
========================================  ==========================================

Real PneumoniaMNIST is looked for in ``data_dir``, then ``$CNNGUIDE_DATA``,
then the user cache, then downloaded from Zenodo (unless ``CNNGUIDE_OFFLINE=1``);
without it, :func:`load_dataset` falls back to synthetic phantoms and its
:attr:`Dataset.notice` says so plainly.

This is teaching material, not a diagnostic device.

Examples
--------
>>> from cnnguide import data
>>> data.pneumoniamnist_filename(64)
'pneumoniamnist_64.npz'
"""

from cnnguide.data.containers import (
    CLASS_NAMES,
    SPLITS,
    CorruptDataError,
    DataError,
    DataNotFoundError,
    Dataset,
    ImageError,
    NotAnImageError,
    PhantomDataWarning,
    Split,
)
from cnnguide.data.duplicates import find_duplicates
from cnnguide.data.folders import KERMANY_CITATION, load_image_folder, patient_id
from cnnguide.data.imagefile import COLOUR_SATURATION_THRESHOLD, MAX_PIXELS, load_image
from cnnguide.data.pneumoniamnist import (
    CITATION,
    DATA_URL,
    DOWNLOAD_TIMEOUT,
    MD5,
    PHANTOM_CITATION,
    PHANTOM_COUNTS,
    PNEUMONIA_FRACTIONS,
    SIZES,
    Location,
    cache_dir,
    load_dataset,
    load_pneumoniamnist,
    locate,
    pneumoniamnist_filename,
    pneumoniamnist_url,
)

# Errors print as cnnguide.data.ImageError, where users import them from.
for _error in (
    DataError,
    DataNotFoundError,
    CorruptDataError,
    ImageError,
    NotAnImageError,
    PhantomDataWarning,
):
    _error.__module__ = __name__
del _error

__all__ = [
    "DataError",
    "DataNotFoundError",
    "CorruptDataError",
    "ImageError",
    "NotAnImageError",
    "PhantomDataWarning",
    "Split",
    "Dataset",
    "Location",
    "locate",
    "load_dataset",
    "load_pneumoniamnist",
    "load_image_folder",
    "load_image",
    "find_duplicates",
    "patient_id",
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
    "KERMANY_CITATION",
    "PHANTOM_CITATION",
    "PHANTOM_COUNTS",
    "PNEUMONIA_FRACTIONS",
    "SPLITS",
    "CLASS_NAMES",
]
