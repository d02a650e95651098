"""``python -m cnnguide``: the command line (see :mod:`cnnguide.cli`)."""

import sys

from cnnguide.cli import main

if __name__ == "__main__":
    sys.exit(main())
