"""StreamConsumer: resilient defaults, validation, failure homes, fan-out and least-privilege grants."""

import datetime as dt

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import INFINITE, FailureBucket, FailureQueue, StreamConsumer, ValidationError
from tests.harness import lint_template, nag_findings, new_app, normalize_template
from tests.test_async_invocation import allow, arn_of, make_function, ref, role_statements

KINESIS_READ = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]
DYNAMODB_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders")


def make_stream(stack: cdk.Stack, **props) -> kinesis.Stream:
    return kinesis.Stream(stack, "Stream", encryption=kinesis.StreamEncryption.MANAGED, **props)


def make_table(
    stack: cdk.Stack, stream: dynamodb.StreamViewType | None = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, **props
):
    return dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=stream,
        **props,
    )


def mapping(stack: cdk.Stack) -> dict:
    [resource] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    return resource["Properties"]


def violations_of(**kwargs) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        StreamConsumer(**kwargs)
    return [(violation.setting, str(violation)) for violation in caught.value.violations]


# --- defaults --------------------------------------------------------------------------------------------


def test_kinesis_defaults_bisect_bound_retries_and_age_and_park_failures(stack, template_snapshot):
    function, stream = make_function(stack), make_stream(stack)
    consumer = StreamConsumer(stack, "Consume", function=function, source=stream)

    assert isinstance(consumer.failure_queue, FailureQueue)
    assert mapping(stack) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "EventSourceArn": arn_of(stack, stream),
        "Enabled": True,
        "StartingPosition": "TRIM_HORIZON",
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": arn_of(stack, consumer.failure_queue)}},
        "MetricsConfig": {"Metrics": ["EventCount"]},
    }
    assert role_statements(stack, function) == [
        allow(KINESIS_READ, arn_of(stack, stream)),
        allow("sqs:SendMessage", arn_of(stack, consumer.failure_queue)),
    ]
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


def test_dynamodb_defaults_read_the_tables_stream(stack, template_snapshot):
    function, table = make_function(stack), make_table(stack)
    consumer = StreamConsumer(stack, "Consume", function=function, source=table)
    # The same failure-handling defaults as for a Kinesis stream.
    assert mapping(stack) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "EventSourceArn": {"Fn::GetAtt": [ref(stack, table), "StreamArn"]},
        "Enabled": True,
        "StartingPosition": "TRIM_HORIZON",
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": arn_of(stack, consumer.failure_queue)}},
        "MetricsConfig": {"Metrics": ["EventCount"]},
    }
    assert isinstance(consumer.failure_queue, FailureQueue)
    assert role_statements(stack, function) == [
        allow(DYNAMODB_READ, {"Fn::GetAtt": [ref(stack, table), "StreamArn"]}),
        allow("sqs:SendMessage", arn_of(stack, consumer.failure_queue)),
    ]
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


def test_what_the_construct_creates_is_nag_and_cfn_lint_clean(stack):
    consumer = StreamConsumer(stack, "Consume", function=make_function(stack), source=make_stream(stack))
    assert [f for f in nag_findings(stack) if f.path.startswith(consumer.node.path)] == []
    assert lint_template(Template.from_stack(stack).to_json()) == []


# --- settings, boundaries, tokens ------------------------------------------------------------------------


def test_every_setting_is_written(stack):
    function, stream = make_function(stack), make_stream(stack)
    StreamConsumer(
        stack,
        "Consume",
        function=function,
        source=stream,
        starting_position=lambda_.StartingPosition.LATEST,
        batch_size=500,
        max_batching_window=cdk.Duration.seconds(5),
        bisect_batch_on_error=False,
        retry_attempts=10,
        max_record_age=cdk.Duration.hours(2),
        parallelization_factor=4,
        tumbling_window=cdk.Duration.seconds(30),
        filters=[lambda_.FilterCriteria.filter({"data": {"kind": lambda_.FilterRule.is_equal("order")}})],
        report_batch_item_failures=False,
        enabled=False,
    )
    properties = mapping(stack)
    assert {
        key: value
        for key, value in properties.items()
        if key not in ("FunctionName", "EventSourceArn", "DestinationConfig")
    } == {
        "Enabled": False,
        "StartingPosition": "LATEST",
        "BatchSize": 500,
        "MaximumBatchingWindowInSeconds": 5,
        "BisectBatchOnFunctionError": False,
        "MaximumRetryAttempts": 10,
        "MaximumRecordAgeInSeconds": 7200,
        "ParallelizationFactor": 4,
        "TumblingWindowInSeconds": 30,
        "FilterCriteria": {"Filters": [{"Pattern": '{"data":{"kind":["order"]}}'}]},
        "MetricsConfig": {"Metrics": ["EventCount"]},
    }


