"""The class editions (book/classroom.py): plain CommonMark, no solutions for students.

These tests convert every chapter with stand-in values for the glued numbers
(the book's build provides the real ones; CI converts those after make book
and executes the student edition on phantoms). They check what a student in
Colab would see: no MyST left, no solution text, a cell to work in under each
exercise, and a first cell that installs the package without TensorFlow.
"""

import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))

import classroom as C  # noqa: E402

STEMS = C.chapters()
REPO = C.repository()["url"]
# What MyST looks like in a markdown cell: a directive fence, a role, a target.
MYST_FENCE = re.compile(r"^\s*(`{3,}|:{3,})\{[\w:-]+\}", re.M)
MYST_ROLE = re.compile(r"\{[\w:-]+\}`")
MYST_TARGET = re.compile(r"^\([\w-]+\)=\s*$", re.M)


def _source(stem):
    return json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text("utf-8"))


def _stand_in_values(nb):
    """Every name the chapter's prose reads, glued as 1 (formats with any spec)."""
    text = "".join("".join(c["source"]) for c in nb["cells"])
    values = {name: 1 for name in re.findall(r'glued\("(\w+)"', text)}
    values["data_mode"] = "phantom"
    return values


def _convert(stem, edition):
    nb = _source(stem)
    return C.convert_notebook(
        nb,
        edition,
        _stand_in_values(nb),
        repo_url=REPO,
        book_url=C.pages_url(REPO),
        api=C.api_pages(),
    )


def _solutions(nb):
    """The cells between each solution-start and its solution-end."""
    inside, found = False, []
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if "{solution-start}" in text:
            inside = True
        elif "{solution-end}" in text:
            found.append(text.split("```{solution-end}")[0])
            inside = False
        elif inside:
            found.append(text)
    return found


def test_the_toc_names_twelve_chapters():
    assert len(STEMS) == 12 and STEMS[0].startswith("01_")


@pytest.mark.parametrize("edition", C.EDITIONS)
@pytest.mark.parametrize("stem", STEMS)
def test_no_myst_is_left_in_any_markdown_cell(stem, edition):
    md = MarkdownIt("commonmark")
    nb = _convert(stem, edition)
    assert nb["nbformat"] == 4
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = cell["source"]
        assert not MYST_FENCE.search(text), text[:200]
        assert not MYST_ROLE.search(text), text[:200]
        assert not MYST_TARGET.search(text), text[:200]
        for token in md.parse(text):
            assert not (token.type == "fence" and token.info.startswith("{"))


@pytest.mark.parametrize("stem", STEMS)
def test_the_student_edition_holds_no_solution_text(stem):
    solutions = _solutions(_source(stem))
    assert solutions, f"{stem} has no solutions to check against"
    student = "\n".join(c["source"] for c in _convert(stem, "student")["cells"])
    instructor = "\n".join(c["source"] for c in _convert(stem, "instructor")["cells"])
    # Lines of the solutions that the chapter does not also hold elsewhere.
    whole = "\n".join("".join(c["source"]) for c in _source(stem)["cells"])
    lines = {
        line.strip()
        for text in solutions
        for line in text.split("\n")
        if len(line.strip()) > 25
        and not line.strip().startswith("#")
        and whole.count(line.strip()) == 1
    }
    assert lines
    leaked = [line for line in lines if line in student]
    assert not leaked, leaked[:3]
    missing = [line for line in lines if line not in instructor]
    assert not missing, missing[:3]
    assert "Solution to exercise" not in student
    assert "Solution to exercise 1" in instructor


@pytest.mark.parametrize("stem", STEMS)
def test_each_exercise_is_numbered_with_a_cell_to_work_in(stem):
    cells = _convert(stem, "student")["cells"]
    numbers = []
    for k, cell in enumerate(cells):
        found = re.findall(r"^#### Exercise (\d+)", cell["source"], re.M)
        if found:
            numbers += [int(n) for n in found]
            after = cells[k + 1]
            assert after["cell_type"] == "code"
            assert after["source"].strip() == "# Your answer here"
    assert 2 <= len(numbers) <= 4 and numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("stem", STEMS)
def test_the_first_code_cell_installs_without_touching_tensorflow(stem):
    nb = _convert(stem, "student")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = code[0]["source"]
    guard = 'if importlib.util.find_spec("cnnguide") is None:\n'
    assert guard in first
    body = first.split(guard, 1)[1]
    pips = [line.strip() for line in body.splitlines() if line.strip()]
    assert all(line.startswith("%pip install") for line in pips)
    assert "--no-deps" in pips[0] and "git+" + REPO in pips[0]
    assert "tensorflow" not in " ".join(pips[1:])
    assert '"keras' in pips[1] and '"lime' in pips[1]
    assert ("fastapi" in pips[1]) == (stem == "12_deployment")
    # The book's own install cell (remove-cell) is gone, not doubled.
    assert sum("find_spec" in c["source"] for c in code) == 1


