"""Alarms for every failure path, with the namespace, metric and dimensions of the resource they watch.

Three small layers, in the spirit of cdk-monitoring-constructs:

1. Metric builders: pure functions from a queue, function or stream to a ``cloudwatch.Metric`` (namespace,
   metric name, dimensions, statistic, period). A Version or Alias is watched through the per-qualifier
   ``Resource`` dimension (``<function name>:<qualifier>``) that Lambda publishes next to ``FunctionName``;
   a Function through ``FunctionName`` alone (every qualifier of it).
2. Thresholds: pure functions of numbers in ``constructs_lib.limits`` (e.g. 80 % of a queue's retention).
3. Wiring: ``create_alarm`` makes one ``cloudwatch.Alarm`` with a description that says what failed and what
   to do; ``queue_alarms`` makes the two alarms of a failure queue; ``add_alarm_actions`` attaches actions
   (an SNS topic is wrapped in ``SnsAction``) to a list of alarms.

Alarm names are left to CloudFormation, so two stacks never collide; each alarm has a readable construct id.

Missing data: counts (messages waiting, errors, failed deliveries, dropped events) are published only when
something happens, so no data is not breaching. SQS publishes queue metrics while a queue holds messages, so
a missing ApproximateAgeOfOldestMessage means an empty queue: not breaching either. Lambda's IteratorAge and
AsyncEventAge and Kinesis's GetRecords.IteratorAgeMilliseconds are published only while records or events
flow: missing data means "idle" when the consumer is healthy and "stalled" when it was already behind, so
those alarms keep their last state (``IGNORE``) instead of clearing a real lag or raising an idle one.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from constructs_lib._cdk import number_or_unresolved, path_of
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.functions import LATEST, subject_of
from constructs_lib.limits import (
    ALARM_TOPIC_KMS_ACTIONS,
    RETENTION_ALARM_FRACTION,
    SQS_DEFAULT_RETENTION_SECONDS,
    CheckedValue,
    Number,
    format_value,
    human_duration,
    oldest_message_threshold_seconds,
)
from constructs_lib.targets import customer_managed_key, describe_object

SQS_NAMESPACE = "AWS/SQS"
LAMBDA_NAMESPACE = "AWS/Lambda"
KINESIS_NAMESPACE = "AWS/Kinesis"
PERIOD = cdk.Duration.minutes(1)
"""Every metric is watched per minute, the resolution Lambda, SQS and Kinesis publish at."""
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"

GREATER_OR_EQUAL = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
COUNT_MISSING_DATA = cloudwatch.TreatMissingData.NOT_BREACHING
LAG_MISSING_DATA = cloudwatch.TreatMissingData.IGNORE


# --- 1. metric builders ----------------------------------------------------------------------------------


def _metric(namespace: str, metric_name: str, dimensions: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=PERIOD,
    )


# Dimensions read once per queue or function: each read of a name is a jsii round trip, and every construct
# makes two to four metrics of the same resource.
_DIMENSIONS: weakref.WeakKeyDictionary[IConstruct, dict[str, str]] = weakref.WeakKeyDictionary()


def queue_dimensions(queue: sqs.IQueue) -> dict[str, str]:
    """SQS metrics have one dimension, QueueName: the queue's name (a GetAtt for a queue in this app)."""
    dimensions = _DIMENSIONS.get(queue)
    if dimensions is None:
        dimensions = _DIMENSIONS[queue] = {"QueueName": queue.queue_name}
    return dict(dimensions)


def queue_visible_messages(queue: sqs.IQueue) -> cloudwatch.Metric:
    """AWS/SQS ApproximateNumberOfMessagesVisible, Maximum: messages waiting to be received."""
    return _metric(SQS_NAMESPACE, "ApproximateNumberOfMessagesVisible", queue_dimensions(queue), "Maximum")


def queue_oldest_message_age(queue: sqs.IQueue) -> cloudwatch.Metric:
    """AWS/SQS ApproximateAgeOfOldestMessage (seconds), Maximum."""
    return _metric(SQS_NAMESPACE, "ApproximateAgeOfOldestMessage", queue_dimensions(queue), "Maximum")


