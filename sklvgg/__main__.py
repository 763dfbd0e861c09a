"""``python -m sklvgg``: the command line (:mod:`sklvgg._cli`)."""

import sys

from sklvgg._cli import main

if __name__ == "__main__":
    sys.exit(main())
