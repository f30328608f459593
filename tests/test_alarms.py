"""Alarms: pure thresholds, metric builders with the right dimensions, every construct's alarms, actions."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from hypothesis import given
from hypothesis import strategies as st

from constructs_lib import (
    INFINITE,
    AsyncInvocation,
    FailureQueue,
    KafkaConsumer,
    QueueConsumer,
    StreamConsumer,
    ValidationError,
)
from constructs_lib import alarms as alarm_lib
from constructs_lib.limits import (
    UNRESOLVED,
    async_event_age_threshold_ms,
    human_duration,
    iterator_age_threshold_ms,
    oldest_message_threshold_seconds,
    stream_read_lag_threshold_ms,
    unprocessed_record_age_seconds,
)
from tests.harness import lint_template, nag_findings, new_app
from tests.test_async_invocation import make_function, ref
from tests.test_kafka_consumer import CLUSTER

DAY = 86_400
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:{}"


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders")


def make_stream(stack: cdk.Stack, **props) -> kinesis.Stream:
    return kinesis.Stream(stack, "Stream", encryption=kinesis.StreamEncryption.MANAGED, **props)


def make_table(stack: cdk.Stack) -> dynamodb.Table:
    return dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    )


def alarms_of(stack: cdk.Stack, construct) -> dict[str, dict]:
    """The construct's alarms by path below it (the full path for one of a FailureQueue passed in), as
    synthesized; also checks `.alarms` holds every alarm under it."""
    resources = Template.from_stack(stack).to_json()["Resources"]
    found = {
        alarm.node.path.removeprefix(construct.node.path + "/"): resources[
            stack.get_logical_id(alarm.node.default_child)
        ]["Properties"]
        for alarm in construct.alarms
    }
    under = [
        child
        for child in construct.node.find_all()
        if isinstance(child, cloudwatch.CfnAlarm) and child.node.path.startswith(construct.node.path + "/")
    ]
    own = [path for path in found if not path.startswith(stack.node.path + "/")]
    assert len(under) == len(own), "every alarm created under the construct is in .alarms"
    return found


def alarm_count(stack: cdk.Stack) -> int:
    return len(Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm"))


def queue_name_of(stack: cdk.Stack, queue) -> dict:
    return {"Fn::GetAtt": [ref(stack, queue), "QueueName"]}


def function_dims(stack: cdk.Stack, function) -> list[dict]:
    return [{"Name": "FunctionName", "Value": {"Ref": ref(stack, function)}}]


def alias_dims(stack: cdk.Stack, function, alias_name: str) -> list[dict]:
    name = {"Ref": ref(stack, function)}
    return [
        {"Name": "FunctionName", "Value": name},
        {"Name": "Resource", "Value": {"Fn::Join": ["", [name, f":{alias_name}"]]}},
    ]


def expected(namespace, metric, dimensions, statistic, threshold, missing="notBreaching") -> dict:
    """Every property of one of our alarms but its description."""
    return {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": dimensions,
        "Statistic": statistic,
        "Period": 60,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "TreatMissingData": missing,
    }


def without_description(properties: dict) -> dict:
    return {key: value for key, value in properties.items() if key != "AlarmDescription"}


def queue_alarm_pair(stack: cdk.Stack, queue, age_threshold: int) -> tuple[dict, dict]:
    dims = [{"Name": "QueueName", "Value": queue_name_of(stack, queue)}]
    return (
        expected("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims, "Maximum", 1),
        expected("AWS/SQS", "ApproximateAgeOfOldestMessage", dims, "Maximum", age_threshold),
    )


# --- pure thresholds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retention", "threshold"),
    [(14 * DAY, 967_680), (4 * DAY, 276_480), (60, 48), (None, 276_480), (UNRESOLVED, 276_480)],
)
def test_oldest_message_threshold_is_80_percent_of_retention_default_4_days(retention, threshold):
    assert oldest_message_threshold_seconds(retention) == threshold


@pytest.mark.parametrize(
    ("max_record_age", "retention", "threshold_ms"),
    [
        (3_600, DAY, 1_800_000),  # StreamConsumer's default: half an hour
        (60, DAY, 30_000),
        (INFINITE, DAY, 43_200_000),  # infinite: half the retention, 12 hours
        (INFINITE, None, 43_200_000),  # imported stream: 24 hours assumed
        (INFINITE, UNRESOLVED, 43_200_000),
        (UNRESOLVED, 2 * DAY, 86_400_000),  # a token age: the retention alone
        (25 * 3_600, DAY, 43_200_000),  # an age beyond the retention never triggers: the retention binds
        (7 * DAY, 365 * DAY, 302_400_000),
    ],
)
def test_iterator_age_threshold_is_half_the_age_at_which_records_leave_unprocessed(
    max_record_age, retention, threshold_ms
):
    assert iterator_age_threshold_ms(max_record_age, retention) == threshold_ms


@given(
    age=st.one_of(st.just(INFINITE), st.integers(min_value=60, max_value=604_800)),
    retention_hours=st.integers(min_value=24, max_value=8_760),
)
def test_iterator_age_threshold_leaves_half_the_window_before_records_leave(age, retention_hours):
    retention = retention_hours * 3_600
    limit = unprocessed_record_age_seconds(age, retention)
    assert limit == (retention if age == INFINITE else min(age, retention))
    assert iterator_age_threshold_ms(age, retention) * 2 == limit * 1000


@pytest.mark.parametrize(("retention", "threshold_ms"), [(DAY, 69_120_000), (2 * DAY, 138_240_000), (None, 69_120_000)])
def test_stream_read_lag_threshold_is_80_percent_of_the_streams_retention(retention, threshold_ms):
    assert stream_read_lag_threshold_ms(retention) == threshold_ms


@pytest.mark.parametrize(
    ("max_event_age", "threshold_ms"),
    [(None, 10_800_000), (UNRESOLVED, 10_800_000), (21_600, 10_800_000), (3_600, 1_800_000), (60, 30_000)],
)
def test_async_event_age_threshold_is_half_the_max_event_age_default_6_hours(max_event_age, threshold_ms):
    assert async_event_age_threshold_ms(max_event_age) == threshold_ms


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 second"),
        (48, "48 seconds"),
        (90, "1.5 minutes"),
        (1_800, "30 minutes"),
        (3_600, "1 hour"),
        (43_200, "12 hours"),
        (69_120, "19.2 hours"),
        (DAY, "1 day"),
        (967_680, "11.2 days"),
    ],
)
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


# --- metric builders -------------------------------------------------------------------------------------


def test_queue_metrics_watch_the_queue_by_name(stack):
    queue = sqs.Queue(stack, "Failures")
    for metric, name in (
        (alarm_lib.queue_visible_messages(queue), "ApproximateNumberOfMessagesVisible"),
        (alarm_lib.queue_oldest_message_age(queue), "ApproximateAgeOfOldestMessage"),
    ):
        assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/SQS", name, "Maximum")
        assert metric.period.to_seconds() == 60
        assert stack.resolve(metric.dimensions) == {"QueueName": queue_name_of(stack, queue)}


def test_an_imported_queue_is_watched_by_the_name_in_its_arn(stack):
    queue = sqs.Queue.from_queue_arn(stack, "Imported", QUEUE_ARN.format("failures"))
    assert stack.resolve(alarm_lib.queue_visible_messages(queue).dimensions) == {"QueueName": "failures"}


LAMBDA_BUILDERS = [
    (alarm_lib.function_errors, "Errors", "Sum"),
    (alarm_lib.function_iterator_age, "IteratorAge", "Maximum"),
    (alarm_lib.function_dead_letter_errors, "DeadLetterErrors", "Sum"),
    (alarm_lib.function_destination_delivery_failures, "DestinationDeliveryFailures", "Sum"),
    (alarm_lib.function_async_events_dropped, "AsyncEventsDropped", "Sum"),
    (alarm_lib.function_async_event_age, "AsyncEventAge", "Maximum"),
]


@pytest.mark.parametrize(("build", "name", "statistic"), LAMBDA_BUILDERS)
def test_lambda_metrics_of_a_function_use_its_name(stack, build, name, statistic):
    function = make_function(stack)
    metric = build(function)
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/Lambda", name, statistic)
    assert metric.period.to_seconds() == 60
    assert stack.resolve(metric.dimensions) == {"FunctionName": {"Ref": ref(stack, function)}}


@pytest.mark.parametrize(("build", "name", "statistic"), LAMBDA_BUILDERS)
def test_lambda_metrics_of_an_alias_use_the_per_qualifier_resource_dimension(stack, build, name, statistic):
    function = make_function(stack)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    assert stack.resolve(build(alias).dimensions) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "Resource": {"Fn::Join": ["", [{"Ref": ref(stack, function)}, ":live"]]},
    }


def test_lambda_metrics_of_a_version_name_the_version_not_its_arn(stack):
    # aws-cdk's own Version.metric() puts the function ARN into Resource (aws-cdk#14248): that matches no data.
    function = make_function(stack)
    version = function.current_version
    name = {"Ref": ref(stack, function)}
    assert stack.resolve(alarm_lib.function_errors(version).dimensions) == {
        "FunctionName": name,
        "Resource": {"Fn::Join": ["", [name, ":", stack.resolve(version.version)]]},
    }


def test_lambda_metrics_of_imported_versions_and_aliases(stack):
    version = lambda_.Version.from_version_arn(
        stack, "Version", "arn:aws:lambda:us-east-1:123456789012:function:notify:7"
    )
    alias = lambda_.Alias.from_alias_attributes(stack, "Alias", alias_name="live", alias_version=version)
    assert stack.resolve(alarm_lib.function_errors(version).dimensions) == {
        "FunctionName": "notify",
        "Resource": "notify:7",
    }
    assert stack.resolve(alarm_lib.function_errors(alias).dimensions) == {
        "FunctionName": "notify",
        "Resource": "notify:live",
    }


def test_lambda_metrics_of_an_imported_function_use_the_name_in_its_arn(stack):
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:notify"
    )
    assert stack.resolve(alarm_lib.function_errors(imported).dimensions) == {"FunctionName": "notify"}


def test_something_that_is_not_a_function_has_no_lambda_metrics(stack):
    with pytest.raises(TypeError, match="lambda Function, Version or Alias"):
        alarm_lib.function_errors(sqs.Queue(stack, "Queue"))


def test_kinesis_iterator_age_names_the_stream(stack):
    # AWS Solutions Constructs' Kinesis alarms lack this dimension, so they watch nothing.
    stream = make_stream(stack)
    metric = alarm_lib.kinesis_iterator_age(stream)
    assert (metric.namespace, metric.metric_name, metric.statistic) == (
        "AWS/Kinesis",
        "GetRecords.IteratorAgeMilliseconds",
        "Maximum",
    )
    assert stack.resolve(metric.dimensions) == {"StreamName": {"Ref": ref(stack, stream)}}


# --- FailureQueue ----------------------------------------------------------------------------------------


def test_a_failure_queue_alarms_on_waiting_records_and_on_records_about_to_expire(stack):
    queue = FailureQueue(stack, "Failures")
    found = alarms_of(stack, queue)
    waiting, oldest = queue_alarm_pair(stack, queue, 967_680)  # 80 % of 14 days
    assert {path: without_description(properties) for path, properties in found.items()} == {
        "MessagesWaitingAlarm": waiting,
        "OldestMessageAgeAlarm": oldest,
    }
    assert found["MessagesWaitingAlarm"]["AlarmDescription"].startswith(
        "Failed records are waiting in the SQS queue Orders/Failures: find the cause, fix it, then redrive"
    )
    assert (
        "11.2 days old, 80% of the queue's retention of 14 days" in found["OldestMessageAgeAlarm"]["AlarmDescription"]
    )
    assert all("AlarmName" not in properties for properties in found.values()), "CloudFormation names them"


def test_a_failure_queue_age_threshold_follows_its_retention(stack):
    queue = FailureQueue(stack, "Failures", retention_period=cdk.Duration.days(4))
    assert alarms_of(stack, queue)["OldestMessageAgeAlarm"]["Threshold"] == 276_480


def test_a_failure_queue_without_alarms_has_none(stack):
    queue = FailureQueue(stack, "Failures", alarms=False)
    assert queue.alarms == []
    assert alarm_count(stack) == 0


# --- AsyncInvocation -------------------------------------------------------------------------------------


def test_async_invocation_alarms_on_dropped_events_event_age_and_delivery(stack):
    function = make_function(stack)
    invocation = AsyncInvocation(stack, "NotifyAsync", function=function)
    found = alarms_of(stack, invocation)
    dims = function_dims(stack, function)
    waiting, oldest = queue_alarm_pair(stack, invocation.failure_queue, 967_680)
    assert {path: without_description(properties) for path, properties in found.items()} == {
        "FailureQueue/MessagesWaitingAlarm": waiting,
        "FailureQueue/OldestMessageAgeAlarm": oldest,
        "EventsDroppedAlarm": expected("AWS/Lambda", "AsyncEventsDropped", dims, "Sum", 1),
        "EventAgeAlarm": expected("AWS/Lambda", "AsyncEventAge", dims, "Maximum", 10_800_000, "ignore"),
        "DestinationDeliveryFailuresAlarm": expected("AWS/Lambda", "DestinationDeliveryFailures", dims, "Sum", 1),
    }
    assert "went to SQS queue Orders/NotifyAsync/FailureQueue" in found["EventsDroppedAlarm"]["AlarmDescription"]
    assert (
        "3 hours before being processed, 50% of the max event age of 6 hours"
        in (found["EventAgeAlarm"]["AlarmDescription"])
    )


def test_async_invocation_event_age_threshold_follows_max_event_age(stack):
    invocation = AsyncInvocation(
        stack, "NotifyAsync", function=make_function(stack), max_event_age=cdk.Duration.minutes(10)
    )
    assert alarms_of(stack, invocation)["EventAgeAlarm"]["Threshold"] == 300_000


def test_async_invocation_event_age_token_uses_the_aws_default(stack):
    age = cdk.CfnParameter(stack, "MaxAge", type="Number").value_as_number
    invocation = AsyncInvocation(
        stack, "NotifyAsync", function=make_function(stack), max_event_age=cdk.Duration.seconds(age)
    )
    assert alarms_of(stack, invocation)["EventAgeAlarm"]["Threshold"] == 10_800_000


def test_async_invocation_of_an_alias_watches_the_alias(stack):
    function = make_function(stack)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    invocation = AsyncInvocation(stack, "NotifyAsync", function=alias)
    found = alarms_of(stack, invocation)
    for path in ("EventsDroppedAlarm", "EventAgeAlarm", "DestinationDeliveryFailuresAlarm"):
        assert found[path]["Dimensions"] == alias_dims(stack, function, "live"), path


def test_a_dead_letter_queue_adds_dead_letter_errors_and_plain_queues_get_queue_alarms(stack):
    function = make_function(stack)
    dlq, failures = sqs.Queue(stack, "Dlq"), sqs.Queue(stack, "Failures", retention_period=cdk.Duration.days(7))
    invocation = AsyncInvocation(stack, "NotifyAsync", function=function, on_failure=failures, dead_letter_queue=dlq)
    found = alarms_of(stack, invocation)
    assert without_description(found["DeadLetterErrorsAlarm"]) == expected(
        "AWS/Lambda", "DeadLetterErrors", function_dims(stack, function), "Sum", 1
    )
    assert "dead-letter queue Queue Orders/Dlq" in found["DeadLetterErrorsAlarm"]["AlarmDescription"]
    dlq_waiting, dlq_oldest = queue_alarm_pair(stack, dlq, 276_480)
    failures_waiting, failures_oldest = queue_alarm_pair(stack, failures, 483_840)  # 80 % of 7 days
    assert without_description(found["DeadLetterQueueMessagesWaitingAlarm"]) == dlq_waiting
    assert without_description(found["DeadLetterQueueOldestMessageAgeAlarm"]) == dlq_oldest
    assert without_description(found["OnFailureMessagesWaitingAlarm"]) == failures_waiting
    assert without_description(found["OnFailureOldestMessageAgeAlarm"]) == failures_oldest
    assert sorted(found) == sorted(
        [
            "EventsDroppedAlarm",
            "EventAgeAlarm",
            "DestinationDeliveryFailuresAlarm",
            "DeadLetterErrorsAlarm",
            "OnFailureMessagesWaitingAlarm",
            "OnFailureOldestMessageAgeAlarm",
            "DeadLetterQueueMessagesWaitingAlarm",
            "DeadLetterQueueOldestMessageAgeAlarm",
        ]
    )


def test_one_plain_queue_as_both_homes_gets_its_alarms_once(stack):
    queue = sqs.Queue(stack, "Failures")
    invocation = AsyncInvocation(
        stack, "NotifyAsync", function=make_function(stack), on_failure=queue, dead_letter_queue=queue
    )
    assert [path for path in alarms_of(stack, invocation) if "Message" in path] == [
        "OnFailureMessagesWaitingAlarm",
        "OnFailureOldestMessageAgeAlarm",
    ]


def test_failure_queues_given_as_homes_keep_their_own_alarms_listed_in_alarms_and_get_no_copies(stack):
    dlq, failures = FailureQueue(stack, "Dlq"), FailureQueue(stack, "Failures")
    invocation = AsyncInvocation(
        stack, "NotifyAsync", function=make_function(stack), on_failure=failures, dead_letter_queue=dlq
    )
    assert sorted(alarms_of(stack, invocation)) == [
        "DeadLetterErrorsAlarm",
        "DestinationDeliveryFailuresAlarm",
        "EventAgeAlarm",
        "EventsDroppedAlarm",
        "Orders/Dlq/MessagesWaitingAlarm",
        "Orders/Dlq/OldestMessageAgeAlarm",
        "Orders/Failures/MessagesWaitingAlarm",
        "Orders/Failures/OldestMessageAgeAlarm",
    ]
    assert alarm_count(stack) == 4 + 2 + 2


def test_a_dead_letter_queue_aws_cdk_set_on_the_function_is_watched_too(stack):
    function = make_function(stack, dead_letter_queue_enabled=True)
    invocation = AsyncInvocation(stack, "NotifyAsync", function=function)
    found = alarms_of(stack, invocation)
    assert found["DeadLetterErrorsAlarm"]["MetricName"] == "DeadLetterErrors"
    assert found["DeadLetterQueueMessagesWaitingAlarm"]["Dimensions"] == [
        {"Name": "QueueName", "Value": queue_name_of(stack, function.dead_letter_queue)}
    ]
    # aws-cdk's function DLQ keeps messages 14 days.
    assert found["DeadLetterQueueOldestMessageAgeAlarm"]["Threshold"] == 967_680


def test_discarded_failures_are_reported_as_lost_and_have_no_delivery_alarm(stack):
    invocation = AsyncInvocation(stack, "NotifyAsync", function=make_function(stack), discard_failures=True)
    found = alarms_of(stack, invocation)
    assert sorted(found) == ["EventAgeAlarm", "EventsDroppedAlarm"]
    assert "they are lost (failures are discarded)" in found["EventsDroppedAlarm"]["AlarmDescription"]


# --- StreamConsumer --------------------------------------------------------------------------------------


def test_kinesis_consumer_alarms_on_iterator_age_errors_delivery_and_the_streams_read_lag(stack):
    function, stream = make_function(stack), make_stream(stack)
    consumer = StreamConsumer(stack, "Consume", function=function, source=stream)
    found = alarms_of(stack, consumer)
    dims = function_dims(stack, function)
    waiting, oldest = queue_alarm_pair(stack, consumer.failure_queue, 967_680)
    assert {path: without_description(properties) for path, properties in found.items()} == {
        "FailureQueue/MessagesWaitingAlarm": waiting,
        "FailureQueue/OldestMessageAgeAlarm": oldest,
        # half of the default max record age of 1 hour
        "IteratorAgeAlarm": expected("AWS/Lambda", "IteratorAge", dims, "Maximum", 1_800_000, "ignore"),
        "ErrorsAlarm": expected("AWS/Lambda", "Errors", dims, "Sum", 1),
        "DestinationDeliveryFailuresAlarm": expected("AWS/Lambda", "DestinationDeliveryFailures", dims, "Sum", 1),
        # 80 % of the stream's 24 hours, with the StreamName dimension that points at this stream
        "StreamIteratorAgeAlarm": expected(
            "AWS/Kinesis",
            "GetRecords.IteratorAgeMilliseconds",
            [{"Name": "StreamName", "Value": {"Ref": ref(stack, stream)}}],
            "Maximum",
            69_120_000,
            "ignore",
        ),
        # records given up without reaching the failure home, from the mapping's EventCount metrics
        "DroppedEventsAlarm": expected(
            "AWS/Lambda",
            "DroppedEventCount",
            [{"Name": "EventSourceMappingUUID", "Value": {"Ref": stack.get_logical_id(consumer.event_source_mapping)}}],
            "Sum",
            1,
        ),
    }
    assert found["IteratorAgeAlarm"]["AlarmDescription"] == (
        "Function Orders/Notify is falling behind on Kinesis stream Orders/Stream: the records it gets are 30 "
        "minutes old, half of the 1 hour after which records are parked in SQS queue Orders/Consume/FailureQueue "
        "(max_record_age). Check the function's errors, duration and throttles."
    )
    assert "about to expire unread" in found["StreamIteratorAgeAlarm"]["AlarmDescription"]


def test_infinite_record_age_alarms_at_half_the_dynamodb_streams_24_hours(stack):
    function = make_function(stack)
    consumer = StreamConsumer(
        stack, "Consume", function=function, source=make_table(stack), max_record_age=INFINITE, retry_attempts=1
    )
    found = alarms_of(stack, consumer)
    assert found["IteratorAgeAlarm"]["Threshold"] == 43_200_000
    assert (
        "expire from the stream unprocessed at the end of its retention"
        in (found["IteratorAgeAlarm"]["AlarmDescription"])
    )
    assert "StreamIteratorAgeAlarm" not in found, "a Kinesis metric only"


def test_infinite_record_age_on_a_longer_kinesis_retention(stack):
    stream = make_stream(stack, retention_period=cdk.Duration.hours(48))
    consumer = StreamConsumer(stack, "Consume", function=make_function(stack), source=stream, max_record_age=INFINITE)
    found = alarms_of(stack, consumer)
    assert found["IteratorAgeAlarm"]["Threshold"] == 86_400_000
    assert found["StreamIteratorAgeAlarm"]["Threshold"] == 138_240_000


def test_an_imported_kinesis_stream_is_watched_by_name_with_24_hours_assumed(stack):
    stream = kinesis.Stream.from_stream_arn(stack, "Imported", "arn:aws:kinesis:us-east-1:123456789012:stream/orders")
    consumer = StreamConsumer(stack, "Consume", function=make_function(stack), source=stream, max_record_age=INFINITE)
    found = alarms_of(stack, consumer)
    assert found["StreamIteratorAgeAlarm"]["Dimensions"] == [{"Name": "StreamName", "Value": "orders"}]
    assert found["IteratorAgeAlarm"]["Threshold"] == 43_200_000
    assert "assumed" in found["StreamIteratorAgeAlarm"]["AlarmDescription"]


def test_enhanced_fan_out_has_no_get_records_alarm(stack):
    consumer = StreamConsumer(
        stack, "Consume", function=make_function(stack), source=make_stream(stack), enhanced_fan_out=True
    )
    assert "StreamIteratorAgeAlarm" not in alarms_of(stack, consumer)


def test_a_consumer_of_an_alias_watches_the_alias(stack):
    function = make_function(stack)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    consumer = StreamConsumer(stack, "Consume", function=alias, source=make_stream(stack))
    found = alarms_of(stack, consumer)
    for path in ("IteratorAgeAlarm", "ErrorsAlarm", "DestinationDeliveryFailuresAlarm"):
        assert found[path]["Dimensions"] == alias_dims(stack, function, "live"), path


def test_failure_homes_of_a_stream_consumer(stack):
    function, stream = make_function(stack), make_stream(stack)
    plain = sqs.Queue(stack, "Plain")
    topic = sns.Topic(stack, "Topic")
    own = FailureQueue(stack, "Own")
    with_plain = StreamConsumer(stack, "A", function=function, source=stream, on_failure=plain)
    with_topic = StreamConsumer(stack, "B", function=function, source=stream, on_failure=topic)
    with_own = StreamConsumer(stack, "C", function=function, source=stream, on_failure=own)
    discarding = StreamConsumer(stack, "D", function=function, source=stream, discard_failures=True)
    function_alarms = ["ErrorsAlarm", "IteratorAgeAlarm", "StreamIteratorAgeAlarm", "DroppedEventsAlarm"]
    plain_alarms = alarms_of(stack, with_plain)
    assert sorted(plain_alarms) == sorted(
        [
            *function_alarms,
            "DestinationDeliveryFailuresAlarm",
            "OnFailureMessagesWaitingAlarm",
            "OnFailureOldestMessageAgeAlarm",
        ]
    )
    assert plain_alarms["OnFailureMessagesWaitingAlarm"]["Dimensions"] == [
        {"Name": "QueueName", "Value": queue_name_of(stack, plain)}
    ]
    # An SNS topic has no "messages waiting" metric; a FailureQueue has its own alarms, listed, not copied.
    assert sorted(alarms_of(stack, with_topic)) == sorted([*function_alarms, "DestinationDeliveryFailuresAlarm"])
    assert sorted(alarms_of(stack, with_own)) == sorted(
        [
            *function_alarms,
            "DestinationDeliveryFailuresAlarm",
            "Orders/Own/MessagesWaitingAlarm",
            "Orders/Own/OldestMessageAgeAlarm",
        ]
    )
    assert with_own.alarms[-2:] == own.alarms
    assert sorted(alarms_of(stack, discarding)) == sorted(function_alarms)
    assert "dropped (failures are discarded)" in alarms_of(stack, discarding)["ErrorsAlarm"]["AlarmDescription"]
    assert "as discard_failures asks" in alarms_of(stack, discarding)["DroppedEventsAlarm"]["AlarmDescription"]


# --- QueueConsumer ---------------------------------------------------------------------------------------


def make_source_queue(stack: cdk.Stack, dead_letters) -> sqs.Queue:
    return sqs.Queue(
        stack,
        "Payments",
        enforce_ssl=True,
        visibility_timeout=cdk.Duration.seconds(18),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
    )


def test_a_failure_queue_dlq_brings_its_own_alarms_listed_in_the_consumers_alarms(stack):
    dead_letters = FailureQueue(stack, "Dlq")
    consumer = QueueConsumer(
        stack, "Consume", function=make_function(stack), queue=make_source_queue(stack, dead_letters)
    )
    assert consumer.alarms == dead_letters.alarms
    assert len(consumer.alarms) == 2
    assert alarm_count(stack) == 2  # the FailureQueue's own, not copied


def test_a_plain_dlq_gets_the_two_queue_alarms_from_the_consumer(stack):
    dlq = sqs.Queue(stack, "Dlq", enforce_ssl=True, retention_period=cdk.Duration.days(14))
    consumer = QueueConsumer(stack, "Consume", function=make_function(stack), queue=make_source_queue(stack, dlq))
    found = alarms_of(stack, consumer)
    waiting, oldest = queue_alarm_pair(stack, dlq, 967_680)
    assert {path: without_description(properties) for path, properties in found.items()} == {
        "DeadLetterQueueMessagesWaitingAlarm": waiting,
        "DeadLetterQueueOldestMessageAgeAlarm": oldest,
    }
    assert (
        "Failed records are waiting in the SQS queue Orders/Dlq"
        in (found["DeadLetterQueueMessagesWaitingAlarm"]["AlarmDescription"])
    )


def test_an_imported_dlq_is_watched_by_name_with_the_sqs_default_retention_assumed(stack):
    dlq = sqs.Queue.from_queue_arn(stack, "Dlq", QUEUE_ARN.format("payments-dlq"))
    consumer = QueueConsumer(stack, "Consume", function=make_function(stack), queue=make_source_queue(stack, dlq))
    found = alarms_of(stack, consumer)
    assert found["DeadLetterQueueMessagesWaitingAlarm"]["Dimensions"] == [
        {"Name": "QueueName", "Value": "payments-dlq"}
    ]
    assert found["DeadLetterQueueOldestMessageAgeAlarm"]["Threshold"] == 276_480
    assert "(assumed: SQS's default" in found["DeadLetterQueueOldestMessageAgeAlarm"]["AlarmDescription"]


def test_an_imported_source_queue_has_no_known_dlq_to_watch(stack):
    queue = sqs.Queue.from_queue_arn(stack, "Imported", QUEUE_ARN.format("payments"))
    consumer = QueueConsumer(stack, "Consume", function=make_function(stack), queue=queue)
    assert consumer.alarms == []
    assert alarm_count(stack) == 0


# --- opting out ------------------------------------------------------------------------------------------


def test_opting_out_creates_no_alarm_anywhere(stack):
    function = make_function(stack)
    AsyncInvocation(stack, "NotifyAsync", function=function, dead_letter_queue=sqs.Queue(stack, "Dlq"), alarms=False)
    StreamConsumer(
        stack, "Consume", function=function, source=make_stream(stack), on_failure=sqs.Queue(stack, "F"), alarms=False
    )
    StreamConsumer(stack, "ConsumeDefault", function=function, source=make_table(stack), alarms=False)
    QueueConsumer(
        stack,
        "ChargePayments",
        function=make_function(stack, "Charge"),
        queue=make_source_queue(stack, sqs.Queue(stack, "PaymentsDlq")),
        alarms=False,
    )
    assert alarm_count(stack) == 0


@pytest.mark.parametrize("construct", ["failure-queue", "async", "stream", "queue"])
def test_alarms_must_be_a_bool_and_nothing_is_created_otherwise(stack, construct):
    function = make_function(stack)
    build = {
        "failure-queue": lambda: FailureQueue(stack, "Subject", alarms="no"),
        "async": lambda: AsyncInvocation(stack, "Subject", function=function, alarms="no"),
        "stream": lambda: StreamConsumer(stack, "Subject", function=function, source=make_stream(stack), alarms="no"),
        "queue": lambda: QueueConsumer(
            stack, "Subject", function=function, queue=make_source_queue(stack, FailureQueue(stack, "Dlq")), alarms="no"
        ),
    }[construct]
    with pytest.raises(ValidationError) as caught:
        build()
    assert [str(v) for v in caught.value.violations] == [
        "Orders/Subject: alarms must be True (the default) or False, got 'no'"
    ]
    assert stack.node.try_find_child("Subject") is None


# --- actions ---------------------------------------------------------------------------------------------


def alarm_actions(stack: cdk.Stack) -> list:
    return [
        alarm["Properties"].get("AlarmActions")
        for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    ]


def test_one_call_attaches_a_topic_to_every_alarm_of_a_construct(stack):
    topic = sns.Topic(stack, "Alarms")
    consumer = StreamConsumer(stack, "Consume", function=make_function(stack), source=make_stream(stack))
    consumer.add_alarm_action(topic)
    assert len(consumer.alarms) == 7
    assert alarm_actions(stack) == [[{"Ref": ref(stack, topic)}]] * 7


@pytest.mark.parametrize("construct", ["failure-queue", "async", "queue"])
def test_every_construct_attaches_actions_to_all_its_alarms(stack, construct):
    topic = sns.Topic(stack, "Alarms")
    function = make_function(stack)
    subject = {
        "failure-queue": lambda: FailureQueue(stack, "Subject"),
        "async": lambda: AsyncInvocation(stack, "Subject", function=function, dead_letter_queue=sqs.Queue(stack, "D")),
        "queue": lambda: QueueConsumer(
            stack, "Subject", function=function, queue=make_source_queue(stack, sqs.Queue(stack, "Dlq"))
        ),
    }[construct]()
    subject.add_alarm_action(topic, cloudwatch_actions.SnsAction(topic))
    assert subject.alarms
    assert alarm_actions(stack) == [[{"Ref": ref(stack, topic)}, {"Ref": ref(stack, topic)}]] * len(subject.alarms)


def test_an_encrypted_topic_lets_cloudwatch_use_its_key(stack):
    # Without this key policy statement every alarm notification to the topic fails.
    key = kms.Key(stack, "AlarmsKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Alarms", master_key=key, enforce_ssl=True)
    FailureQueue(stack, "Failures").add_alarm_action(topic)
    Template.from_stack(stack).has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Resource": "*",
                        }
                    ]
                )
            }
        },
    )


def test_a_topic_with_an_imported_key_gets_a_warning_about_its_key_policy(stack):
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    queue = FailureQueue(stack, "Failures")
    queue.add_alarm_action(sns.Topic(stack, "Alarms", master_key=key))
    [warning] = Annotations.from_stack(stack).find_warning("/Orders/Failures", Match.string_like_regexp("key policy"))
    assert "allow cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*" in str(warning.entry.data)


def test_a_topic_with_the_aws_managed_key_gets_a_warning(stack):
    key = kms.Alias.from_alias_name(stack, "Key", "alias/aws/sns")
    queue = FailureQueue(stack, "Failures")
    queue.add_alarm_action(sns.Topic(stack, "Alarms", master_key=key))
    [warning] = Annotations.from_stack(stack).find_warning(
        "/Orders/Failures", Match.string_like_regexp("alias/aws/sns")
    )
    assert "Encrypt the topic with a customer-managed key" in str(warning.entry.data)


def test_anything_else_is_rejected_as_an_action(stack):
    queue = FailureQueue(stack, "Failures")
    with pytest.raises(ValidationError) as caught:
        queue.add_alarm_action(iam.Role(stack, "Role", assumed_by=iam.AccountRootPrincipal()))
    assert str(caught.value) == (
        "Orders/Failures: alarm action must be an SNS topic or a cloudwatch.IAlarmAction, got Role Orders/Role"
    )
    assert alarm_actions(stack) == [None, None]


# --- clean -----------------------------------------------------------------------------------------------


def test_alarms_and_an_encrypted_alarm_topic_are_nag_and_cfn_lint_clean(stack):
    key = kms.Key(stack, "AlarmsKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Alarms", master_key=key, enforce_ssl=True)
    function = make_function(stack)
    constructs = [
        AsyncInvocation(stack, "NotifyAsync", function=function),
        StreamConsumer(stack, "Consume", function=make_function(stack, "Other"), source=make_stream(stack)),
    ]
    for construct in constructs:
        construct.add_alarm_action(topic)
    ours = [
        f
        for f in nag_findings(stack)
        if any(f.path.startswith(path) for path in ("Orders/NotifyAsync", "Orders/Consume", "Orders/Alarms"))
    ]
    assert ours == []
    assert lint_template(Template.from_stack(stack).to_json()) == []
    assert alarm_count(stack) == len(constructs[0].alarms) + len(constructs[1].alarms) == 5 + 7


# --- one add_alarm_action, thresholds ----------------------------------------------------------------------


def test_one_add_alarm_action_reaches_the_alarms_of_a_failure_queue_passed_in_once(stack):
    topic = sns.Topic(stack, "Ops")
    dead_letters = FailureQueue(stack, "Dlq")
    consumer = QueueConsumer(
        stack, "Consume", function=make_function(stack), queue=make_source_queue(stack, dead_letters)
    )
    consumer.add_alarm_action(topic)
    dead_letters.add_alarm_action(topic)  # also called on the queue itself: still one action per alarm
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": ref(stack, topic)}]


def test_a_threshold_is_changed_and_the_description_says_so(stack):
    consumer = StreamConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        source=make_stream(stack),
        alarm_thresholds={"ErrorsAlarm": 5, "IteratorAgeAlarm": 60_000},
    )
    found = alarms_of(stack, consumer)
    assert found["ErrorsAlarm"]["Threshold"] == 5
    assert found["ErrorsAlarm"]["AlarmDescription"].endswith("Threshold 5 (alarm_thresholds), instead of 1.")
    assert found["IteratorAgeAlarm"]["Threshold"] == 60_000
    assert found["DestinationDeliveryFailuresAlarm"]["Threshold"] == 1


def test_a_failure_queue_threshold_is_changed(stack):
    queue = FailureQueue(stack, "Dlq", alarm_thresholds={"MessagesWaitingAlarm": 10})
    assert alarms_of(stack, queue)["MessagesWaitingAlarm"]["Threshold"] == 10


def test_bad_thresholds_are_rejected_with_the_alarm_ids_there_are(stack):
    with pytest.raises(ValidationError) as raised:
        AsyncInvocation(
            stack,
            "NotifyAsync",
            function=make_function(stack),
            alarm_thresholds={"EventsDroppedAlarm": -1, "EventAgeAlarm": True},
        )
    assert [(v.setting, v.given) for v in raised.value.violations] == [
        ("alarm_thresholds['EventsDroppedAlarm']", "-1"),
        ("alarm_thresholds['EventAgeAlarm']", "True"),
    ]
    with pytest.raises(ValidationError) as raised:
        AsyncInvocation(stack, "OtherAsync", function=make_function(stack, "Other"), alarm_thresholds={"Errors": 2})
    assert str(raised.value.violations[0]) == (
        "Orders/OtherAsync: alarm_thresholds['Errors'] must be the id of an alarm of this construct: "
        "DestinationDeliveryFailuresAlarm, EventAgeAlarm, EventsDroppedAlarm, got Errors"
    )


# --- the mapping and its metrics, as aws-cdk's event sources expose them -----------------------------------


def test_consumers_expose_the_mapping_id_arn_and_metrics(stack):
    function = make_function(stack)
    consumer = StreamConsumer(stack, "Consume", function=function, source=make_stream(stack))
    mapping_id = stack.get_logical_id(consumer.event_source_mapping)
    assert stack.resolve(consumer.event_source_mapping_id) == {"Ref": mapping_id}
    assert stack.resolve(consumer.event_source_mapping_arn) == {"Fn::GetAtt": [mapping_id, "EventSourceMappingArn"]}
    dropped = consumer.metric_dropped_events()
    assert (dropped.namespace, dropped.metric_name, dropped.statistic) == ("AWS/Lambda", "DroppedEventCount", "Sum")
    assert stack.resolve(dropped.dimensions) == {"EventSourceMappingUUID": {"Ref": mapping_id}}
    errors = consumer.metric_errors(period=cdk.Duration.minutes(5), statistic="Maximum")
    assert (errors.metric_name, errors.statistic, errors.period.to_seconds()) == ("Errors", "Maximum", 300)
    assert stack.resolve(errors.dimensions) == {"FunctionName": {"Ref": ref(stack, function)}}
    age = consumer.metric_iterator_age()
    assert (age.metric_name, age.statistic, age.period.to_seconds()) == ("IteratorAge", "Maximum", 60)


def test_a_queue_consumer_exposes_its_mapping_too(stack):
    consumer = QueueConsumer(
        stack, "Consume", function=make_function(stack), queue=make_source_queue(stack, FailureQueue(stack, "Dlq"))
    )
    mapping_id = stack.get_logical_id(consumer.event_source_mapping)
    assert stack.resolve(consumer.event_source_mapping_id) == {"Ref": mapping_id}
    assert stack.resolve(consumer.metric_dropped_events().dimensions) == {"EventSourceMappingUUID": {"Ref": mapping_id}}


# --- alarm_thresholds ids are checked against the plan, before anything is created -------------------------


def _plain_queue(stack: cdk.Stack, id: str = "Plain") -> sqs.Queue:
    return sqs.Queue(stack, id, enforce_ssl=True)


def _kafka(stack: cdk.Stack, **kwargs) -> KafkaConsumer:
    return KafkaConsumer(stack, "Subject", topic="orders", cluster_arn=CLUSTER, **kwargs)


# Each case builds the construct under test as "Subject" in `stack` with `thresholds`; the configurations cover
# every branch of the planned alarm ids.
THRESHOLD_CASES = {
    "failure queue": lambda stack, t: FailureQueue(stack, "Subject", alarm_thresholds=t),
    "failure queue without alarms": lambda stack, t: FailureQueue(stack, "Subject", alarms=False, alarm_thresholds=t),
    "async default": lambda stack, t: AsyncInvocation(
        stack, "Subject", function=make_function(stack), alarm_thresholds=t
    ),
    "async plain queues": lambda stack, t: AsyncInvocation(
        stack,
        "Subject",
        function=make_function(stack),
        on_failure=_plain_queue(stack),
        dead_letter_queue=_plain_queue(stack, "Dead"),
        alarm_thresholds=t,
    ),
    "async discarding": lambda stack, t: AsyncInvocation(
        stack, "Subject", function=make_function(stack), on_failure=None, discard_failures=True, alarm_thresholds=t
    ),
    "stream kinesis": lambda stack, t: StreamConsumer(
        stack, "Subject", function=make_function(stack), source=make_stream(stack), alarm_thresholds=t
    ),
    "stream kinesis fan-out, plain queue": lambda stack, t: StreamConsumer(
        stack,
        "Subject",
        function=make_function(stack),
        source=make_stream(stack),
        enhanced_fan_out=True,
        on_failure=_plain_queue(stack),
        alarm_thresholds=t,
    ),
    "stream dynamodb discarding": lambda stack, t: StreamConsumer(
        stack,
        "Subject",
        function=make_function(stack),
        source=make_table(stack),
        on_failure=None,
        discard_failures=True,
        alarm_thresholds=t,
    ),
    "queue consumer, plain dead-letter queue": lambda stack, t: QueueConsumer(
        stack,
        "Subject",
        function=make_function(stack),
        queue=make_source_queue(stack, _plain_queue(stack)),
        alarm_thresholds=t,
    ),
    "kafka provisioned, plain queue": lambda stack, t: _kafka(
        stack, function=make_function(stack), on_failure=_plain_queue(stack), alarm_thresholds=t
    ),
    "kafka on demand": lambda stack, t: _kafka(
        stack, function=make_function(stack), provisioned_poller_config=None, alarm_thresholds=t
    ),
}


def _own_alarm_ids(construct) -> list[str]:
    """The ids of the alarms in `.alarms` that the construct created itself (not a FailureQueue's)."""
    return sorted(alarm.node.id for alarm in construct.alarms if alarm.node.scope is construct)


@pytest.mark.parametrize("case", THRESHOLD_CASES)
def test_every_alarm_id_a_construct_creates_takes_a_threshold(case):
    built = THRESHOLD_CASES[case](cdk.Stack(new_app(), "Orders"), None)
    ids = _own_alarm_ids(built)
    stack = cdk.Stack(new_app(), "Orders")
    construct = THRESHOLD_CASES[case](stack, dict.fromkeys(ids, 7))
    assert _own_alarm_ids(construct) == ids
    found = alarms_of(stack, construct)
    assert [found[id]["Threshold"] for id in ids] == [7] * len(ids)


@pytest.mark.parametrize("case", THRESHOLD_CASES)
def test_an_unknown_alarm_id_is_rejected_before_anything_is_created(case):
    ids = _own_alarm_ids(THRESHOLD_CASES[case](cdk.Stack(new_app(), "Orders"), None))
    stack = cdk.Stack(new_app(), "Orders")
    with pytest.raises(ValidationError) as raised:
        THRESHOLD_CASES[case](stack, {"NoSuchAlarm": 1})
    assert stack.node.try_find_child("Subject") is None
    assert [str(v) for v in raised.value.violations] == [
        "Orders/Subject: alarm_thresholds['NoSuchAlarm'] must be the id of an alarm of this construct: "
        + (", ".join(ids) or "none (alarms=False)")
        + ", got NoSuchAlarm"
    ]


def test_a_planned_alarm_that_is_not_created_or_one_not_planned_fails_loudly(stack):
    scope = cdk.Stack(new_app(), "Other")
    alarm_lib.use_alarm_thresholds(scope, None, ["MessagesWaitingAlarm"])
    with pytest.raises(AssertionError, match="not among the planned alarm ids"):
        alarm_lib.create_alarm(
            scope,
            "Surprise",
            metric=alarm_lib.queue_visible_messages(_plain_queue(scope)),
            threshold=1,
            description="d",
        )
    with pytest.raises(AssertionError, match="planned alarm ids"):
        alarm_lib.confirm_planned_alarms(scope)
