"""The book's structure: table of contents, chapter conventions, and a cheap build.

nbval (``make test``) executes the notebooks; these tests catch a broken table of
contents, reference or directive without executing anything.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
GLUE_REF = re.compile(
    r"\{glue(?::[a-z]+)?\}`([A-Za-z_][\w]*)|\{eval\}`glued\(\"([A-Za-z_]\w*)\""
)
GLUE_DEF = re.compile(r"""glue\(\s*["']([A-Za-z_][\w]*)["']""")
GLUE_FSTRING = re.compile(r"""glue\(\s*f["']([^"']+)["']""")
STRING_LITERAL = re.compile(r"""["']([A-Za-z_][\w]*)["']""")


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def markdown(nb: dict) -> str:
    return "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )


def test_every_toc_entry_exists():
    for entry in toc_files():
        matches = [
            p for p in (ROOT / f"{entry}.md", ROOT / f"{entry}.ipynb") if p.exists()
        ]
        assert matches, (
            f"_toc.yml lists {entry!r}, but neither {entry}.md nor {entry}.ipynb exists"
        )


def test_every_notebook_is_in_the_toc():
    listed = set(toc_files())
    for path in NOTEBOOKS:
        entry = path.relative_to(ROOT).with_suffix("").as_posix()
        assert entry in listed, (
            f"{path.name} is not in _toc.yml, so the book would not show it"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    for index, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{path.name} cell {index} has outputs: run `make strip` before committing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_follows_the_conventions(path):
    nb = load(path)
    first = "".join(nb["cells"][0]["source"])
    assert first.startswith("# "), f"{path.name} must open with a '# Title' cell"
    assert "able to" in first, (
        f"{path.name} must open with what the reader will be able to do"
    )
    text = markdown(nb)
    exercises = re.findall(r"```\{exercise\}", text)
    assert 2 <= len(exercises) <= 4, (
        f"{path.name} has {len(exercises)} exercises (want 2 to 4)"
    )
    starts = re.findall(r"```\{solution-start\}", text)
    ends = re.findall(r"```\{solution-end\}", text)
    assert len(starts) == len(ends) == len(exercises), (
        f"{path.name}: each exercise needs one executed solution (solution-start ... solution-end)"
    )
    assert ":class: dropdown" in text, (
        f"{path.name}: solutions should be toggled (:class: dropdown)"
    )
    assert "Note on the source" in text, f"{path.name} has no 'Note on the source' box"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_package_from_the_books_repository(path):
    """Colab opens a chapter without cnnguide; its first code cell must install it."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    cell = next(c for c in load(path)["cells"] if c["cell_type"] == "code")
    source = "".join(cell["source"])
    assert 'find_spec("cnnguide") is None' in source and "%pip install" in source, (
        f"{path.name}: the first code cell should install cnnguide when it is missing"
    )
    assert f"git+{url}" in source, (
        f"{path.name}: install from {url} (repository.url in _config.yml)"
    )
    assert "remove-cell" in cell["metadata"].get("tags", []), (
        f"{path.name}: hide the setup cell"
    )
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(source)  # what the kernel runs
    compile(python, path.name, "exec")
    assert "run_line_magic('pip'" in python


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_number_is_computed_in_the_chapter(path):
    nb = load(path)
    code = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
    )
    defined = set(GLUE_DEF.findall(code))
    # Keys glued in a loop: from an f-string template, or named as a string literal.
    templates = [
        re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(t)) + "$")
        for t in GLUE_FSTRING.findall(code)
    ]
    literals = set(STRING_LITERAL.findall(code)) if "glue(" in code else set()
    for key in ("".join(k) for k in GLUE_REF.findall(markdown(nb))):
        assert (
            key in defined or key in literals or any(t.match(key) for t in templates)
        ), f"{path.name} shows glued value {key!r} that no cell glues"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_number_is_computed_above_the_text_that_shows_it(path):
    """myst-nb reads `{eval}` values as the page executes: a value glued only by a
    later cell breaks the book build (-W), though the notebook runs."""
    seen: set[str] = set()
    literals: set[str] = set()
    templates: list[re.Pattern] = []
    for i, cell in enumerate(load(path)["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            seen |= set(GLUE_DEF.findall(source))
            if "glue(" in source:
                literals |= set(STRING_LITERAL.findall(source))
            templates += [
                re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(t)) + "$")
                for t in GLUE_FSTRING.findall(source)
            ]
        elif cell["cell_type"] == "markdown":
            for key in ("".join(k) for k in GLUE_REF.findall(source)):
                assert (
                    key in seen
                    or key in literals
                    or any(t.match(key) for t in templates)
                ), f"{path.name}, cell {i}: {key!r} is shown before a cell glues it"


@pytest.mark.slow
def test_book_builds_without_execution(tmp_path):
    """Build the whole book with execution off and warnings as errors."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    # Glue values exist only after execution; the executed build (`make book`) checks them.
    config["sphinx"]["config"]["suppress_warnings"] = ["mystnb.glue", "mystnb.eval"]
    # Paths in local_extensions resolve against the config file's folder: keep them absolute.
    local = config["sphinx"].get("local_extensions") or {}
    config["sphinx"]["local_extensions"] = {k: str(ROOT / v) for k, v in local.items()}
    config_path = tmp_path / "_config_noexec.yml"
    config_path.write_text(yaml.safe_dump(config))
    jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    assert jupyter_book, "jupyter-book is not installed next to this Python"
    result = subprocess.run(
        [
            jupyter_book,
            "build",
            str(ROOT),
            "-W",
            "-n",
            "--keep-going",
            "--config",
            str(config_path),
            "--path-output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "out" / "_build" / "html"
    assert (html / "index.html").exists()
    for entry in toc_files():
        assert (html / f"{entry}.html").exists(), f"{entry}.html was not built"
    # The Colab button opens the chapter's student edition on the classroom
    # branch (book/_ext/colab_student.py); Binder keeps the main branch.
    page = (html / "notebooks" / "08_training.html").read_text(encoding="utf-8")
    student = (
        "https://colab.research.google.com/github/cnnguide/cnnguide/blob/"
        "classroom/student/08_training.ipynb"
    )
    assert f'{student}"' in page, re.findall(r"colab[^\"]*", page)[:3]
    assert "blob/main/notebooks/08_training.ipynb" not in page
    binder = f"/{config['repository']['branch']}?urlpath=lab/tree/notebooks/08_training"
    assert binder in page  # Binder keeps the main branch


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_hidden_checks_still_run_in_the_book(path):
    """The book executes inline, and myst-nb skips ``remove-cell`` cells there.

    A hidden cell that glues a number or asserts a fact must therefore be tagged
    ``remove-input`` and ``remove-output`` (run, shown neither); only the Colab
    setup cell, which the book does not need, may be ``remove-cell``.
    """
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    skipped = [
        i
        for i, c in enumerate(code[1:], 1)
        if "remove-cell" in c["metadata"].get("tags", [])
    ]
    assert not skipped, (
        f"{path.name}: code cells {skipped} are tagged remove-cell and would not run "
        "in the book; tag them remove-input and remove-output"
    )
