"""Consumes order events from the `order-events` Kafka topic of an Amazon MSK cluster.

Each record's value is one JSON order event. A record that cannot be processed is reported as a partial batch
failure in the shape the Lambda developer guide gives for Kafka ("Configuring error handling controls for Kafka
event sources": ``{"itemIdentifier": {"topic-partition": "<topic>-<partition>", "offset": <offset>}}``), so Lambda
retries from that record instead of the whole batch; Lambda then bisects, retries and finally parks the record in
the mapping's failure home.
"""

import base64
import json
from typing import Any


class InvalidOrderEventError(ValueError):
    """The record does not hold a processable order event."""


def parse_order_event(record: dict[str, Any]) -> dict[str, Any]:
    try:
        event = json.loads(base64.b64decode(record.get("value") or "", validate=True))
    except ValueError as error:  # not base64, not UTF-8 or not JSON
        raise InvalidOrderEventError(f"record value is not base64-encoded JSON: {error}") from error
    if not isinstance(event, dict) or not event.get("order_id"):
        raise InvalidOrderEventError("order event has no order_id")
    return event


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for topic_partition, records in (event.get("records") or {}).items():
        for record in records:
            try:
                parse_order_event(record)
            except InvalidOrderEventError as error:
                print(json.dumps({"failed": topic_partition, "offset": record.get("offset"), "error": str(error)}))
                failures.append({"itemIdentifier": {"topic-partition": topic_partition, "offset": record["offset"]}})
    return {"batchItemFailures": failures}
