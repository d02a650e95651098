"""What the explorers' tests share (``tests/test_explorers_<name>*.py``).

Unit tests: the ``image`` fixture (a 64x64 image with structure) and
``close_figures`` (closes the static twins' figures after each test); import
``image_fixture`` and ``close_figures`` into the test module.

Browser tests (``test_explorers_<name>_browser.py``): each module defines an
``explorers`` fixture, ``{name: explorer}``, and imports ``browser_page_fixture``
and ``pages_fixture`` (the ``browser_page`` and ``pages`` fixtures): one
headless Chromium (network cut) per module and one page per explorer.
:func:`drive` sets controls in the page exactly as a reader's click does (a
slider's ``value``, a dropdown's or toggle's ``index``) and returns what the
view drew (``data-values``) and its label. :func:`explorers_page` shows
several explorers in one page instead (many settings of a cheap explorer);
:func:`shown_values`, :func:`draws` and :func:`press` read and drive it.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import pytest

from browser import chromium_page, wait_rendered, widgets_page

#: Absolute tolerance between what the page computes and the NumPy reference.
ATOL = 1e-5

# ------------------------------------------------------------------ unit tests


@pytest.fixture(scope="module", name="image")
def image_fixture():
    """A 64x64 float image with structure: a bright square on a ramp."""
    ramp = np.tile(np.linspace(0, 0.5, 64, dtype=np.float32), (64, 1))
    ramp[20:44, 20:44] = 1.0
    return ramp


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ browser tests

# Set controls (by trait name) in one go, let the links and the draw run, and
# return what the view drew. A dropdown or toggle takes an option's index.
DRIVE = """
async ([selector, steps]) => {
  const root = document.querySelector(selector);
  const api = root.cnnguide;
  const options = api.model.get("options");
  // A task (not a timer, which waits for frames): every microtask chain of the
  // links, the draw and the slider-range update has run when it comes.
  const channel = new MessageChannel();
  const tick = () => new Promise((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
  const out = [];
  for (const step of steps) {
    const models = {};
    for (const name of Object.keys(step)) models[name] = await api.control(name);
    const before = Number(root.dataset.draws);
    let changed = false;
    for (const [name, value] of Object.entries(step)) {
      const m = models[name];
      if (!m) throw new Error("no control model for " + name);
      if (name in options) {
        const index = options[name].indexOf(value);
        if (index < 0) throw new Error(name + " has no option " + value);
        if (m.get("index") !== index) { m.set("index", index); changed = true; }
      } else if (m.get("value") !== value) {
        m.set("value", value);
        changed = true;
      }
    }
    await tick();
    await tick();
    const draws = Number(root.dataset.draws);
    if (changed && draws === before) throw new Error("no redraw after " + JSON.stringify(step));
    out.push({ values: JSON.parse(root.dataset.values), label: root.querySelector("canvas").getAttribute("aria-label") });
  }
  return out;
}
"""


def random_image(h, w, seed):
    return np.random.default_rng(seed).random((h, w))


def browser_images() -> dict[str, np.ndarray]:
    """The images the image explorers' browser tests drive: 24x37 and 13x17."""
    return {"tall": random_image(24, 37, 1), "small": random_image(13, 17, 2)}


@pytest.fixture(scope="module", name="browser_page")
def browser_page_fixture(tmp_path_factory):
    """One headless Chromium (network cut) for the module; extra pages share it."""
    with chromium_page(viewport={"width": 1400, "height": 1000}) as page:
        yield page
        assert page.blocked == [], page.blocked


def open_page(browser_page, widgets, path):
    """A new page showing ``widgets``; its page errors land in ``page.errors``.

    Each explorer gets a page of its own: a page holding all three redraws its
    layout after every control change, which makes the grid several times slower.
    """
    page = browser_page.context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            page.errors.append(f"console: {msg.text}")
            if msg.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in msg.text
            else None
        ),
    )
    page.goto(widgets_page(widgets, path).as_uri())
    wait_rendered(page, ".cnnguide-explorer")
    return page


@pytest.fixture(scope="module", name="pages")
def pages_fixture(explorers, browser_page, tmp_path_factory):
    """One page per explorer of the module's ``explorers`` fixture, by name."""
    folder = tmp_path_factory.mktemp("explorers")
    opened = {
        name: open_page(browser_page, explorer.box, folder / f"{name}.html")
        for name, explorer in explorers.items()
    }
    yield opened
    for name, page in opened.items():
        assert page.errors == [], (name, page.errors)
    assert browser_page.blocked == [], browser_page.blocked


def drive(pages, name, steps):
    return pages[name].evaluate(DRIVE, [f'[data-explorer="{name}"]', steps])


def images_of(explorer):
    return explorer.images_as(np.float64)


@contextmanager
def explorers_page(explorers, folder):
    """One page showing every explorer of ``explorers`` (a list), in order;
    ``page.explorers`` is the list."""
    path = widgets_page([e.box for e in explorers], folder / "page.html")
    with chromium_page() as p:
        p.goto(path.as_uri())
        wait_rendered(p, ".cnnguide-explorer", count=len(explorers))
        p.explorers = explorers
        yield p


def assert_clean_and_labelled(page):
    """No console error or blocked request; every view an image with a label and
    a recorded drawing time."""
    assert page.errors == [] and page.blocked == []
    labels = page.eval_on_selector_all(
        ".cnnguide-explorer canvas",
        "els => els.map(e => [e.getAttribute('role'), e.getAttribute('aria-label')])",
    )
    assert len(labels) == len(page.explorers)
    assert all(role == "img" and label for role, label in labels)
    draw_ms = page.eval_on_selector_all(
        ".cnnguide-explorer", "els => els.map(e => e.dataset.drawMs)"
    )
    assert all(ms is not None and float(ms) >= 0 for ms in draw_ms)


def shown_values(page, name):
    """``data-values`` of every explorer ``name`` in the page, in page order."""
    return page.eval_on_selector_all(
        f'.cnnguide-explorer[data-explorer="{name}"]',
        "els => els.map(e => JSON.parse(e.dataset.values))",
    )


def draws(locator):
    return int(locator.get_attribute("data-draws"))


def press(page, box, handle, key="ArrowRight"):
    """Focus slider ``handle`` of ``box``, press ``key``, wait for the redraw."""
    view = box.locator(".cnnguide-explorer")
    before = draws(view)
    box.locator(".noUi-handle").nth(handle).focus()
    page.keyboard.press(key)
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.draws) > n",
        arg=[view.element_handle(), before],
    )
    return json.loads(view.get_attribute("data-values"))