@pytest.mark.parametrize(
    "settings",
    [
        {
            "batch_size": 1,
            "max_batching_window": cdk.Duration.seconds(0),
            "retry_attempts": 0,
            "max_record_age": cdk.Duration.seconds(60),
            "parallelization_factor": 1,
            "tumbling_window": cdk.Duration.seconds(0),
        },
        {
            "batch_size": 10_000,
            "max_batching_window": cdk.Duration.seconds(300),
            "retry_attempts": 10_000,
            "max_record_age": cdk.Duration.days(7),
            "parallelization_factor": 10,
            "tumbling_window": cdk.Duration.seconds(900),
        },
    ],
    ids=["lower", "upper"],
)
def test_boundaries_are_accepted(stack, settings):
    StreamConsumer(stack, "Consume", function=make_function(stack), source=make_stream(stack), **settings)
    assert mapping(stack)["BatchSize"] == settings["batch_size"]


def test_infinite_retries_and_record_age_are_expressible(stack):
    # aws-cdk cannot express a record age of -1 (aws-cdk#27321).
    StreamConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        source=make_stream(stack),
        retry_attempts=INFINITE,
        max_record_age=INFINITE,
    )
    properties = mapping(stack)
    assert (properties["MaximumRetryAttempts"], properties["MaximumRecordAgeInSeconds"]) == (-1, -1)


def test_tokens_are_accepted_and_never_range_checked(stack):
    numbers = {
        name: cdk.CfnParameter(stack, name, type="Number").value_as_number
        for name in ("Batch", "Retries", "Age", "Factor")
    }
    StreamConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        source=make_stream(stack),
        batch_size=numbers["Batch"],
        retry_attempts=numbers["Retries"],
        max_record_age=numbers["Age"],
        parallelization_factor=numbers["Factor"],
        max_batching_window=cdk.Duration.seconds(numbers["Batch"]),
    )
    properties = mapping(stack)
    assert properties["BatchSize"] == {"Ref": "Batch"}
    assert properties["MaximumRetryAttempts"] == {"Ref": "Retries"}
    assert properties["MaximumRecordAgeInSeconds"] == {"Ref": "Age"}
    assert properties["ParallelizationFactor"] == {"Ref": "Factor"}


def test_a_record_age_duration_token_is_accepted(stack):
    age = cdk.CfnParameter(stack, "Age", type="Number").value_as_number
    StreamConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        source=make_stream(stack),
        max_record_age=cdk.Duration.seconds(age),
    )
    assert mapping(stack)["MaximumRecordAgeInSeconds"] == {"Ref": "Age"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size must be between 1 and 10000 for event source mappings, got 0"),
        ({"batch_size": 10_001}, "batch_size must be between 1 and 10000 for event source mappings, got 10001"),
        (
            {"max_batching_window": cdk.Duration.seconds(301)},
            "max_batching_window must be between 0 and 300 seconds for event source mappings, got 301 seconds",
        ),
        (
            {"retry_attempts": -2},
            "retry_attempts must be -1 (infinite) or between 0 and 10000 for Kinesis and DynamoDB Streams event source mappings, got -2",
        ),
        (
            {"retry_attempts": 10_001},
            "retry_attempts must be -1 (infinite) or between 0 and 10000 for Kinesis and DynamoDB Streams event source mappings, got 10001",
        ),
        (
            {"max_record_age": cdk.Duration.seconds(59)},
            "max_record_age must be -1 (infinite) or between 60 and 604800 seconds for Kinesis and DynamoDB Streams event source mappings, got 59 seconds",
        ),
        (
            {"max_record_age": cdk.Duration.seconds(604_801)},
            "max_record_age must be -1 (infinite) or between 60 and 604800 seconds for Kinesis and DynamoDB Streams event source mappings, got 604801 seconds",
        ),
        (
            {"max_record_age": 0},
            "max_record_age must be -1 (infinite) or between 60 and 604800 seconds for Kinesis and DynamoDB Streams event source mappings, got 0 seconds",
        ),
        (
            {"parallelization_factor": 0},
            "parallelization_factor must be between 1 and 10 for Kinesis and DynamoDB Streams event source mappings, got 0",
        ),
        (
            {"parallelization_factor": 11},
            "parallelization_factor must be between 1 and 10 for Kinesis and DynamoDB Streams event source mappings, got 11",
        ),
        (
            {"tumbling_window": cdk.Duration.seconds(901)},
            "tumbling_window must be between 0 and 900 seconds for Kinesis and DynamoDB Streams event source mappings, got 901 seconds",
        ),
        (
            {"retry_attempts": None},
            "retry_attempts must be set: leave it out for the bounded default, or pass INFINITE (-1) to never give up, got None",
        ),
        (
            {"max_record_age": None},
            "max_record_age must be set: leave it out for the bounded default, or pass INFINITE (-1) to never give up, got None",
        ),
    ],
)
def test_out_of_range_settings_are_rejected_with_path_range_and_value(stack, settings, message):
    found = violations_of(
        scope=stack, id="Consume", function=make_function(stack), source=make_stream(stack), **settings
    )
    assert [text for _, text in found] == [f"Orders/Consume: {message}"]


