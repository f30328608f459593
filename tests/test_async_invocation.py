"""AsyncInvocation: validation, destinations, dead-letter queue, qualifiers and least-privilege grants."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import AsyncInvocation, FailureQueue, ValidationError
from tests.harness import lint_template, nag_findings, new_app, normalize_template

ACCOUNT_ARN = "arn:aws:{service}:us-east-1:123456789012:{resource}"


@pytest.fixture
def stack() -> cdk.Stack:
    # Template.from_stack synthesizes the whole app, so every test gets its own.
    return cdk.Stack(new_app(), "Orders")


def make_function(stack: cdk.Stack, id: str = "Notify", **props) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        **props,
    )


def ref(stack: cdk.Stack, construct) -> str:
    return stack.get_logical_id(construct.node.default_child)


def arn_of(stack: cdk.Stack, construct) -> dict:
    return {"Fn::GetAtt": [ref(stack, construct), "Arn"]}


def role_statements(stack: cdk.Stack, function: lambda_.IFunction) -> list[dict]:
    """Every statement of the function role's policies, for exact least-privilege assertions."""
    role_id = stack.get_logical_id(function.role.node.default_child)
    policies = Template.from_stack(stack).find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
    )
    return [
        statement for policy in policies.values() for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def allow(actions, resource) -> dict:
    return {"Action": actions, "Effect": "Allow", "Resource": resource}


def invoke_config(stack: cdk.Stack) -> dict:
    [config] = Template.from_stack(stack).find_resources("AWS::Lambda::EventInvokeConfig").values()
    return config["Properties"]


def violations_of(**kwargs) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        AsyncInvocation(**kwargs)
    return [(violation.setting, str(violation)) for violation in caught.value.violations]


# --- defaults --------------------------------------------------------------------------------------------


def test_defaults_send_failures_to_a_new_failure_queue_and_leave_aws_defaults_alone(stack, template_snapshot):
    function = make_function(stack)
    invocation = AsyncInvocation(stack, "NotifyAsync", function=function)

    assert isinstance(invocation.failure_queue, FailureQueue)
    assert invoke_config(stack) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "Qualifier": "$LATEST",
        "DestinationConfig": {"OnFailure": {"Destination": arn_of(stack, invocation.failure_queue)}},
    }
    assert allow("sqs:SendMessage", arn_of(stack, invocation.failure_queue)) in role_statements(stack, function)
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


def test_exposes_what_users_reference(stack):
    function = make_function(stack)
    invocation = AsyncInvocation(stack, "NotifyAsync", function=function, retry_attempts=1)
    assert isinstance(invocation.event_invoke_config, lambda_.CfnEventInvokeConfig)
    assert invocation.qualifier == "$LATEST"
    assert invocation.on_failure_target.arn == invocation.failure_queue.queue_arn
    assert invocation.on_success_target is None and invocation.dead_letter_target is None


def test_the_failure_queue_and_wiring_are_nag_and_cfn_lint_clean(stack):
    invocation = AsyncInvocation(stack, "NotifyAsync", function=make_function(stack))
    ours = [f for f in nag_findings(stack) if f.path.startswith(invocation.node.path)]
    assert ours == []
    assert lint_template(Template.from_stack(stack).to_json()) == []


# --- settings and boundaries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retries", "age", "expected_age"),
    [(0, cdk.Duration.seconds(60), 60), (2, cdk.Duration.hours(6), 21_600), (1, cdk.Duration.minutes(90), 5_400)],
)
def test_boundary_settings_are_accepted_and_written(stack, retries, age, expected_age):
    AsyncInvocation(stack, "NotifyAsync", function=make_function(stack), retry_attempts=retries, max_event_age=age)
    properties = invoke_config(stack)
    assert properties["MaximumRetryAttempts"] == retries
    assert properties["MaximumEventAgeInSeconds"] == expected_age


