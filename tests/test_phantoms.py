"""Tests for cnnguide.data.phantoms: shapes, ground truth, anatomy and determinism."""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy import ndimage  # noqa: E402
from scipy.signal import find_peaks  # noqa: E402

from cnnguide.data import phantoms  # noqa: E402
from cnnguide.data.phantoms import (  # noqa: E402
    LOBAR_THRESHOLD,
    PhantomBatch,
    describe,
    make_phantom,
    make_phantoms,
    show_with_mask,
)


@pytest.fixture(scope="module")
def batch128():
    return make_phantoms(48, size=128, seed=7)


@pytest.fixture(scope="module")
def normals128():
    return make_phantoms(12, size=128, seed=11, pneumonia_fraction=0.0)


# --- shapes and types --------------------------------------------------------


@pytest.mark.parametrize("size", [16, 28, 64, 128, 224])
def test_shapes_and_dtypes(size):
    n = 4 if size == 224 else 6
    b = make_phantoms(n, size=size, seed=0)
    assert isinstance(b, PhantomBatch) and len(b) == n
    assert b.images.shape == (n, size, size) and b.images.dtype == np.uint8
    assert b.masks.shape == (n, size, size) and b.masks.dtype == bool
    assert b.lung_masks.shape == (n, size, size) and b.lung_masks.dtype == np.uint8
    assert b.lobe_masks.shape == (n, size, size) and b.lobe_masks.dtype == np.uint8
    assert b.labels.shape == (n,) and b.labels.dtype == np.uint8
    assert b.affected_fraction.shape == (n,) and b.affected_fraction.dtype == np.float32
    assert b.subtypes.shape == (n,)
    assert set(b.subtypes.tolist()) <= {"normal", "lobar", "bronchopneumonia"}
    # a radiograph uses most of the grey range
    assert b.images.min() < 40 and b.images.max() > 200


def test_empty_batch():
    b = make_phantoms(0, size=32)
    assert b.images.shape == (0, 32, 32) and b.labels.shape == (0,)


# --- ground truth ------------------------------------------------------------


def test_labels_agree_with_masks_and_subtypes(batch128):
    b = batch128
    has_lesion = b.masks.any(axis=(1, 2))
    np.testing.assert_array_equal(has_lesion, b.labels == 1)
    np.testing.assert_array_equal(b.subtypes == "normal", b.labels == 0)
    assert np.all(b.affected_fraction[b.labels == 0] == 0)
    assert np.all(b.affected_fraction[b.labels == 1] > 0)


def test_masks_lie_inside_the_lungs(batch128):
    assert not (batch128.masks & (batch128.lung_masks == 0)).any()


def test_lobar_covers_a_third_of_the_lung_and_bronchopneumonia_less(batch128):
    b = batch128
    lobar = b.subtypes == "lobar"
    broncho = b.subtypes == "bronchopneumonia"
    assert lobar.sum() >= 5 and broncho.sum() >= 5
    assert np.all(b.affected_fraction[lobar] >= LOBAR_THRESHOLD)
    assert np.median(b.affected_fraction[broncho]) < LOBAR_THRESHOLD


def test_affected_fraction_is_lesion_share_of_affected_lungs(batch128):
    b = batch128
    for i in np.flatnonzero(b.labels == 1):
        lungs_hit = np.unique(b.lung_masks[i][b.masks[i]])
        lung_px = np.isin(b.lung_masks[i], lungs_hit).sum()
        assert b.affected_fraction[i] == pytest.approx(
            b.masks[i].sum() / lung_px, rel=1e-5
        )


def test_lobar_mask_is_whole_lobes_of_one_lung(batch128):
    b = batch128
    for i in np.flatnonzero(b.subtypes == "lobar"):
        lobes = np.unique(b.lobe_masks[i][b.masks[i]])
        assert set(lobes.tolist()) <= {1, 2, 3} or set(lobes.tolist()) <= {4, 5}
        # every pixel of a chosen lobe is in the mask
        np.testing.assert_array_equal(np.isin(b.lobe_masks[i], lobes), b.masks[i])


