"""Load a script of the repository (a benchmark, the API page generator) as a module.

The scripts are not a package; tests import their functions to check them. A
benchmark imports its siblings (``_results``, ``_child``), so its folder goes on
``sys.path`` first.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str):
    """The module defined by the script at ``ROOT / relative``, freshly executed."""
    path = ROOT / relative
    if path.parent.name == "benchmarks" and str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
