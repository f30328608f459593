"""Projects order changes from the orders table's DynamoDB stream onto stock levels.

Powertools' batch utility reports failed records as partial batch failures (by sequence number).
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

logger = Logger(service="inventory-projector")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class InvalidOrderChangeError(ValueError):
    """The stream record cannot be projected."""


def stock_change(record: DynamoDBRecord) -> tuple[str, int]:
    """(sku, change in reserved stock) for one order change."""
    event_name = record.event_name.name if record.event_name else None
    new, old = record.dynamodb.new_image or {}, record.dynamodb.old_image or {}
    image = old if event_name == "REMOVE" else new
    sku, quantity = image.get("sku"), image.get("quantity")
    if not isinstance(sku, str) or not sku:
        raise InvalidOrderChangeError(f"order change {record.event_id} has no sku")
    try:
        quantity = int(quantity)
    except (TypeError, ValueError) as error:
        raise InvalidOrderChangeError(f"order change {record.event_id} has no numeric quantity") from error
    if event_name == "REMOVE":
        return sku, -quantity
    if event_name == "MODIFY":
        return sku, quantity - int(old.get("quantity", 0))
    return sku, quantity


def record_handler(record: DynamoDBRecord) -> None:
    sku, change = stock_change(record)
    logger.info("reserved stock changed", sku=sku, change=change)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
