"""Chapter 6: an activation function and its derivative, computed in the page.

:class:`ActivationExplorer` holds the function's name and its parameters as
traits; its ES module (``static/activations.js``) samples the function and its
derivative on ``[-x_max, x_max]`` and draws both, in JupyterLab and in the
static book alike. The page exposes the sampled ``x``, ``f(x)`` and ``f'(x)``
(``data-values``), which the browser test compares with the NumPy reference
:func:`cnnguide.activations.curve`. :func:`activation_small_multiples` is the static
twin for print and for readers without JavaScript.

Examples
--------
>>> explorer = ActivationExplorer("elu", alpha=0.5)
>>> explorer.alpha = 0.8  # from Python: the page redraws
>>> ref = explorer.reference()
>>> ref["x"].size, float(ref["dy"][-1])
(401, 1.0)
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import traitlets

from cnnguide import activations as A
from cnnguide.explorers._core import Explorer, load_esm

__all__ = [
    "FUNCTIONS",
    "ActivationExplorer",
    "plot_activation",
    "activation_small_multiples",
]

#: The functions the explorer offers, in menu order (the elementwise ones of
#: :mod:`cnnguide.activations`; softmax acts on a vector, so chapter 6 shows it
#: separately).
FUNCTIONS = A.ELEMENTWISE


class ActivationExplorer(Explorer):
    """One activation function and its derivative, drawn by the page.

    Parameters
    ----------
    function : str
        One of :data:`FUNCTIONS` (default ``"leaky_relu"``).
    alpha : float
        Slope of the negative side (leaky ReLU, PReLU) or ELU's ``alpha``,
        0 to 2.
    beta : float
        Swish's ``beta``, 0.1 to 5.
    x_max : float
        Half-width of the plotted interval, 1 to 10.
    n_points : int
        Number of sampled inputs.

    Attributes
    ----------
    controls : dict
        ``function`` (Dropdown), ``alpha``, ``beta``, ``x_max`` (FloatSliders),
        jslinked to the traits of the same names (the dropdown through
        ``function_index``, as every selection control; see
        :mod:`cnnguide.explorers._core`).

    Examples
    --------
    >>> ex = ActivationExplorer()
    >>> ex.function, sorted(ex.controls)
    ('leaky_relu', ['alpha', 'beta', 'function', 'x_max'])
    """

    _esm = load_esm("activations")
    function = traitlets.Unicode("leaky_relu")
    function_index = traitlets.Int(3).tag(sync=True)
    alpha = traitlets.Float(0.1).tag(sync=True)
    beta = traitlets.Float(1.0).tag(sync=True)
    x_max = traitlets.Float(5.0).tag(sync=True)
    n_points = traitlets.Int(401).tag(sync=True)

    def __init__(
        self,
        function: str = "leaky_relu",
        alpha: float = 0.1,
        beta: float = 1.0,
        *,
        x_max: float = 5.0,
        n_points: int = 401,
    ):
        style = {"description_width": "initial"}
        controls = {
            "function": ipywidgets.Dropdown(
                options=list(FUNCTIONS), value=function, description="function"
            ),
            "alpha": ipywidgets.FloatSlider(
                value=alpha,
                min=0.0,
                max=2.0,
                step=0.01,
                description="alpha",
                readout_format=".2f",
                style=style,
            ),
            "beta": ipywidgets.FloatSlider(
                value=beta,
                min=0.1,
                max=5.0,
                step=0.1,
                description="beta",
                readout_format=".1f",
                style=style,
            ),
            "x_max": ipywidgets.FloatSlider(
                value=x_max,
                min=1.0,
                max=10.0,
                step=0.5,
                description="x range ±",
                readout_format=".1f",
                style=style,
            ),
        }
        super().__init__(
            controls,
            function=function,
            alpha=alpha,
            beta=beta,
            x_max=x_max,
            n_points=n_points,
        )

    @traitlets.validate("function")
    def _check_function(self, proposal):
        if proposal["value"] not in FUNCTIONS:
            raise traitlets.TraitError(
                f"unknown function {proposal['value']!r}; "
                f"choose one of {', '.join(FUNCTIONS)}"
            )
        return proposal["value"]

    @traitlets.validate("x_max")
    def _check_x_max(self, proposal):
        if not proposal["value"] > 0:
            raise traitlets.TraitError(f"x_max must be > 0, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("n_points")
    def _check_n_points(self, proposal):
        if not 2 <= proposal["value"] <= 5001:
            raise traitlets.TraitError(
                f"n_points must be between 2 and 5001, got {proposal['value']}"
            )
        return proposal["value"]

    def reference(self) -> dict:
        """What the page should draw now, from :mod:`cnnguide.activations`."""
        return A.curve(self.function, self.alpha, self.beta, self.x_max, self.n_points)


# --------------------------------------------------------------------------- static
def plot_activation(ax, name: str, alpha: float | None = None, *, x_max: float = 5.0):
    """Draw one activation (solid) and its derivative (dashed) on ``ax``.

    Softmax is shown as ``softmax([x, 0])[0]`` (which is ``sigmoid(x)``).

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> plot_activation(ax, "relu")
    >>> len(ax.lines)
    4
    >>> plt.close(fig)
    """
    act = A.get_activation(name) if name != "linear" else None
    x = np.linspace(-x_max, x_max, 401)
    uses_alpha = name in A.USES_ALPHA
    kwargs = {} if (alpha is None or not uses_alpha) else {"alpha": alpha}
    if name == "softmax":
        y = A.softmax(np.stack([x, np.zeros_like(x)], axis=-1))[:, 0]
        dy = y * (1 - y)
        label = "softmax([x, 0])[0]"
    elif act is None:
        y, dy, label = A.linear(x), A.linear_grad(x), name
    else:
        y, dy = act.fn(x, **kwargs), act.grad(x, **kwargs)
        label = name
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(x, y, color="C0", lw=2, label=label)
    ax.plot(x, dy, color="C3", lw=1.5, ls="--", label="derivative")
    title = name if not kwargs else f"{name} (alpha={kwargs['alpha']:g})"
    if name == "softmax":
        title = "softmax([x, 0])[0]"
    ax.set_title(title, fontsize=10)
    ax.set_ylim(-2, 5.2 if name not in ("sigmoid", "tanh", "softmax") else 1.6)
    ax.set_xlabel("x", fontsize=8)
    ax.tick_params(labelsize=7)


def activation_small_multiples(
    names=None, alphas: dict | None = None, *, ncols: int = 4, size: float = 2.4
):
    """Static grid: every activation and its derivative, one panel each.

    The static twin of :class:`ActivationExplorer`, for print and for readers
    without JavaScript.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = activation_small_multiples(["relu", "tanh"])
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    names = list(names or A.ACTIVATIONS)
    alphas = alphas or {"leaky_relu": 0.1, "prelu": 0.25, "elu": 1.0}
    nrows = -(-len(names) // ncols)
    ncols = min(ncols, len(names))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False
    )
    for ax in axes.flat[len(names) :]:
        ax.remove()
    for ax, name in zip(axes.flat, names):
        plot_activation(ax, name, alphas.get(name))
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
