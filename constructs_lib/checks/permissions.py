"""Missing permissions: what a function's role needs for its destinations, DLQ and event sources.

Catches, among others, aws-cdk#33153: a function DLQ encrypted with a customer-managed key whose key the role
may not use, so every message Lambda tries to park there is lost.
"""

from __future__ import annotations

from collections.abc import Iterator

from constructs_lib.checks.iam import Grants, role_grants
from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import (
    DYNAMODB,
    KINESIS,
    SQS,
    STREAM_CONSUMER,
    TemplateView,
    destinations,
)
from constructs_lib.limits import (
    DELIVERY_ACTIONS,
    DYNAMODB_STREAM_READ_ACTIONS,
    KINESIS_FAN_OUT_ACTIONS,
    KINESIS_READ_ACTIONS,
    KMS_READ_ACTIONS,
    S3_BUCKET_ACTIONS,
    S3_OBJECT_ACTIONS,
    SQS_CONSUME_ACTIONS,
    DestinationKind,
    kms_write_actions,
)

# A Lambda poller needs the full set, but one of them is enough to show the grant is there at all.
READ_ACTIONS = {KINESIS: KINESIS_READ_ACTIONS, DYNAMODB: DYNAMODB_STREAM_READ_ACTIONS, SQS: SQS_CONSUME_ACTIONS}


def _needs(view: TemplateView) -> Iterator[tuple[str, Grants, tuple[str, ...], str, str, bool]]:
    """(function, grants, actions, resource, what, is_kms) for every permission the template's wiring needs."""
    grants_by_function: dict[str, Grants | None] = {}

    def grants_of(function_id: str) -> Grants | None:
        if function_id not in grants_by_function:
            grants_by_function[function_id] = role_grants(view, function_id)
        return grants_by_function[function_id]

    for destination in destinations(view):
        function_id = destination.function_id
        if not function_id:
            continue
        target = view.target(destination.value)
        grants = grants_of(function_id)
        if grants is None or target is None or target.kind is None:
            continue
        what = f"{target.describe()} ({destination.role} of {destination.owner})"
        if target.kind is DestinationKind.S3_BUCKET:
            yield function_id, grants, S3_OBJECT_ACTIONS, f"{target.arn}/failure-record", what, False
            yield function_id, grants, S3_BUCKET_ACTIONS, target.arn, what, False
        else:
            yield function_id, grants, DELIVERY_ACTIONS[target.kind], target.arn, what, False
        if target.key is not None:
            yield function_id, grants, kms_write_actions(target.kind), target.key, f"the KMS key of {what}", True

    for mapping in view.mappings:
        function_id = mapping.function_id
        if not function_id:
            continue
        grants = grants_of(function_id)
        if grants is None or mapping.source is None or mapping.source_arn is None:
            continue
        what = f"the {mapping.source} source of {mapping.logical_id}"
        source_arn = mapping.source_arn
        if view.type_of(mapping.source_id) == STREAM_CONSUMER:
            yield function_id, grants, KINESIS_FAN_OUT_ACTIONS, source_arn, what, False
            stream_arn = view.render(view.properties(mapping.source_id).get("StreamARN"))
            if stream_arn is None:
                continue
            source_arn = stream_arn
        yield function_id, grants, READ_ACTIONS[mapping.source], source_arn, what, False
        key = view.source_key(mapping)
        if key is not None:
            yield function_id, grants, KMS_READ_ACTIONS, key, f"the KMS key of {what}", True


def _missing(view: TemplateView, want_kms: bool) -> Iterator[tuple[str, str]]:
    seen = set()
    for function_id, grants, actions, resource, what, is_kms in _needs(view):
        if is_kms != want_kms:
            continue
        missing = [action for action in actions if not grants.allows(view, action, resource)]
        key = (function_id, tuple(missing), what)
        if missing and key not in seen:
            seen.add(key)
            yield function_id, f"the function's role lacks {', '.join(missing)} on {what}"


@rule(
    "MissingPermission",
    Level.ERROR,
    explanation="Lambda uses the function's execution role to deliver to destinations and DLQs and to read its "
    "event sources: without the grant, deliveries fail and records are lost, or the mapping cannot be created.",
    fix="Grant the listed actions on that resource to the function's role (our constructs do it).",
)
def missing_permission(view: TemplateView) -> Iterator[tuple[str, str]]:
    yield from _missing(view, want_kms=False)


@rule(
    "MissingKmsPermission",
    Level.ERROR,
    explanation="A target or source encrypted with a customer-managed key needs the key too; aws-cdk forgets it "
    "for function DLQs (aws-cdk#33153), and Lambda then loses every message it tries to park.",
    fix="Grant kms:GenerateDataKey and kms:Decrypt (SQS, SNS targets), kms:GenerateDataKey (S3 targets) or "
    "kms:Decrypt (sources) on the key to the role.",
)
def missing_kms_permission(view: TemplateView) -> Iterator[tuple[str, str]]:
    yield from _missing(view, want_kms=True)
