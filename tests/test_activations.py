"""Tests for cnnguide.activations: NumPy functions against Keras and finite differences."""

import numpy as np
import pytest

from cnnguide import activations as A

X = np.linspace(-6, 6, 241)
X_NO_KINK = X[
    np.abs(X) > 1e-3
]  # finite differences are undefined at the kink of ReLU-likes


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.mark.parametrize(
    "name, keras_name, kwargs",
    [
        ("sigmoid", "sigmoid", {}),
        ("tanh", "tanh", {}),
        ("relu", "relu", {}),
        ("elu", "elu", {}),
        ("swish", "silu", {}),
    ],
)
def test_matches_keras_activations(keras, name, keras_name, kwargs):
    ours = A.get_activation(name).fn(X)
    theirs = np.asarray(
        getattr(keras.activations, keras_name)(X.astype(np.float32), **kwargs)
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.01, 0.2, 0.5])
def test_leaky_relu_matches_keras(keras, alpha):
    theirs = np.asarray(
        keras.activations.leaky_relu(X.astype(np.float32), negative_slope=alpha)
    )
    np.testing.assert_allclose(A.leaky_relu(X, alpha), theirs, atol=1e-6)


def test_prelu_matches_keras_layer_with_given_alpha(keras):
    alpha = np.array([0.1, 0.25, 0.7], dtype=np.float32)
    layer = keras.layers.PReLU(shared_axes=[1])
    x = np.random.default_rng(0).normal(size=(5, 4, 3)).astype(np.float32)
    layer.build(x.shape)
    layer.alpha.assign(np.broadcast_to(alpha, (1, 3)))
    np.testing.assert_allclose(A.prelu(x, alpha), np.asarray(layer(x)), atol=1e-6)


def test_softmax_matches_keras_and_sums_to_one(keras):
    logits = np.random.default_rng(1).normal(0, 3, size=(20, 5))
    p = A.softmax(logits)
    np.testing.assert_allclose(
        p, np.asarray(keras.activations.softmax(logits.astype(np.float32))), atol=1e-6
    )
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)


def test_softmax_is_stable_for_large_logits():
    p = A.softmax(np.array([[1000.0, 999.0, -1000.0], [-1e4, -1e4, -1e4]]))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    np.testing.assert_allclose(p[0, :2], [1 / (1 + np.exp(-1)), 1 / (1 + np.e)])
    np.testing.assert_allclose(p[1], 1 / 3)


def test_softmax_jacobian_matches_finite_differences():
    z = np.array([0.3, -1.2, 2.0])
    eps = 1e-6
    numeric = np.stack(
        [
            (A.softmax(z + eps * e) - A.softmax(z - eps * e)) / (2 * eps)
            for e in np.eye(3)
        ],
        axis=1,
    )
    np.testing.assert_allclose(A.softmax_jacobian(z), numeric, atol=1e-8)
    with pytest.raises(ValueError, match="one vector"):
        A.softmax_jacobian(np.zeros((2, 2)))


@pytest.mark.parametrize("name", [n for n in A.ACTIVATIONS if n != "softmax"])
@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_derivatives_match_finite_differences(name, alpha):
    act = A.get_activation(name)
    kwargs = {"alpha": alpha} if act.uses_alpha else {}
    numeric = A.numerical_grad(lambda v: act.fn(v, **kwargs), X_NO_KINK)
    np.testing.assert_allclose(act.grad(X_NO_KINK, **kwargs), numeric, atol=1e-6)


def test_derivatives_match_gradient_tape(keras):
    import tensorflow as tf

    x = tf.constant(X_NO_KINK, dtype=tf.float64)
    for ours, theirs in [
        (A.sigmoid_grad, tf.sigmoid),
        (A.tanh_grad, tf.tanh),
        (A.relu_grad, tf.nn.relu),
        (A.swish_grad, tf.nn.silu),
    ]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = theirs(x)
        np.testing.assert_allclose(
            ours(X_NO_KINK), tape.gradient(y, x).numpy(), atol=1e-9
        )


def test_sigmoid_has_no_overflow_and_open_range():
    with np.errstate(over="raise"):
        s = A.sigmoid(np.array([-800.0, -30.0, 30.0, 800.0]))
    assert np.all((s >= 0) & (s <= 1))
    assert 0 < A.sigmoid(-30.0) < 1e-12 and A.sigmoid(30.0) < 1


