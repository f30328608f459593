"""The redrive loop: receive failure messages, replay them to a target, delete only what was replayed.

Receiving, delivering and deleting overlap: while one round of messages is delivered, the next one is
received and the previous one deleted, each on its own thread (boto3 clients are thread-safe). Each stage
runs its calls in order, so a run makes the same calls as a sequential one, only sooner.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

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
from constructs_lib.redrive._payloads import UnsupportedRecord, dumps_json, lone_surrogate_path
from constructs_lib.redrive._targets import (
    SQS_BATCH_ENTRIES,
    Delivery,
    DeliveryReport,
    QueueTarget,
    RedriveTarget,
    _default_client,
    _describe_error,
)

__all__ = ["LAMBDA_DLQ_ATTRIBUTES", "MessageResult", "Outcome", "RedriveProgress", "RedriveSummary", "redrive"]

#: Message attributes Lambda adds to a dead-letter message: they describe the failure, not the event, and are
#: not carried over to a replay.
LAMBDA_DLQ_ATTRIBUTES = frozenset({"RequestID", "ErrorCode", "ErrorMessage"})
# Receives in a row that bring back only messages this run already settled although it could not hide them
# again (no sqs:ChangeMessageVisibility): the run ends rather than cycle. Hidden again, each such message comes
# back ever more rarely, and the run ends at the first empty receive.
_MAX_STALE_RECEIVES = 10
# SQS's longest visibility timeout (12 hours).
_MAX_VISIBILITY_TIMEOUT = 43_200


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
    it is still in the queue and a later run replays it again. ``possible_duplicate`` is True when part of it
    may have been delivered although no answer said so (a lost response): sent again in this run (moved) or
    left for a rerun (failed), it may arrive twice.
    """

    message_id: str
    outcome: Outcome
    description: str
    action: str | None = None
    reason: str | None = None
    deleted: bool = False
    possible_duplicate: bool = False


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
    """Everything a run did. ``stopped_by`` is the error that ended the run early, if one did.

    ``in_flight_at_start`` counts the messages that were hidden (received by another consumer, or by a run that
    crashed) when this run started: it could not take them; they reappear once their visibility timeout ends.
    ``held_back_groups`` lists, for a FIFO failure queue, the message groups in which a message left in the
    queue holds back the ones behind it. ``not_reached`` counts messages received ahead but never handled
    because the run stopped; they were made visible again at once.
    """

    results: tuple[MessageResult, ...]
    dry_run: bool
    stopped_by: str | None = None
    in_flight_at_start: int | None = None
    held_back_groups: tuple[str, ...] = ()
    not_reached: int = 0

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
    def possible_duplicates(self) -> tuple[MessageResult, ...]:
        """Messages that may arrive twice: a lost response, or moved but not deleted (a rerun sends them again)."""
        not_deleted = set(self.not_deleted)
        return tuple(r for r in self.results if r.possible_duplicate or r in not_deleted)

    @property
    def left_in_queue(self) -> bool:
        """True when messages are still in the failure queue although nothing failed: skipped, hidden, held back."""
        return bool(self.skipped or self.in_flight_at_start or self.held_back_groups or self.not_reached)

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
    pipelined: bool = True,
    on_progress: Callable[[RedriveProgress], None] | None = None,
    on_result: Callable[[MessageResult], None] | None = None,
) -> RedriveSummary:
    """Replay the messages of a failure queue to ``target``; delete each one only once it was replayed.

    Each round receives up to ``batch_size`` messages (default 10, SQS's maximum), parses them
    (:func:`~constructs_lib.records.parse_sqs_message`), fetches the records of stream batches
    (:func:`~constructs_lib.fetch.fetch_batch`, clients from ``stream_client_factory(kind, region)``),
    delivers everything with the target's batch API and deletes the fully replayed messages with
    ``DeleteMessageBatch``. A message is deleted only after all of its items were delivered; a message that
    failed, was skipped or was never reached stays in the queue. A message that cannot be replayed (not a
    failure record, not parseable, too large for the target, not valid Unicode) is skipped with the reason and
    the run goes on. When the target (or SQS) fails as a whole, the run stops there: what was delivered
    before is deleted, the rest stays. Delivery is at-least-once: a crash between delivery and deletion
    replays those messages again on the next run.

    With ``pipelined`` (the default) the next round is received while the current one is delivered, and
    deletions run behind; ``pipelined=False`` does one call at a time.
    ``max_messages`` caps the messages taken (default: until the queue is empty). ``dry_run`` parses, fetches
    and reports what would happen without delivering or deleting anything. Received messages stay invisible
    (``visibility_timeout`` seconds, default 300) while the run lasts, so it never handles one twice; a message
    left in the queue that reappears during the run is hidden again for twice as long each time, so it cannot
    crowd out the others; at the end the ones left in the queue are made visible again at once.
    ``wait_seconds`` is the long-poll time of each receive (default 1): the run ends at the first receive that
    returns nothing. ``on_progress`` is called after every round, ``on_result`` for every message as soon as it
    is settled (both from the run's threads, one call at a time).
    """
    if not 1 <= batch_size <= SQS_BATCH_ENTRIES:
        raise ValueError(f"batch_size must be 1 to {SQS_BATCH_ENTRIES}, got {batch_size}")
    if max_messages is not None and max_messages < 0:
        raise ValueError(f"max_messages must be >= 0, got {max_messages}")
    sqs = sqs_client or _default_client("sqs")
    target.prepare()
    if isinstance(target, QueueTarget) and _same_queue(sqs, source_queue_url, target):
        # Every replayed message would be received again as a new one: the run would never end.
        raise ValueError("the target queue is the failure queue itself")
    run = _Run(
        queue_url=source_queue_url,
        target=target,
        sqs=sqs,
        stream_clients=stream_client_factory or _default_stream_clients(),
        dry_run=dry_run,
        on_result=on_result,
        on_progress=on_progress,
        visibility_timeout=visibility_timeout,
        wait_seconds=wait_seconds,
    )
    visible, in_flight = _queue_depth(sqs, source_queue_url)
    run.total = None if visible is None else visible if max_messages is None else min(visible, max_messages)
    if on_progress and run.total is None:
        run.total = max_messages

    def wanted() -> int:
        return batch_size if max_messages is None else min(batch_size, max_messages - run.taken)

    receiver = ThreadPoolExecutor(1, thread_name_prefix="redrive-receive") if pipelined else None
    deleter = ThreadPoolExecutor(1, thread_name_prefix="redrive-delete") if pipelined else None
    run.deleter = deleter
    ahead: Future[list[dict[str, Any]] | None] | None = None
    try:
        messages = run.receive(wanted()) if wanted() > 0 else None
        while messages:
            if receiver and wanted() > 0:
                ahead = receiver.submit(run.receive, wanted())
            run.process_round(messages)
            if run.stopped_by:
                break
            if ahead is not None:
                messages, ahead = ahead.result(), None
            else:
                messages = run.receive(wanted()) if wanted() > 0 else None
    finally:
        if ahead is not None:
            run.not_reached = len(ahead.result() or [])
        if deleter:
            deleter.shutdown(wait=True)
        if receiver:
            receiver.shutdown(wait=True)
        held_back = run.held_back_groups()
        run.release_held_messages()
    return RedriveSummary(
        tuple(run.results),
        dry_run,
        run.stopped_by,
        in_flight_at_start=in_flight,
        held_back_groups=held_back,
        not_reached=run.not_reached,
    )


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
    on_progress: Callable[[RedriveProgress], None] | None
    visibility_timeout: int
    wait_seconds: int
    total: int | None = None
    deleter: ThreadPoolExecutor | None = None
    results: list[MessageResult] = field(default_factory=list)
    counts: Counter[Outcome] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)
    taken: int = 0
    not_reached: int = 0
    stopped_by: str | None = None
    # Messages received and still in the queue: id → latest receipt handle, made visible again at the end.
    held: dict[str, str] = field(default_factory=dict)
    # FIFO failure queues: id → message group; and how often a message left in the queue came back.
    groups: dict[str, str] = field(default_factory=dict)
    reappeared: Counter[str] = field(default_factory=Counter)
    deleted: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def receive(self, wanted: int) -> list[dict[str, Any]] | None:
        """The next messages not seen before in this run; [] when there are none, None if SQS failed.

        A message this run already handled that comes back (its visibility timeout ran out while it was left
        in the queue) is hidden again, twice as long as before, and receiving goes on.
        """
        stale_receives = 0
        while True:
            try:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=wanted,
                    WaitTimeSeconds=self.wait_seconds,
                    VisibilityTimeout=self.visibility_timeout,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["MessageGroupId"],
                )
            except Exception as error:  # nothing was taken: stop and say why
                with self.lock:
                    self.stopped_by = self.stopped_by or f"receiving from {self.queue_url}: {_describe_error(error)}"
                return None
            messages = response.get("Messages", [])
            if not messages:
                return []
            fresh, back, undeleted = [], [], []
            with self.lock:
                for message in messages:
                    message_id = message["MessageId"]
                    group = message.get("Attributes", {}).get("MessageGroupId")
                    if group:
                        self.groups[message_id] = group
                    if message_id in self.seen:
                        if message_id in self.held:  # keep the newest handle: only it deletes for sure
                            self.held[message_id] = message["ReceiptHandle"]
                            back.append(message)
                        elif message_id in self.deleted:
                            # Deleted with a receipt handle that had been replaced meanwhile (SQS then may keep
                            # the message): delete it again with this one.
                            undeleted.append(message)
                        continue
                    self.seen.add(message_id)
                    self.held[message_id] = message["ReceiptHandle"]
                    fresh.append(message)
                self.taken += len(fresh)
            hidden_again = self._hide_again(back) if back else True
            if undeleted:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(undeleted)]
                with contextlib.suppress(Exception):  # if not, it comes back once more and is deleted then
                    self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if fresh:
                return fresh
            stale_receives = 0 if hidden_again else stale_receives + 1
            if stale_receives >= _MAX_STALE_RECEIVES:
                return []

    def _hide_again(self, messages: Sequence[dict[str, Any]]) -> bool:
        entries = []
        with self.lock:
            for index, message in enumerate(messages):
                self.reappeared[message["MessageId"]] += 1
                timeout = max(self.visibility_timeout, 1) * 2 ** self.reappeared[message["MessageId"]]
                entries.append(
                    {
                        "Id": str(index),
                        "ReceiptHandle": message["ReceiptHandle"],
                        "VisibilityTimeout": min(timeout, _MAX_VISIBILITY_TIMEOUT),
                    }
                )
        # Best effort: if it fails, they come back once more and are recognised again.
        try:
            response = self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception:
            return False
        return not response.get("Failed")

    def process_round(self, messages: Sequence[dict[str, Any]]) -> None:
        planned = [plan for plan in map(self._plan, messages) if plan is not None]
        if self.dry_run:
            for plan in planned:
                self._settle(plan.message, Outcome.MOVED, plan.description, self.target.action(plan.deliveries))
            self._after_round(self._report_progress)
            return
        if not planned:
            self._after_round(self._report_progress)
            return

        report = self.target.deliver([delivery for plan in planned for delivery in plan.deliveries])
        replayed: list[tuple[_Planned, str, bool]] = []
        for plan, action, reason, maybe_twice in judge_deliveries(self.target, planned, report):
            if reason is None:
                replayed.append((plan, action, maybe_twice))
            else:
                self._settle(plan.message, Outcome.FAILED, plan.description, action, reason, duplicate=maybe_twice)
        if report.error:
            with self.lock:
                self.stopped_by = self.stopped_by or f"{self.target.describe()}: {report.error}"

        def finish() -> None:
            self._delete(replayed)
            self._report_progress()

        self._after_round(finish)

    def _after_round(self, work: Callable[[], None]) -> None:
        """Deletions and progress run behind delivery, in order, on the deleter thread (inline if none)."""
        if self.deleter is None:
            work()
        else:
            self.deleter.submit(_logged(work, self))

    def _report_progress(self) -> None:
        if not self.on_progress:
            return
        with self.lock:
            counts = self.counts
            progress = RedriveProgress(
                len(self.results), self.total, counts[Outcome.MOVED], counts[Outcome.FAILED], counts[Outcome.SKIPPED]
            )
            self.on_progress(progress)

    def _plan(self, message: dict[str, Any]) -> _Planned | None:
        """Parse and prepare one message; settle it at once (skipped / failed) if it cannot be replayed."""
        try:
            return self._prepare(message)
        except Exception as error:  # one message must never end the run: report it, leave it, go on
            self._settle(
                message,
                Outcome.SKIPPED,
                "message that could not be prepared",
                reason=f"could not be prepared for replay: {_describe_error(error)}",
            )
            return None

    def _prepare(self, message: dict[str, Any]) -> _Planned | None:
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
                attributes = _carried_attributes(message, record) if self.target.carries_message_attributes else None
                deliveries = self.target.payload_deliveries(record, data, key, dedup, attributes)
            for index, delivery in enumerate(deliveries):
                too_large = self.target.oversize(delivery)
                if too_large:
                    where = f"item {index + 1} of {len(deliveries)}: " if len(deliveries) > 1 else ""
                    raise UnsupportedRecord(f"too large: {where}{too_large}")
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

    def _delete(self, replayed: Sequence[tuple[_Planned, str, bool]]) -> None:
        if not replayed:
            return
        not_deleted: dict[str, str] = {}
        with self.lock:
            entries = [
                {"Id": str(index), "ReceiptHandle": self.held[plan.message["MessageId"]]}
                for index, (plan, _, _) in enumerate(replayed)
            ]
        for start in range(0, len(entries), SQS_BATCH_ENTRIES):
            chunk = entries[start : start + SQS_BATCH_ENTRIES]
            try:
                response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=chunk)
            except Exception as error:  # the replay happened: record it, keep the message for a rerun
                for entry in chunk:
                    not_deleted[entry["Id"]] = _describe_error(error)
                with self.lock:
                    self.stopped_by = self.stopped_by or f"deleting from {self.queue_url}: {_describe_error(error)}"
                continue
            failed = {failure["Id"]: failure for failure in response.get("Failed", [])}
            successful = {success["Id"] for success in response.get("Successful", [])}
            for entry in chunk:
                if entry["Id"] in failed:
                    failure = failed[entry["Id"]]
                    not_deleted[entry["Id"]] = f"{failure.get('Code')}: {failure.get('Message', '')}"
                elif entry["Id"] not in successful:
                    not_deleted[entry["Id"]] = "DeleteMessageBatch reported no result for it"
        for index, (plan, action, maybe_twice) in enumerate(replayed):
            reason = not_deleted.get(str(index))
            if reason is None:
                with self.lock:
                    self.held.pop(plan.message["MessageId"], None)
                    self.deleted.add(plan.message["MessageId"])
                if maybe_twice:
                    reason = "sent again after an answer was lost: it may have arrived twice"
            else:
                reason = f"replayed, but not deleted from the failure queue ({reason}): a rerun replays it again"
            self._settle(
                plan.message,
                Outcome.MOVED,
                plan.description,
                action,
                reason,
                deleted=str(index) not in not_deleted,
                duplicate=maybe_twice,
            )

    def _settle(
        self,
        message: dict[str, Any],
        outcome: Outcome,
        description: str,
        action: str | None = None,
        reason: str | None = None,
        *,
        deleted: bool = False,
        duplicate: bool = False,
    ) -> None:
        result = MessageResult(message["MessageId"], outcome, description, action, reason, deleted, duplicate)
        with self.lock:
            self.results.append(result)
            self.counts[outcome] += 1
            if self.on_result:
                self.on_result(result)

    def held_back_groups(self) -> tuple[str, ...]:
        """FIFO failure queue: the groups in which a message left in the queue blocks the ones behind it."""
        if not self.queue_url.endswith(".fifo"):
            return ()
        with self.lock:
            return tuple(sorted({self.groups[mid] for mid in self.held if mid in self.groups}))

    def release_held_messages(self) -> None:
        """Make the messages this run leaves in the queue visible again now, not when their timeout ends."""
        with self.lock:
            handles = list(self.held.items())
        for start in range(0, len(handles), SQS_BATCH_ENTRIES):
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, (_, handle) in enumerate(handles[start : start + SQS_BATCH_ENTRIES])
            ]
            # Best effort: should this fail, they reappear anyway once their visibility timeout ends.
            with contextlib.suppress(Exception):
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)


