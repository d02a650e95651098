"""Single images: PNG, JPEG and DICOM files (or their bytes) as greyscale arrays.

:func:`load_image` is the one image loader of the package; the image-folder
loader, the CLI, the app and the web API all read through it. Bad files get
one :class:`~cnnguide.data.ImageError` naming the file and the fix.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from cnnguide.data.containers import (
    DataError,
    DataNotFoundError,
    ImageError,
    NotAnImageError,
)

__all__ = ["load_image", "MAX_PIXELS", "MAX_ASPECT", "COLOUR_SATURATION_THRESHOLD"]

#: Largest image (width x height) the loaders decode: a guard against
#: decompression bombs, small files that declare gigapixel images.
MAX_PIXELS = 50_000_000

#: Mean HSV saturation above which an image is taken for a colour photograph.
COLOUR_SATURATION_THRESHOLD = 0.2

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom"}
_DICOM_SUFFIXES = (".dcm", ".dicom")
_PIL_FORMATS = ("PNG", "JPEG")  # JPEG also opens multi-picture (MPO) files


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{len(source)} bytes>" if hasattr(source, "__len__") else "<image bytes>"


def _sixteen_bit_top(a: np.ndarray, name: str, notes: list) -> float:
    """The value that maps to white in a 16-bit image: 65535, unless fewer bits are used.

    A 12-bit detector's values saved in a 16-bit file end at 4095: divided by
    65535 the film would be nearly black. When every value stays below 4096
    the image is taken for 12-bit data (below 256, for 8-bit), and a note says so.
    """
    top = float(a.max()) if a.size else 0.0
    for bits in (8, 12):
        if 0 < top < 2**bits:
            notes.append(
                f"{name} is a 16-bit image whose values all stay below {2**bits}: "
                f"read as {bits}-bit data (white = {2**bits - 1}), not as nearly "
                "black 16-bit data"
            )
            return float(2**bits - 1)
    return 65535.0


def _to_grey_float(im, name: str, allow_colour: bool, notes: list) -> np.ndarray:
    """Any PIL mode -> (H, W) float32 in [0, 1], keeping 16-bit precision.

    float32 throughout (exact for 16-bit integers): a large upload must not
    cost float64 copies.
    """

    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        a = np.asarray(im, dtype=np.float32)
        a = a / np.float32(_sixteen_bit_top(a, name, notes))
    elif mode == "I":
        a = np.asarray(im, dtype=np.float32)
        # 16-bit PNGs may open as 32-bit "I"; their values still fit 0..65535.
        if a.min() >= 0 and a.max() <= 65535:
            a = a / np.float32(_sixteen_bit_top(a, name, notes))
        else:
            a = (a - a.min()) / max(float(a.max() - a.min()), 1e-12)
    elif mode == "F":
        a = np.asarray(im, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ImageError(
                f"{name} holds NaN or infinite pixel values; export it again as an "
                "8- or 16-bit PNG"
            )
        if a.min() < 0 or a.max() > 1:
            a = (a - a.min()) / max(float(a.max() - a.min()), 1e-12)
    elif mode in ("L", "1"):
        a = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    else:  # RGB, CMYK, YCbCr, ... through RGB; an alpha channel laid on black first
        alpha = mode in ("LA", "RGBA", "PA") or (
            mode == "P" and "transparency" in im.info
        )
        rgb = _flatten_alpha(im, name, notes) if alpha else im.convert("RGB")
        if not allow_colour:
            sat = _mean_saturation(rgb)
            if sat > COLOUR_SATURATION_THRESHOLD:
                raise ImageError(
                    f"{name} looks like a colour photograph, not a chest X-ray "
                    f"(mean saturation {sat:.2f} > {COLOUR_SATURATION_THRESHOLD}). "
                    "Use a greyscale radiograph, or pass allow_colour=True to load it anyway."
                )
        a = np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def _flatten_alpha(im, name: str, notes: list):
    """An image with an alpha channel, laid on black (an X-ray's empty background).

    Transparent pixels hide a colour of their own, which differs from one
    program to the next; flattened onto black, the answer no longer depends on it.
    """
    from PIL import Image

    rgba = im.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    if alpha.min() < 255:
        notes.append(
            f"{name} has transparent pixels ({np.mean(alpha < 255):.0%} of the "
            "image): laid on black, as an X-ray's background is; export it without "
            "transparency to be sure of what the model sees"
        )
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, rgba).convert("RGB")


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


#: A chest film is roughly square; past this ratio of its sides an image is
#: refused, since the model would see only a sliver of it.
MAX_ASPECT = 3.0


def _read_image(
    source,
    size,
    *,
    name: str,
    allow_colour: bool,
    max_pixels: int,
    notes: list | None = None,
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
                f"{path} is an empty (zero-byte) file; replace it with a PNG, JPEG or DICOM image."
            )
        try:
            with open(path, "rb"):
                pass
        except PermissionError as exc:
            raise ImageError(
                f"{path} cannot be read (permission denied); check its permissions, "
                "or copy it somewhere this user may read."
            ) from exc
        opener = path
    else:
        data = bytes(source)
        if not data:
            raise ImageError(
                f"{name} is empty (zero bytes); give the bytes of a PNG, JPEG or DICOM image."
            )
        opener = io.BytesIO(data)

    notes = [] if notes is None else notes
    if _is_dicom(source, name, notes):
        a = _read_dicom(opener, name, max_pixels, notes)
        return _fit(a, size, name)

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
                if max(w, h) > MAX_ASPECT * min(w, h):
                    raise ImageError(
                        f"{name} is {w}x{h} pixels, far from a chest film's shape (a "
                        f"side more than {MAX_ASPECT:g} times the other): the model "
                        "would see only its centre square. Crop it to the chest first."
                    )
                frames = int(getattr(im, "n_frames", 1) or 1)
                if frames > 1:
                    notes.append(
                        f"{name} holds {frames} pictures (an animation or a "
                        "multi-picture file): only the first was used"
                    )
                if size is not None and im.format in ("JPEG", "MPO"):
                    im.draft(im.mode, (size, size))  # decode at a reduced scale: fast
                im.load()
                im = ImageOps.exif_transpose(im)
                im = _reduce(im, size)
                a = _to_grey_float(im, name, allow_colour, notes)
        except DataError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(
                f"{name} is too large to decode safely ({exc}), refused as a guard against "
                "decompression bombs; downscale it first."
            ) from exc
        except UnidentifiedImageError as exc:
            raise NotAnImageError(
                f"{name} is not a PNG or JPEG image that can be read (unrecognised content, no DICOM marker either); "
                f"{fix}."
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise ImageError(
                f"{name} is corrupt or truncated ({type(exc).__name__}: {exc}); {fix}."
            ) from exc

    return _fit(a, size, name)


def _reduce(im, size):
    """Shrink a large decoded image by an integer factor before any float copy.

    Kept at least twice the model's side, so the final resize still averages;
    a 5000 x 5000 upload for a 28-pixel model then never becomes a float image
    of 25 million pixels.
    """
    if size is None:
        return im
    factor = min(im.size) // (2 * size)
    if factor < 2:
        return im
    try:
        return im.reduce(factor)
    except (ValueError, NotImplementedError):  # a mode reduce() does not take
        return im


def _fit(a: np.ndarray, size: int | None, name: str) -> np.ndarray:
    """The centre square resized to ``size`` (never enlarged), or ``a`` as it is."""
    if size is None:
        return np.ascontiguousarray(a, dtype=np.float32)
    h, w = a.shape
    if min(h, w) < size:
        raise ImageError(
            f"{name} is {w}x{h} pixels, smaller than the {size}x{size} the model "
            f"takes: give an image at least {size} pixels on its shorter side "
            "(enlarging it would invent the detail an X-ray should show)."
        )
    from PIL import Image

    sq = np.ascontiguousarray(_centre_square(a), dtype=np.float32)
    if sq.shape != (size, size):
        # float32 arrays become mode "F" images: 16-bit precision survives the resize
        sq = np.asarray(
            Image.fromarray(sq).resize((size, size), Image.Resampling.BILINEAR)
        )
    return np.ascontiguousarray(np.clip(sq, 0.0, 1.0), dtype=np.float32)


_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


def _is_dicom(source, name: str, notes: list | None = None) -> bool:
    """The ``DICM`` marker at byte 128, or a ``.dcm``/``.dicom`` name on content
    that is not plainly a PNG or JPEG (a PNG renamed ``.dcm`` is read as PNG)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            head = f.read(132)
    else:
        head = bytes(source[:132])
    if head[128:132] == b"DICM":
        return True
    if not name.lower().endswith(_DICOM_SUFFIXES):
        return False
    for magic, kind in _IMAGE_MAGIC.items():
        if head.startswith(magic):
            if notes is not None:
                notes.append(
                    f"{name} is named like a DICOM file but is a {kind} image: read as {kind}"
                )
            return False
    return True


def _output_range(ds) -> tuple[float, float]:
    """Range of the values after the modality and VOI steps (DICOM PS3.3 C.11).

    A VOI LUT maps to ``0 .. 2**bits - 1`` of its descriptor; otherwise the
    range is the one ``BitsStored`` allows (signed or not), through the
    rescale slope and intercept -- the pixels' real range, not their
    container's (a 12-bit image in 16-bit words ends at 4095, not 65535).
    """
    if "VOILUTSequence" in ds:
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)
    if "ModalityLUTSequence" in ds:
        bits = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    if int(ds.get("PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = sorted(
            (
                low * float(slope) + float(intercept),
                high * float(slope) + float(intercept),
            )
        )
    return low, high


_DICOM_NUMBER_TAGS = ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth")


def _check_dicom_numbers(ds, name: str) -> None:
    """Refuse NaN or infinite rescale and window tags: they blank the whole image."""
    for tag in _DICOM_NUMBER_TAGS:
        value = ds.get(tag)
        if value is None:
            continue
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            values = [value]
        else:
            values = list(value)  # a multi-valued window: every one must be finite
        try:
            finite = all(np.isfinite(float(v)) for v in values)
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise ImageError(
                f"{name} has a {tag} of {value!r}, which is not a finite number; "
                f"fix or remove the {tag} tag (or export the image as PNG)"
            )


def _read_dicom(opener, name: str, max_pixels: int, notes: list) -> np.ndarray:
    """One greyscale DICOM frame -> (H, W) float32 in [0, 1], as a viewer shows it.

    The modality LUT (rescale slope/intercept) and the VOI LUT or window
    (``WindowCenter``/``WindowWidth``, the first one) are applied with
    pydicom's own functions; values are then scaled by the real output range
    (:func:`_output_range`), and MONOCHROME1 (bone dark) is inverted.
    """
    try:
        import pydicom
    except ImportError as exc:
        raise ImageError(
            f"{name} is a DICOM file; reading it needs pydicom: "
            "pip install 'cnnguide[dicom]' (or export the image as PNG)."
        ) from exc
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:  # pydicom 2.x
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut

    fix = "export it again from the viewer as DICOM or PNG, or remove it"
    try:
        ds = pydicom.dcmread(opener)
        if "PixelData" not in ds:
            raise ImageError(f"{name} is a DICOM file without pixel data; {fix}.")
        rows, cols = int(ds.Rows), int(ds.Columns)
        if rows * cols > max_pixels:
            raise ImageError(
                f"{name} declares {cols}x{rows} = {rows * cols:,} pixels, more than "
                f"the limit of {max_pixels:,}; downscale it first, or raise max_pixels."
            )
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if photometric not in ("MONOCHROME1", "MONOCHROME2") or frames != 1:
            raise ImageError(
                f"{name} is a {photometric} DICOM with {frames} frame(s); a chest "
                "X-ray is one greyscale (MONOCHROME1/2) frame: export that frame."
            )
        _check_dicom_numbers(ds, name)
        modality = str(ds.get("Modality", "") or "").upper()
        if modality in ("CT", "MR", "PT", "NM", "US"):
            notes.append(
                f"{name} is a {modality} image, not a radiograph (CR/DX): the model "
                "was trained on chest X-rays only"
            )
        pixels = ds.pixel_array
        values = apply_modality_lut(pixels, ds)
        windowed = "VOILUTSequence" in ds or "WindowCenter" in ds
        if windowed:
            values = apply_voi_lut(values, ds, index=0)
        low, high = _output_range(ds)
    except DataError:
        raise
    except ImportError as exc:  # a compressed transfer syntax without its decoder
        raise ImageError(_no_decoder(name, exc)) from exc
    except Exception as exc:  # pydicom raises many types for broken files
        if _is_missing_decoder(exc):  # pydicom 3 says so with a RuntimeError
            raise ImageError(_no_decoder(name, exc)) from exc
        raise ImageError(
            f"{name} is not a readable DICOM image ({type(exc).__name__}: {exc}); {fix}."
        ) from exc
    values = np.asarray(values, dtype=np.float32)
    if not windowed and high - low >= 2**13 and 0 < values.max() - low < 2**12:
        notes.append(
            f"{name} declares {int(ds.get('BitsStored') or 16)} bits per pixel but "
            "every value fits in 12: scaled by the 12-bit range, not shown nearly black"
        )
        high = low + 2**12 - 1
    a = (values - np.float32(low)) / np.float32(max(high - low, 1e-12))
    if not np.isfinite(a).all():
        raise ImageError(
            f"{name} gives NaN or infinite values after its rescale and window "
            f"tags; {fix}."
        )
    a = np.clip(a, 0.0, 1.0)
    inverse = str(ds.get("PresentationLUTShape", "") or "").upper() == "INVERSE"
    if inverse:
        notes.append(
            f"{name} asks for an inverted display (PresentationLUTShape INVERSE): shown inverted, as its viewer would"
        )
    if (photometric == "MONOCHROME1") != inverse:
        a = 1.0 - a  # MONOCHROME1 (or an INVERSE display) stores bone dark
    return a.astype(np.float32)


def _is_missing_decoder(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        word in text for word in ("decod", "plugin", "handler", "transfer syntax")
    )


def _no_decoder(name: str, exc: BaseException) -> str:
    return (
        f"{name} uses a compressed DICOM transfer syntax that needs an extra decoder "
        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); install one "
        "(pip install pylibjpeg pylibjpeg-libjpeg, or pillow for JPEG) or export the "
        "image uncompressed."
    )


