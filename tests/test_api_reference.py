"""The book's API reference (book/api/) documents every module of the package."""

import pkgutil
import re
from pathlib import Path

import yaml

import cnnguide
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "book" / "api"


def _generator():
    return load_script("book/api/generate.py")


def test_pages_are_up_to_date_with_the_package():
    """After adding a module or a name: `python book/api/generate.py`."""
    for name, text in _generator().render().items():
        assert (API / name).read_text() == text, (
            f"book/api/{name} is out of date; run .venv/bin/python book/api/generate.py"
        )


def test_every_module_has_a_section_and_every_page_is_in_the_toc():
    pages = "".join(p.read_text() for p in API.glob("*.md"))
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", pages, re.MULTILINE))
    modules = {
        m.name
        for m in pkgutil.walk_packages(cnnguide.__path__, "cnnguide.")
        if not m.name.endswith("__main__")
    }
    assert modules | {"cnnguide"} <= documented, sorted(modules - documented)
    index = set(re.findall(r"^``(cnnguide(?:\.\w+)*)``", cnnguide.__doc__, re.M))
    assert index <= documented, sorted(index - documented)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {
        entry["file"]
        for part in toc["parts"]
        for chapter in part["chapters"]
        for entry in [chapter, *chapter.get("sections", [])]
    }
    assert {f"book/api/{p.stem}" for p in API.glob("*.md")} <= files


def test_autodoc_extensions_are_configured():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    assert {
        "sphinx.ext.autodoc",
        "sphinx.ext.autosummary",
        "sphinx.ext.napoleon",
        "sphinx.ext.viewcode",
    } <= set(config["extra_extensions"])
    assert "api_refs" in config["local_extensions"]