def test_lung_and_lobe_maps_agree(batch128):
    b = batch128
    expected = np.select([b.lobe_masks == 0, b.lobe_masks <= 3], [0, 1], 2)
    np.testing.assert_array_equal(b.lung_masks, expected)
    for i in range(len(b)):
        assert set(np.unique(b.lobe_masks[i]).tolist()) == {0, 1, 2, 3, 4, 5}


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 1.0])
def test_pneumonia_fraction_is_exact(fraction):
    n = 21
    b = make_phantoms(n, size=24, seed=1, pneumonia_fraction=fraction)
    assert int(b.labels.sum()) == round(n * fraction)


def test_pneumonia_cases_are_shuffled():
    b = make_phantoms(40, size=24, seed=2, pneumonia_fraction=0.5)
    assert b.labels.sum() == 20
    assert not np.all(b.labels[:20] == 1) and not np.all(b.labels[:20] == 0)


def test_subtypes_argument_restricts_the_draw():
    b = make_phantoms(10, size=32, seed=0, pneumonia_fraction=1.0, subtypes=("lobar",))
    assert set(b.subtypes.tolist()) == {"lobar"}
    b = make_phantoms(
        10, size=32, seed=0, pneumonia_fraction=1.0, subtypes="bronchopneumonia"
    )
    assert set(b.subtypes.tolist()) == {"bronchopneumonia"}


@given(
    seed=st.integers(0, 2**31 - 1),
    size=st.integers(16, 40),
    n=st.integers(0, 5),
    fraction=st.floats(0.0, 1.0),
)
@settings(max_examples=15, deadline=None)
def test_invariants_hold_for_any_seed_and_size(seed, size, n, fraction):
    b = make_phantoms(n, size=size, seed=seed, pneumonia_fraction=fraction)
    assert b.images.shape == (n, size, size)
    assert int(b.labels.sum()) == round(n * fraction)
    np.testing.assert_array_equal(b.masks.any(axis=(1, 2)), b.labels == 1)
    assert not (b.masks & (b.lung_masks == 0)).any()
    assert np.all(b.affected_fraction[b.subtypes == "lobar"] >= LOBAR_THRESHOLD)


# --- anatomy and film ----------------------------------------------------------


def test_radiological_convention(normals128):
    b = normals128
    cols = np.arange(128)
    for i in range(len(b)):
        right, left = b.lung_masks[i] == 1, b.lung_masks[i] == 2
        # the patient's right lung is drawn on the viewer's left
        assert (
            (cols * right).sum() / right.sum() < 64 < (cols * left).sum() / left.sum()
        )
        # the heart takes room from the left lung
        assert left.sum() < right.sum()


def test_right_dome_is_higher(normals128):
    # the deepest point of each lung (its costophrenic angle) follows its dome; a
    # small random rotation tilts single patients, so compare on average
    rows = np.arange(128)[:, None]
    depth = {
        lung: [(rows * (m == lung)).max() for m in normals128.lung_masks]
        for lung in (1, 2)
    }
    difference = np.array(depth[2]) - np.array(depth[1])  # > 0: left dome lower
    assert difference.mean() > 1.0


def test_polarity_air_dark_bone_and_mediastinum_bright(normals128):
    b = normals128
    for img, lungs in zip(b.images, b.lung_masks):
        img = img.astype(float)
        lung_mean = img[lungs > 0].mean()
        assert img[:8, :8].mean() < lung_mean  # air outside the patient
        centre = img[40:90, 58:70].mean()  # spine and mediastinum
        assert centre > lung_mean + 40


def test_sobel_finds_the_lung_border(normals128):
    ratios = []
    for img, lungs in zip(normals128.images, normals128.lung_masks):
        img = img.astype(np.float32)
        magnitude = np.hypot(ndimage.sobel(img, 0), ndimage.sobel(img, 1))
        lung = lungs > 0
        border = lung & ~ndimage.binary_erosion(lung)
        inside = ndimage.binary_erosion(lung, iterations=4)
        ratios.append(magnitude[border].mean() / magnitude[inside].mean())
    assert min(ratios) > 1.2
    assert np.mean(ratios) > 1.4


