"""Class editions of the chapters: plain notebooks for Colab, VS Code and GitHub.

``make classroom`` (``python book/classroom.py``) writes two editions of every
chapter in ``_toc.yml`` into ``_build/classroom``, generated from
``notebooks/`` and never edited by hand:

* ``instructor/``: every cell, the solutions included;
* ``student/``: the same without the solutions (their prose and code removed);
  each exercise keeps an empty code cell under it to work in.

Both are plain CommonMark notebooks. The chapters are written in MyST for
Jupyter Book and jupyterlab-myst; Colab, VS Code, GitHub and classic Jupyter
show MyST as raw text. So, cell by cell: admonitions become block quotes with
a bold title, exercises numbered headings, ``{eval}`` numbers the value the
book's build computed (read from myst-nb's ``_build/jupyter_execute/
notebooks/<chapter>.glue.json``), ``{mod}`` and ``{doc}`` roles and links to
``.md`` pages links to the published book; math stays ``$...$``. The
converter knows exactly the MyST the chapters use and refuses any other
directive or role by name, so a new construct cannot slip through as raw text.

Why a converter of our own (CONTRIBUTING.md says more): ``sphinx-tojupyter``
writes notebooks from Sphinx's doctree, but it is a separate Sphinx builder
(a second execution of every chapter, or none, so no computed numbers) and
does not know sphinx-exercise's gated solutions; ``jupytext`` changes the
file format, not the MyST inside a cell. Our MyST is a small, fixed set (four
directives, three roles), handled here in about 300 lines with tests.

The first cell of each edition installs what Colab lacks (``cnnguide``'s
dependencies without TensorFlow, which Colab ships, and the extra a chapter
needs), and does nothing where ``cnnguide`` is importable.

Usage::

    python book/classroom.py [--build _build] [--out _build/classroom]
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys

try:
    import tomllib
except ImportError:  # Python 3.10: the test extra installs tomli
    import tomli as tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EDITIONS = ("student", "instructor")
#: The branch the Pages workflow pushes the editions to; Colab opens them there.
CLASSROOM_BRANCH = "classroom"

_DIRECTIVE = re.compile(
    r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$"
)
_ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<text>[^`]*)`")
_MD_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
_ADMONITIONS = {"note", "warning", "tip", "important", "caution", "hint"}


class MystError(ValueError):
    """A chapter uses MyST the converter does not know; the message names it."""


# -- where things are published ---------------------------------------------


def repository() -> dict:
    """``_config.yml``'s repository block (url, branch)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]


def _owner_name(repo_url: str) -> tuple[str, str]:
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", repo_url)
    if match is None:
        raise ValueError(
            f"repository.url {repo_url!r} in _config.yml is not a GitHub URL "
            "(https://github.com/OWNER/NAME); Colab opens notebooks from GitHub"
        )
    return match.group(1), match.group(2)


def pages_url(repo_url: str) -> str:
    """The GitHub Pages address of the book published from ``repo_url``.

    Examples
    --------
    >>> pages_url("https://github.com/cnnguide/cnnguide")
    'https://cnnguide.github.io/cnnguide/'
    """
    owner, name = _owner_name(repo_url)
    return f"https://{owner.lower()}.github.io/{name}/"


def colab_url(repo_url: str, stem: str, edition: str = "student") -> str:
    """The Colab address of one chapter's class edition on the classroom branch.

    Examples
    --------
    >>> colab_url("https://github.com/cnnguide/cnnguide", "08_training")
    'https://colab.research.google.com/github/cnnguide/cnnguide/blob/classroom/student/08_training.ipynb'
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    owner, name = _owner_name(repo_url)
    return (
        f"https://colab.research.google.com/github/{owner}/{name}/blob/"
        f"{CLASSROOM_BRANCH}/{edition}/{stem}.ipynb"
    )


def branch_path(edition: str, stem: str) -> str:
    """Where one edition of one chapter lies on the classroom branch."""
    return f"{edition}/{stem}.ipynb"


def api_pages() -> dict[str, str]:
    """Module name -> API reference page (``book/api/<page>``), from its sources."""
    pages = {}
    for page in sorted((ROOT / "book" / "api").glob("*.md")):
        for module in re.findall(
            r"automodule:: (cnnguide[\w.]*)", page.read_text(encoding="utf-8")
        ):
            pages[module] = f"book/api/{page.stem}"
    return pages


# -- the values the book's build computed --------------------------------------


class _Text(str):
    """A glued Markdown value: goes into the text as it is."""


def _parse_plain(text: str) -> Any:
    inner = re.fullmatch(r"np\.\w+\((.*)\)", text.strip(), re.S)
    try:
        return ast.literal_eval(inner.group(1) if inner else text.strip())
    except (ValueError, SyntaxError):
        return _Text(text)


def read_glued(path: Path) -> dict[str, Any]:
    """The values one chapter glued in the book's build (myst-nb's glue file).

    Numbers come back as numbers, so the prose's format specs apply; glued
    Markdown comes back as its text.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    values = {}
    for name, bundle in raw.items():
        data = bundle.get("data", bundle)
        if "text/markdown" in data:
            values[name] = _Text(data["text/markdown"])
        elif "text/plain" in data:
            values[name] = _parse_plain(data["text/plain"])
    return values


