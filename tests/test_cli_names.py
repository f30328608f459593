"""Each command-line tool names itself in --help the way it was started: console script or ``python -m``."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from constructs_lib._cli import AUDIT_SCRIPT, REDRIVE_SCRIPT, VERIFY_SCRIPT, program_name
from tests.harness import PROJECT_ROOT

TOOLS = [
    (AUDIT_SCRIPT, "constructs_lib.audit"),
    (REDRIVE_SCRIPT, "constructs_lib.redrive"),
    (VERIFY_SCRIPT, "constructs_lib.verify"),
]


def _usage_line(command: list[str]) -> str:
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.splitlines()[0]


@pytest.mark.parametrize(("script", "module"), TOOLS)
def test_the_console_script_shows_its_own_name(script, module):
    installed = Path(sys.executable).parent / script
    assert installed.exists(), f"{script} is not installed next to {sys.executable}"
    assert _usage_line([str(installed)]).startswith(f"usage: {script} ")


@pytest.mark.parametrize(("script", "module"), TOOLS)
def test_python_dash_m_shows_the_module(script, module):
    assert _usage_line([sys.executable, "-m", module]).startswith(f"usage: python -m {module} ")


def test_the_names_are_the_console_scripts_pyproject_installs():
    scripts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert sorted(scripts) == sorted(script for script, _ in TOOLS)


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/home/u/.venv/bin/constructs-lib-audit", "constructs-lib-audit"),
        ("C:\\venv\\Scripts\\constructs-lib-audit.exe", "constructs-lib-audit"),
        ("constructs-lib-audit-script.py", "constructs-lib-audit"),
        ("/repo/constructs_lib/audit.py", "python -m constructs_lib.audit"),
        ("/repo/constructs_lib/redrive/__main__.py", "python -m constructs_lib.audit"),
        ("/home/u/.venv/bin/constructs-lib-verify", "python -m constructs_lib.audit"),
        ("", "python -m constructs_lib.audit"),
    ],
)
def test_program_name_from_argv0(argv0, expected):
    assert program_name(AUDIT_SCRIPT, "constructs_lib.audit", argv0) == expected
