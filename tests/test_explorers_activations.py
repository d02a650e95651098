"""cnnguide.explorers.activations, Python side: the NumPy reference, ActivationExplorer's
traits and controls, the static twin. What the page computes:
test_explorers_activations_browser.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import traitlets  # noqa: E402

from cnnguide import activations as A  # noqa: E402
from cnnguide.activations import curve
from cnnguide.explorers.activations import (  # noqa: E402
    FUNCTIONS,
    ActivationExplorer,
    activation_small_multiples,
)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_activation_values_are_the_numpy_reference(name):
    v = curve(name, alpha=0.3, beta=2.0, x_max=4.0, n_points=81)
    np.testing.assert_array_equal(v["x"], np.linspace(-4, 4, 81))
    if name in ("leaky_relu", "prelu", "elu"):
        want = getattr(A, name)(v["x"], 0.3), getattr(A, f"{name}_grad")(v["x"], 0.3)
    elif name == "swish":
        want = A.swish(v["x"], 2.0), A.swish_grad(v["x"], 2.0)
    else:
        want = getattr(A, name)(v["x"]), getattr(A, f"{name}_grad")(v["x"])
    np.testing.assert_array_equal(v["y"], want[0])
    np.testing.assert_array_equal(v["dy"], want[1])


def test_activation_explorer_traits_drive_controls_and_reference():
    ex = ActivationExplorer("elu", alpha=0.5)
    assert ex.function_index == FUNCTIONS.index("elu")
    assert ex.controls["function"].value == "elu"
    # never disabled: in the page a disabled slider could not be re-enabled
    assert not ex.controls["alpha"].disabled and not ex.controls["beta"].disabled
    ex.function = "swish"
    assert ex.function_index == FUNCTIONS.index("swish")
    assert ex.controls["function"].value == "swish"
    ex.beta = 2.5
    assert ex.controls["beta"].value == 2.5
    np.testing.assert_array_equal(
        ex.reference()["y"], A.swish(np.linspace(-5, 5, 401), 2.5)
    )
    ex.function_index = FUNCTIONS.index("relu")  # what the page's link sets
    assert ex.function == "relu"
    with pytest.raises(traitlets.TraitError, match="choose one of"):
        ex.function = "gelu"
    with pytest.raises(ValueError, match="choose one of"):
        curve("softmax")


def test_activation_small_multiples():
    fig = activation_small_multiples()
    assert len(fig.axes) == len(A.ACTIVATIONS)
    plt.close(fig)
