"""Headless-Chromium tooling shared by the browser tests and ``make check-book``.

Two helpers:

- :func:`chromium_page` opens Debian's Chromium through Playwright with the
  network cut: every request that is not a ``file://`` URL under one of the
  allowed folders, nor under an allowed loopback origin, is aborted and
  recorded in ``page.blocked``; uncaught page errors, console errors and failed
  requests are recorded in ``page.errors``.
- :func:`widgets_page` writes a standalone HTML file that embeds ipywidgets /
  anywidget state and loads the vendored require.js, anywidget AMD module and
  ``@jupyter-widgets/html-manager`` from ``_vendor/`` (no CDN): what the built
  book does, without building a book.

Usage in a test (``tests/`` is on ``sys.path`` under pytest)::

    from browser import chromium_page, widgets_page, wait_rendered

    def test_view(tmp_path, chromium):          # fixture: fails under CI=true
        html = widgets_page([slider, explorer.box], tmp_path / "page.html")
        with chromium_page() as page:
            page.goto(html.as_uri())
            wait_rendered(page, ".cnnguide-explorer")
            assert page.errors == [] and page.blocked == []

What ``make check-book`` (``tests/check_book.py``) and ``make test`` (the small
book in ``tests/test_book_browser.py``) require of every explorer in a page:
zero page errors; it renders (``data-draws`` >= 1); and every **enabled** control
(sliders by ArrowRight/ArrowLeft on the focused handle, dropdowns by ArrowDown,
toggle buttons by a click, FloatText by typing a value and Enter) makes
``data-draws`` increase **and** changes the canvas pixels. A control that cannot
change the view in the current state (a weight grid while a named kernel is
chosen, ``beta`` for a function without one) must be disabled (or act, e.g.
switch the kernel to custom); disabled controls are skipped.

Under ``CI=true`` a missing Chromium or Playwright fails the test (the
``chromium`` fixture, or :func:`require_chromium`); elsewhere it skips with the
command that installs it.
"""

from __future__ import annotations

import html as _html
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "_vendor"

#: The script the book loads on widget pages (relative to the vendor folder,
#: which ``html_extra_path`` copies to the root of ``_build/html``); it loads
#: require.js, configures it and loads the html-manager's embed-amd.js.
WIDGET_SCRIPTS = ("widgets.js",)
#: The vendored files it loads.
VENDORED = (
    "requirejs/require.js",
    "html-manager/embed-amd.js",
    "anywidget/index.js",
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    "--no-proxy-server",
    # Belt and braces under the request routing: no host name resolves, so
    # nothing that bypasses the route (websockets, prefetches) leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    # Let file:// pages load file:// scripts and fonts like a local server would.
    "--allow-file-access-from-files",
]

INSTALL_HINT = (
    "needs Debian's chromium (apt-get install chromium) and Python playwright "
    "(pip install -e '.[test]')"
)


def chromium_executable() -> str | None:
    """Path of the Chromium binary (``$CNNGUIDE_CHROMIUM``, else on ``PATH``)."""
    env = os.environ.get("CNNGUIDE_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def require_chromium() -> str:
    """Chromium's path; fail under ``CI=true`` when it or Playwright is missing,
    skip (with the install command) elsewhere."""
    missing = None
    exe = chromium_executable()
    if exe is None:
        missing = "Chromium not found"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Python playwright not installed"
    if missing:
        message = f"{missing}: the browser test {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


@pytest.fixture(scope="session")
def chromium() -> str:
    """Pytest fixture: Chromium's path (fails under CI=true when missing)."""
    return require_chromium()


def _file_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path)).resolve()


