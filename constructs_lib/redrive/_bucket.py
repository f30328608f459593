"""Redrive a failure bucket: replay the batch each S3 failure object holds, then delete (or tag) the object.

An S3 failure object of a Kinesis or DynamoDB Streams mapping carries the failed records themselves
(``payload``), so nothing is read from the stream: the records are replayed to a stream or a queue, or the
whole original event is invoked on a function. An object is deleted (or tagged) only after every record in it
was delivered; an object that failed, was skipped or was never reached stays as it was.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from constructs_lib.fetch import records_of_payload
from constructs_lib.limits import S3_DELETE_OBJECTS_MAX_KEYS, S3_FAILURE_OBJECT_PREFIX
from constructs_lib.records import RecordFormatError, StreamFailureRecord, parse_s3_failure_object
from constructs_lib.redrive._core import (
    MessageResult,
    Outcome,
    RedriveProgress,
    RedriveSummary,
    describe_record,
    judge_deliveries,
)
from constructs_lib.redrive._payloads import UnsupportedRecord
from constructs_lib.redrive._targets import (
    Delivery,
    FunctionTarget,
    OriginalFunctionTarget,
    RedriveTarget,
    _default_client,
    _describe_error,
)

__all__ = ["REDRIVEN_TAG", "AfterReplay", "redrive_bucket"]

#: The tag ``after=AfterReplay.TAG`` puts on a replayed object; objects carrying it are not replayed again.
REDRIVEN_TAG = "constructs-lib-redriven"


class AfterReplay(StrEnum):
    """What happens to a failure object once every record in it was replayed."""

    DELETE = "delete"
    TAG = "tag"  # kept, tagged REDRIVEN_TAG=true; later runs pass it by


@dataclass
class _Planned:
    key: str
    description: str
    deliveries: list[Delivery]


def redrive_bucket(
    bucket: str,
    target: RedriveTarget,
    *,
    prefix: str = S3_FAILURE_OBJECT_PREFIX,
    s3_client: Any = None,
    max_objects: int | None = None,
    dry_run: bool = False,
    after: AfterReplay | str = AfterReplay.DELETE,
    objects_per_round: int = 20,
    read_threads: int = 8,
    on_result: Callable[[MessageResult], None] | None = None,
    on_progress: Callable[[RedriveProgress], None] | None = None,
) -> RedriveSummary:
    """Replay the failure objects under ``prefix`` of ``bucket`` to ``target``; delete (or tag) each object only
    once all of its records were delivered.

    Each round reads up to ``objects_per_round`` objects (``read_threads`` at a time: S3 has no batch read),
    parses them (:func:`~constructs_lib.records.parse_s3_failure_object`) and delivers all their records with
    the target's batch API: records to a :class:`StreamTarget` or :class:`QueueTarget`, the whole original
    event to a :class:`FunctionTarget` (or :class:`OriginalFunctionTarget`: the function the record names).
    Fully replayed objects are then deleted with ``DeleteObjects`` (``after="tag"``: tagged
    ``constructs-lib-redriven=true`` and kept; tagged objects are passed by). An object that cannot be read or
    replayed is reported (failed or skipped, with the reason) and left; when the target or S3 fails as a whole,
    the run stops: what was delivered before is deleted, the rest stays. ``MessageResult.message_id`` is the
    object key. At least once: a crash between delivery and deletion replays that object again.
    ``on_result`` is called for every object as it is settled, ``on_progress`` after every round (total unknown:
    S3 has no cheap object count).
    """
    after = AfterReplay(after)
    if max_objects is not None and max_objects < 0:
        raise ValueError(f"max_objects must be >= 0, got {max_objects}")
    if objects_per_round < 1 or read_threads < 1:
        raise ValueError("objects_per_round and read_threads must be at least 1")
    s3 = s3_client or _default_client("s3")
    target.prepare()
    run = _BucketRun(bucket, target, s3, dry_run, after, on_result)
    with ThreadPoolExecutor(read_threads, thread_name_prefix="redrive-read") as readers:
        try:
            for keys in _rounds(run.keys(prefix), objects_per_round, max_objects):
                run.process_round(keys, readers)
                if on_progress is not None:
                    on_progress(run.progress())
                if run.stopped_by:
                    break
        except Exception as error:  # listing failed: nothing more can be taken
            run.stopped_by = run.stopped_by or f"listing s3://{bucket}/{prefix}: {_describe_error(error)}"
    return RedriveSummary(tuple(run.results), dry_run, run.stopped_by)


def _rounds(keys: Iterator[str], size: int, limit: int | None) -> Iterator[list[str]]:
    taken = keys if limit is None else itertools.islice(keys, limit)
    while chunk := list(itertools.islice(taken, size)):
        yield chunk


class _BucketRun:
    def __init__(
        self,
        bucket: str,
        target: RedriveTarget,
        s3: Any,
        dry_run: bool,
        after: AfterReplay,
        on_result: Callable[[MessageResult], None] | None,
    ) -> None:
        self.bucket = bucket
        self.target = target
        self.s3 = s3
        self.dry_run = dry_run
        self.after = after
        self.on_result = on_result
        self.results: list[MessageResult] = []
        self.stopped_by: str | None = None
        self.lock = threading.Lock()  # objects are read, and some settled, on the reader threads

    def progress(self) -> RedriveProgress:
        with self.lock:
            counts = [sum(1 for r in self.results if r.outcome is outcome) for outcome in Outcome]
        return RedriveProgress(len(self.results), None, *counts)

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):  # a "folder" marker holds no record
                    yield item["Key"]

    def process_round(self, keys: Sequence[str], readers: ThreadPoolExecutor) -> None:
        planned = [plan for plan in readers.map(self._plan, keys) if plan is not None]
        if self.dry_run:
            for plan in planned:
                self._settle(plan.key, Outcome.MOVED, plan.description, self.target.action(plan.deliveries))
            return
        if not planned:
            return
        report = self.target.deliver([delivery for plan in planned for delivery in plan.deliveries])
        replayed: list[tuple[_Planned, str, bool]] = []
        for plan, action, reason, maybe_twice in judge_deliveries(self.target, planned, report):
            if reason is None:
                replayed.append((plan, action, maybe_twice))
            else:
                self._settle(plan.key, Outcome.FAILED, plan.description, action, reason, duplicate=maybe_twice)
        if report.error:
            self.stopped_by = self.stopped_by or f"{self.target.describe()}: {report.error}"
        self._finish(replayed)

    def _plan(self, key: str) -> _Planned | None:
        """Read, parse and prepare one object; settle it at once when it cannot be replayed."""
        try:
            return self._prepare(key)
        except Exception as error:  # one object must never end the run
            self._settle(key, Outcome.FAILED, "S3 object", reason=f"could not be read: {_describe_error(error)}")
            return None

    def _prepare(self, key: str) -> _Planned | None:
        if self.after is AfterReplay.TAG and self._already_tagged(key):
            return None
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            record = parse_s3_failure_object(body, key=key)
        except RecordFormatError as error:
            self._settle(key, Outcome.SKIPPED, "S3 object", reason=f"not a stream failure object: {error}")
            return None
        description = describe_record(record)
        if not record.payload_included:
            self._settle(key, Outcome.SKIPPED, description, reason="no payload: the object does not hold the records")
            return None
        dedup = hashlib.sha256(key.encode()).hexdigest()[:64]
        try:
            deliveries = self._deliveries(record, dedup)
            for index, delivery in enumerate(deliveries):
                too_large = self.target.oversize(delivery)
                if too_large:
                    raise UnsupportedRecord(f"too large: item {index + 1} of {len(deliveries)}: {too_large}")
        except UnsupportedRecord as error:
            self._settle(key, Outcome.SKIPPED, description, reason=str(error))
            return None
        if not deliveries:
            self._settle(key, Outcome.SKIPPED, description, reason="nothing to replay: the payload holds no records")
            return None
        return _Planned(key, description, deliveries)

    def _deliveries(self, record: StreamFailureRecord, dedup: str) -> list[Delivery]:
        if isinstance(self.target, FunctionTarget):
            # The whole failed event, as Lambda gave it to the function: the batch is invoked again as one.
            function = record.function_arn if isinstance(self.target, OriginalFunctionTarget) else self.target.function
            text = record.payload_json if record.payload_json is not None else _dumps(record.payload)
            return [
                Delivery(
                    data=text.encode("utf-8", "surrogatepass"),
                    partition_key=record.request_context.request_id,
                    deduplication_id=dedup,
                    function=function,
                )
            ]
        if not self.target.accepts_stream_batches:
            raise UnsupportedRecord(f"stream batches cannot be replayed to {self.target.describe()}")
        return self.target.stream_deliveries(records_of_payload(record), dedup)

    def _already_tagged(self, key: str) -> bool:
        tags = self.s3.get_object_tagging(Bucket=self.bucket, Key=key).get("TagSet", [])
        return any(tag.get("Key") == REDRIVEN_TAG for tag in tags)

    def _finish(self, replayed: Sequence[tuple[_Planned, str, bool]]) -> None:
        if not replayed:
            return
        not_done = self._tag(replayed) if self.after is AfterReplay.TAG else self._delete(replayed)
        for plan, action, maybe_twice in replayed:
            reason = not_done.get(plan.key)
            verb = "tagged" if self.after is AfterReplay.TAG else "deleted"
            if reason is not None:
                reason = f"replayed, but not {verb} ({reason}): a rerun replays it again"
            elif maybe_twice:
                reason = "sent again after an answer was lost: it may have arrived twice"
            self._settle(
                plan.key,
                Outcome.MOVED,
                plan.description,
                action,
                reason,
                deleted=plan.key not in not_done,
                duplicate=maybe_twice,
            )

    def _delete(self, replayed: Sequence[tuple[_Planned, str, bool]]) -> dict[str, str]:
        not_deleted: dict[str, str] = {}
        keys = [plan.key for plan, _, _ in replayed]
        for start in range(0, len(keys), S3_DELETE_OBJECTS_MAX_KEYS):
            chunk = keys[start : start + S3_DELETE_OBJECTS_MAX_KEYS]
            try:
                response = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": False}
                )
            except Exception as error:  # the replay happened: report it, keep the objects for a rerun
                for key in chunk:
                    not_deleted[key] = _describe_error(error)
                self.stopped_by = self.stopped_by or f"deleting from s3://{self.bucket}: {_describe_error(error)}"
                continue
            for failure in response.get("Errors", []):
                not_deleted[failure.get("Key", "")] = f"{failure.get('Code')}: {failure.get('Message', '')}"
            deleted = {item.get("Key") for item in response.get("Deleted", [])}
            for key in chunk:
                if key not in deleted and key not in not_deleted:
                    not_deleted[key] = "DeleteObjects reported no result for it"
        return not_deleted

    def _tag(self, replayed: Sequence[tuple[_Planned, str, bool]]) -> dict[str, str]:
        not_tagged: dict[str, str] = {}
        for plan, _, _ in replayed:
            try:
                existing = self.s3.get_object_tagging(Bucket=self.bucket, Key=plan.key).get("TagSet", [])
                tags = [tag for tag in existing if tag.get("Key") != REDRIVEN_TAG] + [
                    {"Key": REDRIVEN_TAG, "Value": "true"}
                ]
                self.s3.put_object_tagging(Bucket=self.bucket, Key=plan.key, Tagging={"TagSet": tags})
            except Exception as error:
                not_tagged[plan.key] = _describe_error(error)
        return not_tagged

    def _settle(
        self,
        key: str,
        outcome: Outcome,
        description: str,
        action: str | None = None,
        reason: str | None = None,
        *,
        deleted: bool = False,
        duplicate: bool = False,
    ) -> None:
        result = MessageResult(key, outcome, description, action, reason, deleted, duplicate)
        with self.lock:
            self.results.append(result)
            if self.on_result:
                self.on_result(result)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
