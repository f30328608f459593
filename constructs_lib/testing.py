"""Assertion helpers for template tests: failure-handling findings of a Template, Stack or template dict.

from aws_cdk.assertions import Template
from constructs_lib.testing import assert_no_failure_handling_findings

def test_my_stack_handles_failures():
    assert_no_failure_handling_findings(Template.from_stack(stack))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from constructs_lib.checks import RULES, Finding, Level, run_checks


def _template_dict(template: Any) -> Mapping[str, Any]:
    if isinstance(template, Mapping):
        return template
    if hasattr(template, "to_json"):  # aws_cdk.assertions.Template
        rendered: Mapping[str, Any] = template.to_json()
        return rendered
    if hasattr(template, "template_options") and hasattr(template, "node"):  # a Stack
        from aws_cdk.assertions import Template

        return Template.from_stack(template).to_json()
    raise TypeError(
        f"expected an aws_cdk.assertions.Template, a Stack or a template dict, got {type(template).__name__}"
    )


def failure_handling_findings(
    template: Any, *, ignore: Iterable[str] = (), include_warnings: bool = True
) -> list[Finding]:
    """Findings for a Template, a Stack or a template dict; `ignore` takes rule ids (e.g. "StreamNoBisect")."""
    ignored = set(ignore)
    unknown = ignored - set(RULES)
    if unknown:
        raise ValueError(f"unknown rule ids in ignore: {', '.join(sorted(unknown))}; known: {', '.join(sorted(RULES))}")
    return [
        finding
        for finding in run_checks(_template_dict(template))
        if finding.rule_id not in ignored and (include_warnings or finding.level is Level.ERROR)
    ]


def format_findings(findings: Iterable[Finding]) -> str:
    lines = []
    for finding in findings:
        rule = RULES[finding.rule_id]
        lines.append(f"  {finding}\n      why: {rule.explanation}\n      fix: {rule.fix}")
    return "\n".join(lines)


def assert_no_failure_handling_findings(
    template: Any, *, ignore: Iterable[str] = (), include_warnings: bool = True
) -> None:
    """Fail with every finding (rule, resource, message, why and fix) if the template has any."""
    findings = failure_handling_findings(template, ignore=ignore, include_warnings=include_warnings)
    if findings:
        raise AssertionError(f"{len(findings)} failure-handling finding(s):\n{format_findings(findings)}")