def function_dimensions(function: lambda_.IFunction) -> dict[str, str]:
    """FunctionName for a Function (all its qualifiers); plus Resource ``<name>:<qualifier>`` for a Version or
    Alias, the dimension Lambda publishes per qualifier (aws-cdk's own ``Version.metric`` puts the ARN there,
    aws-cdk#14248, which matches no data)."""
    dimensions = _DIMENSIONS.get(function)
    if dimensions is None:
        subject = subject_of(function)
        if subject is None:
            raise TypeError(f"a lambda Function, Version or Alias is needed, got {describe_object(function)}")
        name = subject.base.function_name
        dimensions = {"FunctionName": name}
        if subject.qualifier != LATEST:
            dimensions["Resource"] = f"{name}:{subject.qualifier}"
        _DIMENSIONS[function] = dimensions
    return dict(dimensions)


def function_metric(function: lambda_.IFunction, metric_name: str, statistic: str) -> cloudwatch.Metric:
    """Any AWS/Lambda metric of `function` with the right dimensions (see ``function_dimensions``)."""
    return _metric(LAMBDA_NAMESPACE, metric_name, function_dimensions(function), statistic)


def function_errors(function: lambda_.IFunction) -> cloudwatch.Metric:
    """AWS/Lambda Errors, Sum: invocations that ended in a function error (exception, timeout)."""
    return function_metric(function, "Errors", "Sum")


def function_iterator_age(function: lambda_.IFunction) -> cloudwatch.Metric:
    """AWS/Lambda IteratorAge (milliseconds), Maximum: for stream mappings, the age of the last record of the
    batch when it was sent to the function."""
    return function_metric(function, "IteratorAge", "Maximum")


def function_dead_letter_errors(function: lambda_.IFunction) -> cloudwatch.Metric:
    """AWS/Lambda DeadLetterErrors, Sum: events Lambda failed to send to the function's dead-letter queue."""
    return function_metric(function, "DeadLetterErrors", "Sum")


def function_destination_delivery_failures(function: lambda_.IFunction) -> cloudwatch.Metric:
    """AWS/Lambda DestinationDeliveryFailures, Sum: records Lambda failed to send to a destination (asynchronous
    invocation, and the on-failure destination of Kinesis and DynamoDB stream mappings)."""
    return function_metric(function, "DestinationDeliveryFailures", "Sum")


def function_async_events_dropped(function: lambda_.IFunction) -> cloudwatch.Metric:
    """AWS/Lambda AsyncEventsDropped, Sum: asynchronous events dropped without a successful run (after retries,
    past the max event age, or with zero reserved concurrency); they went to the on-failure destination or
    dead-letter queue first, if there is one."""
    return function_metric(function, "AsyncEventsDropped", "Sum")


def function_async_event_age(function: lambda_.IFunction) -> cloudwatch.Metric:
    """AWS/Lambda AsyncEventAge (milliseconds), Maximum: how long an event waited in the asynchronous queue
    before the function was invoked (grows with retries and throttling)."""
    return function_metric(function, "AsyncEventAge", "Maximum")


def kinesis_iterator_age(stream: Any) -> cloudwatch.Metric:
    """AWS/Kinesis GetRecords.IteratorAgeMilliseconds, Maximum, for the stream named by the StreamName dimension
    (without it the alarm watches nothing): the age of the oldest record read by any GetRecords consumer."""
    return _metric(
        KINESIS_NAMESPACE, "GetRecords.IteratorAgeMilliseconds", {"StreamName": stream.stream_name}, "Maximum"
    )


def event_source_mapping_metric(mapping_uuid: str, metric_name: str, statistic: str) -> cloudwatch.Metric:
    """An AWS/Lambda event source mapping metric (EventCount, ErrorCount or KafkaMetrics group, opt-in through the
    mapping's MetricsConfig), published per mapping under the ``EventSourceMappingUUID`` dimension: the mapping's
    ``Ref``."""
    return _metric(LAMBDA_NAMESPACE, metric_name, {"EventSourceMappingUUID": mapping_uuid}, statistic)


# --- what the thresholds need to know about a resource ---------------------------------------------------


def failure_queue_alarms(home: object) -> list[cloudwatch.Alarm]:
    """The alarms a failure home brings itself (a ``FailureQueue``'s ``.alarms``), so that a construct using it
    lists them in its own ``.alarms`` and one ``add_alarm_action`` reaches them all."""
    return list(getattr(home, "alarms", None) or [])


def queue_retention_seconds(queue: sqs.IQueue) -> CheckedValue:
    """The queue's retention in seconds: its MessageRetentionPeriod, SQS's 4 days when not set, None when
    unknown (an imported queue), UNRESOLVED for a token."""
    if not isinstance(queue, sqs.Queue):
        return None
    known: CheckedValue = getattr(queue, "retention_seconds", None)  # a FailureQueue knows it without asking jsii
    if known is not None:
        return known
    cfn_queue = queue.node.default_child
    if not isinstance(cfn_queue, sqs.CfnQueue):  # an sqs.Queue always has one
        return None
    value = cfn_queue.message_retention_period
    return SQS_DEFAULT_RETENTION_SECONDS if value is None else number_or_unresolved(value)


