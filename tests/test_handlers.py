"""The sample app's Lambda handlers, called with realistic events."""

import base64
import json

import pytest

from sample_app.handlers import order_notifier, orders_processor


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


def test_data_that_is_not_base64_is_a_failure_not_a_crash():
    record = kinesis_record("301", b"")
    record["kinesis"]["data"] = "%%%not-base64%%%"
    assert orders_processor.handler({"Records": [record]}, None) == {"batchItemFailures": [{"itemIdentifier": "301"}]}


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
