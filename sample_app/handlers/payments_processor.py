"""Charges payments requested on the payments SQS queue.

Powertools' batch utility reports failed messages as partial batch failures: only they return to the queue,
and after the queue's maxReceiveCount they move to its dead-letter queue.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service="payments-processor")
processor = BatchProcessor(event_type=EventType.SQS)

SUPPORTED_CURRENCIES = frozenset({"EUR", "USD", "GBP"})


class InvalidPaymentError(ValueError):
    """The message does not hold a chargeable payment."""


def parse_payment(record: SQSRecord) -> dict[str, Any]:
    try:
        payment = record.json_body
    except ValueError as error:
        raise InvalidPaymentError(f"message {record.message_id} is not JSON") from error
    if not isinstance(payment, dict) or not payment.get("order_id"):
        raise InvalidPaymentError(f"message {record.message_id} has no order_id")
    try:
        amount = Decimal(str(payment.get("amount")))
    except InvalidOperation as error:
        raise InvalidPaymentError(f"payment for {payment['order_id']} has no valid amount") from error
    if not amount.is_finite() or amount <= 0:
        raise InvalidPaymentError(f"payment for {payment['order_id']} has a non-positive amount")
    if payment.get("currency") not in SUPPORTED_CURRENCIES:
        raise InvalidPaymentError(f"payment for {payment['order_id']} has an unsupported currency")
    return {**payment, "amount": amount}


def record_handler(record: SQSRecord) -> None:
    payment = parse_payment(record)
    logger.info("charged payment", order_id=payment["order_id"], amount=str(payment["amount"]))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
