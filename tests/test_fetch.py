"""constructs_lib.fetch against moto: exact batch bounds, paging, both stream kinds, expired and missing records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from constructs_lib.fetch import (
    DynamoDBStreamRecord,
    FetchError,
    IncompleteBatchError,
    KinesisRecord,
    RecordsExpiredError,
    fetch_batch,
    fetch_dynamodb_batch,
    fetch_kinesis_batch,
)
from constructs_lib.records import StreamBatchInfo, StreamFailureRecord, parse_record
from tests.runtime_support import ACCOUNT, REGION, count_calls, fail_calls, stream_failure_record, use_fake_aws

ARRIVAL = dt.datetime(2025, 11, 24, 0, 38, 4, 835000, tzinfo=dt.UTC)
SHARD_0 = "shardId-000000000000"
# Explicit hash keys that land in the first and the second shard of a two-shard stream.
HASH_SHARD_0, HASH_SHARD_1 = "0", str(2**127 + 1)


@pytest.fixture
def aws(monkeypatch):
    use_fake_aws(monkeypatch)
    with mock_aws():
        yield


@pytest.fixture
def kinesis(aws):
    return boto3.client("kinesis", region_name=REGION)


@pytest.fixture
def streams(aws):
    return boto3.client("dynamodbstreams", region_name=REGION)


def create_stream(kinesis: Any, name: str = "orders", shards: int = 1) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def put(kinesis: Any, stream_arn: str, payloads: list[str], hash_key: str = HASH_SHARD_0) -> list[str]:
    """Put records one by one (so their order is known); returns their sequence numbers."""
    return [
        kinesis.put_record(
            StreamARN=stream_arn, Data=payload.encode(), PartitionKey=f"pk-{payload}", ExplicitHashKey=hash_key
        )["SequenceNumber"]
        for payload in payloads
    ]


def kinesis_batch(
    stream_arn: str, start: str, end: str, batch_size: int, arrival: dt.datetime = ARRIVAL, shard: str = SHARD_0
) -> StreamBatchInfo:
    record = parse_record(
        stream_failure_record(
            batch_key="KinesisBatchInfo",
            stream_arn=stream_arn,
            shard_id=shard,
            start=start,
            end=end,
            batch_size=batch_size,
            first_arrival=arrival,
        )
    )
    assert isinstance(record, StreamFailureRecord)
    return record.batch_info


def trim(stream_name: str, shard_id: str, count: int) -> None:
    """Drop the oldest records of a moto shard, as the stream's retention would (moto never trims by itself)."""
    from moto.kinesis.models import kinesis_backends

    records = kinesis_backends[ACCOUNT][REGION].streams[stream_name].shards[shard_id].records
    for sequence_number in list(records)[:count]:
        del records[sequence_number]


# --- Kinesis -------------------------------------------------------------------------------------------------


def test_kinesis_fetch_returns_exactly_the_batch_over_many_pages(kinesis):
    stream_arn = create_stream(kinesis)
    before = put(kinesis, stream_arn, [f"before-{i}" for i in range(3)])
    batch_sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(25)])
    after = put(kinesis, stream_arn, [f"after-{i}" for i in range(4)])
    get_records_calls = count_calls(kinesis, "GetRecords")
    batch = kinesis_batch(stream_arn, batch_sequence_numbers[0], batch_sequence_numbers[-1], batch_size=25)

    records = fetch_kinesis_batch(batch, client=kinesis, page_size=4)

    assert [record.data for record in records] == [f"order-{i}".encode() for i in range(25)]
    assert [record.sequence_number for record in records] == batch_sequence_numbers
    assert [record.partition_key for record in records] == [f"pk-order-{i}" for i in range(25)]
    assert {record.shard_id for record in records} == {SHARD_0}
    assert not {record.sequence_number for record in records} & set(before + after)
    assert len(get_records_calls) == 7  # 25 records, 4 per page


