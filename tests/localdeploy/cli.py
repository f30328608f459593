"""Runs the project's pinned CDK CLI against the local endpoint, with fake credentials and nothing else.

The environment is built from scratch for AWS: every inherited `AWS_*` / `CDK_DEFAULT_*` variable is dropped
(no profile, role, SSO or container credentials can leak in), the config and credentials files are empty files
in the work directory, instance metadata is off, and every SDK call goes to `AWS_ENDPOINT_URL`. So neither the
CLI nor boto3 can reach a real AWS account from here. The CLI's own cache (`CDK_HOME`) is in the work directory
too.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def local_aws_environment(endpoint_url: str | None, workdir: Path) -> dict[str, str]:
    """The AWS part of the environment: fake credentials, one region, the local endpoint (if given), empty config
    and credentials files in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "aws-config"
    credentials_file = workdir / "aws-credentials"
    for path in (config_file, credentials_file):
        path.write_text("")
    env = {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def cli_environment(endpoint_url: str, workdir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if not key.startswith(("AWS_", "CDK_DEFAULT_"))
    }
    env.update(local_aws_environment(endpoint_url, workdir))
    env["PATH"] = os.pathsep.join([str(NODE_BIN), str(VENV_BIN), env.get("PATH", "")])
    # An app run as a script (`--app "python3 path/app.py"`) imports this checkout's packages, not an install's.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["CDK_DISABLE_VERSION_CHECK"] = "true"
    # The CLI's caches (e.g. account ids by access key) stay in the work directory, not in ~/.cdk.
    env["CDK_HOME"] = str(workdir / "cdk-home")
    return env


class CdkError(RuntimeError):
    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess) -> None:
        self.result = result
        output = (result.stdout or "") + (result.stderr or "")
        tail = "\n".join(output.splitlines()[-40:])
        super().__init__(f"`cdk {' '.join(args)}` exited with {result.returncode}:\n{tail}")


def run_cdk(
    args: Sequence[str],
    *,
    endpoint_url: str,
    workdir: Path,
    cwd: Path = PROJECT_ROOT,
    timeout: float = 300,
    echo: bool = False,
) -> subprocess.CompletedProcess:
    """`cdk <args> --no-notices` with the pinned CLI on the local endpoint; raises CdkError on a non-zero exit.

    With `echo` the CLI's output goes to the terminal as it runs; otherwise it is captured.
    """
    cdk = NODE_BIN / "cdk"
    if not cdk.exists():
        raise FileNotFoundError(f"{cdk} is missing: run `make setup` (or `npm ci`) to install the pinned CLI")
    command = [str(cdk), *args, "--no-notices"]
    result = subprocess.run(
        command,
        cwd=cwd,
        env=cli_environment(endpoint_url, workdir),
        capture_output=not echo,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise CdkError(args, result)
    return result