def test_all_violations_come_together_and_nothing_is_created(stack):
    found = violations_of(
        scope=stack,
        id="Consume",
        function=make_function(stack),
        source=make_table(stack),
        batch_size=0,
        retry_attempts=-5,
        parallelization_factor=20,
        on_failure=sqs.Queue(stack, "Fifo", fifo=True),
        on_success=sqs.Queue(stack, "Done"),
        enhanced_fan_out=True,
    )
    assert [setting for setting, _ in found] == [
        "enhanced_fan_out",
        "batch_size",
        "retry_attempts",
        "parallelization_factor",
        "on_success",
        "on_failure",
    ]
    assert stack.node.try_find_child("Consume") is None


# --- sources ---------------------------------------------------------------------------------------------


def test_a_table_without_a_stream_is_rejected_with_how_to_add_one(stack):
    [(setting, text)] = violations_of(
        scope=stack, id="Consume", function=make_function(stack), source=make_table(stack, stream=None)
    )
    assert setting == "source"
    assert "stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES" in text
    assert text.endswith("got DynamoDB table Orders/Table without a stream")


def test_an_sqs_queue_is_pointed_to_queue_consumer(stack):
    [(setting, text)] = violations_of(
        scope=stack, id="Consume", function=make_function(stack), source=sqs.Queue(stack, "Queue")
    )
    assert setting == "source" and "for SQS use QueueConsumer" in text


def test_table_v2_with_a_stream_works(stack):
    function = make_function(stack)
    table = dynamodb.TableV2(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    StreamConsumer(stack, "Consume", function=function, source=table)
    assert mapping(stack)["EventSourceArn"] == {"Fn::GetAtt": [ref(stack, table), "StreamArn"]}


def test_a_dynamodb_record_age_beyond_24_hours_is_accepted_with_a_warning(stack):
    StreamConsumer(
        stack, "Consume", function=make_function(stack), source=make_table(stack), max_record_age=cdk.Duration.hours(25)
    )
    assert mapping(stack)["MaximumRecordAgeInSeconds"] == 90_000
    warnings = Annotations.from_stack(stack).find_warning("/Orders/Consume", Match.string_like_regexp("never triggers"))
    assert len(warnings) == 1


def test_a_kinesis_record_age_beyond_24_hours_gets_no_warning(stack):
    StreamConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        source=make_stream(stack),
        max_record_age=cdk.Duration.hours(25),
    )
    assert Annotations.from_stack(stack).find_warning("*", Match.any_value()) == []


