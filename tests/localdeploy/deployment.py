"""The local deploy, step by step: moto server, `cdk bootstrap`, `cdk deploy`, verify, stop the server.

The read-back is the product's own `constructs_lib.verify`, run on every stack of the cloud assembly. What it
proves on the emulator is less than on AWS, and the report says so: a check whose live value one of our moto
patches stored and returned (see `moto_ext.patch_behind`) is counted apart, and moto enforces none of AWS's
deploy-time rules (the library's validation, its template checks and cfn-lint do).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.verify import Check, Outcome, Report, stacks_in_assembly, verify_stack
from constructs_lib.verify.aws import AwsAccount
from constructs_lib.verify.templates import load_template, nested_template_from
from tests.localdeploy.cli import FAKE_CREDENTIALS, PROJECT_ROOT, REGION, local_aws_environment, run_cdk
from tests.localdeploy.moto_ext import patch_behind
from tests.localdeploy.server import MotoServer, running_server

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

    def read_back(self, cdk_out: Path, *, stacks: Sequence[str] | None = None) -> LocalReport:
        """`constructs_lib.verify` of every stack of the cloud assembly (or only `stacks`)."""
        templates = stacks_in_assembly(cdk_out)
        report = Report()
        for name in stacks if stacks is not None else templates:
            path = templates[name]
            verified = verify_stack(
                name, load_template(path), self.account(), nested_template=nested_template_from(path.parent)
            )
            report.stacks.extend(verified.stacks)
        return LocalReport(report)


@dataclass
class LocalReport:
    """verify's report of the local deploy, with the checks that rest on an emulator patch counted apart."""

    report: Report
    on_patch: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        updated = {stack.stack for stack in self.report.stacks if stack.status == "UPDATE_COMPLETE"}
        self.on_patch = {}
        for index, check in enumerate(self.report.checks):
            patch = patch_behind(check.resource_type, check.setting, stack_updated=check.stack in updated)
            if patch is not None:
                self.on_patch[index] = patch

    @property
    def checks(self) -> list[Check]:
        return self.report.checks

    @property
    def ok(self) -> bool:
        return self.report.ok

    def resting_on_patches(self, outcome: Outcome | None = Outcome.MATCH) -> Counter[str]:
        """Patch name -> how many checks (of `outcome`, or all) compare a value that patch stored."""
        checks = self.report.checks
        return Counter(
            patch for index, patch in self.on_patch.items() if outcome is None or checks[index].outcome is outcome
        )

    def render(self) -> str:
        patched = self.resting_on_patches()
        counts = self.report.counts()
        by_patch = ", ".join(f"{name} {count}" for name, count in sorted(patched.items())) or "none"
        return "\n".join(
            [
                self.report.render(),
                f"EMULATOR: {sum(patched.values())} of the {counts['matched']} matched settings compare a value one "
                f"of our moto patches stored and returned ({by_patch}): they prove the patch, not AWS's behaviour.",
                "The emulator enforces none of AWS's deploy-time rules: a template AWS would reject can deploy here.",
            ]
        )


def run(
    workdir: Path = DEFAULT_WORKDIR,
    *,
    app: str | None = None,
    context: Mapping[str, str] | None = None,
    echo: bool = True,
    out=sys.stdout,
) -> LocalReport:
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
            say("== python -m constructs_lib.verify of every stack, against the synthesized templates")
            report = deployment.read_back(cdk_out)
            say(report.render())
            return report
        finally:
            say(f"== stopping the moto server (PID {server.pid})")
