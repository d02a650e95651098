"""Sphinx extension: the ``chapter-run-times`` directive, a table this build measured.

For instructors planning a class: how long each chapter takes to execute and
how much memory it needs. Nothing is typed in. The run time is what myst-nb
recorded while this build executed the chapter (``exec_data``, the same figure
as its ``nb-exec-table``); the peak memory is the ``peak_memory_mib`` value that
the chapter's last cell glued (:func:`cnnguide.prose.glue_peak_memory`), read
from myst-nb's ``<chapter>.glue.json``. The directive leaves a placeholder
while the pages are read (the chapters execute then) and fills it in when the
page is written, after every chapter has run. The table names the machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # book/classroom.py


class run_times_placeholder(nodes.General, nodes.Element):
    pass


class ChapterRunTimes(SphinxDirective):
    """``{chapter-run-times}``: replaced by the table when the page is written."""

    def run(self):
        return [run_times_placeholder()]


def machine() -> str:
    """The build machine in words, as the benchmarks' stamps describe it."""
    from benchmarks._results import machine as described

    m = described()
    return f"{m['cpu']}, {m['cores']} cores"


def peak_memory(glue_file: Path) -> float | None:
    """The ``peak_memory_mib`` a chapter glued, or None if it glued none."""
    from classroom import read_glued  # book/classroom.py: one reader of glue files

    try:
        value = read_glued(glue_file).get("peak_memory_mib")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def rows(docnames, exec_data, output_folder: Path) -> list[tuple[str, str, str]]:
    """(document, run time, peak memory) for each executed notebook, in order."""
    out = []
    for doc in docnames:
        data = exec_data(doc)
        if not data:
            continue
        runtime = data.get("runtime")
        memory = peak_memory(output_folder / f"{doc}.glue.json")
        out.append(
            (
                doc,
                f"{runtime:.0f} s" if runtime is not None else "not recorded",
                f"{memory:,.0f} MiB" if memory else "not recorded",
            )
        )
    return out


def _table(app, env, fromdocname) -> nodes.Node:
    from myst_nb.sphinx_ import NbMetadataCollector

    order = sorted(env.found_docs)  # the chapters' names start with their number
    output_folder = Path(env.mystnb_config.output_folder)
    found = rows(
        order,
        lambda d: NbMetadataCollector.get_exec_data(env, d),
        output_folder,
    )
    table = nodes.table()
    group = nodes.tgroup(cols=3)
    table += group
    for _ in range(3):
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body

    def row(cells, link=None):
        tr = nodes.row()
        for k, text in enumerate(cells):
            entry = nodes.entry()
            para = nodes.paragraph()
            if k == 0 and link:
                ref = nodes.reference(
                    "", text, refuri=app.builder.get_relative_uri(fromdocname, link)
                )
                para += ref
            else:
                para += nodes.Text(text)
            entry += para
            tr += entry
        return tr

    head += row(["chapter", "execution time", "peak memory of its kernel"])
    for doc, runtime, memory in found:
        title = env.titles.get(doc)
        body += row([title.astext() if title else doc, runtime, memory], link=doc)
    caption = nodes.paragraph(
        text=(
            f"Measured by this build of the book on {machine()}, one chapter at a "
            "time, with the data the build used. Another machine gives other times; "
            "a shared classroom server is slower while many kernels train at once."
        )
    )
    return (
        [table, caption]
        if found
        else [nodes.paragraph(text="No chapter was executed in this build.")]
    )


def fill(app, doctree, fromdocname):
    for node in list(doctree.findall(run_times_placeholder)):
        node.replace_self(_table(app, app.env, fromdocname))


def setup(app):
    app.add_node(run_times_placeholder)
    app.add_directive("chapter-run-times", ChapterRunTimes)
    app.connect("doctree-resolved", fill)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
