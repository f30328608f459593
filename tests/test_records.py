"""constructs_lib.records: every failure record shape Lambda writes, and clear errors for everything else."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import constructs_lib
from constructs_lib.records import (
    AsyncInvocationRecord,
    DeadLetterMessage,
    RecordFormatError,
    StreamFailureRecord,
    StreamKind,
    parse_record,
    parse_sns_notification,
    parse_sqs_message,
)
from tests.runtime_support import fixture_text, load_fixture

UTC = dt.UTC


def test_the_package_under_test_is_this_checkout():
    assert Path(constructs_lib.__file__).parent.parent == Path(__file__).parent.parent


# --- every shape Lambda produces -----------------------------------------------------------------------------


def test_async_record_retries_exhausted():
    record = parse_record(fixture_text("async_retries_exhausted.json"))

    assert isinstance(record, AsyncInvocationRecord)
    assert record.version == "1.0"
    assert record.timestamp == dt.datetime(2025, 11, 24, 9, 41, 27, 358000, tzinfo=UTC)
    assert record.request_context.request_id == "e4b46cbf-b738-4c5a-8880-a18cdf61200e"
    assert record.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:OrdersNotifier:$LATEST"
    assert record.request_context.condition == "RetriesExhausted"
    assert record.request_context.approximate_invoke_count == 3
    assert record.is_failure
    assert record.request_payload_included
    assert record.request_payload == {
        "order_id": "o-1042",
        "customer": "c-77",
        "items": [{"sku": "BOOK-9", "quantity": 2}],
    }
    assert record.response_context is not None
    assert (record.response_context.status_code, record.response_context.function_error) == (200, "Unhandled")
    assert record.response_context.executed_version == "$LATEST"
    assert record.response_payload["errorType"] == "ConnectionRefusedError"
    assert record.sns is None


def test_async_record_event_age_exceeded_has_no_response():
    record = parse_record(fixture_text("async_event_age_exceeded.json"))

    assert isinstance(record, AsyncInvocationRecord)
    assert record.request_context.condition == "EventAgeExceeded"
    assert record.request_context.approximate_invoke_count == 0
    assert record.is_failure
    assert record.response_context is None
    assert record.response_payload is None
    assert record.request_payload == {"order_id": "o-1043", "customer": "c-12", "items": []}


def test_async_on_success_record_is_not_a_failure():
    record = parse_record(fixture_text("async_success.json"))

    assert isinstance(record, AsyncInvocationRecord)
    assert not record.is_failure
    assert record.response_context is not None
    assert record.response_context.function_error is None
    assert record.response_payload == {"notified": True}


def test_async_record_whose_payload_lambda_dropped():
    record = parse_record(fixture_text("async_payload_dropped.json"))

    assert isinstance(record, AsyncInvocationRecord)
    assert not record.request_payload_included
    assert record.request_payload is None


def test_async_record_with_a_null_payload_is_not_a_dropped_payload():
    document = load_fixture("async_retries_exhausted.json")
    document["requestPayload"] = None

    record = parse_record(document)

    assert isinstance(record, AsyncInvocationRecord)
    assert record.request_payload_included
    assert record.request_payload is None


def test_kinesis_on_failure_record():
    record = parse_record(fixture_text("kinesis_on_failure.json"))

    assert isinstance(record, StreamFailureRecord)
    assert record.request_context.condition == "RetryAttemptsExhausted"
    assert record.request_context.approximate_invoke_count == 4
    assert record.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:OrdersProcessor"
    info = record.batch_info
    assert info.kind is StreamKind.KINESIS
    assert info.shard_id == "shardId-000000000001"
    assert info.start_sequence_number == "49601189658422359378836298521827638475320189012309704722"
    assert info.end_sequence_number == "49601189658422359378836298522902373528957594348623495186"
    assert info.start_sequence < info.end_sequence
    assert info.approximate_arrival_of_first_record == dt.datetime(2025, 11, 24, 0, 38, 4, 835000, tzinfo=UTC)
    assert info.approximate_arrival_of_last_record == dt.datetime(2025, 11, 24, 0, 38, 5, 580000, tzinfo=UTC)
    assert info.batch_size == 500
    assert info.stream_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    assert info.region == "us-east-1"


def test_dynamodb_on_failure_record():
    record = parse_record(fixture_text("dynamodb_on_failure.json"))

    assert isinstance(record, StreamFailureRecord)
    assert record.request_context.condition == "RecordAgeExceeded"
    info = record.batch_info
    assert info.kind is StreamKind.DYNAMODB
    assert info.shard_id == "shardId-00000001732400047184-864758bb"
    assert (info.start_sequence, info.end_sequence) == (800000000003126276362, 800000000003126276364)
    assert info.batch_size == 3
    assert info.stream_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/customers/stream/2025-11-01T00:04:06.388"
    assert info.approximate_arrival_of_first_record == dt.datetime(2025, 11, 24, 0, 13, 19, tzinfo=UTC)


def test_newer_records_with_extra_fields_still_parse():
    plain = parse_record(fixture_text("kinesis_on_failure.json"))
    extended = parse_record(fixture_text("kinesis_on_failure_with_extra_fields.json"))

    assert isinstance(extended, StreamFailureRecord)
    assert extended == plain


def test_sqs_message_holding_an_sns_wrapped_kinesis_record():
    record = parse_sqs_message(load_fixture("sqs_message_sns_kinesis_on_failure.json"))

    assert isinstance(record, StreamFailureRecord)
    assert record.batch_info == parse_record(fixture_text("kinesis_on_failure.json")).batch_info
    assert record.sns is not None
    assert record.sns.topic_arn == "arn:aws:sns:us-east-1:123456789012:orders-processor-failures"
    assert record.sns.message_id == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert record.sns.timestamp == dt.datetime(2025, 11, 24, 0, 38, 6, 118000, tzinfo=UTC)


def test_sqs_message_of_a_function_dead_letter_queue():
    message = load_fixture("sqs_message_function_dlq.json")

    record = parse_sqs_message(message)

    assert isinstance(record, DeadLetterMessage)
    assert record.body == message["Body"]
    assert record.event == {"order_id": "o-2001", "customer": "c-5", "items": [{"sku": "PEN-1", "quantity": 10}]}
    assert record.request_id == "a9f3c1d2-6b7e-4f80-9a1b-2c3d4e5f6a7b"
    assert record.error_code == 200
    assert record.error_message == "Task timed out after 3.00 seconds"
    assert record.sns is None


def test_sqs_message_of_a_dead_letter_topic():
    record = parse_sqs_message(load_fixture("sqs_message_sns_function_dlq.json"))

    assert isinstance(record, DeadLetterMessage)
    assert record.event == {"order_id": "o-2002", "customer": "c-9", "items": []}
    assert record.request_id == "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170"
    assert record.error_code == 200
    assert record.error_message == "KeyError: 'customer_email'"
    assert record.sns is not None
    assert record.sns.topic_arn == "arn:aws:sns:us-east-1:123456789012:orders-notifier-dlq"


def test_dead_letter_message_without_error_message_attribute():
    message = load_fixture("sqs_message_function_dlq.json")
    del message["MessageAttributes"]["ErrorMessage"]

    record = parse_sqs_message(message)

    assert isinstance(record, DeadLetterMessage)
    assert record.error_message is None


def test_record_of_a_lambda_sqs_event():
    event = load_fixture("lambda_sqs_event_async_record.json")

    record = parse_sqs_message(event["Records"][0])

    assert record == parse_record(fixture_text("async_retries_exhausted.json"))


def test_record_of_a_lambda_sns_event():
    event = load_fixture("lambda_sns_event_dynamodb_on_failure.json")

    record = parse_sns_notification(event["Records"][0]["Sns"])

    assert isinstance(record, StreamFailureRecord)
    assert record.batch_info == parse_record(fixture_text("dynamodb_on_failure.json")).batch_info
    assert record.sns is not None
    assert record.sns.subject is None


def test_parse_record_unwraps_an_sns_notification_document():
    body = load_fixture("sqs_message_sns_kinesis_on_failure.json")["Body"]

    assert parse_record(body) == parse_sqs_message(load_fixture("sqs_message_sns_kinesis_on_failure.json"))


@pytest.mark.parametrize("as_type", [str, bytes, dict], ids=["text", "bytes", "decoded"])
def test_parse_record_accepts_text_bytes_or_a_decoded_object(as_type):
    text = fixture_text("dynamodb_on_failure.json")
    document = {str: text, bytes: text.encode(), dict: json.loads(text)}[as_type]

    record = parse_record(document)

    assert isinstance(record, StreamFailureRecord)
    assert record.batch_info.kind is StreamKind.DYNAMODB


def test_parsed_records_are_immutable():
    record = parse_record(fixture_text("kinesis_on_failure.json"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        record.batch_info.batch_size = 1  # type: ignore[misc]


# --- malformed input: a RecordFormatError naming the field ---------------------------------------------------


def _delete(path: str):
    def mutate(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        for key in parents:
            document = document[key]
        del document[leaf]

    return mutate


def _set(path: str, value: Any):
    def mutate(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        for key in parents:
            document = document[key]
        document[leaf] = value

    return mutate


KINESIS_PROBLEMS = [
    (_delete("requestContext.functionArn"), "requestContext.functionArn", "missing required field"),
    (_delete("KinesisBatchInfo.shardId"), "KinesisBatchInfo.shardId", "missing required field"),
    (_delete("KinesisBatchInfo.endSequenceNumber"), "KinesisBatchInfo.endSequenceNumber", "missing required field"),
    (_delete("timestamp"), "timestamp", "missing required field"),
    (_delete("version"), "version", "missing required field"),
    (_set("KinesisBatchInfo.batchSize", "500"), "KinesisBatchInfo.batchSize", "expected an integer, got a string"),
    (_set("KinesisBatchInfo.batchSize", 0), "KinesisBatchInfo.batchSize", "expected an integer >= 1, got 0"),
    (_set("requestContext.approximateInvokeCount", True), "requestContext.approximateInvokeCount", "a boolean"),
    (_set("KinesisBatchInfo.startSequenceNumber", "4960x"), "KinesisBatchInfo.startSequenceNumber", "decimal"),
    (_set("KinesisBatchInfo.startSequenceNumber", 4960), "KinesisBatchInfo.startSequenceNumber", "a number"),
    (_set("KinesisBatchInfo.endSequenceNumber", "1"), "KinesisBatchInfo.endSequenceNumber", "ends before it starts"),
    (_set("timestamp", "yesterday"), "timestamp", "expected an ISO 8601 timestamp, got 'yesterday'"),
    (_set("timestamp", "2025-11-24T00:38:06"), "timestamp", "no time zone"),
    (_set("KinesisBatchInfo.approximateArrivalOfFirstRecord", None), "approximateArrivalOfFirstRecord", "null"),
    (_set("version", "2.0"), "version", "unsupported record version '2.0'"),
    (_set("requestContext", ["x"]), "requestContext", "expected a JSON object, got an array"),
    (_set("requestContext.functionArn", "OrdersProcessor"), "requestContext.functionArn", "not a Lambda function"),
    (
        _set("KinesisBatchInfo.streamArn", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2025-01-01"),
        "KinesisBatchInfo.streamArn",
        "expected a Kinesis stream ARN",
    ),
    (_set("responseContext.statusCode", "200"), "responseContext.statusCode", "expected an integer"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "problem"), KINESIS_PROBLEMS, ids=[f"{path}:{problem}" for _, path, problem in KINESIS_PROBLEMS]
)
def test_a_broken_stream_record_names_the_field(mutate, path, problem):
    document = load_fixture("kinesis_on_failure.json")
    mutate(document)

    with pytest.raises(RecordFormatError) as raised:
        parse_record(json.dumps(document))

    assert raised.value.path.endswith(path)
    assert problem in str(raised.value)


def test_a_dynamodb_record_with_a_kinesis_stream_arn_is_rejected():
    document = load_fixture("dynamodb_on_failure.json")
    document["DDBStreamBatchInfo"]["streamArn"] = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"

    with pytest.raises(RecordFormatError, match=r"DDBStreamBatchInfo.streamArn: expected a DynamoDB stream ARN"):
        parse_record(document)


def test_an_async_record_without_request_context_fields_names_them():
    document = load_fixture("async_retries_exhausted.json")
    del document["requestContext"]["requestId"]

    with pytest.raises(RecordFormatError, match=r"^requestContext.requestId: missing required field$"):
        parse_record(document)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        ("", "not JSON"),
        (b"\xff\xfe", "not UTF-8 text"),
        ("[1, 2]", "expected a JSON object, got an array"),
        ("42", "expected a JSON object, got a number"),
        ('{"hello": 1}', "not a Lambda invocation record, SNS notification or dead-letter message"),
        ('{"hello": 1}', "keys found: hello"),
    ],
)
def test_input_that_is_not_a_record_says_why(document, problem):
    with pytest.raises(RecordFormatError) as raised:
        parse_record(document)

    assert problem in str(raised.value)
    assert raised.value.path == ""


def test_an_unsupported_batch_kind_is_named():
    document = load_fixture("kinesis_on_failure.json")
    document["ExampleQueueBatchInfo"] = document.pop("KinesisBatchInfo")

    with pytest.raises(RecordFormatError, match=r"^ExampleQueueBatchInfo: unsupported batch info"):
        parse_record(document)


def test_a_record_with_two_batch_infos_is_ambiguous():
    document = load_fixture("kinesis_on_failure.json")
    document["DDBStreamBatchInfo"] = load_fixture("dynamodb_on_failure.json")["DDBStreamBatchInfo"]

    with pytest.raises(RecordFormatError, match="ambiguous record: it has both DDBStreamBatchInfo and KinesisBat"):
        parse_record(document)


def test_sns_message_that_is_not_json_names_the_envelope_path():
    message = load_fixture("sqs_message_sns_kinesis_on_failure.json")
    notification = json.loads(message["Body"])
    notification["Message"] = "Lambda said hello"
    message["Body"] = json.dumps(notification)

    with pytest.raises(RecordFormatError) as raised:
        parse_sqs_message(message)

    assert raised.value.path == "Body.Message"
    assert "not JSON" in raised.value.problem


def test_sns_wrapped_record_with_a_missing_field_names_the_full_path():
    message = load_fixture("sqs_message_sns_kinesis_on_failure.json")
    notification = json.loads(message["Body"])
    inner = json.loads(notification["Message"])
    del inner["KinesisBatchInfo"]["batchSize"]
    notification["Message"] = json.dumps(inner)
    message["Body"] = json.dumps(notification)

    with pytest.raises(RecordFormatError, match=r"^Body.Message.KinesisBatchInfo.batchSize: missing required field$"):
        parse_sqs_message(message)


@pytest.mark.parametrize(
    ("key", "problem"),
    [("TopicArn", "Body.TopicArn: missing required field"), ("Message", "Body.Message: missing required field")],
)
def test_sns_notification_missing_fields(key, problem):
    message = load_fixture("sqs_message_sns_kinesis_on_failure.json")
    notification = json.loads(message["Body"])
    del notification[key]
    message["Body"] = json.dumps(notification)

    with pytest.raises(RecordFormatError, match=f"^{problem}$"):
        parse_sqs_message(message)


def test_an_sns_subscription_confirmation_is_not_a_notification():
    notification = json.loads(load_fixture("sqs_message_sns_kinesis_on_failure.json")["Body"])
    notification["Type"] = "SubscriptionConfirmation"

    with pytest.raises(RecordFormatError, match=r"^Type: expected 'Notification', got 'SubscriptionConfirmation'$"):
        parse_sns_notification(notification)


def test_dead_letter_message_with_a_non_numeric_error_code():
    message = load_fixture("sqs_message_function_dlq.json")
    message["MessageAttributes"]["ErrorCode"]["StringValue"] = "Unhandled"

    with pytest.raises(RecordFormatError, match=r"^MessageAttributes.ErrorCode: expected an HTTP status code"):
        parse_sqs_message(message)


def test_dead_letter_message_missing_its_error_code():
    message = load_fixture("sqs_message_function_dlq.json")
    del message["MessageAttributes"]["ErrorCode"]

    with pytest.raises(RecordFormatError, match=r"^MessageAttributes.ErrorCode: missing"):
        parse_sqs_message(message)


def test_dead_letter_topic_message_missing_its_request_id():
    message = load_fixture("sqs_message_sns_function_dlq.json")
    notification = json.loads(message["Body"])
    del notification["MessageAttributes"]["RequestID"]
    message["Body"] = json.dumps(notification)

    with pytest.raises(RecordFormatError, match=r"^Body.MessageAttributes.RequestID: missing"):
        parse_sqs_message(message)


def test_dead_letter_message_whose_body_is_not_json():
    message = load_fixture("sqs_message_function_dlq.json")
    message["Body"] = "order o-2001"

    with pytest.raises(RecordFormatError, match=r"^Body: not JSON"):
        parse_sqs_message(message)


def test_dead_letter_attribute_without_a_string_value():
    message = load_fixture("sqs_message_function_dlq.json")
    message["MessageAttributes"]["RequestID"] = {"BinaryValue": b"\x00", "DataType": "Binary"}

    with pytest.raises(
        RecordFormatError, match=r"^MessageAttributes.RequestID: expected a String attribute, got a Binary one$"
    ):
        parse_sqs_message(message)


def test_an_sqs_message_without_a_body():
    with pytest.raises(RecordFormatError, match=r"not an SQS message: no 'Body' \(or 'body'\); keys found: MessageId"):
        parse_sqs_message({"MessageId": "m-1"})


def test_a_dead_letter_message_received_without_attributes_hints_at_the_cause():
    message = load_fixture("sqs_message_function_dlq.json")
    del message["MessageAttributes"]

    with pytest.raises(RecordFormatError, match=r"MessageAttributeNames=\['All'\]"):
        parse_sqs_message(message)


# --- properties: nothing but RecordFormatError, whatever the input -------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_json_raises_only_record_format_errors(value):
    try:
        record = parse_record(json.dumps(value))
    except RecordFormatError:
        return
    assert isinstance(record, AsyncInvocationRecord | StreamFailureRecord | DeadLetterMessage)


def _leaf_paths(document: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(document, dict):
        return [prefix]
    paths = [prefix] if prefix else []
    for key, value in document.items():
        paths.extend(_leaf_paths(value, (*prefix, key)))
    return paths


SAMPLES = [load_fixture(name) for name in ("kinesis_on_failure.json", "async_retries_exhausted.json")]
SAMPLE_PATHS = [(index, path) for index, sample in enumerate(SAMPLES) for path in _leaf_paths(sample)]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLE_PATHS), json_values, st.booleans())
def test_any_field_replaced_or_removed_gives_a_record_or_a_record_format_error(sample_path, value, remove):
    index, path = sample_path
    document = copy.deepcopy(SAMPLES[index])
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    try:
        parse_record(json.dumps(document))
    except RecordFormatError as error:
        # The error names the damaged field, or (for a removed requestContext) says the shape is unknown.
        assert error.path.split(".")[0] in {path[0], *document} or "requestContext" in error.problem


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["Body", "body", "MessageAttributes", "messageAttributes"]), json_values))
def test_arbitrary_sqs_messages_raise_only_record_format_errors(message):
    try:
        record = parse_sqs_message(message)
    except RecordFormatError:
        return
    assert isinstance(record, AsyncInvocationRecord | StreamFailureRecord | DeadLetterMessage)


# --- pure parsing: no CDK, no AWS SDK -------------------------------------------------------------------------


def test_parsing_imports_neither_cdk_nor_aws_sdk():
    code = (
        "import sys\n"
        "import constructs_lib.records\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in {'boto3', 'botocore', 'aws_cdk'}], 'records'\n"
    )
    project_root = Path(__file__).parent.parent
    completed = subprocess.run([sys.executable, "-c", code], cwd=project_root, capture_output=True, text=True)

    assert completed.returncode == 0, completed.stderr
