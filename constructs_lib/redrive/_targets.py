"""Where redrive sends things: a queue, a Kinesis stream, or a function invoked asynchronously.

A target turns a parsed failure message into :class:`Delivery` items and delivers them with the service's
batch API where it has one. :meth:`RedriveTarget.deliver` never raises: it reports which items were sent,
which were refused (and why), which may have been delivered although no answer said so, and the error that
stopped it, if any; items after that error were not tried.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, NoCredentialsError

from constructs_lib.fetch import DynamoDBStreamRecord, KinesisRecord, StreamRecord
from constructs_lib.limits import (
    KINESIS_DEFAULT_MAX_RECORD_BYTES,
    KINESIS_PARTITION_KEY_MAX_LENGTH,
    KINESIS_PUT_RECORDS_MAX_BYTES,
    KINESIS_PUT_RECORDS_MAX_ENTRIES,
    KINESIS_SHARD_WRITE_BYTES_PER_SECOND,
    KINESIS_SHARD_WRITE_RECORDS_PER_SECOND,
    SQS_BATCH_MAX_BYTES,
    SQS_BATCH_MAX_ENTRIES,
    SQS_FIFO_ID_CHARACTERS,
    SQS_FIFO_ID_MAX_LENGTH,
    SQS_MAX_MESSAGE_BYTES,
)
from constructs_lib.records import AsyncInvocationRecord, DeadLetterMessage, FailureRecord
from constructs_lib.redrive._payloads import UnsupportedRecord, dumps_json

__all__ = [
    "Delivery",
    "DeliveryReport",
    "FunctionTarget",
    "OriginalFunctionTarget",
    "QueueTarget",
    "RedriveTarget",
    "StreamTarget",
    "UnsupportedRecord",
    "fifo_id",
    "kinesis_partition_key",
]

SQS_BATCH_ENTRIES = SQS_BATCH_MAX_ENTRIES
# Lambda errors that concern one payload only; any other error means the target itself is failing.
_LAMBDA_PAYLOAD_ERRORS = frozenset({"RequestEntityTooLargeException", "InvalidRequestContentException"})
# Lambda errors that concern the function a record names (deleted, in an account or with a key we may not
# use, not ready): with --to-original-function they fail that record, and the others still go.
_LAMBDA_FUNCTION_ERRORS = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "ResourceConflictException",
        "ResourceNotReadyException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "InvalidRuntimeException",
    }
)
_FIFO_ID_PLAIN = SQS_FIFO_ID_CHARACTERS - {"%"}


@dataclass(frozen=True)
class Delivery:
    """One item to deliver: a message body, a stream record or an invocation payload.

    ``partition_key`` is the Kinesis partition key (or FIFO message group, before :func:`fifo_id`);
    ``deduplication_id`` is stable across runs for the same failure message, so a FIFO queue drops the copy a
    rerun would send. ``function`` is the function to invoke (function targets only). ``attributes`` are the
    SQS message attributes carried over to a queue target (``{name: {"DataType": ..., "StringValue": ...}}``).
    """

    data: bytes
    partition_key: str
    deduplication_id: str
    function: str | None = None
    attributes: Mapping[str, Mapping[str, Any]] | None = None


@dataclass
class DeliveryReport:
    """What :meth:`RedriveTarget.deliver` achieved, by index into the deliveries it was given.

    ``maybe_sent`` holds items that may have been delivered without an answer saying so (a lost response, a
    timeout after the request left): sent again or left for a rerun, they may arrive twice.
    """

    sent: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)
    error: str | None = None
    maybe_sent: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Refusal:
    reason: str
    retryable: bool
    maybe_sent: bool = False


class RedriveTarget(ABC):
    """Base of the redrive targets. Subclasses say what they accept and how they deliver it."""

    #: Retries of the items a batch call refused with a transient error, the first back-off in seconds and
    #: the longest one.
    retry_attempts: int = 2
    retry_delay: float = 0.2
    max_retry_delay: float = 5.0
    #: Whether fetched stream records can be replayed here (async records and DLQ messages always can).
    accepts_stream_batches: bool = False
    #: Whether SQS message attributes of the failure message can travel with the replay.
    carries_message_attributes: bool = False

    def __init__(
        self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sleep = sleep
        self._clock = clock

    @abstractmethod
    def describe(self) -> str:
        """Where this target sends things, for messages to the user."""

    def prepare(self) -> None:  # noqa: B027 (optional hook: most targets need nothing)
        """Look up what delivery depends on (size limits, shards), once per run; best effort, never raises."""

    def payload_deliveries(
        self,
        record: FailureRecord,
        data: bytes,
        key: str,
        dedup: str,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Delivery]:
        """Deliveries for the original event of an async record or DLQ message (``data``: its JSON)."""
        return [Delivery(data=data, partition_key=key, deduplication_id=dedup, attributes=attributes)]

    def stream_deliveries(self, records: Sequence[StreamRecord], dedup: str) -> list[Delivery]:
        """Deliveries for the fetched records of a stream batch (targets that accept them)."""
        raise UnsupportedRecord(f"stream batches cannot be replayed to {self.describe()}")

    def oversize(self, delivery: Delivery) -> str | None:
        """Why this delivery can never be accepted for its size, or None."""
        return None

    def action(self, deliveries: Sequence[Delivery]) -> str:
        """What delivering these would do, in words (dry runs print it)."""
        return f"send {_count(len(deliveries), 'item')} to {self.describe()}"

    @abstractmethod
    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        """Deliver everything it can; never raises."""

    def _retrying(
        self, pending: list[int], attempt_batch: Callable[[list[int]], dict[int, _Refusal]]
    ) -> DeliveryReport:
        """Run ``attempt_batch`` on ``pending``; retry only the items it refused as retryable, with back-off.

        ``attempt_batch`` returns the refused items; all others were sent.
        """
        report = DeliveryReport()
        for attempt in range(self.retry_attempts + 1):
            try:
                refused = attempt_batch(pending)
            except Exception as error:  # any failure must still report exactly what was sent before it
                report.error = _describe_error(error)
                if _maybe_applied(error):
                    report.maybe_sent.update(pending)
                return report
            report.sent.update(index for index in pending if index not in refused)
            report.maybe_sent.update(index for index, refusal in refused.items() if refusal.maybe_sent)
            retryable = [index for index, refusal in refused.items() if refusal.retryable]
            for index, refusal in refused.items():
                if not refusal.retryable or attempt == self.retry_attempts:
                    report.refused[index] = refusal.reason
            pending = retryable
            if not pending or attempt == self.retry_attempts:
                break
            self._sleep(self._delay(attempt))
        return report

    def _delay(self, attempt: int) -> float:
        return float(min(self.retry_delay * 2**attempt, self.max_retry_delay))


class QueueTarget(RedriveTarget):
    """Send to an SQS queue with ``SendMessageBatch``.

    An async record or DLQ message becomes one message whose body is the original event, exactly as the record
    holds it (a DLQ body is kept byte for byte), with the failure message's own message attributes except
    Lambda's ``RequestID`` / ``ErrorCode`` / ``ErrorMessage``. Each fetched stream record becomes one message
    holding the record as a Lambda event carries it (``{"kinesis": {...}, "eventSourceARN": ...}`` or
    ``{"dynamodb": {...}, ...}``), so a consumer can rebuild ``{"Records": [...]}`` and hand it to the original
    handler. For a FIFO queue the message group is the partition key (or request id) and the deduplication id
    is stable per failure message and item, both mapped to SQS's allowed characters by :func:`fifo_id`.
    A replay larger than the queue's ``MaximumMessageSize`` is refused before sending.
    """

    accepts_stream_batches = True
    carries_message_attributes = True

    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(sleep=sleep, clock=clock)
        self.queue_url = queue_url
        self.client = client or _default_client("sqs")
        self.fifo = queue_url.endswith(".fifo")
        self.max_message_bytes = SQS_MAX_MESSAGE_BYTES
        self.arn: str | None = None

    def describe(self) -> str:
        return f"queue {self.queue_url}"

    def prepare(self) -> None:
        try:
            attributes = self.client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["MaximumMessageSize", "FifoQueue", "QueueArn"]
            )["Attributes"]
        except Exception:  # no sqs:GetQueueAttributes: SQS's own limits still apply, sends say the rest
            return
        self.max_message_bytes = int(attributes.get("MaximumMessageSize", self.max_message_bytes))
        self.fifo = attributes.get("FifoQueue", str(self.fifo)).lower() == "true"
        self.arn = attributes.get("QueueArn")

    def stream_deliveries(self, records: Sequence[StreamRecord], dedup: str) -> list[Delivery]:
        return [
            Delivery(
                data=dumps_json(record.to_lambda_event_record(), what=f"record {record.sequence_number}"),
                partition_key=_partition_key(record),
                deduplication_id=f"{dedup}-{index}",
            )
            for index, record in enumerate(records)
        ]

    def oversize(self, delivery: Delivery) -> str | None:
        size = message_bytes(delivery)
        if size <= self.max_message_bytes:
            return None
        return (
            f"the replayed message would be {size:,} bytes (body and attributes); {self.describe()} takes at most "
            f"{self.max_message_bytes:,} (its MaximumMessageSize)"
        )

    def action(self, deliveries: Sequence[Delivery]) -> str:
        return f"send {_count(len(deliveries), 'message')} to {self.describe()}"

    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        report = DeliveryReport()
        sizes = [(index, message_bytes(item)) for index, item in enumerate(deliveries)]
        for chunk in _chunks(sizes, SQS_BATCH_MAX_ENTRIES, SQS_BATCH_MAX_BYTES):
            chunk_report = self._retrying(chunk, lambda pending: self._send(deliveries, pending))
            _merge(report, chunk_report)
            if chunk_report.error:
                break
        return report

    def _send(self, deliveries: Sequence[Delivery], pending: list[int]) -> dict[int, _Refusal]:
        entries = []
        for index in pending:
            item = deliveries[index]
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": item.data.decode("utf-8")}
            if item.attributes:
                entry["MessageAttributes"] = dict(item.attributes)
            if self.fifo:
                entry["MessageGroupId"] = fifo_id(item.partition_key)
                entry["MessageDeduplicationId"] = fifo_id(item.deduplication_id)
            entries.append(entry)
        response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        refused = {
            int(failure["Id"]): _Refusal(
                f"SendMessageBatch refused it: {failure.get('Code')}: {failure.get('Message', '')}".rstrip(": "),
                retryable=not failure.get("SenderFault", False),
            )
            for failure in response.get("Failed", [])
        }
        # Only an entry listed as successful counts as sent. One in neither list is sent again, and may then
        # arrive twice: its answer was lost, not necessarily its message.
        successful = {int(success["Id"]) for success in response.get("Successful", [])}
        for index in pending:
            if index not in successful and index not in refused:
                refused[index] = _Refusal("SendMessageBatch reported no result for it", True, maybe_sent=True)
        return refused


class StreamTarget(RedriveTarget):
    """Put to a Kinesis data stream (name or ARN) with ``PutRecords``.

    Kinesis records keep their data and partition key. DynamoDB stream records are put as their Lambda event
    JSON, partitioned by the item's key (so one item's changes stay in order on one shard). An async record or
    DLQ message is put as its original event, partitioned by its request id. Partition keys longer than
    Kinesis allows are replaced by a hash (:func:`kinesis_partition_key`). ``PutRecords`` does not keep the
    order of the records within one call; consumers that need strict order must re-sort by the original
    sequence number (carried in the DynamoDB event JSON).

    Writes are paced per shard (1,000 records and 1 MiB per second, the shard's write limit). Records the
    stream refuses (``ProvisionedThroughputExceededException``, ``InternalFailure``) are put again alone, the
    throttled shard backing off exponentially while the others go on; a record that is refused
    ``retry_attempts`` more times fails its message.
    """

    accepts_stream_batches = True
    retry_attempts = 10
    retry_delay = 0.1

    def __init__(
        self,
        stream: str,
        *,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(sleep=sleep, clock=clock)
        self.stream = stream
        self.client = client or _default_client("kinesis", _region_of(stream))
        self._stream_param = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        self.max_record_bytes = KINESIS_DEFAULT_MAX_RECORD_BYTES
        self._shard_starts: list[int] = []
        self._shard_ids: list[str] = []

    def describe(self) -> str:
        return f"stream {self.stream}"

    def prepare(self) -> None:
        try:
            summary = self.client.describe_stream_summary(**self._stream_param)["StreamDescriptionSummary"]
            if summary.get("MaxRecordSizeInKiB"):
                self.max_record_bytes = int(summary["MaxRecordSizeInKiB"]) * 1024
        except Exception:  # the default limit still applies; the puts say the rest
            pass
        try:
            shards = []
            kwargs: dict[str, Any] = dict(self._stream_param)
            while True:
                page = self.client.list_shards(**kwargs)
                shards += [s for s in page["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
                if not page.get("NextToken"):
                    break
                kwargs = {"NextToken": page["NextToken"]}
        except Exception:  # without the shard map, throttling is still backed off, stream-wide
            return
        shards.sort(key=lambda shard: int(shard["HashKeyRange"]["StartingHashKey"]))
        self._shard_starts = [int(shard["HashKeyRange"]["StartingHashKey"]) for shard in shards]
        self._shard_ids = [shard["ShardId"] for shard in shards]

    def shard_of(self, partition_key: str) -> str | None:
        """The open shard a partition key maps to (MD5 of the key as a 128-bit number), if the shards are known."""
        if not self._shard_starts:
            return None
        hash_key = int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")
        return self._shard_ids[max(0, bisect.bisect_right(self._shard_starts, hash_key) - 1)]

    def payload_deliveries(
        self,
        record: FailureRecord,
        data: bytes,
        key: str,
        dedup: str,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Delivery]:
        return [Delivery(data=data, partition_key=kinesis_partition_key(key), deduplication_id=dedup)]

    def stream_deliveries(self, records: Sequence[StreamRecord], dedup: str) -> list[Delivery]:
        deliveries = []
        for index, record in enumerate(records):
            if isinstance(record, KinesisRecord):
                data = record.data
            else:
                data = dumps_json(record.to_lambda_event_record(), what=f"record {record.sequence_number}")
            deliveries.append(Delivery(data, kinesis_partition_key(_partition_key(record)), f"{dedup}-{index}"))
        return deliveries

    def oversize(self, delivery: Delivery) -> str | None:
        size = _record_bytes(delivery)
        if size <= self.max_record_bytes:
            return None
        return (
            f"a record would be {size:,} bytes (data and partition key); {self.describe()} takes at most "
            f"{self.max_record_bytes:,} per record"
        )

    def action(self, deliveries: Sequence[Delivery]) -> str:
        return f"put {_count(len(deliveries), 'record')} to {self.describe()}"

    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        report = DeliveryReport()
        pacer = _ShardPacer(self._clock)
        sizes = {index: _record_bytes(item) for index, item in enumerate(deliveries)}
        shards = {index: self.shard_of(item.partition_key) for index, item in enumerate(deliveries)}
        refusals = dict.fromkeys(sizes, 0)
        pending = []
        for index in sizes:
            reason = self.oversize(deliveries[index])
            if reason:
                report.refused[index] = reason
            else:
                pending.append(index)
        while pending:
            batch, deferred = pacer.take(pending, sizes, shards)
            if not batch:
                self._sleep(pacer.wait_time(deferred, shards))
                pending = deferred
                continue
            try:
                results = self._put(deliveries, batch)
            except Exception as error:  # the stream itself failed: report exactly what was written before
                report.error = _describe_error(error)
                if _maybe_applied(error):
                    report.maybe_sent.update(batch)
                return report
            retry = []
            for index, result in zip(batch, results, strict=True):
                if not result.get("ErrorCode"):
                    report.sent.add(index)
                    pacer.succeeded(shards[index])
                    continue
                refusals[index] += 1
                reason = f"PutRecords refused it: {result['ErrorCode']}: {result.get('ErrorMessage', '')}"
                if refusals[index] > self.retry_attempts:
                    report.refused[index] = reason
                    continue
                retry.append(index)
                pacer.throttled(shards[index], self._delay(refusals[index] - 1))
            pending = deferred + retry
        return report

    def _put(self, deliveries: Sequence[Delivery], batch: list[int]) -> list[dict[str, Any]]:
        records = [{"Data": deliveries[i].data, "PartitionKey": deliveries[i].partition_key} for i in batch]
        response = self.client.put_records(Records=records, **self._stream_param)
        # PutRecords answers in request order; entries with an ErrorCode were not written.
        return list(response.get("Records", []))


@dataclass
class _ShardBudget:
    window_start: float = float("-inf")
    records: int = 0
    bytes: int = 0
    blocked_until: float = float("-inf")


class _ShardPacer:
    """Keeps each shard under its write limit per second, and holds back a throttled shard for a while.

    Records of an unknown shard (no shard map) share one budget without a rate, only the back-off.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._shards: dict[str | None, _ShardBudget] = {}

    def take(
        self, pending: Sequence[int], sizes: Mapping[int, int], shards: Mapping[int, str | None]
    ) -> tuple[list[int], list[int]]:
        """The records to put in the next call, and the ones that must wait."""
        now = self._clock()
        batch: list[int] = []
        deferred: list[int] = []
        batch_bytes = 0
        for index in pending:
            budget = self._shards.setdefault(shards[index], _ShardBudget())
            if now - budget.window_start >= 1.0:
                budget.window_start, budget.records, budget.bytes = now, 0, 0
            rated = shards[index] is not None
            over_rate = rated and (
                budget.records + 1 > KINESIS_SHARD_WRITE_RECORDS_PER_SECOND
                or (budget.records and budget.bytes + sizes[index] > KINESIS_SHARD_WRITE_BYTES_PER_SECOND)
            )
            call_full = len(batch) == KINESIS_PUT_RECORDS_MAX_ENTRIES or (
                batch and batch_bytes + sizes[index] > KINESIS_PUT_RECORDS_MAX_BYTES
            )
            if now < budget.blocked_until or over_rate or call_full:
                deferred.append(index)
                continue
            budget.records += 1
            budget.bytes += sizes[index]
            batch.append(index)
            batch_bytes += sizes[index]
        return batch, deferred

    def wait_time(self, deferred: Sequence[int], shards: Mapping[int, str | None]) -> float:
        """How long until one of the waiting records may go."""
        now = self._clock()
        waits = []
        for index in deferred:
            budget = self._shards[shards[index]]
            waits.append((budget.blocked_until if now < budget.blocked_until else budget.window_start + 1.0) - now)
        return max(0.001, min(waits, default=0.001))

    def throttled(self, shard: str | None, delay: float) -> None:
        budget = self._shards.setdefault(shard, _ShardBudget())
        budget.blocked_until = max(budget.blocked_until, self._clock() + delay)

    def succeeded(self, shard: str | None) -> None:
        self._shards.setdefault(shard, _ShardBudget())


class FunctionTarget(RedriveTarget):
    """Invoke a function asynchronously (``InvocationType=Event``) with each original event, one by one.

    ``function`` is a name, an ARN or a partial ARN, with an optional qualifier. Lambda has no batch invoke.
    Stream batches are not accepted: replay those to a stream or a queue.
    """

    #: Invoke error codes that fail one record; any other error stops the run (the target is failing).
    record_errors: frozenset[str] = _LAMBDA_PAYLOAD_ERRORS

    def __init__(
        self,
        function: str,
        *,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(sleep=sleep, clock=clock)
        self.function = function
        self.client = client or _default_client("lambda", _region_of(function))

    def describe(self) -> str:
        return f"function {self.function}"

    def payload_deliveries(
        self,
        record: FailureRecord,
        data: bytes,
        key: str,
        dedup: str,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Delivery]:
        return [Delivery(data=data, partition_key=key, deduplication_id=dedup, function=self.function)]

    def action(self, deliveries: Sequence[Delivery]) -> str:
        functions = sorted({item.function or "" for item in deliveries})
        return f"invoke {', '.join(functions)} asynchronously with {_count(len(deliveries), 'event')}"

    def deliver(self, deliveries: Sequence[Delivery]) -> DeliveryReport:
        report = DeliveryReport()
        for index, item in enumerate(deliveries):
            known = self._known_refusal(item)
            if known:
                report.refused[index] = known
                continue
            try:
                response = self._client_for(item).invoke(
                    FunctionName=item.function, InvocationType="Event", Payload=item.data
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code in self.record_errors:
                    report.refused[index] = f"Invoke refused it: {_describe_error(error)}"
                    self._remember_refusal(item, str(code), report.refused[index])
                    continue
                report.error = _describe_error(error)
                if _maybe_applied(error):
                    report.maybe_sent.add(index)
                return report
            except Exception as error:  # any failure must still report exactly what was sent before it
                report.error = _describe_error(error)
                if _maybe_applied(error):
                    report.maybe_sent.add(index)
                return report
            if response.get("StatusCode") == 202:
                report.sent.add(index)
            else:
                report.refused[index] = f"Invoke answered status {response.get('StatusCode')}, not 202 (queued)"
        return report

    def _client_for(self, item: Delivery) -> Any:
        return self.client

    def _known_refusal(self, item: Delivery) -> str | None:
        return None

    def _remember_refusal(self, item: Delivery, code: str, reason: str) -> None:
        pass


class OriginalFunctionTarget(FunctionTarget):
    """Invoke, asynchronously, the function an async invocation record names (``requestContext.functionArn``).

    The recorded ARN keeps its qualifier (``$LATEST``, a version or an alias), so the event goes back to
    what failed. Dead-letter messages do not name their function: use :class:`FunctionTarget` for those.
    A function that is gone, in an account we may not invoke, or otherwise refuses (not found, access denied,
    KMS errors) fails the records that name it, asked once per function; the other records still go.
    ``client_factory`` returns a Lambda client for a region (default: boto3 clients, one per region).
    """

    record_errors = _LAMBDA_PAYLOAD_ERRORS | _LAMBDA_FUNCTION_ERRORS

    def __init__(
        self,
        *,
        client_factory: Callable[[str], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        RedriveTarget.__init__(self, sleep=sleep, clock=clock)
        self.function = "(the function each record names)"
        self._client_factory = client_factory or (lambda region: _default_client("lambda", region))
        self._clients: dict[str, Any] = {}
        self._refused_functions: dict[str, str] = {}

    def describe(self) -> str:
        return "the original function"

    def payload_deliveries(
        self,
        record: FailureRecord,
        data: bytes,
        key: str,
        dedup: str,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Delivery]:
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

    def _known_refusal(self, item: Delivery) -> str | None:
        return self._refused_functions.get(item.function or "")

    def _remember_refusal(self, item: Delivery, code: str, reason: str) -> None:
        if code in _LAMBDA_FUNCTION_ERRORS:  # the same answer for every record naming this function
            self._refused_functions[item.function or ""] = reason


def fifo_id(value: str) -> str:
    """A valid SQS ``MessageGroupId`` / ``MessageDeduplicationId`` for ``value``, the same on every run.

    A value of 1-128 allowed characters (letters, digits, punctuation) without ``%`` is kept as it is. Any
    other is percent-encoded (the UTF-8 bytes of each other character, and ``%`` itself, as ``%XX``), so
    ``"customer 42"`` becomes ``"customer%2042"`` and ``"café-7"`` ``"caf%C3%A9-7"``; distinct values stay
    distinct. If that is longer than 128 characters (or empty), it is ``"sha256:"`` and the SHA-256 of the
    value's UTF-8 bytes in hex.
    """
    if value and len(value) <= SQS_FIFO_ID_MAX_LENGTH and all(char in _FIFO_ID_PLAIN for char in value):
        return value
    encoded = "".join(
        char if char in _FIFO_ID_PLAIN else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in value
    )
    if encoded and len(encoded) <= SQS_FIFO_ID_MAX_LENGTH:
        return encoded
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def kinesis_partition_key(key: str) -> str:
    """``key`` if Kinesis accepts it as a partition key (1-256 characters), else ``"sha256:"`` and its SHA-256.

    The hash keeps one key on one shard, so one item's changes stay in order.
    """
    if 1 <= len(key) <= KINESIS_PARTITION_KEY_MAX_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def message_bytes(delivery: Delivery) -> int:
    """An SQS message's size as SQS counts it: the body and every attribute's name, type and value."""
    size = len(delivery.data)
    for name, attribute in (delivery.attributes or {}).items():
        value = attribute.get("StringValue")
        value_bytes = value.encode("utf-8") if isinstance(value, str) else attribute.get("BinaryValue") or b""
        size += len(name.encode("utf-8")) + len(str(attribute.get("DataType", "")).encode("utf-8")) + len(value_bytes)
    return size


def _record_bytes(delivery: Delivery) -> int:
    return len(delivery.data) + len(delivery.partition_key.encode("utf-8"))


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
    report.maybe_sent |= part.maybe_sent
    report.error = report.error or part.error


def _partition_key(record: StreamRecord) -> str:
    if isinstance(record, DynamoDBStreamRecord):
        # The item's key, as its Lambda event carries it: all changes of one item land on one shard, in order.
        return dumps_json(record.lambda_keys(), sort_keys=True).decode("utf-8")
    return record.partition_key


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


def _maybe_applied(error: BaseException) -> bool:
    """Whether a call that raised this may still have been carried out (its answer lost on the way back)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
        return int(status) >= 500
    # The request never left: no connection, no credentials.
    return not isinstance(error, EndpointConnectionError | ConnectTimeoutError | NoCredentialsError)


def _default_client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    # Standard retry mode backs off on throttling before an error ever reaches the redrive loop; a pool as
    # large as the run's threads keeps their calls from waiting for a connection.
    return boto3.client(
        service,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=20),
    )