def _logged(work: Callable[[], None], run: _Run) -> Callable[[], None]:
    """Run ``work`` on the deleter thread; an unexpected error stops the run instead of vanishing."""

    def wrapped() -> None:
        try:
            work()
        except Exception as error:  # keep the run's report honest: what failed is named
            with run.lock:
                run.stopped_by = run.stopped_by or f"deleting replayed messages: {_describe_error(error)}"

    return wrapped


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
    """The original event to replay, as the exact bytes the record holds, and its request id.

    UnsupportedRecord if there is none, or if it holds a lone surrogate (no Unicode text can carry it).
    """
    if isinstance(record, DeadLetterMessage):
        where = lone_surrogate_path(record.event, "body")
        if where:
            raise UnsupportedRecord(_surrogate_reason(where))
        return record.body.encode("utf-8"), record.request_id
    if not record.is_failure:
        raise UnsupportedRecord(f"not a failure: condition {record.request_context.condition}")
    if not record.request_payload_included:
        raise UnsupportedRecord(
            "the record holds no requestPayload (Lambda drops it when the record would exceed the destination's "
            "size limit), so there is nothing to replay"
        )
    where = lone_surrogate_path(record.request_payload, "requestPayload")
    if where:
        raise UnsupportedRecord(_surrogate_reason(where))
    if record.request_payload_json is not None:
        # The event's own text: numbers keep their digits, strings their escapes, nothing grows.
        return record.request_payload_json.encode("utf-8"), record.request_context.request_id
    return dumps_json(record.request_payload), record.request_context.request_id


