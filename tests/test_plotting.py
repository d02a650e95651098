import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from cnnguide.plotting import show_images


def test_grid_shape_and_titles():
    images = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    fig = show_images(images, [f"image {i}" for i in range(5)], ncols=3)
    assert len(fig.axes) == 6  # 2 rows of 3, the last panel blank
    assert [ax.get_title() for ax in fig.axes[:5]] == [f"image {i}" for i in range(5)]
    assert not fig.axes[5].images
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(), images[4])


def test_channel_axis_of_one_is_dropped():
    fig = show_images([np.zeros((6, 6, 1), dtype=np.float32)])
    assert fig.axes[0].images[0].get_array().shape == (6, 6)


def test_mismatched_titles_are_refused():
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        show_images([np.zeros((2, 2))] * 2, ["only one"])
