"""The one explorer pattern: an anywidget whose ES module computes and draws.

An explorer is a small :class:`Explorer` subclass: traitlets for its data (image
bytes, scores, precomputed maps) and its parameters (kernel, stride,
threshold...), and one ES module in ``explorers/static/`` that renders **and
computes** in the browser. Python never redraws: it sets traits and the front
end draws, in JupyterLab and in the static book alike (the page embeds the
widget state, ES module included, so the view responds with no kernel).

The controls are ordinary ipywidgets, tied to the explorer's traits with
:func:`ipywidgets.jslink`, a link that runs in the browser from the embedded
state. ``explorer.stride = 2`` from Python moves the slider and redraws.

Controls and links
------------------
- A **value control** (``IntSlider``, ``FloatSlider``, ``Checkbox``,
  ``FloatText``...) for trait ``name``: ``jslink((control, "value"),
  (explorer, name))``.
- A **selection control** (``Dropdown``, ``ToggleButtons``,
  ``SelectionSlider``...) syncs only its ``index`` with the page (its ``value``
  lives in Python), so it is linked to a second trait, ``<name>_index``
  (an ``Int`` tagged ``sync=True``, which the subclass declares). The choices
  are published in the synced :attr:`Explorer.options` trait, and the ES module
  reads the current choice as ``options[name][<name>_index]`` (``choice()`` in
  ``_shared.js``). In Python, ``explorer.<name>`` and ``explorer.<name>_index``
  are kept equal both ways, so ``explorer.padding = "same"`` works.
- In Python, each trait also sets its control's value (a one-way link, trait to
  control), so a notebook executed headless that sets ``explorer.stride = 2``
  saves the slider at 2 too (the page's link copies the control's saved value
  into the explorer when it loads).
- :attr:`Explorer.control_models` names every control's model for the ES
  module, which may adjust a slider's ``max`` (the last window position
  depends on the settings) through ``model.widget_manager``; where that is not
  available the module clamps the position itself.

Front-end contract, which the browser tests rely on: the module's root element
carries ``class="cnnguide-explorer"`` and ``data-explorer="<name>"``; after each
draw it sets ``data-draws`` (a counter), ``data-draw-ms`` (the draw's duration)
and ``data-values`` (JSON of what the view shows, computed by the same function
that feeds the drawing; large arrays as ``{"dtype", "shape", "b64"}``, see
:func:`decode_array`), and the canvas carries ``role="img"`` with an
``aria-label`` naming the settings and the output size. In a live kernel the
same small summary is written back to the :attr:`Explorer.summary` trait.

Images travel as 8-bit greyscale bytes (:func:`encode_images`): what the page
convolves is ``pixels / 255``, and :func:`decode_images` gives Python the same
array.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path

import anywidget
import ipywidgets
import numpy as np
import traitlets
from ipywidgets.widgets.widget_selection import _Selection
from cnnguide.images import as_model_input

__all__ = [
    "STATIC",
    "Explorer",
    "ImageExplorer",
    "as_grey_image",
    "decode_array",
    "decode_images",
    "default_images",
    "encode_images",
    "image_choices",
    "load_esm",
    "show_array",
]

STATIC = Path(__file__).parent / "static"


def load_esm(name: str) -> str:
    """Source of explorer ``name``'s ES module: ``_shared.js`` then ``<name>.js``.

    The shared file holds plain function declarations (drawing a grey image,
    colour maps, the data-attribute contract); each explorer's own file ends
    with ``export default { render }``.

    Examples
    --------
    >>> "export default" in load_esm("convolution")
    True
    """
    shared = STATIC / "_shared.js"
    own = STATIC / f"{name}.js"
    parts = [shared.read_text(encoding="utf-8")] if shared.exists() else []
    parts.append(own.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _choices(control: _Selection) -> list:
    values = getattr(control, "_options_values", None)
    if values is None:  # pragma: no cover - older ipywidgets
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
    return list(values)


class Explorer(anywidget.AnyWidget):
    """Base class: an anywidget view plus the ipywidgets controls linked to it.

    Parameters
    ----------
    controls : mapping of str to ipywidgets value widgets
        Each control is linked to the trait of the same name (selection
        controls through ``<name>_index``; see the module docstring).
    rows : sequence of sequences, optional
        Layout of the controls above the view: each row is a list of control
        names or extra widgets (labels...). Default: all controls in one row.
    **traits
        Initial trait values.

    Attributes
    ----------
    controls : dict
        The control widgets, by trait name.
    box : ipywidgets.VBox
        Controls above the view; displaying the explorer displays this box.
    summary : dict
        What the front end last drew (small values only), written back by the
        ES module when a kernel is live.
    options : dict
        Choices of each selection control, by trait name (synced).
    control_models : dict
        The controls, by trait name, as widget references for the ES module.

    Examples
    --------
    >>> class Demo(Explorer):
    ...     _esm = "export default { render() {} }"
    ...     n = traitlets.Int(2).tag(sync=True)
    ...     mode = traitlets.Enum(["a", "b"], "a")
    ...     mode_index = traitlets.Int(0).tag(sync=True)
    >>> demo = Demo({"n": ipywidgets.IntSlider(), "mode": ipywidgets.Dropdown(options=["a", "b"])})
    >>> demo.mode = "b"
    >>> demo.mode_index, demo.controls["mode"].value, demo.options
    (1, 'b', {'mode': ['a', 'b']})
    >>> demo.n = 5; demo.controls["n"].value
    5
    """

    summary = traitlets.Dict().tag(sync=True)
    options = traitlets.Dict().tag(sync=True)
    control_models = traitlets.Dict().tag(sync=True, **ipywidgets.widget_serialization)

    def __init__(
        self,
        controls: Mapping[str, ipywidgets.ValueWidget],
        *,
        rows: Sequence[Sequence] | None = None,
        **traits,
    ):
        super().__init__(**traits)
        self.controls = dict(controls)
        self._links = []
        options = {}
        for name, control in self.controls.items():
            if not self.has_trait(name):
                raise TypeError(f"{type(self).__name__} has no trait {name!r}")
            if isinstance(control, _Selection):
                options[name] = self._link_selection(name, control)
            else:
                control.value = getattr(self, name)
                self._links.append(ipywidgets.jslink((control, "value"), (self, name)))
                self._links.append(traitlets.dlink((self, name), (control, "value")))
        self.options = options
        self.control_models = dict(self.controls)
        if rows is None:
            rows = [list(self.controls)]
        self.box = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    [self.controls[i] if isinstance(i, str) else i for i in row]
                )
                for row in rows
            ]
            + [self]
        )

    def _link_selection(self, name: str, control: _Selection) -> list:
        index_name = f"{name}_index"
        if not self.has_trait(index_name):
            raise TypeError(
                f"{type(self).__name__}.{name} has a selection control: declare "
                f"{index_name} = traitlets.Int().tag(sync=True) (the page links the "
                "control's index to it)"
            )
        values = _choices(control)
        current = getattr(self, name)
        if current not in values:
            raise traitlets.TraitError(
                f"{name}={current!r} is not one of the choices {values}"
            )
        control.value = current
        setattr(self, index_name, values.index(current))

        def from_value(change):
            setattr(self, index_name, values.index(change["new"]))
            control.value = change["new"]

        def from_index(change):
            index = change["new"]
            if 0 <= index < len(values):
                setattr(self, name, values[index])

        self.observe(from_value, names=name)
        self.observe(from_index, names=index_name)
        self._links.append(ipywidgets.jslink((control, "index"), (self, index_name)))
        return values

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


class ImageExplorer(Explorer):
    """An explorer of images: the pixels travel to the page, one is chosen.

    Traits ``pixels`` (every image's 8-bit bytes, concatenated, synced as a
    binary buffer), ``shapes`` (their ``[H, W]``), ``image`` (the chosen name,
    with its selection control ``image_index``). Subclasses call
    ``super().__init__(controls, images=..., ...)`` with ``controls["image"]``
    left out: it is made here from the image names.
    """

    pixels = traitlets.Bytes().tag(sync=True)
    shapes = traitlets.List().tag(sync=True)
    image = traitlets.Unicode()
    image_index = traitlets.Int(0).tag(sync=True)

    @traitlets.validate("image")
    def _check_image(self, proposal):
        if proposal["value"] not in self._image_names:
            raise traitlets.TraitError(
                f"unknown image {proposal['value']!r}; choose one of {self._image_names}"
            )
        return proposal["value"]

    def __init__(self, controls, *, images=None, **traits):
        images = image_choices(images)
        self._image_names = list(images)
        data, shapes, names = encode_images(images)
        controls = {
            "image": ipywidgets.Dropdown(
                options=names,
                description="image",
                style={"description_width": "initial"},
                layout=ipywidgets.Layout(width="max-content"),
            ),
            **controls,
        }
        super().__init__(controls, pixels=data, shapes=shapes, image=names[0], **traits)

    @property
    def largest_side(self) -> int:
        """The longest side of any image (bounds the output-position sliders)."""
        return max(max(shape) for shape in self.shapes)

    def images_as(self, dtype=np.float32) -> dict[str, np.ndarray]:
        """The images as the page sees them (``bytes / 255``), by name."""
        return dict(
            zip(self._image_names, decode_images(self.pixels, self.shapes, dtype))
        )

    @property
    def images(self) -> dict[str, np.ndarray]:
        """The images as the page sees them (float32 ``bytes / 255``), by name."""
        return self.images_as(np.float32)

    @property
    def image_array(self) -> np.ndarray:
        """The chosen image as the page sees it: float32 ``bytes / 255``."""
        return self.images[self.image]


# --------------------------------------------------------------------------- images


def as_grey_image(image) -> np.ndarray:
    """One greyscale image as float32 in [0, 1], ``(H, W)``.

    The package's one rule (:func:`cnnguide.images.as_model_input`): uint8 is
    divided by 255, uint16 by 65535, floats in [0, 1] are kept, anything else is
    refused. A trailing channel axis of length 1 is dropped; colour images are
    refused.

    Examples
    --------
    >>> as_grey_image(np.full((2, 2), 255, np.uint8)).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    >>> as_grey_image(np.zeros((4, 4, 3)))
    Traceback (most recent call last):
    ...
    ValueError: explorers take one greyscale (H, W) image, got shape (4, 4, 3)
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(
            f"explorers take one greyscale (H, W) image, got shape {image.shape}"
        )
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError("the image holds NaN or infinite values")
    return as_model_input(image[np.newaxis])[0, :, :, 0]


