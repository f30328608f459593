"""aws-cdk's own destination objects (SqsDestination, ..., S3OnFailureDestination) accepted wherever their
resource is: the same validation and the same least-privilege grants, nothing of aws-cdk's own grants."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from constructs_lib import AsyncInvocation, FailureBucket, StreamConsumer
from tests.harness import new_app
from tests.test_async_invocation import allow, arn_of, invoke_config, make_function, ref, role_statements, violations_of


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders")


def test_sqs_destination_is_its_queue_with_send_and_the_key(stack):
    function, key = make_function(stack), kms.Key(stack, "Key", enable_key_rotation=True)
    queue = sqs.Queue(stack, "Failures", encryption_master_key=key, enforce_ssl=True)
    AsyncInvocation(stack, "Async", function=function, on_failure=destinations.SqsDestination(queue))
    assert invoke_config(stack)["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(stack, queue)}}
    assert role_statements(stack, function) == [
        allow("sqs:SendMessage", arn_of(stack, queue)),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)),
    ]


def test_a_fifo_queue_behind_sqs_destination_is_rejected(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Async",
        function=make_function(stack),
        on_failure=destinations.SqsDestination(sqs.Queue(stack, "Target", fifo=True)),
    )
    assert setting == "on_failure"
    assert text.endswith("got FIFO SQS queue Orders/Target (in SqsDestination)")


def test_an_imported_queue_behind_a_destination_keeps_its_key(stack):
    function = make_function(stack)
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    queue = sqs.Queue.from_queue_attributes(
        stack, "Imported", queue_arn="arn:aws:sqs:us-east-1:123456789012:failures", key_arn=key_arn
    )
    AsyncInvocation(stack, "Async", function=function, on_failure=destinations.SqsDestination(queue))
    assert allow(["kms:Decrypt", "kms:GenerateDataKey"], key_arn) in role_statements(stack, function)


def test_lambda_sns_and_eventbridge_destinations(stack):
    function, target = make_function(stack), make_function(stack, "Audit")
    topic = sns.Topic(stack, "Done", enforce_ssl=True)
    bus = events.EventBus(stack, "Bus")
    AsyncInvocation(
        stack,
        "Async",
        function=function,
        on_success=destinations.SnsDestination(topic),
        on_failure=destinations.LambdaDestination(target),
    )
    AsyncInvocation(
        stack,
        "AuditAsync",
        function=target,
        on_success=destinations.EventBridgeDestination(bus),
        on_failure=destinations.EventBridgeDestination(),  # the default bus
    )
    statements = role_statements(stack, function)
    assert allow("sns:Publish", {"Ref": ref(stack, topic)}) in statements
    assert allow("lambda:InvokeFunction", arn_of(stack, target)) in statements
    [put_events] = [s for s in role_statements(stack, target) if s["Action"] == "events:PutEvents"]
    named, default_bus = put_events["Resource"]  # aws-cdk merges the two statements of one action
    assert named == arn_of(stack, bus)
    assert "event-bus/default" in str(default_bus)


def test_a_lambda_destination_to_itself_is_a_loop(stack):
    function = make_function(stack)
    [(setting, text)] = violations_of(
        scope=stack, id="Async", function=function, on_failure=destinations.LambdaDestination(function)
    )
    assert setting == "on_failure" and "invocation loop" in text


def test_response_only_lambda_destination_is_refused_with_what_to_do(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Async",
        function=make_function(stack),
        on_success=destinations.LambdaDestination(make_function(stack, "Other"), response_only=True),
    )
    assert setting == "on_success" and "pass the function itself" in text


def test_s3_destinations_get_put_object_and_list_bucket_not_read_write(stack):
    function, consumer_function = make_function(stack), make_function(stack, "Consume")
    bucket = FailureBucket(stack, "Failures")
    AsyncInvocation(stack, "Async", function=function, on_failure=destinations.S3Destination(bucket))
    stream_home = event_sources.S3OnFailureDestination(bucket)
    from aws_cdk import aws_kinesis as kinesis

    StreamConsumer(
        stack,
        "Stream",
        function=consumer_function,
        source=kinesis.Stream(stack, "Orders", encryption=kinesis.StreamEncryption.MANAGED),
        on_failure=stream_home,
    )
    for fn in (function, consumer_function):
        actions = sorted(str(s["Action"]) for s in role_statements(stack, fn) if "s3:" in str(s["Action"]))
        assert actions == ["s3:ListBucket", "s3:PutObject"], fn.node.path


def test_s3_destination_is_rejected_on_success(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Async",
        function=make_function(stack),
        on_success=destinations.S3Destination(s3.Bucket(stack, "Target")),
    )
    assert setting == "on_success" and text.endswith("got S3 bucket Orders/Target (in S3Destination)")


def test_the_probe_changes_nothing_in_the_users_app_not_even_a_key_policy():
    app = new_app()
    stack = cdk.Stack(app, "Orders", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    function, key = make_function(stack), kms.Key(stack, "Key", enable_key_rotation=True)
    queue = sqs.Queue(stack, "Failures", encryption_master_key=key, enforce_ssl=True)
    key_policy_before = stack.resolve(key.node.default_child.key_policy)
    AsyncInvocation(stack, "Async", function=function, on_failure=destinations.SqsDestination(queue))
    assert stack.resolve(key.node.default_child.key_policy) == key_policy_before
    assert not [c for c in stack.node.find_all() if "Probe" in c.node.id]
    assert list(Template.from_stack(stack).find_resources("AWS::IAM::Role")) == [ref(stack, function.role)]


def test_kafka_consumer_takes_s3_on_failure_destination_with_put_and_list_only(stack):
    from constructs_lib import KafkaConsumer

    function = make_function(stack)
    bucket = FailureBucket(stack, "Failures")
    cluster = "arn:aws:kafka:us-east-1:123456789012:cluster/orders/abcd1234-abcd-cafe-abab-9876543210ab-4"
    KafkaConsumer(
        stack,
        "Consume",
        function=function,
        topic="orders",
        cluster_arn=cluster,
        on_failure=event_sources.S3OnFailureDestination(bucket),
    )
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(stack, bucket)}}
    s3_actions = sorted(str(s["Action"]) for s in role_statements(stack, function) if "s3:" in str(s["Action"]))
    assert s3_actions == ["s3:ListBucket", "s3:PutObject"]


def test_a_small_user_queue_as_async_home_is_warned(stack):
    from aws_cdk.assertions import Annotations, Match

    queue = sqs.Queue(stack, "Small", max_message_size_bytes=65_536, enforce_ssl=True)
    AsyncInvocation(stack, "Async", function=make_function(stack), on_failure=destinations.SqsDestination(queue))
    [warning] = Annotations.from_stack(stack).find_warning("/Orders/Async", Match.string_like_regexp("1 MiB"))
    assert "on_failure must be at least 1048576 bytes" in warning.entry.data


def test_plain_aws_cdk_stream_sources_with_s3_on_failure_pass_the_rules():
    # What aws-cdk itself synthesizes for KinesisEventSource / DynamoEventSource(on_failure=S3OnFailureDestination):
    # the rules accept the bucket as a stream home and find its (broad) grants sufficient.
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_lambda as lambda_

    from constructs_lib.checks import run_checks

    app = new_app()
    stack = cdk.Stack(app, "Plain")
    function = make_function(stack)
    bucket = s3.Bucket(stack, "Failures", encryption_key=kms.Key(stack, "Key", enable_key_rotation=True))
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    common = {
        "starting_position": lambda_.StartingPosition.LATEST,
        "retry_attempts": 2,
        "max_record_age": cdk.Duration.hours(1),
        "bisect_batch_on_error": True,
        "report_batch_item_failures": True,
        "on_failure": event_sources.S3OnFailureDestination(bucket),
    }
    function.add_event_source(event_sources.KinesisEventSource(kinesis.Stream(stack, "Orders"), **common))
    function.add_event_source(event_sources.DynamoEventSource(table, **common))
    template = Template.from_stack(stack).to_json()
    homes = [
        resource["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert homes == [arn_of(stack, bucket)] * 2
    assert run_checks(template) == []


def test_an_sns_destination_of_async_records_carries_the_256_kb_note(stack):
    from aws_cdk.assertions import Annotations, Match

    topic = sns.Topic(stack, "Done", enforce_ssl=True)
    AsyncInvocation(stack, "Async", function=make_function(stack), on_success=destinations.SnsDestination(topic))
    [info] = Annotations.from_stack(stack).find_info("/Orders/Async", Match.string_like_regexp("256 KB"))
    assert (
        "on_success is SNS topic Orders/Done" in info.entry.data and "drops the request and response" in info.entry.data
    )