def test_tokens_are_accepted_and_never_range_checked(stack):
    retries = cdk.CfnParameter(stack, "Retries", type="Number")
    age = cdk.CfnParameter(stack, "MaxAge", type="Number")
    AsyncInvocation(
        stack,
        "NotifyAsync",
        function=make_function(stack),
        retry_attempts=retries.value_as_number,
        max_event_age=cdk.Duration.seconds(age.value_as_number),
    )
    properties = invoke_config(stack)
    assert properties["MaximumRetryAttempts"] == {"Ref": "Retries"}
    assert properties["MaximumEventAgeInSeconds"] == {"Ref": "MaxAge"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry_attempts": 3}, "retry_attempts must be between 0 and 2 for asynchronous invocation, got 3"),
        ({"retry_attempts": -1}, "retry_attempts must be between 0 and 2 for asynchronous invocation, got -1"),
        (
            {"max_event_age": cdk.Duration.seconds(59)},
            "max_event_age must be between 60 and 21600 seconds for asynchronous invocation, got 59 seconds",
        ),
        (
            {"max_event_age": cdk.Duration.seconds(21_601)},
            "max_event_age must be between 60 and 21600 seconds for asynchronous invocation, got 21601 seconds",
        ),
        (
            {"max_event_age": cdk.Duration.millis(90_500)},
            "max_event_age must be a whole number of seconds, got 90.5 seconds",
        ),
    ],
)
def test_out_of_range_settings_are_rejected_with_path_range_and_value(stack, kwargs, message):
    [(_, text)] = violations_of(scope=stack, id="NotifyAsync", function=make_function(stack), **kwargs)
    assert text == f"Orders/NotifyAsync: {message}"


def test_all_violations_are_reported_together_and_nothing_is_created(stack):
    function = make_function(stack)
    found = violations_of(
        scope=stack,
        id="NotifyAsync",
        function=function.current_version,
        retry_attempts=5,
        max_event_age=cdk.Duration.seconds(30),
        on_success=s3.Bucket(stack, "Archive"),
        on_failure=sqs.Queue(stack, "Fifo", fifo=True),
        dead_letter_queue=sqs.Queue(stack, "Dlq"),
    )
    assert [setting for setting, _ in found] == [
        "retry_attempts",
        "max_event_age",
        "on_success",
        "on_failure",
        "dead_letter_queue",
    ]
    assert stack.node.try_find_child("NotifyAsync") is None


# --- destinations and grants -----------------------------------------------------------------------------


def test_queue_target_gets_send_message_and_its_customer_managed_key(stack):
    function = make_function(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    queue = sqs.Queue(stack, "Processed", encryption_master_key=key)
    AsyncInvocation(stack, "NotifyAsync", function=function, on_success=queue, discard_failures=True)

    assert invoke_config(stack)["DestinationConfig"] == {"OnSuccess": {"Destination": arn_of(stack, queue)}}
    assert role_statements(stack, function) == [
        allow("sqs:SendMessage", arn_of(stack, queue)),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)),
    ]


def test_topic_target_gets_publish_and_its_customer_managed_key(stack):
    function = make_function(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Processed", master_key=key)
    AsyncInvocation(stack, "NotifyAsync", function=function, on_success=topic, discard_failures=True)

    assert role_statements(stack, function) == [
        allow("sns:Publish", {"Ref": ref(stack, topic)}),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)),
    ]


def test_function_target_gets_invoke_on_exactly_its_arn(stack):
    function, audit = make_function(stack), make_function(stack, "Audit")
    AsyncInvocation(stack, "NotifyAsync", function=function, on_success=audit, discard_failures=True)
    assert role_statements(stack, function) == [allow("lambda:InvokeFunction", arn_of(stack, audit))]


def test_event_bus_target_gets_put_events(stack):
    function, bus = make_function(stack), events.EventBus(stack, "Bus")
    AsyncInvocation(stack, "NotifyAsync", function=function, on_success=bus, discard_failures=True)
    assert role_statements(stack, function) == [allow("events:PutEvents", arn_of(stack, bus))]


def test_bucket_on_failure_gets_put_object_list_bucket_and_its_key(stack):
    function = make_function(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Failures", encryption_key=key)
    AsyncInvocation(stack, "NotifyAsync", function=function, on_failure=bucket)

    assert invoke_config(stack)["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(stack, bucket)}}
    assert role_statements(stack, function) == [
        allow("s3:PutObject", {"Fn::Join": ["", [arn_of(stack, bucket), "/*"]]}),
        allow("s3:ListBucket", arn_of(stack, bucket)),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)),
    ]


def test_aws_managed_and_sqs_managed_encryption_need_no_kms_grant(stack):
    function = make_function(stack)
    managed = sqs.Queue(stack, "Managed", encryption=sqs.QueueEncryption.KMS_MANAGED)
    AsyncInvocation(stack, "NotifyAsync", function=function, on_success=managed)
    assert not any("kms:" in str(statement["Action"]) for statement in role_statements(stack, function))


