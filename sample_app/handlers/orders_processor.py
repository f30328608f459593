"""Processes order events from the orders Kinesis stream.

Each record carries one JSON order. A record that cannot be processed is reported back to Lambda as a
partial batch failure, so only that record (and the ones after it in the shard) is retried, not the batch.
"""

import base64
import json
import logging
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


class InvalidOrderError(ValueError):
    """The record does not hold a processable order."""


def parse_order(data: str) -> dict[str, Any]:
    try:
        order = json.loads(base64.b64decode(data, validate=True))
    except (ValueError, json.JSONDecodeError) as error:
        raise InvalidOrderError(f"record is not base64-encoded JSON: {error}") from error
    if not isinstance(order, dict) or not order.get("order_id"):
        raise InvalidOrderError("record has no order_id")
    if not isinstance(order.get("quantity"), int) or order["quantity"] < 1:
        raise InvalidOrderError(f"order {order['order_id']} has an invalid quantity")
    return order


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        kinesis = record["kinesis"]
        try:
            order = parse_order(kinesis["data"])
        except InvalidOrderError as error:
            logger.error("rejecting record %s: %s", kinesis["sequenceNumber"], error)
            failures.append({"itemIdentifier": kinesis["sequenceNumber"]})
            continue
        logger.info("processed order %s", order["order_id"])
    return {"batchItemFailures": failures}