def test_relu_gradient_is_zero_for_negative_inputs():
    assert np.all(A.relu_grad(X[X < 0]) == 0)
    assert np.all(A.leaky_relu_grad(X[X < 0], 0.1) == 0.1)


def test_properties_table_corrects_the_source_ranges():
    t = A.properties_table()
    assert 0 < t.loc["sigmoid", "min"] < 1e-8 and 1 - 1e-8 < t.loc["sigmoid", "max"] < 1
    # tanh(20) rounds to 1.0 in float64; the open range shows at moderate x.
    assert t.loc["tanh", "min"] >= -1 and t.loc["tanh", "max"] <= 1 and A.tanh(5.0) < 1
    assert t.loc["sigmoid", "max slope"] == pytest.approx(0.25, abs=1e-6)
    assert t.loc["tanh", "max slope"] == pytest.approx(1.0, abs=1e-6)
    assert t.loc["relu", "dead for x<0"] and not t.loc["leaky_relu", "dead for x<0"]
    assert t.loc["swish", "min"] == pytest.approx(
        A.ACTIVATIONS["swish"].lower, abs=1e-6
    )
    assert t.loc["elu", "smooth at 0"] and not t.loc["relu", "smooth at 0"]
    for name, act in A.ACTIVATIONS.items():
        assert (
            act.lower <= t.loc[name, "min"] + 1e-9 and t.loc[name, "max"] <= act.upper
        )


def test_unknown_activation_names_the_choices():
    with pytest.raises(KeyError, match="choose one of"):
        A.get_activation("gelu")


def test_gradient_norms_vanish_in_a_sigmoid_stack_not_relu():
    rng = np.random.default_rng(0)
    x = rng.random((64, 32), dtype=np.float32)
    y = rng.integers(0, 2, 64)
    sig = A.gradient_norms_per_layer(x, y, "sigmoid", depth=8)
    rel = A.gradient_norms_per_layer(x, y, "relu", depth=8)
    assert sig.shape == rel.shape == (8,)
    he = A.gradient_norms_per_layer(
        x, y, "relu", depth=8, kernel_initializer="he_normal"
    )
    assert sig[0] / sig[-1] < 1e-3  # shrinks layer by layer towards the input
    assert rel[0] / rel[-1] > 10 * sig[0] / sig[-1]
    assert he[0] / he[-1] > rel[0] / rel[-1]  # He init makes up for ReLU's zeros
    kernel = A.gradient_norms_per_layer(x, y, "relu", depth=8, wrt="kernel")
    assert not np.allclose(kernel, rel)
    with pytest.raises(ValueError, match="wrt"):
        A.gradient_norms_per_layer(x, y, wrt="bias")
    with pytest.raises(ValueError, match="flatten"):
        A.gradient_norms_per_layer(x.reshape(64, 4, 8), y)


def test_dead_unit_fraction_and_dying_relu_experiment():
    assert A.dead_unit_fraction(
        np.array([[0.0, 1.0, -1.0], [-2.0, -1.0, -1.0]])
    ) == pytest.approx(2 / 3)
    rng = np.random.default_rng(0)
    x = rng.random((128, 16), dtype=np.float32)
    y = (x.mean(axis=1) > 0.5).astype(np.uint8)
    relu = A.train_mlp_and_count_dead(x, y, "relu", learning_rate=2.0, epochs=2)
    leaky = A.train_mlp_and_count_dead(x, y, "leaky_relu", learning_rate=2.0, epochs=2)
    # A dead ReLU unit has an exactly zero gradient; a leaky one never does.
    assert relu["grad_zero_share"] == pytest.approx(relu["dead_after"])
    assert leaky["grad_zero_share"] == 0.0
    with pytest.raises(ValueError, match="relu"):
        A.train_mlp_and_count_dead(x, y, "tanh")


def test_reference_module_imports_numpy_only():
    """A NumPy reference: importing it loads neither Keras/TF nor widgets."""
    import subprocess
    import sys

    code = (
        "import sys, cnnguide.activations, cnnguide.layer_outputs; "
        "heavy = ('keras', 'tensorflow', 'ipywidgets', 'anywidget'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_sources_table_covers_known_activations_with_three_claims_each():
    from cnnguide.activations import ACTIVATIONS, USE_PRO_CON

    assert set(USE_PRO_CON) <= set(ACTIVATIONS)
    assert all(len(v) == 3 and all(v) for v in USE_PRO_CON.values())
    assert "measured below" in USE_PRO_CON["sigmoid"][2]  # the chapter measures it
