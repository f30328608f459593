"""AWS's limits for Lambda failure handling, as data in one table, and pure validation helpers.

No aws_cdk import: constructs translate CDK values first (a token becomes `UNRESOLVED`, a Duration becomes
seconds), then call the helpers here. Unresolved values are never range-checked, so a CloudFormation
parameter never causes a false error. Sources: AWS Lambda developer guide and the CloudFormation schemas of
AWS::Lambda::EventInvokeConfig, AWS::Lambda::EventSourceMapping and AWS::Lambda::Function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, TypeGuard

from constructs_lib.errors import Violation


class _Unresolved:
    """A value only known at deploy time (a CDK token); see `UNRESOLVED`."""

    _instance: _Unresolved | None = None

    def __new__(cls) -> _Unresolved:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Final = _Unresolved()
"""Stands for a value that is a token (e.g. a CfnParameter): it is skipped by every check."""

INFINITE: Final = -1
"""AWS's value for 'no limit' on stream retries and record age."""


@dataclass(frozen=True)
class Invalid:
    """A value no check can read (a type CloudFormation or jsii cannot take, a token CDK cannot convert): every
    check reports it as given, with what is allowed instead."""

    allowed: str
    given: str


Number = int | float
CheckedValue = Number | _Unresolved | Invalid | None


@dataclass(frozen=True)
class Limit:
    """An inclusive numeric range of one setting, in the unit CloudFormation uses."""

    cfn_property: str
    minimum: int
    maximum: int
    applies_to: str
    unit: str = ""
    infinite_allowed: bool = False
    aws_default: int | None = None

    @property
    def default(self) -> int:
        """AWS's default, for a limit that has one (a KeyError-like failure otherwise: a bug, not bad input)."""
        if self.aws_default is None:
            raise LookupError(f"{self.cfn_property} has no AWS default in the table")
        return self.aws_default

    def allows(self, value: Number) -> bool:
        if self.infinite_allowed and value == INFINITE:
            return True
        return self.minimum <= value <= self.maximum

    def describe(self) -> str:
        """E.g. 'between 0 and 2' or '-1 (infinite) or between 60 and 604800 seconds'."""
        text = f"between {self.minimum} and {self.maximum}" + (f" {self.unit}" if self.unit else "")
        return f"{INFINITE} (infinite) or {text}" if self.infinite_allowed else text


ASYNC = "asynchronous invocation"
STREAM_MAPPINGS = "Kinesis and DynamoDB Streams event source mappings"
MAPPINGS = "event source mappings"
SQS_MAPPINGS = "SQS event source mappings"
SQS_FIFO_MAPPINGS = "SQS FIFO event source mappings"

# The one table of numbers. Keys are "<where>.<setting>"; settings use the constructs' argument names.
LIMITS: Final[dict[str, Limit]] = {
    "async.retry_attempts": Limit("MaximumRetryAttempts", 0, 2, ASYNC, aws_default=2),
    "async.max_event_age": Limit("MaximumEventAgeInSeconds", 60, 21_600, ASYNC, "seconds", aws_default=21_600),
    "mapping.batch_size": Limit("BatchSize", 1, 10_000, MAPPINGS),
    "mapping.max_batching_window": Limit("MaximumBatchingWindowInSeconds", 0, 300, MAPPINGS, "seconds"),
    "stream.retry_attempts": Limit(
        "MaximumRetryAttempts", 0, 10_000, STREAM_MAPPINGS, infinite_allowed=True, aws_default=INFINITE
    ),
    # 0-59 is invalid although the CloudFormation schema cannot say so.
    "stream.max_record_age": Limit(
        "MaximumRecordAgeInSeconds",
        60,
        604_800,
        STREAM_MAPPINGS,
        "seconds",
        infinite_allowed=True,
        aws_default=INFINITE,
    ),
    "stream.parallelization_factor": Limit("ParallelizationFactor", 1, 10, STREAM_MAPPINGS, aws_default=1),
    "stream.tumbling_window": Limit("TumblingWindowInSeconds", 0, 900, STREAM_MAPPINGS, "seconds"),
    "sqs.max_concurrency": Limit("ScalingConfig.MaximumConcurrency", 2, 1_000, SQS_MAPPINGS),
    "sqs_fifo.batch_size": Limit("BatchSize", 1, 10, SQS_FIFO_MAPPINGS),
    # RedrivePolicy.maxReceiveCount: "Valid values: 1 to 1,000" (Amazon SQS Developer Guide, "Using dead-letter
    # queues in Amazon SQS" / SetQueueAttributes API reference).
    "sqs.max_receive_count": Limit("RedrivePolicy.maxReceiveCount", 1, 1_000, "SQS redrive policies"),
}

# Facts that are not ranges of one setting.
DYNAMODB_STREAM_RETENTION_SECONDS: Final = 86_400
"""DynamoDB stream records live 24 h: a larger max record age can never trigger."""
SQS_UNBATCHED_MAX_BATCH_SIZE: Final = 10
"""Above this batch size an SQS mapping needs a batching window of at least 1 second."""
SQS_RECOMMENDED_VISIBILITY_TIMEOUT_FACTOR: Final = 6
"""AWS recommends a source queue visibility timeout of 6x the function timeout."""
SQS_RECOMMENDED_MIN_MAX_RECEIVE_COUNT: Final = 5
"""AWS recommends maxReceiveCount >= 5 on an SQS source queue's redrive policy."""
SQS_DEFAULT_RETENTION_SECONDS: Final = 345_600
"""An SQS queue keeps a message 4 days unless MessageRetentionPeriod says otherwise."""
SQS_MAX_RETENTION_SECONDS: Final = 1_209_600
"""The longest an SQS queue keeps a message: 14 days."""
KINESIS_DEFAULT_RETENTION_SECONDS: Final = 86_400
"""A Kinesis stream keeps records 24 hours unless RetentionPeriodHours says otherwise."""
AWS_MANAGED_SQS_KEY_ALIAS: Final = "alias/aws/sqs"
"""The AWS managed key of SQS (SSE-KMS without a customer key). Its key policy cannot be changed, so Lambda in
another account cannot decrypt messages of a queue encrypted with it (Amazon SQS Developer Guide, "Key management":
cross-account access needs a customer managed key)."""

# Event filtering, AWS Lambda Developer Guide, "Control which events Lambda sends to your function" and the
# per-source pages "Using event filtering with a Kinesis / DynamoDB / Amazon SQS event source" (checked 2026-12):
# the payload is filtered under one key: Kinesis "data" (decoded), DynamoDB "dynamodb", SQS "body". A pattern may
# also match the record's metadata (e.g. DynamoDB `{"eventName": ["INSERT"]}`, which AWS's own FilterCriteria
# example uses), so the keys of each record as AWS documents it (the example events on the same pages) are
# accepted. A pattern on a key the record does not have (`{"order_id": ...}` without the payload key around it)
# matches no record, so every record is discarded: that is rejected.
FILTERABLE_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "kinesis": ("data",),
    "dynamodb": ("dynamodb",),
    "sqs": ("body",),
}
"""The key under which each source's payload is filtered."""
FILTER_METADATA_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "kinesis": (
        "kinesis",
        "eventSource",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "awsRegion",
        "eventSourceARN",
    ),
    "dynamodb": ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "eventSourceARN", "userIdentity"),
    "sqs": (
        "messageId",
        "receiptHandle",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ),
}
"""The other top-level keys of each source's records, which a pattern may match too."""
MAX_FILTERS_PER_MAPPING: Final = 10
"""Five filters by default; a quota increase allows up to 10 per event source mapping, never more."""