def test_ribs_make_periodic_bands_down_the_lung(normals128):
    for img, lungs in zip(normals128.images, normals128.lung_masks):
        lung = lungs == 1
        c = int(np.flatnonzero(lung.any(axis=0)).mean())
        rows = np.flatnonzero(lung[:, c])
        profile = img[rows[0] : rows[-1] + 1, c - 1 : c + 2].astype(float).mean(axis=1)
        peaks, _ = find_peaks(ndimage.uniform_filter1d(profile, 3), prominence=3)
        assert 4 <= len(peaks) <= 12
        # roughly regular spacing, as ribs are
        gaps = np.diff(peaks)
        assert gaps.min() >= 4 and gaps.max() <= 4 * gaps.min()


def test_lesions_make_the_lung_brighter():
    for seed, subtype in [
        (3, "lobar"),
        (4, "lobar"),
        (5, "bronchopneumonia"),
        (6, "bronchopneumonia"),
    ]:
        sick = make_phantom(128, seed=seed, subtype=subtype)
        healthy = make_phantom(128, seed=seed, subtype="normal")
        # same patient anatomy: the lungs agree
        np.testing.assert_array_equal(sick.lung_masks, healthy.lung_masks)
        m = sick.masks[0]
        gain = sick.images[0][m].mean() - healthy.images[0][m].mean()
        assert gain > 15, (seed, subtype, gain)


# --- determinism ---------------------------------------------------------------


def test_same_seed_same_arrays_different_seed_different():
    a = make_phantoms(6, size=64, seed=5)
    b = make_phantoms(6, size=64, seed=5)
    c = make_phantoms(6, size=64, seed=6)
    for field in (
        "images",
        "labels",
        "masks",
        "subtypes",
        "affected_fraction",
        "lung_masks",
        "lobe_masks",
    ):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.images, c.images)


def test_images_within_a_batch_differ():
    b = make_phantoms(5, size=64, seed=0, pneumonia_fraction=0.0)
    flat = b.images.reshape(5, -1).astype(int)
    assert all(np.abs(flat[i] - flat[j]).mean() > 3 for i in range(5) for j in range(i))


# --- argument checks -------------------------------------------------------------


def test_unknown_subtype_names_the_valid_ones():
    with pytest.raises(ValueError, match="lobar.*bronchopneumonia"):
        make_phantoms(4, subtypes=("lobar", "viral"))
    with pytest.raises(ValueError, match="empty"):
        make_phantoms(4, subtypes=())
    with pytest.raises(ValueError, match="normal.*lobar.*bronchopneumonia"):
        make_phantom(subtype="covid")


@pytest.mark.parametrize("size", [0, 8, 15])
def test_too_small_size_is_refused(size):
    with pytest.raises(ValueError, match="size >= 16"):
        make_phantoms(2, size=size)
    with pytest.raises(ValueError, match="size >= 16"):
        make_phantom(size)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": -1},
        {"n": 2, "pneumonia_fraction": 1.5},
        {"n": 2, "pneumonia_fraction": -0.1},
    ],
)
def test_bad_counts_and_fractions_are_refused(kwargs):
    with pytest.raises(ValueError):
        make_phantoms(**kwargs)


def test_non_integer_size_is_refused():
    with pytest.raises(TypeError, match="size"):
        make_phantoms(2, size=64.0)


# --- describe and plotting -------------------------------------------------------


def test_describe():
    assert describe(make_phantom(64, seed=0), 0) == "phantom #0, 64x64: normal"
    lobar = make_phantom(64, seed=1, subtype="lobar")
    text = describe(lobar, 0)
    assert text.startswith("phantom #0, 64x64: lobar pneumonia, ")
    assert "lobe" in text
    assert f"{100 * lobar.affected_fraction[0]:.0f} %" in text
    broncho = describe(make_phantom(64, seed=1, subtype="bronchopneumonia"), -1)
    assert "bronchopneumonia" in broncho and "patches" in broncho
    with pytest.raises(IndexError):
        describe(lobar, 1)
    assert "PhantomBatch(n=1" in repr(lobar)


