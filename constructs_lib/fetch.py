"""Fetch the stream records a failed Kinesis or DynamoDB Streams batch held, before the stream drops them.

An on-failure record only says where the batch lies (:class:`~constructs_lib.records.StreamBatchInfo`: shard,
first and last sequence number, batch size, stream ARN). :func:`fetch_batch` reads exactly that range back:
a shard iterator ``AT_SEQUENCE_NUMBER`` of the first record, then ``GetRecords`` page by page until the last
sequence number (or ``batchSize`` records, whichever comes first). Records before the start or after the end
of the batch are never returned.

Streams keep records for a limited time (24 hours for DynamoDB Streams, the stream's retention period for
Kinesis). When the batch's records are no longer there, :class:`RecordsExpiredError` says so and since when.

If the event source mapping filters events (``FilterCriteria``), the range also holds the records the filter
dropped: they are returned too, as the stream has no trace of which ones the function saw.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from constructs_lib.limits import (
    DYNAMODB_STREAM_RETENTION_SECONDS,
    DYNAMODB_STREAMS_GET_RECORDS_MAX_LIMIT,
    KINESIS_GET_RECORDS_MAX_LIMIT,
)
from constructs_lib.records import StreamBatchInfo, StreamFailureRecord, StreamKind

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DYNAMODB_STREAMS_RETENTION",
    "DynamoDBStreamRecord",
    "FetchError",
    "IncompleteBatchError",
    "KinesisRecord",
    "RecordsExpiredError",
    "StreamRecord",
    "fetch_batch",
    "fetch_dynamodb_batch",
    "fetch_kinesis_batch",
    "records_of_payload",
]

#: Records a DynamoDB stream keeps (not configurable).
DYNAMODB_STREAMS_RETENTION = dt.timedelta(seconds=DYNAMODB_STREAM_RETENTION_SECONDS)
#: ``GetRecords`` page size: the DynamoDB Streams maximum (Kinesis allows up to 10,000).
DEFAULT_PAGE_SIZE = DYNAMODB_STREAMS_GET_RECORDS_MAX_LIMIT
# A Kinesis shard iterator lives 5 minutes, a DynamoDB Streams one 15: a long read renews it a few times.
_MAX_ITERATOR_RENEWALS = 3


class FetchError(Exception):
    """The batch's records could not be read (a base for the more specific errors below)."""


class RecordsExpiredError(FetchError):
    """The batch's records are gone from the stream: they outlived its retention (or the shard was deleted).

    ``gone_since`` estimates when: the arrival of the batch's first record plus the stream's retention
    (``retention``). ``detail`` says how the loss showed (the error the API returned, or the oldest sequence
    number still in the shard).
    """

    def __init__(self, batch: StreamBatchInfo, retention: dt.timedelta, detail: str) -> None:
        self.batch = batch
        self.retention = retention
        self.gone_since = batch.approximate_arrival_of_first_record + retention
        self.detail = detail
        hours = retention.total_seconds() / 3600
        super().__init__(
            f"the records of this batch are gone from {batch.stream_arn} (shard {batch.shard_id}, sequence numbers "
            f"{batch.start_sequence_number} to {batch.end_sequence_number}): {detail}. They expired around "
            f"{_iso(self.gone_since)}: the first record arrived at {_iso(batch.approximate_arrival_of_first_record)} "
            f"and the stream keeps records {hours:g} hours."
        )


class IncompleteBatchError(FetchError):
    """The shard has no record with the batch's end sequence number (it ended or holds nothing newer)."""


@dataclass(frozen=True)
class KinesisRecord:
    """One Kinesis record, as ``GetRecords`` returned it."""

    stream_arn: str
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    approximate_arrival_timestamp: dt.datetime | None
    encryption_type: str | None = None

    def to_lambda_event_record(self) -> dict[str, Any]:
        """The record as a Lambda Kinesis event carries it (``Records[i]``), e.g. to replay it to a handler."""
        arrival = self.approximate_arrival_timestamp
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": self.partition_key,
                "sequenceNumber": self.sequence_number,
                "data": base64.b64encode(self.data).decode("ascii"),
                "approximateArrivalTimestamp": arrival.timestamp() if arrival else None,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.shard_id}:{self.sequence_number}",
            "eventName": "aws:kinesis:record",
            "awsRegion": self.stream_arn.split(":")[3],
            "eventSourceARN": self.stream_arn,
        }