# What AWS applies to a setting a template leaves out (verify compares a live value with these). Sources:
# Lambda API reference, EventSourceMappingConfiguration (docs.aws.amazon.com/lambda/latest/api/
# API_EventSourceMappingConfiguration.html): BatchSize 10 for SQS, 100 for every other source; bisect false.
# "Lambda parameters for Amazon SQS event source mappings": MaximumBatchingWindowInSeconds 0.
# Amazon SQS CreateQueue API reference: VisibilityTimeout 30 s. EventBridge user guide, "Retrying events in
# Amazon EventBridge" (eb-rule-retry-policy): 185 retries within 24 hours.
SQS_MAPPING_DEFAULT_BATCH_SIZE: Final = 10
MAPPING_DEFAULT_BATCH_SIZE: Final = 100
MAPPING_DEFAULT_BATCHING_WINDOW_SECONDS: Final = 0
STREAM_DEFAULT_BISECT_BATCH_ON_ERROR: Final = False
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS: Final = 30
# Function Timeout: "The default value for this setting is 3 seconds" (AWS Lambda Developer Guide, "Configure
# Lambda function timeout", docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html, checked 2026-12).
LAMBDA_DEFAULT_TIMEOUT_SECONDS: Final = 3
EVENTBRIDGE_DEFAULT_RETRY_ATTEMPTS: Final = 185
EVENTBRIDGE_DEFAULT_MAX_EVENT_AGE_SECONDS: Final = 86_400


class DestinationKind(StrEnum):
    SQS_QUEUE = "SQS queue"
    SNS_TOPIC = "SNS topic"
    LAMBDA_FUNCTION = "Lambda function"
    EVENT_BUS = "EventBridge event bus"
    S3_BUCKET = "S3 bucket"


FIFO_CAPABLE_KINDS: Final = frozenset({DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC})


@dataclass(frozen=True)
class DestinationRule:
    """Which kinds of target AWS delivers to in one role. FIFO targets are never accepted: they synthesize
    and deploy, then every delivery fails."""

    role: str
    kinds: tuple[DestinationKind, ...]

    def describe(self) -> str:
        names = [
            f"a standard {kind}" if kind in FIFO_CAPABLE_KINDS else f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"
            for kind in self.kinds
        ]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"{listed} ({self.role})"


_ASYNC_KINDS = (
    DestinationKind.SQS_QUEUE,
    DestinationKind.SNS_TOPIC,
    DestinationKind.LAMBDA_FUNCTION,
    DestinationKind.EVENT_BUS,
)
DESTINATIONS: Final[dict[str, DestinationRule]] = {
    # S3 is an on-failure-only destination.
    "async.on_success": DestinationRule("on-success destination of asynchronous invocation", _ASYNC_KINDS),
    "async.on_failure": DestinationRule(
        "on-failure destination of asynchronous invocation", (*_ASYNC_KINDS, DestinationKind.S3_BUCKET)
    ),
    "function.dead_letter_queue": DestinationRule(
        "function dead-letter queue", (DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC)
    ),
    # Since late 2024 an S3 bucket too, and for S3 Lambda writes the whole invocation record, records included
    # (Lambda developer guide, "Retain discarded batch records for a Kinesis Data Streams event source in Lambda",
    # docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html, and "Retain discarded records for
    # a DynamoDB event source in Lambda", .../services-dynamodb-errors.html; CloudFormation
    # AWS::Lambda::EventSourceMapping OnFailure: "an Amazon SNS topic, Amazon SQS queue, Amazon S3 bucket").
    "stream.on_failure": DestinationRule(
        "on-failure destination of Kinesis and DynamoDB Streams event source mappings",
        (DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC, DestinationKind.S3_BUCKET),
    ),
}


def format_value(value: Number, unit: str = "") -> str:
    text = str(int(value)) if float(value).is_integer() else repr(value)
    return f"{text} {unit}" if unit else text


def check_limit(limit: Limit, value: CheckedValue, *, path: str, setting: str) -> list[Violation]:
    """Violations of `limit` by `value`: none for None (not set) or UNRESOLVED (a token)."""
    if value is None or value is UNRESOLVED:
        return []
    if isinstance(value, Invalid):
        return [Violation(path, setting, value.allowed, value.given)]
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return [Violation(path, setting, f"a number, {limit.describe()} for {limit.applies_to}", repr(value))]
    if not float(value).is_integer():
        what = f"a whole number of {limit.unit}" if limit.unit else "a whole number"
        return [Violation(path, setting, what, format_value(value, limit.unit))]
    if not limit.allows(value):
        return [Violation(path, setting, f"{limit.describe()} for {limit.applies_to}", format_value(value, limit.unit))]
    return []


def check_destination(
    rule: DestinationRule,
    kind: DestinationKind | None,
    *,
    fifo: bool | None,
    given: str,
    path: str,
    setting: str,
) -> list[Violation]:
    """Violations of `rule` by a target of `kind` (None: not a supported target type).

    `given` describes the target for the message (e.g. "SQS queue Orders/Failures"). `fifo` None means
    unknown (e.g. imported by a token ARN): accepted, since guessing would be wrong.
    """
    if kind is None or kind not in rule.kinds:
        return [Violation(path, setting, rule.describe(), given)]
    if fifo and kind in FIFO_CAPABLE_KINDS:
        return [
            Violation(
                path,
                setting,
                f"a standard (non-FIFO) {kind}: Lambda cannot deliver to FIFO targets, every delivery fails",
                f"FIFO {given}",
            )
        ]
    return []


# --- rules across settings (pure; constructs and template checks share them) ------------------------------

RESILIENT_STREAM_RETRY_ATTEMPTS: Final = 3
"""StreamConsumer's default retries. Bisecting does not consume retries, so a poison pill in a batch of N is
isolated after about log2(N) splits and then parked after these retries, within minutes."""
RESILIENT_STREAM_MAX_RECORD_AGE_SECONDS: Final = 3_600
"""StreamConsumer's default max record age: a backstop that parks a record after an hour, leaving at least
23 of the default 24 hours of stream retention to fetch and redrive it."""


