"""Comparing a deployed stack's failure-handling settings with its template, resource by resource. Pure: the
live values come through `Deployed`, so every rule here is testable without boto3.

Which resources are read is decided by their type, never by a list of logical ids:

- AWS::Lambda::EventSourceMapping: function, source, enabled, batch size and window, response types, filters,
  scaling, metrics; for streams also starting position, bisect, retries, record age, parallelization, tumbling
  window and the on-failure destination.
- AWS::Lambda::EventInvokeConfig: the configuration of the template's qualifier (and that qualifier, as the
  API's FunctionArn names it), retries, max event age, on-success and on-failure destinations.
- AWS::Lambda::Function: DeadLetterConfig, and asynchronous invocation configured on it outside the template.
- AWS::SQS::Queue: redrive policy, redrive allow policy, retention, visibility timeout, size, KMS key.
- AWS::SNS::Subscription: topic, protocol, endpoint, raw delivery, redrive policy, filter policy.
- AWS::Events::Rule: each target's ARN, retry policy and dead-letter queue.
- AWS::CloudWatch::Alarm: metric or metric math, dimensions, statistic, period, threshold, evaluation, actions.
- AWS::CloudFormation::Stack: the nested stack, verified the same way.

Outcomes: a setting the template gives is a match or a drift (a live value that is absent is a drift: a removed
destination reads as nothing). A setting the template leaves out is compared with AWS's documented default, or
must be absent where AWS's default is "none" -- but only when the API reports a value: when it reports nothing,
the setting is NOT VERIFIED, never a match. A template value that cannot be resolved is not verified either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_lib import limits
from constructs_lib.verify.deployed import (
    Deployed,
    Grant,
    NotReadable,
    ResourceGone,
    StackNotReadable,
    StackResource,
    Unresolvable,
)
from constructs_lib.verify.model import ABSENT, Check, Outcome, Report, StackReport
from constructs_lib.verify.resolve import NO_VALUE, Resolver, is_intrinsic

# Stable states in which the stack's resources are those of its last successful deployment.
STABLE_STATUSES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)

NESTED_STACK = "AWS::CloudFormation::Stack"


class _NoneByDefault:
    """AWS's default of a setting is "not set" (no destination, no DLQ, no redrive policy)."""

    def __repr__(self) -> str:
        return "(not set)"


NONE_BY_DEFAULT: Any = _NoneByDefault()


# --------------------------------------------------------------------------------------------------------------
# Comparing values


def missing(value: Any) -> bool:
    return value is None or value is ABSENT or value == "" or value == [] or value == {}


