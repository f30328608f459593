"""constructs_lib.records: the on-failure records of Kafka event source mappings (Amazon MSK, self-managed Kafka).

The fixtures reproduce the shapes of the AWS Lambda developer guide ("Capturing discarded batches for Amazon MSK and
self-managed Apache Kafka event sources": SQS/SNS and S3 records; "Using a Kafka topic as an on-failure
destination": one record per message) with this project's own values.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_lib.records import (
    KafkaFailureRecord,
    KafkaPartitionRange,
    KafkaRecordInfo,
    RecordFormatError,
    parse_kafka_record,
    parse_kafka_sqs_message,
    parse_record,
)
from tests.runtime_support import fixture_text, load_fixture

UTC = dt.UTC
CLUSTER = "arn:aws:kafka:us-east-1:123456789012:cluster/orders/751d2973-a626-431c-9d4e-d7975eb44dd7-2"


def test_an_sqs_or_sns_record_says_where_the_batch_is_per_topic_partition():
    record = parse_kafka_record(fixture_text("kafka_on_failure_sqs.json"))

    assert isinstance(record, KafkaFailureRecord)
    assert record.request_context.condition == "RetryAttemptsExhausted"
    assert record.request_context.approximate_invoke_count == 4
    assert record.response_context.function_error == "Unhandled"
    assert record.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:OrdersConsumer"
    info = record.batch_info
    assert (info.batch_size, info.event_source_arn, info.payload_size) == (500, CLUSTER, 2039086)
    assert info.bootstrap_servers == (
        "b-1.orders.abc123.c2.kafka.us-east-1.amazonaws.com:9098",
        "b-2.orders.abc123.c2.kafka.us-east-1.amazonaws.com:9098",
    )
    assert info.partitions == (
        KafkaPartitionRange(
            "orders-v1",
            0,
            1200,
            1449,
            dt.datetime(2025, 11, 24, 0, 38, 4, 835000, tzinfo=UTC),
            dt.datetime(2025, 11, 24, 0, 38, 5, 580000, tzinfo=UTC),
        ),
        KafkaPartitionRange(
            "orders-v1",
            1,
            980,
            1229,
            dt.datetime(2025, 11, 24, 0, 38, 4, 901000, tzinfo=UTC),
            dt.datetime(2025, 11, 24, 0, 38, 5, 602000, tzinfo=UTC),
        ),
    )
    assert info.record_info is None
    assert (record.payload, record.payload_included, record.records) == (None, False, ())


def test_an_s3_record_carries_the_whole_event_as_an_escaped_string():
    record = parse_kafka_record(fixture_text("kafka_on_failure_s3.json"))

    assert record.payload_included and record.payload["eventSource"] == "aws:kafka"
    [kafka_record] = record.records
    assert (kafka_record.topic, kafka_record.partition, kafka_record.offset) == ("orders-v1", 0, 1200)
    assert kafka_record.key == b"order-1001"
    assert json.loads(kafka_record.value) == {"orderId": "order-1001", "total": 42.5}
    assert kafka_record.timestamp == 1763944684835


def test_a_kafka_topic_destination_record_holds_one_record_and_its_event():
    record = parse_kafka_record(load_fixture("kafka_topic_destination.json"))

    assert record.request_context.condition == "RetriesExhausted"
    assert record.batch_info.batch_size == 1
    assert record.batch_info.partitions == ()
    assert record.batch_info.record_info == KafkaRecordInfo(
        100, dt.datetime(2025, 11, 24, 18, 16, 4, 835000, tzinfo=UTC)
    )
    [kafka_record] = record.records
    assert (kafka_record.key, kafka_record.value, kafka_record.offset) == (b"test-key", b"test-value", 100)


def test_a_batch_too_large_for_the_function_has_no_response_context():
    record = parse_kafka_record(fixture_text("kafka_payload_size_exceeded.json"))
    assert record.request_context.condition == "MaximumPayloadSizeExceeded"
    assert record.response_context is None


def test_an_sqs_message_of_an_sns_topic_destination_is_unwrapped():
    record = parse_kafka_sqs_message(load_fixture("sqs_message_sns_kafka_on_failure.json"))
    assert record.sns.topic_arn == "arn:aws:sns:us-east-1:123456789012:orders-consumer-failures"
    assert len(record.batch_info.partitions) == 2


def test_a_lambda_sqs_event_record_is_read_by_its_lowercase_body():
    message = {"messageId": "m-1", "body": fixture_text("kafka_on_failure_sqs.json")}
    assert parse_kafka_sqs_message(message).batch_info.batch_size == 500


def test_self_managed_kafka_records_have_no_cluster_arn():
    document = load_fixture("kafka_on_failure_sqs.json")
    del document["KafkaBatchInfo"]["eventSourceArn"]
    assert parse_kafka_record(document).batch_info.event_source_arn is None


def test_unknown_keys_are_ignored():
    document = load_fixture("kafka_topic_destination.json")
    document["KafkaBatchInfo"]["newField"] = {"x": 1}
    document["extra"] = True
    assert parse_kafka_record(document).batch_info.batch_size == 1


def test_the_general_parser_points_to_the_kafka_parser():
    with pytest.raises(RecordFormatError, match="parse Kafka records with parse_kafka_record") as raised:
        parse_record(fixture_text("kafka_on_failure_sqs.json"))
    assert raised.value.path == "KafkaBatchInfo"


# --- errors name the field --------------------------------------------------------------------------------


def _broken(name: str, change) -> dict:
    document = copy.deepcopy(load_fixture(name))
    change(document)
    return document


@pytest.mark.parametrize(
    ("document", "path", "problem"),
    [
        (
            _broken("kafka_on_failure_sqs.json", lambda d: d.pop("KafkaBatchInfo")),
            "KafkaBatchInfo",
            "not a Kafka on-failure record",
        ),
        (
            _broken("kafka_on_failure_sqs.json", lambda d: d["KafkaBatchInfo"].pop("recordsInfo")),
            "KafkaBatchInfo",
            "neither recordsInfo nor recordInfo",
        ),
        (
            _broken(
                "kafka_on_failure_sqs.json",
                lambda d: d["KafkaBatchInfo"]["recordsInfo"].update(
                    {"orders": d["KafkaBatchInfo"]["recordsInfo"]["orders-v1-0"]}
                ),
            ),
            "KafkaBatchInfo.recordsInfo.orders",
            "expected a '<topic>-<partition>' key",
        ),
        (
            _broken(
                "kafka_on_failure_sqs.json",
                lambda d: d["KafkaBatchInfo"]["recordsInfo"]["orders-v1-0"].update(lastRecordOffset="10"),
            ),
            "KafkaBatchInfo.recordsInfo.orders-v1-0.lastRecordOffset",
            "ends before it starts",
        ),
        (
            _broken(
                "kafka_on_failure_sqs.json",
                lambda d: d["KafkaBatchInfo"]["recordsInfo"]["orders-v1-0"].update(firstRecordOffset="-1"),
            ),
            "KafkaBatchInfo.recordsInfo.orders-v1-0.firstRecordOffset",
            "expected an offset",
        ),
        (
            _broken("kafka_on_failure_sqs.json", lambda d: d["KafkaBatchInfo"].update(batchSize="500")),
            "KafkaBatchInfo.batchSize",
            "expected an integer",
        ),
        (
            _broken("kafka_topic_destination.json", lambda d: d["KafkaBatchInfo"]["recordInfo"].update(timestamp="x")),
            "KafkaBatchInfo.recordInfo.timestamp",
            "ISO 8601",
        ),
        (
            _broken("kafka_on_failure_s3.json", lambda d: d.update(payload="{not json")),
            "payload",
            "not JSON",
        ),
        (
            _broken("kafka_on_failure_sqs.json", lambda d: d.update(version="2.0")),
            "version",
            "unsupported record version",
        ),
    ],
)
def test_a_malformed_record_names_the_field(document, path, problem):
    with pytest.raises(RecordFormatError) as raised:
        parse_kafka_record(document)
    assert raised.value.path == path
    assert problem in raised.value.problem


def test_a_payload_record_with_bad_base64_is_reported_when_its_records_are_read():
    document = load_fixture("kafka_topic_destination.json")
    document["payload"]["records"]["orders-v1-0"][0]["value"] = "not base64!"
    record = parse_kafka_record(document)
    with pytest.raises(RecordFormatError) as raised:
        _ = record.records
    assert raised.value.path == "payload.records.orders-v1-0[0].value"


def test_a_message_that_is_not_an_sqs_message_says_so():
    with pytest.raises(RecordFormatError, match="not an SQS message"):
        parse_kafka_sqs_message({"Records": []})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_json_raises_only_record_format_errors(value):
    try:
        record = parse_kafka_record(json.dumps(value))
    except RecordFormatError:
        return
    assert isinstance(record, KafkaFailureRecord)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_field_of_a_real_record_replaced_by_junk_raises_only_record_format_errors(data):
    document = load_fixture(data.draw(st.sampled_from(["kafka_on_failure_sqs.json", "kafka_topic_destination.json"])))
    paths = _leaf_paths(document)
    path = data.draw(st.sampled_from(paths))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    try:
        record = parse_kafka_record(document)
        _ = record.records
    except RecordFormatError:
        return


def _leaf_paths(document, prefix=()):
    if not isinstance(document, dict):
        return [prefix]
    paths = [prefix] if prefix else []
    for key, value in document.items():
        paths.extend(_leaf_paths(value, (*prefix, key)))
    return paths
