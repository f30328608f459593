"""`python -m constructs_lib.verify` (console script `constructs-lib-verify`): is the deployed stack's failure
handling still what its template says?

    python -m constructs_lib.verify --stack OrdersPipeline --app cdk.out
    python -m constructs_lib.verify --stack legacy-orders --template orders.yaml --region eu-west-1 --format json

Exit code: 0 when nothing drifted, 1 on drift (each difference names resource, setting, template value and live
value), 2 when the stack or the template cannot be read. Settings the API does not report are counted as not
verified; `--strict` makes them fail too (exit 1). Read-only: Describe/Get/List calls only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from constructs_lib._cli import VERIFY_SCRIPT, program_name
from constructs_lib.verify.compare import verify_stack
from constructs_lib.verify.deployed import StackNotReadable
from constructs_lib.verify.model import Report, render_json, render_text
from constructs_lib.verify.templates import TemplateError, assembly_template, load_template, nested_template_from

EXIT_OK, EXIT_DRIFT, EXIT_UNREADABLE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(VERIFY_SCRIPT, "constructs_lib.verify"),
        description="Compare the failure handling of a deployed CloudFormation stack with its template.",
    )
    parser.add_argument("--stack", required=True, help="the deployed stack's name (or id)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--template", type=Path, help="the stack's template, JSON or YAML")
    source.add_argument("--app", type=Path, metavar="CDK_OUT", help="a cloud assembly (cdk.out) holding the stack")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default credentials)")
    parser.add_argument("--endpoint-url", help="AWS endpoint (default: the SDK's, e.g. AWS_ENDPOINT_URL)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--problems-only", action="store_true", help="text: list drifted and unverified settings only")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a setting could not be verified")
    return parser


def run(args: argparse.Namespace) -> Report:
    """Read the template, then the stack; raises TemplateError or StackNotReadable."""
    nested_template = None
    if args.app is not None:
        template, directory = assembly_template(args.app, args.stack)
        nested_template = nested_template_from(directory)
    else:
        template = load_template(args.template)

    import boto3
    from botocore.exceptions import BotoCoreError

    from constructs_lib.verify.aws import AwsAccount, describe_error

    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
    except BotoCoreError as error:  # e.g. ProfileNotFound
        raise StackNotReadable(describe_error(error)) from None
    return verify_stack(
        args.stack, template, AwsAccount(session, endpoint_url=args.endpoint_url), nested_template=nested_template
    )


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except (TemplateError, StackNotReadable) as error:
        print(f"verify: {error}", file=stderr)
        return EXIT_UNREADABLE
    except Exception as error:
        print(f"verify: unexpected error: {type(error).__name__}: {error}", file=stderr)
        return EXIT_UNREADABLE
    if args.format == "json":
        print(render_json(report), file=stdout)
    else:
        print(render_text(report, verbose=not args.problems_only), file=stdout)
    if report.drifts or (args.strict and report.not_verified):
        return EXIT_DRIFT
    return EXIT_OK


def console_main() -> None:
    sys.exit(main())