def check_sqs_batching(
    *,
    batch_size: CheckedValue,
    max_batching_window: CheckedValue,
    fifo: bool | None,
    path: str,
    batch_setting: str = "batch_size",
    window_setting: str = "max_batching_window",
) -> list[Violation]:
    """SQS-specific batch rules: FIFO allows batches of at most 10 and no batching window; a standard queue
    needs a batching window of at least 1 second for batches above 10. The setting names default to the
    constructs' argument names; template checks pass the CloudFormation property names."""
    if fifo:
        violations = check_limit(LIMITS["sqs_fifo.batch_size"], batch_size, path=path, setting=batch_setting)
        if max_batching_window is not None:
            violations.append(
                Violation(
                    path,
                    window_setting,
                    f"left out for {SQS_FIFO_MAPPINGS} (AWS does not support batching windows on FIFO queues)",
                    _given(max_batching_window, "seconds"),
                )
            )
        return violations
    violations = check_limit(LIMITS["mapping.batch_size"], batch_size, path=path, setting=batch_setting)
    violations += check_limit(
        LIMITS["mapping.max_batching_window"], max_batching_window, path=path, setting=window_setting
    )
    needs_window = _resolved(batch_size) and batch_size > SQS_UNBATCHED_MAX_BATCH_SIZE
    window_too_small = max_batching_window is None or (_resolved(max_batching_window) and max_batching_window < 1)
    if needs_window and window_too_small:
        violations.append(
            Violation(
                path,
                window_setting,
                f"at least 1 second when {batch_setting} is above {SQS_UNBATCHED_MAX_BATCH_SIZE} for {SQS_MAPPINGS}",
                f"{_given(max_batching_window, 'seconds')} with {batch_setting} {_given(batch_size, '')}",
            )
        )
    return violations


@dataclass(frozen=True)
class SqsUnsupportedSetting:
    """A setting of stream mappings that SQS sources do not have, and what SQS does instead."""

    cfn_property: str
    instead: str


# Lambda parameters for Amazon SQS event source mappings (AWS Lambda Developer Guide): none of these apply to SQS;
# a failed message goes back to the queue and moves to its dead-letter queue after maxReceiveCount receives.
SQS_UNSUPPORTED_SETTINGS: Final[dict[str, SqsUnsupportedSetting]] = {
    "bisect_batch_on_error": SqsUnsupportedSetting("BisectBatchOnFunctionError", "batches are not split"),
    "retry_attempts": SqsUnsupportedSetting(
        "MaximumRetryAttempts", "a message is retried until it has been received maxReceiveCount times"
    ),
    "max_record_age": SqsUnsupportedSetting(
        "MaximumRecordAgeInSeconds", "a message lives for the queue's retention period"
    ),
    "parallelization_factor": SqsUnsupportedSetting("ParallelizationFactor", "concurrency is set with max_concurrency"),
    "tumbling_window": SqsUnsupportedSetting("TumblingWindowInSeconds", "there are no tumbling windows"),
    "starting_position": SqsUnsupportedSetting("StartingPosition", "a queue has no position"),
    "on_failure": SqsUnsupportedSetting("DestinationConfig", "event source mappings cannot have a destination for SQS"),
}
"""Keyed by the constructs' argument names; ``cfn_property`` names the same setting in a template."""


def sqs_unsupported_settings(given: Mapping[str, str], *, path: str) -> list[Violation]:
    """One violation per stream-only setting given for an SQS source. `given` maps a setting (argument name or
    CloudFormation property) to how the given value reads; the violation names the setting as given."""
    by_property = {setting.cfn_property: setting for setting in SQS_UNSUPPORTED_SETTINGS.values()}
    violations = []
    for name, value in given.items():
        setting = SQS_UNSUPPORTED_SETTINGS.get(name) or by_property.get(name)
        if setting is not None:
            violations.append(
                Violation(
                    path,
                    name,
                    f"left out for SQS sources ({setting.instead}); failed messages go to the queue's dead-letter "
                    "queue through its redrive policy",
                    value,
                )
            )
    return violations


def check_give_up_set(*, retry_attempts: object, max_record_age: object, path: str) -> list[Violation]:
    """None given for ``retry_attempts`` or ``max_record_age`` of a stream or Kafka mapping is neither the bounded
    default nor an explicit ``INFINITE``: rejected, so that never giving up is always written out."""
    return [
        Violation(
            path, setting, "set: leave it out for the bounded default, or pass INFINITE (-1) to never give up", "None"
        )
        for setting, value in (("retry_attempts", retry_attempts), ("max_record_age", max_record_age))
        if value is None
    ]


def check_stream_settings(
    *,
    batch_size: CheckedValue,
    max_batching_window: CheckedValue,
    retry_attempts: CheckedValue,
    max_record_age: CheckedValue,
    parallelization_factor: CheckedValue,
    tumbling_window: CheckedValue,
    path: str,
) -> list[Violation]:
    """The numeric settings of a Kinesis or DynamoDB Streams mapping, in seconds where they are times.

    For ``retry_attempts`` and ``max_record_age`` None means None was given: that is no bounded default and no
    explicit ``INFINITE``, so it is rejected; for the others None means not set."""
    violations = check_give_up_set(retry_attempts=retry_attempts, max_record_age=max_record_age, path=path)
    for key, setting, value in (
        ("mapping.batch_size", "batch_size", batch_size),
        ("mapping.max_batching_window", "max_batching_window", max_batching_window),
        ("stream.retry_attempts", "retry_attempts", retry_attempts),
        ("stream.max_record_age", "max_record_age", max_record_age),
        ("stream.parallelization_factor", "parallelization_factor", parallelization_factor),
        ("stream.tumbling_window", "tumbling_window", tumbling_window),
    ):
        violations += check_limit(LIMITS[key], value, path=path, setting=setting)
    return violations


def check_queue_settings(
    *,
    batch_size: CheckedValue,
    max_batching_window: CheckedValue,
    max_concurrency: CheckedValue,
    fifo: bool | None,
    path: str,
) -> list[Violation]:
    """The numeric settings of an SQS mapping (max_batching_window in seconds)."""
    violations = check_sqs_batching(
        batch_size=batch_size, max_batching_window=max_batching_window, fifo=fifo, path=path
    )
    violations += check_limit(LIMITS["sqs.max_concurrency"], max_concurrency, path=path, setting="max_concurrency")
    return violations


def check_visibility_timeout(
    *, visibility_timeout: CheckedValue, function_timeout: CheckedValue, path: str
) -> tuple[list[Violation], list[Violation]]:
    """(errors, warnings) for an SQS source queue's visibility timeout against the function timeout.

    Below the function timeout AWS rejects the mapping at deploy; below 6x it is against AWS's advice, since a
    message may become visible again while a retried batch is still being processed.
    """
    if not (_resolved(visibility_timeout) and _resolved(function_timeout)):
        return [], []
    given = f"{format_value(visibility_timeout, 'seconds')} with a function timeout of " + format_value(
        function_timeout, "seconds"
    )
    if visibility_timeout < function_timeout:
        return [
            Violation(
                path, "queue visibility timeout", "at least the function timeout (AWS rejects the mapping)", given
            )
        ], []
    recommended = SQS_RECOMMENDED_VISIBILITY_TIMEOUT_FACTOR * function_timeout
    if visibility_timeout < recommended:
        return [], [
            Violation(
                path,
                "queue visibility timeout",
                f"at least {SQS_RECOMMENDED_VISIBILITY_TIMEOUT_FACTOR}x the function timeout "
                f"({format_value(recommended, 'seconds')}) as AWS recommends",
                given,
            )
        ]
    return [], []


