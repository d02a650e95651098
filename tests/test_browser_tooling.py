"""The shared browser tooling works: a tiny anywidget, jslinked to an IntSlider,
renders and responds in headless Chromium from vendored files, network cut."""

import anywidget
import ipywidgets
import pytest
import traitlets

from browser import (
    VENDOR,
    VENDORED,
    WIDGET_SCRIPTS,
    chromium_page,
    wait_rendered,
    widgets_page,
)

pytestmark = pytest.mark.usefixtures("chromium")

ESM = """
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "cnnguide-explorer";
  root.dataset.explorer = "probe";
  const canvas = document.createElement("canvas");
  canvas.width = 40; canvas.height = 20;
  canvas.setAttribute("role", "img");
  root.appendChild(canvas);
  el.appendChild(root);
  let draws = 0;
  function draw() {
    const n = model.get("n");
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, 40, 20);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 4 * n, 20);
    canvas.setAttribute("aria-label", `bar of width ${n}`);
    root.dataset.values = JSON.stringify({ n });
    root.dataset.draws = String(++draws);
  }
  model.on("change:n", draw);
  draw();
}
export default { render };
"""


class Probe(anywidget.AnyWidget):
    _esm = ESM
    n = traitlets.Int(2).tag(sync=True)


def probe_box():
    probe = Probe()
    slider = ipywidgets.IntSlider(value=2, min=0, max=10, description="n")
    ipywidgets.jslink((slider, "value"), (probe, "n"))
    return ipywidgets.VBox([slider, probe])


def test_vendor_files_present():
    for rel in WIDGET_SCRIPTS + VENDORED:
        assert (VENDOR / rel).stat().st_size > 0, rel
    for folder in ("requirejs", "html-manager", "anywidget"):
        assert (VENDOR / folder / "LICENSE").exists(), folder


def test_chromium_page_blocks_the_network(tmp_path):
    page_file = tmp_path / "p.html"
    page_file.write_text(
        '<img src="https://example.org/x.png"><script>undefined_name()</script>'
    )
    with chromium_page(roots=[tmp_path]) as page:
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        assert page.blocked == ["https://example.org/x.png"]
        assert any("undefined_name" in e for e in page.errors)


def test_chromium_page_flags_files_outside_roots(tmp_path):
    inside = tmp_path / "site"
    inside.mkdir()
    (tmp_path / "outside.js").write_text("window.x = 1;")
    page_file = inside / "p.html"
    page_file.write_text('<script src="../outside.js"></script>')
    with chromium_page(roots=[inside]) as page:
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        assert [u.rsplit("/", 1)[-1] for u in page.blocked] == ["outside.js"]


def test_widgets_page_renders_and_jslink_works_offline(tmp_path):
    html = widgets_page([probe_box()], tmp_path / "probe.html")
    text = html.read_text()
    assert "cdn" not in text.lower() and "https://" not in text
    with chromium_page(roots=[tmp_path, VENDOR]) as page:
        page.goto(html.as_uri())
        wait_rendered(page)
        root = page.locator(".cnnguide-explorer")
        assert root.get_attribute("data-values") == '{"n":2}'
        before = page.locator("canvas").screenshot()
        page.locator(".widget-slider [role=slider]").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('.cnnguide-explorer').dataset.draws === '2'"
        )
        assert root.get_attribute("data-values") == '{"n":3}'
        assert page.locator("canvas").screenshot() != before
        assert page.locator("canvas").get_attribute("aria-label") == "bar of width 3"
        page.wait_for_load_state("networkidle")
        assert page.errors == []
        assert page.blocked == []


def test_chromium_page_allows_only_the_named_loopback_origin(tmp_path):
    import functools
    import http.server
    import threading

    (tmp_path / "index.html").write_text(
        '<script src="/ok.js"></script><img src="http://127.0.0.1:9/other.png">'
    )
    (tmp_path / "ok.js").write_text("window.ok = 1;")
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with chromium_page(allow=[origin]) as page:
            page.goto(origin + "index.html")
            page.wait_for_load_state("load")
            assert page.evaluate("window.ok") == 1
            assert page.blocked == ["http://127.0.0.1:9/other.png"]
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ValueError, match="loopback"):
        with chromium_page(allow=["https://example.org/"]):
            pass
