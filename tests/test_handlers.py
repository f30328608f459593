"""The sample app's Lambda handlers, called with realistic events."""

import base64
import json

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from sample_app.handlers import inventory_projector, order_notifier, orders_processor, payments_processor


def kinesis_record(sequence_number: str, payload: bytes) -> dict:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "order",
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(payload).decode(),
            "approximateArrivalTimestamp": 1764000000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
    }


def order(order_id: str, quantity: object = 1) -> bytes:
    return json.dumps({"order_id": order_id, "quantity": quantity}).encode()


def test_a_batch_of_valid_orders_reports_no_failures():
    event = {"Records": [kinesis_record("101", order("o-1")), kinesis_record("102", order("o-2", 3))]}
    assert orders_processor.handler(event, None) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    "payload",
    [b"not json", json.dumps({"quantity": 1}).encode(), order("o-9", 0), order("o-9", "2"), b"[1, 2]"],
    ids=["not-json", "no-order-id", "zero-quantity", "string-quantity", "not-an-object"],
)
def test_a_bad_record_is_reported_by_its_sequence_number(payload):
    event = {
        "Records": [
            kinesis_record("201", order("o-1")),
            kinesis_record("202", payload),
            kinesis_record("203", order("o-3")),
        ]
    }
    assert orders_processor.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "202"}]}


def test_data_that_is_not_base64_is_a_partial_failure_not_a_crash():
    record = kinesis_record("301", b"")
    record["kinesis"]["data"] = "%%%not-base64%%%"
    event = {"Records": [kinesis_record("300", order("o-1")), record]}
    assert orders_processor.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "301"}]}


def test_a_batch_that_fails_entirely_raises_so_the_mapping_bisects_it():
    event = {"Records": [kinesis_record("401", b"not json"), kinesis_record("402", b"{}")]}
    with pytest.raises(BatchProcessingError, match="All records failed"):
        orders_processor.handler(event, None)


# --- order notifier (EventBridge, asynchronous) ----------------------------------------------------------


def order_placed(detail: object, detail_type: str = "OrderPlaced") -> dict:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "orders",
        "account": "123456789012",
        "time": "2026-11-23T16:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_notifier_returns_what_it_notified():
    event = order_placed({"order_id": "o-1", "customer_email": "ana@example.com"})
    assert order_notifier.handler(event, None) == {"order_id": "o-1", "notified": "ana@example.com"}


@pytest.mark.parametrize(
    "event",
    [
        order_placed({"order_id": "o-1"}),
        order_placed({"order_id": "o-1", "customer_email": "not-an-address"}),
        order_placed({"order_id": "o-1", "customer_email": "ana@example.com"}, detail_type="OrderShipped"),
        order_placed("o-1"),
    ],
    ids=["no-email", "bad-email", "other-event", "detail-not-an-object"],
)
def test_notifier_raises_so_lambda_retries_and_then_parks_the_event(event):
    with pytest.raises(order_notifier.UndeliverableNotificationError):
        order_notifier.handler(event, None)


# --- inventory projector (DynamoDB stream) ---------------------------------------------------------------


def ddb_record(sequence_number: str, event_name: str, new: dict | None = None, old: dict | None = None) -> dict:
    image = {
        "Keys": {"order_id": {"S": "o-1"}},
        "SequenceNumber": sequence_number,
        "SizeBytes": 112,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "ApproximateCreationDateTime": 1764000000,
    }
    if new is not None:
        image["NewImage"] = new
    if old is not None:
        image["OldImage"] = old
    return {
        "eventID": f"event-{sequence_number}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": image,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-11-23T00:00:00.000",
    }


def line(sku: str, quantity: str) -> dict:
    return {"order_id": {"S": "o-1"}, "sku": {"S": sku}, "quantity": {"N": quantity}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (ddb_record("1", "INSERT", new=line("sku-1", "3")), ("sku-1", 3)),
        (ddb_record("2", "MODIFY", new=line("sku-1", "5"), old=line("sku-1", "3")), ("sku-1", 2)),
        (ddb_record("3", "REMOVE", old=line("sku-1", "5")), ("sku-1", -5)),
    ],
    ids=["insert", "modify", "remove"],
)
def test_projector_computes_the_stock_change(record, expected):
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    assert inventory_projector.stock_change(DynamoDBRecord(record)) == expected


def test_projector_reports_a_bad_change_by_its_sequence_number():
    event = {
        "Records": [
            ddb_record("10", "INSERT", new=line("sku-1", "3")),
            ddb_record("11", "INSERT", new={"order_id": {"S": "o-2"}, "quantity": {"N": "1"}}),
            ddb_record("12", "INSERT", new=line("sku-2", "x1") | {"quantity": {"S": "many"}}),
        ]
    }
    assert inventory_projector.handler(event, None) == {
        "batchItemFailures": [{"itemIdentifier": "11"}, {"itemIdentifier": "12"}]
    }


# --- payments processor (SQS) ----------------------------------------------------------------------------


def sqs_record(message_id: str, body: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:payments",
        "awsRegion": "us-east-1",
    }


def payment(order_id: str, amount: object = "19.99", currency: str = "EUR") -> str:
    return json.dumps({"order_id": order_id, "amount": amount, "currency": currency})


def test_payments_report_only_the_bad_messages():
    event = {
        "Records": [
            sqs_record("m-1", payment("o-1")),
            sqs_record("m-2", payment("o-2", amount="-1")),
            sqs_record("m-3", payment("o-3", currency="XYZ")),
            sqs_record("m-4", "not json"),
            sqs_record("m-5", payment("o-5", amount="NaN")),
            sqs_record("m-6", payment("o-6", amount=12)),
        ]
    }
    assert payments_processor.handler(event, None) == {
        "batchItemFailures": [
            {"itemIdentifier": "m-2"},
            {"itemIdentifier": "m-3"},
            {"itemIdentifier": "m-4"},
            {"itemIdentifier": "m-5"},
        ]
    }
