"""Sphinx extension: each chapter's Colab button opens its *student* edition.

sphinx-book-theme points the Colab launch button at the page's source
notebook on the repository's main branch: the MyST chapter, which Colab shows
as raw text, with every solution in it. The class editions (``make
classroom``, ``book/classroom.py``) are plain notebooks that the Pages
workflow pushes to the ``classroom`` branch; this handler, run after the
theme's (priority 501), rewrites the Colab button of every chapter page to the
student edition there. Binder keeps the main branch: it builds the project's
own environment, in which the MyST chapters render.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import classroom  # noqa: E402  (book/classroom.py)


def _buttons(items):
    for item in items:
        yield item
        yield from _buttons(item.get("buttons", []))


def student_colab_button(app, pagename, templatename, context, doctree):
    if not pagename.startswith("notebooks/"):
        return
    stem = pagename.split("/", 1)[1]
    repo_url = app.config.html_context.get("classroom_repo_url")
    for button in _buttons(context.get("header_buttons", [])):
        if button.get("text") == "Colab":
            button["url"] = classroom.colab_url(repo_url, stem)
            button["tooltip"] = "Open the student edition in Colab"


def _repo_url(app, config):
    context = dict(config.html_context or {})
    context["classroom_repo_url"] = classroom.repository()["url"].rstrip("/")
    config.html_context = context


def setup(app):
    app.connect("config-inited", _repo_url, priority=901)
    app.connect("html-page-context", student_colab_button, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
