"""Open every page of a built book from disk in headless Chromium, network cut.

Usage::

    python tests/check_book.py _build/html [--screenshots DIR] [--report FILE]

(``make check-book`` runs it on ``_build/html``.) Every request outside the
build folder is blocked. For every page it checks:

- zero page errors (uncaught exceptions, console errors, failed requests) and
  zero blocked requests;
- math: every formula the page holds is typeset by MathJax (each ``.math``
  element holds an ``mjx-container``) and no raw ``$$``, ``\\(`` or ``\\[`` is
  left in the prose;
- explorers (``.cnnguide-explorer``, see :mod:`cnnguide.explorers._core`): as
  many render (``data-draws`` ≥ 1) as the page's embedded widget state holds,
  and each one's view changes (``data-draws`` increments **and** its canvas
  pixels change) when each of its enabled controls is changed as a reader would
  (a control that cannot change the view in the current state must be
  disabled; disabled ones are skipped and listed):
  slider handles by the arrow keys, dropdowns by the keyboard, toggle buttons
  and check boxes by a click; a screenshot of each explorer (controls and view)
  is saved as ``<page>--<n>-<explorer>.png`` in the screenshots folder
  (default ``<build>/../screenshots``, i.e. ``_build/screenshots``);
- size: each page's HTML (embedded widget state included) under 4 MB;
- accessibility: axe-core (vendored in ``_vendor/axe-core``) runs the WCAG 2.0
  and 2.1 A/AA rules over the page once its explorers have drawn, with no rule
  disabled. A violation inside what the book itself draws (executed outputs,
  explorers and their controls, see ``OUTPUT_SELECTOR``) fails the page; the
  theme's own violations are listed in the report, not failed (the theme is
  not ours to fork). The check counts the form controls in outputs that axe
  examined for an accessible name; a page with explorers where it examined none
  fails, and so does a book where it examined none at all.

It prints one line per page, writes a JSON report (default
``<build>/../check-book.json``) and exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import chromium_page  # noqa: E402

MAX_PAGE_BYTES = 4 * 1024 * 1024
SKIP_DIRS = {
    "_static",
    "_sources",
    "_images",
    "requirejs",
    "html-manager",
    "anywidget",
    "axe-core",
}
REDIRECT_RE = re.compile(r'<meta\s+http-equiv="refresh"', re.I)
AXE_PATH = Path(__file__).resolve().parents[1] / "_vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# What the book itself draws: executed cell outputs (myst-nb), the widget views
# and the explorers. Everything else on a page is the theme's.
OUTPUT_SELECTOR = (
    ".cell_output, .output, .jupyter-widgets, .widget-area, .cnnguide-explorer"
)
# The rules that judge a form control's accessible name.
CONTROL_NAME_RULES = [
    "aria-input-field-name",
    "aria-toggle-field-name",
    "button-name",
    "input-button-name",
    "label",
    "select-name",
]
STATE_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S
)

# Marks every control of each explorer (ipywidgets in the explorer's outermost
# widget box, plus inputs the ES module draws itself) with data-check-* ids.
MARK_CONTROLS_JS = r"""
() => {
  const roots = [...document.querySelectorAll('.cnnguide-explorer')];
  const out = [];
  roots.forEach((root, i) => {
    root.dataset.checkExplorer = String(i);
    let box = root.closest('.widget-box');
    while (box && box.parentElement && box.parentElement.closest('.widget-box'))
      box = box.parentElement.closest('.widget-box');
    const scope = box || root;
    const outside = el => !el.closest('.cnnguide-explorer') ||
                          el.closest('.cnnguide-explorer') === root;
    const controls = [];
    const add = (el, kind) => {
      if (!outside(el) || el.dataset.checkControl) return;
      const id = `${i}-${controls.length}`;
      el.dataset.checkControl = id;
      const holder = el.closest('.widget-toggle-buttons, .widget-radio-box, .widget-dropdown, '
        + '.widget-select, .widget-slider, .widget-text, .widget-checkbox, .widget-inline-hbox')
        || el.parentElement;
      const lab = holder && holder.querySelector('.widget-label');
      const label = (lab && lab.textContent.trim()) || el.getAttribute('aria-label') ||
                    el.getAttribute('title') || el.textContent.trim().slice(0, 30) || kind;
      controls.push({ id, kind, label, inModule: !!el.closest('.cnnguide-explorer') });
    };
    scope.querySelectorAll('.widget-slider [role=slider]').forEach(e => add(e, 'slider'));
    scope.querySelectorAll('.widget-dropdown select, .widget-select select')
      .forEach(e => add(e, 'select'));
    scope.querySelectorAll('.widget-toggle-buttons').forEach(e => add(e, 'togglebuttons'));
    scope.querySelectorAll('button.widget-toggle-button').forEach(e => {
      if (!e.closest('.widget-toggle-buttons')) add(e, 'togglebutton');
    });
    scope.querySelectorAll('.widget-radio-box').forEach(e => add(e, 'radio'));
    scope.querySelectorAll('.widget-checkbox input[type=checkbox]')
      .forEach(e => add(e, 'checkbox'));
    scope.querySelectorAll('.widget-text input, .widget-inline-hbox input[type=number]')
      .forEach(e => add(e, 'number'));
    root.querySelectorAll('input[type=range]').forEach(e => add(e, 'range'));
    root.querySelectorAll('select').forEach(e => add(e, 'select'));
    root.querySelectorAll('input[type=checkbox], input[type=radio]')
      .forEach(e => add(e, 'checkbox'));
    root.querySelectorAll('button').forEach(e => add(e, 'button'));
    if (box) box.dataset.checkBox = String(i);
    out.push({ index: i, name: root.dataset.explorer || '?', controls,
               hasBox: !!box });
  });
  return out;
}
"""

SNAPSHOT_JS = """
(i) => {
  const root = document.querySelector(`[data-check-explorer="${i}"]`);
  return {
    draws: Number(root.dataset.draws || 0),
    values: root.dataset.values || '',
    ms: Number(root.dataset.drawMs || NaN),
    label: [...root.querySelectorAll('canvas')].map(c => c.getAttribute('aria-label')).join(' | '),
    pixels: [...root.querySelectorAll('canvas')].map(c => c.toDataURL()),
  };
}
"""

DISABLED_JS = """
e => !!(e.disabled || e.closest('[disabled]') || e.getAttribute('aria-disabled') === 'true'
        || (e.matches('.widget-toggle-buttons') &&
            [...e.querySelectorAll('button')].every(b => b.disabled)))
