"""Runs the project's pinned CDK CLI (node_modules/.bin/cdk on Node 22) like a user would."""

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.harness.app import PROJECT_ROOT

NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"


def cli_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(NODE_BIN), str(VENV_BIN), env.get("PATH", "")])
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["CDK_DISABLE_VERSION_CHECK"] = "true"
    return env


def run_cdk(args: Sequence[str], *, cwd: Path = PROJECT_ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """`cdk <args>` with the pinned CLI; output captured as text, never raises on a non-zero exit."""
    cdk = NODE_BIN / "cdk"
    if not cdk.exists():
        raise FileNotFoundError(f"{cdk} is missing: run `make test` (or `npm ci`) to install the pinned CLI")
    return subprocess.run(
        [str(cdk), *args, "--no-notices"],
        cwd=cwd,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