def test_glued_values_are_read_as_the_book_computed_them(tmp_path):
    glue = {
        "auc": {"data": {"text/plain": "np.float64(0.98765)"}},
        "n": {"data": {"text/plain": "5856"}},
        "verb": {"data": {"text/plain": "'lifts'"}},
        "sentence": {
            "data": {"text/plain": "<Markdown>", "text/markdown": "It *helps*."}
        },
    }
    path = tmp_path / "x.glue.json"
    path.write_text(json.dumps(glue))
    values = C.read_glued(path)
    assert C.fill_eval('glued("auc", ".3f")', values) == "0.988"
    assert C.fill_eval('glued("n", ",")', values) == "5,856"
    assert C.fill_eval('glued("verb")', values) == "lifts"
    assert C.fill_eval('glued("sentence")', values) == "It *helps*."
    with pytest.raises(C.MystError, match="glued no 'other'"):
        C.fill_eval('glued("other")', values)
    with pytest.raises(C.MystError, match="only"):
        C.fill_eval("__import__('os')", values)


def test_unknown_myst_is_refused_by_name():
    ctx = C.Context({}, "https://x.github.io/y/", {}, "student")
    with pytest.raises(C.MystError, match=r"\{figure\}"):
        C.convert_markdown("```{figure} a.png\n```", ctx)
    with pytest.raises(C.MystError, match=r"\{numref\}"):
        C.convert_markdown("see {numref}`fig-1`", ctx)


def test_admonitions_become_quotes_and_links_reach_the_book():
    ctx = C.Context({}, "https://o.github.io/r/", {"cnnguide.ops": "book/api/x"}, "s")
    text = (
        "```{admonition} Note on the source\n:class: warning\nIt is *wrong*.\n"
        "```\nSee {mod}`cnnguide.ops`, {doc}`the API </book/api/index>` and "
        "[refs](../book/references.md#kermany)."
    )
    out = C.convert_markdown(text, ctx)
    assert out.startswith("> **Note on the source**\n>\n> It is *wrong*.")
    assert "[`cnnguide.ops`](https://o.github.io/r/book/api/x.html#module-" in out
    assert "[the API](https://o.github.io/r/book/api/index.html)" in out
    assert "[refs](https://o.github.io/r/book/references.html#kermany)" in out


def test_a_figure_beside_the_chapters_is_served_from_the_repository():
    ctx = C.Context({}, "https://o.github.io/r/", {}, "s", "https://github.com/o/r")
    out = C.convert_markdown("![the app](../book/figures/app.png)", ctx)
    assert out == "![the app](https://github.com/o/r/raw/main/book/figures/app.png)"


def test_colab_urls_and_the_branch_layout(tmp_path):
    assert C.pages_url(REPO) == "https://cnnguide.github.io/cnnguide/"
    assert C.colab_url(REPO, "03_kernels") == (
        "https://colab.research.google.com/github/cnnguide/cnnguide/blob/"
        "classroom/student/03_kernels.ipynb"
    )
    with pytest.raises(ValueError, match="not a GitHub URL"):
        C.pages_url("https://gitlab.com/a/b")
    # A stand-in build: a glue file per chapter, as myst-nb writes them.
    executed = tmp_path / "build" / "jupyter_execute" / "notebooks"
    executed.mkdir(parents=True)
    for stem in STEMS:
        values = _stand_in_values(_source(stem))
        glue = {k: {"data": {"text/plain": repr(v)}} for k, v in values.items()}
        (executed / f"{stem}.glue.json").write_text(json.dumps(glue))
    out = tmp_path / "classroom"
    written = C.build(tmp_path / "build", out)
    expected = {out / C.branch_path(e, s) for e in C.EDITIONS for s in STEMS}
    assert set(written) == expected | {out / "README.md"}
    readme = (out / "README.md").read_text()
    for stem in STEMS:
        assert C.colab_url(REPO, stem) in readme
    assert not list(out.rglob("*.tmp*"))  # written to a temporary name, renamed


def test_a_missing_build_gets_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="run make book first"):
        C.build(tmp_path, tmp_path / "out")


def test_the_colab_button_of_a_chapter_opens_its_student_edition():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import colab_student

    class App:
        class config:
            html_context = {"classroom_repo_url": REPO}

    colab = {"type": "link", "text": "Colab", "url": "main-branch-url"}
    binder = {"type": "link", "text": "Binder", "url": "binder-url"}
    context = {"header_buttons": [{"type": "group", "buttons": [binder, colab]}]}
    colab_student.student_colab_button(
        App, "notebooks/09_imbalanced_data", "page.html", context, None
    )
    assert colab["url"] == C.colab_url(REPO, "09_imbalanced_data")
    assert binder["url"] == "binder-url"  # Binder keeps the main branch
    other = {"type": "link", "text": "Colab", "url": "kept"}
    colab_student.student_colab_button(
        App, "book/intro", "page.html", {"header_buttons": [other]}, None
    )
    assert other["url"] == "kept"


def test_the_pages_workflow_pushes_the_editions_where_colab_looks():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = [s.get("run", "") for s in steps]
    build_at = next(k for k, r in enumerate(runs) if "make classroom" in r)
    push_at = next(k for k, r in enumerate(runs) if "git push" in r)
    assert runs.index("make book") < build_at < push_at
    push = runs[push_at]
    assert "cd _build/classroom" in push
    assert f" {C.CLASSROOM_BRANCH}\n" in push + "\n"
    assert "pull_request" in steps[push_at]["if"]  # pull requests never publish
    assert workflow["permissions"]["contents"] == "write"
