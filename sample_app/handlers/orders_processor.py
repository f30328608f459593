"""Processes order events from the orders Kinesis stream.

Each record carries one JSON order. Powertools' batch utility reports records that fail as partial batch
failures, so Lambda retries from the first failed record instead of the whole batch; if every record fails it
raises, and the mapping bisects the batch to isolate the bad record.
"""

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

logger = Logger(service="orders-processor")
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


class InvalidOrderError(ValueError):
    """The record does not hold a processable order."""


def parse_order(record: KinesisStreamRecord) -> dict[str, Any]:
    try:
        order = json.loads(record.kinesis.data_as_bytes())
    except ValueError as error:  # not base64, not UTF-8 or not JSON
        raise InvalidOrderError(f"record is not base64-encoded JSON: {error}") from error
    if not isinstance(order, dict) or not order.get("order_id"):
        raise InvalidOrderError("record has no order_id")
    if not isinstance(order.get("quantity"), int) or isinstance(order["quantity"], bool) or order["quantity"] < 1:
        raise InvalidOrderError(f"order {order['order_id']} has an invalid quantity")
    return order


def record_handler(record: KinesisStreamRecord) -> None:
    order = parse_order(record)
    logger.info("processed order", order_id=order["order_id"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
