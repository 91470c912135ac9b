"""``python -m nalm.cli``, the same as ``python -m nalm``."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
