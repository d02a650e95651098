"""Duplicates across splits, grouping by patient, and too-small images."""

import io

import numpy as np
import pytest
from PIL import Image

from cnnguide.data import (
    ImageError,
    find_duplicates,
    load_dataset,
    load_image,
    load_image_folder,
    patient_id,
)
from cnnguide.data.duplicates import perceptual_hash
from realdata import REAL_DIR, needs_real


def _images(n, seed=0, side=28):
    rng = np.random.default_rng(seed)
    # smooth random images (like X-rays, unlike white noise)
    small = rng.integers(0, 256, (n, 7, 7)).astype(np.uint8)
    return np.stack(
        [
            np.asarray(Image.fromarray(s).resize((side, side), Image.BILINEAR))
            for s in small
        ]
    )


def test_exact_duplicates_within_and_across():
    train = _images(20)
    train[7] = train[2]
    train[15] = train[2]
    train[9] = train[4]
    val = np.concatenate([train[[4, 2]], _images(3, seed=1)])
    assert find_duplicates(train) == [[2, 7, 15], [4, 9]]
    assert find_duplicates(train, val) == [(2, 1), (4, 0), (7, 1), (9, 0), (15, 1)]
    assert find_duplicates(_images(10, seed=2)) == []


def test_near_duplicates_survive_brightness_and_noise_not_other_images():
    train = _images(30)
    rng = np.random.default_rng(5)
    changed = np.clip(
        train[[3, 11]].astype(int) + 12 + rng.integers(-3, 4, (2, 28, 28)), 0, 255
    ).astype(np.uint8)
    assert find_duplicates(train, changed) == []  # not byte-identical
    assert find_duplicates(train, changed, near=True) == [(3, 0), (11, 1)]
    codes = perceptual_hash(train)
    assert codes.dtype == np.uint64 and len(set(codes.tolist())) == 30


def test_bad_arguments():
    with pytest.raises(ValueError, match="greyscale"):
        find_duplicates(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="0 to 64"):
        find_duplicates(np.zeros((2, 4, 4), np.uint8), near=True, threshold=65)


@needs_real
def test_real_pneumoniamnist_duplicates(monkeypatch):
    """The numbers the training chapter reports: 18 duplicate groups in train
    (36 images), 8 validation images byte-identical to training images, none
    in test."""
    monkeypatch.setenv("CNNGUIDE_DATA", str(REAL_DIR))
    ds = load_dataset(28)
    assert ds.is_real
    groups = find_duplicates(ds.train.images)
    assert len(groups) == 18 and sum(map(len, groups)) == 36
    val_pairs = find_duplicates(ds.train.images, ds.val.images)
    assert len({j for _, j in val_pairs}) == 8
    assert find_duplicates(ds.train.images, ds.test.images) == []
    for i, j in val_pairs:
        assert np.array_equal(ds.train.images[i], ds.val.images[j])


# ----------------------------------------------------------- patients


def test_patient_id_parses_kermany_names():
    assert patient_id("person1017_bacteria_2948.jpeg") == "person1017"
    assert patient_id("PERSON3_VIRUS_15.JPEG") == "person3"
    assert patient_id("IM-0115-0001.jpeg") == "IM-0115"
    assert patient_id("NORMAL2-IM-1427-0001.jpeg") == "NORMAL2-IM-1427"
    assert patient_id("IM-0115.jpeg") is None and patient_id("x.png") is None


def _write(folder, name, value):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 32), value, np.uint8)).save(folder / name)


def _kermany(root, *, with_patients=True):
    """train/ with several images per patient; test/ small; no val/."""
    value = 0
    for p in range(12):
        for k in range(3):
            value += 1
            name = f"person{p}_bacteria_{k}.jpeg" if with_patients else f"p{value}.png"
            _write(root / "train" / "PNEUMONIA", name.replace(".jpeg", ".png"), value)
    for p in range(10):
        for k in range(2):
            value += 1
            name = f"IM-{p:04d}-{k:04d}.png" if with_patients else f"n{value}.png"
            _write(root / "train" / "NORMAL", name, value)
    for cls in ("NORMAL", "PNEUMONIA"):
        for k in range(2):
            value += 1
            _write(root / "test" / cls, f"t{k}.png", value)
    return root


def _pixel_patients(split, per_value):
    return {per_value[int(v)] for v in np.round(split.images[:, 0, 0] * 255)}


def test_validation_split_keeps_each_patient_on_one_side(tmp_path):
    root = _kermany(tmp_path / "chest_xray")
    # each image's constant value identifies its file, hence its patient
    per_value, value = {}, 0
    for p in range(12):
        for _ in range(3):
            value += 1
            per_value[value] = f"person{p}"
    for p in range(10):
        for _ in range(2):
            value += 1
            per_value[value] = f"IM-{p:04d}"
    ds = load_image_folder(root, size=32, val_fraction=0.25)
    train_p, val_p = (
        _pixel_patients(ds.train, per_value),
        _pixel_patients(ds.val, per_value),
    )
    assert val_p and train_p and not (train_p & val_p)
    assert set(np.unique(ds.val.labels)) == {0, 1}  # stratified: both classes
    assert len(ds.train) + len(ds.val) == 56
    assert "by patient (22 patients parsed from 56 file names)" in ds.notice


def test_validation_split_without_patients_falls_back_with_a_notice(tmp_path):
    root = _kermany(tmp_path / "xrays", with_patients=False)
    ds = load_image_folder(root, size=32, val_fraction=0.25)
    assert "image by image (the file names carry no patient)" in ds.notice
    assert len(ds.train) + len(ds.val) == 56 and len(ds.val) > 0


# ----------------------------------------------------------- too small


def _png(w, h):
    buf = io.BytesIO()
    Image.new("L", (w, h), 128).save(buf, "PNG")
    return buf.getvalue()


def test_image_smaller_than_the_model_input_is_refused(tmp_path):
    path = tmp_path / "dot.png"
    path.write_bytes(_png(1, 1))
    with pytest.raises(ImageError, match=r"dot\.png is 1x1 pixels.*at least 28 pixels"):
        load_image(path, size=28)
    with pytest.raises(ImageError, match=r"upload\.png is 40x20 .*at least 28"):
        load_image(_png(40, 20), size=28, name="upload.png")
    assert load_image(_png(28, 40), size=28).shape == (28, 28)
    assert load_image(path).shape == (1, 1)  # no size asked: nothing to enlarge


def test_service_refuses_a_tiny_upload_with_its_name():
    from cnnguide.deploy.service import read_upload

    with pytest.raises(ImageError, match=r"tiny\.png is 1x1 pixels.*28"):
        read_upload(_png(1, 1), 28, filename="tiny.png")
