"""A read-only view of a CloudFormation template, with the lookups the failure-handling rules share.

Pure: no aws_cdk import. Values that are intrinsics the view cannot follow are treated as unknown, and rules
skip what is unknown rather than guess.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from constructs_lib.checks.resolve import resolve
from constructs_lib.limits import LAMBDA_DEFAULT_TIMEOUT_SECONDS, UNRESOLVED, CheckedValue, DestinationKind

FUNCTION = "AWS::Lambda::Function"
ALIAS = "AWS::Lambda::Alias"
VERSION = "AWS::Lambda::Version"
MAPPING = "AWS::Lambda::EventSourceMapping"
INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"
PERMISSION = "AWS::Lambda::Permission"
QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
BUS = "AWS::Events::EventBus"
BUCKET = "AWS::S3::Bucket"
STREAM = "AWS::Kinesis::Stream"
STREAM_CONSUMER = "AWS::Kinesis::StreamConsumer"
TABLE = "AWS::DynamoDB::Table"
GLOBAL_TABLE = "AWS::DynamoDB::GlobalTable"
KEY = "AWS::KMS::Key"
ROLE = "AWS::IAM::Role"
POLICY = "AWS::IAM::Policy"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"

KIND_BY_TYPE = {
    QUEUE: DestinationKind.SQS_QUEUE,
    TOPIC: DestinationKind.SNS_TOPIC,
    FUNCTION: DestinationKind.LAMBDA_FUNCTION,
    ALIAS: DestinationKind.LAMBDA_FUNCTION,
    VERSION: DestinationKind.LAMBDA_FUNCTION,
    BUS: DestinationKind.EVENT_BUS,
    BUCKET: DestinationKind.S3_BUCKET,
}
KIND_BY_ARN_SERVICE = {
    "sqs": DestinationKind.SQS_QUEUE,
    "sns": DestinationKind.SNS_TOPIC,
    "lambda": DestinationKind.LAMBDA_FUNCTION,
    "events": DestinationKind.EVENT_BUS,
    "s3": DestinationKind.S3_BUCKET,
}
# GetAtt attributes that are the resource's identity (its ARN) rather than another thing it has.
IDENTITY_ATTRIBUTES = frozenset({"Arn", "TopicArn", "ConsumerARN", "QueueUrl", "KeyId", "Name", "QueueName"})

STREAM_SOURCE = "stream"
KINESIS = "Kinesis"
DYNAMODB = "DynamoDB"
SQS = "SQS"

_ARN_SERVICE = re.compile(r"^arn:[^:]*:([^:]+):")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def arn_service(arn: str) -> str | None:
    match = _ARN_SERVICE.match(arn)
    return match.group(1) if match else None


def number(value: Any) -> CheckedValue:
    """A template number: ints, floats and numeric strings as numbers; intrinsics as UNRESOLVED."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            # The checks report a value of a type they cannot read as given (its repr), which is what an
            # unreadable string is; CheckedValue (limits.py) does not name str, hence the cast.
            return cast(CheckedValue, value)
    return UNRESOLVED


def truthy(value: Any) -> bool | None:
    """A template boolean; None when it is an intrinsic."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None if isinstance(value, dict) else bool(value)


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping, else an empty one: templates written by hand put anything anywhere."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def getatt_parts(argument: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of an Fn::GetAtt argument, ["Id", "Attr"] or "Id.Attr"; None when malformed."""
    if isinstance(argument, list) and len(argument) == 2 and all(isinstance(part, str) for part in argument):
        return argument[0], argument[1]
    if isinstance(argument, str) and "." in argument:
        logical_id, attribute = argument.split(".", 1)
        return logical_id, attribute
    return None


