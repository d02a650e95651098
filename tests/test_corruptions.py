"""The shifted copy of a split: corruptions, severities, seeds, bad input."""

import numpy as np
import pytest

from cnnguide import metrics
from cnnguide.corruptions import SEVERITIES, corrupt, shifted_copy
from cnnguide.data.phantoms import make_phantoms


@pytest.fixture(scope="module")
def films():
    return make_phantoms(24, 28, seed=3).images  # (24, 28, 28) uint8


def _change(a, b):
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_each_corruption_changes_films_more_at_each_severity(films, name):
    changes = [_change(films, corrupt(films, name, s, seed=0)) for s in range(1, 6)]
    assert changes[0] > 0, name
    assert all(b > a for a, b in zip(changes, changes[1:])), (name, changes)


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_films_keep_shape_dtype_and_the_input_is_not_changed(films, name):
    before = films.copy()
    out = corrupt(films[..., None], name, 3, seed=1)
    assert out.shape == films[..., None].shape and out.dtype == np.uint8
    np.testing.assert_array_equal(films, before)


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_a_seed_repeats_its_corruption(films, name):
    np.testing.assert_array_equal(
        corrupt(films, name, 4, seed=7), corrupt(films, name, 4, seed=7)
    )


def test_the_random_corruptions_follow_the_seed(films):
    for name in ("gamma", "brightness", "noise", "affine"):
        assert not np.array_equal(
            corrupt(films, name, 4, seed=1), corrupt(films, name, 4, seed=2)
        ), name


def test_contrast_keeps_each_films_mean_and_narrows_its_spread(films):
    out = corrupt(films, "contrast", 5).astype(float)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), films.mean(axis=(1, 2)), atol=1.0)
    assert (out.std(axis=(1, 2)) < films.std(axis=(1, 2))).all()


def test_affine_leaves_no_black_frame():
    flat = np.full((3, 28, 28), 180, np.uint8)
    out = corrupt(flat, "affine", 5, seed=0)
    assert out.min() == 180  # the border repeats the edge, it is not filled with 0


def test_float_films_in_unit_range_give_the_same_result(films):
    np.testing.assert_array_equal(
        corrupt(films / 255.0, "blur", 2), corrupt(films, "blur", 2)
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("glare", 1), "unknown corruption 'glare'"),
        (("noise", 0), "severity must be 1 to 5"),
        (("noise", 6), "severity must be 1 to 5"),
    ],
)
def test_bad_arguments_say_what_to_pass(films, args, message):
    with pytest.raises(ValueError, match=message):
        corrupt(films, *args)


def test_bad_films_say_what_to_pass(films):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corrupt(films.astype(np.float32), "noise", 1)  # 0-255 floats
    with pytest.raises(ValueError, match="add an axis"):
        corrupt(films[0], "noise", 1)
    with pytest.raises(ValueError, match="uint8 or float"):
        corrupt(films.astype(np.int64), "noise", 1)


def test_shifted_copy_draws_every_corruption_and_keeps_the_order(films):
    many = np.concatenate([films] * 10)  # 240 films
    out, record = shifted_copy(many, seed=0)
    assert out.shape == many.shape and out.dtype == np.uint8
    assert set(record["corruption"]) == set(SEVERITIES)
    assert set(record["severity"]) == {1, 2, 3, 4, 5}
    # film i is film i, corrupted by what the record says
    i = 17
    name, level = record["corruption"][i], record["severity"][i]
    assert _change(out[i], many[i]) > 0
    assert _change(out[i], many[i]) < _change(out[i], many[(i + 1) % len(many)]), (
        "a corrupted film is closest to its own original"
    )
    assert name in SEVERITIES and 1 <= level <= 5


def test_shifted_copy_is_reproducible_and_limited_to_the_levels_asked(films):
    a, ra = shifted_copy(films, severities=(2, 3), names=["blur", "noise"], seed=5)
    b, rb = shifted_copy(films, severities=(2, 3), names=["blur", "noise"], seed=5)
    np.testing.assert_array_equal(a, b)
    assert set(ra["severity"]) <= {2, 3}
    assert set(ra["corruption"]) <= {"blur", "noise"}
    with pytest.raises(ValueError, match="severities must be 1 to 5"):
        shifted_copy(films, severities=(0, 1))
    with pytest.raises(ValueError, match="unknown corruption"):
        shifted_copy(films, names=["glare"])


def test_accuracy_at_prevalence_reweighs_recall_and_specificity():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.7).astype(int)
    s = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    m = metrics.binary_metrics(y, s, 0.5)
    # at the split's own prevalence it is the plain accuracy
    assert metrics.accuracy_at_prevalence(y, s, 0.5, y.mean()) == pytest.approx(
        m["accuracy"]
    )
    assert metrics.accuracy_at_prevalence(y, s, 0.5, 1.0) == pytest.approx(m["recall"])
    assert metrics.accuracy_at_prevalence(y, s, 0.5, 0.0) == pytest.approx(
        m["specificity"]
    )
    with pytest.raises(ValueError, match="prevalence"):
        metrics.accuracy_at_prevalence(y, s, 0.5, 1.5)
