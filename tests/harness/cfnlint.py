"""cfn-lint over a synthesized template, ignoring only W3005 (CDK always emits redundant DependsOn)."""

import json
from dataclasses import dataclass
from typing import Any

from cfnlint.api import ManualArgs, lint

IGNORED_CHECKS = ("W3005",)


@dataclass(frozen=True)
class LintProblem:
    rule_id: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.path}: {self.message}"


def lint_template(template: dict[str, Any], regions: tuple[str, ...] = ("us-east-1",)) -> list[LintProblem]:
    """Every cfn-lint error and warning for `template` except W3005."""
    matches = lint(
        json.dumps(template),
        config=ManualArgs(regions=list(regions), ignore_checks=list(IGNORED_CHECKS)),
    )
    return [LintProblem(match.rule.id, "/".join(str(part) for part in match.path), match.message) for match in matches]
