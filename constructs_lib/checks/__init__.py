"""Failure-handling checks over a CloudFormation template: the one rule set behind the cdk-nag pack, the audit
CLI and the test helpers. Pure: no aws_cdk import.

    findings = run_checks(template_dict)

Each rule has an id, a level, a one-line explanation and a fix hint (``RULES``); rule families live in one
module each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from constructs_lib.checks import asynchronous, destinations, permissions, ranges, sqs, streams  # noqa: F401 - registers
from constructs_lib.checks import kafka as _kafka_rules  # noqa: F401 - registers the Kafka rules
from constructs_lib.checks.model import RULES, Finding, Level, Rule
from constructs_lib.checks.template import TemplateView

__all__ = ["RULES", "Finding", "Level", "Rule", "TemplateView", "run_checks"]


def run_checks(template: Mapping[str, Any] | TemplateView, rules: Iterable[str] | None = None) -> list[Finding]:
    """Findings of `rules` (default: all) for one template, sorted by resource and rule."""
    view = template if isinstance(template, TemplateView) else TemplateView(template)
    selected = [RULES[rule_id] for rule_id in rules] if rules is not None else list(RULES.values())
    findings = [_with_assumptions(view, finding) for rule in selected for finding in rule.run(view)]
    return sorted(set(findings), key=lambda f: (f.resource, f.rule_id, f.message))


def _with_assumptions(view: TemplateView, finding: Finding) -> Finding:
    """A finding that depends on parameter defaults or conditions says so."""
    assumed = view.resolution.assumed_by(finding.resource, finding.message)
    if not assumed:
        return finding
    return replace(finding, message=f"{finding.message} (assuming {'; '.join(assumed)})")
