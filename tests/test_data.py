"""Tests for cnnguide.data: finding PneumoniaMNIST, validating files, images, folders.

Downloads (from a loopback server) are tested in test_data_download.py.
"""

import doctest
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnguide import data
from cnnguide.data import (
    CorruptDataError,
    DataError,
    DataNotFoundError,
    Dataset,
    ImageError,
    PhantomDataWarning,
    Split,
    load_dataset,
    load_image,
    load_image_folder,
    load_pneumoniamnist,
)

# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def make_arrays(size=28, n=(6, 2, 3), seed=0):
    """Valid PneumoniaMNIST-like arrays: both classes in every split."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, k in zip(("train", "val", "test"), n):
        out[f"{split}_images"] = rng.integers(0, 256, (k, size, size), dtype=np.uint8)
        labels = (np.arange(k) % 2).astype(np.uint8)
        out[f"{split}_labels"] = labels[:, None]
    return out


def write_npz(folder, size=28, n=(6, 2, 3), name=None, **arrays):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    a = make_arrays(size, n)
    a.update(arrays)
    path = folder / (name or data.pneumoniamnist_filename(size))
    np.savez_compressed(path, **a)
    return path


def png_bytes(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(w=48, h=32):
    """uint8 (h, w) horizontal ramp 0..255."""
    return np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))


from realdata import REAL_DIR, needs_real  # noqa: E402


# --------------------------------------------------------------------------- #
# where PneumoniaMNIST is found, and in which order
# --------------------------------------------------------------------------- #


def test_explicit_data_dir(clean_data_env, tmp_path):
    path = write_npz(tmp_path / "mine")
    ds = load_pneumoniamnist(28, tmp_path / "mine")
    assert ds.is_real and ds.name == "PneumoniaMNIST" and ds.source == str(path)
    assert (
        ds["train"].images.shape == (6, 28, 28) and ds["train"].images.dtype == np.uint8
    )
    assert ds["train"].labels.shape == (6,) and ds["train"].labels.dtype == np.uint8
    assert ds.notice == "" and ds.image_size == 28
    assert ds.counts() == {
        "train": {"normal": 3, "pneumonia": 3},
        "val": {"normal": 1, "pneumonia": 1},
        "test": {"normal": 2, "pneumonia": 1},
    }


def test_data_dir_may_be_the_file_itself(clean_data_env, tmp_path):
    path = write_npz(tmp_path, name="renamed.npz")
    assert load_pneumoniamnist(28, path).source == str(path)


def test_precedence_data_dir_then_env_then_cache(clean_data_env, tmp_path, monkeypatch):
    explicit = write_npz(tmp_path / "explicit", n=(4, 2, 2))
    env = write_npz(tmp_path / "env", n=(6, 2, 2))
    cached = write_npz(clean_data_env, n=(8, 2, 2))
    monkeypatch.setenv("CNNGUIDE_DATA", str(env.parent))

    assert load_pneumoniamnist(28, explicit.parent).source == str(explicit)
    assert load_pneumoniamnist(28).source == str(env)
    # an explicit folder without the file falls through to the next place
    assert load_pneumoniamnist(28, tmp_path / "nowhere").source == str(env)
    monkeypatch.delenv("CNNGUIDE_DATA")
    ds = load_pneumoniamnist(28)
    assert ds.source == str(cached) and len(ds["train"]) == 8
    cached.unlink()
    with pytest.raises(DataNotFoundError):
        load_pneumoniamnist(28)


def test_sizes_use_medmnist_file_names(clean_data_env, tmp_path):
    for size in (28, 64):
        write_npz(tmp_path, size=size)
    assert load_pneumoniamnist(64, tmp_path).source.endswith("pneumoniamnist_64.npz")
    assert load_pneumoniamnist(64, tmp_path)["test"].images.shape == (3, 64, 64)
    assert data.pneumoniamnist_filename(224) == "pneumoniamnist_224.npz"
    assert data.pneumoniamnist_url(128).endswith(
        "/10519652/files/pneumoniamnist_128.npz?download=1"
    )
    with pytest.raises(ValueError, match="size=32"):
        load_pneumoniamnist(32, tmp_path)


def test_cache_dir_env_override(clean_data_env, monkeypatch):
    assert data.cache_dir() == clean_data_env
    monkeypatch.delenv("CNNGUIDE_CACHE")
    assert data.cache_dir().name == "cnnguide"


def test_not_found_offline_says_where_and_how(clean_data_env, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNGUIDE_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataNotFoundError) as info:
        load_pneumoniamnist(28, tmp_path / "missing")
    msg = str(info.value)
    assert str(tmp_path / "missing") in msg and str(tmp_path / "empty") in msg
    assert str(clean_data_env) in msg
    assert "CNNGUIDE_OFFLINE=1" in msg and "CNNGUIDE_DATA" in msg
    assert (
        "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1" in msg
    )
    assert not clean_data_env.exists()  # nothing was written


# --------------------------------------------------------------------------- #
# broken npz files
# --------------------------------------------------------------------------- #


def _truncated(folder):
    path = write_npz(folder)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def _zero_bytes(folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pneumoniamnist.npz"
    path.write_bytes(b"")
    return path


def _text(folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pneumoniamnist.npz"
    path.write_text("<html>404 not found</html>")
    return path


def _npy(folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pneumoniamnist.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 28, 28), np.uint8))
    return path


def _missing_keys(folder):
    folder.mkdir(parents=True, exist_ok=True)
    a = make_arrays()
    del a["val_labels"]
    path = folder / "pneumoniamnist.npz"
    np.savez(path, **a)
    return path


BAD_NPZ = {
    "truncated": (_truncated, "truncated or not a valid"),
    "zero bytes": (_zero_bytes, "truncated or not a valid"),
    "text": (_text, "truncated or not a valid"),
    "single npy": (_npy, "single .npy"),
    "missing keys": (_missing_keys, "lacks the PneumoniaMNIST keys"),
    "wrong shape": (
        lambda f: write_npz(f, train_images=np.zeros((6, 28, 27), np.uint8)),
        r"shape \(6, 28, 27\)",
    ),
    "wrong size": (
        lambda f: write_npz(f, name="pneumoniamnist.npz", size=64),
        "load it with size=64",
    ),
    "wrong dtype": (
        lambda f: write_npz(f, val_images=np.zeros((2, 28, 28), np.float32)),
        "dtype float32, expected uint8",
    ),
    "labels outside 0/1": (
        lambda f: write_npz(f, test_labels=np.array([[0], [1], [2]], np.uint8)),
        r"values \[2\] outside",
    ),
    "float labels": (
        lambda f: write_npz(f, test_labels=np.array([0.0, 1.0, 0.5])),
        "expected integers",
    ),
    "mismatched lengths": (
        lambda f: write_npz(f, train_labels=np.zeros((5, 1), np.uint8)),
        "6 images but 5 labels",
    ),
    "labels 2-D wide": (
        lambda f: write_npz(f, train_labels=np.zeros((6, 2), np.uint8)),
        r"shape \(6, 2\)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_bad_npz_gives_one_clear_error(clean_data_env, tmp_path, case):
    make, pattern = BAD_NPZ[case]
    path = make(tmp_path / "d")
    with pytest.raises(CorruptDataError, match=pattern) as info:
        load_pneumoniamnist(28, tmp_path / "d")
    msg = str(info.value)
    assert str(path) in msg and "Delete" in msg and "download it again" in msg
    # a broken file is never silently replaced by phantoms
    with pytest.raises(CorruptDataError):
        load_dataset(28, tmp_path / "d")


def test_labels_flat_accepted_and_converted(clean_data_env, tmp_path):
    write_npz(tmp_path, train_labels=np.array([0, 1, 1, 0, 1, 1], np.int64))
    labels = load_pneumoniamnist(28, tmp_path)["train"].labels
    assert labels.dtype == np.uint8 and labels.tolist() == [0, 1, 1, 0, 1, 1]


def test_error_hierarchy():
    for cls in (DataNotFoundError, CorruptDataError, ImageError):
        assert issubclass(cls, DataError)
    assert issubclass(DataNotFoundError, FileNotFoundError)
    assert issubclass(CorruptDataError, ValueError)


# --------------------------------------------------------------------------- #
# load_dataset: real or phantoms
# --------------------------------------------------------------------------- #


def test_load_dataset_prefers_real(clean_data_env, tmp_path):
    write_npz(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhantomDataWarning)
        ds = load_dataset(28, tmp_path)
    assert ds.is_real and ds.notice == ""


def test_load_dataset_falls_back_to_phantoms_with_notice(clean_data_env):
    with pytest.warns(PhantomDataWarning, match="NOT CHEST X-RAYS") as record:
        ds = load_dataset(28, n_phantoms=48, seed=3)
    assert len([w for w in record if issubclass(w.category, PhantomDataWarning)]) == 1
    assert ds.is_real is False and ds.name == "Synthetic chest phantoms"
    assert ds.source == "synthetic (seed=3)"
    for phrase in ("SYNTHETIC PHANTOMS", "NOT results", "CNNGUIDE_DATA", "zenodo.org"):
        assert phrase in ds.notice
    assert {k: len(v) for k, v in ds.splits.items()} == {
        "train": 34,
        "val": 6,
        "test": 8,
    }
    for split in ds.splits.values():
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (28, 28)
        assert split.labels.dtype == np.uint8 and set(np.unique(split.labels)) <= {0, 1}
        assert split.masks is not None and split.masks.shape == split.images.shape
        # lesions only on pneumonia images
        assert not split.masks[split.labels == 0].any()
    frac = ds["train"].labels.mean()
    assert 0.6 <= frac <= 0.85
    # banner: amber, says what it is
    page = ds._repr_html_()
    assert (
        "SYNTHETIC PHANTOMS" in page
        and "#b35c00" in page
        and "NOT CHEST X-RAYS" in page
    )
    assert "SYNTHETIC PHANTOMS" in repr(ds)


def test_phantoms_repeatable_and_seeded(clean_data_env):
    with pytest.warns(PhantomDataWarning):
        a = load_dataset(28, n_phantoms={"train": 8, "val": 4, "test": 4}, seed=1)
        b = load_dataset(28, n_phantoms={"train": 8, "val": 4, "test": 4}, seed=1)
        c = load_dataset(28, n_phantoms={"train": 8, "val": 4, "test": 4}, seed=2)
    np.testing.assert_array_equal(a["train"].images, b["train"].images)
    assert not np.array_equal(a["train"].images, c["train"].images)
    # each call gets its own arrays: changing one leaves the next call intact
    keep = a["train"].images.copy()
    a["train"].images[:] = 0
    with pytest.warns(PhantomDataWarning):
        d = load_dataset(28, n_phantoms={"train": 8, "val": 4, "test": 4}, seed=1)
    np.testing.assert_array_equal(d["train"].images, keep)
    # splits get different seeds, so they are not copies of each other
    assert not np.array_equal(a["val"].images, a["test"].images)


def test_phantoms_refused_when_not_allowed(clean_data_env):
    with pytest.raises(DataNotFoundError, match="not found"):
        load_dataset(28, allow_phantoms=False)


@pytest.mark.parametrize("bad", [5, {"train": 1, "val": 2, "test": 2}, "many", True])
def test_bad_phantom_counts(clean_data_env, bad):
    with pytest.raises(ValueError, match="n_phantoms"):
        load_dataset(28, n_phantoms=bad)


# --------------------------------------------------------------------------- #
# containers
# --------------------------------------------------------------------------- #


def test_split_as_float():
    u8 = Split(np.array([[[0, 255], [51, 102]]], np.uint8), np.array([1], np.uint8))
    x = u8.as_float()
    assert x.shape == (1, 2, 2, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :, 0], [[0, 1], [0.2, 0.4]], atol=1e-7)
    f = Split(
        np.array([[[0.0, 1.0], [0.5, 0.25]]], np.float64), np.array([0], np.uint8)
    )
    y = f.as_float()
    assert y.shape == (1, 2, 2, 1) and y.dtype == np.float32
    np.testing.assert_allclose(y[0, :, :, 0], [[0, 1], [0.5, 0.25]])


def test_split_checks_shapes():
    with pytest.raises(ValueError, match="labels"):
        Split(np.zeros((3, 4, 4), np.uint8), np.zeros((2,), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        Split(np.zeros((3, 4, 4, 1), np.uint8), np.zeros((3,), np.uint8))


def test_dataset_repr_and_getitem(clean_data_env, tmp_path):
    write_npz(tmp_path)
    ds = load_pneumoniamnist(28, tmp_path)
    assert ds["val"] is ds.val and ds.train is ds.splits["train"]
    with pytest.raises(KeyError, match="No split 'validation'"):
        ds["validation"]
    text = repr(ds)
    assert (
        "PneumoniaMNIST" in text and "train: 6 images (3 normal, 3 pneumonia)" in text
    )
    assert "10.1016/j.cell.2018.02.010" in text and "10.1038/s41597-022-01721-8" in text
    page = ds._repr_html_()
    assert "#1b6e3a" in page and "CC BY 4.0" in page and "SYNTHETIC" not in page


# --------------------------------------------------------------------------- #
# real data
# --------------------------------------------------------------------------- #


@needs_real
def test_real_pneumoniamnist_counts(monkeypatch):
    monkeypatch.setenv("CNNGUIDE_DATA", str(REAL_DIR))
    ds = load_dataset(28)
    assert ds.is_real and ds.notice == ""
    shapes = {k: v.images.shape for k, v in ds.splits.items()}
    assert shapes == {
        "train": (4708, 28, 28),
        "val": (524, 28, 28),
        "test": (624, 28, 28),
    }
    assert ds.counts() == {
        "train": {"normal": 1214, "pneumonia": 3494},
        "val": {"normal": 135, "pneumonia": 389},
        "test": {"normal": 234, "pneumonia": 390},
    }
    x = ds["test"].as_float()
    assert x.shape == (624, 28, 28, 1) and 0.0 <= x.min() and x.max() <= 1.0


# --------------------------------------------------------------------------- #
# single images
# --------------------------------------------------------------------------- #

MODES = [
    ("L", "PNG"),
    ("RGB", "PNG"),
    ("RGBA", "PNG"),
    ("I;16", "PNG"),
    ("P", "PNG"),
    ("LA", "PNG"),
    ("1", "PNG"),
    ("L", "JPEG"),
    ("RGB", "JPEG"),
    ("CMYK", "JPEG"),
]


def _image_in_mode(mode):
    g = gradient()
    if mode == "I;16":
        return Image.fromarray(g.astype(np.uint16) * 257)  # 0..65535
    base = Image.fromarray(g)
    if mode == "P":
        return base.convert("RGB").convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=256
        )
    return base.convert(mode)


@pytest.mark.parametrize("mode,fmt", MODES)
@pytest.mark.parametrize("as_bytes", [True, False])
def test_every_mode_loads_as_grey_float(tmp_path, mode, fmt, as_bytes):
    im = _image_in_mode(mode)
    raw = png_bytes(im, fmt)
    assert Image.open(io.BytesIO(raw)).mode == mode
    if as_bytes:
        source = raw
    else:
        source = tmp_path / f"x.{fmt.lower()}"
        source.write_bytes(raw)
    full = load_image(source)
    assert full.shape == (32, 48) and full.dtype == np.float32
    assert 0.0 <= full.min() and full.max() <= 1.0
    if mode != "1":  # a ramp: dark on the left, bright on the right
        tol = 0.03 if fmt == "PNG" else 0.06
        np.testing.assert_allclose(full[:, 0], 0.0, atol=tol)
        np.testing.assert_allclose(full[:, -1], 1.0, atol=tol)
        np.testing.assert_allclose(full[16], np.linspace(0, 1, 48), atol=tol + 0.02)
    small = load_image(source, size=16)
    assert small.shape == (16, 16) and small.dtype == np.float32
    assert 0.0 <= small.min() and small.max() <= 1.0


def test_16_bit_keeps_its_range():
    values = np.array([[0, 256, 1000, 32768, 65535]], np.uint16).repeat(3, axis=0)
    x = load_image(png_bytes(Image.fromarray(values)))
    np.testing.assert_allclose(x[0], values[0] / 65535.0, rtol=1e-6, atol=1e-7)
    # distinct above 255: not clipped the way Image.convert("L") clips
    assert len(np.unique(x[0])) == 5


def test_resize_takes_centre_square():
    a = np.zeros((20, 60), np.uint8)
    a[:, 20:40] = 255  # the centre square is all white
    x = load_image(png_bytes(Image.fromarray(a)), size=10)
    assert x.shape == (10, 10)
    np.testing.assert_allclose(x, 1.0, atol=1e-6)


def test_exif_orientation_applied():
    im = Image.fromarray(gradient(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    x = load_image(png_bytes(im, "JPEG", exif=exif))
    assert x.shape == (40, 20)


def test_colour_photo_refused_unless_allowed():
    rng = np.random.default_rng(0)
    hues = rng.integers(0, 256, (48, 48, 1), dtype=np.uint8)
    photo = np.concatenate([hues, 255 - hues, np.full_like(hues, 40)], axis=-1)
    raw = png_bytes(Image.fromarray(photo, "RGB"))
    with pytest.raises(
        ImageError, match="looks like a colour photograph, not a chest X-ray"
    ):
        load_image(raw)
    assert load_image(raw, allow_colour=True).shape == (48, 48)
    # a grey radiograph saved as RGB passes
    grey = png_bytes(Image.fromarray(gradient()).convert("RGB"), "JPEG")
    assert load_image(grey).shape == (32, 48)


def _bomb_png(width=100_000, height=100_000):
    """A tiny PNG whose header declares width x height pixels."""
    raw = png_bytes(Image.new("L", (1, 1)))
    ihdr = bytearray(raw[16:29])  # IHDR data: width, height, depth, ...
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return raw[:16] + bytes(ihdr) + crc + raw[33:]


def _truncated_jpeg():
    raw = png_bytes(
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)),
        "JPEG",
    )
    return raw[: len(raw) // 2]


BAD_IMAGES = {
    "text renamed .png": (b"this is not an image\n", "not a PNG or JPEG image"),
    "zero bytes": (b"", "zero"),
    "truncated jpeg": (_truncated_jpeg(), "corrupt or truncated"),
    "decompression bomb": (_bomb_png(), "decompression bombs"),
    "gif": (png_bytes(Image.new("L", (4, 4)), "GIF"), "not a PNG or JPEG"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image_files(tmp_path, case):
    raw, pattern = BAD_IMAGES[case]
    path = tmp_path / "bad.png"
    path.write_bytes(raw)
    with pytest.raises(ImageError, match=pattern) as info:
        load_image(path)
    assert str(path) in str(info.value)
    if raw:
        with pytest.raises(ImageError, match=pattern):
            load_image(raw)


def test_pixel_limit_is_a_parameter():
    raw = png_bytes(Image.new("L", (100, 100)))
    assert load_image(raw).shape == (100, 100)
    with pytest.raises(ImageError, match="10,000 pixels"):
        load_image(raw, max_pixels=9_999)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="load_image_folder"):
        load_image(tmp_path)
    with pytest.raises(TypeError, match="path or bytes"):
        load_image(np.zeros((3, 3)))


# --------------------------------------------------------------------------- #
# image folders
# --------------------------------------------------------------------------- #


def _save(path, im, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt)


def make_folder(root, splits=("train", "val", "test"), per_class=2, names=None):
    """root/<split>/<class>/imgK.png; names maps canonical -> spelled names."""
    names = names or {}
    for s in splits:
        for k, cls in enumerate(("normal", "pneumonia")):
            for i in range(per_class):
                value = 60 + 120 * k + i
                ext = "jpeg" if i % 2 else "png"
                folder = root / names.get(s, s) / names.get(cls, cls)
                _save(folder / f"img{i}.{ext}", Image.new("L", (40, 30), value))
    return root


def test_folder_any_case_and_hidden_files(tmp_path):
    root = make_folder(
        tmp_path / "xr",
        names={
            "train": "TRAIN",
            "test": "Test",
            "normal": "NORMAL",
            "pneumonia": "Pneumonia",
        },
    )
    (root / "TRAIN" / "NORMAL" / ".DS_Store").write_bytes(b"\0\0junk")
    (root / ".DS_Store").write_bytes(b"junk")
    ds = load_image_folder(root, size=16)
    assert ds.is_real and ds.notice == "" and ds.skipped == () and ds.image_size == 16
    assert ds.counts() == {
        s: {"normal": 2, "pneumonia": 2} for s in ("train", "val", "test")
    }
    x = ds["train"]
    assert x.images.shape == (4, 16, 16) and x.images.dtype == np.float32
    assert x.labels.tolist() == [0, 0, 1, 1]
    # the class brightness survives (normal 60/255, pneumonia 180/255)
    np.testing.assert_allclose(x.images[0], 60 / 255, atol=0.02)
    np.testing.assert_allclose(x.images[2], 180 / 255, atol=0.02)
    assert x.as_float().shape == (4, 16, 16, 1)


def test_folder_kermany_layout_nested(tmp_path):
    make_folder(
        tmp_path / "download" / "chest_xray",
        names={"normal": "NORMAL", "pneumonia": "PNEUMONIA"},
    )
    (tmp_path / "download" / "__MACOSX").mkdir()
    ds = load_image_folder(tmp_path / "download", size=8)
    assert ds.source == str(tmp_path / "download" / "chest_xray")
    assert "10.1016/j.cell.2018.02.010" in ds.citation
    assert len(ds["test"]) == 4


def test_folder_without_val_takes_it_from_train(tmp_path):
    root = make_folder(tmp_path / "xr", splits=("train", "test"), per_class=10)
    ds = load_image_folder(root, size=8)
    assert ds.counts()["val"] == {"normal": 1, "pneumonia": 1}
    assert ds.counts()["train"] == {"normal": 9, "pneumonia": 9}
    assert "No val folder" in ds.notice


@pytest.mark.parametrize(
    "breakage,error,pattern",
    [
        ("no test", DataNotFoundError, "expected layout"),
        ("flat", DataNotFoundError, "expected layout"),
        ("missing class", DataNotFoundError, "no 'pneumonia' folder"),
        ("empty class", DataNotFoundError, "no usable images"),
        ("extra class", DataError, "besides normal/ and pneumonia/"),
        ("no root", DataNotFoundError, "no such folder"),
    ],
)
def test_folder_layout_errors(tmp_path, breakage, error, pattern):
    root = tmp_path / "xr"
    if breakage == "no test":
        make_folder(root, splits=("train", "val"))
    elif breakage == "flat":
        _save(root / "a.png", Image.new("L", (8, 8)))
    else:
        make_folder(root)
    import shutil

    if breakage == "missing class":
        shutil.rmtree(root / "val" / "pneumonia")
    elif breakage == "empty class":
        shutil.rmtree(root / "test" / "normal")
        (root / "test" / "normal").mkdir()
        (root / "test" / "normal" / ".DS_Store").write_bytes(b"x")
    elif breakage == "extra class":
        _save(root / "train" / "covid" / "a.png", Image.new("L", (8, 8)))
    elif breakage == "no root":
        root = tmp_path / "absent"
    with pytest.raises(error, match=pattern) as info:
        load_image_folder(root, size=8)
    assert str(root) in str(info.value)


def _spoil(root):
    bad = root / "train" / "pneumonia"
    (bad / "notes.txt").write_text("hello")
    (bad / "fake.png").write_text("not an image")
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "cut.jpeg").write_bytes(_truncated_jpeg())
    (bad / "huge.png").write_bytes(_bomb_png())
    return bad


@pytest.mark.parametrize(
    "name", ["notes.txt", "fake.png", "empty.jpg", "cut.jpeg", "huge.png"]
)
def test_folder_bad_file_raises_naming_it(tmp_path, name):
    root = make_folder(tmp_path / "xr")
    bad = root / "train" / "pneumonia"
    target = _spoil(root) / name
    for other in bad.iterdir():  # leave only the one bad file plus the good ones
        if other != target and other.name not in ("img0.png", "img1.jpeg"):
            other.unlink()
    with pytest.raises(ImageError) as info:
        load_image_folder(root, size=8)
    assert str(target) in str(info.value)


def test_folder_skip_mode_reports(tmp_path):
    root = make_folder(tmp_path / "xr")
    _spoil(root)
    _save(root / "train" / "covid" / "a.png", Image.new("L", (8, 8)))
    with pytest.warns(UserWarning, match="skipped 6 file"):
        ds = load_image_folder(root, size=8, on_error="skip")
    skipped = dict(ds.skipped)
    assert len(skipped) == 6
    assert (
        "not an image file" in skipped[str(root / "train" / "pneumonia" / "notes.txt")]
    )
    assert "decompression" in skipped[str(root / "train" / "pneumonia" / "huge.png")]
    assert "unexpected folder" in skipped[str(root / "train" / "covid")]
    assert ds.counts()["train"] == {"normal": 2, "pneumonia": 2}
    assert "skipped" in repr(ds)


def test_folder_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="on_error"):
        load_image_folder(tmp_path, on_error="ignore")


def test_folder_colour_photo_named(tmp_path):
    root = make_folder(tmp_path / "xr")
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 0] = 220
    target = root / "test" / "normal" / "holiday.jpg"
    _save(target, Image.fromarray(rgb, "RGB"))
    with pytest.raises(ImageError, match="colour photograph") as info:
        load_image_folder(root, size=8)
    assert str(target) in str(info.value)


def test_docstring_examples():
    result = doctest.testmod(data, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_dataset_built_by_hand():
    split = Split(np.zeros((2, 5, 5), np.uint8), np.array([0, 1], np.uint8))
    ds = Dataset("toy", {"train": split, "val": split, "test": split}, source="memory")
    assert ds.image_size == 5 and ds.class_names == ("normal", "pneumonia")
    assert ds.counts()["val"] == {"normal": 1, "pneumonia": 1}
    with pytest.raises(ValueError, match="lack"):
        Dataset("toy", {"train": split})


# --------------------------------------------------------------------------- #
# locate: where the data would be found, without reading it
# --------------------------------------------------------------------------- #


def test_locate_reports_every_place_in_order(clean_data_env, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    where = data.locate(28, empty)
    assert not where.found and where.path is None
    assert [w.split(" ")[0].rstrip(":") for w in where.looked] == [
        "data_dir",
        "CNNGUIDE_DATA",
        "user",
        "download",
    ]
    assert "download: not tried" in where.looked[-1]
    assert "CNNGUIDE_DATA" in where.how_to_get and "not found" in str(where)

    path = write_npz(tmp_path / "env")
    monkeypatch.setenv("CNNGUIDE_DATA", str(path.parent))
    where = data.locate(28, empty)
    assert where.found and where.path == path
    assert where.looked[-1].endswith(": found") and len(where.looked) == 2
    # the file locate names is the one load_pneumoniamnist reads
    assert load_pneumoniamnist(28, empty).source == str(path)
    with pytest.raises(ValueError, match="size"):
        data.locate(30)


def test_phantom_splits_have_the_real_splits_pneumonia_shares(monkeypatch, tmp_path):
    from cnnguide.data import PNEUMONIA_FRACTIONS, PhantomDataWarning, load_dataset

    monkeypatch.setenv("CNNGUIDE_DATA", str(tmp_path))  # empty: phantoms
    monkeypatch.setenv("CNNGUIDE_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.warns(PhantomDataWarning):
        ds = load_dataset(28, n_phantoms={"train": 400, "val": 100, "test": 400})
    assert not ds.is_real
    for split in ("train", "val", "test"):
        share = ds[split].labels.mean()
        assert share == pytest.approx(PNEUMONIA_FRACTIONS[split], abs=0.01)
    assert PNEUMONIA_FRACTIONS["test"] == pytest.approx(390 / 624, abs=1e-3)