def check_max_receive_count(max_receive_count: CheckedValue, *, path: str) -> list[Violation]:
    """Warnings: a maxReceiveCount below 5 moves messages to the DLQ after few (possibly throttled) receives."""
    if _resolved(max_receive_count) and max_receive_count < SQS_RECOMMENDED_MIN_MAX_RECEIVE_COUNT:
        return [
            Violation(
                path,
                "maxReceiveCount of the queue's redrive policy",
                f"at least {SQS_RECOMMENDED_MIN_MAX_RECEIVE_COUNT} as AWS recommends (throttled receives count too)",
                format_value(max_receive_count),
            )
        ]
    return []


def check_dynamodb_record_age(max_record_age: CheckedValue, *, path: str) -> list[Violation]:
    """Warnings: DynamoDB stream records live 24 h, so a larger max record age never triggers."""
    if _resolved(max_record_age) and max_record_age > DYNAMODB_STREAM_RETENTION_SECONDS:
        return [
            Violation(
                path,
                "max_record_age",
                f"at most {DYNAMODB_STREAM_RETENTION_SECONDS} seconds for a DynamoDB stream (records live 24 hours, "
                "so a larger age never triggers)",
                format_value(max_record_age, "seconds"),
            )
        ]
    return []


def check_filter_patterns(
    patterns: list[object], *, source: str, path: str, count: int | None = None
) -> list[Violation]:
    """Each parsed filter pattern must be a JSON object whose top-level keys are keys of the source's records
    (``FILTERABLE_KEYS[source]`` for the payload, ``FILTER_METADATA_KEYS[source]``); a pattern on another key
    discards every record. At most ``MAX_FILTERS_PER_MAPPING`` filters (`count`, when some patterns could not be
    parsed)."""
    [payload_key] = FILTERABLE_KEYS[source]
    allowed = (payload_key, *FILTER_METADATA_KEYS[source])
    listed = f"'{payload_key}' (the payload) or the record's metadata keys ({', '.join(FILTER_METADATA_KEYS[source])})"
    violations = []
    count = len(patterns) if count is None else count
    if count > MAX_FILTERS_PER_MAPPING:
        violations.append(
            Violation(
                path,
                "filters",
                f"at most {MAX_FILTERS_PER_MAPPING} filters per event source mapping (5 without a quota increase)",
                str(count),
            )
        )
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, dict):
            violations.append(
                Violation(path, f"filters[{index}]", 'a JSON object pattern, e.g. {"body": {...}}', repr(pattern))
            )
            continue
        wrong = sorted(str(key) for key in pattern if key not in allowed)
        if wrong or not pattern:
            violations.append(
                Violation(
                    path,
                    f"filters[{index}]",
                    f"a pattern on {listed}: a {source} record has no other key, so a pattern on one matches "
                    "nothing and every record is discarded",
                    f"a pattern on {', '.join(repr(key) for key in wrong) if wrong else 'no key'}",
                )
            )
    return violations


def check_redrive_pairing(
    *,
    source_fifo: bool | None,
    dead_letter_fifo: bool | None,
    path: str,
    setting: str = "queue",
    source: str = "",
    dead_letter: str = "",
) -> list[Violation]:
    """SQS requires the dead-letter queue of a FIFO queue to be FIFO and that of a standard queue to be standard
    (Amazon SQS Developer Guide, "Configure a dead-letter queue"). None: unknown, not guessed. `source` and
    `dead_letter` name the queues in the message."""
    if source_fifo is None or dead_letter_fifo is None or source_fifo == dead_letter_fifo:
        return []
    kind = "FIFO" if source_fifo else "standard"
    other = "FIFO" if dead_letter_fifo else "standard"
    return [
        Violation(
            path,
            setting,
            f"a {kind} queue with a {kind} dead-letter queue (SQS requires both to be {kind})",
            f"{kind} queue {source} with {other} dead-letter queue {dead_letter}".replace("  ", " ").strip(),
        )
    ]


def check_dead_letter_retention(
    *, source_retention: CheckedValue, dead_letter_retention: CheckedValue, source_fifo: bool | None, path: str
) -> list[Violation]:
    """A standard queue's message keeps its original enqueue time when moved to the dead-letter queue, so a DLQ
    that keeps messages for less time than its source deletes old messages on arrival. AWS: "always set the
    retention period of a dead-letter queue to be longer than the retention period of the original queue"
    (Amazon SQS Developer Guide, "Setting-up dead-letter queue retention in Amazon SQS"). FIFO queues reset the
    timestamp on the move, so they are not checked."""
    if source_fifo or not (_resolved(source_retention) and _resolved(dead_letter_retention)):
        return []
    if dead_letter_retention >= source_retention:
        return []
    return [
        Violation(
            path,
            "dead-letter queue retention",
            "at least the source queue's retention: a moved message keeps its original enqueue time, so one older "
            "than the dead-letter queue's retention is deleted on arrival",
            f"{format_value(dead_letter_retention, 'seconds')} with a source retention of "
            + format_value(source_retention, "seconds"),
        )
    ]


def check_kinesis_record_age(
    max_record_age: CheckedValue, retention_seconds: CheckedValue, *, path: str
) -> list[Violation]:
    """Warnings: a max record age at or above the stream's retention never triggers (records expire first).
    An unknown retention is taken as the 24-hour default (CloudFormation User Guide, AWS::Kinesis::Stream:
    "RetentionPeriodHours ... The default value is 24")."""
    retention = retention_seconds if _resolved(retention_seconds) else KINESIS_DEFAULT_RETENTION_SECONDS
    if _resolved(max_record_age) and max_record_age != INFINITE and max_record_age >= retention:
        return [
            Violation(
                path,
                "max_record_age",
                f"below the stream's retention of {format_value(retention, 'seconds')} (records expire first, so "
                "an age at or above it never triggers)",
                format_value(max_record_age, "seconds"),
            )
        ]
    return []


def _resolved(value: CheckedValue) -> TypeGuard[Number]:
    return value is not None and value is not UNRESOLVED and isinstance(value, int | float)


def _given(value: CheckedValue, unit: str) -> str:
    if value is None:
        return "none"
    if value is UNRESOLVED:
        return "an unresolved value"
    return format_value(value, unit) if isinstance(value, int | float) else repr(value)


# --- the permissions each wiring needs, on the function's execution role ----------------------------------