def fill_eval(expression: str, values: dict[str, Any]) -> str:
    """The text of one ``{eval}`` role: ``glued("name", "spec")`` from ``values``.

    Examples
    --------
    >>> fill_eval('glued("auc", ".3f")', {"auc": 0.98765})
    '0.988'
    >>> fill_eval('glued("verb")', {"verb": "lifts"})
    'lifts'
    """
    try:
        call = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        call = None
    if not (
        isinstance(call, ast.Call)
        and getattr(call.func, "id", None) == "glued"
        and 1 <= len(call.args) <= 2
        and all(isinstance(a, ast.Constant) for a in call.args)
    ):
        raise MystError(
            f"{{eval}}`{expression}`: a class edition can fill in only "
            'glued("name", "spec") calls'
        )
    name, *spec = (a.value for a in call.args)
    if name not in values:
        raise MystError(
            f"{{eval}}`{expression}`: the book's build glued no {name!r}; "
            "build the book again (make book) before make classroom"
        )
    value = values[name]
    if isinstance(value, str):
        return str(value).strip()
    return format(value, spec[0] if spec else "")


# -- MyST to CommonMark -------------------------------------------------------


class Context:
    """What converting one chapter needs: values, numbering, addresses."""

    def __init__(self, values, book_url, api, edition, repo_url=None):
        self.values = values
        self.book_url = book_url
        self.repo_url = repo_url  # files the page shows (a figure) are served from it
        self.api = api
        self.edition = edition
        self.exercises: dict[str, int] = {}

    def page_url(self, path: str, anchor: str = "") -> str:
        """``path`` relative to the repository root -> published page."""
        path = re.sub(r"\.(md|ipynb)$", "", path.lstrip("/"))
        return f"{self.book_url}{path}.html{anchor}"


def _role(match: re.Match, ctx: Context) -> str:
    name, text = match.group("name"), match.group("text")
    if name == "eval":
        return fill_eval(text, ctx.values)
    if name == "mod":
        if text not in ctx.api:
            raise MystError(f"{{mod}}`{text}`: no API page documents {text}")
        return f"[`{text}`]({ctx.page_url(ctx.api[text], '#module-' + text)})"
    if name == "doc":
        labelled = re.fullmatch(r"(.*?)\s*<(.+)>", text)
        label, target = labelled.groups() if labelled else (None, text)
        path = target[1:] if target.startswith("/") else f"notebooks/{target}"
        return f"[{label or target}]({ctx.page_url(path)})"
    raise MystError(f"role {{{name}}} is not one a class edition converts")


def _from_root(path: str) -> str:
    """A link relative to ``notebooks/`` as a path from the repository root."""
    parts = []
    for part in (Path("notebooks") / path).as_posix().split("/"):
        if part == ".." and parts:  # fold ../ against notebooks/
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _link(match: re.Match, ctx: Context) -> str:
    target = match.group("target")
    if re.match(r"[a-z]+:|#", target):
        return match.group(0)
    if not re.search(r"\.(md|ipynb)(#|$)", target):
        # A file beside the chapters (a figure): the class edition lives on
        # another branch, so point at the file in the repository.
        if ctx.repo_url is None:
            return match.group(0)
        return f"]({ctx.repo_url.rstrip('/')}/raw/main/{_from_root(target)})"
    path, _, anchor = target.partition("#")
    return f"]({ctx.page_url(_from_root(path), '#' + anchor if anchor else '')})"


def _inline(text: str, ctx: Context) -> str:
    text = _ROLE.sub(lambda m: _role(m, ctx), text)
    return _MD_LINK.sub(lambda m: _link(m, ctx), text)


