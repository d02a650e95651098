"""cnnguide.explorers, the package: its registry (every explorer, its ``.js``
file, class, static twin and demo), the pattern (_core: traits, links to the
controls, images as bytes) and the helpers every explorer shares. Each explorer
has its own tests in test_explorers_<name>.py and, for what its page computes,
test_explorers_<name>_browser.py."""

import json

import ipywidgets
import numpy as np
import pytest
import traitlets

import cnnguide.explorers as explorers_package
from cnnguide.explorers import (
    REGISTRY,
    Explorer,
    ImageExplorer,
    decode_array,
    default_images,
)
from cnnguide.explorers import _core

# ---------------------------------------------------------------- the registry


def test_every_js_file_has_a_registry_entry_and_every_entry_its_js_file():
    js = {path.stem for path in _core.STATIC.glob("*.js")} - {"_shared"}
    assert js == set(REGISTRY), "explorers/static/*.js and REGISTRY disagree"
    for name, entry in REGISTRY.items():
        assert entry.name == name
        # the class's ES module is that file (after _shared.js) ...
        assert entry.cls._esm == _core.load_esm(name), name
        # ... whose root carries data-explorer="<name>" (the tests find it by it)
        source = (_core.STATIC / f"{name}.js").read_text(encoding="utf-8")
        assert f'explorerRoot(el, "{name}"' in source, name
        # one module per explorer, named for it, holding the class and its twin
        assert entry.cls.__module__ == f"cnnguide.explorers.{name}", name
        assert entry.twin.__module__ == entry.cls.__module__, name


def test_every_explorer_class_of_the_package_is_registered():
    exported = {
        obj
        for obj in map(explorers_package.__dict__.get, explorers_package.__all__)
        if isinstance(obj, type) and issubclass(obj, Explorer)
    }
    assert exported - {Explorer, ImageExplorer} == {e.cls for e in REGISTRY.values()}


def test_every_demo_builds_its_explorer_from_synthetic_data(monkeypatch):
    def no_dataset(*args, **kwargs):
        raise AssertionError("a demo must not look for a dataset")

    monkeypatch.setattr(_core, "default_images", no_dataset)
    for name, entry in REGISTRY.items():
        explorer = entry.demo()
        assert isinstance(explorer, entry.cls), name
        state = explorer.get_state()
        small = {k: v for k, v in state.items() if not isinstance(v, bytes)}
        assert len(json.dumps(small, default=str)) < 200_000, name


# ---------------------------------------------------------------- _core


class Demo(Explorer):
    _esm = "export default { render() {} }"
    n = traitlets.Int(2).tag(sync=True)
    mode = traitlets.Enum(["a", "b", "c"], "a")
    mode_index = traitlets.Int(0).tag(sync=True)


def demo():
    return Demo(
        {
            "n": ipywidgets.IntSlider(min=0, max=10),
            "mode": ipywidgets.ToggleButtons(options=["a", "b", "c"]),
        },
        rows=[["mode"], [ipywidgets.HTML("note"), "n"]],
    )


def test_core_links_value_controls_by_value_and_selections_by_index():
    ex = demo()
    from ipywidgets.widgets.widget_link import Link

    links = [link for link in ex._links if isinstance(link, Link)]
    pairs = {(link.source[1], link.target[1]) for link in links}
    assert pairs == {("value", "n"), ("index", "mode_index")}
    assert ex.options == {"mode": ["a", "b", "c"]}
    assert set(ex.control_models) == {"n", "mode"}
    # widget references the page can resolve
    state = ex.get_state()
    assert state["control_models"]["n"] == f"IPY_MODEL_{ex.controls['n'].model_id}"


def test_core_keeps_trait_index_and_control_equal():
    ex = demo()
    ex.mode = "c"
    assert (ex.mode_index, ex.controls["mode"].value) == (2, "c")
    ex.mode_index = 1  # what the page's link sends back
    assert (ex.mode, ex.controls["mode"].value) == ("b", "b")
    ex.n = 7  # Python -> control, so a saved notebook shows it
    assert ex.controls["n"].value == 7
    with pytest.raises(traitlets.TraitError):
        ex.mode = "z"


