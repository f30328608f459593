"""Rules and findings of the failure-handling checks. Pure: no aws_cdk import."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constructs_lib.checks.template import TemplateView


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One rule broken by one resource (logical id) of a template."""

    rule_id: str
    level: Level
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()} {self.rule_id} {self.resource}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule_id, "level": str(self.level), "resource": self.resource, "message": self.message}


# A rule's check yields (logical id, message) pairs for one template.
CheckFunction = Callable[["TemplateView"], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    explanation: str
    fix: str
    check: CheckFunction = field(repr=False, compare=False)

    def run(self, template: TemplateView) -> list[Finding]:
        return [Finding(self.id, self.level, resource, message) for resource, message in self.check(template)]


RULES: dict[str, Rule] = {}


def rule(rule_id: str, level: Level, *, explanation: str, fix: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function as a rule; the function stays callable on its own."""

    def register(check: CheckFunction) -> CheckFunction:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, level, explanation, fix, check)
        return check

    return register
