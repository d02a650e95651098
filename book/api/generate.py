"""Write the API reference pages (book/api/*.md) from the package index.

The index in ``cnnguide/__init__.py`` lists every module; this script puts each one
in a section of the page of its layer (the layers of the package map), with a
summary table of its public names (``__all__``) and their full documentation,
rendered by Sphinx autodoc from the numpydoc docstrings (napoleon), with links to
the highlighted source (viewcode). Run it after adding a module to the index::

    .venv/bin/python book/api/generate.py

``tests/test_api_reference.py`` checks that the pages and the index agree.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (page, title, what the layer is, module prefixes), in the order of the package map.
PAGES = [
    (
        "references",
        "NumPy references",
        "The building blocks written out in NumPy, to read next to the chapters "
        "that explain them. They import neither Keras nor TensorFlow nor widgets.",
        [
            "neuron",
            "images",
            "kernels",
            "ops",
            "activations",
            "normalization",
            "dropout",
            "corruptions",
        ],
    ),
    (
        "data",
        "Data",
        "Where the images come from: PneumoniaMNIST, image folders, single files "
        "(PNG, JPEG, DICOM) and the synthetic phantoms that stand in without data.",
        ["data"],
    ),
    (
        "learning",
        "Models, training and evaluation",
        "The Keras-level teaching code: layers and models, the training recipe, "
        "ensembles, metrics, calibration, class imbalance and Grad-CAM.",
        [
            "layers",
            "layer_outputs",
            "models",
            "train",
            "ensemble",
            "metrics",
            "calibration",
            "imbalance",
            "explain",
        ],
    ),
    (
        "explorers",
        "Explorers",
        "The interactive figures of the chapters and their static twins.",
        ["widgets", "explorers", "thresholds"],
    ),
    (
        "deploy",
        "Deployment and the command line",
        "One prediction service and the front ends over it: the web API, the "
        "Streamlit page, the edge export and the ``cnnguide`` command.",
        ["deploy", "cli"],
    ),
    (
        "helpers",
        "Helpers",
        "Small modules the chapters share: figures, progress reports, the numbers "
        "the prose states, the one base seed every random choice derives from, and "
        "files written whole or not at all.",
        ["plotting", "progress", "prose", "seeding", "files"],
    ),
]


def index_modules() -> list[str]:
    """The modules of the package index (``cnnguide``'s docstring), in its order,
    then any other public module of the package (none, when the index is complete)."""
    import pkgutil

    import cnnguide

    names = re.findall(r"^``(cnnguide(?:\.\w+)*)``", cnnguide.__doc__, re.MULTILINE)
    walked = [
        m.name
        for m in pkgutil.walk_packages(cnnguide.__path__, "cnnguide.")
        if not m.name.endswith("__main__")
    ]
    return list(dict.fromkeys(["cnnguide"] + names + sorted(walked)))


def page_of(module: str) -> str:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if not top:
        return "index"
    for page, _, _, prefixes in PAGES:
        if top in prefixes:
            return page
    raise SystemExit(f"{module}: add its layer to PAGES in {__file__}")


def defined_in(module) -> set[str]:
    """Names the module's own source defines at top level (not those it imports)."""
    import ast

    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def homes(modules: list[str]) -> dict[tuple[str, str], str]:
    """Where each exported name is documented: ``(module, name) -> module``.

    In the first module whose source defines that very object; for an object
    defined in a private module (``explorers/_core.py``), in the first public
    module that exports it.
    """
    mods = {m: importlib.import_module(m) for m in modules}
    defined = {m: defined_in(mods[m]) for m in modules}
    out = {}
    for m in modules:
        for name in getattr(mods[m], "__all__", []):
            obj = getattr(mods[m], name)
            same = [o for o in modules if getattr(mods[o], name, None) is obj]
            out[m, name] = next((o for o in same if name in defined[o]), same[0])
    return out


def _directive(module: str, name: str) -> list[str]:
    """The autodoc directive that documents ``module.name``."""

    obj = getattr(importlib.import_module(module), name)
    if inspect.isclass(obj):
        kind = "autoexception" if issubclass(obj, BaseException) else "autoclass"
        return [f".. {kind}:: {name}", "   :members:", "   :show-inheritance:", ""]
    if inspect.isroutine(obj):
        return [f".. autofunction:: {name}", ""]
    if isinstance(obj, os.PathLike):
        # A path's value is this machine's folder: a page must not print it.
        return [f".. autodata:: {name}", "   :no-value:", ""]
    return [f".. autodata:: {name}", ""]


def section(module: str, home: dict) -> str:
    """One module: its docstring, a summary table, then its own names in full.

    A name the module re-exports (``cnnguide.data`` gathers its submodules' names)
    is documented once, where it is defined; the table links there.
    """
    mod = importlib.import_module(module)
    public = [n for n in getattr(mod, "__all__", []) if not n.startswith("_")]
    mine = [n for n in public if home[module, n] == module]
    rows, foreign = [], []
    for name in public:
        full = f"{home[module, name]}.{name}"
        if full.startswith(module + "."):
            # Relative to the current module, as autosummary wants; ~ shows the
            # last part only.
            rows.append("   ~" + full.removeprefix(module + "."))
        else:
            foreign.append("   ~" + full)
    lines = [f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", ""]
    if rows:
        lines += [".. rubric:: Contents", "", ".. autosummary::", ""] + rows + [""]
    if foreign:  # names this module passes on from another one
        lines += [".. currentmodule:: None", "", ".. rubric:: Also exported here", ""]
        lines += [".. autosummary::", ""] + foreign + [""]
        lines += [f".. currentmodule:: {module}", ""]
    if mine:
        lines += [".. rubric:: Reference", ""]
    for name in mine:
        lines += _directive(module, name)
    lines += ["```", ""]
    return "\n".join(lines)


def render() -> dict[str, str]:
    """The pages, ``{file name: markdown}``."""
    modules = index_modules()
    home = homes(modules)
    by_page: dict[str, list[str]] = {"index": []} | {page: [] for page, *_ in PAGES}
    for module in modules:
        by_page[page_of(module)].append(module)
    pages = {}
    index = [
        "# API reference",
        "",
        "Every module of the `cnnguide` package, one section each, from the "
        "docstrings (NumPy style; the examples in them run as tests). The "
        "**[source]** link beside each name opens its highlighted code. The pages "
        "follow the layers of the package, from the NumPy references up to the "
        "front ends and the command line.",
        "",
    ]
    for page, title, blurb, _ in PAGES:
        if not by_page[page]:
            continue
        index.append(f"- {{doc}}`{page}`: {blurb}")
        body = [f"# {title}", "", blurb, ""]
        body += [section(m, home) for m in by_page[page]]
        pages[f"{page}.md"] = "\n".join(body).rstrip() + "\n"
    index += ["", "This is teaching material, not a diagnostic device.", ""]
    index += [section(m, home) for m in by_page["index"]]
    pages["index.md"] = "\n".join(index).rstrip() + "\n"
    return pages


def main() -> None:
    pages = render()
    for name, text in pages.items():
        (HERE / name).write_text(text)
    print(f"{len(index_modules())} modules on {len(pages)} pages in {HERE}")


if __name__ == "__main__":
    main()
