"""cnnguide.explorers.pooling, Python side: PoolingExplorer (traits, links to its
controls, bad input), its NumPy reference and its static small multiples. What the
page computes: test_explorers_pooling_browser.py."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import traitlets

from cnnguide.explorers import PoolingExplorer, pooling_small_multiples
from cnnguide.ops import pool2d
from explorer_helpers import close_figures, image_fixture  # noqa: F401


def test_pooling_explorer_and_its_reference(image):
    ramp = np.arange(16, dtype=np.uint8).reshape(4, 4) * 17  # pixels k / 15
    state = PoolingExplorer(ramp).reference()
    assert (state["pooled"] * 15).round().tolist() == [[5.0, 7.0], [13.0, 15.0]]
    assert state["global_average"] == pytest.approx(0.5)
    ex = PoolingExplorer(image)
    assert (ex.mode, ex.size, ex.stride, ex.padding) == ("max", 2, 2, "valid")
    np.testing.assert_array_equal(
        ex.reference()["pooled"], pool2d(ex.images_as(np.float64)[ex.image], 2)
    )
    ex.mode = "average"
    assert ex.controls["mode"].value == "average" and ex.mode_index == 1
    np.testing.assert_allclose(
        ex.reference()["pooled"], pool2d(image, 2, mode="average"), atol=3e-3
    )
    ex.size, ex.stride, ex.padding = 3, 3, "same"
    assert ex.reference()["shape"] == (22, 22)
    ex.mode, ex.row = "max", 21
    ref = ex.reference()
    assert ref["pooled"].max() == 1.0
    assert ref["window"] == (62, -1, 3, 3)  # one padded pixel on each side
    assert np.isclose(ref["global_average"], ex.image_array.mean())
    assert PoolingExplorer(image, mode="avg").mode == "average"


def test_pooling_explorer_refuses_bad_settings(image):
    ex = PoolingExplorer(image)
    for name, value in [
        ("size", 0),
        ("size", 17),
        ("stride", 0),
        ("mode", "min"),
        ("padding", 1),
    ]:
        with pytest.raises(traitlets.TraitError):
            setattr(ex, name, value)
    with pytest.raises(ValueError, match="greyscale"):
        PoolingExplorer(np.zeros((8, 8, 3)))


def test_pooling_small_multiples(image):
    fig = pooling_small_multiples(image, sizes=(2, 8))
    assert len(fig.axes) == 8
    assert fig.axes[2].get_title() == "max 8x8\n→ 8x8"
    assert fig.axes[3].get_title() == "global average\n→ 1x1"