"""

SINGLE_CHOICE_JS = """
e => (e.matches('select') && e.options.length < 2)
     || (e.matches('.widget-toggle-buttons') && e.querySelectorAll('button').length < 2)
     || (e.matches('.widget-radio-box') && e.querySelectorAll('input').length < 2)
"""

# Runs axe over the page and sorts each finding into "outputs" (inside
# OUTPUT_SELECTOR, or not found again: counted against us, not the theme) or
# "theme". Returns the findings and the output controls axe examined.
AXE_JS = r"""
async ([tags, outputSel, nameRules]) => {
  const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
  const where = t => {
    const sel = Array.isArray(t) ? t[t.length - 1] : t;
    let el = null;
    try { el = document.querySelector(Array.isArray(sel) ? sel[0] : sel); }
    catch (e) { el = null; }
    return el && !el.closest(outputSel) ? 'theme' : 'outputs';
  };
  const out = { outputs: [], theme: [], incomplete: 0, controls: [] };
  for (const v of r.violations)
    for (const n of v.nodes)
      out[where(n.target)].push({ rule: v.id, impact: v.impact, target: n.target.join(' '),
                                  summary: (n.failureSummary || '').split('\n')[1] || '',
                                  html: n.html.slice(0, 160) });
  const seen = new Set();
  for (const group of [r.passes, r.violations, r.incomplete])
    for (const v of group)
      if (nameRules.includes(v.id))
        for (const n of v.nodes) {
          const t = n.target.join(' ');
          if (where(n.target) === 'outputs' && !seen.has(t)) seen.add(t);
        }
  out.controls = [...seen];
  out.incomplete = r.incomplete.reduce((k, v) => k + v.nodes.length, 0);
  return out;
}
"""

MATH_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) await MathJax.typesetPromise();
  }
  const els = [...document.querySelectorAll('.math')];
  const untypeset = els.filter(e => !e.querySelector('mjx-container')).length;
  const clone = (document.querySelector('main') || document.body).cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
    .forEach(e => e.remove());
  const text = clone.textContent;
  const raw = ['$$', '\\(', '\\['].filter(d => text.includes(d));
  return { formulas: els.length, typeset: document.querySelectorAll('mjx-container').length,
           untypeset, raw, mathjax: !!window.MathJax };
}
"""


@dataclass
class ControlResult:
    label: str
    kind: str
    ok: bool
    detail: str = ""
    draw_ms: float | None = None


