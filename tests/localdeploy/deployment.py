"""The local deploy, step by step: moto server, `cdk bootstrap`, `cdk deploy`, read-back, stop the server."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy_local.cli import FAKE_CREDENTIALS, PROJECT_ROOT, REGION, local_aws_environment, run_cdk
from deploy_local.readback import AwsAccount, Report, read_back
from deploy_local.server import MotoServer, running_server

DEFAULT_WORKDIR = PROJECT_ROOT / ".deploy-local"


@dataclass
class LocalDeployment:
    """The real CDK CLI and boto3, both pointed at one running moto server."""

    server: MotoServer
    workdir: Path
    echo: bool = False

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def session(self) -> Any:
        """A boto3 session with the fake credentials that reads no AWS config or credentials file but the empty
        ones in the work directory (every client of it also gets the local endpoint, see `account`)."""
        import boto3
        import botocore.session

        aws_env = local_aws_environment(self.endpoint_url, self.workdir)
        # (config name, environment variable, default, converter): none of these is read from the environment.
        core = botocore.session.Session(
            session_vars={
                "profile": (None, None, None, None),
                "config_file": (None, None, aws_env["AWS_CONFIG_FILE"], None),
                "credentials_file": (None, None, aws_env["AWS_SHARED_CREDENTIALS_FILE"], None),
            }
        )
        return boto3.Session(
            botocore_session=core,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )

    def account(self) -> AwsAccount:
        return AwsAccount(self.session(), endpoint_url=self.endpoint_url)

    def account_id(self) -> str:
        return self.account().client("sts").get_caller_identity()["Account"]

    def cdk(self, args: Sequence[str], *, cwd: Path = PROJECT_ROOT) -> str:
        result = run_cdk(args, endpoint_url=self.endpoint_url, workdir=self.workdir, cwd=cwd, echo=self.echo)
        return (result.stdout or "") + (result.stderr or "")

    def bootstrap(self) -> str:
        """The real `cdk bootstrap` of the local account and region (the CDKToolkit stack).

        It runs in the work directory: without a cdk.json there the CLI bootstraps the given environment without
        synthesizing the app first (the deploy synthesizes it anyway)."""
        return self.cdk(["bootstrap", f"aws://{self.account_id()}/{REGION}"], cwd=self.workdir)

    def deploy(
        self,
        *,
        output: Path,
        app: str | None = None,
        context: Mapping[str, str] | None = None,
        stacks: Sequence[str] = (),
    ) -> str:
        """The real `cdk deploy` (of every stack unless `stacks` names some) into the cloud assembly `output`."""
        args = ["deploy", *(stacks or ["--all"]), "--require-approval", "never", "--output", str(output)]
        if app is not None:
            args += ["--app", app]
        for key, value in (context or {}).items():
            args += ["--context", f"{key}={value}"]
        return self.cdk(args)

    def read_back(self, cdk_out: Path, *, stacks: Sequence[str] | None = None) -> Report:
        return read_back(cdk_out, self.account(), stacks=stacks)


def run(
    workdir: Path = DEFAULT_WORKDIR,
    *,
    app: str | None = None,
    context: Mapping[str, str] | None = None,
    echo: bool = True,
    out=sys.stdout,
) -> Report:
    """Start a moto server, bootstrap, deploy every stack, read them back and stop the server, whatever fails."""

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    workdir.mkdir(parents=True, exist_ok=True)
    with running_server(workdir) as server:
        say(f"== moto server on {server.endpoint_url} (PID {server.pid}, log {server.log_file})")
        try:
            deployment = LocalDeployment(server, workdir, echo=echo)
            say("== cdk bootstrap")
            deployment.bootstrap()
            say("== cdk deploy --all --require-approval never")
            cdk_out = workdir / "cdk.out"
            deployment.deploy(output=cdk_out, app=app, context=context)
            say("== read-back (boto3) against the synthesized templates")
            report = deployment.read_back(cdk_out)
            say(report.render())
            return report
        finally:
            say(f"== stopping the moto server (PID {server.pid})")