def encode_images(images: Mapping[str, np.ndarray]) -> tuple[bytes, list, list]:
    """Images as the page receives them: 8-bit bytes, concatenated.

    Returns
    -------
    (bytes, shapes, names)
        ``bytes`` holds every image row-major, one after the other, each pixel
        ``round(255 * value)``; ``shapes`` their ``[H, W]``; ``names`` their keys.

    Examples
    --------
    >>> data, shapes, names = encode_images({"a": np.ones((2, 3))})
    >>> len(data), shapes, names
    (6, [[2, 3]], ['a'])
    """
    if not images:
        raise ValueError("an explorer needs at least one image")
    chunks, shapes = [], []
    for image in images.values():
        grey = as_grey_image(image)
        chunks.append(np.round(grey * 255).astype(np.uint8).tobytes())
        shapes.append([int(grey.shape[0]), int(grey.shape[1])])
    return b"".join(chunks), shapes, list(images)


def decode_images(data: bytes, shapes: Sequence, dtype=np.float32) -> list[np.ndarray]:
    """Inverse of :func:`encode_images`: images ``bytes / 255``, as the page sees them.

    The page divides in float64; ``dtype=np.float64`` gives exactly its numbers.

    Examples
    --------
    >>> decode_images(bytes([0, 255]), [[1, 2]])[0].tolist()
    [[0.0, 1.0]]
    """
    pixels = np.frombuffer(bytes(data), dtype=np.uint8)
    out, start = [], 0
    for h, w in shapes:
        block = pixels[start : start + h * w].reshape(h, w).astype(dtype)
        out.append(block / np.asarray(255, dtype=dtype))
        start += h * w
    if start != pixels.size:
        raise ValueError(f"{pixels.size} bytes do not match the shapes {shapes}")
    return out


