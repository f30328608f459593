"""AWS's ranges, checked on templates with the same limits table the constructs use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import (
    DYNAMODB,
    KINESIS,
    SQS,
    STREAM,
    STREAM_CONSUMER,
    TemplateView,
    as_mapping,
    number,
    truthy,
)
from constructs_lib.errors import Violation
from constructs_lib.limits import (
    LIMITS,
    UNRESOLVED,
    CheckedValue,
    check_dynamodb_record_age,
    check_kinesis_record_age,
    check_limit,
    check_sqs_batching,
)

ASYNC_RANGES = ("async.retry_attempts", "async.max_event_age")
STREAM_RANGES = (
    "mapping.batch_size",
    "mapping.max_batching_window",
    "stream.retry_attempts",
    "stream.max_record_age",
    "stream.parallelization_factor",
    "stream.tumbling_window",
)


def _message(violation: Violation) -> str:
    return f"{violation.setting} must be {violation.allowed}, got {violation.given}"


def _check(logical_id: str, properties: Mapping[str, Any], key: str) -> list[Violation]:
    limit = LIMITS[key]
    return check_limit(limit, number(properties.get(limit.cfn_property)), path=logical_id, setting=limit.cfn_property)


@rule(
    "OutOfRange",
    Level.ERROR,
    explanation="A value outside AWS's limits fails at deploy time.",
    fix="Use a value within the range the message gives.",
)
def out_of_range(view: TemplateView) -> Iterator[tuple[str, str]]:
    for logical_id, properties, _ in view.invoke_configs:
        for key in ASYNC_RANGES:
            for violation in _check(logical_id, properties, key):
                yield logical_id, _message(violation)
    for mapping in view.mappings:
        properties = mapping.properties
        if mapping.is_stream:
            found = [v for key in STREAM_RANGES for v in _check(mapping.logical_id, properties, key)]
        elif mapping.source == SQS:
            queue = view.properties(mapping.source_id) if mapping.source_id else {}
            fifo = truthy(queue.get("FifoQueue", False)) if mapping.source_id else None
            found = check_sqs_batching(
                batch_size=number(properties.get("BatchSize")),
                max_batching_window=number(properties.get("MaximumBatchingWindowInSeconds")),
                fifo=fifo,
                path=mapping.logical_id,
                batch_setting="BatchSize",
                window_setting="MaximumBatchingWindowInSeconds",
            )
            scaling = as_mapping(properties.get("ScalingConfig"))
            limit = LIMITS["sqs.max_concurrency"]
            found += check_limit(
                limit, number(scaling.get("MaximumConcurrency")), path=mapping.logical_id, setting=limit.cfn_property
            )
        else:
            continue
        for violation in found:
            yield mapping.logical_id, _message(violation)


@rule(
    "RecordAgeBeyondRetention",
    Level.WARNING,
    explanation="Records leave the stream at its retention (24 hours for DynamoDB, RetentionPeriodHours for "
    "Kinesis, 24 by default), so a maximum record age at or beyond it never triggers: old records expire unread.",
    fix="Set MaximumRecordAgeInSeconds below the stream's retention (or raise the Kinesis retention).",
)
def record_age_beyond_retention(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in view.mappings:
        age = number(mapping.properties.get("MaximumRecordAgeInSeconds"))
        if mapping.source == DYNAMODB:
            found = check_dynamodb_record_age(age, path=mapping.logical_id)
        elif mapping.source == KINESIS and mapping.source_id is not None:
            retention = _kinesis_retention_seconds(view, mapping.source_id)
            if retention is UNRESOLVED:
                continue
            found = check_kinesis_record_age(age, retention, path=mapping.logical_id)
        else:
            continue  # a stream outside the template: its retention is unknown
        for violation in found:
            yield (
                mapping.logical_id,
                f"MaximumRecordAgeInSeconds should be {violation.allowed}, got {violation.given}",
            )


def _kinesis_retention_seconds(view: TemplateView, source_id: str) -> CheckedValue:
    """The retention of a Kinesis stream of the template (None: the default); UNRESOLVED when unknown."""
    stream_id: str | None = source_id
    if view.type_of(source_id) == STREAM_CONSUMER:
        stream_id = view.referenced_id(view.properties(source_id).get("StreamARN"))
        if stream_id is None:
            return UNRESOLVED
    if view.type_of(stream_id) != STREAM:
        return UNRESOLVED
    hours = number(as_mapping(view.properties(stream_id)).get("RetentionPeriodHours"))
    if hours is None:
        return None
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        return UNRESOLVED
    return hours * 3600
