"""aws-cdk's own destination objects, unwrapped to the queue, topic, function, bus or bucket behind them.

Users migrating from aws-cdk hold ``SqsDestination``, ``SnsDestination``, ``LambdaDestination``,
``EventBridgeDestination``, ``S3Destination`` (``aws_lambda_destinations``) and ``SqsDlq``, ``SnsDlq``,
``S3OnFailureDestination`` (``aws_lambda_event_sources``). These expose nothing but ``bind()``, so each one is
bound once to a throwaway probe function in a throwaway app (never the user's): ``bind`` returns the target's
ARN, whose token leads back to the resource it references. The grants ``bind`` makes land on the probe's own
role and are discarded: the wiring then gets exactly the grants the resource itself would get — aws-cdk's
``S3OnFailureDestination`` grants read and write on the bucket, we grant ``s3:PutObject`` + ``s3:ListBucket``.

``LambdaDestination(response_only=True)`` is refused: aws-cdk makes it an EventBridge rule on the default bus,
which the probe would create in the throwaway app only; pass the function itself instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import IConstruct

from constructs_lib._cdk import has_member, is_resolved_str

DESTINATION_TYPES: Final = (
    destinations.SqsDestination,
    destinations.SnsDestination,
    destinations.LambdaDestination,
    destinations.EventBridgeDestination,
    destinations.S3Destination,
)
"""``lambda_.IDestination`` implementations: on-success / on-failure of asynchronous invocation."""
DLQ_TYPES: Final = (event_sources.SqsDlq, event_sources.SnsDlq, event_sources.S3OnFailureDestination)
"""``lambda_.IEventSourceDlq`` implementations: on-failure destinations of event source mappings."""

# The ARN attribute of each L2 interface, by the service in an ARN (arn:partition:service:...).
_ARN_ATTRIBUTE_BY_SERVICE: Final = {
    "sqs": "queue_arn",
    "sns": "topic_arn",
    "lambda": "function_arn",
    "events": "event_bus_arn",
    "s3": "bucket_arn",
}
_PROBE_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:constructs-lib-probe"


@dataclass(frozen=True)
class Unwrapped:
    """What an aws-cdk destination object points to: the resource (None when only an ARN is known, e.g. the
    default event bus), its ARN, the wrapper's class name, and why it cannot be used, if so."""

    resource: Any | None
    arn: str
    wrapper: str
    problem: str | None = None


def is_cdk_destination(obj: Any) -> bool:
    return isinstance(obj, DESTINATION_TYPES + DLQ_TYPES)


def unwrap(obj: Any, scope: IConstruct) -> Unwrapped:
    """The resource behind an aws-cdk destination object, found through the ARN its ``bind`` returns."""
    wrapper = type(obj).__name__
    user_stack = cdk.Stack.of(scope)
    probe_app = cdk.App()
    # The probe stack shares the user's environment, so aws-cdk's grants see the same account and stay on the
    # probe's role instead of widening a key or bucket policy of the user's.
    env = cdk.Environment(
        account=user_stack.account if is_resolved_str(user_stack.account) else None,
        region=user_stack.region if is_resolved_str(user_stack.region) else None,
    )
    probe = cdk.Stack(probe_app, "Probe", env=env)
    role = iam.Role(probe, "ProbeRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    function = lambda_.Function.from_function_attributes(
        probe, "ProbeFunction", function_arn=_PROBE_FUNCTION_ARN, role=role, same_environment=True
    )
    if isinstance(obj, DLQ_TYPES):
        mapping = lambda_.EventSourceMapping.from_event_source_mapping_id(probe, "ProbeMapping", "probe")
        arn = obj.bind(mapping, function).destination
    else:
        arn = obj.bind(probe, function, type=lambda_.DestinationType.FAILURE).destination
    resource = _referenced_resource(arn) or _resource_with_arn(user_stack, arn)
    problem = None
    if isinstance(obj, destinations.LambdaDestination) and not has_member(resource, "function_arn"):
        problem = (
            "LambdaDestination(response_only=True) becomes an EventBridge rule on the default bus that this library "
            "does not create: pass the function itself (on_success=function) or an EventBridgeDestination"
        )
    return Unwrapped(resource, arn, wrapper, problem)


def _referenced_resource(arn: str) -> Any | None:
    """The L2 construct whose ARN attribute the token ``arn`` references (e.g. a Queue for its QueueArn)."""
    token = cdk.Tokenization.reverse_string(arn).first_token
    if token is None or not isinstance(token, cdk.Reference):
        return None
    resource = token.target
    owner = resource.node.scope
    return (
        owner if owner is not None and any(has_member(owner, a) for a in _ARN_ATTRIBUTE_BY_SERVICE.values()) else None
    )


def _resource_with_arn(stack: cdk.Stack, arn: str) -> Any | None:
    """An imported resource (``from_queue_attributes`` ...) of the user's stack with exactly this ARN."""
    if not is_resolved_str(arn) or arn.count(":") < 5:
        return None
    attribute = _ARN_ATTRIBUTE_BY_SERVICE.get(arn.split(":")[2])
    if attribute is None:
        return None
    for node in stack.node.find_all():
        if has_member(node, attribute) and getattr(node, attribute) == arn:
            return node
    return None
