"""Rules for Kinesis and DynamoDB Streams event source mappings."""

from __future__ import annotations

from collections.abc import Iterator

from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import SQS, TemplateView, as_mapping, number, truthy
from constructs_lib.limits import INFINITE, UNRESOLVED


def _infinite(value: object) -> bool:
    """AWS's default for stream retries and record age is -1: infinite when left out."""
    checked = number(value)
    return checked is None or checked == INFINITE


@rule(
    "StreamUnboundedRetries",
    Level.ERROR,
    explanation="With infinite retries and infinite record age, one poison pill blocks its shard until the "
    "record expires (24 h for DynamoDB, the retention period for Kinesis).",
    fix="Bound MaximumRetryAttempts or MaximumRecordAgeInSeconds (StreamConsumer does both by default).",
)
def stream_unbounded_retries(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in view.mappings:
        properties = mapping.properties
        if (
            mapping.is_stream
            and _infinite(properties.get("MaximumRetryAttempts"))
            and _infinite(properties.get("MaximumRecordAgeInSeconds"))
        ):
            yield (
                mapping.logical_id,
                (
                    f"{mapping.source} mapping retries forever: MaximumRetryAttempts and MaximumRecordAgeInSeconds "
                    "are both infinite (-1 or not set)"
                ),
            )


@rule(
    "StreamNoFailureDestination",
    Level.ERROR,
    explanation="Without an on-failure destination, records that exhaust retries or age are dropped silently.",
    fix="Set DestinationConfig.OnFailure to an S3 bucket (it keeps the failed records themselves), a standard SQS "
    "queue or SNS topic (StreamConsumer's default is a FailureQueue).",
)
def stream_no_failure_destination(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in view.mappings:
        destination = as_mapping(as_mapping(mapping.properties.get("DestinationConfig")).get("OnFailure"))
        if mapping.is_stream and not destination.get("Destination"):
            yield mapping.logical_id, f"{mapping.source} mapping has no on-failure destination"


@rule(
    "StreamNoBisect",
    Level.WARNING,
    explanation="Without bisecting, a whole batch is retried and parked for one bad record.",
    fix="Set BisectBatchOnFunctionError to true; splitting does not consume retries.",
)
def stream_no_bisect(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in view.mappings:
        retries = number(mapping.properties.get("MaximumRetryAttempts"))
        bounded = retries is not None and retries is not UNRESOLVED and retries != INFINITE
        # Not set means false; an intrinsic (None) is not judged.
        bisects = truthy(mapping.properties.get("BisectBatchOnFunctionError", False))
        if mapping.is_stream and bounded and bisects is False:
            yield mapping.logical_id, f"{mapping.source} mapping with bounded retries does not bisect failed batches"


@rule(
    "NoReportBatchItemFailures",
    Level.WARNING,
    explanation="Without ReportBatchItemFailures, one failed record makes Lambda retry the whole batch.",
    fix='Set FunctionResponseTypes to ["ReportBatchItemFailures"] and return batchItemFailures from the handler.',
)
def no_report_batch_item_failures(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in view.mappings:
        # A batch of one record has nothing to report partially.
        if mapping.source is None or number(mapping.properties.get("BatchSize")) == 1:
            continue
        response_types = mapping.properties.get("FunctionResponseTypes") or []
        # A parameter (or any intrinsic) may well hold ReportBatchItemFailures: not judged.
        written = isinstance(response_types, list) and all(isinstance(t, str) for t in response_types)
        if written and "ReportBatchItemFailures" not in response_types:
            kind = "SQS" if mapping.source == SQS else mapping.source
            yield mapping.logical_id, f"{kind} mapping does not use ReportBatchItemFailures"