LAMBDA_INVOKE_ACTION: Final = "lambda:InvokeFunction"
"""Invoking a function: a Lambda destination, and any caller of a function."""
S3_OBJECT_ACTIONS: Final = ("s3:PutObject",)
"""An S3 failure home: granted on the bucket's objects (``<bucket arn>/*``)."""
S3_BUCKET_ACTIONS: Final = ("s3:ListBucket",)
"""An S3 failure home: granted on the bucket itself."""
DELIVERY_ACTIONS: Final[dict[DestinationKind, tuple[str, ...]]] = {
    DestinationKind.SQS_QUEUE: ("sqs:SendMessage",),
    DestinationKind.SNS_TOPIC: ("sns:Publish",),
    DestinationKind.LAMBDA_FUNCTION: (LAMBDA_INVOKE_ACTION,),
    DestinationKind.EVENT_BUS: ("events:PutEvents",),
    DestinationKind.S3_BUCKET: S3_OBJECT_ACTIONS + S3_BUCKET_ACTIONS,
}
KMS_WRITE_ACTIONS: Final = ("kms:Decrypt", "kms:GenerateDataKey")
"""On a target's customer-managed key: writing an encrypted message needs a data key (and Decrypt for SQS/SNS)."""
S3_KMS_WRITE_ACTIONS: Final = ("kms:GenerateDataKey",)
"""On an S3 failure home's customer-managed key: "If you've enabled encryption with your own KMS key for an S3
destination, your function's execution role must also have permission to call kms:GenerateDataKey" (Lambda
developer guide, kinesis-on-failure-destination.html). One PutObject per record: no multipart upload, no Decrypt."""


def kms_write_actions(kind: DestinationKind) -> tuple[str, ...]:
    """What a role needs on a target's customer-managed key to deliver to it."""
    return S3_KMS_WRITE_ACTIONS if kind is DestinationKind.S3_BUCKET else KMS_WRITE_ACTIONS


KMS_READ_ACTIONS: Final = ("kms:Decrypt",)
"""On a source's customer-managed key."""
ALARM_TOPIC_KMS_ACTIONS: Final = ("kms:Decrypt", "kms:GenerateDataKey*")
"""What CloudWatch needs on the key of an encrypted SNS topic it notifies (Amazon SNS Developer Guide, "Enable
compatibility between event sources from AWS services and encrypted topics")."""
KINESIS_READ_ACTIONS: Final = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)
KINESIS_FAN_OUT_ACTIONS: Final = ("kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard")
DYNAMODB_STREAM_READ_ACTIONS: Final = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
SQS_CONSUME_ACTIONS: Final = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
"""What Lambda's pollers call, as AWS documents for the execution role of an SQS event source mapping."""

# --- alarm thresholds (pure; the alarms module and template checks share them) -----------------------------

RETENTION_ALARM_FRACTION: Final = 0.8
"""'About to be lost' alarms fire when the oldest item reaches this fraction of the time its home keeps it."""
LAG_ALARM_FRACTION: Final = 0.5
"""'Falling behind' alarms fire at this fraction of the age at which Lambda gives up on an event or record:
half the window is left to react before it is parked (or dropped)."""


def _known(value: CheckedValue) -> TypeGuard[Number]:
    return _resolved(value) and not isinstance(value, bool)


def oldest_message_threshold_seconds(retention_seconds: CheckedValue) -> int:
    """ApproximateAgeOfOldestMessage threshold (seconds) for a queue that keeps messages `retention_seconds`.

    80 % of the retention period: the oldest message is about to be deleted by SQS. An unknown retention (an
    imported queue, a token) is taken as the SQS default of 4 days.
    """
    retention = retention_seconds if _known(retention_seconds) else SQS_DEFAULT_RETENTION_SECONDS
    return int(retention * RETENTION_ALARM_FRACTION)


def unprocessed_record_age_seconds(max_record_age_seconds: CheckedValue, retention_seconds: CheckedValue) -> Number:
    """The age at which a stream record leaves unprocessed: the mapping's max record age (the record is parked)
    or the stream's retention (it is trimmed), whichever comes first. ``INFINITE`` or an unknown (token) max
    record age leaves the retention; an unknown retention (an imported Kinesis stream) is taken as 24 hours,
    the default of Kinesis and the fixed retention of DynamoDB streams."""
    limit = retention_seconds if _known(retention_seconds) else KINESIS_DEFAULT_RETENTION_SECONDS
    if _known(max_record_age_seconds) and max_record_age_seconds != INFINITE:
        limit = min(max_record_age_seconds, limit)
    return limit


def iterator_age_threshold_ms(max_record_age_seconds: CheckedValue, retention_seconds: CheckedValue) -> int:
    """Lambda IteratorAge threshold (milliseconds) for a stream consumer: half the age at which records leave
    the stream unprocessed (see ``unprocessed_record_age_seconds``). 30 minutes for StreamConsumer's default
    max record age of 1 hour; 12 hours with ``INFINITE`` on a stream that keeps records 24 hours.
    """
    return int(unprocessed_record_age_seconds(max_record_age_seconds, retention_seconds) * LAG_ALARM_FRACTION * 1000)


def stream_read_lag_threshold_ms(retention_seconds: CheckedValue) -> int:
    """Kinesis GetRecords.IteratorAgeMilliseconds threshold: 80 % of the stream's retention, records are about
    to expire unread. An unknown retention (an imported stream) is taken as the default 24 hours."""
    retention = retention_seconds if _known(retention_seconds) else KINESIS_DEFAULT_RETENTION_SECONDS
    return int(retention * RETENTION_ALARM_FRACTION * 1000)


def async_event_age_threshold_ms(max_event_age_seconds: CheckedValue) -> int:
    """Lambda AsyncEventAge threshold (milliseconds): half the max event age, after which Lambda drops the
    event (to the on-failure destination). Not set or unknown (a token): AWS's default of 6 hours."""
    age = max_event_age_seconds if _known(max_event_age_seconds) else LIMITS["async.max_event_age"].default
    return int(age * LAG_ALARM_FRACTION * 1000)


def human_duration(seconds: Number) -> str:
    """E.g. '11.2 days', '30 minutes', '1 hour': the largest unit that fits, at most one decimal."""
    units = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
    unit, size = next(((unit, size) for unit, size in units if seconds >= size), units[-1])
    value = round(seconds / size, 1)
    text = str(int(value)) if float(value).is_integer() else str(value)
    return f"{text} {unit}" if value == 1 else f"{text} {unit}s"


# --- limits of the APIs the runtime redrive calls (constructs_lib.redrive) ----------------------------------

