"""The package map is true: chapter -> "the code behind this chapter" -> module.

A reader finds the code behind a chapter in one step: the chapter's opening
line lists its modules, ``cnnguide/__init__.py`` lists the same modules for it,
and both cover every ``cnnguide`` module the chapter's cells import.
CONTRIBUTING names only modules that exist.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Used by every chapter for its plumbing (loading the data, glueing numbers,
# seeds): not listed per chapter, named once in the package docstring.
BOOK_WIDE = {"cnnguide", "cnnguide.data", "cnnguide.prose", "cnnguide.seeding"}
LINE = re.compile(r"The code behind this chapter:(.*?)\(in the \{doc\}", re.S)
MOD_ROLE = re.compile(r"\{mod\}`(cnnguide[\w.]*)`")


def is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def chapter_imports(path: Path) -> set[str]:
    """The cnnguide modules a chapter's code cells import (``from cnnguide
    import kernels`` counts as ``cnnguide.kernels``)."""
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell  # %pip and friends
    found = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(to_python("".join(cell["source"])))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "cnnguide"
            ):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if is_module(sub) else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("cnnguide")}
    return found


def listed_in_chapter(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    text = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    match = LINE.search(text)
    assert match, f"{path.name} has no 'The code behind this chapter' line"
    return MOD_ROLE.findall(match.group(1))


def listed_in_package() -> dict[str, set[str]]:
    """The chapter table of ``cnnguide/__init__.py``: {"01": {"cnnguide.x", ...}}."""
    import cnnguide

    table: dict[str, set[str]] = {}
    current = None
    for line in cnnguide.__doc__.splitlines():
        head = re.match(r"(\d\d) [a-z ]+?  +(\S.*)$", line)
        if head:
            current, rest = head.group(1), head.group(2)
            table[current] = set()
        elif current and line.startswith(" ") and line.strip():
            rest = line.strip()
        else:
            current = None
            continue
        table[current] |= {
            f"cnnguide.{m.strip()}" for m in rest.split(",") if m.strip()
        }
    return table


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_chapter_lists_every_module_its_cells_import(path):
    listed = set(listed_in_chapter(path))
    missing = chapter_imports(path) - BOOK_WIDE - listed
    assert not missing, (
        f"{path.name} imports {sorted(missing)} but its 'The code behind this "
        "chapter' line does not list them"
    )
    assert all(is_module(m) for m in listed), f"{path.name} lists a missing module"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_package_docstring_lists_the_same_modules_for_the_chapter(path):
    table = listed_in_package()
    number = path.name[:2]
    assert number in table, f"cnnguide/__init__.py has no row for chapter {number}"
    assert table[number] == set(listed_in_chapter(path)), (
        f"chapter {number}: cnnguide/__init__.py lists {sorted(table[number])}, "
        f"the chapter lists {sorted(listed_in_chapter(path))}"
    )


def test_the_package_table_has_a_row_per_chapter_and_nothing_else():
    assert sorted(listed_in_package()) == [p.name[:2] for p in NOTEBOOKS]


def test_the_map_catches_an_unlisted_import(tmp_path):
    """The check can fail: a chapter importing a module it does not list."""
    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "source": "The code behind this chapter: {mod}`cnnguide.ops` "
                "(in the {doc}`API reference </book/api/index>`).",
            },
            {"cell_type": "code", "source": "from cnnguide import kernels as K\n"},
        ]
    }
    path = tmp_path / "99_x.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(AssertionError, match="cnnguide.kernels"):
        test_the_chapter_lists_every_module_its_cells_import(path)


def test_contributing_names_only_modules_that_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    named = set(re.findall(r"`(cnnguide(?:\.\w+)+)", text))
    assert named, "CONTRIBUTING.md names no module"
    missing = []
    for name in named:
        parts = name.split(".")
        # `cnnguide.plotting.show_signed` names a function: its module must exist.
        if not any(is_module(".".join(parts[:k])) for k in range(len(parts), 1, -1)):
            missing.append(name)
    assert not missing, f"CONTRIBUTING.md names modules that do not exist: {missing}"


def _numpy_references() -> list[str]:
    """The modules of the API reference's "NumPy references" page (one list)."""
    from script_loader import load_script

    module = load_script("book/api/generate.py")
    (modules,) = [p[3] for p in module.PAGES if p[0] == "references"]
    return modules


# The NumPy references of the map (cnnguide/__init__.py, CONTRIBUTING and the API
# reference): they never import Keras, TensorFlow or the widget libraries.
NUMPY_REFERENCES = _numpy_references()


def test_contributing_lists_the_numpy_references():
    text = " ".join((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8").split())
    start = text.index("the NumPy references (")
    listed = re.findall(r"`cnnguide\.(\w+)`", text[start : text.index(")", start)])
    assert listed == NUMPY_REFERENCES


@pytest.mark.parametrize("name", NUMPY_REFERENCES)
def test_numpy_references_import_no_keras_and_no_widgets(name):
    import subprocess
    import sys

    code = (
        f"import sys, cnnguide.{name}; "
        "heavy = ('keras', 'tensorflow', 'ipywidgets', 'anywidget'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", f"cnnguide.{name} imports {out.stdout}"
