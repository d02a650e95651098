"""Tests for cnnguide.neuron: the artificial neuron and its schematic figure."""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnguide import neuron
from cnnguide.neuron import artificial_neuron, draw_neuron_analogy, step


def test_doctests():
    result = doctest.testmod(neuron)
    assert result.attempted >= 3 and result.failed == 0


def test_weighted_sum_plus_bias_by_hand():
    z, y = artificial_neuron([0.8, 0.2, 0.5], [0.9, -0.4, 0.3], b=-0.2)
    assert z == pytest.approx(0.8 * 0.9 - 0.2 * 0.4 + 0.5 * 0.3 - 0.2)
    assert y == z  # identity activation by default


def test_activation_is_applied_and_batches_work():
    x = np.array([[1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]])
    z, y = artificial_neuron(
        x, [1.0, 2.0], b=0.5, activation=lambda v: 1 / (1 + np.exp(-v))
    )
    np.testing.assert_allclose(z, [3.5, -2.5, 0.5])
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-z)))
    assert y.shape == (3,)


def test_bias_moves_the_switching_point():
    x = np.linspace(-2, 2, 401)[:, None]
    for b in (-1.0, 0.0, 1.0):
        _, fired = artificial_neuron(x, [1.0], b=b, activation=step)
        first_on = x[np.argmax(fired > 0), 0]
        assert first_on == pytest.approx(-b, abs=0.011)


def test_mismatched_inputs_raise():
    with pytest.raises(ValueError, match="one weight per input"):
        artificial_neuron([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="vector"):
        artificial_neuron([1.0], [[1.0]])


def test_figure_shows_the_computed_output():
    fig = draw_neuron_analogy(
        x=(1.0, 0.0), w=(2.0, 5.0), b=-1.0, activation=step, activation_name="step"
    )
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert "y = 1.00" in texts
    assert any("z = 1.00" in t for t in texts)
    plt.close(fig)