# --- 3. wiring -------------------------------------------------------------------------------------------


def create_alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    treat_missing_data: cloudwatch.TreatMissingData = COUNT_MISSING_DATA,
) -> cloudwatch.Alarm:
    """One alarm: the metric at or above `threshold` in one evaluation period (each watched condition is already
    a problem when seen once). The name is left to CloudFormation. A threshold the construct was given in its
    ``alarm_thresholds`` for this id replaces `threshold`, and the description says so."""
    planned = _PLANNED_ALARM_IDS.get(scope)
    if planned is None or id not in planned:  # the plan checked the thresholds' ids: it must match what is made
        raise AssertionError(f"{scope.node.path}: alarm {id!r} is not among the planned alarm ids {planned}")
    _CREATED_ALARM_IDS.setdefault(scope, []).append(id)
    given = _given_thresholds(scope).get(id)
    if given is not None:
        description += f" Threshold {format_value(given)} (alarm_thresholds), instead of {format_value(threshold)}."
        threshold = given
    return cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data=treat_missing_data,
        alarm_description=description,
    )


def queue_alarm_ids(id_prefix: str = "") -> list[str]:
    """The ids of the two alarms ``queue_alarms`` makes of a queue."""
    return [f"{id_prefix}MessagesWaitingAlarm", f"{id_prefix}OldestMessageAgeAlarm"]


def queue_alarms(scope: Construct, queue: sqs.IQueue, *, id_prefix: str = "") -> list[cloudwatch.Alarm]:
    """The two alarms of a queue that holds failed records: something is waiting in it (at least 1 visible
    message), and its oldest message is about to be deleted (80 % of the queue's retention; an imported
    queue's retention is unknown and taken as SQS's default of 4 days)."""
    path = path_of(queue)
    messages_waiting_id, oldest_message_age_id = queue_alarm_ids(id_prefix)
    retention = queue_retention_seconds(queue)
    known = retention if isinstance(retention, int | float) else None
    age_threshold = oldest_message_threshold_seconds(retention)
    retention_text = human_duration(known if known is not None else SQS_DEFAULT_RETENTION_SECONDS) + (
        "" if known is not None else " (assumed: SQS's default, the queue's own retention is not known here)"
    )
    return [
        create_alarm(
            scope,
            messages_waiting_id,
            metric=queue_visible_messages(queue),
            threshold=1,
            description=f"Failed records are waiting in the SQS queue {path}: find the cause, fix it, then redrive "
            "the records (or delete them knowingly).",
        ),
        create_alarm(
            scope,
            oldest_message_age_id,
            metric=queue_oldest_message_age(queue),
            threshold=age_threshold,
            description=f"The oldest failed record in the SQS queue {path} is {human_duration(age_threshold)} old, "
            f"{RETENTION_ALARM_FRACTION:.0%} of the queue's retention of {retention_text}: redrive or archive it "
            "now, SQS deletes it at the end of the retention period.",
        ),
    ]


_GIVEN_THRESHOLDS: weakref.WeakKeyDictionary[IConstruct, dict[str, Number]] = weakref.WeakKeyDictionary()
# The ids of the alarms each scope created, known in Python: no construct tree read (a jsii round trip each).
_CREATED_ALARM_IDS: weakref.WeakKeyDictionary[IConstruct, list[str]] = weakref.WeakKeyDictionary()
_PLANNED_ALARM_IDS: weakref.WeakKeyDictionary[IConstruct, list[str]] = weakref.WeakKeyDictionary()


def _given_thresholds(scope: IConstruct) -> dict[str, Number]:
    return _GIVEN_THRESHOLDS.get(scope, {})


def check_alarm_thresholds(thresholds: object, *, path: str) -> list[Violation]:
    """``alarm_thresholds``: None, or a mapping of alarm id (as in ``.alarms``) to a number >= 0."""
    if thresholds is None:
        return []
    allowed = "a mapping of alarm id to a threshold >= 0 in the metric's unit, e.g. {'ErrorsAlarm': 5}"
    if not isinstance(thresholds, Mapping):
        return [Violation(path, "alarm_thresholds", allowed, describe_object(thresholds))]
    return [
        Violation(path, f"alarm_thresholds[{key!r}]", "a number >= 0 in the metric's unit", repr(value))
        for key, value in thresholds.items()
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
    ]