def test_dead_letter_queue_sets_dead_letter_config_and_grants_its_key(stack):
    # aws-cdk grants sqs:SendMessage for a function DLQ but not the KMS key (aws-cdk#33153): messages are lost.
    function = make_function(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    dlq = sqs.Queue(stack, "Dlq", encryption_master_key=key)
    invocation = AsyncInvocation(stack, "NotifyAsync", function=function, dead_letter_queue=dlq, on_failure=None)

    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"DeadLetterConfig": {"TargetArn": arn_of(stack, dlq)}}
    )
    assert "DestinationConfig" not in invoke_config(stack)
    assert invocation.failure_queue is None
    assert role_statements(stack, function) == [
        allow("sqs:SendMessage", arn_of(stack, dlq)),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)),
    ]


def test_dead_letter_topic_is_accepted(stack):
    function, topic = make_function(stack), sns.Topic(stack, "DeadLetters")
    AsyncInvocation(stack, "NotifyAsync", function=function, dead_letter_queue=topic)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"DeadLetterConfig": {"TargetArn": {"Ref": ref(stack, topic)}}}
    )


def test_a_dlq_given_to_the_function_by_aws_cdk_gets_the_missing_kms_grant(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    dlq = sqs.Queue(stack, "Dlq", encryption_master_key=key)
    function = make_function(stack, dead_letter_queue=dlq)
    AsyncInvocation(stack, "NotifyAsync", function=function, dead_letter_queue=dlq)
    assert allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)) in role_statements(stack, function)


def test_a_different_dlq_than_the_functions_own_is_rejected(stack):
    function = make_function(stack, dead_letter_queue=sqs.Queue(stack, "Own"))
    [(setting, text)] = violations_of(
        scope=stack, id="NotifyAsync", function=function, dead_letter_queue=sqs.Queue(stack, "Other")
    )
    assert setting == "dead_letter_queue"
    assert "a function has one DLQ" in text and "Orders/Own" in text


def test_full_configuration_snapshot(stack, template_snapshot):
    function = make_function(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    dlq = sqs.Queue(stack, "Dlq", encryption_master_key=key)
    bus = events.EventBus(stack, "Bus")
    invocation = AsyncInvocation(
        stack,
        "NotifyAsync",
        function=function,
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        on_success=bus,
        dead_letter_queue=dlq,
    )
    assert invoke_config(stack) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {
            "OnSuccess": {"Destination": arn_of(stack, bus)},
            "OnFailure": {"Destination": arn_of(stack, invocation.failure_queue)},
        },
    }
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"DeadLetterConfig": {"TargetArn": arn_of(stack, dlq)}}
    )
    assert role_statements(stack, function) == [
        allow("events:PutEvents", arn_of(stack, bus)),
        allow("sqs:SendMessage", [arn_of(stack, dlq), arn_of(stack, invocation.failure_queue)]),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)),
    ]
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


# --- qualifiers ------------------------------------------------------------------------------------------


def test_a_version_is_configured_for_its_version_number(stack):
    function = make_function(stack)
    version = function.current_version
    AsyncInvocation(stack, "NotifyAsync", function=version, retry_attempts=0)
    properties = invoke_config(stack)
    assert properties["FunctionName"] == {"Ref": ref(stack, function)}
    # The current version's logical id gets a code hash appended at synth.
    [version_id, attribute] = properties["Qualifier"]["Fn::GetAtt"]
    assert version_id.startswith(ref(stack, version)) and attribute == "Version"


def test_an_alias_is_configured_for_its_name_and_grants_go_to_the_functions_role(stack):
    function = make_function(stack)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    bus = events.EventBus(stack, "Bus")
    AsyncInvocation(stack, "NotifyAsync", function=alias, on_success=bus)
    assert invoke_config(stack)["Qualifier"] == "live"
    assert allow("events:PutEvents", arn_of(stack, bus)) in role_statements(stack, function)


def test_aws_cdk_async_settings_on_another_qualifier_are_unambiguous(stack):
    function = make_function(stack, retry_attempts=0)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    AsyncInvocation(stack, "NotifyAsync", function=alias)
    qualifiers = sorted(
        str(c["Properties"]["Qualifier"])
        for c in Template.from_stack(stack).find_resources("AWS::Lambda::EventInvokeConfig").values()
    )
    assert qualifiers == ["$LATEST", "live"]


