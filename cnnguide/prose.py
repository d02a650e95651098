"""Numbers the prose states, shown by the book and by JupyterLab alike.

A chapter computes a number in a code cell and stores it under a name with
:func:`glue`; the markdown below states it with the MyST inline role
``{eval}`glued("name", ".3f")` ``. Two renderers evaluate that role in the
chapter's own kernel, after the cells above it have run: Jupyter Book, which
executes the chapters inline (``execute_notebooks: inline`` in ``_config.yml``),
and JupyterLab with the ``jupyterlab-myst`` extension (``make lab``). Every
stated number is therefore computed, and an instructor running the chapter sees
the same values the book shows.

:func:`glue` also passes the value on to :func:`myst_nb.glue` when myst-nb is
installed, so ``{glue:text}`` roles keep working in pages that use them.

Examples
--------
>>> glue("error_rate", 0.123456, display=False)
>>> glued("error_rate", ".3f")
'0.123'
>>> glue("n_images", 5856, display=False)
>>> glued("n_images", ",")
'5,856'
>>> glued("missing")
Traceback (most recent call last):
...
KeyError: "no value glued under 'missing': run the cell that calls glue('missing', ...) first"
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "glue",
    "glued",
    "glue_run",
    "glue_peak_memory",
    "read_results",
    "sweep_values",
    "stamp_sentence",
]

_VALUES: dict[str, Any] = {}
_MARKUP = re.compile(r"[*_`$\[\]<>#|]")


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the prose (and for myst-nb's glue).

    Parameters
    ----------
    name : str
        The key the markdown reads with ``glued("name")`` in an ``{eval}`` role.
    value : object
        A number, a string, or an :class:`IPython.display.Markdown` object.
    display : bool, default False
        Passed to :func:`myst_nb.glue`: also show the value below the cell.

    Examples
    --------
    >>> glue("peak", 4.0)
    >>> glued("peak", ".1f")
    '4.0'
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"glue name {name!r} is not a Python identifier; use letters, digits "
            "and underscores so the markdown can name it"
        )
    _VALUES[name] = value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # outside the book environment the prose still works
        return
    myst_glue(name, value, display=display)


def glued(name: str, spec: str = "") -> Any:
    """The value glued under ``name``, formatted with the format ``spec``.

    Numbers and strings come back as ``format(value, spec)``; a Markdown
    object comes back as it is when its text has markup (both renderers show
    it as markdown), and as its plain text otherwise, so it reads inline.

    Parameters
    ----------
    name : str
        A key given to :func:`glue` by a cell above.
    spec : str, default ""
        A format specification such as ``".3f"``, ``",d"`` or ``".1%"``.

    Returns
    -------
    str or IPython.display.Markdown

    Examples
    --------
    >>> glue("share", 0.0625)
    >>> glued("share", ".1%")
    '6.2%'
    >>> from IPython.display import Markdown
    >>> glue("verdict", Markdown("here it helps"))
    >>> glued("verdict")
    'here it helps'
    """
    try:
        value = _VALUES[name]
    except KeyError:
        raise KeyError(
            f"no value glued under {name!r}: run the cell that calls "
            f"glue({name!r}, ...) first"
        ) from None
    if hasattr(value, "_repr_markdown_"):
        text = str(getattr(value, "data", "") or "")
        # Plain words flow inside the sentence; JupyterLab would set a Markdown
        # object apart as a paragraph of its own, so only real markup stays one.
        return value if _MARKUP.search(text) else text
    return format(value, spec)


def glue_run(dataset) -> dict:
    """Glue what this run of a chapter used: the data mode and the base seed.

    Every chapter calls it once after loading its data, so a reader (and
    ``make robustness``, which reads the glued values back) can tell a run on
    X-rays from a run on phantoms, and which base seed it followed.

    Parameters
    ----------
    dataset : cnnguide.data.Dataset
        Anything with an ``is_real`` attribute.

    Returns
    -------
    dict
        ``{"data_mode": "real" | "phantom", "base_seed": int}``.

    Examples
    --------
    >>> class Toy:
    ...     is_real = False
    >>> glue_run(Toy())
    {'data_mode': 'phantom', 'base_seed': 0}
    >>> glued("data_mode")
    'phantom'
    """
    from cnnguide.seeding import base_seed

    run = {
        "data_mode": "real" if dataset.is_real else "phantom",
        "base_seed": base_seed(),
    }
    for name, value in run.items():
        glue(name, value)
    return run


def glue_peak_memory() -> float:
    """Glue the kernel's peak resident memory so far, in MiB, as ``peak_memory_mib``.

    Every chapter calls it in its last cell, so the book's build knows what
    each chapter needed at most (the run-times page shows it beside the
    execution time, for instructors planning a class on small machines).

    Returns
    -------
    float
        Peak resident set size of this process in MiB; NaN where the
        operating system does not report it (Windows).

    Examples
    --------
    >>> peak = glue_peak_memory()
    >>> bool(peak > 10) and glued("peak_memory_mib", ".0f") == f"{peak:.0f}"
    True
    """
    import sys

    try:
        import resource
    except ImportError:  # Windows
        peak = float("nan")
    else:
        raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        peak = raw / 2**20 if sys.platform == "darwin" else raw / 1024
    glue("peak_memory_mib", peak)
    return peak


def read_results(name: str) -> dict:
    """A stamped results file that a benchmark script wrote (``benchmarks/results``).

    A chapter shows a figure too costly to compute in the build (five seeds of
    every remedy, three seeds of every chapter) by reading it here, and says so
    with :func:`stamp_sentence`.

    Parameters
    ----------
    name : str
        File name, e.g. ``"imbalance.json"``.

    Returns
    -------
    dict
        The file's content, with its ``stamp``.

    Raises
    ------
    FileNotFoundError
        The file is not in this checkout; the message names the command that
        writes it.

    Examples
    --------
    >>> read_results("no-such.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: benchmarks/results/no-such.json is not in this checkout...
    """
    import json
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "benchmarks" / "results" / name
    in_checkout = (root / "pyproject.toml").is_file()
    if (
        not path.is_file()
        and not in_checkout
        and not os.environ.get("CNNGUIDE_OFFLINE")
    ):
        # Installed from a wheel or from git (Colab): the results files are not
        # part of the package, so read the published one.
        path = _published_results(name)
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"benchmarks/results/{name} is not in this checkout: clone the "
            "repository (the file ships with it) or run the benchmark that writes "
            "it (make bench, or make robustness for robustness.json)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def sweep_values(report: dict, chapter: str, name: str, mode: str = "real") -> dict:
    """One glued number of one chapter, per seed, from a robustness-sweep results file.

    ``benchmarks/robustness.py`` executes chapters under several base seeds and
    records every value each glued (as text); this reads one back as numbers.

    Parameters
    ----------
    report : dict
        A results file from :func:`read_results` written by the sweep.
    chapter : str
        Chapter name or its number prefix, e.g. ``"08"``.
    name : str
        The glued name, e.g. ``"tr_test_auc"``.
    mode : {"real", "phantom"}
        Data mode of the runs to read.

    Returns
    -------
    dict of int to float
        Base seed -> value, for the runs that passed, in seed order.

    Examples
    --------
    >>> report = {"runs": [
    ...     {"chapter": "08_training", "mode": "real", "seed": 1, "passed": True,
    ...      "glued": {"auc": "np.float64(0.97)"}},
    ...     {"chapter": "08_training", "mode": "real", "seed": 0, "passed": True,
    ...      "glued": {"auc": "0.96"}},
    ...     {"chapter": "08_training", "mode": "phantom", "seed": 0, "passed": True,
    ...      "glued": {"auc": "0.7"}}]}
    >>> sweep_values(report, "08", "auc")
    {0: 0.96, 1: 0.97}
    """
    values = {}
    for seed, text in _sweep_glued(report, chapter, name, mode):
        match = re.fullmatch(r"(?:np\.\w+\()?\s*([-+0-9.eE]+)\s*\)?", text.strip())
        if match:
            values[seed] = float(match.group(1))
    return dict(sorted(values.items()))


def _sweep_glued(report: dict, chapter: str, name: str, mode: str):
    """(seed, glued text) of the passed runs of one chapter and data mode."""
    for run in report.get("runs", []):
        if not str(run.get("chapter", "")).startswith(chapter):
            continue
        if run.get("mode") != mode or not run.get("passed", False):
            continue
        if name in run.get("glued", {}):
            yield int(run["seed"]), str(run["glued"][name])


#: Where an installed package (Colab) reads the results files from.
RESULTS_URL = (
    "https://raw.githubusercontent.com/cnnguide/cnnguide/main/benchmarks/results/"
)


def _published_results(name: str):
    """Download one results file of the main branch (pooch caches it); None if offline."""
    from pathlib import Path

    import pooch

    try:
        return Path(
            pooch.retrieve(RESULTS_URL + name, known_hash=None, progressbar=False)
        )
    except Exception:  # no network, or no such file: the caller says what to do
        return None


def stamp_sentence(report: dict) -> str:
    """Where a results file's figures come from, as one sentence for the page.

    Examples
    --------
    >>> stamp_sentence({"stamp": {"command": "python b.py", "commit": "abc1234ff",
    ...     "date": "2026-12-06T05:00:00+00:00",
    ...     "machine": {"cpu": "Some CPU", "cores": 2}}})
    'read from a results file written by `python b.py` (commit abc1234, 2026-12-06, Some CPU, 2 cores), not computed in this build'
    """
    s = report["stamp"]
    machine = s.get("machine", {})
    return (
        f"read from a results file written by `{s['command']}` (commit "
        f"{s['commit'][:7]}, {s['date'][:10]}, {machine.get('cpu', '?')}, "
        f"{machine.get('cores', '?')} cores), not computed in this build"
    )
