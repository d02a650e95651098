"""The whole book as one PDF, printed from the already built HTML (``make pdf``).

No chapter runs a second time: every page of ``_build/html`` is opened in
headless Chromium (Playwright over Debian's ``chromium``, the network cut),
the script waits until MathJax has typeset every formula (a bare
``chromium --print-to-pdf`` prints before it does), hides the live explorers
(their static small-multiples twin beside each one prints instead), prints
the page with the print style sheet, and the pages are joined in the order
of ``_toc.yml`` with ``pypdf``, one outline entry per page. The file is
written to a temporary name and renamed.

Usage::

    python book/print_pdf.py [--html _build/html] [--out _build/pdf/book.pdf]
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: Live views that cannot print: the explorers and any other widget output.
#: Their static twin (a figure in the same cell's output) stays.
PRINT_CSS = """
@media print {
  .cnnguide-explorer, .jupyter-widgets, .widget-view,
  .cell_output .widget-vbox, .cell_output .widget-hbox { display: none !important; }
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article,
  .prev-next-area, .bd-footer, .bd-footer-article { display: none !important; }
  .bd-main, .bd-content, .bd-article-container { max-width: 100% !important; }
}
"""

WAIT_FOR_MATH = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) await MathJax.typesetPromise();
  }
  return [...document.querySelectorAll('.math')]
    .filter(e => !e.querySelector('mjx-container')).length;
}
"""


def toc_pages(toc_file: Path) -> list[str]:
    """Every document of a Jupyter Book ``_toc.yml``, in reading order."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in pages]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit(
            "make pdf prints with Chromium, which is missing: "
            "sudo apt-get install chromium (Debian/Ubuntu)"
        )
    return exe


def print_pages(html_dir: Path, pages: list[str]) -> list[tuple[str, bytes]]:
    """(title, PDF bytes) of each built page, printed once MathJax is done."""
    from playwright.sync_api import sync_playwright

    html_dir = html_dir.resolve()
    printed = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium())
        page = browser.new_page()
        # Nothing leaves the machine: only the built book's own files load.
        page.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(("file://", "data:", "blob:"))
                else r.abort()
            ),
        )
        for doc in pages:
            path = html_dir / f"{doc}.html"
            if not path.is_file():
                raise SystemExit(f"{path} is missing: build the book first (make book)")
            page.goto(path.as_uri(), wait_until="load")
            left = page.evaluate(WAIT_FOR_MATH)
            if left:
                raise SystemExit(f"{doc}: {left} formulas were not typeset")
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            title = page.title().split(" — ")[0].strip() or doc
            pdf = page.pdf(
                format="A4",
                print_background=True,
                margin={
                    "top": "15mm",
                    "bottom": "15mm",
                    "left": "12mm",
                    "right": "12mm",
                },
            )
            printed.append((title, pdf))
        browser.close()
    return printed


def join(printed: list[tuple[str, bytes]], out: Path) -> int:
    """Join the pages into ``out`` (temporary name, then renamed); return pages."""
    from pypdf import PdfReader, PdfWriter

    sys.path.insert(0, str(ROOT))
    from cnnguide.files import write_bytes

    writer = PdfWriter()
    for title, pdf in printed:
        start = len(writer.pages)
        writer.append(PdfReader(io.BytesIO(pdf)))
        writer.add_outline_item(title=title, page_number=start)
    buffer = io.BytesIO()
    writer.write(buffer)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, buffer.getvalue())
    return len(writer.pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf"
    )
    args = parser.parse_args(argv)
    printed = print_pages(args.html, toc_pages(args.toc))
    n = join(printed, args.out)
    size = args.out.stat().st_size / 2**20
    print(f"wrote {args.out}: {n} pages, {size:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
