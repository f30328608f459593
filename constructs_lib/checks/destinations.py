"""Rules for destination and dead-letter targets."""

from __future__ import annotations

from collections.abc import Iterator

from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import INVOKE_CONFIG, TemplateView, destinations
from constructs_lib.limits import DestinationKind


@rule(
    "FifoTarget",
    Level.ERROR,
    explanation="Lambda cannot deliver to FIFO queues or topics: the template deploys, then every delivery fails "
    "and only the DestinationDeliveryFailures / DeadLetterErrors metrics show it.",
    fix="Use a standard SQS queue or SNS topic as destination or DLQ.",
)
def fifo_target(view: TemplateView) -> Iterator[tuple[str, str]]:
    for destination in destinations(view):
        target = view.target(destination.value)
        if target is not None and target.fifo:
            yield destination.owner, f"{destination.role} is the FIFO {target.describe()}"


@rule(
    "S3OnSuccess",
    Level.ERROR,
    explanation="AWS accepts an S3 bucket only as on-failure destination of asynchronous invocation.",
    fix="Use an SQS queue, SNS topic, Lambda function or EventBridge bus on success.",
)
def s3_on_success(view: TemplateView) -> Iterator[tuple[str, str]]:
    for destination in destinations(view):
        target = view.target(destination.value)
        if (
            destination.role == "OnSuccess"
            and view.type_of(destination.owner) == INVOKE_CONFIG
            and target is not None
            and target.kind is DestinationKind.S3_BUCKET
        ):
            yield destination.owner, f"OnSuccess is the {target.describe()}"
