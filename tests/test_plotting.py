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


def test_signed_maps_are_centred_on_zero_with_a_colour_bar():
    from cnnguide.plotting import SIGNED_CMAP, show_signed

    values = np.array([[-0.5, 0.0], [2.0, 1.0]])
    image = show_signed(values, label="response")
    low, high = image.get_clim()
    assert (low, high) == (-2.0, 2.0)
    assert image.norm(0.0) == 0.5  # zero is the middle colour ...
    assert image.get_cmap().name == SIGNED_CMAP
    middle = np.array(image.get_cmap()(0.5)[:3])
    assert np.all(middle > 0.95)  # ... and that colour is (near) white
    fig = image.axes.figure
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "response"


def test_signed_maps_keep_a_given_limit_and_refuse_bad_input():
    from cnnguide.plotting import show_signed

    image = show_signed(np.array([[-5.0, 1.0]]), limit=2.0, colorbar=False)
    assert image.get_clim() == (-2.0, 2.0)
    assert len(image.axes.figure.axes) == 1
    with pytest.raises(ValueError, match=r"one \(H, W\) map"):
        show_signed(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="limit must be positive"):
        show_signed(np.zeros((2, 2)), limit=0)
    assert show_signed(np.zeros((2, 2))).get_clim() == (-1.0, 1.0)


def test_signed_grids_share_one_centred_range_and_one_colour_bar():
    fig = show_images(
        [np.array([[-1.0, 0.2]]), np.array([[3.0, -0.1]])], signed=True, label="w"
    )
    clims = [ax.images[0].get_clim() for ax in fig.axes if ax.images]
    assert clims == [(-3.0, 3.0), (-3.0, 3.0)]
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "w"]
    assert len(bars) == 1


def test_no_chapter_picks_a_diverging_map_by_hand():
    """One helper draws every signed map: the chapters' visible code names no
    diverging colour map (nor limits it by hand); they call show_signed,
    show_images(signed=True) or show_pixel_values(signed=True)."""
    import json
    import re
    from pathlib import Path

    diverging = re.compile(r"""cmap\s*=\s*["'](coolwarm|bwr|seismic|RdBu|PiYG|PRGn)""")
    found = []
    for path in sorted(Path(__file__).parents[1].glob("notebooks/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and diverging.search(
                "".join(cell["source"])
            ):
                found.append(f"{path.name} {cell['id']}")
    assert found == []
