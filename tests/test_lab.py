"""The chapters as an instructor sees them in JupyterLab (``make lab``).

JupyterLab, with the jupyterlab-myst extension the environment installs, is
the intended way to run the chapters. This test opens each chapter there the
way an instructor would, runs all its cells, and reads the page:

- the extension is installed, enabled and compatible (``jupyter labextension
  list`` says ``enabled OK``, not ``incompatible``);
- no cell errors and every code cell ran;
- no rendered markdown cell shows raw MyST (``{glue``, ``{eval``, ``{cite``, a
  fenced ```` ```{ ```` or ``:::{`` directive), every ``{eval}`` number was
  computed by the kernel, and the MyST renderer shows no error or warning box
  (an unknown directive or role, an unresolved citation, a failed ``{eval}``);
- every explorer redraws when its first slider moves, and the kernel sees the
  new trait value;
- screenshots of one note box, one exercise and one explorer per chapter go
  to ``_build/screenshots/lab/``.

The chapters are copied to a temporary folder first and autosave is off, so
running them never writes outputs into ``notebooks/``.

By default one short chapter runs (``make test``); ``CNNGUIDE_LAB_CHAPTERS=all``
(``.ci/run``) runs every chapter, and ``CNNGUIDE_LAB_CHAPTERS=03,10`` a few.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import chromium_page

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHOTS = ROOT / "_build" / "screenshots" / "lab"
JUPYTER = Path(sys.executable).parent / "jupyter"

#: The chapter `make test` opens: short, with explorers and notes.
DEFAULT_CHAPTERS = "06"
#: Longest a chapter may take to run all its cells (the training chapter trains).
RUN_TIMEOUT_S = 1800

RAW_MYST = re.compile(r"\{glue|\{eval|\{cite|```\{|:::\{|\{(ref|numref|doc|term)\}`")
#: What jupyterlab-myst draws for markup it cannot render.
MYST_PROBLEMS = """
(root) => {
  const found = [];
  for (const el of root.querySelectorAll('[title="Citation Not Found"]'))
    found.push('unresolved citation: ' + el.textContent.trim());
  for (const el of root.querySelectorAll('summary, .myst-exercise-title, .admonition-title'))
    if (/Unknown (Directive|Role)|Error|Warning:/.test(el.textContent)
        && el.closest('details') && el.closest('details').querySelector('.text-red-600'))
      found.push('error box: ' + el.textContent.trim());
  for (const el of root.querySelectorAll(
      '.jp-MarkdownOutput [data-mime-type="application/vnd.jupyter.stderr"],'
      + '.jp-MarkdownOutput [data-mime-type="application/vnd.jupyter.error"]'))
    found.push('eval error: ' + el.textContent.trim());
  return found;
}
"""


def selected_chapters() -> list[Path]:
    wanted = os.environ.get("CNNGUIDE_LAB_CHAPTERS", DEFAULT_CHAPTERS).strip()
    if wanted.lower() == "all":
        return NOTEBOOKS
    prefixes = [w.strip() for w in wanted.split(",") if w.strip()]
    chosen = [p for p in NOTEBOOKS if any(p.name.startswith(w) for w in prefixes)]
    if not chosen:
        raise ValueError(
            f"CNNGUIDE_LAB_CHAPTERS={wanted!r} names no chapter in notebooks/; "
            "use 'all' or chapter numbers such as '04,10'"
        )
    return chosen


def test_jupyterlab_myst_is_enabled_and_compatible():
    out = subprocess.run(
        [str(JUPYTER), "labextension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    line = next((ln for ln in text.splitlines() if "jupyterlab-myst" in ln), None)
    assert line, f"jupyterlab-myst is not installed (pip install -e '.[book]'):\n{text}"
    assert "enabled" in line and "OK" in line and "incompatible" not in line.lower(), (
        f"jupyterlab-myst is not enabled and compatible with this JupyterLab: {line!r}\n"
        "pin JupyterLab to a release it supports (pyproject.toml, book extra)"
    )


#: MyST that the book renders but jupyterlab-myst cannot (no glue store, no
#: bibliography in JupyterLab): each with the form both render.
NOT_IN_LAB = {
    "{glue": 'a number: {eval}`glued("name", ".3f")` (cnnguide.prose)',
    "{cite": "a citation: ([Author et al., 2018](../book/references.md))",
}


GLUED = re.compile(r"\{eval\}`glued\(\"([A-Za-z_]\w*)\"")


def _glued_in(key: str, code: str) -> bool:
    """Whether ``code`` glues ``key``: by name, from an f-string template, or in a loop."""
    if re.search(rf"""glue\(\s*["']{key}["']""", code):
        return True
    for template in re.findall(r"""glue\(\s*f["']([^"']+)["']""", code):
        if re.fullmatch(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(template)), key):
            return True
    return "glue(" in code and re.search(rf"""["']{key}["']""", code) is not None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_uses_only_myst_that_jupyterlab_renders(path):
    nb = json.loads(path.read_text())
    problems = []
    in_solution = False
    code_above = ""
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] == "code":
            code_above += src + "\n"
        if cell["cell_type"] == "markdown":
            for key in GLUED.findall(src):  # JupyterLab evaluates top to bottom
                if not _glued_in(key, code_above):
                    problems.append(
                        f"cell {i} states glued({key!r}) before a cell glues it"
                    )
            for bad, fix in NOT_IN_LAB.items():
                if bad in src:
                    problems.append(
                        f"cell {i}: {bad}...}} does not render in JupyterLab; write {fix}"
                    )
            if "```{solution-start}" in src:
                in_solution = True
                continue
            if "```{solution-end}" in src:
                in_solution = False
                continue
        if in_solution and not cell["metadata"].get("jupyter", {}).get("source_hidden"):
            problems.append(
                f"cell {i} is part of a solution but not folded in JupyterLab: set "
                'metadata {"jupyter": {"source_hidden": true, "outputs_hidden": true}}'
            )
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_book_evaluates_the_same_numbers():
    """{eval} roles render in the book only when it executes inline."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    uses_eval = any("{eval}`" in p.read_text() for p in NOTEBOOKS)
    assert not uses_eval or config["execute"]["execute_notebooks"] == "inline", (
        "the chapters state numbers with {eval}; set execute.execute_notebooks: inline "
        "in _config.yml, or the book shows them blank"
    )
    assert re.match(
        config["sphinx"]["config"]["nb_eval_name_regex"], 'glued("x", ".3f")'
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """Windowing off (every cell in the page), no autosave, no news pop-up."""
    settings = {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, values in settings.items():
        ext, plugin = name.split("/")
        path = folder / "@jupyterlab" / ext / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium):
    """A JupyterLab on 127.0.0.1 serving a copy of the chapters."""
    base = tmp_path_factory.mktemp("lab")
    served = base / "root"
    shutil.copytree(ROOT / "notebooks", served / "notebooks")
    shutil.copytree(ROOT / "book", served / "book")
    _settings(base / "settings")
    port = _free_port()
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_ENABLE_ONEDNN_OPTS="0",
    )
    cmd = [
        str(JUPYTER),
        "lab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--no-browser",
        "--ServerApp.open_browser=False",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={served}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(base / "server.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited:\n{(base / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 120 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


NB = "window.jupyterapp.shell.currentWidget"
KERNEL = f"{NB}.sessionContext.session.kernel"

#: Run Python in the chapter's kernel and return what it prints.
KERNEL_PRINT = f"""
async (code) => {{
  const future = {KERNEL}.requestExecute({{code, store_history: false}});
  let out = '';
  future.onIOPub = (msg) => {{
    if (msg.header.msg_type === 'stream') out += msg.content.text;
    if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.ename
      + ': ' + msg.content.evalue;
  }};
  await future.done;
  return out;
}}
"""

#: Every synced trait of every explorer alive in the kernel, as JSON.
SNAPSHOT = """
import gc as _gc, json as _json
from cnnguide.explorers._core import Explorer as _E
def _plain(v):
    return v if isinstance(v, (int, float, str, bool)) else None
