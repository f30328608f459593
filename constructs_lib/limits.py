"""AWS's limits for Lambda failure handling, as data in one table, and pure validation helpers.

No aws_cdk import: constructs translate CDK values first (a token becomes `UNRESOLVED`, a Duration becomes
seconds), then call the helpers here. Unresolved values are never range-checked, so a CloudFormation
parameter never causes a false error. Sources: AWS Lambda developer guide and the CloudFormation schemas of
AWS::Lambda::EventInvokeConfig, AWS::Lambda::EventSourceMapping and AWS::Lambda::Function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

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

Number = int | float
CheckedValue = Number | _Unresolved | None


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
    "stream.on_failure": DestinationRule(
        "on-failure destination of Kinesis and DynamoDB Streams event source mappings",
        (DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC),
    ),
}


def format_value(value: Number, unit: str = "") -> str:
    text = str(int(value)) if float(value).is_integer() else repr(value)
    return f"{text} {unit}" if unit else text


def check_limit(limit: Limit, value: CheckedValue, *, path: str, setting: str) -> list[Violation]:
    """Violations of `limit` by `value`: none for None (not set) or UNRESOLVED (a token)."""
    if value is None or value is UNRESOLVED:
        return []
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
