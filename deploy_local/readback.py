"""Reads every failure-handling setting of a deployed stack back with boto3 and compares it with the template.

The template is the one `cdk deploy` deployed (from cdk.out). Which resources are checked is decided by their
type, never by a list of logical ids, so resources added to an app are read back without changes here:

- AWS::Lambda::EventSourceMapping (GetEventSourceMapping): function, source, enabled, batch size and window,
  ReportBatchItemFailures, filters, max concurrency; for streams also starting position, bisect, retries, record
  age, parallelization, tumbling window and the on-failure destination.
- AWS::Lambda::EventInvokeConfig (GetFunctionEventInvokeConfig): retries, max event age, on-success and
  on-failure destinations.
- AWS::Lambda::Function (GetFunctionConfiguration): DeadLetterConfig.
- AWS::SQS::Queue (GetQueueAttributes): redrive policy (dead-letter queue, maxReceiveCount), redrive allow
  policy, retention, visibility timeout, KMS key.
- AWS::SNS::Subscription (GetSubscriptionAttributes): topic, protocol, endpoint, raw delivery, redrive policy
  (dead-letter queue), filter policy.
- AWS::Events::Rule (ListTargetsByRule): each target's ARN, retry policy and dead-letter queue.
- AWS::CloudWatch::Alarm (DescribeAlarms): metric (or metric math), dimensions, statistic, period, threshold,
  comparison, evaluation periods, datapoints, missing-data treatment, actions.

A setting the template leaves out is compared with AWS's documented default (e.g. a mapping's retries: -1),
so a deployed value that differs from the template in either direction is a mismatch. Logical ids are
resolved to physical ids with DescribeStackResources; `Ref` / `Fn::GetAtt` (and `Fn::Join`, `Fn::Sub`,
`Fn::Select`) in the template are resolved against the deployed resources, read from their own services.
A value that cannot be resolved is a mismatch, never skipped.

`python -m deploy_local.readback` reads back the stacks of a cloud assembly (cdk.out) against whatever account
the environment's credentials (or `--endpoint-url`) point to.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

SUCCESS_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})


class Unresolvable(Exception):
    """A template value that cannot be resolved against the deployed stack."""


# --------------------------------------------------------------------------------------------------------------
# What is read from the account


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    resource_type: str
    physical_id: str
    status: str


class Deployed(Protocol):
    """Read access to a deployed account; `AwsAccount` implements it with boto3, tests with fakes."""

    def stack(self, stack_name: str) -> Mapping[str, Any]: ...

    def stack_resources(self, stack_name: str) -> Mapping[str, StackResource]: ...

    def attribute(self, resource_type: str, physical_id: str, attribute: str) -> Any: ...

    def event_source_mapping(self, uuid: str) -> Mapping[str, Any]: ...

    def event_invoke_config(self, function_name: str, qualifier: str | None) -> Mapping[str, Any] | None: ...

    def function_configuration(self, function_name: str) -> Mapping[str, Any]: ...

    def queue_attributes(self, queue_url: str) -> Mapping[str, str]: ...

    def subscription_attributes(self, subscription_arn: str) -> Mapping[str, str]: ...

    def rule_targets(self, rule_name: str, event_bus_name: str) -> list[Mapping[str, Any]]: ...

    def metric_alarm(self, alarm_name: str) -> Mapping[str, Any] | None: ...


class AwsAccount:
    """`Deployed` through boto3 clients of one session (and endpoint, for the local deploy)."""

    def __init__(self, session: Any, *, endpoint_url: str | None = None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]

    def stack(self, stack_name: str) -> Mapping[str, Any]:
        return self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]

    def stack_resources(self, stack_name: str) -> Mapping[str, StackResource]:
        response = self.client("cloudformation").describe_stack_resources(StackName=stack_name)
        return {
            item["LogicalResourceId"]: StackResource(
                item["LogicalResourceId"],
                item["ResourceType"],
                item.get("PhysicalResourceId", ""),
                item.get("ResourceStatus", ""),
            )
            for item in response["StackResources"]
            # moto also lists the resources it did not create (types it does not model), without any ids
            if item.get("LogicalResourceId")
        }

    def attribute(self, resource_type: str, physical_id: str, attribute: str) -> Any:
        reader = _ATTRIBUTE_READERS.get((resource_type, attribute))
        if reader is None:
            raise Unresolvable(f"Fn::GetAtt {attribute} of {resource_type} is not read back")
        return reader(self, physical_id)

    def event_source_mapping(self, uuid: str) -> Mapping[str, Any]:
        return self.client("lambda").get_event_source_mapping(UUID=uuid)

    def event_invoke_config(self, function_name: str, qualifier: str | None) -> Mapping[str, Any] | None:
        client = self.client("lambda")
        kwargs = {"FunctionName": function_name, **({"Qualifier": qualifier} if qualifier else {})}
        try:
            return client.get_function_event_invoke_config(**kwargs)
        except client.exceptions.ResourceNotFoundException:
            return None

    def function_configuration(self, function_name: str) -> Mapping[str, Any]:
        return self.client("lambda").get_function_configuration(FunctionName=function_name)

    def queue_attributes(self, queue_url: str) -> Mapping[str, str]:
        return self.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]

    def subscription_attributes(self, subscription_arn: str) -> Mapping[str, str]:
        return self.client("sns").get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]

    def rule_targets(self, rule_name: str, event_bus_name: str) -> list[Mapping[str, Any]]:
        paginator = self.client("events").get_paginator("list_targets_by_rule")
        pages = paginator.paginate(Rule=rule_name, EventBusName=event_bus_name)
        return [target for page in pages for target in page["Targets"]]

    def metric_alarm(self, alarm_name: str) -> Mapping[str, Any] | None:
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[alarm_name], AlarmTypes=["MetricAlarm"])
        return next(iter(alarms["MetricAlarms"]), None)


_ATTRIBUTE_READERS: dict[tuple[str, str], Callable[[AwsAccount, str], Any]] = {
    ("AWS::SQS::Queue", "Arn"): lambda aws, url: aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"],
    ("AWS::SQS::Queue", "QueueUrl"): lambda aws, url: url,
    ("AWS::SQS::Queue", "QueueName"): lambda aws, url: url.rstrip("/").rsplit("/", 1)[-1],
    ("AWS::SNS::Topic", "TopicArn"): lambda aws, arn: arn,
    ("AWS::SNS::Topic", "TopicName"): lambda aws, arn: arn.rsplit(":", 1)[-1],
    ("AWS::Lambda::Function", "Arn"): lambda aws, name: aws.function_configuration(name)["FunctionArn"],
    ("AWS::Kinesis::Stream", "Arn"): lambda aws, name: aws.client("kinesis").describe_stream_summary(StreamName=name)[
        "StreamDescriptionSummary"
    ]["StreamARN"],
    ("AWS::DynamoDB::Table", "Arn"): lambda aws, name: aws.client("dynamodb").describe_table(TableName=name)["Table"][
        "TableArn"
    ],
    ("AWS::DynamoDB::Table", "StreamArn"): lambda aws, name: aws.client("dynamodb").describe_table(TableName=name)[
        "Table"
    ]["LatestStreamArn"],
    ("AWS::Events::EventBus", "Arn"): lambda aws, name: aws.client("events").describe_event_bus(Name=name)["Arn"],
    ("AWS::Events::EventBus", "Name"): lambda aws, name: name,
    ("AWS::KMS::Key", "Arn"): lambda aws, key_id: aws.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"],
    ("AWS::KMS::Key", "KeyId"): lambda aws, key_id: aws.client("kms").describe_key(KeyId=key_id)["KeyMetadata"][
        "KeyId"
    ],
    ("AWS::CloudWatch::Alarm", "Arn"): lambda aws, name: (aws.metric_alarm(name) or {}).get("AlarmArn"),
    ("AWS::IAM::Role", "Arn"): lambda aws, name: aws.client("iam").get_role(RoleName=name)["Role"]["Arn"],
}


# --------------------------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Check:
    """One setting of one resource: the template's value, the deployed value, and whether they agree."""

    stack: str
    logical_id: str
    kind: str
    setting: str
    expected: Any
    actual: Any
    ok: bool
    note: str = ""


