"""Test harness shared by every test module: app context, snapshots, cdk-nag, cfn-lint and the real CLI."""

from tests.harness.app import PROJECT_ROOT, load_cdk_context, new_app
from tests.harness.cfnlint import LintProblem, lint_template
from tests.harness.cli import run_cdk
from tests.harness.nag import NagFinding, nag_findings
from tests.harness.snapshot import normalize_template

__all__ = [
    "PROJECT_ROOT",
    "LintProblem",
    "NagFinding",
    "lint_template",
    "load_cdk_context",
    "nag_findings",
    "new_app",
    "normalize_template",
    "run_cdk",
]
