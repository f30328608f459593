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
from typing import Any, TypeGuard

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

from constructs_lib._cdk import ALIAS_GRANT, OBJECTS_GRANT, has_member, is_resolved_str, path_of
from constructs_lib.errors import Violation
from constructs_lib.limits import (
    DELIVERY_ACTIONS,
    DESTINATIONS,
    KMS_WRITE_ACTIONS,
    S3_BUCKET_ACTIONS,
    S3_KMS_WRITE_ACTIONS,
    S3_OBJECT_ACTIONS,
    SNS_MAX_MESSAGE_BYTES,
    DestinationKind,
    check_destination,
    check_failure_queue_size,
)

# What each argument accepts, as the union of the CDK interfaces (the constructs validate the kind further, e.g.
# no FIFO queue): the types users see in their editor and type checker. aws-cdk's own destination objects
# (``lambda_.IDestination``, ``lambda_.IEventSourceDlq``) stand for the resource they wrap.
AsyncDestination = sqs.IQueue | sns.ITopic | lambda_.IFunction | events.IEventBus | lambda_.IDestination
AsyncFailureDestination = (
    sqs.IQueue | sns.ITopic | lambda_.IFunction | events.IEventBus | s3.IBucket | lambda_.IDestination
)
KafkaFailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket | lambda_.IEventSourceDlq | str
DeadLetterTarget = sqs.IQueue | sns.ITopic | lambda_.IDestination
MappingFailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket | lambda_.IEventSourceDlq
StreamSourceResource = kinesis.IStream | dynamodb.ITable


@dataclass(frozen=True)
class Target:
    kind: DestinationKind
    arn: str
    fifo: bool | None
    construct: IConstruct | _ArnOnly
    statements: tuple[iam.PolicyStatement, ...] = field(repr=False)

    def describe(self) -> str:
        """For messages: the kind and where it is, e.g. 'SQS queue Orders/Failures'."""
        return self._description

    @cached_property
    def _description(self) -> str:
        construct = self.construct
        return f"{self.kind} {construct.path if isinstance(construct, _ArnOnly) else path_of(construct)}"


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
    if alias_name is None and _is_alias(key):  # Alias.from_alias_name / from_alias_attributes
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


def _is_alias(key: kms.IKey) -> TypeGuard[kms.IAlias]:
    """An alias passed where a key is taken (an IAlias is an IKey), known by its ``alias_name``."""
    return has_member(key, "alias_name")


def is_aws_managed_key(key: kms.IKey | None, service: str) -> bool:
    """Whether `key` is the AWS managed key of `service` (``alias/aws/<service>``), by its alias or alias ARN."""
    if key is None or isinstance(key, kms.Key):
        return False
    names = [key.key_arn]
    if _is_alias(key) and not isinstance(key, kms.Alias):
        names.append(key.alias_name)
    return any(is_resolved_str(name) and name.endswith(f"alias/aws/{service}") for name in names)


def kms_statements(
    key: kms.IKey | None, actions: tuple[str, ...] = KMS_WRITE_ACTIONS
) -> tuple[iam.PolicyStatement, ...]:
    """`actions` (default kms:Decrypt + kms:GenerateDataKey, the rights to write to a target) on a
    customer-managed key."""
    grant = customer_managed_key(key)
    return (grant.statement(actions),) if grant is not None else ()


def is_fifo(obj: sqs.IQueue | sns.ITopic, *, owned: bool, name: str) -> bool | None:
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


def bucket_target(bucket: Any, kms_actions: tuple[str, ...] = KMS_WRITE_ACTIONS) -> Target:
    objects = bucket.arn_for_objects("*")
    put_object = _allow(list(S3_OBJECT_ACTIONS), objects)
    setattr(put_object, OBJECTS_GRANT, objects)
    return Target(
        DestinationKind.S3_BUCKET,
        bucket.bucket_arn,
        None,
        bucket,
        (
            put_object,
            _allow(list(S3_BUCKET_ACTIONS), bucket.bucket_arn),
            *kms_statements(bucket.encryption_key, kms_actions),
        ),
    )


def mapping_home(target: Target | None) -> Target | None:
    """`target` as the on-failure destination of an event source mapping: an S3 bucket's customer-managed key
    needs kms:GenerateDataKey only there (Lambda developer guide, kinesis-on-failure-destination.html). For
    asynchronous invocation the guide says nothing, so a bucket there keeps kms:Decrypt + kms:GenerateDataKey."""
    if target is None or target.kind is not DestinationKind.S3_BUCKET or isinstance(target.construct, _ArnOnly):
        return target
    return bucket_target(target.construct, S3_KMS_WRITE_ACTIONS)


