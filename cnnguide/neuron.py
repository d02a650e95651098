"""The artificial neuron and the biological cell that inspired it.

:func:`artificial_neuron` computes ``activation(w . x + b)``, the unit every layer of
a network is built from; :func:`draw_neuron_analogy` draws a schematic nerve cell next
to that unit, with the parts that correspond labelled alike.

This is teaching material, not a diagnostic device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch

__all__ = ["artificial_neuron", "draw_neuron_analogy", "step"]


def step(z):
    """Heaviside step, 1 where ``z > 0`` else 0: the all-or-nothing "firing" of a cell.

    Examples
    --------
    >>> step(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.], dtype=float32)
    """
    return (np.asarray(z, dtype=np.float32) > 0).astype(np.float32)


def artificial_neuron(
    x, w, b: float = 0.0, activation: Callable[[np.ndarray], np.ndarray] | None = None
):
    """One artificial neuron: ``activation(w·x + b)``.

    Parameters
    ----------
    x : array_like
        Inputs, shape ``(n,)`` for one example or ``(m, n)`` for ``m`` examples.
    w : array_like
        ``(n,)`` weights, one per input (the strength of each "synapse").
    b : float
        Bias, shifts the point at which the neuron switches on.
    activation : callable, optional
        Applied to the weighted sum; identity when omitted.

    Returns
    -------
    tuple of (z, y)
        ``z`` the weighted sum plus bias and ``y = activation(z)``, float64 scalars for
        one example, ``(m,)`` arrays for several.

    Examples
    --------
    >>> z, y = artificial_neuron([1.0, 2.0], [0.5, -1.0], b=0.25, activation=step)
    >>> float(z), float(y)
    (-1.25, 0.0)
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"w must be a vector of weights, got shape {w.shape}")
    if x.shape[-1:] != w.shape:
        raise ValueError(
            f"x has {x.shape[-1] if x.ndim else 0} input(s) per example but w has "
            f"{w.shape[0]} weight(s): give one weight per input"
        )
    z = x @ w + float(b)
    y = z if activation is None else np.asarray(activation(z), dtype=np.float64)
    return z, y


def _label(ax, xy, text, xytext, colour="0.15"):
    ax.annotate(
        text,
        xy=xy,
        xytext=xytext,
        fontsize=9,
        color=colour,
        ha="center",
        arrowprops=dict(arrowstyle="-", color="0.45", lw=0.8),
    )