def _is_under(path: Path, folders: Iterable[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


@contextmanager
def chromium_page(
    roots: Iterable[str | os.PathLike] | None = None,
    allow: Iterable[str] = (),
    *,
    viewport: dict | None = None,
    timeout_ms: int = 30_000,
) -> Iterator:
    """A Playwright page in headless Chromium with the network cut.

    Parameters
    ----------
    roots : folders, optional
        ``file://`` requests must fall under one of these (for example the
        book's ``_build/html``); anything else is recorded in ``page.blocked``.
        ``None`` allows any local file.
    allow : iterable of str
        URL prefixes let through, for loopback servers only (for example
        ``"http://127.0.0.1:8888/"``; websockets to loopback pass too).
    viewport : dict, optional
        Page size, default 1280 × 900.
    timeout_ms : int
        Default timeout of Playwright waits.

    Yields
    ------
    playwright.sync_api.Page
        With extra attributes ``blocked`` (URLs aborted or outside ``roots``),
        ``errors`` (page errors, console errors, failed requests) and
        ``requests`` (every URL asked for).
    """
    from playwright.sync_api import sync_playwright

    exe = require_chromium()
    folders = None if roots is None else [Path(r).resolve() for r in roots]
    allowed = tuple(allow)
    for prefix in allowed:
        host = urlsplit(prefix).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"allow={prefix!r}: only loopback origins may be allowed")

    blocked: list[str] = []
    errors: list[str] = []
    requests: list[str] = []

    def permitted(url: str) -> bool:
        scheme = urlsplit(url).scheme
        if scheme in ("data", "blob", "about"):
            return True
        if scheme == "file":
            return folders is None or _is_under(_file_path(url), folders)
        return url.startswith(allowed) if allowed else False

    def route(r):
        url = r.request.url
        if permitted(url):
            r.continue_()
        else:
            if url not in blocked:
                blocked.append(url)
            r.abort("blockedbyclient")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=viewport or {"width": 1280, "height": 900},
                service_workers="block",
            )
            context.set_default_timeout(timeout_ms)
            context.route("**/*", route)
            page = context.new_page()

            def on_request(req):
                requests.append(req.url)
                # In case a file:// request bypasses the route, check it here.
                if (
                    urlsplit(req.url).scheme == "file"
                    and not permitted(req.url)
                    and req.url not in blocked
                ):
                    blocked.append(req.url)

            def on_failed(req):
                if req.url not in blocked:
                    errors.append(f"request failed: {req.url} ({req.failure})")

            def on_console(msg):
                if msg.type == "error":
                    text = msg.text
                    # An aborted request logs this; it is counted in `blocked`.
                    if "ERR_BLOCKED_BY_CLIENT" in text:
                        return
                    errors.append(f"console: {text}")

            page.on("request", on_request)
            page.on("requestfailed", on_failed)
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on(
                "websocket",
                lambda ws: (
                    None
                    if permitted(ws.url.replace("ws", "http", 1))
                    else blocked.append(ws.url)
                ),
            )
            page.blocked = blocked
            page.errors = errors
            page.requests = requests
            yield page
        finally:
            browser.close()


def wait_rendered(
    page, selector: str = ".cnnguide-explorer", count: int = 1, timeout_ms: int = 30_000
) -> None:
    """Wait until ``count`` elements matching ``selector`` have drawn once
    (``data-draws`` ≥ 1)."""
    page.wait_for_function(
        """([sel, n]) => {
            const els = document.querySelectorAll(sel);
            return els.length >= n && [...els].every(
                e => Number(e.dataset.draws || 0) >= 1);
        }""",
        arg=[selector, count],
        timeout=timeout_ms,
    )


def widgets_page(
    widgets,
    path: str | os.PathLike,
    *,
    title: str = "widgets",
    vendor: str | os.PathLike | None = None,
) -> Path:
    """Write a standalone HTML page showing ``widgets`` from their embedded state.

    The page loads ``widgets.js`` from the vendor folder by ``file://`` URL,
    which loads require.js, points it at the vendored anywidget module and
    loads the html-manager's ``embed-amd.js``, as the built book does from
    ``_build/html``: no CDN, no kernel.

    Parameters
    ----------
    widgets : widget or list of widgets
        Each is shown as one view; an explorer is shown as its ``box``
        (controls and view), as a notebook displays it.
    path : path
        The HTML file to write (its folder is created).
    title : str
        The page title.
    vendor : path, optional
        Folder with the vendored files, default ``_vendor/`` at the repository
        root.

    Returns
    -------
    pathlib.Path
        The written file (open it with ``path.as_uri()``).
    """
    from ipywidgets.embed import embed_data

    if not isinstance(widgets, (list, tuple)):
        widgets = [widgets]
    # An explorer shows its controls with it, as displaying it in a notebook does.
    widgets = [getattr(w, "box", w) for w in widgets]
    vendor = Path(vendor or VENDOR).resolve()
    for rel in WIDGET_SCRIPTS + VENDORED:
        if not (vendor / rel).exists():
            raise FileNotFoundError(
                f"{vendor / rel} is missing: run _vendor/update.sh (make vendor)"
            )
    # Full state: anywidget needs its `_esm` and view name, which are defaults.
    data = embed_data(views=list(widgets), drop_defaults=False)

    def script_json(obj) -> str:
        return json.dumps(obj).replace("</", "<\\/")

    scripts = "\n".join(
        f'<script src="{(vendor / rel).as_uri()}"></script>' for rel in WIDGET_SCRIPTS
    )
    views = "\n".join(
        '<div class="widget-view">'
        f'<script type="application/vnd.jupyter.widget-view+json">{script_json(v)}'
        "</script></div>"
        for v in data["view_specs"]
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_html.escape(title)}</title>
{scripts}
</head>
<body>
<script type="application/vnd.jupyter.widget-state+json">{script_json(data["manager_state"])}</script>
{views}
</body>
</html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path.resolve()
