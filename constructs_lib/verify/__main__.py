"""`python -m constructs_lib.verify`: see constructs_lib.verify.cli."""

import sys

from constructs_lib.verify.cli import main

if __name__ == "__main__":
    sys.exit(main())
