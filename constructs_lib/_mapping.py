"""Pieces shared by the event source mapping constructs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_lambda as lambda_

from constructs_lib.errors import Violation
from constructs_lib.functions import FunctionSubject
from constructs_lib.targets import describe_object


def mapping_function_name(subject: FunctionSubject) -> str:
    """FunctionName of a mapping: the name for $LATEST, the qualified ARN for a Version or Alias."""
    return subject.base.function_name if subject.kind == "Function" else subject.given.function_arn


def filter_criteria(
    filters: Sequence[Mapping[str, Any]] | None,
) -> lambda_.CfnEventSourceMapping.FilterCriteriaProperty | None:
    """Filters as made by ``lambda_.FilterCriteria.filter({...})`` (dicts with a ``pattern``), or plain patterns."""
    if not filters:
        return None
    patterns = [f["pattern"] if "pattern" in f else json.dumps(f) for f in filters]
    return lambda_.CfnEventSourceMapping.FilterCriteriaProperty(
        filters=[lambda_.CfnEventSourceMapping.FilterProperty(pattern=pattern) for pattern in patterns]
    )


def check_filters(filters: Any, *, path: str) -> list[Violation]:
    if filters is None:
        return []
    if (
        isinstance(filters, str | bytes)
        or not isinstance(filters, Sequence)
        or not all(isinstance(f, Mapping) for f in filters)
    ):
        return [
            Violation(
                path,
                "filters",
                "a list of filters made with lambda_.FilterCriteria.filter({...})",
                describe_object(filters),
            )
        ]
    return []


def no_on_success(on_success: Any, *, path: str) -> list[Violation]:
    if on_success is None:
        return []
    return [
        Violation(
            path,
            "on_success",
            "left out: event source mappings have no on-success destination, only on_failure",
            describe_object(on_success),
        )
    ]
