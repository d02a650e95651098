"""cnnguide.explorers.stride_padding, Python side: the window walk, StridePaddingExplorer
(traits, links to its controls, bad input), its NumPy reference and its static small
multiples. What the page computes: test_explorers_stride_padding_browser.py."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import traitlets

from cnnguide.explorers import (
    StridePaddingExplorer,
    stride_padding_small_multiples,
    window_walk_picture,
)
from cnnguide.ops import conv2d, output_size
from explorer_helpers import close_figures, image_fixture  # noqa: F401


@pytest.mark.parametrize(
    "n,k,stride,padding,expected",
    [
        (7, 3, 1, "valid", 5),
        (7, 3, 2, "valid", 3),
        (7, 3, 2, "same", 4),
        (8, 3, 3, "same", 3),
        (6, 4, 2, 1, 3),
    ],
)
def test_window_walk_counts_match_the_formula(n, k, stride, padding, expected):
    walk = window_walk_picture(n, k, stride, padding, cell=5)
    assert walk["out"] == expected == output_size(n, k, stride, padding)
    assert walk["centres"].shape == (expected * expected, 2)
    (top, bottom), (left, right) = walk["pads"]
    assert walk["picture"].shape == ((n + top + bottom) * 5, (n + left + right) * 5, 3)


def test_window_walk_refuses_a_window_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        window_walk_picture(3, 5, 1, "valid")


def test_stride_padding_explorer_and_its_reference(image):
    same = StridePaddingExplorer(image, n=7, k=3, stride=2, padding="same")
    state = same.reference()
    assert state["formula"] == state["produced"] == 4
    assert state["formula_text"] == "ceil(7/2) = 4"
    assert state["feature_map"].shape == (32, 32)
    ex = StridePaddingExplorer(image, n=7, k=3)
    assert (ex.n, ex.k, ex.stride, ex.padding, ex.step) == (7, 3, 1, "valid", 0)
    ref = ex.reference()
    assert (ref["formula"], ref["produced"]) == (5, 5)
    assert ref["formula_text"] == "floor((7 + 2*0 - 3)/1) + 1 = 5"
    ex.stride = 2
    assert ex.controls["stride"].value == 2
    assert (ex.reference()["formula"], ex.reference()["feature_map"].shape) == (
        3,
        (31, 31),
    )
    ex.padding = 2
    assert ex.padding_index == 3 and ex.controls["padding"].value == 2
    ref = ex.reference()
    assert ref["pads"] == ((2, 2), (2, 2)) and ref["formula"] == ref["produced"] == 5
    ex.step = 5
    assert ex.reference()["walk"]["window"][:2] == (0, 2 * 12)  # row 1, col 0
    np.testing.assert_allclose(
        ex.reference()["feature_map"],
        conv2d(ex.image_array, np.full((3, 3), 1 / 9, np.float32), 2, 2),
        atol=1e-6,
    )


def test_stride_padding_explorer_refuses_bad_settings(image):
    ex = StridePaddingExplorer(image)
    for name, value in [
        ("n", 2),
        ("n", 13),
        ("k", 0),
        ("k", 8),
        ("stride", 5),
        ("padding", 3),
        ("padding", True),
        ("step", -1),
    ]:
        with pytest.raises(traitlets.TraitError):
            setattr(ex, name, value)


def test_stride_padding_small_multiples():
    fig = stride_padding_small_multiples(7, 3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "stride 1, valid\nformula 5, produced 5"
    assert titles[3] == "stride 2, same\nformula 4, produced 4"
