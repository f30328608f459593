"""The report of a verification: one `Check` per setting, each a match, a drift or not verified. Pure."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    MATCH = "match"
    DRIFT = "drift"
    NOT_VERIFIED = "not verified"


class _Absent:
    """A value the template leaves out, or the API does not report."""

    def __repr__(self) -> str:
        return "(not set)"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Check:
    """One setting of one resource: the template's value, the live value, and the outcome of comparing them."""

    stack: str
    logical_id: str
    resource_type: str
    kind: str
    setting: str
    expected: Any
    actual: Any
    outcome: Outcome
    note: str = ""

    @property
    def drifted(self) -> bool:
        return self.outcome is Outcome.DRIFT


@dataclass
class StackReport:
    stack: str
    status: str
    checks: list[Check] = field(default_factory=list)
    # Template resources without failure-handling settings that are not in the deployed stack (logical id -> type).
    not_deployed: dict[str, str] = field(default_factory=dict)
    # Template resources left out of the stack by a condition that is false (logical id -> type).
    conditional: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    stacks: list[StackReport] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        return [check for stack in self.stacks for check in stack.checks]

    def with_outcome(self, outcome: Outcome) -> list[Check]:
        return [check for check in self.checks if check.outcome is outcome]

    @property
    def drifts(self) -> list[Check]:
        return self.with_outcome(Outcome.DRIFT)

    @property
    def not_verified(self) -> list[Check]:
        return self.with_outcome(Outcome.NOT_VERIFIED)

    @property
    def matched(self) -> list[Check]:
        return self.with_outcome(Outcome.MATCH)

    @property
    def ok(self) -> bool:
        """No drift (settings that could not be verified are counted, not failed)."""
        return bool(self.stacks) and not self.drifts

    def counts(self) -> dict[str, int]:
        counted = Counter(check.outcome for check in self.checks)
        return {
            "matched": counted[Outcome.MATCH],
            "drifted": counted[Outcome.DRIFT],
            "not_verified": counted[Outcome.NOT_VERIFIED],
        }

    def coverage(self) -> Counter[str]:
        """How many resources of each kind were read."""
        return Counter(kind for _stack, _logical_id, kind in {(c.stack, c.logical_id, c.kind) for c in self.checks})

    def render(self) -> str:
        return render_text(self)


def show(value: Any) -> str:
    if value is ABSENT or value is None:
        return "(not set)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


MARKS = {Outcome.MATCH: "match", Outcome.DRIFT: "DRIFT", Outcome.NOT_VERIFIED: "not verified"}


def summary(report: Report) -> str:
    counts = report.counts()
    return f"{counts['matched']} matched, {counts['drifted']} drifted, {counts['not_verified']} not verified"


def render_text(report: Report, *, verbose: bool = True) -> str:
    """Every setting (or, without `verbose`, only the drifted and unverified ones) and the three counts."""
    lines: list[str] = []
    for stack in report.stacks:
        stack_report = Report([stack])
        lines.append(f"== {stack.stack} ({stack.status or 'not found'}): {summary(stack_report)}")
        current = None
        for check in stack.checks:
            if not verbose and check.outcome is Outcome.MATCH:
                continue
            if (check.logical_id, check.kind) != current:
                current = (check.logical_id, check.kind)
                lines.append(f"  {check.kind}: {check.logical_id}")
            note = f"  ({check.note})" if check.note else ""
            if check.outcome is Outcome.MATCH and show(check.expected) == show(check.actual):
                detail = show(check.actual)
            else:
                detail = f"template {show(check.expected)} | live {show(check.actual)}"
            lines.append(f"    {MARKS[check.outcome]:<12} {check.setting:<44} {detail}{note}")
        for title, resources in (
            ("not in the deployed stack (no failure-handling settings)", stack.not_deployed),
            ("left out by a false condition", stack.conditional),
        ):
            if resources:
                counted = Counter(resources.values())
                lines.append(f"  {title}: " + ", ".join(f"{t} x{n}" for t, n in sorted(counted.items())))
    lines.append(f"RESULT: {summary(report)}")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    return None if value is ABSENT else value


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "result": "drift" if report.drifts else "no drift",
        "counts": report.counts(),
        "stacks": [
            {
                "stack": stack.stack,
                "status": stack.status,
                "checks": [
                    {
                        "logicalId": check.logical_id,
                        "resourceType": check.resource_type,
                        "kind": check.kind,
                        "setting": check.setting,
                        "template": _plain(check.expected),
                        "live": _plain(check.actual),
                        "outcome": str(check.outcome),
                        "note": check.note,
                    }
                    for check in stack.checks
                ],
                "notDeployed": stack.not_deployed,
                "conditional": stack.conditional,
            }
            for stack in report.stacks
        ],
    }


def render_json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2, default=str)
