"""Verify what is deployed: read a stack's failure-handling settings back with boto3 and compare them with its
template (a drift check). `python -m constructs_lib.verify --help` for the CLI.

- `compare`: the comparison, resource type by resource type (pure, over the `Deployed` protocol);
- `aws`: `AwsAccount`, the read-only boto3 implementation of `Deployed`;
- `model`: the report (matched / drifted / not verified) and its text and JSON renderings;
- `resolve`, `templates`: template values resolved against the stack; templates from files or a cloud assembly.
"""

from constructs_lib.verify.compare import READERS, verify_stack
from constructs_lib.verify.deployed import Deployed, NotReadable, ResourceGone, StackNotReadable, StackResource
from constructs_lib.verify.model import ABSENT, Check, Outcome, Report, StackReport, render_json, render_text
from constructs_lib.verify.templates import TemplateError, assembly_template, load_template, stacks_in_assembly

__all__ = [
    "ABSENT",
    "READERS",
    "Check",
    "Deployed",
    "NotReadable",
    "Outcome",
    "Report",
    "ResourceGone",
    "StackNotReadable",
    "StackReport",
    "StackResource",
    "TemplateError",
    "assembly_template",
    "load_template",
    "render_json",
    "render_text",
    "stacks_in_assembly",
    "verify_stack",
]