@dataclass(frozen=True)
class DynamoDBStreamRecord:
    """One DynamoDB Streams record. ``keys`` and the images are in DynamoDB JSON (``{"S": "..."}``)."""

    stream_arn: str
    sequence_number: str
    event_id: str
    event_name: str
    keys: Mapping[str, Any]
    new_image: Mapping[str, Any] | None
    old_image: Mapping[str, Any] | None
    approximate_creation_time: dt.datetime | None
    raw: Mapping[str, Any] = field(repr=False)

    def to_lambda_event_record(self) -> dict[str, Any]:
        """The record as a Lambda DynamoDB event carries it (``Records[i]``): timestamps in epoch seconds,
        binary attribute values (``B``, ``BS``; bytes from boto3) as base64 text, as in DynamoDB's JSON."""
        record = {key: _base64_binaries(value) for key, value in self.raw.items() if key != "dynamodb"}
        stream_record = _base64_mapping(self.raw.get("dynamodb", {}))
        created = stream_record.get("ApproximateCreationDateTime")
        if isinstance(created, dt.datetime):
            stream_record["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": stream_record, "eventSourceARN": self.stream_arn}

    def lambda_keys(self) -> dict[str, Any]:
        """The item's key in DynamoDB JSON as the Lambda event carries it (binary values as base64 text)."""
        return _base64_mapping(self.keys)


StreamRecord = KinesisRecord | DynamoDBStreamRecord


def _base64_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _base64_binaries(child) for key, child in value.items()}