def check_threshold_ids(thresholds: object, planned: Sequence[str], *, path: str) -> list[Violation]:
    """An id in ``alarm_thresholds`` that names none of the `planned` alarm ids (what the construct's checked
    settings will create) is a violation, found before anything is created: the threshold would change nothing."""
    if not isinstance(thresholds, Mapping):
        return []  # None, or a wrong type that ``check_alarm_thresholds`` reports
    own = sorted(planned)
    return [
        Violation(
            path,
            f"alarm_thresholds[{key!r}]",
            "the id of an alarm of this construct: " + (", ".join(own) or "none (alarms=False)"),
            str(key),
        )
        for key in sorted(set(thresholds) - set(own), key=str)
    ]


def use_alarm_thresholds(scope: IConstruct, thresholds: Mapping[str, Number] | None, planned: Sequence[str]) -> None:
    """Remember the (checked) thresholds and the planned alarm ids for the alarms `scope` creates with
    ``create_alarm``, which refuses an id that was not planned."""
    _PLANNED_ALARM_IDS[scope] = list(planned)
    if thresholds:
        _GIVEN_THRESHOLDS[scope] = dict(thresholds)


def confirm_planned_alarms(scope: IConstruct) -> None:
    """Every planned alarm was created: the plan the thresholds were checked against is what exists."""
    planned = sorted(_PLANNED_ALARM_IDS.get(scope, []))
    created = sorted(_CREATED_ALARM_IDS.get(scope, []))
    if planned != created:
        raise AssertionError(f"{scope.node.path}: planned alarm ids {planned}, created {created}")


def check_alarms_flag(alarms: Any, *, path: str) -> list[Violation]:
    if isinstance(alarms, bool):
        return []
    return [Violation(path, "alarms", "True (the default) or False", repr(alarms))]


def add_alarm_actions(scope: IConstruct, alarms: Sequence[cloudwatch.Alarm], actions: Iterable[Any]) -> None:
    """Attach every action to every alarm. An SNS topic is wrapped in ``SnsAction``; when it is encrypted with a
    customer-managed KMS key defined in this app, CloudWatch is allowed to use the key (``kms:Decrypt``,
    ``kms:GenerateDataKey*`` for ``cloudwatch.amazonaws.com`` in the key policy), without which every
    notification is silently lost. An imported key cannot be changed: a warning says what to allow."""
    path = scope.node.path
    resolved: list[tuple[object, cloudwatch.IAlarmAction]] = []
    violations = []
    for action in actions:
        if hasattr(action, "topic_arn"):
            _allow_cloudwatch_to_use_topic_key(scope, action)
            resolved.append((action, cloudwatch_actions.SnsAction(action)))
        elif hasattr(action, "bind"):
            resolved.append((action, action))
        else:
            violations.append(
                Violation(path, "alarm action", "an SNS topic or a cloudwatch.IAlarmAction", describe_object(action))
            )
    raise_if_any(violations)
    for alarm in alarms:
        # An alarm of a FailureQueue is also listed by every construct using the queue: attach an action once.
        attached = _ATTACHED.setdefault(alarm, [])
        for given, alarm_action in resolved:
            if not any(given is previous for previous in attached):
                attached.append(given)
                alarm.add_alarm_action(alarm_action)


_ATTACHED: weakref.WeakKeyDictionary[cloudwatch.Alarm, list[object]] = weakref.WeakKeyDictionary()


def _allow_cloudwatch_to_use_topic_key(scope: IConstruct, topic: Any) -> None:
    key = getattr(topic, "master_key", None)
    if key is None:
        return
    if customer_managed_key(key) is None:
        cdk.Annotations.of(scope).add_warning_v2(
            "constructs_lib:alarms:aws-managed-topic-key",
            f"{topic.node.path} is encrypted with the AWS managed key alias/aws/sns, whose policy CloudWatch may "
            "not use: alarm notifications to it fail. Encrypt the topic with a customer-managed key.",
        )
        return
    if isinstance(key, (kms.Key, kms.Alias)):
        key.grant(iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL), *ALARM_TOPIC_KMS_ACTIONS)
        return
    cdk.Annotations.of(scope).add_warning_v2(
        "constructs_lib:alarms:imported-topic-key",
        f"{topic.node.path} is encrypted with an imported KMS key: allow {CLOUDWATCH_PRINCIPAL} kms:Decrypt and "
        "kms:GenerateDataKey* in its key policy, or alarm notifications to the topic fail.",
    )
