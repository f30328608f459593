"""``python -m constructs_lib.redrive``: see :mod:`constructs_lib.redrive.cli`."""

from constructs_lib.redrive.cli import main

raise SystemExit(main())