def _base64_binaries(value: Any) -> Any:
    """A copy of a boto3 DynamoDB value with every bytes value (``B``, ``BS`` members) as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return _base64_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_base64_binaries(child) for child in value]
    return value


def records_of_payload(record: StreamFailureRecord) -> list[StreamRecord]:
    """The batch's records from the failure record itself (an S3 failure object's ``payload``), no stream read:
    the same objects :func:`fetch_batch` returns, so a redrive replays them alike. Empty without a payload."""
    info = record.batch_info
    records: list[StreamRecord] = []
    for event_record in record.event_records():
        if info.kind is StreamKind.KINESIS:
            kinesis = event_record["kinesis"]
            arrival = kinesis.get("approximateArrivalTimestamp")
            records.append(
                KinesisRecord(
                    stream_arn=str(event_record.get("eventSourceARN") or info.stream_arn).split("/consumer/")[0],
                    shard_id=info.shard_id,
                    sequence_number=kinesis["sequenceNumber"],
                    partition_key=kinesis["partitionKey"],
                    data=base64.b64decode(kinesis["data"]),
                    approximate_arrival_timestamp=dt.datetime.fromtimestamp(float(arrival), dt.UTC)
                    if isinstance(arrival, int | float)
                    else None,
                    encryption_type=kinesis.get("encryptionType"),
                )
            )
        else:
            stream_record = event_record["dynamodb"]
            records.append(
                DynamoDBStreamRecord(
                    stream_arn=info.stream_arn,
                    sequence_number=stream_record["SequenceNumber"],
                    event_id=str(event_record.get("eventID", "")),
                    event_name=str(event_record.get("eventName", "")),
                    keys=stream_record["Keys"],
                    new_image=stream_record.get("NewImage"),
                    old_image=stream_record.get("OldImage"),
                    approximate_creation_time=None,
                    # The event's own form (binary values already base64 text, times in epoch seconds) is what
                    # to_lambda_event_record() produces, so a replay carries it unchanged.
                    raw=event_record,
                )
            )
    return records


def fetch_batch(
    batch: StreamBatchInfo | StreamFailureRecord,
    *,
    client: Any | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    now: Callable[[], dt.datetime] | None = None,
) -> list[KinesisRecord] | list[DynamoDBStreamRecord]:
    """Read the records of a failed batch back from its stream, in shard order.

    ``client`` is a boto3 ``kinesis`` or ``dynamodbstreams`` client matching the stream (default: a new one in
    the stream's region). ``page_size`` caps each ``GetRecords`` call (default 1000). ``now`` returns the
    current time (default: the system clock); it decides whether a missing stream or shard means "expired".
    Raises :class:`RecordsExpiredError` when the records are gone, :class:`IncompleteBatchError` when the
    shard has no record with the end sequence number, :class:`FetchError` for any other failure.
    """
    info = batch.batch_info if isinstance(batch, StreamFailureRecord) else batch
    if info.kind is StreamKind.KINESIS:
        return fetch_kinesis_batch(info, client=client, page_size=page_size, now=now)
    return fetch_dynamodb_batch(info, client=client, page_size=page_size, now=now)


def fetch_kinesis_batch(
    batch: StreamBatchInfo,
    *,
    client: Any | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    now: Callable[[], dt.datetime] | None = None,
) -> list[KinesisRecord]:
    """:func:`fetch_batch` for a ``KinesisBatchInfo``; ``client`` is a boto3 ``kinesis`` client."""
    _require_kind(batch, StreamKind.KINESIS)
    client = client or _default_client("kinesis", batch.region)
    reader = _KinesisShardReader(client, batch)
    return _read_batch(batch, reader, page_size=page_size, now=now or _utcnow)


def fetch_dynamodb_batch(
    batch: StreamBatchInfo,
    *,
    client: Any | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    now: Callable[[], dt.datetime] | None = None,
) -> list[DynamoDBStreamRecord]:
    """:func:`fetch_batch` for a ``DDBStreamBatchInfo``; ``client`` is a boto3 ``dynamodbstreams`` client."""
    _require_kind(batch, StreamKind.DYNAMODB)
    client = client or _default_client("dynamodbstreams", batch.region)
    reader = _DynamoDBShardReader(client, batch)
    return _read_batch(batch, reader, page_size=page_size, now=now or _utcnow)


class _ShardReader:
    """The few calls paging needs, for one stream kind. Records come back already converted."""

    max_page_size: int

    def __init__(self, client: Any, batch: StreamBatchInfo) -> None:
        self.client = client
        self.batch = batch

    def iterator(self, iterator_type: str, sequence_number: str) -> str:
        raise NotImplementedError

    def page(self, iterator: str, limit: int) -> tuple[Sequence[Any], str | None, bool]:
        """One ``GetRecords`` call: (records, next iterator or None if the shard ended, caught up with the tip)."""
        raise NotImplementedError

    def retention(self) -> dt.timedelta:
        raise NotImplementedError


class _KinesisShardReader(_ShardReader):
    max_page_size = KINESIS_GET_RECORDS_MAX_LIMIT

    def __init__(self, client: Any, batch: StreamBatchInfo) -> None:
        super().__init__(client, batch)
        # An enhanced fan-out consumer ARN (stream/S/consumer/C:123) names the stream it reads.
        self.stream_arn = batch.stream_arn.split("/consumer/")[0]

    def iterator(self, iterator_type: str, sequence_number: str) -> str:
        response = self.client.get_shard_iterator(
            StreamARN=self.stream_arn,
            ShardId=self.batch.shard_id,
            ShardIteratorType=iterator_type,
            StartingSequenceNumber=sequence_number,
        )
        shard_iterator: str = response["ShardIterator"]
        return shard_iterator

    def page(self, iterator: str, limit: int) -> tuple[list[KinesisRecord], str | None, bool]:
        response = self.client.get_records(StreamARN=self.stream_arn, ShardIterator=iterator, Limit=limit)
        records = [
            KinesisRecord(
                stream_arn=self.stream_arn,
                shard_id=self.batch.shard_id,
                sequence_number=raw["SequenceNumber"],
                partition_key=raw["PartitionKey"],
                data=raw["Data"],
                approximate_arrival_timestamp=raw.get("ApproximateArrivalTimestamp"),
                encryption_type=raw.get("EncryptionType"),
            )
            for raw in response.get("Records", [])
        ]
        return records, response.get("NextShardIterator"), response.get("MillisBehindLatest") == 0

    def retention(self) -> dt.timedelta:
        try:
            summary = self.client.describe_stream_summary(StreamARN=self.stream_arn)["StreamDescriptionSummary"]
            return dt.timedelta(hours=summary["RetentionPeriodHours"])
        except (ClientError, KeyError):
            # The stream may be gone too; 24 hours is Kinesis's default and minimum retention.
            return dt.timedelta(hours=24)


class _DynamoDBShardReader(_ShardReader):
    max_page_size = DYNAMODB_STREAMS_GET_RECORDS_MAX_LIMIT

    def iterator(self, iterator_type: str, sequence_number: str) -> str:
        response = self.client.get_shard_iterator(
            StreamArn=self.batch.stream_arn,
            ShardId=self.batch.shard_id,
            ShardIteratorType=iterator_type,
            SequenceNumber=sequence_number,
        )
        shard_iterator: str = response["ShardIterator"]
        return shard_iterator

    def page(self, iterator: str, limit: int) -> tuple[list[DynamoDBStreamRecord], str | None, bool]:
        response = self.client.get_records(ShardIterator=iterator, Limit=limit)
        records = []
        for raw in response.get("Records", []):
            stream_record = raw["dynamodb"]
            records.append(
                DynamoDBStreamRecord(
                    stream_arn=self.batch.stream_arn,
                    sequence_number=stream_record["SequenceNumber"],
                    event_id=raw.get("eventID", ""),
                    event_name=raw.get("eventName", ""),
                    keys=stream_record.get("Keys", {}),
                    new_image=stream_record.get("NewImage"),
                    old_image=stream_record.get("OldImage"),
                    approximate_creation_time=stream_record.get("ApproximateCreationDateTime"),
                    raw=raw,
                )
            )
        # DynamoDB Streams has no "caught up" signal; an open shard just keeps returning empty pages.
        return records, response.get("NextShardIterator"), False

    def retention(self) -> dt.timedelta:
        return DYNAMODB_STREAMS_RETENTION


# Empty pages in a row before concluding the end sequence number is not in the shard. Kinesis may return
# empty pages while it is still behind the tip, so one empty page proves nothing.
_MAX_EMPTY_PAGES = 10


def _read_batch(
    batch: StreamBatchInfo, reader: _ShardReader, *, page_size: int, now: Callable[[], dt.datetime]
) -> list[Any]:
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    page_size = min(page_size, reader.max_page_size)
    start, end = batch.start_sequence, batch.end_sequence
    collected: list[Any] = []
    last_read: str | None = None
    renewals = 0
    empty_pages = 0

    iterator = _new_iterator(batch, reader, now, "AT_SEQUENCE_NUMBER", batch.start_sequence_number)
    while True:
        limit = min(page_size, batch.batch_size - len(collected))
        try:
            records, next_iterator, caught_up = reader.page(iterator, limit)
        except ClientError as error:
            if _error_code(error) != "ExpiredIteratorException" or renewals >= _MAX_ITERATOR_RENEWALS:
                raise _translate(error, batch, reader, now) from error
            # The iterator outlived its 5 (Kinesis) or 15 (DynamoDB) minutes: resume where reading stopped.
            renewals += 1
            if last_read is None:
                iterator = _new_iterator(batch, reader, now, "AT_SEQUENCE_NUMBER", batch.start_sequence_number)
            else:
                iterator = _new_iterator(batch, reader, now, "AFTER_SEQUENCE_NUMBER", last_read)
            continue

        for record in records:
            sequence = int(record.sequence_number)
            if last_read is None and sequence > start:
                # AT_SEQUENCE_NUMBER starts at the batch's first record unless the stream has trimmed it.
                raise RecordsExpiredError(
                    batch,
                    reader.retention(),
                    f"the oldest record left in the shard is {record.sequence_number}, after the batch's first",
                )
            if sequence < start:
                continue
            if sequence > end:
                return collected
            collected.append(record)
            last_read = record.sequence_number
            if sequence == end or len(collected) >= batch.batch_size:
                return collected

        empty_pages = 0 if records else empty_pages + 1
        if next_iterator is None:
            raise IncompleteBatchError(
                f"shard {batch.shard_id} of {batch.stream_arn} is closed and ended before sequence number "
                f"{batch.end_sequence_number}; read {len(collected)} of the batch's records"
            )
        if not records and (caught_up or empty_pages >= _MAX_EMPTY_PAGES):
            if last_read is None:
                detail = "the shard holds no record at or after the batch's first sequence number"
                raise RecordsExpiredError(batch, reader.retention(), detail)
            raise IncompleteBatchError(
                f"shard {batch.shard_id} of {batch.stream_arn} has no record after {last_read} although the "
                f"batch ends at {batch.end_sequence_number}; read {len(collected)} of the batch's records"
            )
        iterator = next_iterator


def _new_iterator(
    batch: StreamBatchInfo,
    reader: _ShardReader,
    now: Callable[[], dt.datetime],
    iterator_type: str,
    sequence_number: str,
) -> str:
    try:
        return reader.iterator(iterator_type, sequence_number)
    except ClientError as error:
        raise _translate(error, batch, reader, now) from error


def _translate(
    error: ClientError, batch: StreamBatchInfo, reader: _ShardReader, now: Callable[[], dt.datetime]
) -> FetchError:
    """Map an API error to a FetchError that says what it means for the batch."""
    code = _error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    if code == "TrimmedDataAccessException":
        return RecordsExpiredError(batch, reader.retention(), f"{code}: {message}")
    if code == "ResourceNotFoundException":
        retention = reader.retention()
        # Expired shards (and the streams of deleted tables) disappear; a recent batch means a wrong ARN instead.
        if now() >= batch.approximate_arrival_of_first_record + retention:
            return RecordsExpiredError(batch, retention, f"{code}: {message}")
        return FetchError(
            f"{batch.stream_arn} shard {batch.shard_id} was not found although its records should still be kept "
            f"(wrong account or region, or the stream was deleted?): {code}: {message}"
        )
    operation = error.operation_name
    return FetchError(f"{operation} failed on {batch.stream_arn} shard {batch.shard_id}: {code}: {message}")


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _require_kind(batch: StreamBatchInfo, kind: StreamKind) -> None:
    if not isinstance(batch, StreamBatchInfo):
        raise TypeError(f"expected a StreamBatchInfo, got {type(batch).__name__}")
    if batch.kind is not kind:
        raise ValueError(f"this is a {batch.kind.value} batch ({batch.stream_arn}), not a {kind.value} one")


def _default_client(service: str, region: str) -> Any:
    import boto3  # only when the caller brings no client

    return boto3.client(service, region_name=region)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