def decode_array(encoded) -> np.ndarray:
    """An array the page exposed in ``data-values`` (``{"dtype", "shape", "b64"}``).

    Plain lists pass through :func:`numpy.asarray`.

    Examples
    --------
    >>> import base64
    >>> raw = base64.b64encode(np.arange(4.0).tobytes()).decode()
    >>> decode_array({"dtype": "float64", "shape": [2, 2], "b64": raw}).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    if isinstance(encoded, Mapping) and "b64" in encoded:
        raw = base64.b64decode(encoded["b64"])
        return np.frombuffer(raw, dtype=encoded["dtype"]).reshape(encoded["shape"])
    return np.asarray(encoded)


def default_images(size: int = 256) -> dict[str, np.ndarray]:
    """Images for the explorers: a synthetic phantom, and a real X-ray when PneumoniaMNIST is present.

    The real X-ray is the first image of the **training** split (explorers never
    show test images).

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
        f"phantom (synthetic, {size}x{size})": as_grey_image(
            make_phantom(size, seed=0).images[0]
        )
    }
    try:
        from cnnguide.data import DataError, load_dataset

        dataset = load_dataset(size=28, allow_phantoms=False)
        if dataset.is_real:
            images["X-ray (PneumoniaMNIST train, 28x28)"] = as_grey_image(
                dataset["train"].images[0]
            )
    except (ImportError, DataError, OSError):
        pass  # no real data here: the phantom alone
    return images


def show_array(ax, image: np.ndarray, cmap: str = "gray"):
    """``ax.imshow`` without ticks or frame, for the static small multiples."""
    im = ax.imshow(image, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return im


def image_choices(images) -> dict[str, np.ndarray]:
    """``None`` (the defaults), one array, or a mapping of names to arrays -> checked mapping."""
    if images is None:
        images = default_images()
    elif not isinstance(images, Mapping):
        images = {"image": images}
    images = {str(name): as_grey_image(image) for name, image in images.items()}
    if not images:
        raise ValueError("an explorer needs at least one image")
    return images
