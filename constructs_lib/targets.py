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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from constructs_lib._cdk import ALIAS_GRANT, has_member, is_resolved_str, path_of
from constructs_lib.errors import Violation
from constructs_lib.limits import (
    DELIVERY_ACTIONS,
    DESTINATIONS,
    KMS_WRITE_ACTIONS,
    S3_BUCKET_ACTIONS,
    S3_OBJECT_ACTIONS,
    DestinationKind,
    check_destination,
)

# What each argument accepts, as the union of the CDK interfaces (the constructs validate the kind further, e.g.
# no FIFO queue): the types users see in their editor and type checker.
AsyncDestination = sqs.IQueue | sns.ITopic | lambda_.IFunction | events.IEventBus
AsyncFailureDestination = sqs.IQueue | sns.ITopic | lambda_.IFunction | events.IEventBus | s3.IBucket
KafkaFailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket | str
DeadLetterTarget = sqs.IQueue | sns.ITopic
MappingFailureDestination = sqs.IQueue | sns.ITopic
StreamSourceResource = kinesis.IStream | dynamodb.ITable


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
        return f"{self.kind} {path_of(self.construct)}"


def _allow(actions: tuple[str, ...] | list[str], *resources: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=list(actions), resources=list(resources))


# arn:<partition>:kms:<region>:<account>:alias/<name>
_KMS_ALIAS_ARN = re.compile(r"^arn:(?P<partition>[^:]+):kms:(?P<region>[^:]*):(?P<account>[^:]*):(?P<alias>alias/.+)$")


@dataclass(frozen=True)
class KeyGrant:
    """Where a KMS grant goes. A key referenced by an alias cannot be the Resource of an IAM statement (KMS
    matches Resource against key ARNs only), so it is granted the way aws-cdk grants ``Alias.from_alias_name``
    under ``@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal``: every key of the alias's account and
    region (``key/*``) with the condition ``ForAnyValue:StringEquals: kms:ResourceAliases = <alias>`` (AWS KMS
    Developer Guide, "Use aliases to control access to KMS keys")."""

    key_arn: str
    alias_name: str | None = None

    def statement(self, actions: tuple[str, ...] | list[str]) -> iam.PolicyStatement:
        if self.alias_name is None:
            return _allow(actions, self.key_arn)
        statement = iam.PolicyStatement(
            actions=list(actions),
            resources=[self.key_arn],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": self.alias_name}},
        )
        # The key/* wildcard is narrowed by the condition: the grant acknowledges cdk-nag's IAM5 with that reason.
        setattr(statement, ALIAS_GRANT, (self.key_arn, self.alias_name))
        return statement


def customer_managed_key(key: kms.IKey | None) -> KeyGrant | None:
    """Where to grant on a target's or source's key; None for no key or an AWS-managed one (alias/aws/...),
    which needs no grant (and cannot be granted: its key policy is AWS's)."""
    if key is None:
        return None
    if isinstance(key, kms.Key):
        return KeyGrant(key.key_arn)
    if isinstance(key, kms.Alias):  # an alias defined in this app: aws-cdk grants on its target key
        return customer_managed_key(key.alias_target_key)
    key_arn = key.key_arn
    match = _KMS_ALIAS_ARN.match(key_arn) if is_resolved_str(key_arn) else None
    alias_name = match["alias"] if match is not None else None
    if alias_name is None and has_member(key, "alias_name"):  # Alias.from_alias_name / from_alias_attributes
        alias_name = key.alias_name
        if not is_resolved_str(alias_name):
            return KeyGrant(key_arn)  # an alias name known only at deploy time: granted as given
    if alias_name is None:
        return KeyGrant(key_arn)
    if alias_name.startswith("alias/aws/"):
        return None
    if match is None:
        match = _KMS_ALIAS_ARN.match(key_arn) if is_resolved_str(key_arn) else None
    if match is None:  # an alias ARN built from the stack's tokens (Alias.from_alias_name in an unbound stack)
        stack = cdk.Stack.of(key)
        wildcard = stack.format_arn(service="kms", resource="key", resource_name="*")
    else:
        wildcard = f"arn:{match['partition']}:kms:{match['region']}:{match['account']}:key/*"
    return KeyGrant(wildcard, alias_name)


def is_aws_managed_key(key: kms.IKey | None, service: str) -> bool:
    """Whether `key` is the AWS managed key of `service` (``alias/aws/<service>``), by its alias or alias ARN."""
    if key is None or isinstance(key, kms.Key):
        return False
    names = [key.key_arn]
    if has_member(key, "alias_name") and not isinstance(key, kms.Alias):
        names.append(key.alias_name)
    return any(is_resolved_str(name) and name.endswith(f"alias/aws/{service}") for name in names)


def kms_statements(
    key: kms.IKey | None, actions: tuple[str, ...] = KMS_WRITE_ACTIONS
) -> tuple[iam.PolicyStatement, ...]:
    """`actions` (default kms:Decrypt + kms:GenerateDataKey, the rights to write to a target) on a
    customer-managed key."""
    grant = customer_managed_key(key)
    return (grant.statement(actions),) if grant is not None else ()


def is_fifo(obj: Any, *, owned: bool, name: str) -> bool | None:
    """FIFO-ness as aws-cdk knows it: the ``fifo`` of an owned queue or topic; for an import, its ``fifo``
    (``from_queue_attributes(fifo=True)``) or a ``.fifo`` name suffix. None when it cannot be known (an import
    from a token ARN without ``fifo``)."""
    if owned:
        return obj.fifo
    if obj.fifo:
        return True
    return name.endswith(".fifo") if is_resolved_str(name) else None


def queue_target(queue: sqs.IQueue) -> Target:
    owned = isinstance(queue, sqs.Queue)
    fifo = is_fifo(queue, owned=owned, name="" if owned else queue.queue_name)
    arn = queue.queue_arn
    return Target(
        DestinationKind.SQS_QUEUE,
        arn,
        fifo,
        queue,
        (
            _allow(DELIVERY_ACTIONS[DestinationKind.SQS_QUEUE], arn),
            *kms_statements(queue.encryption_master_key),
        ),
    )


def topic_target(topic: sns.ITopic) -> Target:
    owned = isinstance(topic, sns.Topic)
    fifo = is_fifo(topic, owned=owned, name="" if owned else topic.topic_name)
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
            _allow(list(S3_OBJECT_ACTIONS), bucket.arn_for_objects("*")),
            _allow(list(S3_BUCKET_ACTIONS), bucket.bucket_arn),
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
    path = path_of(obj) if has_member(obj, "node") else ""
    return f"{type(obj).__name__} {path}" if path else type(obj).__name__


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