def redrive_policy(queue_properties: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A queue's RedrivePolicy as a mapping; the schema also allows a JSON string. None when absent or
    unreadable (an intrinsic, a string that is not a JSON object)."""
    policy = queue_properties.get("RedrivePolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    return policy if isinstance(policy, Mapping) and policy else None


# An ARN that Fn::Sub / Fn::Join builds around a resource's name means that resource: service, what precedes
# the name in the resource part, and the resource types it may name.
_ARN_AROUND_NAME = re.compile(r"^arn:[^:]*:([a-z0-9-]+):[^:]*:[^:]*:(.*?)\$\{([A-Za-z0-9]+)\}(.*)$")
_NAMED_BY_ARN = {
    ("sqs", ""): ("AWS::SQS::Queue",),
    ("sns", ""): ("AWS::SNS::Topic",),
    ("lambda", "function:"): ("AWS::Lambda::Function",),
    ("kinesis", "stream/"): ("AWS::Kinesis::Stream",),
    ("events", "event-bus/"): ("AWS::Events::EventBus",),
    ("kms", "key/"): ("AWS::KMS::Key",),
    ("dynamodb", "table/"): ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
    ("s3", ""): ("AWS::S3::Bucket",),
}


@dataclass(frozen=True)
class Target:
    """Something a function delivers to or reads from, as far as the template tells."""

    arn: str  # canonical: "${LogicalId}" for a resource in the template, else the literal ARN
    kind: DestinationKind | None
    logical_id: str | None
    fifo: bool | None
    key: str | None  # canonical ARN of a customer-managed KMS key, if any is known

    def describe(self) -> str:
        what = str(self.kind) if self.kind else "target"
        return f"{what} {self.logical_id or self.arn}"


@dataclass(frozen=True)
class MappingView:
    logical_id: str
    properties: Mapping[str, Any]
    function_id: str | None
    source: str | None  # KINESIS, DYNAMODB, SQS or None (Kafka, MQ, unknown)
    source_id: str | None  # logical id of the stream, table or queue
    source_arn: str | None  # canonical ARN to grant reads on

    @property
    def is_stream(self) -> bool:
        return self.source in (KINESIS, DYNAMODB)


class TemplateView:
    """The template as it deploys with its parameter defaults (see resolve.py); `resolution` tells, per
    resource, what that assumed."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
            raise ValueError("not a CloudFormation template: it has no Resources mapping")
        self.resolution = resolve(template)
        template = self.resolution.template
        resources = template["Resources"]
        self.template = template
        self.resources: dict[str, Mapping[str, Any]] = {
            logical_id: resource for logical_id, resource in resources.items() if isinstance(resource, Mapping)
        }

    # --- basics ------------------------------------------------------------------------------------------

    def type_of(self, logical_id: str | None) -> str | None:
        resource = self.resources.get(logical_id) if isinstance(logical_id, str) else None
        kind = resource.get("Type") if resource else None
        return kind if isinstance(kind, str) else None

    def properties(self, logical_id: str | None) -> Mapping[str, Any]:
        """The Properties of a resource of this template; empty for an unknown (or no) logical id."""
        resource = self.resources.get(logical_id) if logical_id is not None else None
        return as_mapping(as_mapping(resource).get("Properties"))

    @cached_property
    def _ids_by_type(self) -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type")
            if isinstance(kind, str):
                ids.setdefault(kind, []).append(logical_id)
        return ids

    def of_type(self, *types: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(logical id, properties) of the resources of these types, in template order."""
        ids = [logical_id for kind in types for logical_id in self._ids_by_type.get(kind, ())]
        if len(types) > 1:
            order = {logical_id: position for position, logical_id in enumerate(self.resources)}
            ids.sort(key=order.__getitem__)
        for logical_id in ids:
            yield logical_id, self.properties(logical_id)

    @cached_property
    def policies_by_role(self) -> dict[str, list[Any]]:
        """Role logical id -> the policy documents of the AWS::IAM::Policy / ManagedPolicy resources attached."""
        attached: dict[str, list[Any]] = {}
        for _, policy in self.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in as_list(policy.get("Roles")):
                role_id = self.referenced_id(role)
                if role_id is not None:
                    attached.setdefault(role_id, []).append(policy.get("PolicyDocument"))
        return attached

    def referenced_id(self, value: Any) -> str | None:
        """The logical id a Ref or GetAtt points at, if it is a resource of this template."""
        if isinstance(value, Mapping) and len(value) == 1:
            if "Ref" in value:
                target = value["Ref"]
            elif "Fn::GetAtt" in value:
                parts = getatt_parts(value["Fn::GetAtt"])
                target = parts[0] if parts else None
            else:
                return None
            return target if isinstance(target, str) and target in self.resources else None
        return None

    def render(self, value: Any) -> str | None:
        """A comparable string for an ARN-like value: "${Id}" for a resource's identity (also an ARN built
        around its name), "${Id.Attr}" for another attribute, pseudo parameters as "*"; None when it cannot be
        followed."""
        rendered = self._render(value, depth=0)
        return self._canonical(rendered) if rendered is not None and not isinstance(value, str) else rendered

    def _render(self, value: Any, depth: int) -> str | None:
        if isinstance(value, str):
            return value
        if not isinstance(value, Mapping) or len(value) != 1 or depth > 20:
            return None
        ((function, argument),) = value.items()
        if function == "Ref":
            if isinstance(argument, str) and argument.startswith("AWS::"):
                return "*"
            return f"${{{argument}}}" if isinstance(argument, str) and argument in self.resources else None
        if function == "Fn::GetAtt":
            parts = getatt_parts(argument)
            if parts is None or parts[0] not in self.resources:
                return None
            logical_id, attribute = parts
            return f"${{{logical_id}}}" if attribute in IDENTITY_ATTRIBUTES else f"${{{logical_id}.{attribute}}}"
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, items = argument
            if not isinstance(separator, str) or not isinstance(items, list):
                return None
            pieces = [self._render(item, depth + 1) for item in items]
            followed = [piece for piece in pieces if piece is not None]
            return separator.join(followed) if len(followed) == len(pieces) else None
        if function == "Fn::Sub":
            variables: Mapping[str, Any]
            if isinstance(argument, str):
                text, variables = argument, {}
            elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
                text, variables = argument[0], as_mapping(argument[1])
            else:
                return None

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return self._render(variables[name], depth + 1) or "*"
                if "." in name:
                    return self._render({"Fn::GetAtt": name.split(".", 1)}, depth + 1) or "*"
                return self._render({"Ref": name}, depth + 1) or "*"

            return _SUB_VARIABLE.sub(substitute, text)
        return None

    def named_id(self, rendered: str) -> str | None:
        """The resource a canonical rendering is ("${Id}" or "${Id.Attr}"), if it is one of this template's."""
        if rendered.startswith("${") and rendered.endswith("}") and rendered.count("${") == 1:
            logical_id = rendered[2:-1].split(".", 1)[0]
            return logical_id if logical_id in self.resources else None
        return None

    def _canonical(self, rendered: str) -> str:
        """ "arn:...:sqs:${AWS::Region}:${AWS::AccountId}:${Queue.QueueName}" is the queue itself: "${Queue}"."""
        match = _ARN_AROUND_NAME.match(rendered)
        if match is None:
            match = re.match(r"^arn:[^:]*:(s3):::()\$\{([A-Za-z0-9]+)\}(.*)$", rendered)
            if match is None:
                return rendered
        service, prefix, logical_id, suffix = match.groups()
        types = _NAMED_BY_ARN.get((service, prefix))
        if types is None or self.type_of(logical_id) not in types:
            return rendered
        if service == "dynamodb":
            return f"${{{logical_id}.StreamArn}}" if suffix.startswith("/stream/") else f"${{{logical_id}}}{suffix}"
        return f"${{{logical_id}}}{suffix}"

    # --- functions ---------------------------------------------------------------------------------------

    def function_id(self, value: Any) -> str | None:
        """The function a FunctionName / TargetArn value means: a function, or the function of an alias or
        version, when it is defined in this template."""
        logical_id = self.referenced_id(value)
        if logical_id is None and isinstance(value, Mapping):
            rendered = self.render(value)
            logical_id = self.named_id(rendered) if rendered else None
        kind = self.type_of(logical_id)
        if kind == FUNCTION:
            return logical_id
        if kind in (ALIAS, VERSION):
            return self.function_id(self.properties(logical_id).get("FunctionName"))
        return None

    def function_timeout(self, function_id: str) -> CheckedValue:
        return number(self.properties(function_id).get("Timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS))

    @cached_property
    def invoke_configs(self) -> list[tuple[str, Mapping[str, Any], str | None]]:
        return [(i, p, self.function_id(p.get("FunctionName"))) for i, p in self.of_type(INVOKE_CONFIG)]

    # --- targets -----------------------------------------------------------------------------------------

    def key_of(self, value: Any) -> str | None:
        """Canonical ARN of a customer-managed KMS key, None for none, an AWS-managed key or an unknown one."""
        if value is None:
            return None
        rendered = self.render(value)
        if rendered is None or "alias/aws/" in rendered:
            return None
        if rendered.startswith("${"):
            key_id = self.referenced_id(value) or self.named_id(rendered)
            return f"${{{key_id}}}" if self.type_of(key_id) == KEY else None
        return rendered if rendered.startswith("arn:") and ":key/" in rendered else None

    def target(self, value: Any) -> Target | None:
        """What an ARN value (destination, DLQ, event source) points at; None if it cannot be followed."""
        rendered = self.render(value)
        if rendered is None:
            return None
        logical_id = self.referenced_id(value)
        if logical_id is None:
            logical_id = self.named_id(rendered)
        if logical_id is not None and rendered == f"${{{logical_id}}}":
            resource_type = self.type_of(logical_id)
            kind = KIND_BY_TYPE.get(resource_type) if resource_type is not None else None
            properties = self.properties(logical_id)
            fifo = None
            key = None
            if resource_type == QUEUE:
                fifo = truthy(properties.get("FifoQueue", False))
                key = self.key_of(properties.get("KmsMasterKeyId"))
            elif resource_type == TOPIC:
                fifo = truthy(properties.get("FifoTopic", False))
                key = self.key_of(properties.get("KmsMasterKeyId"))
            elif resource_type == BUCKET:
                key = self._bucket_key(properties)
            return Target(rendered, kind, logical_id, fifo, key)
        service = arn_service(rendered)
        kind = KIND_BY_ARN_SERVICE.get(service) if service else None
        name = rendered.rsplit(":", 1)[-1]
        fifo = name.endswith(".fifo") if kind in (DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC) else None
        return Target(rendered, kind, None, fifo, None)

    def _bucket_key(self, properties: Mapping[str, Any]) -> str | None:
        encryption = as_mapping(properties.get("BucketEncryption"))
        rules = encryption.get("ServerSideEncryptionConfiguration", []) if isinstance(encryption, Mapping) else []
        for sse in rules if isinstance(rules, list) else []:
            default = sse.get("ServerSideEncryptionByDefault", {}) if isinstance(sse, Mapping) else {}
            if isinstance(default, Mapping) and default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return self.key_of(default.get("KMSMasterKeyID"))
        return None

    # --- event source mappings ---------------------------------------------------------------------------

    @cached_property
    def mappings(self) -> list[MappingView]:
        views = []
        for logical_id, properties in self.of_type(MAPPING):
            function_id = self.function_id(properties.get("FunctionName"))
            views.append(
                MappingView(logical_id, properties, function_id, *self._source(properties.get("EventSourceArn")))
            )
        return views

    def _source(self, value: Any) -> tuple[str | None, str | None, str | None]:
        source_id = self.referenced_id(value)
        rendered = self.render(value)
        if source_id is None and rendered is not None:
            source_id = self.named_id(rendered)
        source_type = self.type_of(source_id)
        if source_type == STREAM:
            return KINESIS, source_id, rendered
        if source_type == STREAM_CONSUMER:
            return KINESIS, source_id, rendered
        if source_type in (TABLE, GLOBAL_TABLE):
            return DYNAMODB, source_id, rendered
        if source_type == QUEUE:
            return SQS, source_id, rendered
        if rendered and not rendered.startswith("${"):
            service = arn_service(rendered)
            if service == "kinesis":
                return KINESIS, None, rendered
            if service == "dynamodb" and "/stream/" in rendered:
                return DYNAMODB, None, rendered
            if service == "sqs":
                return SQS, None, rendered
        return None, None, rendered

    def source_key(self, mapping: MappingView) -> str | None:
        """The customer-managed key a mapping's source is encrypted with, if the template tells."""
        source_id = mapping.source_id
        if source_id is None:
            return None
        properties = self.properties(source_id)
        source_type = self.type_of(source_id)
        if source_type == STREAM_CONSUMER:
            stream_id = self.referenced_id(properties.get("StreamARN"))
            return self.source_key_of_stream(stream_id)
        if source_type == STREAM:
            return self.source_key_of_stream(source_id)
        if source_type == QUEUE:
            return self.key_of(properties.get("KmsMasterKeyId"))
        if source_type == TABLE:
            sse = properties.get("SSESpecification", {})
            if isinstance(sse, Mapping) and truthy(sse.get("SSEEnabled")) and sse.get("SSEType", "KMS") == "KMS":
                return self.key_of(sse.get("KMSMasterKeyId"))
        return None

    def source_key_of_stream(self, stream_id: str | None) -> str | None:
        if stream_id is None:
            return None
        encryption = self.properties(stream_id).get("StreamEncryption", {})
        if isinstance(encryption, Mapping) and encryption.get("EncryptionType") == "KMS":
            return self.key_of(encryption.get("KeyId"))
        return None


def matches(pattern: str, value: str) -> bool:
    """IAM-style wildcard match (case-sensitive, as resource ARNs are)."""
    return fnmatch.fnmatchcase(value, pattern)


@dataclass(frozen=True)
class Destination:
    owner: str  # logical id of the EventInvokeConfig, mapping or function that configures it
    role: str  # "OnSuccess", "OnFailure" or "DeadLetterConfig"
    value: Any
    function_id: str | None


def destinations(view: TemplateView) -> Iterator[Destination]:
    """Every destination and dead-letter target configured in the template."""
    for logical_id, properties, function_id in view.invoke_configs:
        config = as_mapping(properties.get("DestinationConfig"))
        for role in ("OnSuccess", "OnFailure"):
            value = as_mapping(config.get(role)).get("Destination")
            if value:
                yield Destination(logical_id, role, value, function_id)
    for mapping in view.mappings:
        value = as_mapping(as_mapping(mapping.properties.get("DestinationConfig")).get("OnFailure")).get("Destination")
        if value:
            yield Destination(mapping.logical_id, "OnFailure", value, mapping.function_id)
    for logical_id, properties in view.of_type(FUNCTION):
        value = as_mapping(properties.get("DeadLetterConfig")).get("TargetArn")
        if value:
            yield Destination(logical_id, "DeadLetterConfig", value, logical_id)