def load_image(
    source,
    size: int | None = None,
    *,
    allow_colour: bool = False,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
    notes: list | None = None,
) -> np.ndarray:
    """Read one PNG, JPEG or DICOM image (a path, or its bytes) as greyscale.

    The one image loader of the package: the CLI, the app and the web API all
    read files through it.

    PNG/JPEG: every mode is handled: L, RGB, RGBA and LA (alpha dropped), P
    (palette), 16-bit I;16 (divided by 65535, so its full range is kept -- not
    clipped at 255), and JPEG EXIF orientation is applied.

    DICOM (``.dcm``, or content with the ``DICM`` marker; needs pydicom, the
    ``dicom`` extra): the modality LUT and the VOI LUT or window are applied
    with ``pydicom.pixels``, 12- to 16-bit values are scaled by their real
    range (``BitsStored``, not the 16-bit container), and MONOCHROME1 (bone
    dark) is inverted so that bone is light, as in every other image.

    Parameters
    ----------
    source : str, Path, bytes or bytearray
        The file, or its content (e.g. from an upload widget).
    size : int, optional
        If given, the centre square (side = the short edge) is resized to
        ``size`` x ``size``, as MedMNIST does; an image whose short edge is
        below ``size`` is refused (it would be enlarged). None keeps the
        original size.
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
    name : str, optional
        What messages call the image (e.g. the uploaded file's name); by
        default the path, or ``<N bytes>``.
    notes : list, optional
        Receives one sentence per thing the loader did that a user should know
        (12-bit data in a 16-bit file, transparency laid on black, an inverted
        DICOM display, a CT slice, several frames, a PNG named ``.dcm``). The
        prediction service returns them as warnings with every answer.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32 in ``[0, 1]``.

    Raises
    ------
    DataNotFoundError
        The path does not exist.
    ImageError
        Empty, corrupt, truncated, not an image, too large, smaller than
        ``size``, a colour photo, or an unreadable DICOM.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (40, 30), 128).save(buf, "PNG")
    >>> x = load_image(buf.getvalue(), size=16)
    >>> x.shape, x.dtype, round(float(x.mean()), 3)
    ((16, 16), dtype('float32'), 0.502)
    >>> load_image(buf.getvalue(), size=64, name="tiny.png")
    Traceback (most recent call last):
    ...
    cnnguide.data.ImageError: tiny.png is 40x30 pixels, smaller than the 64x64 the model takes: give an image at least 64 pixels on its shorter side (enlarging it would invent the detail an X-ray should show).
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
        name=name or _describe(source),
        allow_colour=allow_colour,
        max_pixels=max_pixels,
        notes=notes,
    )
