"""Rules for SQS event source mappings and their source queues."""

from __future__ import annotations

from collections.abc import Iterator

from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import SQS, MappingView, TemplateView, number, redrive_policy, truthy
from constructs_lib.errors import Violation
from constructs_lib.limits import (
    SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    check_max_receive_count,
    check_visibility_timeout,
    sqs_unsupported_settings,
)


def _sqs_mappings(view: TemplateView) -> list[MappingView]:
    return [mapping for mapping in view.mappings if mapping.source == SQS]


@rule(
    "SqsStreamOnlySetting",
    Level.ERROR,
    explanation="On-failure destinations, bisecting, retries, record age, parallelization, tumbling windows and "
    "starting positions do not exist for SQS sources; failed messages go to the queue's dead-letter queue.",
    fix="Remove the setting; give the source queue a redrive policy (QueueConsumer checks it).",
)
def sqs_stream_only_setting(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in _sqs_mappings(view):
        given = {name: repr(value) for name, value in mapping.properties.items()}
        present = [violation.setting for violation in sqs_unsupported_settings(given, path=mapping.logical_id)]
        if present:
            yield mapping.logical_id, f"SQS mapping sets {', '.join(present)}, which SQS sources do not support"


@rule(
    "SqsSourceNoRedrive",
    Level.ERROR,
    explanation="For SQS sources the queue's dead-letter queue is the failure home: without a redrive policy a "
    "poison message is retried until it expires with the queue's retention.",
    fix="Give the source queue a RedrivePolicy (deadLetterTargetArn, maxReceiveCount >= 5); a FIFO queue needs "
    "a FIFO dead-letter queue.",
)
def sqs_source_no_redrive(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in _sqs_mappings(view):
        if mapping.source_id is None:
            continue
        queue = view.properties(mapping.source_id)
        if not queue.get("RedrivePolicy"):
            yield mapping.source_id, f"queue is consumed by {mapping.logical_id} but has no redrive policy"
            continue
        redrive = redrive_policy(queue)
        dead_letters = view.target(redrive.get("deadLetterTargetArn")) if redrive else None
        if truthy(queue.get("FifoQueue", False)) and dead_letters is not None and dead_letters.fifo is False:
            yield mapping.source_id, f"FIFO queue has the standard dead-letter queue {dead_letters.describe()}"


@rule(
    "SqsVisibilityTimeout",
    Level.ERROR,
    explanation="AWS rejects an SQS mapping whose queue visibility timeout is below the function timeout.",
    fix="Set the queue's VisibilityTimeout to at least the function timeout (6x is AWS's advice).",
)
def sqs_visibility_timeout(view: TemplateView) -> Iterator[tuple[str, str]]:
    for source_id, found in _visibility(view):
        for violation in found[0]:
            yield source_id, f"{violation.setting} must be {violation.allowed}, got {violation.given}"


@rule(
    "SqsVisibilityTimeoutBelowAdvice",
    Level.WARNING,
    explanation="Below 6x the function timeout, a message may become visible again while its batch is still "
    "being retried.",
    fix="Set the queue's VisibilityTimeout to 6x the function timeout.",
)
def sqs_visibility_timeout_below_advice(view: TemplateView) -> Iterator[tuple[str, str]]:
    for source_id, found in _visibility(view):
        for violation in found[1]:
            yield source_id, f"{violation.setting} should be {violation.allowed}, got {violation.given}"


@rule(
    "SqsLowMaxReceiveCount",
    Level.WARNING,
    explanation="With a maxReceiveCount below 5, messages move to the dead-letter queue after a few receives, "
    "throttled ones included.",
    fix="Set the redrive policy's maxReceiveCount to 5 or more.",
)
def sqs_low_max_receive_count(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in _sqs_mappings(view):
        source_id = mapping.source_id
        redrive = redrive_policy(view.properties(source_id)) if source_id else None
        if source_id and redrive:
            for violation in check_max_receive_count(number(redrive.get("maxReceiveCount")), path=source_id):
                yield source_id, f"{violation.setting} should be {violation.allowed}, got {violation.given}"


def _visibility(view: TemplateView) -> Iterator[tuple[str, tuple[list[Violation], list[Violation]]]]:
    """(source queue id, (errors, warnings)) of each SQS mapping whose queue and function are in the template."""
    for mapping in _sqs_mappings(view):
        if mapping.source_id is None or mapping.function_id is None:
            continue
        visibility = number(
            view.properties(mapping.source_id).get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS)
        )
        found = check_visibility_timeout(
            visibility_timeout=visibility, function_timeout=view.function_timeout(mapping.function_id), path=""
        )
        yield mapping.source_id, found
