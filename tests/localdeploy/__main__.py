"""`python -m tests.localdeploy` (`make deploy-local`): deploy the sample app to a local moto server and read it back.

Exits 0 when `constructs_lib.verify` finds no drift between the deployed stacks and the synthesized templates,
1 on drift and 2 when a step fails (the server is stopped either way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constructs_lib.verify import StackNotReadable, TemplateError
from tests.localdeploy.cli import CdkError
from tests.localdeploy.deployment import DEFAULT_WORKDIR, run
from tests.localdeploy.moto_ext import UnsupportedMotoVersion
from tests.localdeploy.server import ServerError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.localdeploy", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="server log, cdk.out, empty AWS config")
    parser.add_argument("--app", help="the CDK app command (default: cdk.json's, the sample app)")
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="CDK context for the deploy"
    )
    args = parser.parse_args(argv)
    context = dict(item.split("=", 1) for item in args.context)
    try:
        report = run(args.workdir.resolve(), app=args.app, context=context)
    except (CdkError, ServerError, UnsupportedMotoVersion, StackNotReadable, TemplateError) as error:
        print(f"deploy-local failed: {error}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