@dataclass
class ExplorerResult:
    name: str
    screenshot: str = ""
    aria_label: str = ""
    controls: list[ControlResult] = field(default_factory=list)


@dataclass
class PageResult:
    page: str
    bytes: int
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    formulas: int = 0
    explorers: list[ExplorerResult] = field(default_factory=list)
    a11y_controls: int = 0
    a11y_theme: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.errors or self.blocked or self.problems)


def pages_of(build: Path) -> list[Path]:
    """Every HTML page of the build (not the vendored or static files)."""
    out = []
    for p in sorted(build.rglob("*.html")):
        rel = p.relative_to(build)
        if rel.parts[0] in SKIP_DIRS:
            continue
        out.append(p)
    return out


def expected_explorers(text: str) -> int:
    """How many explorer views the page's embedded widget state asks for."""
    match = STATE_RE.search(text)
    if not match:
        return 0
    state = json.loads(match.group(1))
    models = state.get("state", {})
    # An explorer's ES module builds the `.cnnguide-explorer` root (contract).
    return sum(
        1
        for m in models.values()
        if "cnnguide-explorer" in str(m.get("state", {}).get("_esm", ""))
    )


def source_has_math(build: Path, page: Path, text: str) -> bool:
    if 'class="math' in text:
        return True
    src_dir = build / "_sources"
    stem = page.relative_to(build).with_suffix("")
    for cand in src_dir.glob(f"{stem}.*"):
        s = cand.read_text(encoding="utf-8", errors="replace")
        if (
            "$$" in s
            or "\\begin{" in s
            or re.search(r"(?<![\\$\w])\$[^$\s][^$\n]*\$", s)
        ):
            return True
    return False


def drive(page, control: dict) -> str:
    """Change one control as a reader would; return a note on what was done."""
    loc = page.locator(f'[data-check-control="{control["id"]}"]')
    kind = control["kind"]
    loc.scroll_into_view_if_needed()
    if kind == "slider":
        now, top = (
            loc.get_attribute("aria-valuenow"),
            loc.get_attribute("aria-valuemax"),
        )
        key = (
            "ArrowLeft"
            if now is not None and top is not None and float(now) >= float(top)
            else "ArrowRight"
        )
        loc.focus()
        page.keyboard.press(key)
        return f"{key} on the handle ({now} → {loc.get_attribute('aria-valuenow')})"
    if kind == "range":
        now, top = loc.input_value(), loc.get_attribute("max") or "100"
        key = "ArrowLeft" if float(now) >= float(top) else "ArrowRight"
        loc.focus()
        page.keyboard.press(key)
        return f"{key} on the range input"
    if kind == "select":
        options = loc.locator("option")
        n = options.count()
        current = loc.evaluate("e => e.selectedIndex")
        key = "ArrowUp" if current >= n - 1 else "ArrowDown"
        loc.focus()
        page.keyboard.press(key)
        if loc.evaluate("e => e.selectedIndex") == current and n > 1:
            loc.select_option(index=(current + 1) % n)
            return "select_option (keyboard did not move it)"
        return f"{key} on the select"
    if kind == "togglebuttons":
        buttons = loc.locator("button")
        for k in range(buttons.count()):
            b = buttons.nth(k)
            if "mod-active" not in (b.get_attribute("class") or ""):
                b.click()
                return f"click {b.text_content().strip() or k!r}"
        return "no inactive button"
    if kind == "radio":
        inputs = loc.locator("input[type=radio]")
        for k in range(inputs.count()):
            if not inputs.nth(k).is_checked():
                inputs.nth(k).click()
                return f"click radio {k}"
        return "no unchecked radio"
    if kind in ("checkbox", "togglebutton", "button"):
        loc.click()
        return "click"
    if kind == "number":
        value = loc.input_value()
        try:
            new = str(float(value) + 1) if "." in value else str(int(value) + 1)
        except ValueError:
            new = "1"
        loc.fill(new)
        loc.press("Enter")
        return f"type {new}"
    return "unknown kind"