# SQS message quotas ("Amazon SQS message quotas", SQS Developer Guide) and the SendMessage /
# SendMessageBatch API reference: MessageGroupId and MessageDeduplicationId are 1-128 characters, alphanumeric
# characters and punctuation only; a batch holds at most 10 entries; a message at most 10 attributes.
SQS_FIFO_ID_MAX_LENGTH: Final = 128
"""Longest MessageGroupId / MessageDeduplicationId."""
SQS_FIFO_ID_CHARACTERS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)
"""What a MessageGroupId or MessageDeduplicationId may contain."""
SQS_BATCH_MAX_ENTRIES: Final = 10
SQS_MAX_MESSAGE_ATTRIBUTES: Final = 10
# SendMessageBatch API reference (2025): "The maximum allowed individual message size and the maximum total
# payload size (the sum of the individual lengths of all of the batched messages) are both 1 MiB". A queue's
# own MaximumMessageSize attribute can be lower; all parts of a message attribute (name, type, value) count
# toward it (MessageAttributeValue API reference).
SQS_MAX_MESSAGE_BYTES: Final = 1_048_576
SQS_BATCH_MAX_BYTES: Final = 1_048_576
# Kinesis PutRecords / PutRecordsRequestEntry API reference: up to 500 records and 5 MiB per call (partition
# keys included); a partition key is 1-256 Unicode characters; data + partition key at most the stream's
# maximum record size, 1 MiB unless raised with UpdateMaxRecordSize (MaxRecordSizeInKiB, up to 10 MiB; "Handle
# large records", Kinesis Data Streams Developer Guide). A shard takes 1,000 records and 1 MiB per second.
# GetRecords Limit: Kinesis Data Streams API reference, GetRecords: up to 10,000; DynamoDB Streams API reference,
# GetRecords (amazondynamodb/latest/APIReference/API_streams_GetRecords.html, checked 2026-12): "The upper limit
# is 1000".
KINESIS_GET_RECORDS_MAX_LIMIT: Final = 10_000
DYNAMODB_STREAMS_GET_RECORDS_MAX_LIMIT: Final = 1_000
# AWS::Kinesis::StreamConsumer ConsumerName: 1 to 128 characters (CloudFormation User Guide).
KINESIS_CONSUMER_NAME_MAX_LENGTH: Final = 128
KINESIS_PUT_RECORDS_MAX_ENTRIES: Final = 500
KINESIS_PUT_RECORDS_MAX_BYTES: Final = 5 * 1_048_576
KINESIS_DEFAULT_MAX_RECORD_BYTES: Final = 1_048_576
KINESIS_PARTITION_KEY_MAX_LENGTH: Final = 256
KINESIS_SHARD_WRITE_RECORDS_PER_SECOND: Final = 1_000
KINESIS_SHARD_WRITE_BYTES_PER_SECOND: Final = 1_048_576
# Amazon S3 API reference, DeleteObjects: "you can specify up to 1,000 keys" per request.
S3_DELETE_OBJECTS_MAX_KEYS: Final = 1_000


# --- Kafka event source mappings (Amazon MSK and self-managed Apache Kafka) --------------------------------
# Sources, looked up 2026-12 (AWS Lambda developer guide and API reference):
# - "Configuring error handling controls for Kafka event sources"
#   https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html : retries 0-10000 or -1,
#   record age 60-604800 s or -1 (both default -1), split batch on error, ReportBatchItemFailures; the console
#   offers them only after "select provisioned mode to configure error handling controls".
# - "Using a Kafka topic as an on-failure destination"
#   https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html : `kafka://<topic>`,
#   "Provisioned mode required", same cluster, the destination topic "cannot be the same as any of your source
#   topic names", kafka-cluster:WriteData on it, and "When you configure both infinite retries and an on-failure
#   destination, Lambda automatically applies a maximum of 10 retry attempts".
# - "Capturing discarded batches for Amazon MSK and self-managed Apache Kafka event sources"
#   https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html : SNS topic, SQS queue, S3 bucket or a
#   Kafka topic; sqs:SendMessage, sns:Publish, s3:PutObject + s3:ListBucket, kafka-cluster:WriteData.
# - API reference "OnFailure": Destination pattern `kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))` or an ARN.
# - API reference "ProvisionedPollerConfig": for Amazon MSK and self-managed Apache Kafka MinimumPollers 1-200
#   (default 1), MaximumPollers 1-2000 (default 200); PollerGroupName (Kafka only) groups up to 100 mappings.
# - API reference "AmazonManagedKafkaEventSourceConfig": ConsumerGroupId length 1-200, pattern
#   `[a-zA-Z0-9-\/*:_+=.@-]*`, cannot be updated after creation.
# - API reference "SelfManagedEventSource": KAFKA_BOOTSTRAP_SERVERS, 1-10 entries of 1-300 characters, each
#   `host:port` (pattern below).
# - API reference "SourceAccessConfiguration" and "All Amazon MSK event source configuration parameters"
#   https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-parameters.html : MSK accepts SASL_SCRAM_512_AUTH or
#   CLIENT_CERTIFICATE_TLS_AUTH (none: IAM); self-managed accepts BASIC_AUTH (SASL/PLAIN), SASL_SCRAM_256_AUTH,
#   SASL_SCRAM_512_AUTH, CLIENT_CERTIFICATE_TLS_AUTH, plus SERVER_ROOT_CA_CERTIFICATE, VPC_SUBNET and
#   VPC_SECURITY_GROUP.
# - "Apache Kafka polling and stream starting positions in Lambda": TRIM_HORIZON, LATEST, AT_TIMESTAMP.
# - "Configuring Lambda permissions for Amazon MSK event source mappings"
#   https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html : kafka:DescribeClusterV2 (works for
#   provisioned and serverless clusters; DescribeCluster is not needed as well), kafka:GetBootstrapBrokers, the
#   six ec2 network-interface actions, kafka:ListScramSecrets + secretsmanager:GetSecretValue (+ kms:Decrypt
#   for a customer-managed key) for SASL/SCRAM, and for IAM authentication kafka-cluster:Connect,
#   kafka-cluster:AlterGroup, kafka-cluster:DescribeGroup, kafka-cluster:DescribeTopic, kafka-cluster:ReadData.
# - "Types of metrics for Lambda functions" (event source mapping metrics): EventCount (DroppedEventCount,
#   OnFailureDestinationDeliveredEventCount, ...), ErrorCount (OnFailureDestinationDeliveryErrorCount, ...) and
#   KafkaMetrics (MaxOffsetLag, SumOffsetLag) metric groups, opt-in per mapping.

KAFKA_MAPPINGS = "Amazon MSK and self-managed Apache Kafka event source mappings"
KAFKA_PROVISIONED = "provisioned mode of Kafka event source mappings"

# AWS documents the same retry and record-age ranges for Kafka as for Kinesis and DynamoDB: one range, reused.
LIMITS.update(
    {
        "kafka.retry_attempts": replace(LIMITS["stream.retry_attempts"], applies_to=KAFKA_MAPPINGS),
        "kafka.max_record_age": replace(LIMITS["stream.max_record_age"], applies_to=KAFKA_MAPPINGS),
        "kafka.minimum_pollers": Limit(
            "ProvisionedPollerConfig.MinimumPollers", 1, 200, KAFKA_PROVISIONED, aws_default=1
        ),
        "kafka.maximum_pollers": Limit(
            "ProvisionedPollerConfig.MaximumPollers", 1, 2_000, KAFKA_PROVISIONED, aws_default=200
        ),
    }
)

KAFKA_INFINITE_RETRIES_WITH_DESTINATION: Final = 10
"""Lambda caps INFINITE retries of a Kafka mapping at 10 when it has an on-failure destination."""

