"""Interactive explorers for the chapters, each with a static small-multiples companion.

Every explorer follows one small pattern, so new ones (activations, feature maps,
thresholds) slot in the same way:

1. a **pure view function** ``<name>_view(**params) -> dict`` that computes everything the
   explorer shows (arrays, a ``"label"`` string, optional ``"detail_html"``) and nothing else;
   it is what the tests check;
2. a **draw function** that copies that state onto a figure's existing artists
   (``im.set_data``, ``rect.set_bounds``: no re-plotting);
3. :class:`Explorer`, which wires ipywidgets controls to (1) and (2) and shows the figure as a
   PNG in an :class:`ipywidgets.Image` -- this works under the plain inline backend, without
   ipympl -- and records how long each update took;
4. a ``<name>_small_multiples(...) -> matplotlib.figure.Figure``: the same views over a few
   parameter values, for the rendered book, where sliders do nothing without a kernel.

Explorers here: :func:`convolution_explorer`, :func:`stride_padding_explorer`,
:func:`pooling_explorer`.
"""

from __future__ import annotations

import html
import io
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image as PILImage

from cnnguide import kernels as _kernels
from cnnguide.ops import conv2d, output_size, pad_amounts, pool2d

__all__ = [
    "CUSTOM_KERNEL",
    "Explorer",
    "convolution_explorer",
    "convolution_small_multiples",
    "convolution_view",
    "default_images",
    "explorer_kernel",
    "pooling_explorer",
    "pooling_small_multiples",
    "pooling_view",
    "render_png",
    "stride_padding_explorer",
    "stride_padding_small_multiples",
    "stride_padding_view",
    "window_walk_picture",
]

CUSTOM_KERNEL = "custom 3x3"
"""Kernel choice in the convolution explorer that reads the 3×3 grid of editable weights."""

WINDOW_COLOUR = "#e4572e"


# --------------------------------------------------------------------------- the shared pattern


def render_png(figure: Figure, dpi: float = 72) -> bytes:
    """Draw a figure with Agg and encode it as PNG (fast settings).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    dpi : float
        Resolution; the figure keeps its size in inches.

    Returns
    -------
    bytes
        PNG file content.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> render_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    canvas = (
        figure.canvas
        if isinstance(figure.canvas, FigureCanvasAgg)
        else FigureCanvasAgg(figure)
    )
    figure.set_dpi(dpi)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    buffer = io.BytesIO()
    PILImage.fromarray(rgba[..., :3]).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


class Explorer:
    """ipywidgets controls around a pure view function and a figure updated in place.

    Parameters
    ----------
    controls : mapping of str to ipywidgets value widgets
        Each control's ``value`` is passed to ``view`` under its key.
    view : callable
        ``view(**values) -> dict``: pure; the dict may hold ``"label"`` (plain text shown
        above the figure) and ``"detail_html"`` (HTML shown below it).
    figure : matplotlib.figure.Figure
        Built once, not registered with pyplot (so it never appears as a stray inline figure).
    draw : callable
        ``draw(state)``: updates the figure's artists from the view's state.
    extra : sequence of widgets, optional
        Extra widgets shown under the controls (e.g. an upload button).
    after_view : callable, optional
        ``after_view(explorer, state)``: adjusts controls after a view (e.g. slider ranges);
        runs with updates held, so it does not trigger another update.
    dpi : float
        Resolution of the rendered PNG.

    Attributes
    ----------
    state : dict
        What the last update computed.
    label, detail : ipywidgets.HTML
        The text shown; ``label.value`` holds ``state["label"]`` (HTML-escaped).
    image : ipywidgets.Image
        The rendered figure.
    last_update_s, last_update_cpu_s : float
        Wall-clock and CPU seconds the last update took (view, draw and PNG encoding);
        on a busy machine the CPU time is the steadier measure.
    widget : ipywidgets.VBox
        The whole explorer; displaying the explorer displays this.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 2)); ax = fig.add_subplot(); line, = ax.plot([0, 1])
    >>> ex = Explorer({"slope": widgets.FloatSlider(value=1.0)},
    ...               view=lambda slope: {"y": [0, slope], "label": f"slope {slope}"},
    ...               figure=fig, draw=lambda s: line.set_ydata(s["y"]))
    >>> ex.controls["slope"].value = 2.0
    >>> ex.label.value
    'slope 2.0'
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        view: Callable[..., dict],
        figure: Figure,
        draw: Callable[[dict], None],
        *,
        extra=(),
        after_view: Callable[[Explorer, dict], None] | None = None,
        dpi: float = 72,
    ):
        self.controls = dict(controls)
        self.view = view
        self.figure = figure
        self.draw = draw
        self.after_view = after_view
        self.dpi = dpi
        self.state: dict = {}
        self.last_update_s = self.last_update_cpu_s = float("nan")
        self._held = False
        self.label = widgets.HTML()
        self.detail = widgets.HTML()
        self.image = widgets.Image(format="png")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        box_controls = [
            c
            for c in self.controls.values()
            if not getattr(c, "_explorer_hidden", False)
        ]
        self.widget = widgets.VBox(
            [
                widgets.HBox(box_controls[:4]),
                widgets.HBox(box_controls[4:]),
                *extra,
                self.label,
                self.image,
                self.detail,
            ]
        )
        self.update()

    def values(self) -> dict:
        """Current control values, by key."""
        return {key: control.value for key, control in self.controls.items()}

    @contextmanager
    def hold(self):
        """Change several controls without an update after each; one update at the end."""
        held, self._held = self._held, True
        try:
            yield self
        finally:
            self._held = held
        if not held:
            self.update()

    def _on_change(self, change) -> None:
        if not self._held:
            self.update()

    def update(self) -> dict:
        """Recompute the view from the controls, redraw, re-render; return the new state."""
        start, start_cpu = time.perf_counter(), time.process_time()
        state = self.view(**self.values())
        if self.after_view is not None:
            held, self._held = self._held, True
            try:
                self.after_view(self, state)
            finally:
                self._held = held
        self.draw(state)
        self.image.value = render_png(self.figure, self.dpi)
        self.label.value = html.escape(state.get("label", ""))
        self.detail.value = state.get("detail_html", "")
        self.state = state
        self.last_update_s = time.perf_counter() - start
        self.last_update_cpu_s = time.process_time() - start_cpu
        return state

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):  # pragma: no cover - only inside IPython
        from IPython.display import display

        display(self.widget)