@dataclass
class StackReport:
    stack: str
    status: str
    checks: list[Check] = field(default_factory=list)
    # Resources of the template that are not in the deployed stack and have no failure-handling settings
    # (logical id -> type): the emulator's CloudFormation does not model their type (e.g. queue policies).
    not_deployed: dict[str, str] = field(default_factory=dict)
    # Deployed resources without failure-handling settings (logical id -> type).
    other_resources: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    stacks: list[StackReport] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        return [check for stack in self.stacks for check in stack.checks]

    @property
    def mismatches(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def ok(self) -> bool:
        return bool(self.stacks) and not self.mismatches

    def coverage(self) -> Counter[str]:
        """How many resources of each kind were read back."""
        return Counter(kind for _stack, _logical_id, kind in {(c.stack, c.logical_id, c.kind) for c in self.checks})

    def render(self) -> str:
        return render(self)


# --------------------------------------------------------------------------------------------------------------
# Resolving template values against the deployed stack

NO_VALUE = object()  # what Ref AWS::NoValue resolves to: the property is left out


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        stack: Mapping[str, Any],
        resources: Mapping[str, StackResource],
        deployed: Deployed,
    ) -> None:
        self.template = template
        self.resources = resources
        self.deployed = deployed
        stack_id = stack.get("StackId", "")
        arn = stack_id.split(":")
        self.pseudo = {
            "AWS::StackName": stack.get("StackName", ""),
            "AWS::StackId": stack_id,
            "AWS::Partition": arn[1] if len(arn) > 4 else "aws",
            "AWS::Region": arn[3] if len(arn) > 4 else "",
            "AWS::AccountId": arn[4] if len(arn) > 4 else "",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Sub":
                return self.sub(argument)
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(f"{key} is not resolved by the read-back")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise Unresolvable(f"Ref {name}: not a deployed resource of the stack")
        return resource.physical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute}: not a deployed resource of the stack")
        return self.deployed.attribute(resource.resource_type, resource.physical_id, attribute)

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# --------------------------------------------------------------------------------------------------------------
# Comparing values


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or key.startswith("Fn::")