KAFKA_TOPIC_DESTINATION_PREFIX: Final = "kafka://"
KAFKA_TOPIC_PATTERN: Final = r"[^.][a-zA-Z0-9\-_.]{0,248}"
"""A Kafka topic name as Lambda accepts it after `kafka://`: 1-249 of [a-zA-Z0-9._-], not starting with a dot."""
KAFKA_SOURCE_TOPIC_PATTERN: Final = r"[^.][a-zA-Z0-9\-_.]{1,248}"
r"""A source topic (Topics) as the CloudFormation schema of AWS::Lambda::EventSourceMapping checks it,
`^[^.]([a-zA-Z0-9\-_.]+)` with at most 249 characters: at least 2 characters (CDK's template validation rejects a
one-letter topic)."""
KAFKA_CONSUMER_GROUP_ID_PATTERN: Final = r"[a-zA-Z0-9\-/*:_+=.@]*"
KAFKA_CONSUMER_GROUP_ID_MAX_LENGTH: Final = 200
KAFKA_BOOTSTRAP_SERVER_PATTERN: Final = (
    r"(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
    r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]):[0-9]{1,5}"
)
KAFKA_BOOTSTRAP_SERVER_MAX_LENGTH: Final = 300
KAFKA_MAX_BOOTSTRAP_SERVERS: Final = 10


class KafkaAuthentication(StrEnum):
    """SourceAccessConfiguration types that authenticate Lambda to Kafka brokers (IAM needs none: MSK only)."""

    SASL_SCRAM_512 = "SASL_SCRAM_512_AUTH"
    SASL_SCRAM_256 = "SASL_SCRAM_256_AUTH"
    SASL_PLAIN = "BASIC_AUTH"
    MUTUAL_TLS = "CLIENT_CERTIFICATE_TLS_AUTH"


MSK_AUTHENTICATIONS: Final = (KafkaAuthentication.SASL_SCRAM_512, KafkaAuthentication.MUTUAL_TLS)
SELF_MANAGED_KAFKA_AUTHENTICATIONS: Final = tuple(KafkaAuthentication)
KAFKA_ROOT_CA_ACCESS_TYPE: Final = "SERVER_ROOT_CA_CERTIFICATE"
"""Self-managed Apache Kafka only: the secret with the root CA of brokers whose certificates a private CA signed."""

# Settings Lambda accepts for Kafka only in provisioned mode (ProvisionedPollerConfig set), by argument name.
KAFKA_PROVISIONED_ONLY: Final[dict[str, str]] = {
    "retry_attempts": "MaximumRetryAttempts",
    "max_record_age": "MaximumRecordAgeInSeconds",
    "bisect_batch_on_error": "BisectBatchOnFunctionError",
    "report_batch_item_failures": "FunctionResponseTypes",
}

KAFKA_ON_FAILURE_KINDS: Final = (DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC, DestinationKind.S3_BUCKET)
DESTINATIONS["kafka.on_failure"] = DestinationRule(
    "on-failure destination of Kafka event source mappings; or a Kafka topic 'kafka://<topic>' in provisioned mode",
    KAFKA_ON_FAILURE_KINDS,
)

MSK_CLUSTER_ACTIONS: Final = ("kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers")
MSK_SCRAM_ACTIONS: Final = ("kafka:ListScramSecrets",)
KAFKA_NETWORK_ACTIONS: Final = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
"""Lambda's pollers reach the brokers through network interfaces in the cluster's (or given) subnets."""
MSK_IAM_CLUSTER_ACTIONS: Final = ("kafka-cluster:Connect",)
MSK_IAM_TOPIC_READ_ACTIONS: Final = ("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData")
MSK_IAM_GROUP_ACTIONS: Final = ("kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup")
MSK_IAM_TOPIC_WRITE_ACTIONS: Final = ("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData")
SECRET_READ_ACTIONS: Final = ("secretsmanager:GetSecretValue",)

KAFKA_OFFSET_LAG_ALARM_RECORDS: Final = 10_000
"""KafkaConsumer's default MaxOffsetLag alarm threshold: a partition 10 000 records behind. Offset lag counts
records, not time, so no AWS limit implies a value: tune it to the topic's throughput."""


def kafka_on_failure_topic(destination: object) -> str | None:
    """The topic of a `kafka://<topic>` on-failure destination string, else None."""
    if isinstance(destination, str) and destination.startswith(KAFKA_TOPIC_DESTINATION_PREFIX):
        return destination[len(KAFKA_TOPIC_DESTINATION_PREFIX) :]
    return None


def check_kafka_topic(topic: object, *, path: str, setting: str, source: bool) -> list[Violation]:
    """A Kafka topic name Lambda accepts: the source topic (2 to 249 characters), or the topic of a `kafka://`
    on-failure destination (1 to 249)."""
    pattern = KAFKA_SOURCE_TOPIC_PATTERN if source else KAFKA_TOPIC_PATTERN
    if isinstance(topic, str) and re.fullmatch(pattern, topic):
        return []
    shortest = 2 if source else 1
    return [
        Violation(
            path,
            setting,
            f"a Kafka topic name of {shortest} to 249 letters, digits, '.', '_' or '-', not starting with '.'",
            repr(topic),
        )
    ]


def check_kafka_consumer_group_id(group_id: object, *, path: str) -> list[Violation]:
    if (
        isinstance(group_id, str)
        and 0 < len(group_id) <= KAFKA_CONSUMER_GROUP_ID_MAX_LENGTH
        and re.fullmatch(KAFKA_CONSUMER_GROUP_ID_PATTERN, group_id)
    ):
        return []
    return [
        Violation(
            path,
            "consumer_group_id",
            f"1 to {KAFKA_CONSUMER_GROUP_ID_MAX_LENGTH} characters of letters, digits and - / * : _ + = . @",
            repr(group_id),
        )
    ]


def check_kafka_bootstrap_servers(servers: object, *, path: str) -> list[Violation]:
    """1 to 10 `host:port` entries; an UNRESOLVED entry (a token) counts but is not checked."""
    if isinstance(servers, str) or not isinstance(servers, list | tuple) or not servers:
        return [Violation(path, "bootstrap_servers", "a list of 1 to 10 'host:port' strings", repr(servers))]
    violations = []
    if len(servers) > KAFKA_MAX_BOOTSTRAP_SERVERS:
        violations.append(
            Violation(
                path,
                "bootstrap_servers",
                f"at most {KAFKA_MAX_BOOTSTRAP_SERVERS} servers",
                f"{len(servers)} servers",
            )
        )
    for server in servers:
        if server is UNRESOLVED:
            continue
        if not (
            isinstance(server, str)
            and len(server) <= KAFKA_BOOTSTRAP_SERVER_MAX_LENGTH
            and re.fullmatch(KAFKA_BOOTSTRAP_SERVER_PATTERN, server)
        ):
            violations.append(
                Violation(path, "bootstrap_servers", "'host:port' entries (e.g. 'b-1.example.com:9092')", repr(server))
            )
    return violations


