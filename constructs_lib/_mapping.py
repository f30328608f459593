"""Pieces shared by the event source mapping constructs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_lib import alarms as alarm_lib
from constructs_lib._cdk import check_flag, is_resolved_str
from constructs_lib.errors import Violation
from constructs_lib.functions import FunctionSubject, check_environment, check_role, subject_of
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
    rendered: list[str] = [
        p if isinstance(p, str) else str(p["pattern"]) if "pattern" in p else json.dumps(p) for p in patterns
    ]
    return lambda_.CfnEventSourceMapping.FilterCriteriaProperty(
        filters=[lambda_.CfnEventSourceMapping.FilterProperty(pattern=pattern) for pattern in rendered]
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


class MappingAccessors:
    """What aws-cdk's event sources expose about their mapping, for the consumers of this library: the mapping's
    id and ARN, and the metrics to watch (with the dimensions Lambda publishes them under)."""

    event_source_mapping: lambda_.CfnEventSourceMapping
    function: lambda_.IFunction

    @property
    def event_source_mapping_id(self) -> str:
        """The mapping's UUID (its ``Ref``), as aws-cdk's ``IEventSourceMapping.event_source_mapping_id``."""
        return self.event_source_mapping.ref

    @property
    def event_source_mapping_arn(self) -> str:
        """The mapping's ARN (``Fn::GetAtt EventSourceMappingArn``)."""
        return self.event_source_mapping.attr_event_source_mapping_arn

    def metric_errors(self, *, period: cdk.Duration | None = None, statistic: str | None = None) -> cloudwatch.Metric:
        """AWS/Lambda Errors of the function (Sum, per minute unless given): failed invocations."""
        return with_options(alarm_lib.function_errors(self.function), period, statistic)

    def metric_dropped_events(
        self, *, period: cdk.Duration | None = None, statistic: str | None = None
    ) -> cloudwatch.Metric:
        """AWS/Lambda DroppedEventCount of this mapping (Sum, dimension EventSourceMappingUUID): records dropped
        because they expired or exhausted their retries without a failure home. Lambda publishes it only when
        the mapping's MetricsConfig includes EventCount (off by default, billed)."""
        metric = alarm_lib.event_source_mapping_metric(self.event_source_mapping_id, "DroppedEventCount", "Sum")
        return with_options(metric, period, statistic)


def with_options(metric: cloudwatch.Metric, period: cdk.Duration | None, statistic: str | None) -> cloudwatch.Metric:
    if period is None and statistic is None:
        return metric
    return metric.with_(period=period, statistic=statistic)


def check_consumer(
    scope: Construct,
    path: str,
    *,
    function: object,
    alarms: object,
    alarm_thresholds: object,
    flags: Mapping[str, object] | None = None,
    grants_managed_elsewhere: object = None,
) -> tuple[FunctionSubject | None, list[Violation]]:
    """What every consumer checks first: the alarm settings, that `function` is a Function, Version or Alias,
    its role and environment (for a construct that grants, i.e. takes ``grants_managed_elsewhere``) and that each
    of `flags` is a bool."""
    subject = subject_of(function)
    violations = alarm_lib.check_alarms_flag(alarms, path=path)
    violations += alarm_lib.check_alarm_thresholds(alarm_thresholds, path=path)
    if subject is None:
        violations.append(Violation(path, "function", "a lambda Function, Version or Alias", describe_object(function)))
    if grants_managed_elsewhere is not None:
        violations += check_role(subject, grants_managed_elsewhere, path=path)
        violations += check_environment(subject, scope, path=path)
    for setting, flag in (flags or {}).items():
        violations += check_flag(flag, path=path, setting=setting)
    return subject, violations