def test_core_layout_and_display():
    ex = demo()
    rows = ex.box.children
    assert rows[-1] is ex
    assert rows[0].children == (ex.controls["mode"],)
    assert rows[1].children[1] is ex.controls["n"]
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in (
        bundle[0] if isinstance(bundle, tuple) else bundle
    )


def test_core_refuses_a_selection_without_index_trait_or_a_missing_trait():
    class NoIndex(Explorer):
        _esm = "export default { render() {} }"
        mode = traitlets.Unicode("a")

    with pytest.raises(TypeError, match="mode_index"):
        NoIndex({"mode": ipywidgets.Dropdown(options=["a"])})
    with pytest.raises(TypeError, match="no trait"):
        NoIndex({"other": ipywidgets.IntSlider()})


def test_load_esm_puts_the_shared_helpers_first():
    for name in ("convolution", "stride_padding", "pooling"):
        source = _core.load_esm(name)
        assert source.index("function bytesOf") < source.index("function render")
        assert source.rstrip().endswith("export default { render };")


def test_images_travel_as_bytes_and_come_back_as_the_page_sees_them():
    data, shapes, names = _core.encode_images(
        {"u8": np.array([[0, 128, 255]], np.uint8), "f": np.array([[0.5], [1.0]])}
    )
    assert data == bytes([0, 128, 255, 128, 255]) and shapes == [[1, 3], [2, 1]]
    back = _core.decode_images(data, shapes, np.float64)
    assert back[0].tolist() == [[0.0, 128 / 255, 1.0]]
    assert back[1].shape == (2, 1)
    with pytest.raises(ValueError, match="bytes"):
        _core.decode_images(data, [[1, 3]])


def test_as_grey_image_scales_and_refuses():
    """The explorers follow the package's one rule (images.as_model_input)."""
    assert _core.as_grey_image(np.array([[0, 65535]], np.uint16)).tolist() == [
        [0.0, 1.0]
    ]
    assert _core.as_grey_image(np.array([[0.25, 1.0]])).tolist() == [[0.25, 1.0]]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):  # not rescaled silently
        _core.as_grey_image(np.array([[-1.0, 1.0]]))
    assert _core.as_grey_image(np.ones((3, 3, 1))).shape == (3, 3)
    with pytest.raises(ValueError, match="greyscale"):
        _core.as_grey_image(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        _core.as_grey_image(np.array([[np.nan]]))
    with pytest.raises(TypeError, match="scale is unknown"):
        _core.as_grey_image(np.array([["a"]]))


def test_decode_array_reads_what_the_page_exposes():
    import base64

    array = np.arange(6.0).reshape(2, 3)
    encoded = {
        "dtype": "float64",
        "shape": [2, 3],
        "b64": base64.b64encode(array.tobytes()).decode(),
    }
    np.testing.assert_array_equal(decode_array(json.loads(json.dumps(encoded))), array)
    assert decode_array([1, 2]).tolist() == [1, 2]


def test_default_images_use_training_images_only(monkeypatch):
    images = default_images(32)
    first = next(iter(images))
    assert first.startswith("phantom") and images[first].shape == (32, 32)
    for name in images:
        assert "test" not in name.lower()
        assert name.startswith("phantom") or "train" in name


def test_default_images_take_the_first_training_xray(monkeypatch):
    import cnnguide.data as data

    class FakeSplit:
        images = np.full((3, 28, 28), 200, np.uint8)

    class FakeDataset:
        is_real = True

        def __getitem__(self, split):
            assert split == "train", "explorers must not show test images"
            return FakeSplit()

    monkeypatch.setattr(data, "load_dataset", lambda **kwargs: FakeDataset())
    images = default_images(16)
    (xray,) = [v for k, v in images.items() if k.startswith("X-ray")]
    assert xray.shape == (28, 28) and np.isclose(xray[0, 0], 200 / 255)


def test_widgets_module_is_gone():
    with pytest.raises(ImportError):
        import cnnguide.widgets  # noqa: F401
