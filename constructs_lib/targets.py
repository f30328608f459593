"""Maps a CDK object (queue, topic, function, event bus, bucket) to a failure-handling target.

A `Target` knows its kind, its ARN, whether it is FIFO (None when that cannot be known), and the exact IAM
statements a function's role needs to deliver to it, including the customer-managed KMS key when there is one.
One small function per kind, in the spirit of aws-cdk's `SqsDestination.bind()`.

What cannot be known is not guessed:
- a queue or topic imported from a token ARN (e.g. a CfnParameter) has an unknown FIFO-ness and is accepted;
- an imported queue, topic or bucket carries a KMS key only when it was imported with one
  (`Queue.from_queue_attributes(key_arn=...)`, `Bucket.from_bucket_attributes(encryption_key=...)`); without
  it no KMS statement is added. AWS-managed keys (`alias/aws/...`) need no grant and get none;
- the KMS key of an EventBridge event bus is not exposed by aws-cdk, so no KMS statement is added for buses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from constructs_lib._cdk import has_member, is_resolved_str
from constructs_lib.errors import Violation
from constructs_lib.limits import DELIVERY_ACTIONS, DESTINATIONS, KMS_WRITE_ACTIONS, DestinationKind, check_destination


@dataclass(frozen=True)
class Target:
    kind: DestinationKind
    arn: str
    fifo: bool | None
    construct: IConstruct
    statements: tuple[iam.PolicyStatement, ...] = field(repr=False)

    def describe(self) -> str:
        """For messages: the kind and where it is, e.g. 'SQS queue Orders/Failures'."""
        return self._description

    @cached_property
    def _description(self) -> str:
        return f"{self.kind} {self.construct.node.path}"


def _allow(actions: tuple[str, ...] | list[str], *resources: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=list(actions), resources=list(resources))


def customer_managed_key(key: kms.IKey | None) -> kms.IKey | None:
    """The key to grant on, or None for no key or an AWS-managed one (alias/aws/...), which needs no grant."""
    if key is None:
        return None
    alias_name = getattr(key, "alias_name", None)
    if is_resolved_str(alias_name) and alias_name.startswith("alias/aws/"):
        return None
    return key


def kms_statements(key: kms.IKey | None) -> tuple[iam.PolicyStatement, ...]:
    """kms:Decrypt + kms:GenerateDataKey on a customer-managed key, the rights to write to its target."""
    key = customer_managed_key(key)
    return (_allow(KMS_WRITE_ACTIONS, key.key_arn),) if key is not None else ()


def _name_fifo(owned: bool, owned_fifo: bool, name: str) -> bool | None:
    if owned:
        return owned_fifo
    return name.endswith(".fifo") if is_resolved_str(name) else None


def queue_target(queue: sqs.IQueue) -> Target:
    fifo = _name_fifo(isinstance(queue, sqs.Queue), queue.fifo, queue.queue_name)
    return Target(
        DestinationKind.SQS_QUEUE,
        queue.queue_arn,
        fifo,
        queue,
        (
            _allow(DELIVERY_ACTIONS[DestinationKind.SQS_QUEUE], queue.queue_arn),
            *kms_statements(queue.encryption_master_key),
        ),
    )


def topic_target(topic: sns.ITopic) -> Target:
    fifo = _name_fifo(isinstance(topic, sns.Topic), topic.fifo, topic.topic_name)
    return Target(
        DestinationKind.SNS_TOPIC,
        topic.topic_arn,
        fifo,
        topic,
        (
            _allow(DELIVERY_ACTIONS[DestinationKind.SNS_TOPIC], topic.topic_arn),
            *kms_statements(getattr(topic, "master_key", None)),
        ),
    )


def function_target(function: lambda_.IFunction) -> Target:
    return Target(
        DestinationKind.LAMBDA_FUNCTION,
        function.function_arn,
        None,
        function,
        (_allow(DELIVERY_ACTIONS[DestinationKind.LAMBDA_FUNCTION], function.function_arn),),
    )


def event_bus_target(bus: Any) -> Target:
    return Target(
        DestinationKind.EVENT_BUS,
        bus.event_bus_arn,
        None,
        bus,
        (_allow(DELIVERY_ACTIONS[DestinationKind.EVENT_BUS], bus.event_bus_arn),),
    )


def bucket_target(bucket: Any) -> Target:
    return Target(
        DestinationKind.S3_BUCKET,
        bucket.bucket_arn,
        None,
        bucket,
        (
            _allow(["s3:PutObject"], bucket.arn_for_objects("*")),  # DELIVERY_ACTIONS[S3_BUCKET], per resource
            _allow(["s3:ListBucket"], bucket.bucket_arn),
            *kms_statements(bucket.encryption_key),
        ),
    )


# Recognized by the ARN attribute each L2 interface has; works for owned and imported objects alike.
_BY_ATTRIBUTE: tuple[tuple[str, Callable[[Any], Target]], ...] = (
    ("queue_arn", queue_target),
    ("topic_arn", topic_target),
    ("event_bus_arn", event_bus_target),
    ("bucket_arn", bucket_target),
    ("function_arn", function_target),
)


def resolve_target(obj: Any) -> Target | None:
    """The Target for a queue, topic, function (incl. Version/Alias), event bus or bucket; None otherwise."""
    for attribute, build in _BY_ATTRIBUTE:
        if has_member(obj, attribute):
            return build(obj)
    return None


def describe_object(obj: Any) -> str:
    """For error messages about an object that is not a supported target."""
    node = getattr(obj, "node", None)
    where = f" {node.path}" if node is not None and node.path else ""
    return f"{type(obj).__name__}{where}"


def checked_target(obj: Any, rule_key: str, *, path: str, setting: str) -> tuple[Target | None, list[Violation]]:
    """The Target for `obj` (None when `obj` is None or not a target) and the violations of the destination rule
    ``DESTINATIONS[rule_key]`` by it: wrong kind, or FIFO."""
    if obj is None:
        return None, []
    target = resolve_target(obj)
    kind, fifo = (target.kind, target.fifo) if target else (None, None)
    rule = DESTINATIONS[rule_key]
    if not check_destination(rule, kind, fifo=fifo, given="", path=path, setting=setting):
        return target, []  # describing the target costs jsii round trips: only for a message
    given = target.describe() if target else describe_object(obj)
    return target, check_destination(rule, kind, fifo=fifo, given=given, path=path, setting=setting)