def check_explorers(page, rel: str, shots: Path, result: PageResult) -> None:
    found = page.evaluate(MARK_CONTROLS_JS)
    # The theme's sticky headers would cover the top of a screenshot.
    page.add_style_tag(
        content=".bd-header, .bd-header-article, .header-article"
        " { position: static !important; }"
    )
    for ex in found:
        i = ex["index"]
        er = ExplorerResult(name=ex["name"])
        result.explorers.append(er)
        before = page.evaluate(SNAPSHOT_JS, i)
        er.aria_label = before["label"]
        if not before["label"]:
            result.problems.append(
                f"explorer {i} ({ex['name']}): canvas has no aria-label"
            )
        box = (
            page.locator(f'[data-check-box="{i}"]')
            if ex["hasBox"]
            else page.locator(f'[data-check-explorer="{i}"]')
        )
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", rel.removesuffix(".html"))
        shot = shots / f"{safe}--{i}-{ex['name']}.png"
        box.scroll_into_view_if_needed()
        box.screenshot(path=str(shot))
        er.screenshot = str(shot)
        if not ex["controls"]:
            result.problems.append(f"explorer {i} ({ex['name']}): no controls found")
        for control in ex["controls"]:
            loc = page.locator(f'[data-check-control="{control["id"]}"]')
            skip = loc.evaluate(DISABLED_JS) and "disabled, skipped"
            if not skip and loc.evaluate(SINGLE_CHOICE_JS):
                skip = "one choice only, skipped"
            if skip:
                # A reader cannot change it now (e.g. size with a fixed 3x3 kernel,
                # an image dropdown with only the phantom when there is no data).
                er.controls.append(
                    ControlResult(control["label"], control["kind"], True, skip)
                )
                continue
            prev = page.evaluate(SNAPSHOT_JS, i)
            note = ""
            try:
                note = drive(page, control)
                page.wait_for_function(
                    "([i, n]) => Number(document.querySelector("
                    '`[data-check-explorer="${i}"]`).dataset.draws || 0) > n',
                    arg=[i, prev["draws"]],
                    timeout=5000,
                )
                after = page.evaluate(SNAPSHOT_JS, i)
                changed = after["pixels"] != prev["pixels"]
                # The view is the picture and its text alternative: a change can
                # leave the pixels alike (batch norm rescales each channel, so its
                # per-channel grey maps look like the convolution's) while the
                # label names the new layer and its value range.
                relabelled = after["label"] != prev["label"]
                ok = changed or relabelled
                detail = note + (
                    ""
                    if changed
                    else "; pixels alike, label changed"
                    if relabelled
                    else "; redrawn but canvas pixels and label unchanged"
                )
                ms = after["ms"] if after["ms"] == after["ms"] else None
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                ok, detail, ms = False, f"{note}; no redraw: {first}", None
            er.controls.append(
                ControlResult(control["label"], control["kind"], ok, detail, ms)
            )
            if not ok:
                result.problems.append(
                    f"explorer {i} ({ex['name']}) control {control['label']!r} "
                    f"({control['kind']}): {detail}"
                )


# The folders a built page must never name: the checkout's parent (where the data,
# the clone and the build live) and the home folder. A reader sees them as noise, and
# they tell the world how the build machine is laid out.
PRIVATE_FOLDERS = sorted(
    {str(Path(__file__).resolve().parents[2]) + "/", str(Path.home()) + "/"} - {"//"}
)


def leaked_paths(text: str, folders=None) -> list[str]:
    """The private folders (see ``PRIVATE_FOLDERS``) that ``text`` names.

    >>> leaked_paths("data at /home/me/x.npz", ["/home/me/"])
    ['/home/me/']
    >>> leaked_paths("pneumoniamnist.npz, md5 ...", ["/home/me/"])
    []
    """
    return [f for f in (PRIVATE_FOLDERS if folders is None else folders) if f in text]


def check_accessibility(page, result: PageResult, explorers: int) -> None:
    """Run axe-core over the page (see the module docstring) into ``result``."""
    if not AXE_PATH.exists():
        raise SystemExit(f"{AXE_PATH} is missing: run `make vendor` (npm) to fetch it")
    page.add_script_tag(content=axe_source())
    found = page.evaluate(AXE_JS, [AXE_TAGS, OUTPUT_SELECTOR, CONTROL_NAME_RULES])
    for v in found["outputs"]:
        result.problems.append(
            f"axe {v['rule']} ({v['impact']}) in an output at {v['target']}: "
            f"{v['summary'].strip()} [{v['html']}]"
        )
    result.a11y_controls = len(found["controls"])
    result.a11y_theme = found["theme"]
    if explorers and not found["controls"]:
        result.problems.append(
            "axe examined no control in this page's outputs, which hold explorers"
        )


@functools.lru_cache(maxsize=1)
def axe_source() -> str:
    """The vendored axe-core engine's source, read once."""
    return AXE_PATH.read_text(encoding="utf-8")


