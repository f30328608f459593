"""Where redrive sends things: a queue, a Kinesis stream, or a function invoked asynchronously.

A target turns a parsed failure message into :class:`Delivery` items and delivers them with the service's
batch API where it has one. :meth:`RedriveTarget.deliver` never raises: it reports which items were sent,
which were refused (and why), and the error that stopped it, if any; items after that error were not tried.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from constructs_lib.fetch import DynamoDBStreamRecord, KinesisRecord, StreamRecord
from constructs_lib.records import AsyncInvocationRecord, DeadLetterMessage, FailureRecord

__all__ = [
    "Delivery",
    "DeliveryReport",
    "FunctionTarget",
    "OriginalFunctionTarget",
    "QueueTarget",
    "RedriveTarget",
    "StreamTarget",
    "UnsupportedRecord",
]

# Service limits of the batch APIs.
SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024
KINESIS_BATCH_RECORDS = 500
KINESIS_BATCH_BYTES = 5 * 1024 * 1024
KINESIS_RECORD_BYTES = 1024 * 1024
# Lambda errors that concern one payload only; any other error means the target itself is failing.
_LAMBDA_PAYLOAD_ERRORS = {"RequestEntityTooLargeException", "InvalidRequestContentException"}


class UnsupportedRecord(Exception):
    """This target cannot replay this kind of record; the message is skipped and left in the queue."""


@dataclass(frozen=True)
class Delivery:
    """One item to deliver: a message body, a stream record or an invocation payload.

    ``partition_key`` is the Kinesis partition key (or FIFO message group); ``deduplication_id`` is stable
    across runs for the same failure message, so a FIFO queue drops the copy a rerun would send.
    ``function`` is the function to invoke (function targets only).
    """

    data: bytes
    partition_key: str
    deduplication_id: str
    function: str | None = None


@dataclass
class DeliveryReport:
    """What :meth:`RedriveTarget.deliver` achieved, by index into the deliveries it was given."""

    sent: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)
    error: str | None = None


class RedriveTarget(ABC):
    """Base of the redrive targets. Subclasses say what they accept and how they deliver it."""

    #: Retries of the items a batch call refused with a transient error, and the first back-off in seconds.
    retry_attempts: int = 2
    retry_delay: float = 0.2
    #: Whether fetched stream records can be replayed here (async records and DLQ messages always can).
    accepts_stream_batches: bool = False

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    @abstractmethod
    def describe(self) -> str:
        """Where this target sends things, for messages to the user."""

    def payload_deliveries(self, record: FailureRecord, data: bytes, key: str, dedup: str) -> list[Delivery]:
        """Deliveries for the original event of an async record or DLQ message (``data``: its JSON)."""
        return [Delivery(data=data, partition_key=key, deduplication_id=dedup)]

    def stream_deliveries(self, records: Sequence[StreamRecord], dedup: str) -> list[Delivery]:
        """Deliveries for the fetched records of a stream batch (targets that accept them)."""
        raise UnsupportedRecord(f"stream batches cannot be replayed to {self.describe()}")

    def action(self, deliveries: Sequence[Delivery]) -> str:
        """What delivering these would do, in words (dry runs print it)."""
        return f"send {_count(len(deliveries), 'item')} to {self.describe()}"

    @abstractmethod
    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        """Deliver everything it can; never raises."""

    def _retrying(
        self, pending: list[int], attempt_batch: Callable[[list[int]], dict[int, tuple[str, bool]]]
    ) -> DeliveryReport:
        """Run ``attempt_batch`` on ``pending`` and retry the items it refused as retryable.

        ``attempt_batch`` returns the refused items: index → (reason, retryable); all others were sent.
        """
        report = DeliveryReport()
        for attempt in range(self.retry_attempts + 1):
            try:
                refused = attempt_batch(pending)
            except Exception as error:  # any failure must still report exactly what was sent before it
                report.error = _describe_error(error)
                return report
            report.sent.update(index for index in pending if index not in refused)
            retryable = [index for index, (_, can_retry) in refused.items() if can_retry]
            for index, (reason, can_retry) in refused.items():
                if not can_retry or attempt == self.retry_attempts:
                    report.refused[index] = reason
            pending = retryable
            if not pending or attempt == self.retry_attempts:
                break
            self._sleep(self.retry_delay * 2**attempt)
        return report


class QueueTarget(RedriveTarget):
    """Send to an SQS queue with ``SendMessageBatch``.

    An async record or DLQ message becomes one message whose body is the original event (a DLQ body is
    kept byte for byte). Each fetched stream record becomes one message holding the record as a Lambda event
    carries it (``{"kinesis": {...}, "eventSourceARN": ...}`` or ``{"dynamodb": {...}, ...}``), so a consumer
    can rebuild ``{"Records": [...]}`` and hand it to the original handler. For a FIFO queue (``.fifo``) the
    message group is the partition key and the deduplication id is stable per failure message and item.
    """

    accepts_stream_batches = True

    def __init__(self, queue_url: str, *, client: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(sleep=sleep)
        self.queue_url = queue_url
        self.client = client or _default_client("sqs")
        self.fifo = queue_url.endswith(".fifo")

    def describe(self) -> str:
        return f"queue {self.queue_url}"

    def stream_deliveries(self, records: Sequence[StreamRecord], dedup: str) -> list[Delivery]:
        return [
            Delivery(
                data=json.dumps(record.to_lambda_event_record()).encode(),
                partition_key=_partition_key(record),
                deduplication_id=f"{dedup}-{index}",
            )
            for index, record in enumerate(records)
        ]

    def action(self, deliveries: Sequence[Delivery]) -> str:
        return f"send {_count(len(deliveries), 'message')} to {self.describe()}"

    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        report = DeliveryReport()
        sizes = [(index, len(item.data)) for index, item in enumerate(deliveries)]
        for chunk in _chunks(sizes, SQS_BATCH_ENTRIES, SQS_BATCH_BYTES):
            chunk_report = self._retrying(chunk, lambda pending: self._send(deliveries, pending))
            _merge(report, chunk_report)
            if chunk_report.error:
                break
        return report

    def _send(self, deliveries: Sequence[Delivery], pending: list[int]) -> dict[int, tuple[str, bool]]:
        entries = []
        for index in pending:
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": deliveries[index].data.decode("utf-8")}
            if self.fifo:
                entry["MessageGroupId"] = _short(deliveries[index].partition_key)
                entry["MessageDeduplicationId"] = _short(deliveries[index].deduplication_id)
            entries.append(entry)
        response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        refused = {
            int(failure["Id"]): (
                f"SendMessageBatch refused it: {failure.get('Code')}: {failure.get('Message', '')}".rstrip(": "),
                not failure.get("SenderFault", False),
            )
            for failure in response.get("Failed", [])
        }
        # Only an entry listed as successful counts as sent; one in neither list is tried again.
        successful = {int(success["Id"]) for success in response.get("Successful", [])}
        for index in pending:
            if index not in successful and index not in refused:
                refused[index] = ("SendMessageBatch reported no result for it", True)
        return refused


class StreamTarget(RedriveTarget):
    """Put to a Kinesis data stream (name or ARN) with ``PutRecords``.

    Kinesis records keep their data and partition key. DynamoDB stream records are put as their Lambda event
    JSON, partitioned by the item's key (so one item's changes stay in order on one shard). An async record or
    DLQ message is put as its original event, partitioned by its request id. ``PutRecords`` does not keep
    the order of the records within one call; consumers that need strict order must re-sort by the original
    sequence number (carried in the DynamoDB event JSON).
    """

    accepts_stream_batches = True

    def __init__(self, stream: str, *, client: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(sleep=sleep)
        self.stream = stream
        self.client = client or _default_client("kinesis", _region_of(stream))
        self._stream_param = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}

    def describe(self) -> str:
        return f"stream {self.stream}"

    def stream_deliveries(self, records: Sequence[StreamRecord], dedup: str) -> list[Delivery]:
        deliveries = []
        for index, record in enumerate(records):
            if isinstance(record, KinesisRecord):
                data = record.data
            else:
                data = json.dumps(record.to_lambda_event_record()).encode()
            deliveries.append(Delivery(data, _partition_key(record), f"{dedup}-{index}"))
        return deliveries

    def action(self, deliveries: Sequence[Delivery]) -> str:
        return f"put {_count(len(deliveries), 'record')} to {self.describe()}"

    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        report = DeliveryReport()
        sizes = {index: len(item.data) + len(item.partition_key.encode()) for index, item in enumerate(deliveries)}
        too_large = {index for index, size in sizes.items() if size > KINESIS_RECORD_BYTES}
        for index in too_large:
            report.refused[index] = f"record of {sizes[index]} bytes exceeds Kinesis's {KINESIS_RECORD_BYTES} bytes"
        sendable = [(index, size) for index, size in sizes.items() if index not in too_large]
        for chunk in _chunks(sendable, KINESIS_BATCH_RECORDS, KINESIS_BATCH_BYTES):
            chunk_report = self._retrying(chunk, lambda pending: self._put(deliveries, pending))
            _merge(report, chunk_report)
            if chunk_report.error:
                break
        return report

    def _put(self, deliveries: Sequence[Delivery], pending: list[int]) -> dict[int, tuple[str, bool]]:
        records = [{"Data": deliveries[i].data, "PartitionKey": deliveries[i].partition_key} for i in pending]
        response = self.client.put_records(Records=records, **self._stream_param)
        # PutRecords answers in request order; entries with an ErrorCode were not written.
        return {
            index: (f"PutRecords refused it: {result['ErrorCode']}: {result.get('ErrorMessage', '')}", True)
            for index, result in zip(pending, response.get("Records", []), strict=True)
            if result.get("ErrorCode")
        }


class FunctionTarget(RedriveTarget):
    """Invoke a function asynchronously (``InvocationType=Event``) with each original event, one by one.

    ``function`` is a name, an ARN or a partial ARN, with an optional qualifier. Lambda has no batch invoke.
    Stream batches are not accepted: replay those to a stream or a queue.
    """

    def __init__(self, function: str, *, client: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(sleep=sleep)
        self.function = function
        self.client = client or _default_client("lambda", _region_of(function))

    def describe(self) -> str:
        return f"function {self.function}"

    def payload_deliveries(self, record: FailureRecord, data: bytes, key: str, dedup: str) -> list[Delivery]:
        return [Delivery(data=data, partition_key=key, deduplication_id=dedup, function=self.function)]

    def action(self, deliveries: Sequence[Delivery]) -> str:
        functions = sorted({item.function or "" for item in deliveries})
        return f"invoke {', '.join(functions)} asynchronously with {_count(len(deliveries), 'event')}"

    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        report = DeliveryReport()
        for index, item in enumerate(deliveries):
            try:
                response = self._client_for(item).invoke(
                    FunctionName=item.function, InvocationType="Event", Payload=item.data
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _LAMBDA_PAYLOAD_ERRORS:
                    report.refused[index] = f"Invoke refused it: {_describe_error(error)}"
                    continue
                report.error = _describe_error(error)
                return report
            except Exception as error:  # any failure must still report exactly what was sent before it
                report.error = _describe_error(error)
                return report
            if response.get("StatusCode") == 202:
                report.sent.add(index)
            else:
                report.refused[index] = f"Invoke answered status {response.get('StatusCode')}, not 202 (queued)"
        return report

    def _client_for(self, item: Delivery) -> Any:
        return self.client


class OriginalFunctionTarget(FunctionTarget):
    """Invoke, asynchronously, the function an async invocation record names (``requestContext.functionArn``).

    The recorded ARN keeps its qualifier (``$LATEST``, a version or an alias), so the event goes back to
    what failed. Dead-letter messages do not name their function: use :class:`FunctionTarget` for those.
    ``client_factory`` returns a Lambda client for a region (default: boto3 clients, one per region).
    """

    def __init__(
        self, *, client_factory: Callable[[str], Any] | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        RedriveTarget.__init__(self, sleep=sleep)
        self.function = "(the function each record names)"
        self._client_factory = client_factory or (lambda region: _default_client("lambda", region))
        self._clients: dict[str, Any] = {}

    def describe(self) -> str:
        return "the original function"

    def payload_deliveries(self, record: FailureRecord, data: bytes, key: str, dedup: str) -> list[Delivery]:
        if isinstance(record, DeadLetterMessage):
            raise UnsupportedRecord(
                "a dead-letter message does not name the function it came from: redrive it with --to-function"
            )
        if not isinstance(record, AsyncInvocationRecord):
            raise UnsupportedRecord(f"{type(record).__name__} records cannot be invoked")
        return [Delivery(data=data, partition_key=key, deduplication_id=dedup, function=record.function_arn)]

    def _client_for(self, item: Delivery) -> Any:
        region = _region_of(item.function or "") or ""
        if region not in self._clients:
            self._clients[region] = self._client_factory(region)
        return self._clients[region]


def _chunks(sized: Sequence[tuple[int, int]], max_entries: int, max_bytes: int) -> Iterator[list[int]]:
    """Group (index, size in bytes) pairs under a batch API's entry and byte limits, in order."""
    chunk: list[int] = []
    chunk_bytes = 0
    for index, item_bytes in sized:
        if chunk and (len(chunk) == max_entries or chunk_bytes + item_bytes > max_bytes):
            yield chunk
            chunk, chunk_bytes = [], 0
        chunk.append(index)
        chunk_bytes += item_bytes
    if chunk:
        yield chunk


def _merge(report: DeliveryReport, part: DeliveryReport) -> None:
    report.sent |= part.sent
    report.refused.update(part.refused)
    report.error = report.error or part.error


def _partition_key(record: StreamRecord) -> str:
    if isinstance(record, DynamoDBStreamRecord):
        # The item's key: all changes of one item land on one shard, in order.
        return json.dumps(record.keys, sort_keys=True, default=str)
    return record.partition_key


def _short(value: str) -> str:
    """FIFO group and deduplication ids allow 128 characters: hash longer values."""
    return value if len(value) <= 128 else hashlib.sha256(value.encode()).hexdigest()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _region_of(name_or_arn: str) -> str | None:
    parts = name_or_arn.split(":")
    return parts[3] if name_or_arn.startswith("arn:") and len(parts) > 3 and parts[3] else None


def _describe_error(error: BaseException) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{error.operation_name} failed: {details.get('Code', '?')}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def _default_client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    # Standard retry mode backs off on throttling before an error ever reaches the redrive loop.
    return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 5}))