def draw_neuron_analogy(
    x: Sequence[float] = (0.8, 0.2, 0.5),
    w: Sequence[float] = (0.9, -0.4, 0.3),
    b: float = -0.2,
    activation: Callable[[np.ndarray], np.ndarray] | None = None,
    activation_name: str = "f",
):
    """Draw a schematic nerve cell (left) and an artificial neuron (right).

    Parameters
    ----------
    x, w, b, activation
        The artificial neuron's inputs, weights, bias and activation; its numbers are
        written on the right-hand diagram (see :func:`artificial_neuron`).
    activation_name : str
        Name printed in the activation box.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = draw_neuron_analogy()
    >>> [ax.get_title() for ax in fig.axes]
    ['biological neuron (schematic)', 'artificial neuron']
    """
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    z, y = artificial_neuron(x, w, b, activation)
    fig, (bio, art) = plt.subplots(
        1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.15, 1]}
    )

    # --- biological: dendrites -> soma -> axon -> terminals | synapse | next cell
    soma = (2.2, 2.0)
    tissue = "#e8a7a0"
    rng = np.random.default_rng(3)
    for angle in np.linspace(110, 250, 5):
        a = np.deg2rad(angle + rng.uniform(-8, 8))
        end = soma[0] + 1.3 * np.cos(a), soma[1] + 1.3 * np.sin(a)
        bio.plot(
            [soma[0], end[0]],
            [soma[1], end[1]],
            color=tissue,
            lw=3,
            solid_capstyle="round",
        )
        for twig in (-25, 25):
            t = a + np.deg2rad(twig)
            bio.plot(
                [end[0], end[0] + 0.45 * np.cos(t)],
                [end[1], end[1] + 0.45 * np.sin(t)],
                color=tissue,
                lw=1.8,
            )
    bio.add_patch(Circle(soma, 0.55, color=tissue, zorder=3))
    bio.add_patch(Circle(soma, 0.22, color="#8c3b3b", zorder=4))
    bio.plot([2.75, 6.6], [2.0, 2.0], color=tissue, lw=3, zorder=2)
    for start in np.arange(3.1, 6.2, 0.75):
        bio.add_patch(
            Ellipse(
                (start + 0.27, 2.0), 0.55, 0.28, color="#f3d9a4", ec="#c9a35a", zorder=3
            )
        )
    for dy in (-0.45, 0.0, 0.45):
        bio.plot([6.6, 7.15], [2.0, 2.0 + dy], color=tissue, lw=1.8)
        bio.add_patch(Circle((7.2, 2.0 + dy), 0.09, color="#b55d5d", zorder=3))
    bio.plot([7.5, 8.6], [2.0, 2.0], color="#9fb8d6", lw=3)
    bio.plot([7.5, 7.5], [1.45, 2.55], color="#9fb8d6", lw=2)
    _label(bio, (1.3, 2.9), "dendrites\n(receive)", (0.9, 3.75))
    _label(bio, soma, "cell body\nwith nucleus", (2.9, 0.55))
    _label(bio, (4.7, 2.05), "axon (sends)", (4.7, 3.2))
    _label(bio, (7.35, 2.0), "synapse", (7.4, 0.75))
    bio.text(8.1, 2.7, "next\nneuron", fontsize=8, ha="center", color="0.3")
    bio.set_xlim(0, 9)
    bio.set_ylim(0, 4.4)
    bio.set_title("biological neuron (schematic)")

    # --- artificial: inputs -> weights -> sum + bias -> activation -> output
    ys = np.linspace(3.4, 0.6, len(x))
    node = (4.4, 2.0)
    for xi, wi, yi in zip(x, w, ys):
        art.add_patch(Circle((0.7, yi), 0.32, color="#9fb8d6", zorder=3))
        art.text(0.7, yi, f"{xi:g}", ha="center", va="center", fontsize=9, zorder=4)
        colour = "#2b6cb0" if wi >= 0 else "#c05621"
        art.add_patch(
            FancyArrowPatch(
                (1.05, yi),
                (node[0] - 0.5, node[1]),
                arrowstyle="-|>",
                mutation_scale=10,
                color=colour,
                lw=1 + 2 * abs(wi),
            )
        )
        lx = 1.05 + 0.4 * (node[0] - 0.5 - 1.05)
        ly = yi + 0.4 * (node[1] - yi)
        art.text(
            lx,
            ly + 0.2,
            f"w = {wi:g}",
            fontsize=9,
            color=colour,
            ha="center",
            bbox=dict(fc="white", ec="none", pad=0.5),
        )
    art.add_patch(Circle(node, 0.5, color="#e8a7a0", zorder=3))
    art.text(*node, "Σ + b", ha="center", va="center", fontsize=11, zorder=4)
    art.text(
        node[0] + 0.1,
        node[1] - 1.35,
        f"b = {b:g}\nz = {float(z):.2f}",
        ha="center",
        fontsize=9,
    )
    art.add_patch(
        FancyArrowPatch(
            (node[0] + 0.5, 2.0),
            (5.6, 2.0),
            arrowstyle="-|>",
            mutation_scale=10,
            lw=1.5,
        )
    )
    art.add_patch(
        FancyBboxPatch(
            (5.65, 1.6), 1.7, 0.8, boxstyle="round,pad=0.05", fc="#f3d9a4", ec="#c9a35a"
        )
    )
    art.text(6.5, 2.0, activation_name, ha="center", va="center", fontsize=10)
    art.add_patch(
        FancyArrowPatch(
            (7.45, 2.0), (8.2, 2.0), arrowstyle="-|>", mutation_scale=10, lw=1.5
        )
    )
    art.text(8.3, 2.0, f"y = {float(y):.2f}", va="center", fontsize=10)
    art.text(0.7, 3.95, "inputs", ha="center", fontsize=9, color="0.3")
    art.text(2.2, 3.95, "weights", ha="center", fontsize=9, color="0.3")
    art.text(6.5, 2.65, "activation", ha="center", fontsize=9, color="0.3")
    art.set_xlim(0, 9.9)
    art.set_ylim(0, 4.4)
    art.set_title("artificial neuron")
    for ax in (bio, art):
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig
