"""Pieces shared by the event source mapping constructs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_lambda as lambda_

from constructs_lib._cdk import is_resolved_str
from constructs_lib.errors import Violation
from constructs_lib.functions import FunctionSubject
from constructs_lib.limits import check_filter_patterns
from constructs_lib.targets import describe_object


def mapping_function_name(subject: FunctionSubject) -> str:
    """FunctionName of a mapping: the name for $LATEST, the qualified ARN for a Version or Alias."""
    return subject.base.function_name if subject.kind == "Function" else subject.given.function_arn


def filter_criteria(
    patterns: Sequence[str | Mapping[str, Any]] | None,
) -> lambda_.CfnEventSourceMapping.FilterCriteriaProperty | None:
    """The FilterCriteria of a mapping from the JSON patterns `checked_filters` returned (or from filters as made
    by ``lambda_.FilterCriteria.filter``, for a caller that only shape-checks them with `check_filters`)."""
    if not patterns:
        return None
    patterns = [p if isinstance(p, str) else p["pattern"] if "pattern" in p else json.dumps(p) for p in patterns]
    return lambda_.CfnEventSourceMapping.FilterCriteriaProperty(
        filters=[lambda_.CfnEventSourceMapping.FilterProperty(pattern=pattern) for pattern in patterns]
    )


def check_filters(filters: Any, *, path: str) -> list[Violation]:
    """Only the shape of `filters` (a list of mappings), for sources whose filterable keys are not checked."""
    if filters is not None and (
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


def checked_filters(filters: Any, *, source: str, path: str) -> tuple[list[str], list[Violation]]:
    """The JSON pattern of each filter and the violations: filters as made by ``lambda_.FilterCriteria.filter``
    (``{"pattern": "<json>"}``) or plain pattern dicts (serialized here). A pattern must be a JSON object on the
    keys `source` can filter (``limits.FILTERABLE_KEYS``). A pattern that is a token is taken as is."""
    if filters is None:
        return [], []
    shape = check_filters(filters, path=path)
    if shape:
        return [], shape
    patterns: list[str] = []
    parsed: list[object] = []
    violations: list[Violation] = []
    for index, given in enumerate(filters):
        pattern = given.get("pattern", given)
        if isinstance(pattern, str):
            if not is_resolved_str(pattern):
                patterns.append(pattern)
                continue
            try:
                parsed.append(json.loads(pattern))
            except ValueError as error:
                violations.append(Violation(path, f"filters[{index}]", "a JSON pattern", f"{pattern!r} ({error})"))
                continue
            patterns.append(pattern)
            continue
        try:
            text = json.dumps(pattern)
        except (TypeError, ValueError) as error:
            violations.append(
                Violation(path, f"filters[{index}]", "a pattern of JSON values (dict, list, str, number)", str(error))
            )
            continue
        patterns.append(text)
        parsed.append(pattern)
    violations += check_filter_patterns(parsed, source=source, path=path, count=len(filters))
    return patterns, violations


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