def same(expected: Any, actual: Any) -> bool:
    """Whether a template value and a live value agree: numbers and booleans also as the strings SQS and SNS
    return, JSON documents by content, lists of strings (e.g. response types) in any order."""
    if missing(expected) or missing(actual):
        return missing(expected) and missing(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    if isinstance(expected, int | float) or isinstance(actual, int | float):
        try:
            return float(expected) == float(actual)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return bool(_as_json(expected) == _as_json(actual))
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


def json_attribute(value: Any) -> Any:
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
# Collecting the checks of one resource


@dataclass
class ResourceCheck:
    stack: str
    logical_id: str
    resource_type: str
    kind: str
    properties: Mapping[str, Any]
    resolver: Resolver
    checks: list[Check] = field(default_factory=list)

    def add(self, setting: str, expected: Any, actual: Any, outcome: Outcome, note: str = "") -> None:
        self.checks.append(
            Check(self.stack, self.logical_id, self.resource_type, self.kind, setting, expected, actual, outcome, note)
        )

    def expected(self, path: str) -> Any:
        """The template's value at `path`, resolved; ABSENT if the template leaves it out. A step of the path may
        be a JSON document given as a string (or built by an intrinsic), as policies often are."""
        value: Any = self.properties
        for key in path.split("."):
            value = self.resolver.resolve(value) if is_intrinsic(value) else value
            if isinstance(value, str):
                value = json_attribute(value)
            if not isinstance(value, Mapping) or value.get(key) is None:
                return ABSENT
            value = value[key]
        resolved = self.resolver.resolve(value)
        return ABSENT if resolved is NO_VALUE else resolved

    def compare(
        self,
        setting: str,
        actual: Any,
        *,
        path: str | None = None,
        default: Any = NONE_BY_DEFAULT,
        equal: Callable[[Any, Any], bool] = same,
        only_if_set: bool = False,
    ) -> None:
        """Compare the template's value at `path` (default: `setting`) with the live value `actual`.

        Without a template value, a live value must equal AWS's `default` (or be absent where the default is
        NONE_BY_DEFAULT); a live value the API does not report is not verified. `only_if_set` compares the
        setting only when the template gives it (AWS's default is not documented or varies)."""
        try:
            expected = self.expected(path or setting)
        except Unresolvable as error:
            self.add(setting, "(unresolvable)", actual, Outcome.NOT_VERIFIED, f"template value: {error}")
            return
        if expected is not ABSENT:
            if missing(actual) and not missing(expected):
                self.add(setting, expected, ABSENT, Outcome.DRIFT, "not set on the live resource")
            else:
                self.add(setting, expected, actual, Outcome.MATCH if equal(expected, actual) else Outcome.DRIFT)
            return
        if only_if_set:
            return
        if missing(actual):
            shown = ABSENT if default is NONE_BY_DEFAULT else default
            self.add(setting, shown, ABSENT, Outcome.NOT_VERIFIED, "not in the template; the API reports no value")
        elif default is NONE_BY_DEFAULT:
            self.add(setting, ABSENT, actual, Outcome.DRIFT, "set on the live resource, not in the template")
        else:
            outcome = Outcome.MATCH if equal(default, actual) else Outcome.DRIFT
            self.add(setting, default, actual, outcome, "AWS default")


# --------------------------------------------------------------------------------------------------------------
# The execution role's effective grant on a live destination

_KIND_BY_SERVICE = {
    "sqs": limits.DestinationKind.SQS_QUEUE,
    "sns": limits.DestinationKind.SNS_TOPIC,
    "lambda": limits.DestinationKind.LAMBDA_FUNCTION,
    "events": limits.DestinationKind.EVENT_BUS,
    "s3": limits.DestinationKind.S3_BUCKET,
}


def check_grant(check: ResourceCheck, deployed: Deployed, function_name: Any, setting: str, target: Any) -> None:
    """May the function's execution role deliver to the live destination of `setting`? Asked of IAM's policy
    simulation, so a statement removed from the role (records then fail to arrive, silently) is found."""
    if missing(target) or not isinstance(target, str) or not isinstance(function_name, str):
        return
    parts = target.split(":")
    kind = _KIND_BY_SERVICE.get(parts[2]) if target.startswith("arn:") and len(parts) > 2 else None
    if kind is None:
        return
    actions = limits.DELIVERY_ACTIONS[kind]
    try:
        grant: Grant = deployed.delivery_decisions(function_name, actions, target)
    except (NotReadable, ResourceGone) as error:
        for action in actions:
            check.add(f"{setting} ({action})", "allowed", ABSENT, Outcome.NOT_VERIFIED, str(error))
        return
    for action in actions:
        decision = grant.decisions.get(action, "")
        # In the target's account, its own resource policy may allow what the role's policies do not.
        conclusive = grant.cross_account or grant.target_policy is False
        if decision == "allowed":
            outcome, note = Outcome.MATCH, ""
        elif decision == "explicitDeny" or (decision == "implicitDeny" and conclusive):
            outcome, note = Outcome.DRIFT, f"{grant.role_arn} may not {action} it: failure records are lost"
        elif decision == "implicitDeny":
            outcome, note = Outcome.NOT_VERIFIED, "the role's policies do not allow it; the target's own policy may"
        else:
            outcome, note = Outcome.NOT_VERIFIED, "IAM policy simulation gave no decision"
        check.add(f"{setting} ({action})", "allowed", decision or ABSENT, outcome, note)


# --------------------------------------------------------------------------------------------------------------
# One reader per resource type


def _source_kind(event_source_arn: Any) -> str:
    if isinstance(event_source_arn, str) and event_source_arn.startswith("arn:"):
        return event_source_arn.split(":")[2]
    return "unknown"


STREAM_SOURCES = ("kinesis", "dynamodb")


def check_event_source_mapping(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    mapping = deployed.event_source_mapping(resource.physical_id)
    source = _source_kind(mapping.get("EventSourceArn"))
    check.kind = f"event source mapping ({source})"
    stream = source in STREAM_SOURCES
    check.compare("FunctionName", mapping.get("FunctionArn"), equal=same_function)
    check.compare("EventSourceArn", mapping.get("EventSourceArn"))
    state = mapping.get("State")
    enabled = None if state is None else state in ("Enabled", "Enabling", "Updating", "Creating")
    check.compare("Enabled", enabled, default=True)
    batch_size = limits.SQS_MAPPING_DEFAULT_BATCH_SIZE if source == "sqs" else limits.MAPPING_DEFAULT_BATCH_SIZE
    check.compare("BatchSize", mapping.get("BatchSize"), default=batch_size)
    check.compare(
        "MaximumBatchingWindowInSeconds",
        mapping.get("MaximumBatchingWindowInSeconds"),
        default=limits.MAPPING_DEFAULT_BATCHING_WINDOW_SECONDS,
    )
    check.compare("FunctionResponseTypes", mapping.get("FunctionResponseTypes"))
    check.compare("FilterCriteria", mapping.get("FilterCriteria"))
    check.compare("ScalingConfig.MaximumConcurrency", dig(mapping, "ScalingConfig.MaximumConcurrency"))
    check.compare("MetricsConfig.Metrics", dig(mapping, "MetricsConfig.Metrics"))
    # Provisioned mode (SQS, Kafka): compared when the template sets it; AWS's defaults differ by source.
    for poller_setting in ("ProvisionedPollerConfig.MinimumPollers", "ProvisionedPollerConfig.MaximumPollers"):
        check.compare(poller_setting, dig(mapping, poller_setting), only_if_set=True)
    check.compare("StartingPosition", mapping.get("StartingPosition"), only_if_set=True)
    stream_defaults = {
        "BisectBatchOnFunctionError": limits.STREAM_DEFAULT_BISECT_BATCH_ON_ERROR,
        "MaximumRetryAttempts": limits.LIMITS["stream.retry_attempts"].aws_default,
        "MaximumRecordAgeInSeconds": limits.LIMITS["stream.max_record_age"].aws_default,
        "ParallelizationFactor": limits.LIMITS["stream.parallelization_factor"].aws_default,
    }
    for setting, default in stream_defaults.items():
        check.compare(setting, mapping.get(setting), default=default, only_if_set=not stream)
    check.compare("TumblingWindowInSeconds", mapping.get("TumblingWindowInSeconds"), only_if_set=True)
    check.compare(
        "DestinationConfig.OnFailure.Destination",
        dig(mapping, "DestinationConfig.OnFailure.Destination"),
        only_if_set=not stream,
    )
    if stream:  # Lambda delivers a mapping's failure records with the function's execution role
        target = dig(mapping, "DestinationConfig.OnFailure.Destination")
        check_grant(check, deployed, mapping.get("FunctionArn"), "DestinationConfig.OnFailure.Destination", target)


def _template_invoke_config_target(check: ResourceCheck) -> tuple[str, str]:
    function_name = check.expected("FunctionName")
    qualifier = check.expected("Qualifier")
    identity = function_identity(function_name)
    if identity is None:
        raise Unresolvable("FunctionName is not set")
    if isinstance(qualifier, str) and qualifier.startswith("arn:"):  # `Ref` to a version or an alias is its ARN
        qualifier = (function_identity(qualifier) or ("", None))[1] or "$LATEST"
    return identity[0], "$LATEST" if qualifier is ABSENT else str(qualifier)


def check_event_invoke_config(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    try:
        function_name, qualifier = _template_invoke_config_target(check)
    except Unresolvable as error:
        check.add("FunctionName", "(unresolvable)", ABSENT, Outcome.NOT_VERIFIED, f"template value: {error}")
        return
    try:
        config = deployed.event_invoke_config(function_name, qualifier)
    except ResourceGone:
        check.add("(configuration)", f"{function_name}:{qualifier}", ABSENT, Outcome.DRIFT, "no configuration for it")
        return
    live = function_identity(config.get("FunctionArn"))
    if live is None or live[1] is None:
        # Lambda answers with the qualified ARN; an unqualified one says nothing about which qualifier this is.
        check.add("Qualifier", qualifier, ABSENT, Outcome.NOT_VERIFIED, "the API's FunctionArn names no qualifier")
    else:
        check.add("Qualifier", qualifier, live[1], Outcome.MATCH if live[1] == qualifier else Outcome.DRIFT)
    retry_default = limits.LIMITS["async.retry_attempts"].aws_default
    check.compare("MaximumRetryAttempts", config.get("MaximumRetryAttempts"), default=retry_default)
    check.compare(
        "MaximumEventAgeInSeconds",
        config.get("MaximumEventAgeInSeconds"),
        default=limits.LIMITS["async.max_event_age"].aws_default,
    )
    for outcome in ("OnSuccess", "OnFailure"):
        path = f"DestinationConfig.{outcome}.Destination"
        check.compare(path, dig(config, path))
        check_grant(check, deployed, function_name, path, dig(config, path))


def check_function(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    configuration = deployed.function_configuration(resource.physical_id)
    target = dig(configuration, "DeadLetterConfig.TargetArn")
    check.compare("DeadLetterConfig.TargetArn", target)
    check_grant(check, deployed, resource.physical_id, "DeadLetterConfig.TargetArn", target)


def check_queue(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    attributes = deployed.queue_attributes(resource.physical_id)
    redrive = json_attribute(attributes.get("RedrivePolicy"))
    check.compare("RedrivePolicy.deadLetterTargetArn", dig(redrive, "deadLetterTargetArn"))
    check.compare("RedrivePolicy.maxReceiveCount", dig(redrive, "maxReceiveCount"))
    check.compare("RedriveAllowPolicy", attributes.get("RedriveAllowPolicy"), only_if_set=True)
    check.compare(
        "MessageRetentionPeriod", attributes.get("MessageRetentionPeriod"), default=limits.SQS_DEFAULT_RETENTION_SECONDS
    )
    check.compare(
        "VisibilityTimeout", attributes.get("VisibilityTimeout"), default=limits.SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS
    )
    check.compare("MaximumMessageSize", attributes.get("MaximumMessageSize"), only_if_set=True)
    check.compare("KmsMasterKeyId", attributes.get("KmsMasterKeyId"))


def check_subscription(resource: StackResource, check: ResourceCheck, deployed: Deployed) -> None:
    attributes = deployed.subscription_attributes(resource.physical_id)
    for setting in ("TopicArn", "Protocol", "Endpoint"):
        check.compare(setting, attributes.get(setting), only_if_set=True)
    check.compare("RawMessageDelivery", attributes.get("RawMessageDelivery"), default=False)
    redrive = json_attribute(attributes.get("RedrivePolicy"))
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
            check.add("EventBusName", "(unresolvable)", ABSENT, Outcome.NOT_VERIFIED, f"template value: {error}")
            return
        bus = "default" if bus is ABSENT else str(bus).rsplit("/", 1)[-1]
    targets = {target["Id"]: target for target in deployed.rule_targets(name, bus)}
    template_targets = check.properties.get("Targets") or []
    for template_target in template_targets:
        target_id = template_target.get("Id")
        target = targets.get(target_id)
        prefix = f"Targets[{target_id}]"
        if target is None:
            check.add(prefix, target_id, ABSENT, Outcome.DRIFT, "target not on the live rule")
            continue
        target_check = ResourceCheck(
            check.stack, check.logical_id, check.resource_type, check.kind, template_target, check.resolver
        )
        target_check.compare("Arn", target.get("Arn"))
        target_check.compare(
            "RetryPolicy.MaximumRetryAttempts",
            dig(target, "RetryPolicy.MaximumRetryAttempts"),
            default=limits.EVENTBRIDGE_DEFAULT_RETRY_ATTEMPTS,
        )
        target_check.compare(
            "RetryPolicy.MaximumEventAgeInSeconds",
            dig(target, "RetryPolicy.MaximumEventAgeInSeconds"),
            default=limits.EVENTBRIDGE_DEFAULT_MAX_EVENT_AGE_SECONDS,
        )
        target_check.compare("DeadLetterConfig.Arn", dig(target, "DeadLetterConfig.Arn"))
        for item in target_check.checks:
            check.checks.append(Check(**{**item.__dict__, "setting": f"{prefix}.{item.setting}"}))
    extra = sorted(set(targets) - {t.get("Id") for t in template_targets})
    if extra:
        check.add("Targets", "(only the template's)", extra, Outcome.DRIFT, "targets not in the template")


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
    for setting in ("Namespace", "MetricName", "Statistic", "ExtendedStatistic", "Period", "Unit"):
        check.compare(setting, alarm.get(setting), only_if_set=True)
    for setting in ("ComparisonOperator", "Threshold", "EvaluationPeriods"):
        check.compare(setting, alarm.get(setting), only_if_set=True)
    check.compare("DatapointsToAlarm", alarm.get("DatapointsToAlarm"), only_if_set=True)
    check.compare("TreatMissingData", alarm.get("TreatMissingData"), default="missing")
    check.compare("Dimensions", alarm.get("Dimensions"), equal=same_dimensions, only_if_set=True)
    check.compare("Metrics", alarm.get("Metrics"), equal=same_metric_queries, only_if_set=True)
    check.compare("ActionsEnabled", alarm.get("ActionsEnabled"), default=True)
    for setting in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        check.compare(setting, alarm.get(setting))


Reader = Callable[[StackResource, ResourceCheck, Deployed], None]

READERS: dict[str, tuple[str, Reader]] = {
    "AWS::Lambda::EventSourceMapping": ("event source mapping", check_event_source_mapping),
    "AWS::Lambda::EventInvokeConfig": ("event invoke config", check_event_invoke_config),
    "AWS::Lambda::Function": ("function", check_function),
    "AWS::SQS::Queue": ("queue", check_queue),
    "AWS::SNS::Subscription": ("SNS subscription", check_subscription),
    "AWS::Events::Rule": ("EventBridge rule", check_rule),
    "AWS::CloudWatch::Alarm": ("alarm", check_alarm),
}


# --------------------------------------------------------------------------------------------------------------
# A stack


def _unexpected_invoke_configs(
    stack_name: str,
    template: Mapping[str, Any],
    resources: Mapping[str, StackResource],
    resolver: Resolver,
    deployed: Deployed,
) -> list[Check]:
    """Asynchronous invocation configured on a function of this stack for a qualifier the template does not
    configure (e.g. set in the console): failure handling the template does not describe."""
    configured: set[tuple[str, str]] = set()
    unknown_functions: set[str] = set()
    for logical_id, definition in template.get("Resources", {}).items():
        if definition.get("Type") == "AWS::Lambda::EventInvokeConfig":
            probe = ResourceCheck(stack_name, logical_id, "", "", definition.get("Properties") or {}, resolver)
            try:
                configured.add(_template_invoke_config_target(probe))
            except Unresolvable:
                unknown_functions.add("*")
    checks = []
    for logical_id, resource in resources.items():
        if resource.resource_type != "AWS::Lambda::Function" or "*" in unknown_functions:
            continue
        try:
            live_configs = deployed.event_invoke_configs(resource.physical_id)
        except (ResourceGone, NotReadable):
            continue  # the function's own check reports it
        for config in live_configs:
            identity = function_identity(config.get("FunctionArn"))
            qualifier = identity[1] if identity else None
            if qualifier is None and any(name == resource.physical_id for name, _ in configured):
                continue  # an unqualified answer cannot be matched to a qualifier; the config's own check ran
            if (resource.physical_id, qualifier or "$LATEST") in configured:
                continue
            checks.append(
                Check(
                    stack_name,
                    logical_id,
                    resource.resource_type,
                    "function",
                    f"EventInvokeConfig[{qualifier or '$LATEST'}]",
                    ABSENT,
                    {k: v for k, v in config.items() if k not in ("FunctionArn", "LastModified")},
                    Outcome.DRIFT,
                    "asynchronous invocation configured outside the template",
                )
            )
    return checks


def verify_stack(
    stack_name: str,
    template: Mapping[str, Any],
    deployed: Deployed,
    *,
    nested_template: Callable[[str, Mapping[str, Any], str], Mapping[str, Any] | None] | None = None,
    display_name: str | None = None,
) -> Report:
    """Verify one deployed stack (name or id) against its template; nested stacks become further reports.

    `nested_template(logical_id, definition, nested_stack_id)` gives a nested stack's template (e.g. from the
    cloud assembly); without one, or when it returns None, the nested stack's deployed template is used.
    Raises StackNotReadable when the stack cannot be described."""
    stack = deployed.stack(stack_name)
    name = display_name or stack.get("StackName", stack_name)
    status = stack.get("StackStatus", "")
    stack_report = StackReport(name, status)
    report = Report([stack_report])
    stable = status in STABLE_STATUSES
    stack_report.checks.append(
        Check(
            name,
            name,
            "AWS::CloudFormation::Stack",
            "stack",
            "StackStatus",
            "a stable, deployed state",
            status,
            Outcome.MATCH if stable else Outcome.DRIFT,
            "" if stable else "the stack is not in a stable, deployed state",
        )
    )
    resources = deployed.stack_resources(stack.get("StackId", stack_name))
    resolver = Resolver(template, stack, resources, deployed)
    for logical_id, definition in (template.get("Resources") or {}).items():
        resource_type = definition.get("Type", "")
        resource = resources.get(logical_id)
        if "Condition" in definition:
            try:
                wanted = resolver.condition(definition["Condition"])
            except Unresolvable:
                wanted = True  # not evaluated: the resource is checked as if the condition held
            if not wanted and resource is None:
                stack_report.conditional[logical_id] = resource_type
                continue
            if not wanted:
                assert resource is not None  # a resource neither wanted nor deployed was skipped above
                stack_report.checks.append(
                    Check(
                        name,
                        logical_id,
                        resource_type,
                        READERS.get(resource_type, ("resource",))[0],
                        "(resource)",
                        ABSENT,
                        resource.physical_id,
                        Outcome.DRIFT,
                        f"deployed although its condition {definition['Condition']} is false",
                    )
                )
                continue
        if resource_type == NESTED_STACK:
            _verify_nested(report, name, logical_id, definition, resource, deployed, nested_template)
            continue
        reader = READERS.get(resource_type)
        if reader is None:
            if resource is None:
                stack_report.not_deployed[logical_id] = resource_type
            continue
        kind, read = reader
        check = ResourceCheck(name, logical_id, resource_type, kind, definition.get("Properties") or {}, resolver)
        if resource is None or not resource.physical_id:
            check.add("(resource)", "deployed", ABSENT, Outcome.DRIFT, f"{resource_type} not in the deployed stack")
        else:
            try:
                read(resource, check, deployed)
            except ResourceGone as error:
                check.add("(resource)", "exists", ABSENT, Outcome.DRIFT, f"deleted outside CloudFormation: {error}")
            except NotReadable as error:
                check.add("(resource)", "readable", ABSENT, Outcome.NOT_VERIFIED, str(error))
            except Unresolvable as error:
                check.add("(resource)", "readable", ABSENT, Outcome.NOT_VERIFIED, f"template value: {error}")
        stack_report.checks.extend(check.checks)
    stack_report.checks.extend(_unexpected_invoke_configs(name, template, resources, resolver, deployed))
    return report


def _verify_nested(
    report: Report,
    parent: str,
    logical_id: str,
    definition: Mapping[str, Any],
    resource: StackResource | None,
    deployed: Deployed,
    nested_template: Callable[[str, Mapping[str, Any], str], Mapping[str, Any] | None] | None,
) -> None:
    stack_report = report.stacks[0]
    display = f"{parent}/{logical_id}"
    if resource is None or not resource.physical_id:
        stack_report.checks.append(
            Check(
                parent,
                logical_id,
                NESTED_STACK,
                "nested stack",
                "(resource)",
                "deployed",
                ABSENT,
                Outcome.DRIFT,
                "nested stack not in the deployed stack",
            )
        )
        return
    try:
        template = nested_template(logical_id, definition, resource.physical_id) if nested_template else None
        if template is None:
            template = deployed.deployed_template(resource.physical_id)
        nested = verify_stack(
            resource.physical_id, template, deployed, nested_template=nested_template, display_name=display
        )
    except (StackNotReadable, NotReadable, ResourceGone) as error:
        stack_report.checks.append(
            Check(
                parent,
                logical_id,
                NESTED_STACK,
                "nested stack",
                "(stack)",
                "readable",
                ABSENT,
                Outcome.NOT_VERIFIED,
                str(error),
            )
        )
        return
    report.stacks.extend(nested.stacks)