def test_aws_cdk_async_settings_on_the_same_qualifier_are_a_conflict(stack):
    function = make_function(stack, retry_attempts=0)
    [(setting, text)] = violations_of(scope=stack, id="NotifyAsync", function=function)
    assert setting == "function"
    assert "one configuration per function and qualifier" in text
    assert "Function Orders/Notify with an EventInvokeConfig for $LATEST" in text


def test_configuring_the_same_function_twice_is_a_conflict(stack):
    function = make_function(stack)
    AsyncInvocation(stack, "First", function=function)
    [(_, text)] = violations_of(scope=stack, id="Second", function=function)
    assert text.endswith("got Function Orders/Notify, already configured by Orders/First")


@pytest.mark.parametrize("qualified", ["version", "alias"])
def test_a_dlq_on_a_version_or_alias_is_rejected(stack, qualified):
    function = make_function(stack)
    version = function.current_version
    subject = version if qualified == "version" else lambda_.Alias(stack, "Live", alias_name="live", version=version)
    [(setting, text)] = violations_of(
        scope=stack, id="NotifyAsync", function=subject, dead_letter_queue=sqs.Queue(stack, "Dlq")
    )
    assert setting == "dead_letter_queue"
    assert "version-locked function configuration" in text


def test_a_dlq_on_an_imported_function_is_rejected(stack):
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", ACCOUNT_ARN.format(service="lambda", resource="function:notify")
    )
    [(_, text)] = violations_of(
        scope=stack,
        id="NotifyAsync",
        function=imported,
        dead_letter_queue=sqs.Queue(stack, "Dlq"),
        grants_managed_elsewhere=True,
    )
    assert "set on a Function defined in this app" in text


def test_an_imported_function_without_role_is_an_error_since_every_grant_would_be_dropped(stack):
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", ACCOUNT_ARN.format(service="lambda", resource="function:notify")
    )
    [(setting, text)] = violations_of(scope=stack, id="NotifyAsync", function=imported)
    assert setting == "function"
    assert "pass grants_managed_elsewhere=True" in text
    assert text.endswith("got Function Orders/Imported, which has no known execution role (imported without one)")
    assert stack.node.try_find_child("NotifyAsync") is None


def test_grants_managed_elsewhere_configures_an_imported_function_and_lists_the_permissions(stack):
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", ACCOUNT_ARN.format(service="lambda", resource="function:notify")
    )
    AsyncInvocation(stack, "NotifyAsync", function=imported, grants_managed_elsewhere=True)
    assert invoke_config(stack)["FunctionName"] == "notify"
    infos = Annotations.from_stack(stack).find_info(
        "/Orders/NotifyAsync", Match.string_like_regexp("granted elsewhere")
    )
    assert len(infos) == 1
    assert "sqs:SendMessage on SQS queue Orders/NotifyAsync/FailureQueue" in str(infos[0].entry.data)
    assert Template.from_stack(stack).find_resources("AWS::IAM::Policy") == {}


# --- rejected targets ------------------------------------------------------------------------------------


def test_s3_is_rejected_as_on_success(stack):
    [(setting, text)] = violations_of(
        scope=stack, id="NotifyAsync", function=make_function(stack), on_success=s3.Bucket(stack, "Archive")
    )
    assert setting == "on_success"
    assert text.endswith("(on-success destination of asynchronous invocation), got S3 bucket Orders/Archive")


@pytest.mark.parametrize("setting", ["on_success", "on_failure", "dead_letter_queue"])
@pytest.mark.parametrize("kind", ["queue", "topic"])
def test_fifo_targets_are_rejected_in_every_role(stack, setting, kind):
    target = sqs.Queue(stack, "Fifo", fifo=True) if kind == "queue" else sns.Topic(stack, "Fifo", fifo=True)
    [(found, text)] = violations_of(scope=stack, id="NotifyAsync", function=make_function(stack), **{setting: target})
    assert found == setting
    assert "Lambda cannot deliver to FIFO targets" in text
    assert text.endswith(f"got FIFO {'SQS queue' if kind == 'queue' else 'SNS topic'} Orders/Fifo")


def test_an_imported_fifo_queue_is_rejected_by_its_name(stack):
    queue = sqs.Queue.from_queue_arn(stack, "Imported", ACCOUNT_ARN.format(service="sqs", resource="orders.fifo"))
    [(setting, _)] = violations_of(scope=stack, id="NotifyAsync", function=make_function(stack), on_failure=queue)
    assert setting == "on_failure"