def _missing(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def same(expected: Any, actual: Any) -> bool:
    """Whether a template value and a deployed value agree: numbers and booleans also as the strings SQS and SNS
    return, JSON documents by content, lists of response types in any order."""
    if _missing(expected) or _missing(actual):
        return _missing(expected) and _missing(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    if isinstance(expected, int | float) or isinstance(actual, int | float):
        try:
            return float(expected) == float(actual)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return _as_json(expected) == _as_json(actual)
    return str(expected) == str(actual)


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(value)
    return value


def _json_attribute(value: Any) -> Any:
    """A JSON document given as a string (SQS and SNS return policies so), parsed; anything else as it is."""
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def function_identity(value: Any) -> tuple[str, str | None] | None:
    """(name, qualifier) of a function given as name, name:qualifier, partial or full ARN (as Lambda accepts it)."""
    if not isinstance(value, str) or not value:
        return None
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) >= 7:
        return parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":  # account:function:name[:qualifier]
        return parts[2], parts[3] if len(parts) > 3 else None
    return parts[0], parts[1] if len(parts) > 1 else None


def same_function(expected: Any, actual: Any) -> bool:
    """Whether two function references name the same function (an unqualified reference means $LATEST)."""
    expected_id, actual_id = function_identity(expected), function_identity(actual)
    if expected_id is None or actual_id is None:
        return expected_id == actual_id
    return expected_id[0] == actual_id[0] and (expected_id[1] or "$LATEST") == (actual_id[1] or "$LATEST")


def dig(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


# --------------------------------------------------------------------------------------------------------------
# Checkers: one per resource type, each reads the resource and compares its settings


class _Absent:
    def __repr__(self) -> str:
        return "(not set)"


ABSENT = _Absent()


@dataclass
class ResourceCheck:
    """Collects the checks of one resource."""

    stack: str
    logical_id: str
    kind: str
    properties: Mapping[str, Any]
    resolver: Resolver
    checks: list[Check] = field(default_factory=list)

    def add(self, setting: str, expected: Any, actual: Any, ok: bool, note: str = "") -> None:
        self.checks.append(Check(self.stack, self.logical_id, self.kind, setting, expected, actual, ok, note))

    def expected(self, path: str) -> Any:
        """The template's value at `path`, resolved; ABSENT if the template leaves it out. A step of the path may
        be a JSON document given as a string (or built by an intrinsic), as policies often are."""
        value: Any = self.properties
        for key in path.split("."):
            value = self.resolver.resolve(value) if _is_intrinsic(value) else value
            if isinstance(value, str):
                value = _json_attribute(value)
            if not isinstance(value, Mapping) or value.get(key) is None:
                return ABSENT
            value = value[key]
        return self.resolver.resolve(value)

    def compare(
        self,
        setting: str,
        actual: Any,
        *,
        path: str | None = None,
        default: Any = None,
        equal: Callable[[Any, Any], bool] = same,
        only_if_set: bool = False,
    ) -> None:
        """Compare the template's value at `path` (default: `setting`) with `actual`. Without a template value
        the deployed value must be absent or equal to AWS's `default`; `only_if_set` skips such settings."""
        try:
            expected = self.expected(path or setting)
        except Unresolvable as error:
            self.add(setting, "(unresolvable)", actual, False, str(error))
            return
        if expected is ABSENT:
            if only_if_set:
                return
            ok = _missing(actual) or (default is not None and equal(default, actual))
            self.add(setting, default if default is not None else ABSENT, actual, ok, "AWS default")
            return
        self.add(setting, expected, actual, equal(expected, actual))


def _source_kind(event_source_arn: Any) -> str:
    if isinstance(event_source_arn, str) and event_source_arn.startswith("arn:"):
        return event_source_arn.split(":")[2]
    return "unknown"


STREAM_DEFAULTS = {
    "BatchSize": 100,
    "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "ParallelizationFactor": 1,
}


def check_event_source_mapping(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    mapping = deployed.event_source_mapping(resource.physical_id)
    source = _source_kind(mapping.get("EventSourceArn"))
    check.kind = f"event source mapping ({source})"
    check.compare("FunctionName", mapping.get("FunctionArn"), equal=same_function)
    check.compare("EventSourceArn", mapping.get("EventSourceArn"))
    check.compare("Enabled", mapping.get("State") in ("Enabled", "Enabling", "Updating", "Creating"), default=True)
    check.compare("BatchSize", mapping.get("BatchSize"), default=10 if source == "sqs" else 100)
    check.compare("MaximumBatchingWindowInSeconds", mapping.get("MaximumBatchingWindowInSeconds"), default=0)
    check.compare("FunctionResponseTypes", mapping.get("FunctionResponseTypes"))
    check.compare("FilterCriteria", mapping.get("FilterCriteria"))
    check.compare("ScalingConfig.MaximumConcurrency", dig(mapping, "ScalingConfig.MaximumConcurrency"))
    stream = source in ("kinesis", "dynamodb")
    check.compare("StartingPosition", mapping.get("StartingPosition"), only_if_set=not stream)
    for setting in ("BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds"):
        check.compare(setting, mapping.get(setting), default=STREAM_DEFAULTS[setting], only_if_set=not stream)
    check.compare("ParallelizationFactor", mapping.get("ParallelizationFactor"), default=1, only_if_set=not stream)
    check.compare("TumblingWindowInSeconds", mapping.get("TumblingWindowInSeconds"), default=0, only_if_set=True)
    check.compare("DestinationConfig.OnFailure.Destination", dig(mapping, "DestinationConfig.OnFailure.Destination"))


def check_event_invoke_config(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    try:
        function_name = check.expected("FunctionName")
        qualifier = check.expected("Qualifier")
    except Unresolvable as error:
        check.add("FunctionName", "(unresolvable)", None, False, str(error))
        return
    config = deployed.event_invoke_config(function_name, None if qualifier is ABSENT else qualifier)
    if config is None:
        check.add("(configuration)", f"{function_name}:{qualifier}", None, False, "no event invoke config deployed")
        return
    check.compare("MaximumRetryAttempts", config.get("MaximumRetryAttempts"), default=2)
    check.compare("MaximumEventAgeInSeconds", config.get("MaximumEventAgeInSeconds"), default=21600)
    for outcome in ("OnSuccess", "OnFailure"):
        path = f"DestinationConfig.{outcome}.Destination"
        check.compare(path, dig(config, path))


def check_function(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    configuration = deployed.function_configuration(resource.physical_id)
    check.compare("DeadLetterConfig.TargetArn", dig(configuration, "DeadLetterConfig.TargetArn"))


def check_queue(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    attributes = deployed.queue_attributes(resource.physical_id)
    redrive = _json_attribute(attributes.get("RedrivePolicy"))
    check.compare("RedrivePolicy.deadLetterTargetArn", dig(redrive, "deadLetterTargetArn"))
    check.compare("RedrivePolicy.maxReceiveCount", dig(redrive, "maxReceiveCount"))
    check.compare("RedriveAllowPolicy", attributes.get("RedriveAllowPolicy"), only_if_set=True)
    check.compare("MessageRetentionPeriod", attributes.get("MessageRetentionPeriod"), default=345600)
    check.compare("VisibilityTimeout", attributes.get("VisibilityTimeout"), default=30)
    check.compare("KmsMasterKeyId", attributes.get("KmsMasterKeyId"), only_if_set=True)


def check_subscription(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    attributes = deployed.subscription_attributes(resource.physical_id)
    for setting in ("TopicArn", "Protocol", "Endpoint"):
        check.compare(setting, attributes.get(setting))
    check.compare("RawMessageDelivery", attributes.get("RawMessageDelivery"), default=False)
    redrive = _json_attribute(attributes.get("RedrivePolicy"))
    check.compare("RedrivePolicy.deadLetterTargetArn", dig(redrive, "deadLetterTargetArn"))
    check.compare("FilterPolicy", attributes.get("FilterPolicy"), only_if_set=True)


def check_rule(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    if "|" in resource.physical_id:  # CloudFormation's id of a rule on a custom bus: "bus|rule"
        bus, name = resource.physical_id.split("|", 1)
    else:
        name = resource.physical_id
        try:
            bus = check.expected("EventBusName")
        except Unresolvable as error:
            check.add("EventBusName", "(unresolvable)", None, False, str(error))
            return
        bus = "default" if bus is ABSENT else bus.rsplit("/", 1)[-1]
    targets = {target["Id"]: target for target in deployed.rule_targets(name, bus)}
    template_targets = check.properties.get("Targets") or []
    for template_target in template_targets:
        target_id = template_target.get("Id")
        target = targets.get(target_id)
        prefix = f"Targets[{target_id}]"
        if target is None:
            check.add(prefix, target_id, None, False, "target not deployed")
            continue
        target_check = ResourceCheck(check.stack, check.logical_id, check.kind, template_target, check.resolver)
        target_check.compare("Arn", target.get("Arn"))
        target_check.compare(
            "RetryPolicy.MaximumRetryAttempts", dig(target, "RetryPolicy.MaximumRetryAttempts"), default=185
        )
        target_check.compare(
            "RetryPolicy.MaximumEventAgeInSeconds", dig(target, "RetryPolicy.MaximumEventAgeInSeconds"), default=86400
        )
        target_check.compare("DeadLetterConfig.Arn", dig(target, "DeadLetterConfig.Arn"))
        for item in target_check.checks:
            check.checks.append(Check(**{**item.__dict__, "setting": f"{prefix}.{item.setting}"}))
    extra = sorted(set(targets) - {t.get("Id") for t in template_targets})
    if extra:
        check.add("Targets", "(only the template's)", extra, False, "targets not in the template")


def _dimensions(value: Any) -> set[tuple[str, str]] | None:
    if not value:
        return None
    return {(str(item.get("Name")), str(item.get("Value"))) for item in value}


def same_dimensions(expected: Any, actual: Any) -> bool:
    return _dimensions(expected) == _dimensions(actual)


def _metric_queries(value: Any) -> list[Any] | None:
    """An alarm's metric math queries without the fields that only say "not set", dimensions as sets."""
    if not value:
        return None
    queries = []
    for query in value:
        stat = query.get("MetricStat") or {}
        metric = stat.get("Metric") or {}
        queries.append(
            {
                key: item
                for key, item in {
                    "Id": query.get("Id"),
                    "Expression": query.get("Expression"),
                    "Label": query.get("Label"),
                    "ReturnData": query.get("ReturnData", True),
                    "Period": query.get("Period"),
                    "Namespace": metric.get("Namespace"),
                    "MetricName": metric.get("MetricName"),
                    "Dimensions": _dimensions(metric.get("Dimensions")),
                    "StatPeriod": stat.get("Period"),
                    "Stat": stat.get("Stat"),
                    "Unit": stat.get("Unit"),
                }.items()
                if item is not None
            }
        )
    return sorted(queries, key=lambda query: str(query.get("Id")))


def same_metric_queries(expected: Any, actual: Any) -> bool:
    return _metric_queries(expected) == _metric_queries(actual)


def check_alarm(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    alarm = deployed.metric_alarm(resource.physical_id)
    if alarm is None:
        check.add("(alarm)", resource.physical_id, None, False, "no metric alarm of that name")
        return
    for setting in ("Namespace", "MetricName", "Statistic", "ExtendedStatistic", "Period", "Unit"):
        check.compare(setting, alarm.get(setting))
    for setting in ("ComparisonOperator", "Threshold", "EvaluationPeriods"):
        check.compare(setting, alarm.get(setting))
    check.compare("DatapointsToAlarm", alarm.get("DatapointsToAlarm"), only_if_set=True)
    check.compare("TreatMissingData", alarm.get("TreatMissingData"), default="missing")
    check.compare("Dimensions", alarm.get("Dimensions"), equal=same_dimensions)
    check.compare("Metrics", alarm.get("Metrics"), equal=same_metric_queries)
    check.compare("ActionsEnabled", alarm.get("ActionsEnabled"), default=True)
    for setting in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        check.compare(setting, alarm.get(setting))


Checker = Callable[[StackResource, ResourceCheck, Deployed], None]

CHECKERS: dict[str, tuple[str, Checker]] = {
    "AWS::Lambda::EventSourceMapping": ("event source mapping", check_event_source_mapping),
    "AWS::Lambda::EventInvokeConfig": ("event invoke config", check_event_invoke_config),
    "AWS::Lambda::Function": ("function", check_function),
    "AWS::SQS::Queue": ("queue", check_queue),
    "AWS::SNS::Subscription": ("SNS subscription", check_subscription),
    "AWS::Events::Rule": ("EventBridge rule", check_rule),
    "AWS::CloudWatch::Alarm": ("alarm", check_alarm),
}


# --------------------------------------------------------------------------------------------------------------


def read_back_stack(stack_name: str, template: Mapping[str, Any], deployed: Deployed) -> StackReport:
    stack = deployed.stack(stack_name)
    status = stack.get("StackStatus", "")
    report = StackReport(stack_name, status)
    report.checks.append(
        Check(
            stack_name,
            stack_name,
            "stack",
            "StackStatus",
            "CREATE_COMPLETE or UPDATE_COMPLETE",
            status,
            status in SUCCESS_STATUSES,
        )
    )
    resources = deployed.stack_resources(stack_name)
    resolver = Resolver(template, stack, resources, deployed)
    for logical_id, definition in template.get("Resources", {}).items():
        resource_type = definition.get("Type", "")
        checker = CHECKERS.get(resource_type)
        resource = resources.get(logical_id)
        if checker is None:
            if resource is None:
                report.not_deployed[logical_id] = resource_type
            else:
                report.other_resources[logical_id] = resource_type
            continue
        kind, read = checker
        check = ResourceCheck(stack_name, logical_id, kind, definition.get("Properties") or {}, resolver)
        if resource is None:
            check.add("(resource)", "deployed", None, False, f"{resource_type} not in the deployed stack")
        else:
            try:
                read(resource, check, deployed)
            except Unresolvable as error:
                check.add("(resource)", "readable", None, False, str(error))
            except Exception as error:  # an API error reading a resource is a finding, not a crash
                check.add("(resource)", "readable", None, False, f"{type(error).__name__}: {error}")
        report.checks.extend(check.checks)
    return report


def stacks_in_assembly(cdk_out: Path) -> dict[str, Path]:
    """Stack name -> template file of every stack in a cloud assembly (nested assemblies included)."""
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    stacks: dict[str, Path] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        properties = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":
            stacks[properties.get("stackName", artifact_id)] = cdk_out / properties["templateFile"]
        elif artifact.get("type") == "cdk:cloud-assembly":
            stacks.update(stacks_in_assembly(cdk_out / properties["directoryName"]))
    return stacks


def read_back(cdk_out: Path, deployed: Deployed, *, stacks: Iterable[str] | None = None) -> Report:
    """Read back every stack of the cloud assembly (or only `stacks`)."""
    templates = stacks_in_assembly(cdk_out)
    wanted = list(templates) if stacks is None else list(stacks)
    report = Report()
    for name in wanted:
        template = json.loads(templates[name].read_text())
        report.stacks.append(read_back_stack(name, template, deployed))
    return report


# --------------------------------------------------------------------------------------------------------------
# Rendering


def _show(value: Any) -> str:
    if value is ABSENT or value is None:
        return "(not set)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def render(report: Report) -> str:
    lines: list[str] = []
    for stack in report.stacks:
        mismatches = [c for c in stack.checks if not c.ok]
        verdict = "all match" if not mismatches else f"{len(mismatches)} MISMATCH(ES)"
        lines.append(f"== {stack.stack} ({stack.status}): {len(stack.checks)} settings read back, {verdict}")
        current = None
        for check in stack.checks:
            if check.logical_id == stack.stack and check.kind == "stack":
                continue
            if (check.logical_id, check.kind) != current:
                current = (check.logical_id, check.kind)
                lines.append(f"  {check.kind}: {check.logical_id}")
            mark = "ok      " if check.ok else "MISMATCH"
            note = f"  ({check.note})" if check.note else ""
            if check.ok and _show(check.expected) == _show(check.actual):
                detail = _show(check.actual)
            else:
                detail = f"template {_show(check.expected)} | deployed {_show(check.actual)}"
            lines.append(f"    {mark} {check.setting:<44} {detail}{note}")
        if stack.not_deployed:
            counts = Counter(stack.not_deployed.values())
            listed = ", ".join(f"{t} x{n}" for t, n in sorted(counts.items()))
            lines.append(f"  not created by the emulator (no failure-handling settings): {listed}")
    coverage = report.coverage()
    lines.append(
        "read back: " + ", ".join(f"{kind} x{count}" for kind, count in sorted(coverage.items()) if kind != "stack")
    )
    lines.append(
        f"RESULT: {len(report.checks)} settings, "
        + ("no mismatches" if report.ok else f"{len(report.mismatches)} mismatch(es)")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Read back the failure-handling settings of deployed stacks.")
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"), help="the cloud assembly that was deployed")
    parser.add_argument("--endpoint-url", help="an AWS endpoint (default: the SDK's own)")
    parser.add_argument("stacks", nargs="*", help="stack names (default: every stack of the assembly)")
    args = parser.parse_args(argv)

    import boto3

    report = read_back(
        args.cdk_out, AwsAccount(boto3.Session(), endpoint_url=args.endpoint_url), stacks=args.stacks or None
    )
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
