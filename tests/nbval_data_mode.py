"""nbval over the chapters: with ``CNNGUIDE_EXPECT_DATA`` set, check the data mode.

A pytest plugin, loaded by name (``-p nbval_data_mode``, ``tests`` on the path)
by the Makefile's nbval runs, so it applies to the chapters in ``notebooks/``
and to the generated student edition alike.

CI runs every chapter on phantoms (``CNNGUIDE_PHANTOMS=1``). A setting that
silently failed would run them on the real data instead, and the pass would
prove nothing, so each chapter must *report* the mode it ran in: it glues
``data_mode`` (``cnnguide.prose.glue_run``), and this plugin reads that glued
value from the executed cells. The session fails unless every chapter reported
the mode named by ``CNNGUIDE_EXPECT_DATA`` (``phantom`` or ``real``).
"""

from __future__ import annotations

import os

GLUE_MIME = "application/papermill.record/text/plain"
_reported: dict[str, str] = {}


def pytest_runtest_makereport(item, call):
    if call.when != "call":
        return
    for out in getattr(item, "test_outputs", None) or []:
        name = out.get("metadata", {}).get("scrapbook", {}).get("name")
        if name == "data_mode":
            text = out.get("data", {}).get(GLUE_MIME, "")
            _reported[str(item.path)] = text.strip("'\"")


def pytest_sessionfinish(session, exitstatus):
    expected = os.environ.get("CNNGUIDE_EXPECT_DATA", "").strip()
    if not expected:
        return
    chapters = sorted({str(item.path) for item in session.items})
    wrong = {
        os.path.basename(c): _reported.get(c, "nothing")
        for c in chapters
        if _reported.get(c) != expected
    }
    if not chapters or wrong:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"{name} reported {mode}" for name, mode in sorted(wrong.items())]
        message = (
            f"CNNGUIDE_EXPECT_DATA={expected}: every chapter must report that "
            "data mode (glue_run) -- " + ("; ".join(lines) or "no chapter ran")
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = 1
