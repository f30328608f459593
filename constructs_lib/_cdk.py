"""Small translations from CDK values to the plain values the pure layers check."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

from constructs_lib.limits import UNRESOLVED, CheckedValue


def child_path(scope: IConstruct, id: str) -> str:
    """The path a construct `id` under `scope` will have, known before it is created."""
    parent = scope.node.path
    return f"{parent}/{id}" if parent else id


def number_or_unresolved(value: Any) -> CheckedValue:
    """A plain number as is, a token as UNRESOLVED, None as None; anything else is passed through to be rejected."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and cdk.Token.is_unresolved(value):
        return UNRESOLVED
    return value


def seconds_or_unresolved(duration: cdk.Duration | None) -> CheckedValue:
    """Seconds of a Duration (fractions kept, so a non-whole value can be reported), or UNRESOLVED for a token."""
    if duration is None:
        return None
    if not isinstance(duration, cdk.Duration):
        return duration  # reported by the range check as not a number
    if duration.is_unresolved():
        return UNRESOLVED
    milliseconds = duration.to_milliseconds()
    return milliseconds // 1000 if milliseconds % 1000 == 0 else milliseconds / 1000


def is_resolved_str(value: str | None) -> bool:
    return value is not None and not cdk.Token.is_unresolved(value)