def check_kafka_pollers(
    minimum: CheckedValue, maximum: CheckedValue, *, path: str, setting: str = "provisioned_poller_config"
) -> list[Violation]:
    """Ranges of MinimumPollers / MaximumPollers, and minimum <= maximum (AWS defaults 1 and 200)."""
    return check_pollers(minimum, maximum, source="kafka", path=path, setting=setting)


def kafka_effective_retries(retry_attempts: CheckedValue, *, has_destination: bool) -> CheckedValue:
    """The retries Lambda applies: INFINITE (or not set) becomes 10 when the mapping has a failure destination."""
    infinite = retry_attempts is None or retry_attempts == INFINITE
    if infinite and has_destination:
        return KAFKA_INFINITE_RETRIES_WITH_DESTINATION
    return INFINITE if retry_attempts is None else retry_attempts


# --- S3 failure homes, mapping metrics, message sizes, SQS provisioned mode (looked up 2026-12) ---------------
# Lambda developer guide, "Retain discarded batch records for a Kinesis Data Streams event source in Lambda"
# (docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html) and the DynamoDB page
# (services-dynamodb-errors.html): an S3 object holds the SQS/SNS record plus ``payload``, "the original
# invocation record as an escaped JSON string", and is named
# ``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>``.
S3_FAILURE_OBJECT_PREFIX: Final = "aws/lambda/"
"""Where Lambda writes stream failure objects in a bucket: one object per failed batch, under the mapping's UUID."""
S3_FAILURE_OBJECT_KEY_PATTERN: Final = (
    r"aws/lambda/(?P<mapping_uuid>[^/]+)/(?P<shard_id>[^/]+)/(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/"
    r"(?P<timestamp>\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2})-(?P<random>[^/]+)"
)

FAILURE_BUCKET_EXPIRATION_DAYS: Final = 30
"""FailureBucket's default lifecycle expiry: twice the 14 days a FailureQueue keeps a record, so an object is
still there for a redrive after a fortnight's holiday; objects are the data itself, unlike a queue's pointers."""

# CloudFormation AWS::SQS::Queue MaximumMessageSize: "an integer from 1,024 bytes (1 KiB) to 1,048,576 bytes
# (1 MiB). Default: 1,048,576 bytes (1 MiB)" (schema in cfn-lint 1.58; the maximum is SQS_MAX_MESSAGE_BYTES).
# Lambda's async payloads may be 1 MiB too (2025): a smaller failure queue refuses the largest records.
# API reference "OnFailure": "Amazon SNS destinations have a message size limit of 256 KB. If the combined size of
# the function request and response payload exceeds the limit, Lambda will drop the payload when sending OnFailure
# event to the destination."
SNS_MAX_MESSAGE_BYTES: Final = 262_144

# CloudFormation AWS::Lambda::EventSourceMapping MetricsConfig: ``EventCount`` (all sources), ``ErrorCount`` and
# ``KafkaMetrics`` (Kafka only); "Event source mapping metrics" in the Lambda developer guide
# (monitoring-metrics-types.html): EventCount gives PolledEventCount, FilteredOutEventCount, InvokedEventCount,
# FailedInvokeEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount and DeletedEventCount per
# EventSourceMappingUUID. Billed as custom CloudWatch metrics.
ESM_EVENT_COUNT_METRICS: Final = "EventCount"
ESM_DROPPED_EVENT_COUNT: Final = "DroppedEventCount"
ESM_ON_FAILURE_DELIVERED_EVENT_COUNT: Final = "OnFailureDestinationDeliveredEventCount"
ESM_METRICS_PER_MAPPING: Final = 7
"""Metrics the EventCount group publishes per mapping (see above): what one mapping adds to the CloudWatch bill."""

# CloudFormation AWS::Lambda::EventSourceMapping ProvisionedPollerConfig (cfn-lint 1.58 schema, 2026-10-20):
# "For Amazon SQS events source mappings, default is 2, and minimum 2 required" (MinimumPollers at most 200);
# MaximumPollers "For Amazon SQS event source mappings, the accepted range is between 2 and 10,000, with a default
# of 200". Lambda developer guide, "Provisioned mode" for SQS: not with ScalingConfig.MaximumConcurrency.
SQS_PROVISIONED = "provisioned mode of SQS event source mappings"
LIMITS.update(
    {
        "sqs.minimum_pollers": Limit("ProvisionedPollerConfig.MinimumPollers", 2, 200, SQS_PROVISIONED, aws_default=2),
        "sqs.maximum_pollers": Limit(
            "ProvisionedPollerConfig.MaximumPollers", 2, 10_000, SQS_PROVISIONED, aws_default=200
        ),
    }
)


def check_pollers(
    minimum: CheckedValue,
    maximum: CheckedValue,
    *,
    source: str,
    path: str,
    setting: str = "provisioned_poller_config",
) -> list[Violation]:
    """Ranges of MinimumPollers / MaximumPollers for ``source`` ("sqs" or "kafka"), and minimum <= maximum (a
    missing one taken as AWS's default)."""
    low_limit, high_limit = LIMITS[f"{source}.minimum_pollers"], LIMITS[f"{source}.maximum_pollers"]
    violations = check_limit(low_limit, minimum, path=path, setting=f"{setting}.minimum_pollers")
    violations += check_limit(high_limit, maximum, path=path, setting=f"{setting}.maximum_pollers")
    if violations:
        return violations
    low = minimum if _resolved(minimum) else low_limit.default
    high = maximum if _resolved(maximum) else high_limit.default
    if (_resolved(minimum) or _resolved(maximum)) and low > high:
        violations.append(
            Violation(
                path,
                f"{setting}.maximum_pollers",
                f"at least minimum_pollers ({format_value(low)})",
                format_value(high),
            )
        )
    return violations


def check_sqs_scaling_mode(*, max_concurrency: CheckedValue, provisioned: bool, path: str) -> list[Violation]:
    """SQS mappings scale either by MaximumConcurrency (on-demand) or by provisioned pollers, never both."""
    if provisioned and max_concurrency is not None:
        return [
            Violation(
                path,
                "max_concurrency",
                "left out with provisioned_poller_config (AWS: provisioned mode and maximum concurrency are mutually "
                "exclusive for SQS)",
                _given(max_concurrency, ""),
            )
        ]
    return []


def check_failure_queue_size(max_message_bytes: CheckedValue, *, path: str, setting: str) -> list[Violation]:
    """Warnings: a failure queue that takes less than 1 MiB refuses the largest failure records Lambda writes."""
    if _resolved(max_message_bytes) and max_message_bytes < SQS_MAX_MESSAGE_BYTES:
        return [
            Violation(
                path,
                setting,
                f"at least {format_value(SQS_MAX_MESSAGE_BYTES)} bytes (1 MiB) of MaximumMessageSize: Lambda's "
                "payloads and records may be that large, and a delivery the queue refuses is lost",
                f"MaximumMessageSize {format_value(max_message_bytes)} bytes",
            )
        ]
    return []