def test_at_timestamp_needs_kinesis_and_a_timestamp(stack):
    function, stream = make_function(stack), make_stream(stack)
    at = lambda_.StartingPosition.AT_TIMESTAMP
    [(setting, _)] = violations_of(scope=stack, id="A", function=function, source=stream, starting_position=at)
    assert setting == "starting_position_timestamp"
    [(setting, _)] = violations_of(
        scope=stack,
        id="B",
        function=function,
        source=make_table(stack),
        starting_position=at,
        starting_position_timestamp=1.0,
    )
    assert setting == "starting_position"
    [(setting, _)] = violations_of(
        scope=stack, id="C", function=function, source=stream, starting_position_timestamp=1.0
    )
    assert setting == "starting_position_timestamp"
    StreamConsumer(
        stack,
        "D",
        function=function,
        source=stream,
        starting_position=at,
        starting_position_timestamp=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    assert mapping(stack)["StartingPositionTimestamp"] == 1_793_491_200


def test_encrypted_sources_get_kms_decrypt(stack):
    function = make_function(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    stream = kinesis.Stream(stack, "Stream", encryption=kinesis.StreamEncryption.KMS, encryption_key=key)
    StreamConsumer(stack, "Consume", function=function, source=stream, discard_failures=True)
    assert role_statements(stack, function) == [
        allow(KINESIS_READ, arn_of(stack, stream)),
        allow("kms:Decrypt", arn_of(stack, key)),
    ]


def test_enhanced_fan_out_reads_through_a_consumer_with_subscribe_permission(stack):
    function, stream = make_function(stack), make_stream(stack)
    consumer = StreamConsumer(
        stack, "Consume", function=function, source=stream, enhanced_fan_out=True, discard_failures=True
    )
    consumer_arn = {"Fn::GetAtt": [stack.get_logical_id(consumer.stream_consumer), "ConsumerARN"]}
    assert mapping(stack)["EventSourceArn"] == consumer_arn
    Template.from_stack(stack).has_resource_properties(
        "AWS::Kinesis::StreamConsumer", {"StreamARN": arn_of(stack, stream)}
    )
    assert role_statements(stack, function) == [
        allow(KINESIS_READ, arn_of(stack, stream)),
        allow(["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"], consumer_arn),
    ]


def test_an_imported_stream_works(stack):
    function = make_function(stack)
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    StreamConsumer(
        stack,
        "Consume",
        function=function,
        source=kinesis.Stream.from_stream_arn(stack, "Imported", arn),
        discard_failures=True,
    )
    assert mapping(stack)["EventSourceArn"] == arn
    assert role_statements(stack, function) == [allow(KINESIS_READ, arn)]


# --- failure homes ---------------------------------------------------------------------------------------


def test_a_topic_failure_home_gets_publish_and_its_key(stack):
    function, key = make_function(stack), kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Failures", master_key=key)
    consumer = StreamConsumer(stack, "Consume", function=function, source=make_stream(stack), on_failure=topic)
    assert consumer.failure_queue is None
    assert mapping(stack)["DestinationConfig"] == {"OnFailure": {"Destination": {"Ref": ref(stack, topic)}}}
    statements = role_statements(stack, function)
    assert allow("sns:Publish", {"Ref": ref(stack, topic)}) in statements
    assert allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)) in statements


@pytest.mark.parametrize("kind", ["fifo-queue", "fifo-topic", "function", "bus"])
def test_failure_homes_other_than_standard_queues_topics_and_buckets_are_rejected(stack, kind):
    targets = {
        "fifo-queue": lambda: sqs.Queue(stack, "Target", fifo=True),
        "fifo-topic": lambda: sns.Topic(stack, "Target", fifo=True),
        "function": lambda: make_function(stack, "Target"),
        "bus": lambda: events.EventBus(stack, "Target"),
    }
    [(setting, text)] = violations_of(
        scope=stack, id="Consume", function=make_function(stack), source=make_stream(stack), on_failure=targets[kind]()
    )
    assert setting == "on_failure"
    assert text.endswith("Orders/Target")


def test_on_success_is_a_clear_error_not_a_type_error(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Consume",
        function=make_function(stack),
        source=make_stream(stack),
        on_success=sqs.Queue(stack, "Done"),
    )
    assert setting == "on_success"
    assert "event source mappings have no on-success destination" in text


def test_dropping_failures_needs_discard_failures(stack):
    function, stream = make_function(stack), make_stream(stack)
    [(setting, _)] = violations_of(scope=stack, id="Consume", function=function, source=stream, on_failure=None)
    assert setting == "on_failure"
    StreamConsumer(stack, "Consume", function=function, source=stream, discard_failures=True)
    assert "DestinationConfig" not in mapping(stack)


def test_an_alias_is_mapped_by_its_qualified_arn(stack):
    function = make_function(stack)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    StreamConsumer(stack, "Consume", function=alias, source=make_stream(stack))
    assert mapping(stack)["FunctionName"] == {"Ref": ref(stack, alias)}


# --- S3 failure homes, mapping metrics, aws-cdk destination objects ---------------------------------------


def s3_home_statements(stack, bucket) -> list[dict]:
    return [
        allow("s3:PutObject", {"Fn::Join": ["", [arn_of(stack, bucket), "/*"]]}),
        allow("s3:ListBucket", arn_of(stack, bucket)),
    ]