def test_kinesis_fetch_reads_only_the_batch_shard(kinesis):
    stream_arn = create_stream(kinesis, shards=2)
    first = put(kinesis, stream_arn, ["a-0", "a-1"])
    put(kinesis, stream_arn, ["b-0", "b-1", "b-2"], hash_key=HASH_SHARD_1)
    second = put(kinesis, stream_arn, ["a-2", "a-3"])
    batch = kinesis_batch(stream_arn, first[0], second[-1], batch_size=4)

    records = fetch_batch(batch, client=kinesis, page_size=3)

    assert [record.data for record in records] == [b"a-0", b"a-1", b"a-2", b"a-3"]


def test_kinesis_fetch_stops_after_batch_size_records(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(10)])
    batch = kinesis_batch(stream_arn, sequence_numbers[2], sequence_numbers[9], batch_size=5)

    records = fetch_kinesis_batch(batch, client=kinesis, page_size=3)

    assert [record.data for record in records] == [f"order-{i}".encode() for i in range(2, 7)]


def test_kinesis_fetch_stops_at_the_end_sequence_number_when_batch_size_is_larger(kinesis):
    # With event filtering, batchSize counts only the records the function saw, not the whole range.
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(10)])
    get_records_calls = count_calls(kinesis, "GetRecords")
    batch = kinesis_batch(stream_arn, sequence_numbers[1], sequence_numbers[4], batch_size=8)

    records = fetch_kinesis_batch(batch, client=kinesis, page_size=2)

    assert [record.data for record in records] == [f"order-{i}".encode() for i in range(1, 5)]
    assert len(get_records_calls) == 2


def test_kinesis_fetch_of_a_single_record_batch(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, ["one", "two", "three"])
    batch = kinesis_batch(stream_arn, sequence_numbers[1], sequence_numbers[1], batch_size=1)

    assert [record.data for record in fetch_kinesis_batch(batch, client=kinesis)] == [b"two"]


def test_trimmed_kinesis_records_are_reported_gone_with_the_time_they_expired(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(10)])
    batch = kinesis_batch(stream_arn, sequence_numbers[2], sequence_numbers[8], batch_size=7)
    trim("orders", SHARD_0, 5)

    with pytest.raises(RecordsExpiredError) as raised:
        fetch_kinesis_batch(batch, client=kinesis)

    error = raised.value
    assert error.gone_since == ARRIVAL + dt.timedelta(hours=24)
    assert error.retention == dt.timedelta(hours=24)
    assert f"the oldest record left in the shard is {sequence_numbers[5]}" in error.detail
    message = str(error)
    assert "the records of this batch are gone from arn:aws:kinesis:us-east-1:123456789012:stream/orders" in message
    assert "They expired around 2025-11-25T00:38:04Z" in message
    assert "the stream keeps records 24 hours" in message


def test_the_expiry_time_uses_the_stream_retention(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(4)])
    kinesis.increase_stream_retention_period(StreamARN=stream_arn, RetentionPeriodHours=168)
    batch = kinesis_batch(stream_arn, sequence_numbers[0], sequence_numbers[3], batch_size=4)
    trim("orders", SHARD_0, 1)

    with pytest.raises(RecordsExpiredError) as raised:
        fetch_kinesis_batch(batch, client=kinesis)

    assert raised.value.gone_since == ARRIVAL + dt.timedelta(days=7)
    assert "keeps records 168 hours" in str(raised.value)


def test_a_fully_trimmed_shard_reports_the_records_gone(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(3)])
    batch = kinesis_batch(stream_arn, sequence_numbers[0], sequence_numbers[2], batch_size=3)
    trim("orders", SHARD_0, 3)

    with pytest.raises(RecordsExpiredError, match="no record at or after the batch's first sequence number"):
        fetch_kinesis_batch(batch, client=kinesis)


def test_a_deleted_stream_means_expired_records_once_the_retention_has_passed(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, ["order-0"])
    batch = kinesis_batch(stream_arn, sequence_numbers[0], sequence_numbers[0], batch_size=1)
    kinesis.delete_stream(StreamARN=stream_arn)

    with pytest.raises(RecordsExpiredError, match="ResourceNotFoundException"):
        fetch_kinesis_batch(batch, client=kinesis, now=lambda: ARRIVAL + dt.timedelta(hours=25))

    with pytest.raises(FetchError, match="was not found although its records should still be kept") as raised:
        fetch_kinesis_batch(batch, client=kinesis, now=lambda: ARRIVAL + dt.timedelta(hours=1))
    assert not isinstance(raised.value, RecordsExpiredError)


