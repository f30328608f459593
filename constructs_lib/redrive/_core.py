"""The redrive loop: receive failure messages, replay them to a target, delete only what was replayed."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from constructs_lib.fetch import FetchError, RecordsExpiredError, StreamRecord, fetch_batch
from constructs_lib.records import (
    AsyncInvocationRecord,
    DeadLetterMessage,
    FailureRecord,
    RecordFormatError,
    StreamFailureRecord,
    StreamKind,
    parse_sqs_message,
)
from constructs_lib.redrive._targets import (
    SQS_BATCH_ENTRIES,
    Delivery,
    DeliveryReport,
    QueueTarget,
    RedriveTarget,
    UnsupportedRecord,
    _default_client,
    _describe_error,
)

__all__ = ["MessageResult", "Outcome", "RedriveProgress", "RedriveSummary", "redrive"]


class Outcome(StrEnum):
    """What happened to one failure message."""

    MOVED = "moved"  # replayed and deleted from the failure queue (in a dry run: would be)
    FAILED = "failed"  # not (entirely) replayed: left in the failure queue
    SKIPPED = "skipped"  # not replayable by this target, or not a failure record: left in the failure queue


@dataclass(frozen=True)
class MessageResult:
    """The outcome for one message of the failure queue.

    ``description`` says what the message holds, ``action`` what redrive did (or would do) with it and
    ``reason`` why it failed or was skipped. ``deleted`` is False for a moved message whose deletion failed:
    it is still in the queue and a later run replays it again.
    """

    message_id: str
    outcome: Outcome
    description: str
    action: str | None = None
    reason: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class RedriveProgress:
    """Counts so far, passed to ``on_progress`` after every batch; ``total`` is an estimate or None."""

    done: int
    total: int | None
    moved: int
    failed: int
    skipped: int


@dataclass(frozen=True)
class RedriveSummary:
    """Everything a run did. ``stopped_by`` is the error that ended the run early, if one did."""

    results: tuple[MessageResult, ...]
    dry_run: bool
    stopped_by: str | None = None

    def _count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def moved(self) -> int:
        return self._count(Outcome.MOVED)

    @property
    def failed(self) -> int:
        return self._count(Outcome.FAILED)

    @property
    def skipped(self) -> int:
        return self._count(Outcome.SKIPPED)

    @property
    def not_deleted(self) -> tuple[MessageResult, ...]:
        """Moved messages still in the failure queue (their deletion failed): a rerun replays them again."""
        if self.dry_run:
            return ()
        return tuple(r for r in self.results if r.outcome is Outcome.MOVED and not r.deleted)

    @property
    def ok(self) -> bool:
        """True when nothing failed, every moved message was deleted and the run was not cut short."""
        return self.failed == 0 and not self.not_deleted and self.stopped_by is None


def redrive(
    source_queue_url: str,
    target: RedriveTarget,
    *,
    sqs_client: Any = None,
    stream_client_factory: Callable[[StreamKind, str], Any] | None = None,
    max_messages: int | None = None,
    dry_run: bool = False,
    batch_size: int = SQS_BATCH_ENTRIES,
    visibility_timeout: int = 300,
    wait_seconds: int = 1,
    on_progress: Callable[[RedriveProgress], None] | None = None,
    on_result: Callable[[MessageResult], None] | None = None,
) -> RedriveSummary:
    """Replay the messages of a failure queue to ``target``; delete each one only once it was replayed.

    Each round receives up to ``batch_size`` messages (default 10, SQS's maximum), parses them
    (:func:`~constructs_lib.records.parse_sqs_message`), fetches the records of stream batches
    (:func:`~constructs_lib.fetch.fetch_batch`, clients from ``stream_client_factory(kind, region)``),
    delivers everything with the target's batch API and deletes the fully replayed messages with
    ``DeleteMessageBatch``. A message is deleted only after all of its items were delivered; a message that
    failed, was skipped or was never reached stays in the queue. When the target (or SQS) raises, the run
    stops there: what was delivered before is deleted, the rest stays. Delivery is at-least-once: a crash
    between delivery and deletion replays those messages again on the next run.

    ``max_messages`` caps the messages taken (default: until the queue is empty). ``dry_run`` parses, fetches
    and reports what would happen without delivering or deleting anything. Received messages stay invisible
    (``visibility_timeout`` seconds, default 300) while the run lasts, so it never handles one twice; at the
    end the ones left in the queue are made visible again at once. ``wait_seconds`` is the long-poll time of
    each receive (default 1): the run ends at the first receive that returns nothing new.
    ``on_progress`` is called after every round, ``on_result`` for every message as soon as it is settled.
    """
    if not 1 <= batch_size <= SQS_BATCH_ENTRIES:
        raise ValueError(f"batch_size must be 1 to {SQS_BATCH_ENTRIES}, got {batch_size}")
    if max_messages is not None and max_messages < 0:
        raise ValueError(f"max_messages must be >= 0, got {max_messages}")
    if isinstance(target, QueueTarget) and target.queue_url == source_queue_url:
        # Every replayed message would be received again as a new one: the run would never end.
        raise ValueError("the target queue is the failure queue itself")
    run = _Run(
        queue_url=source_queue_url,
        target=target,
        sqs=sqs_client or _default_client("sqs"),
        stream_clients=stream_client_factory or _default_stream_clients(),
        dry_run=dry_run,
        on_result=on_result,
    )
    total = _estimate_total(run, max_messages) if on_progress else None
    try:
        while max_messages is None or len(run.results) < max_messages:
            wanted = batch_size if max_messages is None else min(batch_size, max_messages - len(run.results))
            messages = run.receive(wanted, visibility_timeout, wait_seconds)
            if not messages:
                break
            run.process_round(messages)
            if on_progress:
                counts = run.counts
                on_progress(
                    RedriveProgress(
                        len(run.results), total, counts[Outcome.MOVED], counts[Outcome.FAILED], counts[Outcome.SKIPPED]
                    )
                )
            if run.stopped_by:
                break
    finally:
        run.release_held_messages()
    return RedriveSummary(tuple(run.results), dry_run, run.stopped_by)


@dataclass
class _Planned:
    """A received message and the deliveries that replay it."""

    message: dict[str, Any]
    description: str
    deliveries: list[Delivery]


@dataclass
class _Run:
    queue_url: str
    target: RedriveTarget
    sqs: Any
    stream_clients: Callable[[StreamKind, str], Any]
    dry_run: bool
    on_result: Callable[[MessageResult], None] | None
    results: list[MessageResult] = field(default_factory=list)
    counts: Counter[Outcome] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)
    stopped_by: str | None = None
    # Messages received and still in the queue: id → latest receipt handle, made visible again at the end.
    held: dict[str, str] = field(default_factory=dict)

    def receive(self, wanted: int, visibility_timeout: int, wait_seconds: int) -> list[dict[str, Any]] | None:
        """The next messages not seen before in this run; None (and ``stopped_by``) if SQS failed."""
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
                MessageAttributeNames=["All"],
            )
        except Exception as error:  # nothing was taken: stop and say why
            self.stopped_by = f"receiving from {self.queue_url}: {_describe_error(error)}"
            return None
        fresh = []
        for message in response.get("Messages", []):
            if message["MessageId"] in self.seen:
                # It outlived its visibility timeout during this run and came back: keep the newest handle
                # so the final release still works, but do not handle it twice.
                if message["MessageId"] in self.held:
                    self.held[message["MessageId"]] = message["ReceiptHandle"]
                continue
            self.seen.add(message["MessageId"])
            fresh.append(message)
        return fresh

    def process_round(self, messages: Sequence[dict[str, Any]]) -> None:
        planned: list[_Planned] = []
        for message in messages:
            self.held[message["MessageId"]] = message["ReceiptHandle"]
            plan = self._plan(message)
            if plan is not None:
                planned.append(plan)
        if not planned:
            return
        if self.dry_run:
            for plan in planned:
                self._settle(plan.message, Outcome.MOVED, plan.description, self.target.action(plan.deliveries))
            return

        deliveries = [delivery for plan in planned for delivery in plan.deliveries]
        report = self.target.deliver(deliveries)
        replayed: list[tuple[_Planned, str]] = []
        position = 0
        for plan in planned:
            indexes = range(position, position + len(plan.deliveries))
            position += len(plan.deliveries)
            action = self.target.action(plan.deliveries)
            reason = _failure_reason(report, indexes)
            if reason is None:
                replayed.append((plan, action))
            else:
                self._settle(plan.message, Outcome.FAILED, plan.description, action, reason)
        self._delete(replayed)
        if report.error:
            self.stopped_by = f"{self.target.describe()}: {report.error}"

    def _plan(self, message: dict[str, Any]) -> _Planned | None:
        """Parse and prepare one message; settle it at once (skipped / failed) if it cannot be replayed."""
        try:
            record = parse_sqs_message(message, attributes_requested=True)
        except RecordFormatError as error:
            self._settle(message, Outcome.SKIPPED, "unparseable message", reason=f"not a failure record: {error}")
            return None
        description = describe_record(record)
        dedup = hashlib.sha256(message["MessageId"].encode()).hexdigest()[:64]
        try:
            if isinstance(record, StreamFailureRecord):
                if not self.target.accepts_stream_batches:
                    raise UnsupportedRecord(f"stream batches cannot be replayed to {self.target.describe()}")
                stream_records = self._fetch(record)
                deliveries = self.target.stream_deliveries(stream_records, dedup)
            else:
                data, key = _original_event(record)
                deliveries = self.target.payload_deliveries(record, data, key, dedup)
        except UnsupportedRecord as error:
            self._settle(message, Outcome.SKIPPED, description, reason=str(error))
            return None
        except RecordsExpiredError as error:
            self._settle(message, Outcome.SKIPPED, description, reason=f"records expired: {error}")
            return None
        except FetchError as error:
            self._settle(message, Outcome.FAILED, description, reason=f"fetching the records failed: {error}")
            return None
        if not deliveries:
            self._settle(message, Outcome.SKIPPED, description, reason="nothing to replay")
            return None
        return _Planned(message, description, deliveries)

    def _fetch(self, record: StreamFailureRecord) -> list[StreamRecord]:
        info = record.batch_info
        try:
            client = self.stream_clients(info.kind, info.region)
            return list(fetch_batch(info, client=client))
        except FetchError:
            raise
        except Exception as error:  # a client or network failure: report it on this message, go on
            raise FetchError(_describe_error(error)) from error

    def _delete(self, replayed: Sequence[tuple[_Planned, str]]) -> None:
        not_deleted: dict[str, str] = {}
        entries = [
            {"Id": str(index), "ReceiptHandle": self.held[plan.message["MessageId"]]}
            for index, (plan, _) in enumerate(replayed)
        ]
        for start in range(0, len(entries), SQS_BATCH_ENTRIES):
            chunk = entries[start : start + SQS_BATCH_ENTRIES]
            try:
                response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=chunk)
            except Exception as error:  # the replay happened: record it, keep the message for a rerun
                for entry in chunk:
                    not_deleted[entry["Id"]] = _describe_error(error)
                self.stopped_by = self.stopped_by or f"deleting from {self.queue_url}: {_describe_error(error)}"
                continue
            for failure in response.get("Failed", []):
                not_deleted[failure["Id"]] = f"{failure.get('Code')}: {failure.get('Message', '')}"
        for index, (plan, action) in enumerate(replayed):
            reason = not_deleted.get(str(index))
            if reason is None:
                del self.held[plan.message["MessageId"]]
            else:
                reason = f"replayed, but not deleted from the failure queue ({reason}): a rerun replays it again"
            self._settle(plan.message, Outcome.MOVED, plan.description, action, reason, deleted=reason is None)

    def _settle(
        self,
        message: dict[str, Any],
        outcome: Outcome,
        description: str,
        action: str | None = None,
        reason: str | None = None,
        *,
        deleted: bool = False,
    ) -> None:
        result = MessageResult(message["MessageId"], outcome, description, action, reason, deleted)
        self.results.append(result)
        self.counts[outcome] += 1
        if self.on_result:
            self.on_result(result)

    def release_held_messages(self) -> None:
        """Make the messages this run leaves in the queue visible again now, not when their timeout ends."""
        handles = list(self.held.items())
        for start in range(0, len(handles), SQS_BATCH_ENTRIES):
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, (_, handle) in enumerate(handles[start : start + SQS_BATCH_ENTRIES])
            ]
            # Best effort: should this fail, they reappear anyway once their visibility timeout ends.
            with contextlib.suppress(Exception):
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)


def describe_record(record: FailureRecord) -> str:
    """A one-line description of a failure record, for reports."""
    if isinstance(record, AsyncInvocationRecord):
        context = record.request_context
        return f"async invocation record {context.request_id} of {context.function_arn} ({context.condition})"
    if isinstance(record, DeadLetterMessage):
        message = (record.error_message or "").splitlines()[0][:80] if record.error_message else "no message"
        return f"dead-letter message {record.request_id} (error {record.error_code}: {message})"
    info = record.batch_info
    return (
        f"{'Kinesis' if info.kind is StreamKind.KINESIS else 'DynamoDB Streams'} batch of {info.batch_size} "
        f"records ({info.stream_arn}, shard {info.shard_id}, sequence numbers "
        f"{info.start_sequence_number} to {info.end_sequence_number})"
    )


def _original_event(record: AsyncInvocationRecord | DeadLetterMessage) -> tuple[bytes, str]:
    """The original event to replay, as bytes, and its request id; UnsupportedRecord if there is none."""
    if isinstance(record, DeadLetterMessage):
        return record.body.encode(), record.request_id
    if not record.is_failure:
        raise UnsupportedRecord(f"not a failure: condition {record.request_context.condition}")
    if not record.request_payload_included:
        raise UnsupportedRecord(
            "the record holds no requestPayload (Lambda drops it when the record would exceed the destination's "
            "size limit), so there is nothing to replay"
        )
    return json.dumps(record.request_payload).encode(), record.request_context.request_id


def _failure_reason(report: DeliveryReport, indexes: range) -> str | None:
    """Why the deliveries at ``indexes`` were not all sent, or None if they were."""
    refused = [report.refused[index] for index in indexes if index in report.refused]
    unsent = [index for index in indexes if index not in report.sent and index not in report.refused]
    if not refused and not unsent:
        return None
    parts = []
    if refused:
        parts.append(f"{len(refused)} of {len(indexes)} refused ({refused[0]})")
    if unsent:
        parts.append(f"{len(unsent)} of {len(indexes)} not sent ({report.error or 'run stopped'})")
    return "; ".join(parts)


def _estimate_total(run: _Run, max_messages: int | None) -> int | None:
    try:
        attributes = run.sqs.get_queue_attributes(
            QueueUrl=run.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        total = int(attributes["ApproximateNumberOfMessages"])
    except Exception:  # only a progress estimate
        return max_messages
    return total if max_messages is None else min(total, max_messages)


def _default_stream_clients() -> Callable[[StreamKind, str], Any]:
    clients: dict[tuple[StreamKind, str], Any] = {}

    def client_for(kind: StreamKind, region: str) -> Any:
        if (kind, region) not in clients:
            service = "kinesis" if kind is StreamKind.KINESIS else "dynamodbstreams"
            clients[kind, region] = _default_client(service, region)
        return clients[kind, region]

    return client_for