@dataclass(frozen=True)
class _ArnOnly:
    """Stands in for a target known only by its ARN (the default event bus behind an EventBridgeDestination)."""

    arn: str

    @property
    def node(self) -> Any:
        return self

    @property
    def path(self) -> str:
        return "default" if self.arn.endswith("event-bus/default") else self.arn


def _unwrapped_target(obj: Any, scope: IConstruct) -> tuple[Target | None, str, str | None]:
    """The Target behind an aws-cdk destination object, its wrapper's name, and why it cannot be used."""
    from constructs_lib.cdk_destinations import unwrap  # aws_lambda_destinations loads only when needed

    unwrapped = unwrap(obj, scope)
    if unwrapped.resource is not None:
        return resolve_target(unwrapped.resource), unwrapped.wrapper, unwrapped.problem
    if unwrapped.arn.split(":")[2:3] == ["events"]:  # the default bus: an ARN built from the stack's tokens
        bus = _ArnOnly(unwrapped.arn)
        statements = (_allow(DELIVERY_ACTIONS[DestinationKind.EVENT_BUS], unwrapped.arn),)
        return (
            Target(DestinationKind.EVENT_BUS, unwrapped.arn, None, bus, statements),
            unwrapped.wrapper,
            unwrapped.problem,
        )
    return None, unwrapped.wrapper, unwrapped.problem or "its target could not be found in the app"


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


def checked_target(
    obj: Any, rule_key: str, *, path: str, setting: str, scope: IConstruct | None = None
) -> tuple[Target | None, list[Violation]]:
    """The Target for `obj` (None when `obj` is None or not a target) and the violations of the destination rule
    ``DESTINATIONS[rule_key]`` by it: wrong kind, or FIFO. aws-cdk's destination objects (``SqsDestination``,
    ``SqsDlq``, ``S3OnFailureDestination``, ...) are unwrapped to their resource and judged as it, when `scope`
    (where the wiring is created) is given."""
    if obj is None:
        return None, []
    from constructs_lib.cdk_destinations import is_cdk_destination

    if scope is not None and is_cdk_destination(obj):
        target, wrapper, problem = _unwrapped_target(obj, scope)
        if problem is not None:
            return None, [Violation(path, setting, "a destination this library can wire", f"{wrapper}: {problem}")]
        if target is None:
            return None, [Violation(path, setting, DESTINATIONS[rule_key].describe(), wrapper)]
        found = check_destination(
            DESTINATIONS[rule_key], target.kind, fifo=target.fifo, given="", path=path, setting=setting
        )
        if found:
            given = f"{target.describe()} (in {wrapper})"
            found = check_destination(
                DESTINATIONS[rule_key], target.kind, fifo=target.fifo, given=given, path=path, setting=setting
            )
        return target, found
    target = resolve_target(obj)
    kind, fifo = (target.kind, target.fifo) if target else (None, None)
    rule = DESTINATIONS[rule_key]
    if not check_destination(rule, kind, fifo=fifo, given="", path=path, setting=setting):
        return target, []  # describing the target costs jsii round trips: only for a message
    given = target.describe() if target else describe_object(obj)
    return target, check_destination(rule, kind, fifo=fifo, given=given, path=path, setting=setting)


def queue_size_warnings(target: Target | None, *, path: str, setting: str) -> list[Violation]:
    """Warnings for an SQS failure home defined in the app whose MaximumMessageSize is below 1 MiB (an imported
    queue's size cannot be known and is not guessed)."""
    if target is None or target.kind is not DestinationKind.SQS_QUEUE or not isinstance(target.construct, sqs.Queue):
        return []
    if hasattr(target.construct, "max_message_size_bytes"):  # a FailureQueue: it warned about its own size
        return []
    cfn_queue = target.construct.node.default_child
    size = getattr(cfn_queue, "maximum_message_size", None)
    if not isinstance(size, int) or cdk.Token.is_unresolved(size):
        return []
    return check_failure_queue_size(size, path=path, setting=setting)


def sns_payload_note(target: Target | None, *, path: str, setting: str) -> str | None:
    """For an asynchronous invocation record sent to SNS: the topic takes 256 KB, and Lambda drops the payload of a
    larger record (API reference, OnFailure) — the event is then not in the record, so it cannot be replayed."""
    if target is None or target.kind is not DestinationKind.SNS_TOPIC:
        return None
    return (
        f"{path}: {setting} is {target.describe()}: SNS takes messages up to {SNS_MAX_MESSAGE_BYTES // 1024} KB, and "
        "Lambda drops the request and response payload from a larger record, so that event could not be replayed. "
        "Use an SQS queue (1 MiB) if events can be that large."
    )
