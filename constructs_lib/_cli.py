"""The names of the command-line tools, as ``--help`` and usage errors show them.

Each tool runs two ways: as its console script (``pip install`` puts it on the PATH, see ``[project.scripts]`` in
pyproject.toml) or as ``python -m <module>``. argparse would show the file name ``__main__.py`` for the latter, so
the name is chosen here from what ``sys.argv[0]`` says was run.
"""

from __future__ import annotations

import ntpath
import sys

AUDIT_SCRIPT = "constructs-lib-audit"
REDRIVE_SCRIPT = "constructs-lib-redrive"
VERIFY_SCRIPT = "constructs-lib-verify"

# What a console script's argv[0] ends with: the script itself, or pip's launcher on Windows.
_SCRIPT_SUFFIXES = ("", ".exe", "-script.py")


def program_name(script: str, module: str, argv0: str | None = None) -> str:
    """`script` when the process was started as that console script, otherwise ``python -m <module>``."""
    # ntpath splits at both separators: a Windows launcher's path is read the same on every platform.
    invoked = ntpath.basename(sys.argv[0] if argv0 is None else argv0)
    if any(invoked == script + suffix for suffix in _SCRIPT_SUFFIXES):
        return script
    return f"python -m {module}"