def test_show_with_mask_draws_an_outline():
    one = make_phantom(64, seed=2, subtype="lobar")
    fig, ax = plt.subplots()
    out = show_with_mask(one.images[0], one.masks[0], ax=ax, title="t")
    assert out is ax and ax.get_title() == "t"
    assert len(ax.images) == 1
    assert (
        any(c.__class__.__name__.endswith("ContourSet") for c in ax.get_children())
        or ax.collections
    )
    plt.close(fig)
    fig, ax = plt.subplots()
    show_with_mask(one.images[0], np.zeros((64, 64), bool), ax=ax)
    assert not ax.collections  # nothing to outline
    plt.close(fig)
    with pytest.raises(ValueError, match="same shape|one shape"):
        show_with_mask(one.images[0], one.masks[0][:10])


def test_docstring_examples_run():
    result = doctest.testmod(phantoms, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


# --- exposure control and a second family (chapter 11) -----------------------


def _brightness_auc(batch):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(batch.labels, batch.images.mean(axis=(1, 2)))


def test_exposure_control_removes_the_brightness_shortcut():
    kwargs = dict(pneumonia_fraction=0.5, subtypes="lobar", seed=5)
    plain = make_phantoms(400, 32, **kwargs)
    controlled = make_phantoms(400, 32, exposure_control=True, **kwargs)
    assert _brightness_auc(plain) > 0.58  # lobar lesions brighten the whole film
    assert abs(_brightness_auc(controlled) - 0.5) < 0.05
    # the same patients and lesions, only the exposure differs
    np.testing.assert_array_equal(plain.masks, controlled.masks)
    np.testing.assert_array_equal(plain.labels, controlled.labels)
    assert abs(plain.images.mean() - controlled.images.mean()) < 8  # same overall level


def test_defaults_are_unchanged_by_the_new_options():
    a = make_phantoms(6, 32, seed=2)
    b = make_phantoms(
        6,
        32,
        seed=2,
        body_scale=(0.86, 1.02),
        blob_radius=(0.06, 0.12),
        exposure_control=False,
    )
    np.testing.assert_array_equal(a.images, b.images)


def test_second_family_differs_in_body_size_and_patch_size():
    small = make_phantoms(30, 64, seed=9, body_scale=(0.70, 0.80), subtypes="lobar")
    large = make_phantoms(30, 64, seed=9, body_scale=(1.02, 1.10), subtypes="lobar")
    assert (small.lung_masks > 0).mean() < (large.lung_masks > 0).mean()
    kw = dict(seed=9, pneumonia_fraction=1.0, subtypes="bronchopneumonia")
    fine = make_phantoms(30, 64, blob_radius=(0.04, 0.06), **kw)
    coarse = make_phantoms(30, 64, blob_radius=(0.12, 0.16), **kw)
    assert fine.masks.mean() < coarse.masks.mean()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"body_scale": (1.0, 0.9)}, "body_scale"),
        ({"body_scale": 0.9}, "pair"),
        ({"blob_radius": (0.0, 0.1)}, "blob_radius"),
    ],
)
def test_bad_family_options_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_phantoms(4, 32, **kwargs)


def test_show_lobes_colours_each_lobe_and_names_the_sides():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnguide.data.phantoms import LOBE_NAMES, make_phantom, show_lobes

    one = make_phantom(64, seed=2)
    fig = show_lobes(one.images[0], one.lobe_masks[0])
    plain, lobes = fig.axes
    assert len(plain.images) == 1 and len(lobes.images) == 2  # film + lobe overlay
    assert [t.get_text() for t in lobes.get_legend().get_texts()] == [
        LOBE_NAMES[k] for k in range(1, 6)
    ]
    assert "patient's right" in plain.get_xlabel()
    plt.close(fig)