def _surrogate_reason(where: str) -> str:
    return (
        f"the event holds a lone surrogate at {where} (a \\ud800-\\udfff escape without its pair): not a Unicode "
        "character, so consumers cannot decode it reliably; fix the message by hand"
    )


def _carried_attributes(message: Mapping[str, Any], record: FailureRecord) -> dict[str, dict[str, Any]] | None:
    """The failure message's attributes that belong to the original event, as SendMessageBatch takes them.

    Lambda's own ``RequestID`` / ``ErrorCode`` / ``ErrorMessage`` on a dead-letter message describe the failure
    and stay behind; every other attribute (``traceparent``, a tenant id...) travels with the event.
    """
    attributes = message.get("MessageAttributes") or {}
    carried: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        if isinstance(record, DeadLetterMessage) and name in LAMBDA_DLQ_ATTRIBUTES:
            continue
        value: dict[str, Any] = {"DataType": attribute.get("DataType", "String")}
        if attribute.get("BinaryValue") is not None:
            value["BinaryValue"] = attribute["BinaryValue"]
        elif attribute.get("StringValue") is not None:
            value["StringValue"] = attribute["StringValue"]
        else:
            continue
        carried[name] = value
    return carried or None


class _HasDeliveries(Protocol):
    @property
    def deliveries(self) -> list[Delivery]: ...


