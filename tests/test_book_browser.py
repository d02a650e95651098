"""The small test book, built and opened offline in headless Chromium.

``tests/book_small/`` holds a short executed book: a page with math and one
notebook that shows every explorer of ``cnnguide.explorers.REGISTRY`` (its
demo, on tiny synthetic data). Its ``_config.yml`` is the real book's
``_config.yml`` with only what a second book must change (title, exclude
patterns, no bibliography, absolute paths to ``_vendor/`` and ``book/_ext``),
written at test time so the two never drift. The test builds it
with ``jupyter-book build -W -n --keep-going`` into a temporary folder and runs
``tests/check_book.py`` on it, the check ``make check-book`` runs on the whole
book: zero page errors, zero blocked requests, math typeset, every explorer
renders and responds to each control, a screenshot of each, pages under 4 MB.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser import require_chromium
from check_book import MAX_PAGE_BYTES, check_book, pages_of
from cnnguide.explorers import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "book_small"
# Every registered explorer: the small book shows each one's demo.
EXPLORERS = set(REGISTRY)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]


def small_book_config() -> dict:
    """The real book's configuration, adapted to the small test book."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["title"] = "cnnguide small test book"
    cfg["exclude_patterns"] = ["_build", "README.md", "update.sh", "axe-core"]
    cfg.pop("bibtex_bibfiles", None)
    sphinx = cfg.setdefault("sphinx", {})
    sphinx.setdefault("config", {}).pop("bibtex_reference_style", None)
    sphinx["config"]["html_extra_path"] = [str(ROOT / "_vendor")]
    local = sphinx.get("local_extensions") or {}
    sphinx["local_extensions"] = {
        name: str((ROOT / path).resolve()) for name, path in local.items()
    }
    return cfg


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    src = tmp_path_factory.mktemp("book") / "book_small"
    shutil.copytree(SMALL, src, ignore=shutil.ignore_patterns("_build"))
    (src / "_config.yml").write_text(
        yaml.safe_dump(small_book_config(), sort_keys=False)
    )
    jb = Path(sys.executable).with_name("jupyter-book")
    # streamlit sets MPLBACKEND=Agg in this process when a test imports it
    # (test_app); the book's kernels would inherit it and show no figures.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(
        [str(jb), "build", str(src), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, (
        f"jupyter-book build of the small book failed:\n{proc.stdout[-4000:]}\n"
        f"{proc.stderr[-4000:]}"
    )
    return src / "_build" / "html"


def test_small_book_pages_load_nothing_from_outside(small_book):
    """Static view of the built pages: every script and stylesheet is local."""
    for page in pages_of(small_book):
        text = page.read_text(encoding="utf-8")
        urls = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', text)
        remote = [u for u in urls if "://" in u or u.startswith("//")]
        assert remote == [], f"{page.name} loads {remote}"
        assert text.count("const THEBE_JS_URL") <= 1, f"{page.name}: THEBE_JS_URL twice"
    for rel in (
        "requirejs/require.js",
        "widgets.js",
        "html-manager/embed-amd.js",
        "anywidget/index.js",
        "_static/mathjax/tex-chtml.js",
    ):
        assert (small_book / rel).exists(), f"{rel} missing from the build"
    assert not (small_book / "README.md").exists()
    assert not (small_book / "update.sh").exists()
    assert not (small_book / "axe-core").exists(), "the test-only axe-core was copied"


def test_small_book_passes_the_browser_check(small_book, capsys):
    shots = small_book.parent / "screenshots"
    results = check_book(small_book, shots)
    out = capsys.readouterr().out
    failed = [r for r in results if not r.ok]
    assert failed == [], "browser check failed:\n" + out

    by_page = {r.page: r for r in results}
    explorers = by_page["explorers.html"].explorers
    assert {e.name for e in explorers} == EXPLORERS
    assert sorted(e.name for e in explorers) == sorted(REGISTRY), "each one once"
    for e in explorers:
        assert Path(e.screenshot).stat().st_size > 1000, e.name
        assert e.aria_label, e.name
        driven = [c for c in e.controls if not c.detail.endswith("skipped")]
        assert driven, f"{e.name}: no control could be driven"
    assert by_page["intro.html"].formulas >= 2
    assert all(r.bytes < MAX_PAGE_BYTES for r in results)
    # axe-core judged the name of every explorer control it found: at least
    # one control per explorer (the widget boxes hold more).
    assert by_page["explorers.html"].a11y_controls >= len(EXPLORERS)


def test_check_book_reports_a_broken_page(small_book, tmp_path):
    """The check fails a page with a CDN script and a page error."""
    broken = tmp_path / "html"
    shutil.copytree(small_book, broken)
    index = broken / "intro.html"
    text = index.read_text(encoding="utf-8")
    index.write_text(
        text.replace(
            "</head>",
            '<script src="https://cdn.jsdelivr.net/npm/x.js"></script>'
            "<script>undefinedFunction()</script></head>",
            1,
        ),
        encoding="utf-8",
    )
    results = {
        r.page: r
        for r in check_book(
            broken,
            tmp_path / "shots",
            tmp_path / "report.json",
            verbose=False,
            only=["intro.html"],
        )
    }
    bad = results["intro.html"]
    assert not bad.ok
    assert bad.blocked == ["https://cdn.jsdelivr.net/npm/x.js"]
    assert any("undefinedFunction" in e for e in bad.errors)


def test_check_book_fails_inaccessible_outputs_not_the_theme(small_book, tmp_path):
    """axe-core: an unnamed slider and faint text in an output fail the page;
    the same unnamed control outside the outputs is the theme's, reported."""
    broken = tmp_path / "html"
    shutil.copytree(small_book, broken)
    index = broken / "intro.html"
    text = index.read_text(encoding="utf-8")
    output = (
        '<div class="cell_output"><input type="range" min="0" max="9">'
        '<span style="color:#c8c8c8;background:#ffffff">faint log line</span></div>'
    )
    text = text.replace("</main>", output + "</main>", 1)
    text = re.sub(r"(<body[^>]*>)", r'\1<input type="text" id="theme-x">', text, 1)
    index.write_text(text, encoding="utf-8")
    (result,) = check_book(
        broken,
        tmp_path / "shots",
        tmp_path / "report.json",
        verbose=False,
        only=["intro.html"],
    )
    axe = [p for p in result.problems if p.startswith("axe ")]
    rules = {p.split()[1] for p in axe}
    assert {"label", "color-contrast"} <= rules, result.problems
    assert all("theme-x" not in p for p in axe)
    assert any("theme-x" in v["target"] for v in result.a11y_theme)
    assert result.a11y_controls >= 1


def test_the_run_times_table_is_measured_by_the_build(small_book):
    """book/_ext/run_times.py: one row per executed notebook, time and memory."""
    page = (small_book / "run_times.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", page)
    row = re.search(r"Explorers\s+(\d+) s\s+([\d,]+) MiB", text)
    assert row, text[:2000]
    assert int(row.group(1)) >= 1 and int(row.group(2).replace(",", "")) > 50
    assert "Measured by this build of the book on" in text
    assert "cores" in text and "not recorded" not in text


def test_make_pdf_prints_the_built_book_with_math_and_figures(small_book, tmp_path):
    """book/print_pdf.py on the small book: one PDF, typeset, figures embedded."""
    from pypdf import PdfReader

    require_chromium()
    sys.path.insert(0, str(ROOT / "book"))
    import print_pdf

    toc = small_book.parent.parent / "_toc.yml"
    pages = print_pdf.toc_pages(toc)
    assert pages == ["intro", "explorers", "run_times"]
    out = tmp_path / "book.pdf"
    printed = print_pdf.print_pages(small_book, pages)
    n = print_pdf.join(printed, out)
    reader = PdfReader(out)
    assert len(reader.pages) == n >= 3
    text = "\n".join(page.extract_text() for page in reader.pages)
    for title in ("Small test book", "Explorers", "Run times"):
        assert title in text
    for raw in ("$$", "\\frac", "\\(", "```{", "{eval}"):
        assert raw not in text, raw
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 1  # the explorers' static twins
    assert [o.title for o in reader.outline] == [
        "Small test book",
        "Explorers",
        "Run times",
    ]
