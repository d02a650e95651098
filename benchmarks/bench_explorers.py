"""Explorer response time in the browser: control change -> redrawn view, at 256 x 256.

Every explorer of the book (cnnguide.explorers) computes and draws in the page. This
benchmark renders each one alone in headless Chromium from its embedded widget state
(the vendored html-manager, no kernel, network cut: what a reader of the static book
gets), changes its ipywidgets controls the way a reader does (arrow keys on a slider,
a choice in a dropdown, a click on a toggle button) and times, in the page, from the
input event (``event.timeStamp``) to the moment the explorer's ``data-draws`` counter
moves (the draw has finished; a MutationObserver notes it). It also reports the
explorer's own ``data-draw-ms`` (compute + draw) where it sets one, and the time to
the next frame (``requestAnimationFrame`` after the draw: the pixels are on screen).

The image explorers use a 256 x 256 phantom; the convolution changes include the
costliest setting (a 15 x 15 Gaussian, stride 1, 'same': 256 * 256 * 225
multiply-adds). The feature-map explorer gets 256 x 256 maps, the threshold explorer
2,000 validation scores.

Target (issue 11): median <= 30 ms and maximum <= 100 ms per explorer.

    python benchmarks/bench_explorers.py        (or: python -m benchmarks explorers)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the shared browser tooling

from browser import chromium_executable, chromium_page, widgets_page  # noqa: E402

TARGET_MEDIAN_MS = 30.0
TARGET_MAX_MS = 100.0
SIDE = 256

# In the page: note each input event's time, and when data-draws moves.
INSTRUMENT = """
() => {
  const root = document.querySelector(".cnnguide-explorer");
  window.__bench = { input: null, drawn: null, frame: null };
  for (const type of ["keydown", "input", "change", "click"]) {
    document.addEventListener(type, (event) => {
      if (window.__bench.input === null) window.__bench.input = event.timeStamp;
    }, true);
  }
  new MutationObserver(() => {
    if (window.__bench.drawn !== null) return;
    window.__bench.drawn = performance.now();
    requestAnimationFrame(() => { window.__bench.frame = performance.now(); });
  }).observe(root, { attributes: true, attributeFilter: ["data-draws"] });
}
"""

ARM = "() => { window.__bench.input = null; window.__bench.drawn = null; window.__bench.frame = null; return Number(document.querySelector('.cnnguide-explorer').dataset.draws); }"

READ = """
(before) => {
  const root = document.querySelector(".cnnguide-explorer");
  const b = window.__bench;
  return { draws: Number(root.dataset.draws), before, input: b.input, drawn: b.drawn,
           frame: b.frame, draw_ms: root.dataset.drawMs === undefined ? null : Number(root.dataset.drawMs) };
}
"""


def phantom(side: int = SIDE) -> np.ndarray:
    from cnnguide.data.phantoms import make_phantom

    return make_phantom(side, seed=0).images[0]


def _slider(label):
    return f'.widget-slider:has(> label:text-is("{label}")) .noUi-handle'


def _select(label):
    return f'.widget-dropdown:has(> label:text-is("{label}")) select'


def _toggle(label, button):
    return f'.widget-toggle-buttons:has(> label:text-is("{label}")) button:text-is("{button}")'


def key(label, name, times=1):
    return [("key", _slider(label), name)] * times


def select(label, option):
    return [("select", _select(label), option)]


def toggle(label, button):
    return [("click", _toggle(label, button), None)]


def cases() -> dict:
    """name -> (explorer factory, the control changes to time)."""
    from cnnguide import explorers as E

    image = {"phantom 256x256": phantom()}
    rng = np.random.default_rng(0)
    out = {
        "convolution": (
            lambda: E.ConvolutionExplorer(image, kernel="sobel_x"),
            key("stride", "ArrowRight", 3)
            + key("stride", "ArrowLeft", 3)
            + toggle("padding", "same")
            + select("kernel", "gaussian")
            # up to 15 x 15, stride 1, 'same': the costliest setting
            + key("size", "ArrowRight", 6)
            + select("kernel", "laplacian_8")
            + key("output row", "ArrowRight", 4)
            + key("output col", "ArrowRight", 4)
            + toggle("padding", "valid")
            + select("kernel", "emboss"),
        ),
        "stride_padding": (
            lambda: E.StridePaddingExplorer(image),
            key("position", "ArrowRight", 5)
            + key("stride", "ArrowRight", 3)
            + toggle("padding", "same")
            + key("kernel k", "ArrowRight", 4)
            + key("input n", "ArrowRight", 5)
            + toggle("padding", "1")
            + toggle("padding", "2")
            + key("stride", "ArrowLeft", 3),
        ),
        "pooling": (
            lambda: E.PoolingExplorer(image, size=2, stride=2),
            key("window", "ArrowRight", 6)
            + key("stride", "ArrowLeft", 1)
            + toggle("pooling", "average")
            + toggle("padding", "same")
            + key("output row", "ArrowRight", 4)
            + key("window", "ArrowLeft", 6)
            + toggle("pooling", "max")
            + key("stride", "ArrowRight", 3),
        ),
    }
    try:
        from cnnguide.explorers import ActivationExplorer

        out["activations"] = (
            lambda: ActivationExplorer("leaky_relu"),
            key("alpha", "ArrowRight", 6)
            + select("function", "elu")
            + key("alpha", "ArrowLeft", 4)
            + select("function", "swish")
            + key("beta", "ArrowRight", 4)
            + key("x range ±", "ArrowRight", 4)
            + select("function", "sigmoid"),
        )
    except ImportError:
        pass
    try:
        from cnnguide.explorers import FeatureMapExplorer

        maps = {
            "conv1": rng.random((SIDE, SIDE, 8)).astype(np.float32),
            "pool1": rng.random((SIDE // 2, SIDE // 2, 16)).astype(np.float32),
            "conv2": rng.random((SIDE // 4, SIDE // 4, 32)).astype(np.float32),
        }
        out["featuremaps"] = (
            lambda: FeatureMapExplorer(maps),
            toggle("show", "one channel")
            + key("channel", "ArrowRight", 5)
            + select("layer", "pool1")
            + key("channel", "ArrowRight", 4)
            + toggle("show", "all channels")
            + select("layer", "conv2")
            + select("layer", "conv1"),
        )
    except ImportError:
        pass
    try:
        from cnnguide.explorers import ThresholdExplorer

        y_true = (rng.random(2000) < 0.7).astype(int)
        y_score = np.clip(0.35 * y_true + 0.65 * rng.random(2000), 0, 1)
        out["thresholds"] = (
            lambda: ThresholdExplorer(y_true, y_score),
            key("threshold", "ArrowRight", 10) + key("threshold", "ArrowLeft", 15),
        )
    except ImportError:
        pass
    return out


def act(page, action) -> None:
    kind, selector, arg = action
    target = page.locator(selector).first
    if kind == "key":
        target.focus()
        page.keyboard.press(arg)
    elif kind == "select":
        target.select_option(label=arg)
    else:
        target.click()


def measure(page, actions, warmup: int = 2) -> list[dict]:
    page.evaluate(INSTRUMENT)
    results = []
    for i, action in enumerate(actions):
        before = page.evaluate(ARM)
        act(page, action)
        try:
            page.wait_for_function(
                "(b) => Number(document.querySelector('.cnnguide-explorer').dataset.draws)"
                " > b && window.__bench.frame !== null",
                arg=before,
                timeout=10_000,
            )
        except Exception as error:  # a change that drew nothing is a failure
            raise RuntimeError(f"no redraw after {action}") from error
        r = page.evaluate(READ, before)
        if i >= warmup:
            results.append(r)
    return results


def main() -> int:
    if chromium_executable() is None:
        print("needs Chromium and Python playwright (see tests/browser.py)")
        return 2
    print(
        f"explorer response in headless Chromium, {SIDE}x{SIDE} (target: median <= "
        f"{TARGET_MEDIAN_MS:.0f} ms, max <= {TARGET_MAX_MS:.0f} ms, from the input event "
        "to the finished draw)"
    )
    header = (
        f"{'explorer':>15} {'n':>3} {'median ms':>10} {'max ms':>7} "
        f"{'draw median':>12} {'draw max':>9} {'to frame median':>16} {'to frame max':>13}"
    )
    print(header, flush=True)
    ok = True
    with tempfile.TemporaryDirectory() as folder, chromium_page() as page:
        for name, (make, actions) in cases().items():
            explorer = make()
            html = widgets_page(explorer.box, Path(folder) / f"{name}.html", title=name)
            page.goto(html.as_uri())
            page.wait_for_function(
                "() => Number(document.querySelector('.cnnguide-explorer')?.dataset.draws || 0) >= 1",
                timeout=30_000,
            )
            time.sleep(0.2)
            results = measure(page, actions)
            latency = [r["drawn"] - r["input"] for r in results]
            frame = [r["frame"] - r["input"] for r in results]
            draws = [r["draw_ms"] for r in results if r["draw_ms"] is not None]
            median, worst = statistics.median(latency), max(latency)
            ok &= median <= TARGET_MEDIAN_MS and worst <= TARGET_MAX_MS
            draw_text = (
                f"{statistics.median(draws):12.1f} {max(draws):9.1f}"
                if draws
                else f"{'-':>12} {'-':>9}"
            )
            print(
                f"{name:>15} {len(latency):3d} {median:10.1f} {worst:7.1f} {draw_text} "
                f"{statistics.median(frame):16.1f} {max(frame):13.1f}",
                flush=True,
            )
        if page.errors:
            print("page errors:", *page.errors, sep="\n  ")
            ok = False
    print("PASS" if ok else "FAIL: an explorer is over the target")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