_Plan = TypeVar("_Plan", bound=_HasDeliveries)


def judge_deliveries(
    target: RedriveTarget, planned: Sequence[_Plan], report: DeliveryReport
) -> Iterator[tuple[_Plan, str, str | None, bool]]:
    """For each plan whose deliveries were sent together (in order) in one ``deliver`` call: the plan, the action
    done, why it failed (None if every delivery of it was sent) and whether part of it may have arrived twice."""
    position = 0
    for plan in planned:
        indexes = range(position, position + len(plan.deliveries))
        position += len(plan.deliveries)
        reason = _failure_reason(report, indexes)
        maybe_twice = any(index in report.maybe_sent for index in indexes)
        if reason is not None and maybe_twice:
            reason += "; part of it may have been delivered already (the answer was lost): a rerun may repeat it"
        yield plan, target.action(plan.deliveries), reason, maybe_twice


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


def _queue_depth(sqs: Any, queue_url: str) -> tuple[int | None, int | None]:
    """(visible, in flight) messages of the queue, each None if unknown."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    except Exception:  # only an estimate and a warning depend on it
        return None, None
    visible, hidden = (attributes.get(name) for name in names)
    return (int(visible) if visible is not None else None, int(hidden) if hidden is not None else None)


def _same_queue(sqs: Any, source_url: str, target: QueueTarget) -> bool:
    """Whether the target is the failure queue, by ARN when SQS tells it (a URL may use another host name)."""
    if target.arn:
        try:
            source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            return bool(source_arn == target.arn)
        except Exception:  # fall back to the URLs
            pass
    return _queue_path(source_url) == _queue_path(target.queue_url)


def _queue_path(url: str) -> tuple[str, ...]:
    """Account and name from a queue URL (``https://host/123456789012/name``), whatever the host."""
    return tuple(url.rstrip("/").split("/")[-2:])


def _default_stream_clients() -> Callable[[StreamKind, str], Any]:
    clients: dict[tuple[StreamKind, str], Any] = {}
    lock = threading.Lock()

    def client_for(kind: StreamKind, region: str) -> Any:
        with lock:
            if (kind, region) not in clients:
                service = "kinesis" if kind is StreamKind.KINESIS else "dynamodbstreams"
                clients[kind, region] = _default_client(service, region)
            return clients[kind, region]

    return client_for
