"""What a reader copies from a chapter works: visible code stands alone.

Hidden cells (tagged ``remove-input``, ``remove-cell``) are not on the page.
A reader who copies the visible cells in order must get no ``NameError``:
every name they use is bound by visible code or an import. The check joins
the visible cells of each chapter, in order, into one module and asks ruff's
undefined-name rule (F821, pyflakes' scoping) about it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUFF = Path(sys.executable).with_name("ruff")
HIDDEN = {"remove-input", "remove-cell"}
# Names a Jupyter kernel provides without an import.
NOTEBOOK_BUILTINS = "display = get_ipython = None\n"


def visible_code(path: Path) -> str:
    """The visible code cells of a chapter, in order, magics dropped."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts = [NOTEBOOK_BUILTINS]
    for k, cell in enumerate(cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & HIDDEN:
            continue
        source = "".join(cell["source"])
        source = re.sub(r"^\s*[%!].*$", "pass", source, flags=re.M)
        parts.append(f"# cell {k}\n{source}\n")
    return "\n".join(parts)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_visible_cells_bind_every_name_they_use(chapter, tmp_path):
    module = tmp_path / f"{chapter.stem}.py"
    module.write_text(visible_code(chapter), encoding="utf-8")
    out = subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--select",
            "F821",
            "--output-format",
            "concise",
            str(module),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, (
        f"{chapter.name}: visible code uses names that only hidden cells (or "
        f"nothing) define:\n{out.stdout}"
    )


def test_exercises_are_numbered_from_one_in_each_chapter():
    """Exercise labels run ex-<topic>-1, -2, ... within a chapter."""
    for chapter in CHAPTERS:
        text = chapter.read_text(encoding="utf-8")
        numbers = [int(n) for n in re.findall(r":label: ex-[a-z-]+?-(\d+)", text)]
        assert numbers == list(range(1, len(numbers) + 1)), (chapter.name, numbers)


# A visible cell shows one idea in a few lines; drawing, prose and model building
# a chapter needs live in the package. A cell over SHORT_CELL_LINES lines is the
# exception and says why in its first line ("# Long cell: ..."); none grows past
# MAX_VISIBLE_LINES.
SHORT_CELL_LINES = 20
MAX_VISIBLE_LINES = 40


def _visible_code(chapter):
    cells = json.loads(chapter.read_text(encoding="utf-8"))["cells"]
    return [
        (k, "".join(c["source"]))
        for k, c in enumerate(cells)
        if c["cell_type"] == "code"
        and not set(c.get("metadata", {}).get("tags", [])) & HIDDEN
    ]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_visible_cell_is_longer_than_the_limit(chapter):
    long = [
        (k, len(text.splitlines()))
        for k, text in _visible_code(chapter)
        if len(text.splitlines()) > MAX_VISIBLE_LINES
    ]
    assert not long, (
        f"{chapter.name}: visible cells (index, lines) {long} are longer than "
        f"{MAX_VISIBLE_LINES} lines; move the logic into the package or split them"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_long_visible_cell_says_why(chapter):
    unexplained = [
        (k, len(text.splitlines()))
        for k, text in _visible_code(chapter)
        if len(text.splitlines()) > SHORT_CELL_LINES
        and not text.startswith("# Long cell: ")
    ]
    assert not unexplained, (
        f"{chapter.name}: visible cells (index, lines) {unexplained} are over "
        f"{SHORT_CELL_LINES} lines; split them, move logic into the package, or "
        'say why in a first line "# Long cell: ..."'
    )