print(_json.dumps({str(id(o)): {k: _plain(getattr(o, k))
    for k in o.trait_names(sync=True) if not k.startswith('_')}
    for o in _gc.get_objects() if isinstance(o, _E)}))
"""

#: The notebook's state after "Run all": cells, outputs, eval results.
STATE = f"""
() => {{
  const nb = {NB};
  const cells = nb.content.widgets.map((c, i) => {{
    const m = c.model;
    const src = m.sharedModel.getSource();
    const out = {{index: i, type: m.type, source: src.slice(0, 80)}};
    if (m.type === 'code') {{
      out.count = m.executionCount;
      out.errors = m.outputs.toJSON().filter(o => o.output_type === 'error')
        .map(o => o.ename + ': ' + o.evalue);
    }} else if (m.type === 'markdown') {{
      const r = c.node.querySelector('.jp-MarkdownOutput');
      out.text = r ? r.textContent : '';
      out.evals = (src.match(/\\{{eval\\}}`/g) || []).length;
      const ue = m.getMetadata('user_expressions') || [];
      out.evaluated = ue.filter(e => e.result && e.result.status === 'ok').length;
    }}
    return out;
  }});
  return {{kernel: {KERNEL}.status, cells}};
}}
"""


# jupyterlab-myst 2.7 logs these to the console when it re-renders a markdown cell
# whose {eval} result was already replaced (its old node is gone): its own
# clean-up notice, not a rendering failure (the new value is checked above).
JLAB_MYST_DISPOSAL = re.compile(
    r"(Could not dispose of renderer|Unable to detach expression renderer)"
    r" for `.*`: node is not connected"
)


def _run_all(page, url: str, notebook: str) -> None:
    # ?reset: start from an empty workspace, or JupyterLab reopens the chapters
    # of earlier tests in hidden tabs and their cells match the selectors too.
    page.goto(f"{url}/lab/tree/notebooks/{notebook}?reset")
    page.wait_for_function(
        f"() => {{ try {{ return {KERNEL}.status === 'idle'; }} catch (e) {{ return false; }} }}",
        timeout=120_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    settled = 0
    while settled < 3:  # idle and nothing queued, three polls in a row
        assert time.monotonic() < deadline, (
            f"{notebook}: Run all took over {RUN_TIMEOUT_S} s"
        )
        time.sleep(1)
        busy = page.evaluate(
            f"() => {KERNEL}.status !== 'idle' || [...document.querySelectorAll("
            "'.jp-Notebook .jp-InputPrompt')].some(e => e.textContent.includes('*'))"
        )
        settled = 0 if busy else settled + 1


def _shot(element, path: Path) -> None:
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(path))


def _shot_cells(page, element, n: int, path: Path) -> None:
    """Screenshot the cell holding ``element`` and the ``n - 1`` cells after it."""
    cell = element.evaluate_handle("e => e.closest('.jp-Cell')").as_element()
    cell.evaluate("c => c.scrollIntoView({block: 'start'})")
    time.sleep(0.3)
    box = cell.evaluate(
        """(c, n) => { let top = c.getBoundingClientRect(), last = c;
           for (let i = 1; i < n && last.nextElementSibling; i++)
             last = last.nextElementSibling;
           const b = last.getBoundingClientRect();
           return {x: top.left, y: top.top, width: top.width,
                   height: Math.min(b.bottom, window.innerHeight) - top.top}; }""",
        n,
    )
    page.screenshot(path=str(path), clip=box)


def _check_explorers(page, notebook: str) -> list[str]:
    problems = []
    explorers = page.query_selector_all(".jp-Notebook .cnnguide-explorer")
    for n, el in enumerate(explorers):
        name = el.get_attribute("data-explorer")
        area = el.evaluate_handle(
            "e => e.closest('.jp-OutputArea-output')"
        ).as_element()
        # The first slider the reader can move (a disabled one, such as the
        # kernel size of a fixed-size kernel, does nothing by design).
        slider = next(
            (
                h
                for h in area.query_selector_all(
                    ".widget-slider .noUi-handle, .widget-slider input"
                )
                if not h.evaluate(
                    "e => !!(e.disabled || e.closest('[disabled]')"
                    " || e.getAttribute('aria-disabled') === 'true')"
                )
            ),
            None,
        )
        if slider is None:
            problems.append(f"explorer {name}: no slider next to it")
            continue
        before = json.loads(page.evaluate(KERNEL_PRINT, SNAPSHOT))
        draws = int(el.get_attribute("data-draws") or 0)
        slider.scroll_into_view_if_needed()
        slider.focus()
        page.keyboard.press("ArrowRight")
        try:
            page.wait_for_function(
                "([e, d]) => Number(e.getAttribute('data-draws')) > d",
                arg=[el, draws],
                timeout=10_000,
            )
        except Exception:
            problems.append(f"explorer {name}: did not redraw when its slider moved")
            continue
        time.sleep(1)  # the readout settles and the comm message reaches the kernel
        readout = slider.evaluate_handle(
            "e => e.closest('.widget-slider').querySelector('.widget-readout')"
        ).as_element()
        shown = readout.text_content().strip() if readout else None
        after = json.loads(page.evaluate(KERNEL_PRINT, SNAPSHOT))
        changed = {
            k: v
            for oid, traits in after.items()
            for k, v in traits.items()
            if oid in before and before[oid].get(k) != v and k != "summary"
        }
        if not changed:
            problems.append(f"explorer {name}: the kernel saw no trait change")
        elif shown is not None and not any(
            str(v) == shown
            or (isinstance(v, float) and f"{v:g}" == shown)
            or (isinstance(v, (int, float)) and _num(shown) == v)
            for v in changed.values()
        ):
            problems.append(
                f"explorer {name}: slider shows {shown}, kernel has {changed}"
            )
        if n == 0:
            _shot(area, SHOTS / f"{notebook[:2]}_explorer.png")
    return problems


def _num(text: str):
    try:
        return float(text)
    except ValueError:
        return None


@pytest.mark.slow
@pytest.mark.parametrize("path", selected_chapters(), ids=lambda p: p.stem)
def test_chapter_reads_as_prose_in_jupyterlab(lab, path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    chapter = path.name[:2]
    with chromium_page(
        allow=[lab + "/", lab.replace("http", "ws") + "/"],
        viewport={"width": 1400, "height": 1000},
    ) as page:
        page.set_default_timeout(60_000)
        _run_all(page, lab, path.name)
        state = page.evaluate(STATE)
        problems = []
        for c in state["cells"]:
            where = f"cell {c['index']} ({c['source'][:40]!r})"
            if c["type"] == "code":
                if c["count"] is None:
                    problems.append(f"{where} did not run")
                problems += [f"{where} raised {e}" for e in c["errors"]]
            elif c["type"] == "markdown":
                raw = RAW_MYST.search(c["text"])
                if raw:
                    problems.append(f"{where} shows raw MyST {raw.group(0)!r}")
                if c["evaluated"] < c["evals"]:
                    problems.append(
                        f"{where}: {c['evals'] - c['evaluated']} of {c['evals']} "
                        "{eval} numbers not computed"
                    )
        problems += page.evaluate(MYST_PROBLEMS, page.query_selector(".jp-Notebook"))
        note = page.query_selector(".jp-Notebook .myst-admonition, .jp-Notebook aside")
        if note:
            _shot(note, SHOTS / f"{chapter}_note.png")
        exercise = next(
            (
                e
                for e in page.query_selector_all(".jp-Notebook .myst-exercise")
                if e.text_content().strip().startswith("Exercise")
            ),
            None,
        )
        if exercise:  # the exercise with its folded solution below it
            _shot_cells(page, exercise, 5, SHOTS / f"{chapter}_exercise.png")
        problems += _check_explorers(page, path.name)
        problems += [
            f"page error: {e}"
            for e in page.errors
            if "favicon" not in e and not JLAB_MYST_DISPOSAL.search(e)
        ]
        # One kernel per chapter would pile up (TensorFlow in each): stop them.
        page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    assert not problems, f"{path.name} in JupyterLab:\n" + "\n".join(problems)