def test_targets_imported_from_arns_work(stack):
    function = make_function(stack)
    queue = sqs.Queue.from_queue_arn(stack, "Imported", ACCOUNT_ARN.format(service="sqs", resource="failures"))
    topic = sns.Topic.from_topic_arn(stack, "Topic", ACCOUNT_ARN.format(service="sns", resource="done"))
    AsyncInvocation(stack, "NotifyAsync", function=function, on_success=topic, on_failure=queue)
    assert invoke_config(stack)["DestinationConfig"] == {
        "OnSuccess": {"Destination": topic.topic_arn},
        "OnFailure": {"Destination": queue.queue_arn},
    }
    assert role_statements(stack, function) == [
        allow("sns:Publish", topic.topic_arn),
        allow("sqs:SendMessage", queue.queue_arn),
    ]


def test_a_queue_imported_from_a_token_arn_is_accepted_since_fifo_cannot_be_known(stack):
    arn = cdk.CfnParameter(stack, "FailureQueueArn").value_as_string
    queue = sqs.Queue.from_queue_arn(stack, "Imported", arn)
    AsyncInvocation(stack, "NotifyAsync", function=make_function(stack), on_failure=queue)
    assert invoke_config(stack)["DestinationConfig"]["OnFailure"]["Destination"] == {"Ref": "FailureQueueArn"}


def test_an_imported_queue_with_its_key_gets_the_kms_grant(stack):
    function = make_function(stack)
    key_arn = ACCOUNT_ARN.format(service="kms", resource="key/1234abcd-12ab-34cd-56ef-1234567890ab")
    queue = sqs.Queue.from_queue_attributes(
        stack, "Imported", queue_arn=ACCOUNT_ARN.format(service="sqs", resource="failures"), key_arn=key_arn
    )
    AsyncInvocation(stack, "NotifyAsync", function=function, on_failure=queue)
    assert allow(["kms:Decrypt", "kms:GenerateDataKey"], key_arn) in role_statements(stack, function)


@pytest.mark.parametrize("setting", ["on_success", "on_failure"])
@pytest.mark.parametrize("form", ["function", "alias"])
def test_the_function_itself_is_rejected_as_destination(stack, setting, form):
    function = make_function(stack)
    target = (
        function
        if form == "function"
        else lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    )
    [(found, text)] = violations_of(scope=stack, id="NotifyAsync", function=function, **{setting: target})
    assert found == setting
    assert "invocation loop" in text


@pytest.mark.parametrize("setting", ["on_success", "on_failure", "dead_letter_queue"])
def test_unsupported_objects_are_rejected_by_type_and_path(stack, setting):
    table = dynamodb.Table(
        stack, "Table", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    [(found, text)] = violations_of(scope=stack, id="NotifyAsync", function=make_function(stack), **{setting: table})
    assert found == setting
    assert text.endswith("got Table Orders/Table")


def test_something_that_is_not_a_function_is_rejected(stack):
    [(setting, text)] = violations_of(
        scope=stack, id="NotifyAsync", function=iam.Role(stack, "Role", assumed_by=iam.AccountRootPrincipal())
    )
    assert setting == "function"
    assert text == "Orders/NotifyAsync: function must be a lambda Function, Version or Alias, got Role Orders/Role"


# --- the failure home ------------------------------------------------------------------------------------


def test_on_failure_none_without_another_home_is_rejected(stack):
    [(setting, text)] = violations_of(scope=stack, id="NotifyAsync", function=make_function(stack), on_failure=None)
    assert setting == "on_failure"
    assert "drop failed records silently" in text


def test_discarding_failures_is_explicit_and_creates_no_queue(stack):
    invocation = AsyncInvocation(stack, "NotifyAsync", function=make_function(stack), discard_failures=True)
    assert invocation.failure_queue is None and invocation.on_failure_target is None
    assert "DestinationConfig" not in invoke_config(stack)
    Template.from_stack(stack).resource_count_is("AWS::SQS::Queue", 0)


def test_discarding_failures_contradicts_an_on_failure_target(stack):
    [(setting, _)] = violations_of(
        scope=stack,
        id="NotifyAsync",
        function=make_function(stack),
        on_failure=sqs.Queue(stack, "Failures"),
        discard_failures=True,
    )
    assert setting == "discard_failures"