def check_page(page, build: Path, path: Path, shots: Path) -> PageResult:
    rel = path.relative_to(build).as_posix()
    text = path.read_text(encoding="utf-8", errors="replace")
    result = PageResult(page=rel, bytes=path.stat().st_size)
    start = time.perf_counter()
    page.errors.clear()
    page.blocked.clear()
    page.goto(path.as_uri(), wait_until="load")
    want = expected_explorers(text)
    if want:
        try:
            page.wait_for_function(
                "n => [...document.querySelectorAll('.cnnguide-explorer')]"
                ".filter(e => Number(e.dataset.draws || 0) >= 1).length >= n",
                arg=want,
                timeout=60_000,
            )
        except Exception:  # noqa: BLE001
            got = page.locator(".cnnguide-explorer").count()
            result.problems.append(
                f"{want} explorers in the widget state, {got} rendered"
            )
    if source_has_math(build, path, text):
        math = page.evaluate(MATH_JS)
        result.formulas = math["formulas"]
        if not math["mathjax"]:
            result.problems.append("page has math but MathJax did not load")
        elif math["untypeset"] or not math["typeset"]:
            result.problems.append(
                f"math not typeset: {math['untypeset']} of {math['formulas']} formulas"
            )
        if math["raw"]:
            result.problems.append(f"raw math delimiters in the text: {math['raw']}")
    # Once the explorers have drawn, before any control is changed: the page
    # as a reader first meets it.
    # (A redirect page, such as the root index.html, has moved on by now: the
    # page it leads to is checked in its own right.)
    if not REDIRECT_RE.search(text):
        check_accessibility(page, result, want)
    if want:
        check_explorers(page, rel, shots, result)
    try:
        page.wait_for_load_state("networkidle", timeout=5000)
    except Exception:  # noqa: BLE001
        pass
    page.wait_for_timeout(200)
    result.errors = list(page.errors)
    result.blocked = list(page.blocked)
    if result.bytes > MAX_PAGE_BYTES:
        result.problems.append(f"page is {result.bytes / 1e6:.2f} MB (limit 4 MB)")
    for leak in leaked_paths(text):
        result.problems.append(f"prints this machine's folder {leak!r}")
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def check_book(
    build: Path,
    shots: Path | None = None,
    report: Path | None = None,
    verbose: bool = True,
    only: list[str] | None = None,
) -> list[PageResult]:
    """Check every page of the book built in ``build`` (or the pages named in
    ``only``, paths relative to ``build``); return the results."""
    build = Path(build).resolve()
    if not (build / "index.html").exists():
        raise SystemExit(
            f"{build} holds no built book (no index.html): run `make book` first"
        )
    shots = Path(shots or build.parent / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    results = []
    with chromium_page(roots=[build]) as page:
        for path in pages_of(build):
            if only is not None and path.relative_to(build).as_posix() not in only:
                continue
            r = check_page(page, build, path, shots)
            results.append(r)
            if verbose:
                ctl = sum(len(e.controls) for e in r.explorers)
                ctl_ok = sum(c.ok for e in r.explorers for c in e.controls)
                print(
                    f"{'ok  ' if r.ok else 'FAIL'} {r.page:<50} {r.bytes / 1e6:6.2f} MB  "
                    f"math {r.formulas:3d}  explorers {len(r.explorers)}  "
                    f"controls {ctl_ok}/{ctl}  ({r.seconds:.1f} s)"
                )
                for line in (
                    r.errors + [f"blocked: {u}" for u in r.blocked] + r.problems
                ):
                    print(f"     - {line}")
    report = Path(report or build.parent / "check-book.json")
    report.write_text(
        json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=1)
    )
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", nargs="?", default="_build/html", type=Path)
    parser.add_argument("--screenshots", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    results = check_book(args.build, args.screenshots, args.report)
    bad = [r for r in results if not r.ok]
    n_ex = sum(len(r.explorers) for r in results)
    n_ctl = sum(r.a11y_controls for r in results)
    theme = {}
    for r in results:
        for v in r.a11y_theme:
            theme.setdefault(v["rule"], set()).add(r.page)
    print(
        f"axe-core: {n_ctl} controls in outputs examined for a name; the theme's "
        f"own violations (not failed): "
        + (
            ", ".join(f"{k} on {len(v)} pages" for k, v in sorted(theme.items()))
            or "none"
        )
    )
    if not n_ctl:
        print("FAIL axe-core examined no control in any output")
        return 1
    biggest = max(results, key=lambda r: r.bytes)
    print(
        f"{len(results)} pages, {n_ex} explorers, largest page {biggest.page} "
        f"{biggest.bytes / 1e6:.2f} MB; {len(bad)} failed"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
