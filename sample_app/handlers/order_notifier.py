"""Notifies customers about orders, from EventBridge "OrderPlaced" events (invoked asynchronously).

A failure raises: Lambda retries the event, then hands it to the on-failure destination and, if that fails
too, to the function's dead-letter queue. What the function returns is the success record's response payload.
"""

import logging
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


class UndeliverableNotificationError(RuntimeError):
    """The event cannot be turned into a notification."""


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    detail = event.get("detail")
    if event.get("detail-type") != "OrderPlaced" or not isinstance(detail, dict):
        raise UndeliverableNotificationError(f"not an OrderPlaced event: {event.get('detail-type')!r}")
    order_id, email = detail.get("order_id"), detail.get("customer_email")
    if not order_id or not email or "@" not in email:
        raise UndeliverableNotificationError(f"order {order_id!r} has no valid customer email")
    logger.info("notifying %s about order %s", email, order_id)
    return {"order_id": order_id, "notified": email}