def test_a_batch_ending_after_the_newest_record_is_incomplete(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(3)])
    missing_end = str(int(sequence_numbers[-1]) + 10)
    batch = kinesis_batch(stream_arn, sequence_numbers[0], missing_end, batch_size=20)

    with pytest.raises(IncompleteBatchError, match=f"no record after {sequence_numbers[-1]}.*read 3 of the batch"):
        fetch_kinesis_batch(batch, client=kinesis, page_size=2)


def test_an_expired_iterator_is_renewed_after_the_last_record_read(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(9)])
    batch = kinesis_batch(stream_arn, sequence_numbers[0], sequence_numbers[8], batch_size=9)
    # moto's iterators never expire: make the second page fail the way Kinesis does after 5 minutes.
    fail_calls(kinesis, "GetRecords", on_calls=lambda call: call == 2, code="ExpiredIteratorException", status=400)
    iterator_calls = count_calls(kinesis, "GetShardIterator")

    records = fetch_kinesis_batch(batch, client=kinesis, page_size=3)

    assert [record.data for record in records] == [f"order-{i}".encode() for i in range(9)]
    assert len(iterator_calls) == 2


def test_an_iterator_that_keeps_expiring_is_an_error(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, ["order-0", "order-1"])
    batch = kinesis_batch(stream_arn, sequence_numbers[0], sequence_numbers[1], batch_size=2)
    fail_calls(kinesis, "GetRecords", on_calls=lambda call: True, code="ExpiredIteratorException", status=400)

    with pytest.raises(FetchError, match=r"GetRecords failed on .* ExpiredIteratorException"):
        fetch_kinesis_batch(batch, client=kinesis)


def test_a_shard_that_closes_before_the_batch_end_is_incomplete(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, [f"order-{i}" for i in range(4)])
    batch = kinesis_batch(stream_arn, sequence_numbers[0], str(int(sequence_numbers[-1]) + 5), batch_size=10)

    # moto always returns a NextShardIterator; a closed shard's last page has none.
    def closed_shard(parsed: dict[str, Any], **_: Any) -> None:
        parsed.pop("NextShardIterator", None)

    kinesis.meta.events.register("after-call.kinesis.GetRecords", closed_shard)

    with pytest.raises(IncompleteBatchError, match="is closed and ended before sequence number"):
        fetch_kinesis_batch(batch, client=kinesis)


def test_kinesis_record_as_a_lambda_event_record(kinesis):
    stream_arn = create_stream(kinesis)
    sequence_numbers = put(kinesis, stream_arn, ['{"order_id": "o-1"}'])
    batch = kinesis_batch(stream_arn, sequence_numbers[0], sequence_numbers[0], batch_size=1)
    [record] = fetch_kinesis_batch(batch, client=kinesis)

    event_record = record.to_lambda_event_record()

    assert event_record["kinesis"]["data"] == "eyJvcmRlcl9pZCI6ICJvLTEifQ=="
    assert event_record["kinesis"]["sequenceNumber"] == sequence_numbers[0]
    assert event_record["kinesis"]["partitionKey"] == 'pk-{"order_id": "o-1"}'
    assert isinstance(event_record["kinesis"]["approximateArrivalTimestamp"], float)
    assert event_record["eventID"] == f"{SHARD_0}:{sequence_numbers[0]}"
    assert event_record["eventSourceARN"] == stream_arn
    assert event_record["awsRegion"] == REGION
    assert json.loads(json.dumps(event_record)) == event_record


# --- DynamoDB Streams ----------------------------------------------------------------------------------------