def _block(lines: list[str], start: int) -> tuple[re.Match, list[str], int]:
    """The directive opening at ``start``: (match, body lines, index after it)."""
    match = _DIRECTIVE.match(lines[start])
    char, size = match.group("fence")[0], len(match.group("fence"))
    closing = re.compile(rf"^ {{0,3}}{re.escape(char)}{{{size},}}\s*$")
    for end in range(start + 1, len(lines)):
        if closing.match(lines[end]):
            return match, lines[start + 1 : end], end + 1
    raise MystError(f"directive {match.group(0).strip()!r} is never closed")


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options, k = {}, 0
    while k < len(body) and (m := re.match(r"^:([\w-]+):\s*(.*)$", body[k])):
        options[m.group(1)] = m.group(2)
        k += 1
    return options, body[k:]


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def convert_markdown(text: str, ctx: Context) -> str:
    """One markdown cell's MyST -> CommonMark (see the module docstring)."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        if not _DIRECTIVE.match(lines[i]):
            out.append(_inline(lines[i], ctx))
            i += 1
            continue
        match, body, i = _block(lines, i)
        name, arg = match.group("name"), match.group("arg").strip()
        options, content = _options(body)
        inner = convert_markdown("\n".join(content).strip("\n"), ctx)
        if name == "admonition" or name in _ADMONITIONS:
            title = _inline(arg, ctx) if arg else name.capitalize()
            out.append(_quote(f"**{title}**\n\n{inner}".rstrip()))
        elif name == "exercise":
            number = len(ctx.exercises) + 1
            ctx.exercises[options.get("label", f"exercise-{number}")] = number
            title = f": {_inline(arg, ctx)}" if arg else ""
            out.append(f"#### Exercise {number}{title}\n\n{inner}".rstrip())
        elif name == "solution-start":
            if arg not in ctx.exercises:
                raise MystError(f"solution for unknown exercise {arg!r}")
            out.append(f"**Solution to exercise {ctx.exercises[arg]}**")
        elif name == "solution-end":
            pass
        else:
            raise MystError(
                f"directive {{{name}}} is not one a class edition converts; "
                "teach book/classroom.py its CommonMark form"
            )
    return "\n".join(out).strip("\n")


# -- notebooks ------------------------------------------------------------------


def _directive_names(cell: dict) -> list[str]:
    """The directives a markdown cell opens, in order (solution-end may close
    a cell of solution prose)."""
    if cell["cell_type"] != "markdown":
        return []
    lines = "".join(cell["source"]).split("\n")
    return [m.group("name") for line in lines if (m := _DIRECTIVE.match(line))]


def _cell(kind: str, source: str, **metadata) -> dict:
    cell = {"cell_type": kind, "metadata": metadata, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def extras_for(nb: dict) -> list[str]:
    """The optional dependency groups a chapter's code imports."""
    code = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
    )
    wanted = []
    if re.search(r"^\s*(from|import)\s+(fastapi|streamlit|uvicorn)\b", code, re.M):
        wanted.append("app")
    if re.search(r"^\s*(from|import)\s+pydicom\b", code, re.M):
        wanted.append("dicom")
    return wanted


def install_source(repo_url: str, extras: list[str]) -> str:
    """The first code cell: install what a fresh Colab kernel lacks.

    ``cnnguide`` itself goes in without dependencies, then every dependency
    but TensorFlow (Colab's own stays: no multi-gigabyte reinstall, and on
    Linux the package asks for ``tensorflow-cpu``, a second copy), then the
    chapter's extras. Where ``cnnguide`` is importable, nothing happens.
    """
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = meta["project"]
    wanted = [d for d in project["dependencies"] if not d.startswith("tensorflow")]
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    quoted = " ".join(json.dumps(d) for d in wanted)
    return (
        "# Colab and other fresh kernels lack the book's package: install it\n"
        "# (nothing happens where it is installed). TensorFlow stays as it is.\n"
        "import importlib.util\n"
        "\n"
        'if importlib.util.find_spec("cnnguide") is None:\n'
        f'    %pip install --quiet --no-deps "cnnguide @ git+{repo_url}"\n'
        f"    %pip install --quiet {quoted}\n"
    )


