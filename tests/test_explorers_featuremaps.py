"""cnnguide.explorers.featuremaps, Python side: quantised maps, FeatureMapExplorer's
controls and checks, the static twin. What the page computes:
test_explorers_featuremaps_browser.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import traitlets  # noqa: E402

from cnnguide.explorers.featuremaps import (  # noqa: E402
    MAX_BYTES,
    FeatureMapExplorer,
    featuremap_small_multiples,
    quantize_maps,
)


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv": rng.normal(size=(12, 10, 4)),
        "pool": rng.random((6, 5, 2)),
        "dense": rng.random(16),
    }


def test_quantize_maps_within_half_a_level():
    maps = _maps()
    maps["flat"] = np.full((3, 3, 1), 2.5)  # a constant channel
    layers, data = quantize_maps(maps)
    assert [d["name"] for d in layers] == ["conv", "pool", "flat"]
    assert len(data) == 12 * 10 * 4 + 6 * 5 * 2 + 9
    ex = FeatureMapExplorer(maps)
    for d in layers:
        m = maps[d["name"]]
        for c in range(d["c"]):
            shown = ex.dequantized(d["name"], c)
            span = m[..., c].max() - m[..., c].min()
            assert np.abs(shown - m[..., c]).max() <= span / 510 + 1e-12
            assert shown.min() == pytest.approx(m[..., c].min(), abs=1e-12)
            assert shown.max() == pytest.approx(m[..., c].max(), abs=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        quantize_maps({"bad": np.full((2, 2, 1), np.nan)})


def test_featuremap_explorer_controls_and_checks():
    ex = FeatureMapExplorer(_maps(), channel=3)
    assert ex.layer_names == ["conv", "pool"] and ex.layer == "conv"
    assert ex.controls["channel"].max == 3 and ex.shown_channel() == 3
    ex.layer = "pool"
    assert ex.layer_index == 1 and ex.controls["layer"].value == "pool"
    assert ex.shown_channel() == 1  # pool has two channels: the page shows the last
    ex.view = "channel"
    assert ex.view_index == 1
    ex.layer_index = 0  # what the page's link sets
    assert ex.layer == "conv"
    with pytest.raises(traitlets.TraitError, match="choose one of"):
        ex.layer = "dense"
    with pytest.raises(traitlets.TraitError, match="out of range"):
        ex.channel = 4
    with pytest.raises(ValueError, match="at least one"):
        FeatureMapExplorer({"dense": np.zeros(4)})
    with pytest.raises(ValueError, match="fewer layers"):
        FeatureMapExplorer({"big": np.zeros((1, 1, MAX_BYTES + 1))})


def test_featuremap_small_multiples():
    fig = featuremap_small_multiples(_maps(), n_channels=2, image=np.zeros((12, 10)))
    assert len([ax for ax in fig.axes if ax.images]) == 1 + 2 * 2
    plt.close(fig)