def test_a_failure_bucket_gets_put_object_and_list_bucket_only(stack):
    function, stream = make_function(stack), make_stream(stack)
    bucket = FailureBucket(stack, "Failures")
    consumer = StreamConsumer(stack, "Consume", function=function, source=stream, on_failure=bucket)

    assert consumer.failure_queue is None
    assert mapping(stack)["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(stack, bucket)}}
    assert role_statements(stack, function) == [
        allow(KINESIS_READ, arn_of(stack, stream)),
        *s3_home_statements(stack, bucket),
    ]
    # The role's policy included: its s3:PutObject on <bucket>/* is acknowledged there, with its reason.
    findings = nag_findings(stack)
    assert [f for f in findings if f.path.startswith(("Orders/Consume", "Orders/Failures"))] == []
    assert [f for f in findings if "Failures" in f.rule_id] == [], "the <bucket>/* grant is acknowledged"
    assert lint_template(Template.from_stack(stack).to_json()) == []


def test_a_bucket_with_a_customer_managed_key_adds_generate_data_key(stack):
    function, key = make_function(stack), kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = FailureBucket(stack, "Failures", encryption_key=key)
    StreamConsumer(stack, "Consume", function=function, source=make_table(stack), on_failure=bucket)
    statements = role_statements(stack, function)
    assert allow("kms:GenerateDataKey", arn_of(stack, key)) in statements
    assert not any("kms:Decrypt" in str(statement["Action"]) for statement in statements)
    assert not any(
        "s3:GetObject" in str(statement["Action"]) or "s3:Delete" in str(statement["Action"])
        for statement in statements
    )


def test_mapping_metrics_and_their_alarms(stack):
    function = make_function(stack)
    consumer = StreamConsumer(
        stack, "Consume", function=function, source=make_stream(stack), on_failure=FailureBucket(stack, "Failures")
    )
    alarms = {alarm.node.id: alarm for alarm in consumer.alarms}
    assert {"DroppedEventsAlarm", "FailureObjectsAlarm"} <= set(alarms)
    template = Template.from_stack(stack)
    mapping_id = stack.get_logical_id(consumer.event_source_mapping)
    for alarm_id, metric in (
        ("DroppedEventsAlarm", "DroppedEventCount"),
        ("FailureObjectsAlarm", "OnFailureDestinationDeliveredEventCount"),
    ):
        assert alarms[alarm_id].metric.metric_name == metric
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": metric,
                "Namespace": "AWS/Lambda",
                "Statistic": "Sum",
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": {"Ref": mapping_id}}],
                "TreatMissingData": "notBreaching",
            },
        )
    assert "redrive --from s3://" in alarms["FailureObjectsAlarm"].node.default_child.alarm_description


def test_without_alarms_no_mapping_metrics_are_bought(stack):
    StreamConsumer(stack, "Consume", function=make_function(stack), source=make_stream(stack), alarms=False)
    assert "MetricsConfig" not in mapping(stack)
    assert Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm") == {}


def test_a_queue_home_has_no_failure_objects_alarm_and_a_small_one_is_warned(stack):
    small = sqs.Queue(stack, "Small", max_message_size_bytes=262_144, enforce_ssl=True)
    consumer = StreamConsumer(
        stack, "Consume", function=make_function(stack), source=make_stream(stack), on_failure=small
    )
    assert "FailureObjectsAlarm" not in {alarm.node.id for alarm in consumer.alarms}
    warnings = Annotations.from_stack(stack).find_warning("/Orders/Consume", Match.string_like_regexp("1 MiB"))
    assert len(warnings) == 1 and "MaximumMessageSize 262144 bytes" in warnings[0].entry.data


def test_aws_cdk_destination_objects_are_unwrapped_and_granted_least_privilege(stack):
    function, stream = make_function(stack), make_stream(stack)
    bucket = FailureBucket(stack, "Failures")
    StreamConsumer(
        stack, "Consume", function=function, source=stream, on_failure=event_sources.S3OnFailureDestination(bucket)
    )
    assert mapping(stack)["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(stack, bucket)}}
    # aws-cdk's own S3OnFailureDestination would grant s3:GetObject*, s3:DeleteObject*, ... : we grant two actions.
    assert role_statements(stack, function) == [
        allow(KINESIS_READ, arn_of(stack, stream)),
        *s3_home_statements(stack, bucket),
    ]
    # Nothing of the probe bind leaked into the app.
    assert not [node for node in stack.node.find_all() if "Probe" in node.node.id]


def test_a_fifo_queue_behind_sqs_dlq_is_still_rejected(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Consume",
        function=make_function(stack),
        source=make_stream(stack),
        on_failure=event_sources.SqsDlq(sqs.Queue(stack, "Target", fifo=True)),
    )
    assert setting == "on_failure" and "FIFO SQS queue Orders/Target (in SqsDlq)" in text


def test_sns_dlq_gets_publish_and_the_topic_key(stack):
    function, key = make_function(stack), kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Failures", master_key=key)
    StreamConsumer(
        stack, "Consume", function=function, source=make_stream(stack), on_failure=event_sources.SnsDlq(topic)
    )
    statements = role_statements(stack, function)
    assert allow("sns:Publish", {"Ref": ref(stack, topic)}) in statements
    assert allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)) in statements
