"""Where the tests find the real PneumoniaMNIST, and only there.

``CNNGUIDE_DATA`` when set, else the ``shared/data`` folder beside the clone
(``<clone>/../shared/data``). No other path is looked at, so the tests behave
the same on every machine. Tests that need the file use ``needs_real``; under
``CI=true`` their skip is a failure (see conftest.py).
"""

import os
from pathlib import Path

import pytest

BESIDE_CLONE = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_data_dir() -> Path | None:
    """The folder holding ``pneumoniamnist.npz``, or None."""
    env = os.environ.get("CNNGUIDE_DATA")
    folder = Path(env).expanduser() if env else BESIDE_CLONE
    return folder if (folder / "pneumoniamnist.npz").is_file() else None


REAL_DIR = real_data_dir()
needs_real = pytest.mark.skipif(
    REAL_DIR is None,
    reason="real PneumoniaMNIST not found (set CNNGUIDE_DATA, or put it in "
    f"{BESIDE_CLONE})",
)