def _new_figure(
    ncols: int, width: float = 3.2, height: float = 3.2
) -> tuple[Figure, list]:
    # A fixed layout: a layout engine would re-measure every text on each update (slow).
    figure = Figure(figsize=(width * ncols, height))
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.88, wspace=0.08)
    axes = [figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return figure, axes


def _show_array(ax, image: np.ndarray, cmap: str = "gray"):
    im = ax.imshow(image, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return im


def _set_image(ax, im, array: np.ndarray, vmin=None, vmax=None) -> None:
    """Give an existing AxesImage a new array, possibly of another shape."""
    height, width = array.shape[:2]
    im.set_data(array)
    im.set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
    if array.ndim == 2:
        low = float(np.min(array)) if vmin is None else vmin
        high = float(np.max(array)) if vmax is None else vmax
        im.set_clim(low, high if high > low else low + 1e-6)


def _as_float_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2:
        raise ValueError(
            f"explorers take one greyscale (H, W) image, got shape {image.shape}"
        )
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return image.astype(np.float32)


def default_images(size: int = 256) -> dict[str, np.ndarray]:
    """Images for the explorers: a synthetic phantom, and a real X-ray when PneumoniaMNIST is present.

    Parameters
    ----------
    size : int
        Side of the phantom (the real X-ray keeps its 28×28 size).

    Returns
    -------
    dict of str to (H, W) float32 arrays in [0, 1]
        Names say which image is synthetic and which is real.

    Examples
    --------
    >>> images = default_images(64)
    >>> next(iter(images)).startswith("phantom")
    True
    """
    from cnnguide.data.phantoms import make_phantom

    images = {
        f"phantom (synthetic, {size}x{size})": _as_float_image(
            make_phantom(size, seed=0).images[0]
        )
    }
    try:
        from cnnguide.data import DataError, load_dataset

        dataset = load_dataset(size=28, allow_phantoms=False)
        if dataset.is_real:
            images["X-ray (PneumoniaMNIST, 28x28)"] = _as_float_image(
                dataset["train"].images[0]
            )
    except (ImportError, DataError, OSError):
        pass  # no real data here: the phantom alone
    return images


# --------------------------------------------------------------------------- convolution

_SIZED = ("identity", "box_blur", "gaussian", "unsharp", "gabor")


def explorer_kernel(name: str, size: int = 3, weights=None) -> np.ndarray:
    """The kernel the convolution explorer applies for a choice of name and size.

    Families with a size (identity, box blur, Gaussian, unsharp, Gabor) are built at
    ``size`` (with ``sigma = size / 6`` for the Gaussian-based ones); fixed 3×3 kernels
    ignore it; :data:`CUSTOM_KERNEL` returns ``weights`` as a 3×3 array.

    Examples
    --------
    >>> explorer_kernel("box_blur", 5).shape, explorer_kernel("sobel_x", 7).shape
    ((5, 5), (3, 3))
    """
    if name == CUSTOM_KERNEL:
        kernel = np.asarray(weights, dtype=np.float32)
        if kernel.shape != (3, 3):
            raise ValueError(f"custom weights must be 3x3, got shape {kernel.shape}")
        return kernel
    if name in ("gaussian", "unsharp"):
        return _kernels.get_kernel(name, size=size, sigma=max(size / 6, 0.5))
    if name == "gabor":
        return _kernels.get_kernel(
            name, size=size, sigma=max(size / 6, 0.5), wavelength=max(size / 2, 2.0)
        )
    if name in _SIZED:
        return _kernels.get_kernel(name, size=size)
    return _kernels.get_kernel(name)


def convolution_view(
    image, kernel, stride: int = 1, padding: str = "valid", row: int = 0, col: int = 0
) -> dict:
    """Everything the convolution explorer shows, for one setting (pure).

    Parameters
    ----------
    image : (H, W) array
        The input (uint8 is scaled to [0, 1]).
    kernel : (kh, kw) array
    stride : int
    padding : {"valid", "same"} or int
    row, col : int
        The output pixel whose arithmetic is shown (clipped to the feature map).

    Returns
    -------
    dict
        ``feature_map`` (H', W') float32; ``kernel``; ``pads`` ((top, bottom), (left, right));
        ``row``, ``col`` (clipped); ``window`` (top, left, height, width) in input coordinates
        (negative or beyond the edge where it covers padding); ``patch`` and ``products``
        (kh, kw); ``value`` (their sum, equal to ``feature_map[row, col]``); ``label``;
        ``detail_html`` (the products and their sum as a table).

    Examples
    --------
    >>> import numpy as np
    >>> state = convolution_view(np.ones((8, 8)), np.ones((3, 3)), stride=2, padding="same", row=1, col=1)
    >>> state["feature_map"].shape, state["pads"], state["window"], float(state["value"])
    ((4, 4), ((0, 1), (0, 1)), (2, 2, 3, 3), 9.0)
    """
    image = _as_float_image(image)
    kernel = np.asarray(kernel, dtype=np.float32)
    kh, kw = kernel.shape
    pads = pad_amounts(padding, image.shape, kernel.shape, stride)
    feature_map = conv2d(image, kernel, stride=stride, padding=padding)
    out_h, out_w = feature_map.shape
    row = int(np.clip(row, 0, out_h - 1))
    col = int(np.clip(col, 0, out_w - 1))
    top, left = row * stride - pads[0][0], col * stride - pads[1][0]
    padded = np.pad(image, pads)
    patch = padded[row * stride : row * stride + kh, col * stride : col * stride + kw]
    products = patch * kernel
    value = np.float32(products.sum())
    label = (
        f"input {image.shape[0]}x{image.shape[1]}, kernel {kh}x{kw}, stride {stride}, padding "
        f"{padding!s} → feature map {out_h}x{out_w}; output pixel ({row}, {col}) = {value:.3f}"
    )
    return {
        "feature_map": feature_map,
        "kernel": kernel,
        "image": image,
        "pads": pads,
        "row": row,
        "col": col,
        "window": (top, left, kh, kw),
        "patch": patch,
        "products": products,
        "value": value,
        "shape": (out_h, out_w),
        "label": label,
        "detail_html": _arithmetic_html(patch, kernel, products, value, row, col),
    }


def _arithmetic_html(
    patch, kernel, products, value, row, col, max_side: int = 7
) -> str:
    """The products pixel × weight of one window, as CNN Explainer shows them, and their sum."""
    kh, kw = kernel.shape
    if kh > max_side or kw > max_side:
        return (
            f"<p>Output ({row}, {col}) = sum of {kh * kw} products pixel x weight = "
            f"<b>{value:.3f}</b> (table shown for kernels up to {max_side}x{max_side}).</p>"
        )
    cells = []
    for i in range(kh):
        tds = "".join(
            f"<td style='padding:2px 6px;text-align:right'>{patch[i, j]:.2f}&times;{kernel[i, j]:.2f}"
            f" = {products[i, j]:.3f}</td>"
            for j in range(kw)
        )
        cells.append(f"<tr>{tds}</tr>")
    terms = " + ".join(f"({p:.3f})" for p in products.ravel()[:9])
    more = " + ..." if products.size > 9 else ""
    return (
        f"<p>Output pixel ({row}, {col}): pixel &times; weight for each tap</p>"
        f"<table style='font-family:monospace;font-size:11px'>{''.join(cells)}</table>"
        f"<p style='font-family:monospace;font-size:11px'>sum = {terms}{more} = <b>{value:.3f}</b></p>"
    )


def convolution_explorer(
    images: Mapping[str, np.ndarray] | np.ndarray | None = None,
    kernel: str = "sobel_x",
    *,
    size: int = 3,
    stride: int = 1,
    padding: str = "valid",
    upload: bool = True,
) -> Explorer:
    """Convolution explorer: image, kernel (named or a 3×3 grid of weights), size, stride, padding.

    Shows the input with the current window drawn on it (padding as a shaded border), the
    feature map with the chosen output pixel marked, the feature map's shape, and the
    arithmetic at that pixel (products and their sum), as CNN Explainer does.

    Parameters
    ----------
    images : dict of name to (H, W) array, or one array, optional
        Default: :func:`default_images` (phantom, plus a real X-ray when present).
    kernel : str
        Initial kernel: one of :func:`cnnguide.kernels.kernel_names` or :data:`CUSTOM_KERNEL`.
    size : int
        Initial size for the kernel families that have one.
    stride : int
    padding : {"valid", "same"}
    upload : bool
        Add an upload button; an uploaded PNG/JPEG (read with
        :func:`cnnguide.data.load_image`) joins the image choices.

    Returns
    -------
    Explorer
        Controls: ``image``, ``kernel``, ``size``, ``stride``, ``padding``, ``row``, ``col``,
        ``w00`` ... ``w22`` (the custom weights).

    Examples
    --------
    >>> import numpy as np
    >>> ex = convolution_explorer({"square": np.ones((16, 16))}, upload=False)
    >>> ex.controls["stride"].value = 2
    >>> ex.state["shape"]
    (7, 7)
    """
    if images is None:
        images = default_images()
    elif not isinstance(images, Mapping):
        images = {"image": images}
    images = {name: _as_float_image(image) for name, image in images.items()}
    names = [*_kernels.kernel_names(), CUSTOM_KERNEL]
    if kernel not in names:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {names}")

    style = {"description_width": "initial"}
    controls: dict[str, widgets.ValueWidget] = {
        "image": widgets.Dropdown(
            options=list(images), description="image", style=style
        ),
        "kernel": widgets.Dropdown(
            options=names, value=kernel, description="kernel", style=style
        ),
        "size": widgets.IntSlider(
            value=size,
            min=1,
            max=15,
            step=2,
            description="size",
            continuous_update=False,
        ),
        "stride": widgets.IntSlider(
            value=stride, min=1, max=4, description="stride", continuous_update=False
        ),
        "padding": widgets.ToggleButtons(
            options=["valid", "same"], value=padding, description="padding"
        ),
        "row": widgets.IntSlider(
            value=0, min=0, max=1, description="output row", style=style
        ),
        "col": widgets.IntSlider(
            value=0, min=0, max=1, description="output col", style=style
        ),
    }
    sobel = _kernels.sobel("x")
    weight_boxes = {}
    for i in range(3):
        for j in range(3):
            box = widgets.FloatText(
                value=float(sobel[i, j]), step=0.5, layout=widgets.Layout(width="70px")
            )
            box._explorer_hidden = (
                True  # shown in the grid below, not in the control rows
            )
            weight_boxes[f"w{i}{j}"] = box
    controls.update(weight_boxes)
    grid = widgets.GridBox(
        list(weight_boxes.values()),
        layout=widgets.Layout(grid_template_columns="repeat(3, 75px)"),
    )
    extra = [
        widgets.HBox([widgets.HTML(f"<b>{CUSTOM_KERNEL}</b> weights:&nbsp;"), grid])
    ]

    def view(image, kernel, size, stride, padding, row, col, **weights):
        grid_weights = [[weights[f"w{i}{j}"] for j in range(3)] for i in range(3)]
        k = explorer_kernel(kernel, size, grid_weights)
        state = convolution_view(images[image], k, stride, padding, row, col)
        state["label"] = f"{kernel}: " + state["label"]
        state["kernel_name"] = kernel
        return state

    figure, (ax_in, ax_out) = _new_figure(2)
    first = images[controls["image"].value]
    im_in = _show_array(ax_in, first)
    im_in.set_clim(0, 1)
    ax_in.set_title("input (shaded border = padding)", fontsize=9)
    ax_in.set_facecolor("#c8d0e0")  # what shows around the image is the padding
    pad_frame = Rectangle(
        (0, 0), 1, 1, fill=False, edgecolor="0.6", linestyle="--", linewidth=1
    )
    window = Rectangle((0, 0), 1, 1, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2)
    ax_in.add_patch(pad_frame)
    ax_in.add_patch(window)
    im_out = _show_array(ax_out, np.zeros((2, 2)))
    marker = Rectangle((0, 0), 1, 1, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2)
    ax_out.add_patch(marker)

    def draw(state):
        image = state["image"]
        (top_pad, bottom_pad), (left_pad, right_pad) = state["pads"]
        _set_image(ax_in, im_in, image, 0.0, 1.0)
        height, width = image.shape
        ax_in.set_xlim(-0.5 - left_pad, width - 0.5 + right_pad)
        ax_in.set_ylim(height - 0.5 + bottom_pad, -0.5 - top_pad)
        pad_frame.set_bounds(
            -0.5 - left_pad,
            -0.5 - top_pad,
            width + left_pad + right_pad,
            height + top_pad + bottom_pad,
        )
        top, left, kh, kw = state["window"]
        window.set_bounds(left - 0.5, top - 0.5, kw, kh)
        _set_image(ax_out, im_out, state["feature_map"])
        out_h, out_w = state["shape"]
        ax_out.set_xlim(-0.5, out_w - 0.5)
        ax_out.set_ylim(out_h - 0.5, -0.5)
        marker.set_bounds(state["col"] - 0.5, state["row"] - 0.5, 1, 1)
        ax_out.set_title(f"feature map {out_h}x{out_w}", fontsize=9)

    def after_view(explorer, state):
        out_h, out_w = state["shape"]
        explorer.controls["row"].max = out_h - 1
        explorer.controls["col"].max = out_w - 1
        explorer.controls["size"].disabled = state["kernel_name"] not in _SIZED

    extra_widgets = list(extra)
    explorer_ref: list[Explorer] = []
    if upload:
        button = widgets.FileUpload(
            accept="image/png,image/jpeg", multiple=False, description="your image"
        )
        message = widgets.HTML()

        def on_upload(change):
            files = change["new"]
            if not files:
                return
            item = files[0]
            try:
                from cnnguide.data import load_image

                loaded = load_image(bytes(item["content"]), size=256)
            except (
                Exception
            ) as error:  # shown to the reader, not raised into the widget loop
                message.value = (
                    f"<span style='color:#b00'>{html.escape(str(error))}</span>"
                )
                return
            name = f"upload: {item['name']}"
            images[name] = _as_float_image(loaded)
            dropdown = explorer_ref[0].controls["image"]
            dropdown.options = [*[o for o in dropdown.options if o != name], name]
            dropdown.value = name
            message.value = f"loaded {html.escape(item['name'])} as 256x256 greyscale"

        button.observe(on_upload, names="value")
        extra_widgets.append(widgets.HBox([button, message]))

    explorer = Explorer(
        controls, view, figure, draw, extra=extra_widgets, after_view=after_view
    )
    explorer_ref.append(explorer)
    explorer.images = images
    return explorer


def convolution_small_multiples(
    image,
    kernels=("sobel_x", "sobel_y", "laplacian_4", "gaussian_3x3", "sharpen"),
    strides=(1, 2, 4),
    padding: str = "same",
    size: float = 1.9,
) -> plt.Figure:
    """Static companion of the convolution explorer: feature maps for kernels × strides.

    Parameters
    ----------
    image : (H, W) array
    kernels : sequence of str
        Names from :func:`cnnguide.kernels.kernel_names`.
    strides : sequence of int
        One row per stride.
    padding : {"valid", "same"}
    size : float
        Panel side in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The input in the first column, then one feature map per kernel, titled with its shape.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig = convolution_small_multiples(np.random.rand(32, 32), ["sobel_x"], [1, 2])
    >>> len(fig.axes); plt.close(fig)
    4
    """
    image = _as_float_image(image)
    fig, axes = plt.subplots(
        len(strides),
        len(kernels) + 1,
        figsize=(size * (len(kernels) + 1), size * len(strides)),
        squeeze=False,
    )
    for r, stride in enumerate(strides):
        _show_array(axes[r, 0], image).set_clim(0, 1)
        axes[r, 0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=8)
        axes[r, 0].set_ylabel(f"stride {stride}", fontsize=9)
        for c, name in enumerate(kernels, start=1):
            fmap = conv2d(
                image, _kernels.get_kernel(name), stride=stride, padding=padding
            )
            _show_array(axes[r, c], fmap)
            axes[r, c].set_title(f"{name}\n{fmap.shape[0]}x{fmap.shape[1]}", fontsize=8)
    fig.suptitle(
        f"Feature maps ('{padding}' padding) for several kernels and strides",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


# --------------------------------------------------------------------------- stride and padding

_PALETTE = np.array(
    [
        [205, 205, 205],  # 0 padding
        [250, 250, 250],  # 1 input
        [255, 214, 196],  # 2 = padding + window: the window over padding
        [236, 170, 150],  # 3 = input + window: the window over the input
    ],
    dtype=np.uint8,
)


def window_walk_picture(
    n: int, k: int, stride: int, padding, step: int = 0, cell: int = 12
) -> dict:
    """Picture of a k×k window walking over an n×n input: padding, input cells, window positions.

    Parameters
    ----------
    n, k, stride : int
    padding : "valid", "same" or int
    step : int
        Which window position (row-major) to highlight; clipped to the last one.
    cell : int
        Pixels per cell in the picture.

    Returns
    -------
    dict
        ``picture`` (P*cell, P*cell, 3) uint8 with grid lines (P = padded side),
        ``pads`` ((top, bottom), (left, right)), ``out`` (the number of positions per axis,
        counted by walking), ``centres`` (positions' centres in picture pixels, (M, 2) x/y),
        ``window`` (x, y, w, h) of the highlighted window in picture pixels, ``step``.

    Examples
    --------
    >>> walk = window_walk_picture(5, 3, 2, "valid")
    >>> walk["out"], walk["centres"].shape
    (2, (4, 2))
    """
    pads = pad_amounts(padding, (n, n), (k, k), stride)
    (top, bottom), (left, right) = pads
    rows, cols = n + top + bottom, n + left + right
    # Walk the window: every start that keeps it inside the padded input.
    starts_r = np.arange(0, rows - k + 1, stride)
    starts_c = np.arange(0, cols - k + 1, stride)
    step = int(np.clip(step, 0, len(starts_r) * len(starts_c) - 1))
    r0, c0 = starts_r[step // len(starts_c)], starts_c[step % len(starts_c)]
    codes = np.zeros((rows, cols), dtype=np.uint8)
    codes[top : top + n, left : left + n] = 1
    codes[r0 : r0 + k, c0 : c0 + k] += 2
    picture = np.repeat(np.repeat(_PALETTE[codes], cell, axis=0), cell, axis=1)
    picture[::cell, :] = 90
    picture[:, ::cell] = 90
    picture[-1, :] = 90
    picture[:, -1] = 90
    grid_r, grid_c = np.meshgrid(starts_r, starts_c, indexing="ij")
    centres = np.stack(
        [(grid_c.ravel() + k / 2) * cell, (grid_r.ravel() + k / 2) * cell], axis=1
    )
    return {
        "picture": picture,
        "pads": pads,
        "out": len(starts_r),  # square input, symmetric rule: as many rows as columns
        "centres": centres,
        "window": (c0 * cell, r0 * cell, k * cell, k * cell),
        "step": step,
    }


def _formula_text(n, k, stride, padding) -> str:
    if padding == "same":
        return f"ceil({n}/{stride}) = {output_size(n, k, stride, 'same')}"
    p = 0 if padding == "valid" else int(padding)
    return f"floor(({n} + 2*{p} - {k})/{stride}) + 1 = {output_size(n, k, stride, p)}"


def stride_padding_view(
    image, n: int = 7, k: int = 3, stride: int = 1, padding="valid", step: int = 0
) -> dict:
    """Everything the stride and padding explorer shows, for one setting (pure).

    The window walk is drawn on a small n×n grid; the same kernel size, stride and padding
    are applied (as a k×k mean) to ``image`` so the reader sees the effect at full size.

    Returns
    -------
    dict
        ``walk`` (:func:`window_walk_picture`), ``formula`` (output size from
        :func:`cnnguide.ops.output_size`), ``produced`` (side of ``conv2d`` on an n×n input),
        ``feature_map`` (the image's), ``image_formula``, ``label``.

    Examples
    --------
    >>> import numpy as np
    >>> state = stride_padding_view(np.zeros((16, 16)), n=7, k=3, stride=2, padding="same")
    >>> state["formula"], state["produced"], state["feature_map"].shape
    (4, 4, (8, 8))
    """
    image = _as_float_image(image)
    formula = output_size(n, k, stride, padding)
    produced = conv2d(
        np.zeros((n, n), np.float32), np.ones((k, k), np.float32), stride, padding
    ).shape
    walk = window_walk_picture(n, k, stride, padding, step)
    feature_map = conv2d(
        image, np.full((k, k), 1 / k**2, np.float32), stride, padding
    )  # a k x k mean
    image_formula = output_size(image.shape[0], k, stride, padding)
    label = (
        f"n={n}, k={k}, stride={stride}, padding={padding}: formula {_formula_text(n, k, stride, padding)}; "
        f"produced by conv2d {produced[0]}x{produced[1]}; on the {image.shape[0]}x{image.shape[1]} image: "
        f"formula {image_formula}, produced {feature_map.shape[0]}x{feature_map.shape[1]}"
    )
    return {
        "walk": walk,
        "formula": formula,
        "produced": produced[0],
        "feature_map": feature_map,
        "image_formula": image_formula,
        "image": image,
        "label": label,
        "n": n,
        "k": k,
        "stride": stride,
        "padding": padding,
    }


def stride_padding_explorer(
    image=None, *, n: int = 7, k: int = 3, stride: int = 1, padding="valid"
) -> Explorer:
    """Stride and padding explorer: how the window walks, where padding sits, output sizes.

    Left: an n×n input (white) with its padding (grey), the highlighted window position
    (orange) and the centre of every position (dots). Middle: the output grid. Right: the
    same k, stride and padding applied to a full image. The label puts the output size from
    the formula next to the one ``conv2d`` actually produced.

    Parameters
    ----------
    image : (H, W) array, optional
        Default: the phantom from :func:`default_images`.
    n, k, stride : int
    padding : {"valid", "same"} or int

    Returns
    -------
    Explorer
        Controls: ``n``, ``k``, ``stride``, ``padding`` (valid, same, 1, 2), ``step``.

    Examples
    --------
    >>> import numpy as np
    >>> ex = stride_padding_explorer(np.zeros((32, 32)))
    >>> ex.controls["stride"].value = 2
    >>> ex.state["formula"], ex.state["produced"]
    (3, 3)
    """
    if image is None:
        image = next(iter(default_images().values()))
    image = _as_float_image(image)
    controls = {
        "n": widgets.IntSlider(value=n, min=3, max=12, description="input n"),
        "k": widgets.IntSlider(value=k, min=1, max=7, description="kernel k"),
        "stride": widgets.IntSlider(value=stride, min=1, max=4, description="stride"),
        "padding": widgets.Dropdown(
            options=["valid", "same", 1, 2], value=padding, description="padding"
        ),
        "step": widgets.IntSlider(value=0, min=0, max=1, description="position"),
    }

    def view(n, k, stride, padding, step):
        return stride_padding_view(image, n, k, stride, padding, step)

    figure, (ax_walk, ax_out, ax_img) = _new_figure(3, width=3.0, height=3.0)
    im_walk = _show_array(ax_walk, np.zeros((2, 2, 3), np.uint8))
    dots = ax_walk.scatter([0], [0], s=10, c=WINDOW_COLOUR)
    window = Rectangle((0, 0), 1, 1, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2.5)
    ax_walk.add_patch(window)
    im_grid = _show_array(ax_out, np.zeros((2, 2, 3), np.uint8))
    im_img = _show_array(ax_img, image)

    def draw(state):
        walk = state["walk"]
        picture = walk["picture"]
        _set_image(ax_walk, im_walk, picture)
        ax_walk.set_xlim(-0.5, picture.shape[1] - 0.5)
        ax_walk.set_ylim(picture.shape[0] - 0.5, -0.5)
        dots.set_offsets(walk["centres"])
        window.set_bounds(*walk["window"])
        ax_walk.set_title(
            f"{state['n']}x{state['n']} input, padding {state['padding']}", fontsize=9
        )
        out = walk["out"]
        codes = np.ones((out, out), dtype=np.uint8)
        codes.flat[walk["step"]] = 2
        cell = max(picture.shape[0] // max(out, 1) // 2, 6)
        grid = np.repeat(np.repeat(_PALETTE[codes], cell, axis=0), cell, axis=1)
        grid[::cell, :] = 90
        grid[:, ::cell] = 90
        grid[-1, :] = 90
        grid[:, -1] = 90
        _set_image(ax_out, im_grid, grid)
        ax_out.set_xlim(-0.5, picture.shape[1] - 0.5)
        ax_out.set_ylim(picture.shape[0] - 0.5, -0.5)
        ax_out.set_title(
            f"output {state['produced']}x{state['produced']} (formula {state['formula']})",
            fontsize=9,
        )
        fmap = state["feature_map"]
        _set_image(ax_img, im_img, fmap, 0.0, 1.0)
        ax_img.set_xlim(-0.5, fmap.shape[1] - 0.5)
        ax_img.set_ylim(fmap.shape[0] - 0.5, -0.5)
        ax_img.set_title(f"image: {fmap.shape[0]}x{fmap.shape[1]}", fontsize=9)

    def after_view(explorer, state):
        explorer.controls["step"].max = state["produced"] ** 2 - 1

    return Explorer(controls, view, figure, draw, after_view=after_view)


def stride_padding_small_multiples(
    n: int = 7,
    k: int = 3,
    settings=((1, "valid"), (1, "same"), (2, "valid"), (2, "same")),
    size: float = 2.4,
) -> plt.Figure:
    """Static companion of the stride and padding explorer: window walks for a few settings.

    Each panel shows the n×n input (white), its padding (grey), the first window (orange)
    and the centre of every window position, titled with the output size from the formula
    and the one ``conv2d`` produced.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = stride_padding_small_multiples(); len(fig.axes); plt.close(fig)
    4
    """
    fig, axes = plt.subplots(
        1, len(settings), figsize=(size * len(settings), size + 0.9), squeeze=False
    )
    for ax, (stride, padding) in zip(axes[0], settings, strict=True):
        walk = window_walk_picture(n, k, stride, padding)
        produced = conv2d(np.zeros((n, n)), np.ones((k, k)), stride, padding).shape[0]
        ax.imshow(walk["picture"], interpolation="nearest")
        ax.scatter(walk["centres"][:, 0], walk["centres"][:, 1], s=10, c=WINDOW_COLOUR)
        x, y, w, h = walk["window"]
        ax.add_patch(
            Rectangle((x, y), w, h, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2)
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(
            f"stride {stride}, {padding}\nformula {output_size(n, k, stride, padding)}, produced {produced}",
            fontsize=9,
        )
    fig.suptitle(
        f"A {k}x{k} window on a {n}x{n} input: dots mark each position's centre",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


# --------------------------------------------------------------------------- pooling


def pooling_view(
    image,
    mode: str = "max",
    size: int = 2,
    stride: int | None = None,
    padding: str = "valid",
    row: int = 0,
    col: int = 0,
) -> dict:
    """Everything the pooling explorer shows, for one setting (pure).

    Returns
    -------
    dict
        ``pooled`` (H', W') float32, ``global_average`` (float), ``window`` (top, left, h, w)
        of output pixel (row, col) in input coordinates, ``row``, ``col``, ``value``,
        ``shape``, ``label``.

    Examples
    --------
    >>> import numpy as np
    >>> state = pooling_view(np.arange(16.0).reshape(4, 4), "max", 2)
    >>> state["pooled"].tolist(), state["global_average"]
    ([[5.0, 7.0], [13.0, 15.0]], 7.5)
    """
    image = _as_float_image(image)
    stride = size if stride is None else stride
    pooled = pool2d(image, size, stride, padding, mode)
    pads = pad_amounts(padding, image.shape, (size, size), stride)
    out_h, out_w = pooled.shape
    row = int(np.clip(row, 0, out_h - 1))
    col = int(np.clip(col, 0, out_w - 1))
    global_average = float(image.mean())
    value = float(pooled[row, col])
    label = (
        f"{mode} pooling, window {size}x{size}, stride {stride}, padding {padding}: "
        f"{image.shape[0]}x{image.shape[1]} → {out_h}x{out_w}; output ({row}, {col}) = {value:.3f}; "
        f"global average of the input = {global_average:.3f}"
    )
    return {
        "pooled": pooled,
        "image": image,
        "global_average": global_average,
        "window": (row * stride - pads[0][0], col * stride - pads[1][0], size, size),
        "row": row,
        "col": col,
        "value": value,
        "shape": (out_h, out_w),
        "label": label,
        "mode": mode,
    }


def pooling_explorer(
    image=None,
    *,
    mode: str = "max",
    size: int = 2,
    stride: int = 2,
    padding: str = "valid",
) -> Explorer:
    """Pooling explorer: max versus average, window, stride, padding, and the global average.

    Parameters
    ----------
    image : (H, W) array, optional
        Default: the phantom from :func:`default_images`.
    mode : {"max", "average"}
    size, stride : int
    padding : {"valid", "same"}

    Returns
    -------
    Explorer
        Controls: ``mode``, ``size``, ``stride``, ``padding``, ``row``, ``col``.

    Examples
    --------
    >>> import numpy as np
    >>> ex = pooling_explorer(np.zeros((32, 32)))
    >>> ex.controls["size"].value = 4          # stride stays 2: overlapping windows
    >>> ex.state["shape"]
    (15, 15)
    >>> with ex.hold():                        # two changes, one update
    ...     ex.controls["size"].value = 8
    ...     ex.controls["stride"].value = 8
    >>> ex.state["shape"]
    (4, 4)
    """
    if image is None:
        image = next(iter(default_images().values()))
    image = _as_float_image(image)
    controls = {
        "mode": widgets.ToggleButtons(
            options=["max", "average"], value=mode, description="pooling"
        ),
        "size": widgets.IntSlider(value=size, min=1, max=16, description="window"),
        "stride": widgets.IntSlider(value=stride, min=1, max=16, description="stride"),
        "padding": widgets.ToggleButtons(
            options=["valid", "same"], value=padding, description="padding"
        ),
        "row": widgets.IntSlider(value=0, min=0, max=1, description="output row"),
        "col": widgets.IntSlider(value=0, min=0, max=1, description="output col"),
    }

    def view(mode, size, stride, padding, row, col):
        return pooling_view(image, mode, size, stride, padding, row, col)

    figure, (ax_in, ax_out, ax_gap) = _new_figure(3, width=3.0, height=3.0)
    im_in = _show_array(ax_in, image)
    im_in.set_clim(0, 1)
    ax_in.set_title("input", fontsize=9)
    window = Rectangle((0, 0), 1, 1, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2)
    ax_in.add_patch(window)
    im_out = _show_array(ax_out, np.zeros((2, 2)))
    marker = Rectangle((0, 0), 1, 1, fill=False, edgecolor=WINDOW_COLOUR, linewidth=2)
    ax_out.add_patch(marker)
    im_gap = _show_array(ax_gap, np.zeros((1, 1)))
    im_gap.set_clim(0, 1)
    gap_text = ax_gap.text(
        0, 0, "", ha="center", va="center", fontsize=14, color=WINDOW_COLOUR
    )

    def draw(state):
        top, left, h, w = state["window"]
        window.set_bounds(left - 0.5, top - 0.5, w, h)
        pooled = state["pooled"]
        _set_image(ax_out, im_out, pooled, 0.0, 1.0)
        ax_out.set_xlim(-0.5, pooled.shape[1] - 0.5)
        ax_out.set_ylim(pooled.shape[0] - 0.5, -0.5)
        marker.set_bounds(state["col"] - 0.5, state["row"] - 0.5, 1, 1)
        ax_out.set_title(
            f"{state['mode']} pooled {pooled.shape[0]}x{pooled.shape[1]}", fontsize=9
        )
        im_gap.set_data(np.array([[state["global_average"]]]))
        gap_text.set_text(f"{state['global_average']:.3f}")
        ax_gap.set_title("global average (1x1)", fontsize=9)

    def after_view(explorer, state):
        explorer.controls["row"].max = state["shape"][0] - 1
        explorer.controls["col"].max = state["shape"][1] - 1

    return Explorer(controls, view, figure, draw, after_view=after_view)


def pooling_small_multiples(
    image, sizes=(2, 4, 8), modes=("max", "average"), size: float = 2.0
) -> plt.Figure:
    """Static companion of the pooling explorer: max and average pooling at a few window sizes.

    Windows are non-overlapping (stride = window); each panel is titled with its shape,
    and the last column shows the global average.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig = pooling_small_multiples(np.random.rand(32, 32)); len(fig.axes); plt.close(fig)
    10
    """
    image = _as_float_image(image)
    ncols = len(sizes) + 2
    fig, axes = plt.subplots(
        len(modes),
        ncols,
        figsize=(size * ncols, size * len(modes) + 0.3),
        squeeze=False,
    )
    for r, mode in enumerate(modes):
        _show_array(axes[r, 0], image).set_clim(0, 1)
        axes[r, 0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=8)
        axes[r, 0].set_ylabel(mode, fontsize=9)
        for c, window in enumerate(sizes, start=1):
            pooled = pool2d(image, window, mode=mode)
            _show_array(axes[r, c], pooled).set_clim(0, 1)
            axes[r, c].set_title(
                f"{mode} {window}x{window}\n→ {pooled.shape[0]}x{pooled.shape[1]}",
                fontsize=8,
            )
        gap = float(image.mean())
        _show_array(axes[r, -1], np.array([[gap]])).set_clim(0, 1)
        axes[r, -1].text(
            0,
            0,
            f"{gap:.3f}",
            ha="center",
            va="center",
            color=WINDOW_COLOUR,
            fontsize=11,
        )
        axes[r, -1].set_title("global average\n→ 1x1", fontsize=8)
    fig.tight_layout()
    return fig