def convert_notebook(
    nb: dict, edition: str, values: dict, *, repo_url: str, book_url: str, api: dict
) -> dict:
    """One edition of one chapter as a plain CommonMark notebook."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    ctx = Context(values, book_url, api, edition, repo_url)
    mode = str(values.get("data_mode", "")).strip("'\"")
    data = {
        "real": "on PneumoniaMNIST",
        "phantom": "on the synthetic phantoms (no X-rays)",
    }.get(mode, "")
    banner = (
        f"> **Class edition ({edition})** of a chapter of "
        f"[*Convolutional neural networks on chest X-rays*]({book_url}). "
        f"Numbers in the text are those of the book's own run {data} "
        "(base seed 0); your run may differ slightly, most of all where a "
        "network is trained."
        + (
            " The solutions are in the instructor edition."
            if edition == "student"
            else ""
        )
        + " Teaching material, not a diagnostic device."
    )
    cells, in_solution = [], False
    installed = False
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        directives = _directive_names(cell)
        if "solution-start" in directives:
            in_solution = True
        if in_solution and edition == "student":
            in_solution = "solution-end" not in directives
            continue
        if "solution-end" in directives:
            in_solution = False
        if "remove-cell" in tags:
            if "importlib.util.find_spec" not in "".join(cell["source"]):
                raise MystError("a remove-cell cell that is not the install cell")
            if not installed:
                cells.append(_cell("code", install_source(repo_url, extras_for(nb))))
                installed = True
            continue
        new = copy.deepcopy(cell)
        new.pop("id", None)
        exercises_before = len(ctx.exercises)
        if new["cell_type"] == "markdown":
            text = convert_markdown("".join(new["source"]), ctx)
            if not text.strip():
                continue
            new["source"] = text
        else:
            new["source"] = "".join(new["source"])
            new["outputs"], new["execution_count"] = [], None
            if "remove-input" in tags:  # the book's hidden checks: folded
                meta = new.setdefault("metadata", {})
                meta.setdefault("jupyter", {})["source_hidden"] = True
                meta["cellView"] = "form"  # Colab's folded cell
        cells.append(new)
        if edition == "student" and len(ctx.exercises) > exercises_before:
            cells.append(_cell("code", "# Your answer here\n"))
    if not installed:
        raise MystError("the chapter has no install cell (tag remove-cell)")
    if in_solution:
        raise MystError("a solution-start without its solution-end")
    title = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), 0)
    cells.insert(title + 1, _cell("markdown", banner))
    out = {k: v for k, v in nb.items() if k != "cells"}
    out["cells"] = cells
    out["nbformat"], out["nbformat_minor"] = 4, 4  # no cell ids: any Jupyter reads it
    return out


def chapters() -> list[str]:
    """The chapter notebooks in ``_toc.yml`` order (their stems)."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"notebooks/([\w-]+)", toc)


def build(build_dir: Path, out_dir: Path) -> list[Path]:
    """Write both editions of every chapter; return the files written."""
    sys.path.insert(0, str(ROOT))
    from cnnguide.files import write_text

    executed = build_dir / "jupyter_execute" / "notebooks"
    repo_url = repository()["url"].rstrip("/")
    book_url, api = pages_url(repo_url), api_pages()
    written = []
    for stem in chapters():
        glue_file = executed / f"{stem}.glue.json"
        if not glue_file.is_file():
            raise SystemExit(
                f"{glue_file} is missing: the class editions take their numbers "
                "from the book's build; run make book first"
            )
        values = read_glued(glue_file)
        nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text("utf-8"))
        for edition in EDITIONS:
            try:
                new = convert_notebook(
                    nb, edition, values, repo_url=repo_url, book_url=book_url, api=api
                )
            except MystError as exc:
                raise SystemExit(f"notebooks/{stem}.ipynb: {exc}") from None
            path = out_dir / branch_path(edition, stem)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, json.dumps(new, indent=1, ensure_ascii=False) + "\n")
            written.append(path)
    readme = out_dir / "README.md"
    write_text(readme, _readme(repo_url, book_url))
    return written + [readme]


def _readme(repo_url: str, book_url: str) -> str:
    rows = "\n".join(
        f"| {stem} | [student]({colab_url(repo_url, stem)}) | "
        f"[instructor]({colab_url(repo_url, stem, 'instructor')}) |"
        for stem in chapters()
    )
    return (
        "# Class editions of the chapters\n\n"
        f"Generated by `make classroom` from the chapters of {repo_url}; do not\n"
        "edit them here. `student/` has every exercise without its solution,\n"
        f"`instructor/` has the solutions. The book: {book_url}\n\n"
        "| chapter | open in Colab | |\n|---|---|---|\n" + rows + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or args.build / "classroom"
    written = build(args.build, out)
    print(f"wrote {len(written)} files under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
