"""S3 failure objects of Kinesis and DynamoDB Streams mappings: the record plus the whole failed event."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from constructs_lib.fetch import DynamoDBStreamRecord, KinesisRecord, records_of_payload
from constructs_lib.records import (
    RecordFormatError,
    StreamKind,
    parse_record,
    parse_s3_failure_object,
    parse_s3_failure_object_key,
)
from tests.runtime_support import fixture_text, load_fixture


def test_kinesis_s3_object_carries_the_records():
    record = parse_s3_failure_object(fixture_text("kinesis_on_failure_s3.json"))

    assert record.payload_included and record.batch_info.kind is StreamKind.KINESIS
    assert [r["kinesis"]["partitionKey"] for r in record.event_records()] == ["order-1", "order-2", "order-3"]
    records = records_of_payload(record)
    assert all(isinstance(r, KinesisRecord) for r in records)
    assert [r.data for r in records] == [
        b'{"order_id": 1, "total": 12.5}',
        b"\x00\xffbinary",
        '{"note": "café"}'.encode(),
    ]
    assert records[0].sequence_number == record.batch_info.start_sequence_number
    assert records[-1].sequence_number == record.batch_info.end_sequence_number
    assert records[0].stream_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    assert records[0].approximate_arrival_timestamp == dt.datetime.fromtimestamp(1763944684.835, dt.UTC)


def test_a_replayed_kinesis_record_is_the_event_record_lambda_delivered():
    record = parse_s3_failure_object(fixture_text("kinesis_on_failure_s3.json"))
    original = record.event_records()[1]
    rebuilt = records_of_payload(record)[1].to_lambda_event_record()
    for key in ("partitionKey", "sequenceNumber", "data"):
        assert rebuilt["kinesis"][key] == original["kinesis"][key]
    assert rebuilt["eventSourceARN"] == original["eventSourceARN"]


def test_dynamodb_s3_object_replays_binary_values_unchanged():
    record = parse_s3_failure_object(fixture_text("dynamodb_on_failure_s3.json"))

    records = records_of_payload(record)
    assert all(isinstance(r, DynamoDBStreamRecord) for r in records)
    assert [r.event_name for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1].lambda_keys() == {"customer_id": {"S": "c-2"}}
    original = record.event_records()[1]
    assert records[1].to_lambda_event_record() == original  # B / BS stay base64 text, times stay epoch seconds


def test_an_sqs_destination_record_has_no_payload_and_needs_a_fetch():
    record = parse_record(fixture_text("kinesis_on_failure.json"))
    assert not record.payload_included and record.event_records() == [] and records_of_payload(record) == []


@pytest.mark.parametrize(
    ("payload", "path", "problem"),
    [
        ("not json", "payload", "not JSON"),
        (json.dumps([1]), "payload", "expected a JSON object"),
        (json.dumps({"Records": {}}), "payload.Records", "expected a list"),
        (
            json.dumps({"Records": [{"kinesis": {"partitionKey": "k", "sequenceNumber": "1"}}]}),
            "payload.Records[0].kinesis.data",
            "missing",
        ),
        (
            json.dumps({"Records": [{"kinesis": {"partitionKey": "k", "sequenceNumber": "1", "data": "%%"}}]}),
            "payload.Records[0].kinesis.data",
            "not base64",
        ),
        (json.dumps({"Records": [{"dynamodb": {}}]}), "payload.Records[0].kinesis", "missing"),
    ],
)
def test_a_broken_payload_names_its_field(payload, path, problem):
    document = load_fixture("kinesis_on_failure_s3.json")
    document["payload"] = payload
    with pytest.raises(RecordFormatError) as raised:
        parse_s3_failure_object(json.dumps(document))
    assert raised.value.path == path
    assert problem in raised.value.problem


def test_an_async_or_kafka_document_is_not_a_stream_failure_object():
    with pytest.raises(RecordFormatError, match="not a stream on-failure record"):
        parse_s3_failure_object(fixture_text("async_retries_exhausted.json"), key="aws/lambda/x")
    with pytest.raises(RecordFormatError, match="parse_kafka_record"):
        parse_s3_failure_object(fixture_text("kafka_on_failure_s3.json"))


def test_object_keys_as_lambda_names_them():
    key = parse_s3_failure_object_key(
        "aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/shardId-000000000001/2025/11/24/"
        "2025-11-24T00.38.06-0a3c2e1d-4b7a-4d2b-af9c-0c604cde93a5"
    )
    assert key is not None
    assert key.mapping_uuid == "f89f8514-cdd9-4602-9e1f-01a5b77d449b"
    assert key.shard_id == "shardId-000000000001"
    assert key.written_at == dt.datetime(2025, 11, 24, 0, 38, 6, tzinfo=dt.UTC)
    assert parse_s3_failure_object_key("aws/lambda/u/s/2025/11/24/2025-13-24T00.38.06-x") is None
    assert parse_s3_failure_object_key("reports/2025/11/24/summary.json") is None


def test_base64_of_the_fixture_is_what_lambda_writes():
    # The fixture's data are base64 of the bytes the producer put, as in Lambda's Kinesis event.
    record = load_fixture("kinesis_on_failure_s3.json")
    first = json.loads(record["payload"])["Records"][0]["kinesis"]["data"]
    assert base64.b64decode(first) == b'{"order_id": 1, "total": 12.5}'
