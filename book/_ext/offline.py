"""Sphinx extension for the offline book: one copy of each page script.

Sphinx 7.4's HTML builder re-adds, when it starts writing, every script that an
extension registered after the builder was set up, naming an inline script's
file ``''`` where the first copy says ``None``. The two copies no longer compare
equal, so inline scripts appear twice in every page. sphinx-thebe registers
``const THEBE_JS_URL = ...`` that way, and its second copy throws
"Identifier 'THEBE_JS_URL' has already been declared" on every page. This
extension drops the repeats before each page is rendered.

It also sets the theme's ``default_mode`` (an ``html_context`` value) to ``auto``: without it a first
visit (empty ``localStorage``) logs "Got invalid theme mode" as a console error
(pydata-sphinx-theme 0.17 under sphinx-book-theme 1.3).
"""

from __future__ import annotations


def _key(script):
    return (
        script.filename or "",
        script.priority,
        tuple(sorted(script.attributes.items())),
    )


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script) if hasattr(script, "attributes") else script
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def default_theme_mode(app, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def setup(app):
    app.connect("config-inited", default_theme_mode, priority=900)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
