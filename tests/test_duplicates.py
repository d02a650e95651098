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
from cnnguide.data.duplicates import (
    COPY_TRANSFORMS,
    copies_between_splits,
    copy_similarity,
    near_copy_study,
)
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


def test_near_copies_survive_shift_exposure_and_noise_not_other_images():
    train = _images(30)
    rng = np.random.default_rng(5)
    changed = np.clip(
        train[[3, 11]].astype(int) + 12 + rng.integers(-3, 4, (2, 28, 28)), 0, 255
    ).astype(np.uint8)
    changed[1] = np.roll(changed[1], (1, -2), axis=(0, 1))  # and moved
    assert find_duplicates(train, changed) == []  # not byte-identical
    assert find_duplicates(train, changed, near=True) == [(3, 0), (11, 1)]
    sim = copy_similarity(train, train)
    assert np.allclose(np.diag(sim), 1.0, atol=1e-5)
    assert sim[~np.eye(30, dtype=bool)].max() < 0.97  # different images stay apart
    assert find_duplicates(train, near=True) == []


def test_copy_similarity_is_one_for_a_shift_and_flat_images_match_nothing():
    a = _images(1)
    assert copy_similarity(a, np.roll(a, 2, axis=1))[0, 0] > 0.999
    assert copy_similarity(a, np.roll(a, 3, axis=1))[0, 0] < 0.999  # beyond MAX_SHIFT
    flat = np.full((1, 28, 28), 90, np.uint8)
    assert copy_similarity(flat, a)[0, 0] == 0.0


def test_every_copy_transform_keeps_shape_and_dtype():
    im = _images(1)[0]
    rng = np.random.default_rng(0)
    for name, transform in COPY_TRANSFORMS.items():
        out = transform(im, rng)
        assert out.shape == im.shape and out.dtype == np.uint8, name
        assert not np.array_equal(out, im), name  # each one changes the film


def test_near_copy_study_finds_copies_and_no_different_films():
    films, labels = _images(80, seed=3), np.arange(80) % 2
    study = near_copy_study(films, labels, n=40, seed=1)
    assert 0 < study["threshold"] <= 1
    assert study["false_alarm"]["different labels"] <= 0.01
    assert study["detection"]["exposure"] == 1.0 and study["detection"]["jpeg"] == 1.0
    assert set(study["held_out"]) == {"zoom", "noise"}
    assert len(study["similarity"]["nearest neighbours"]) == 40
    # a planted byte copy is a copy, not a hard negative
    films[1] = films[0]
    again = near_copy_study(films, labels, n=80, seed=1)
    assert again["similarity"]["nearest neighbours"].max() < 0.999
    with pytest.raises(ValueError, match="unknown transforms"):
        near_copy_study(films, labels, held_out=("rotate",))


def test_copies_between_splits_counts_every_pair():
    a = _images(6)
    b = np.stack(
        [a[0], np.clip(a[1] * 0.9 + 9, 0, 255).astype(np.uint8), _images(1, 9)[0]]
    )
    c = np.stack([b[2]])
    rows = copies_between_splits({"train": a, "val": b, "test": c})
    assert [(r["pair"], r["exact"], r["near"], r["images"]) for r in rows] == [
        ("train - val", 1, 2, 3),
        ("train - test", 0, 0, 1),
        ("val - test", 1, 1, 1),
    ]


def test_bad_arguments():
    with pytest.raises(ValueError, match="greyscale"):
        find_duplicates(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="at most 1"):
        find_duplicates(np.zeros((2, 4, 4), np.uint8), near=True, threshold=65)
    with pytest.raises(ValueError, match="one size"):
        copy_similarity(np.zeros((1, 8, 8)), np.zeros((1, 9, 9)))


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
    # near copies: the exact 8 and a few more in validation, none in test
    rows = {
        r["pair"]: r
        for r in copies_between_splits(
            {k: ds[k].images for k in ("train", "val", "test")}
        )
    }
    assert 8 <= rows["train - val"]["near"] < 30
    assert rows["train - test"]["near"] == rows["val - test"]["near"] == 0
    study = near_copy_study(ds.train.images, ds.train.labels, seed=0)
    assert abs(study["threshold"] - 0.97) < 0.01
    assert study["false_alarm"]["different labels"] == 0.0
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