def create_table_with_stream(aws_region: str = REGION) -> str:
    dynamodb = boto3.client("dynamodb", region_name=aws_region)
    dynamodb.create_table(
        TableName="customers",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return dynamodb.describe_table(TableName="customers")["Table"]["LatestStreamArn"]


def all_stream_records(streams: Any, stream_arn: str) -> tuple[str, list[dict[str, Any]]]:
    """The shard id and every record of a (moto, single-shard) DynamoDB stream, read from the trim horizon."""
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    return shard_id, streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def dynamodb_batch(stream_arn: str, shard_id: str, start: str, end: str, batch_size: int) -> StreamBatchInfo:
    record = parse_record(
        stream_failure_record(
            batch_key="DDBStreamBatchInfo",
            stream_arn=stream_arn,
            shard_id=shard_id,
            start=start,
            end=end,
            batch_size=batch_size,
            first_arrival=ARRIVAL,
            function="CustomersIndexer",
        )
    )
    assert isinstance(record, StreamFailureRecord)
    return record.batch_info


def customer(customer_id: str, **attributes: str) -> dict[str, Any]:
    return {"id": {"S": customer_id}, **{name: {"S": value} for name, value in attributes.items()}}


@pytest.fixture
def customers_stream(aws, streams):
    """A table whose stream holds 10 changes: c-0..c-2 inserted, then the batch (5), then 2 more."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    stream_arn = create_table_with_stream()
    for index in range(3):
        dynamodb.put_item(TableName="customers", Item=customer(f"c-{index}", tier="basic"))
    dynamodb.put_item(TableName="customers", Item=customer("c-0", tier="gold"))  # batch: MODIFY
    dynamodb.delete_item(TableName="customers", Key={"id": {"S": "c-1"}})  # REMOVE
    for index in range(3, 6):
        dynamodb.put_item(TableName="customers", Item=customer(f"c-{index}", tier="basic"))  # INSERT x3
    dynamodb.put_item(TableName="customers", Item=customer("c-6"))  # after the batch
    dynamodb.put_item(TableName="customers", Item=customer("c-7"))
    shard_id, records = all_stream_records(streams, stream_arn)
    assert len(records) == 10
    return stream_arn, shard_id, [record["dynamodb"]["SequenceNumber"] for record in records]


def test_dynamodb_fetch_returns_exactly_the_batch_over_many_pages(streams, customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    batch = dynamodb_batch(stream_arn, shard_id, sequence_numbers[3], sequence_numbers[7], batch_size=5)
    get_records_calls = count_calls(streams, "GetRecords")

    records = fetch_dynamodb_batch(batch, client=streams, page_size=2)

    assert [record.sequence_number for record in records] == sequence_numbers[3:8]
    assert [record.event_name for record in records] == ["MODIFY", "REMOVE", "INSERT", "INSERT", "INSERT"]
    assert [record.keys for record in records] == [{"id": {"S": f"c-{i}"}} for i in (0, 1, 3, 4, 5)]
    assert records[0].old_image == customer("c-0", tier="basic")
    assert records[0].new_image == customer("c-0", tier="gold")
    assert records[1].new_image is None
    assert all(isinstance(record, DynamoDBStreamRecord) for record in records)
    assert len(get_records_calls) == 3  # 5 records, 2 per page


def test_dynamodb_record_as_a_lambda_event_record(streams, customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    batch = dynamodb_batch(stream_arn, shard_id, sequence_numbers[3], sequence_numbers[3], batch_size=1)
    [record] = fetch_dynamodb_batch(batch, client=streams)

    event_record = record.to_lambda_event_record()

    assert event_record["eventName"] == "MODIFY"
    assert event_record["eventSource"] == "aws:dynamodb"
    assert event_record["eventSourceARN"] == stream_arn
    assert event_record["dynamodb"]["Keys"] == {"id": {"S": "c-0"}}
    assert event_record["dynamodb"]["SequenceNumber"] == sequence_numbers[3]
    assert isinstance(event_record["dynamodb"]["ApproximateCreationDateTime"], float)
    assert json.loads(json.dumps(event_record)) == event_record


def test_fetch_batch_takes_a_parsed_failure_record_and_makes_its_own_client(customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    failure = parse_record(
        stream_failure_record(
            batch_key="DDBStreamBatchInfo",
            stream_arn=stream_arn,
            shard_id=shard_id,
            start=sequence_numbers[0],
            end=sequence_numbers[2],
            batch_size=3,
            first_arrival=ARRIVAL,
        )
    )
    assert isinstance(failure, StreamFailureRecord)

    records = fetch_batch(failure)

    assert [record.keys for record in records] == [{"id": {"S": f"c-{i}"}} for i in range(3)]


def test_trimmed_dynamodb_records_are_reported_gone(streams, customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    batch = dynamodb_batch(stream_arn, shard_id, sequence_numbers[0], sequence_numbers[4], batch_size=5)
    # moto keeps DynamoDB stream records forever: answer as DynamoDB Streams does past the 24-hour trim point.
    fail_calls(
        streams,
        "GetShardIterator",
        on_calls=lambda call: True,
        code="TrimmedDataAccessException",
        message="The requested sequence number is beyond the trim horizon.",
        status=400,
    )

    with pytest.raises(RecordsExpiredError) as raised:
        fetch_dynamodb_batch(batch, client=streams)

    assert raised.value.gone_since == ARRIVAL + dt.timedelta(hours=24)
    assert "TrimmedDataAccessException: The requested sequence number is beyond the trim horizon" in str(raised.value)
    assert "They expired around 2025-11-25T00:38:04Z" in str(raised.value)


def test_a_dynamodb_shard_that_aged_out_is_reported_gone(streams, customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    batch = dynamodb_batch(stream_arn, shard_id, sequence_numbers[0], sequence_numbers[1], batch_size=2)
    # DynamoDB Streams deletes a shard 24 hours after it closed; moto has no such shards.
    fail_calls(streams, "GetShardIterator", on_calls=lambda call: True, code="ResourceNotFoundException", status=400)

    with pytest.raises(RecordsExpiredError, match="ResourceNotFoundException"):
        fetch_dynamodb_batch(batch, client=streams, now=lambda: ARRIVAL + dt.timedelta(days=2))


def test_an_expired_dynamodb_iterator_is_renewed(streams, customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    batch = dynamodb_batch(stream_arn, shard_id, sequence_numbers[2], sequence_numbers[8], batch_size=7)
    fail_calls(streams, "GetRecords", on_calls=lambda call: call == 3, code="ExpiredIteratorException", status=400)

    records = fetch_dynamodb_batch(batch, client=streams, page_size=2)

    assert [record.sequence_number for record in records] == sequence_numbers[2:9]


def test_other_api_errors_are_fetch_errors_naming_the_operation(streams, customers_stream):
    stream_arn, shard_id, sequence_numbers = customers_stream
    batch = dynamodb_batch(stream_arn, shard_id, sequence_numbers[0], sequence_numbers[1], batch_size=2)
    fail_calls(streams, "GetRecords", on_calls=lambda call: True, code="AccessDeniedException", status=400)

    with pytest.raises(FetchError, match=r"GetRecords failed on .*customers/stream.*: AccessDeniedException"):
        fetch_dynamodb_batch(batch, client=streams)


# --- misuse --------------------------------------------------------------------------------------------------


def test_a_batch_of_the_other_stream_kind_is_refused(aws):
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders"
    batch = kinesis_batch(stream_arn, "1", "2", batch_size=2)

    with pytest.raises(ValueError, match="this is a kinesis batch"):
        fetch_dynamodb_batch(batch, client=object())


def test_page_size_must_be_positive(kinesis):
    stream_arn = create_stream(kinesis)
    batch = kinesis_batch(stream_arn, "1", "2", batch_size=2)

    with pytest.raises(ValueError, match="page_size must be at least 1"):
        fetch_kinesis_batch(batch, client=kinesis, page_size=0)


def test_records_are_plain_values():
    record = KinesisRecord("arn:aws:kinesis:us-east-1:123456789012:stream/s", SHARD_0, "1", "pk", b"x", None)

    assert record == KinesisRecord("arn:aws:kinesis:us-east-1:123456789012:stream/s", SHARD_0, "1", "pk", b"x", None)
    assert record.to_lambda_event_record()["kinesis"]["approximateArrivalTimestamp"] is None
