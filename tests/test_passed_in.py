"""What a CDK user passes in, as a stranger would: every IFunction form, imported and immutable roles, KMS keys
referenced by alias, imported FIFO queues and topics, redrive policies, cross-region and cross-account sources,
and values jsii would reject. Each either works with exactly the grants it needs or is a ValidationError raised
before anything is added to the tree."""

import datetime as dt
import enum
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import AsyncInvocation, FailureQueue, QueueConsumer, StreamConsumer, ValidationError
from tests.harness import lint_template, nag_findings, new_app
from tests.test_async_invocation import make_function

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
REGION = "us-east-1"
OTHER_FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"
KMS_WRITE = ["kms:Decrypt", "kms:GenerateDataKey"]


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders", env=cdk.Environment(account=ACCOUNT, region=REGION))


def build_form(stack: cdk.Stack, form: str) -> lambda_.IFunction:
    """Every IFunction form aws-cdk has, the way users write them."""
    if form == "Function":
        return make_function(stack)
    if form == "latest_version":
        return make_function(stack).latest_version
    if form == "Version":
        return make_function(stack).current_version
    if form == "Alias":
        return lambda_.Alias(stack, "Live", alias_name="live", version=make_function(stack).current_version)
    if form == "from_function_arn":
        return lambda_.Function.from_function_arn(stack, "Imported", OTHER_FUNCTION_ARN)
    if form == "from_function_attributes":
        role = iam.Role.from_role_arn(stack, "ImportedRole", f"arn:aws:iam::{ACCOUNT}:role/other")
        return lambda_.Function.from_function_attributes(stack, "Imported", function_arn=OTHER_FUNCTION_ARN, role=role)
    if form == "from_version_arn":
        return lambda_.Version.from_version_arn(stack, "ImportedVersion", f"{OTHER_FUNCTION_ARN}:3")
    if form == "from_alias_attributes":
        version = lambda_.Version.from_version_arn(stack, "ImportedVersion", f"{OTHER_FUNCTION_ARN}:3")
        return lambda_.Alias.from_alias_attributes(stack, "ImportedAlias", alias_name="live", alias_version=version)
    if form == "SingletonFunction":
        return lambda_.SingletonFunction(
            stack,
            "Singleton",
            uuid="6f1a-orders",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        )
    if form == "DockerImageFunction":
        repository = ecr.Repository.from_repository_name(stack, "Images", "orders")
        return lambda_.DockerImageFunction(stack, "Docker", code=lambda_.DockerImageCode.from_ecr(repository))
    raise AssertionError(form)


# (form, has a role that takes policies, qualifier of the async configuration, function name in the template)
FORMS = {
    "Function": (True, "$LATEST"),
    "latest_version": (True, "$LATEST"),
    "Version": (True, "version"),
    "Alias": (True, "live"),
    "from_function_arn": (False, "$LATEST"),
    "from_function_attributes": (True, "$LATEST"),
    "from_version_arn": (False, "3"),
    "from_alias_attributes": (False, "live"),
    "SingletonFunction": (True, "$LATEST"),
    "DockerImageFunction": (True, "$LATEST"),
}


def children(stack: cdk.Stack) -> list[str]:
    return [child.node.path for child in stack.node.find_all()]


def source_queue(stack: cdk.Stack, id: str = "Payments", **props) -> sqs.Queue:
    return sqs.Queue(
        stack,
        id,
        visibility_timeout=cdk.Duration.minutes(15),
        dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(stack, f"{id}DeadLetters"), max_receive_count=5),
        **props,
    )


def once(stack: cdk.Stack, id: str, build):
    """The source a test wires, created on first use: a rejected call must not leave a second one behind."""
    return stack.node.try_find_child(id) or build()


BUILD = {
    "AsyncInvocation": lambda stack, function, **kw: AsyncInvocation(stack, "Wiring", function=function, **kw),
    "StreamConsumer": lambda stack, function, **kw: StreamConsumer(
        stack, "Wiring", function=function, source=once(stack, "Stream", lambda: kinesis.Stream(stack, "Stream")), **kw
    ),
    "QueueConsumer": lambda stack, function, **kw: QueueConsumer(
        stack, "Wiring", function=function, queue=once(stack, "Payments", lambda: source_queue(stack)), **kw
    ),
}


def violations(build, *args, **kwargs) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        build(*args, **kwargs)
    return [(violation.setting, str(violation)) for violation in caught.value.violations]


def role_statements(stack: cdk.Stack) -> list[dict]:
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


# --- every IFunction form -------------------------------------------------------------------------------


@pytest.mark.parametrize("construct", sorted(BUILD))
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_function_form_is_wired_or_rejected_with_a_validation_error_only(stack, form, construct):
    function = build_form(stack, form)
    takes_policies, qualifier = FORMS[form]
    build = BUILD[construct]
    if not takes_policies:
        before = children(stack)
        [(setting, text)] = violations(build, stack, function)
        assert setting == "function" and "grants_managed_elsewhere=True" in text
        added = [p for p in children(stack) if p not in before]
        assert [p for p in added if not p.startswith(("Orders/Stream", "Orders/Payments", "Orders/AwsCdk"))] == []
    wiring = build(stack, function, grants_managed_elsewhere=not takes_policies)
    template = Template.from_stack(stack)
    assert lint_template(template.to_json()) == []
    if construct == "AsyncInvocation":
        [config] = template.find_resources("AWS::Lambda::EventInvokeConfig").values()
        if qualifier == "version":  # the version number is known at deploy time only
            assert json.dumps(config["Properties"]["Qualifier"]).endswith('"Version"]}')
        else:
            assert config["Properties"]["Qualifier"] == qualifier == wiring.qualifier
        if form.startswith("from_"):
            assert config["Properties"]["FunctionName"] == "other"
    else:
        [mapping] = template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if form.startswith("from_"):
            expected = {"$LATEST": "other", "3": f"{OTHER_FUNCTION_ARN}:3", "live": f"{OTHER_FUNCTION_ARN}:live"}
            assert mapping["Properties"]["FunctionName"] == expected[qualifier]
    if takes_policies:
        assert role_statements(stack), "the role got the wiring's permissions"


def test_a_function_and_its_latest_version_are_one_qualifier(stack):
    function = make_function(stack)
    AsyncInvocation(stack, "First", function=function)
    [(setting, text)] = violations(AsyncInvocation, stack, "Second", function=function.latest_version)
    assert setting == "function"
    assert text.endswith("already configured by Orders/First")


def test_two_singleton_wrappers_with_one_uuid_are_one_function(stack):
    props = dict(
        uuid="6f1a-orders",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
    )
    first = lambda_.SingletonFunction(stack, "First", **props)
    second = lambda_.SingletonFunction(stack, "Second", **props)
    AsyncInvocation(stack, "FirstAsync", function=first)
    [(setting, text)] = violations(AsyncInvocation, stack, "SecondAsync", function=second)
    assert setting == "function" and "already configured by Orders/FirstAsync" in text


def test_the_same_function_imported_again_by_arn_or_name_is_one_function(stack):
    function = make_function(stack, function_name="orders-notify")
    AsyncInvocation(stack, "First", function=function)
    again = lambda_.Function.from_function_arn(stack, "Again", function.function_arn)
    by_name = lambda_.Function.from_function_name(stack, "ByName", "orders-notify")
    by_literal_arn = lambda_.Function.from_function_arn(
        stack, "ByArn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-notify"
    )
    for id, imported in (("Again", again), ("ByName", by_name), ("ByArn", by_literal_arn)):
        [(setting, text)] = violations(
            AsyncInvocation, stack, f"{id}Async", function=imported, grants_managed_elsewhere=True
        )
        assert setting == "function" and "already configured by Orders/First" in text


def test_the_same_function_in_another_stack_of_the_app_is_one_function():
    app = new_app()
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    owner = cdk.Stack(app, "Owner", env=env)
    user = cdk.Stack(app, "User", env=env)
    AsyncInvocation(
        owner,
        "First",
        function=lambda_.Function.from_function_arn(owner, "Imported", OTHER_FUNCTION_ARN),
        grants_managed_elsewhere=True,
    )
    again = lambda_.Function.from_function_arn(user, "Imported", OTHER_FUNCTION_ARN + ":$LATEST")
    [(setting, text)] = violations(AsyncInvocation, user, "Second", function=again, grants_managed_elsewhere=True)
    assert setting == "function" and "already configured by Owner/First" in text


def test_other_qualifiers_of_one_function_are_configured_separately(stack):
    function = make_function(stack)
    AsyncInvocation(stack, "Latest", function=function)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    AsyncInvocation(stack, "LiveAsync", function=alias)
    qualifiers = [
        c["Properties"]["Qualifier"]
        for c in Template.from_stack(stack).find_resources("AWS::Lambda::EventInvokeConfig").values()
    ]
    assert sorted(qualifiers) == ["$LATEST", "live"]


def test_a_qualified_arn_import_is_configured_for_its_qualifier(stack):
    imported = lambda_.Function.from_function_arn(stack, "Imported", f"{OTHER_FUNCTION_ARN}:live")
    AsyncInvocation(stack, "NotifyAsync", function=imported, grants_managed_elsewhere=True)
    [config] = Template.from_stack(stack).find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert (config["Properties"]["FunctionName"], config["Properties"]["Qualifier"]) == ("other", "live")


def test_a_function_of_another_account_or_region_cannot_be_configured_here(stack):
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", f"arn:aws:lambda:eu-west-1:{OTHER_ACCOUNT}:function:other"
    )
    found = violations(AsyncInvocation, stack, "NotifyAsync", function=imported, grants_managed_elsewhere=True)
    assert [setting for setting, _ in found] == ["function", "function"]
    assert "in account 222222222222" in found[0][1] and "in region eu-west-1" in found[1][1]


@pytest.mark.parametrize("how", ["arn", "name", "latest_version", "alias of the same function"])
def test_an_invocation_loop_is_found_through_imports_and_qualifiers(stack, how):
    function = make_function(stack, function_name="orders-notify")
    target = {
        "arn": lambda: lambda_.Function.from_function_arn(stack, "Again", function.function_arn),
        "name": lambda: lambda_.Function.from_function_name(stack, "Again", "orders-notify"),
        "latest_version": lambda: function.latest_version,
        "alias of the same function": lambda: lambda_.Alias(
            stack, "Live", alias_name="live", version=function.current_version
        ),
    }[how]()
    [(setting, text)] = violations(AsyncInvocation, stack, "NotifyAsync", function=function, on_success=target)
    assert setting == "on_success" and "invocation loop" in text


def test_a_singleton_function_is_defined_here_so_its_dead_letter_queue_can_be_set(stack):
    singleton = build_form(stack, "SingletonFunction")
    AsyncInvocation(stack, "NotifyAsync", function=singleton, dead_letter_queue=FailureQueue(stack, "DeadLetters"))
    [function] = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    assert "TargetArn" in function["Properties"]["DeadLetterConfig"]


def test_a_dead_letter_queue_set_through_aws_cdk_gets_its_kms_grant(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    dead_letters = sqs.Queue(stack, "DeadLetters", encryption_master_key=key)
    function = make_function(stack, dead_letter_queue=dead_letters)
    AsyncInvocation(stack, "NotifyAsync", function=function)
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    assert {"Action": KMS_WRITE, "Effect": "Allow", "Resource": key_arn} in role_statements(stack)


def test_a_fifo_dead_letter_queue_set_through_aws_cdk_is_rejected(stack):
    dead_letters = sqs.Queue(stack, "DeadLetters", fifo=True)
    function = make_function(stack, dead_letter_queue=dead_letters)
    [(setting, text)] = violations(AsyncInvocation, stack, "NotifyAsync", function=function)
    assert setting == "dead-letter queue of Function Orders/Notify (set through aws-cdk)"
    assert "FIFO" in text


# --- roles -----------------------------------------------------------------------------------------------


def immutable_roles(stack: cdk.Stack) -> dict[str, iam.IRole]:
    own = iam.Role(stack, "Own", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    return {
        "from_role_arn(mutable=False)": iam.Role.from_role_arn(
            stack, "Immutable", f"arn:aws:iam::{ACCOUNT}:role/fixed", mutable=False
        ),
        "role of another account": iam.Role.from_role_arn(stack, "Foreign", f"arn:aws:iam::{OTHER_ACCOUNT}:role/r"),
        "without_policy_updates()": own.without_policy_updates(),
    }


@pytest.mark.parametrize("construct", sorted(BUILD))
@pytest.mark.parametrize(
    "which", ["from_role_arn(mutable=False)", "role of another account", "without_policy_updates()"]
)
def test_a_role_that_drops_policies_is_an_error_unless_grants_are_managed_elsewhere(stack, construct, which):
    role = immutable_roles(stack)[which]
    function = make_function(stack, role=role)
    [(setting, text)] = violations(BUILD[construct], stack, function)
    assert setting == "function" and "immutable execution role" in text
    assert stack.node.try_find_child("Wiring") is None
    BUILD[construct](stack, function, grants_managed_elsewhere=True)
    assert role_statements(stack) == []
    infos = Annotations.from_stack(stack).find_info("/Orders/Wiring", Match.string_like_regexp("granted elsewhere"))
    assert infos


def test_a_mutable_imported_role_gets_the_grants(stack):
    role = iam.Role.from_role_arn(stack, "Imported", f"arn:aws:iam::{ACCOUNT}:role/mutable")
    AsyncInvocation(stack, "NotifyAsync", function=make_function(stack, role=role))
    [policy] = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    assert policy["Properties"]["Roles"] == ["mutable"]


def test_grants_managed_elsewhere_must_be_a_bool(stack):
    found = violations(
        AsyncInvocation, stack, "NotifyAsync", function=make_function(stack), grants_managed_elsewhere="yes"
    )
    assert found == [
        ("grants_managed_elsewhere", "Orders/NotifyAsync: grants_managed_elsewhere must be True or False, got 'yes'")
    ]


# --- KMS keys referenced by alias ------------------------------------------------------------------------


def alias_statement(actions, resource, alias) -> dict:
    return {
        "Action": actions,
        "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}},
        "Effect": "Allow",
        "Resource": resource,
    }


def test_a_key_imported_by_alias_name_is_granted_the_aws_cdk_way(stack):
    key = kms.Alias.from_alias_name(stack, "Key", "alias/orders")
    AsyncInvocation(
        stack,
        "NotifyAsync",
        function=make_function(stack),
        on_failure=sqs.Queue(stack, "Failures", encryption_master_key=key),
    )
    expected = alias_statement(KMS_WRITE, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", "alias/orders")
    statements = role_statements(stack)
    assert expected in statements
    assert not any("alias/orders" in json.dumps(s.get("Resource")) for s in statements)


def test_a_key_arn_that_is_an_alias_arn_is_granted_in_the_alias_account_and_region(stack):
    key = kms.Key.from_key_arn(stack, "Key", f"arn:aws:kms:eu-west-1:{OTHER_ACCOUNT}:alias/shared")
    queue = sqs.Queue.from_queue_attributes(
        stack, "Failures", queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:failures", key_arn=key.key_arn
    )
    AsyncInvocation(stack, "NotifyAsync", function=make_function(stack), on_failure=queue)
    expected = alias_statement(KMS_WRITE, f"arn:aws:kms:eu-west-1:{OTHER_ACCOUNT}:key/*", "alias/shared")
    assert expected in role_statements(stack)


def test_an_alias_defined_here_is_granted_on_its_target_key(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    alias = kms.Alias(stack, "Alias", alias_name="alias/orders", target_key=key)
    AsyncInvocation(
        stack,
        "NotifyAsync",
        function=make_function(stack),
        on_failure=sqs.Queue(stack, "Failures", encryption_master_key=alias),
    )
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    assert {"Action": KMS_WRITE, "Effect": "Allow", "Resource": key_arn} in role_statements(stack)


def test_a_key_looked_up_by_alias_is_granted_on_the_key_the_lookup_returns(stack):
    key = kms.Key.from_lookup(stack, "Key", alias_name="alias/orders")
    AsyncInvocation(
        stack,
        "NotifyAsync",
        function=make_function(stack),
        on_failure=sqs.Queue(stack, "Failures", encryption_master_key=key),
    )
    kms_resources = [s["Resource"] for s in role_statements(stack) if s["Action"] == KMS_WRITE]
    assert kms_resources == [key.key_arn] and ":key/" in key.key_arn


def test_an_aws_managed_key_by_alias_needs_no_grant(stack):
    key = kms.Alias.from_alias_name(stack, "Key", "alias/aws/sqs")
    AsyncInvocation(
        stack,
        "NotifyAsync",
        function=make_function(stack),
        on_failure=sqs.Queue(stack, "Failures", encryption_master_key=key),
    )
    assert not any(str(s["Action"]).startswith("['kms") or s["Action"] == KMS_WRITE for s in role_statements(stack))


def test_a_stream_encrypted_with_an_alias_is_decrypted_the_aws_cdk_way(stack):
    key = kms.Alias.from_alias_name(stack, "Key", "alias/stream")
    stream = kinesis.Stream(stack, "Stream", encryption=kinesis.StreamEncryption.KMS, encryption_key=key)
    StreamConsumer(stack, "Consume", function=make_function(stack), source=stream)
    expected = alias_statement("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", "alias/stream")
    assert expected in role_statements(stack)


# --- queues and topics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    ["from_queue_attributes(fifo=True)", ".fifo name", "owned FIFO topic", "imported .fifo topic"],
)
def test_a_fifo_target_is_rejected_however_it_is_known(stack, how):
    target = {
        "from_queue_attributes(fifo=True)": lambda: sqs.Queue.from_queue_attributes(
            stack, "T", queue_arn=cdk.CfnParameter(stack, "Arn").value_as_string, fifo=True
        ),
        ".fifo name": lambda: sqs.Queue.from_queue_arn(stack, "T", f"arn:aws:sqs:{REGION}:{ACCOUNT}:failures.fifo"),
        "owned FIFO topic": lambda: sns.Topic(stack, "T", fifo=True),
        "imported .fifo topic": lambda: sns.Topic.from_topic_arn(stack, "T", f"arn:aws:sns:{REGION}:{ACCOUNT}:t.fifo"),
    }[how]()
    [(setting, text)] = violations(
        AsyncInvocation, stack, "NotifyAsync", function=make_function(stack), on_failure=target
    )
    assert setting == "on_failure" and "standard (non-FIFO)" in text
    [(setting, _)] = violations(
        StreamConsumer,
        stack,
        "Consume",
        function=make_function(stack, "Consumer"),
        source=kinesis.Stream(stack, "S"),
        on_failure=target,
    )
    assert setting == "on_failure"


def test_an_imported_fifo_source_gets_the_fifo_batching_rules(stack):
    arn = cdk.CfnParameter(stack, "SourceArn").value_as_string  # FIFO-ness known only from fifo=True
    queue = sqs.Queue.from_queue_attributes(stack, "Source", queue_arn=arn, fifo=True)
    found = violations(
        QueueConsumer,
        stack,
        "Consume",
        function=make_function(stack),
        queue=queue,
        batch_size=20,
        max_batching_window=cdk.Duration.seconds(1),
    )
    assert [setting for setting, _ in found] == ["batch_size", "max_batching_window"]
    assert "SQS FIFO event source mappings" in found[0][1]


@pytest.mark.parametrize("source_fifo", [False, True])
@pytest.mark.parametrize("imported_dlq", [False, True])
def test_redrive_pairs_standard_with_standard_and_fifo_with_fifo(stack, source_fifo, imported_dlq):
    name = "dead-letters" if source_fifo else "dead-letters.fifo"  # always the other type
    if imported_dlq:
        dead_letters = sqs.Queue.from_queue_arn(stack, "DeadLetters", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
    else:
        dead_letters = sqs.Queue(
            stack, "DeadLetters", fifo=not source_fifo or None, retention_period=cdk.Duration.days(14)
        )
    queue = sqs.Queue(
        stack,
        "Payments",
        fifo=source_fifo or None,
        visibility_timeout=cdk.Duration.minutes(1),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
    )
    [(setting, text)] = violations(QueueConsumer, stack, "Consume", function=make_function(stack), queue=queue)
    kind, other = ("FIFO", "standard") if source_fifo else ("standard", "FIFO")
    assert setting == "queue"
    assert f"must be a {kind} queue with a {kind} dead-letter queue" in text
    assert f"got {kind} queue Orders/Payments with {other} dead-letter queue Orders/DeadLetters" in text


@pytest.mark.parametrize("count,ok", [(1, True), (1000, True), (1001, False)])  # aws-cdk itself rejects 0
def test_max_receive_count_is_1_to_1000(stack, count, ok):
    queue = sqs.Queue(
        stack,
        "Payments",
        visibility_timeout=cdk.Duration.minutes(1),
        dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(stack, "DeadLetters"), max_receive_count=count),
    )
    if ok:
        QueueConsumer(stack, "Consume", function=make_function(stack), queue=queue)
    else:
        [(setting, text)] = violations(QueueConsumer, stack, "Consume", function=make_function(stack), queue=queue)
        assert setting == "maxReceiveCount of the queue's redrive policy"
        assert "between 1 and 1000 for SQS redrive policies" in text


def test_a_dead_letter_queue_keeping_messages_shorter_than_its_source_is_rejected(stack):
    queue = sqs.Queue(
        stack,
        "Payments",
        visibility_timeout=cdk.Duration.minutes(1),
        retention_period=cdk.Duration.days(14),
        dead_letter_queue=sqs.DeadLetterQueue(queue=sqs.Queue(stack, "DeadLetters"), max_receive_count=5),
    )
    [(setting, text)] = violations(QueueConsumer, stack, "Consume", function=make_function(stack), queue=queue)
    assert setting == "dead-letter queue retention"
    assert text.endswith("got 345600 seconds with a source retention of 1209600 seconds")


def test_equal_retention_and_fifo_queues_are_not_flagged(stack):
    equal = sqs.Queue(
        stack,
        "Payments",
        visibility_timeout=cdk.Duration.minutes(1),
        retention_period=cdk.Duration.days(14),
        dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(stack, "DeadLetters"), max_receive_count=5),
    )
    QueueConsumer(stack, "Consume", function=make_function(stack), queue=equal)
    fifo = sqs.Queue(
        stack,
        "FifoPayments",
        fifo=True,
        visibility_timeout=cdk.Duration.minutes(1),
        retention_period=cdk.Duration.days(14),
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=sqs.Queue(stack, "FifoDeadLetters", fifo=True), max_receive_count=5
        ),
    )
    QueueConsumer(stack, "ConsumeFifo", function=make_function(stack, "FifoConsumer"), queue=fifo)


def test_a_source_queue_in_another_region_is_rejected(stack):
    queue = sqs.Queue.from_queue_arn(stack, "Source", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders")
    [(setting, text)] = violations(QueueConsumer, stack, "Consume", function=make_function(stack), queue=queue)
    assert setting == "queue"
    assert text.endswith("got SQS queue Orders/Source in region eu-west-1")


def test_a_stream_in_another_region_is_rejected(stack):
    stream = kinesis.Stream.from_stream_arn(stack, "Source", f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/orders")
    [(setting, text)] = violations(StreamConsumer, stack, "Consume", function=make_function(stack), source=stream)
    assert setting == "source" and "in region eu-west-1" in text


def test_a_cross_account_source_with_the_aws_managed_sqs_key_is_rejected(stack):
    queue = sqs.Queue.from_queue_attributes(
        stack,
        "Source",
        queue_arn=f"arn:aws:sqs:{REGION}:{OTHER_ACCOUNT}:orders",
        key_arn=f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:alias/aws/sqs",
    )
    [(setting, text)] = violations(QueueConsumer, stack, "Consume", function=make_function(stack), queue=queue)
    assert setting == "queue" and "cannot be shared across accounts" in text


def test_a_cross_account_source_with_a_customer_managed_key_is_consumed_and_decrypted(stack):
    key_arn = f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    queue = sqs.Queue.from_queue_attributes(
        stack, "Source", queue_arn=f"arn:aws:sqs:{REGION}:{OTHER_ACCOUNT}:orders", key_arn=key_arn
    )
    QueueConsumer(stack, "Consume", function=make_function(stack), queue=queue)
    assert {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": key_arn} in role_statements(stack)


# --- values ----------------------------------------------------------------------------------------------


def at_timestamp(stack, timestamp):
    return StreamConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        source=kinesis.Stream(stack, "Stream"),
        starting_position=lambda_.StartingPosition.AT_TIMESTAMP,
        starting_position_timestamp=timestamp,
    )


@pytest.mark.parametrize(
    "timestamp,expected",
    [
        (dt.datetime(2026, 1, 1, 12, 0), "naive 2026-01-01T12:00:00"),
        (dt.datetime(2999, 1, 1, tzinfo=dt.UTC), "2999-01-01T00:00:00+00:00"),
        (4_102_444_800, "2100-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00Z", "'2026-01-01T00:00:00Z'"),
        (True, "True"),
    ],
)
def test_a_starting_timestamp_must_be_an_aware_past_instant(stack, timestamp, expected):
    [(setting, text)] = violations(at_timestamp, stack, timestamp)
    assert setting == "starting_position_timestamp"
    assert text.endswith(f"got {expected}")
    assert stack.node.try_find_child("Consume") is None


@pytest.mark.parametrize(
    "timestamp", [dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))), 1_767_225_600, 1.5e9]
)
def test_an_aware_past_timestamp_is_written_as_unix_seconds(stack, timestamp):
    at_timestamp(stack, timestamp)
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    expected = timestamp.timestamp() if isinstance(timestamp, dt.datetime) else timestamp
    assert mapping["Properties"]["StartingPositionTimestamp"] == expected


def test_a_token_timestamp_is_not_checked(stack):
    at_timestamp(stack, cdk.CfnParameter(stack, "Since", type="Number").value_as_number)


def kinesis_filters(stack, filters):
    return StreamConsumer(
        stack, "Consume", function=make_function(stack), source=kinesis.Stream(stack, "Stream"), filters=filters
    )


def dynamodb_filters(stack, filters):
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    return StreamConsumer(stack, "Consume", function=make_function(stack), source=table, filters=filters)


def sqs_filters(stack, filters):
    return QueueConsumer(stack, "Consume", function=make_function(stack), queue=source_queue(stack), filters=filters)


@pytest.mark.parametrize(
    "build,good,bad",
    [
        (kinesis_filters, {"data": {"kind": ["order"]}}, {"partitionKey": ["1"]}),
        (dynamodb_filters, {"dynamodb": {"Keys": {"id": {"S": ["1"]}}}}, {"NewImage": {"id": {"S": ["1"]}}}),
        (sqs_filters, {"body": {"kind": ["order"]}}, {"RequestCode": ["BBBB"]}),
    ],
)
def test_filters_may_only_use_the_keys_of_the_source_records(stack, build, good, bad):
    bad_key = next(iter(bad))
    [(setting, text)] = violations(
        build, stack, [lambda_.FilterCriteria.filter(good), lambda_.FilterCriteria.filter(bad)]
    )
    assert setting == "filters[1]"
    assert f"got a pattern on '{bad_key}'" in text and "every record is discarded" in text


def test_a_dynamodb_pattern_on_event_name_as_in_aws_documentation_is_accepted(stack):
    # The FilterCriteria example of aws-cdk-lib's API reference filters a DynamoDB stream on eventName and dynamodb.
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"id": {"BOOL": [True]}}}}
    dynamodb_filters(stack, [lambda_.FilterCriteria.filter(pattern), {"eventName": ["REMOVE"]}])
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    patterns = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]
    assert patterns == [pattern, {"eventName": ["REMOVE"]}]


def test_plain_dict_patterns_are_serialized_and_filter_criteria_kept(stack):
    kinesis_filters(stack, [{"data": {"kind": ["order"]}}, lambda_.FilterCriteria.filter({"data": {"n": [1]}})])
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    patterns = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]
    assert patterns == [{"data": {"kind": ["order"]}}, {"data": {"n": [1]}}]


@pytest.mark.parametrize(
    "filters,expected",
    [
        ([{"data": {"kind": {"order"}}}], "a pattern of JSON values"),
        ([{"pattern": "{not json"}], "must be a JSON pattern"),
        ([{"pattern": "[1, 2]"}], "must be a JSON object pattern"),
    ],
)
def test_a_pattern_that_is_not_json_is_a_validation_error(stack, filters, expected):
    [(setting, text)] = violations(kinesis_filters, stack, filters)
    assert setting == "filters[0]" and expected in text


def test_more_than_ten_filters_is_rejected(stack):
    [(setting, text)] = violations(kinesis_filters, stack, [{"data": {"n": [i]}} for i in range(11)])
    assert setting == "filters" and text.endswith("got 11")


class Retries(enum.IntEnum):
    ONCE = 1


def test_jsii_incompatible_values_are_validation_errors_before_anything_is_created(stack):
    function = make_function(stack)
    minutes = cdk.Duration.minutes(cdk.CfnParameter(stack, "Minutes", type="Number").value_as_number)
    before = children(stack)
    found = violations(
        AsyncInvocation,
        stack,
        "NotifyAsync",
        function=function,
        retry_attempts=Retries.ONCE,
        max_event_age=minutes,
        discard_failures="no",
    )
    assert [setting for setting, _ in found] == ["discard_failures", "retry_attempts", "max_event_age"]
    assert "a plain int or float (jsii cannot pass a Retries" in found[1][1]
    assert found[1][1].endswith(f"got {Retries.ONCE!r}")
    assert found[2][1].endswith("got a token Duration in minutes")
    assert children(stack) == before


def test_stream_consumer_reports_every_bad_value_together_without_a_half_built_tree(stack):
    function = make_function(stack)
    stream = kinesis.Stream(stack, "Stream")
    before = children(stack)
    found = violations(
        StreamConsumer,
        stack,
        "Consume",
        function=function,
        source=stream,
        starting_position="LATEST",
        batch_size=Retries.ONCE,
        max_batching_window=5,
        tumbling_window=cdk.Duration.hours(cdk.CfnParameter(stack, "Hours", type="Number").value_as_number),
        bisect_batch_on_error="yes",
        enabled=1,
        filters=[{"partitionKey": ["1"]}],
    )
    assert sorted(setting for setting, _ in found) == sorted(
        [
            "bisect_batch_on_error",
            "enabled",
            "starting_position",
            "batch_size",
            "max_batching_window",
            "tumbling_window",
            "filters[0]",
        ]
    )
    assert [p for p in children(stack) if p not in before] == ["Orders/Hours"]


def test_a_token_duration_in_seconds_is_accepted(stack):
    seconds = cdk.Duration.seconds(cdk.CfnParameter(stack, "Seconds", type="Number").value_as_number)
    AsyncInvocation(stack, "NotifyAsync", function=make_function(stack), max_event_age=seconds)
    [config] = Template.from_stack(stack).find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumEventAgeInSeconds"] == {"Ref": "Seconds"}


def test_queue_consumer_reports_bad_flags_and_numbers(stack):
    found = violations(
        QueueConsumer,
        stack,
        "Consume",
        function=make_function(stack),
        queue=source_queue(stack),
        max_concurrency=Retries.ONCE,
        report_batch_item_failures="true",
    )
    assert sorted(setting for setting, _ in found) == ["max_concurrency", "report_batch_item_failures"]


# --- across stacks ----------------------------------------------------------------------------------------


def test_a_function_of_another_stack_is_wired_with_a_policy_in_the_wiring_stack_without_a_cycle():
    app = new_app()
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    functions = cdk.Stack(app, "Functions", env=env)
    wiring = cdk.Stack(app, "Wiring", env=env)
    function = make_function(functions)
    AsyncInvocation(wiring, "NotifyAsync", function=function)
    StreamConsumer(wiring, "Consume", function=function.current_version, source=kinesis.Stream(wiring, "Stream"))
    QueueConsumer(wiring, "Drain", function=function, queue=source_queue(wiring))
    assembly = app.synth()  # a dependency cycle would fail here
    assert {stack.stack_name for stack in assembly.stacks} == {"Functions", "Wiring"}
    assert Template.from_stack(functions).find_resources("AWS::IAM::Policy") == {}
    policies = Template.from_stack(wiring).find_resources("AWS::IAM::Policy")
    assert len(policies) == 3
    for policy in policies.values():
        assert "Functions" in json.dumps(policy["Properties"]["Roles"])  # a cross-stack reference
    [config] = Template.from_stack(wiring).find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert "Functions" in json.dumps(config["Properties"]["FunctionName"])


def test_a_dead_letter_queue_in_the_wiring_stack_of_another_stacks_function_is_a_cycle_and_rejected():
    app = new_app()
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    functions = cdk.Stack(app, "Functions", env=env)
    wiring = cdk.Stack(app, "Wiring", env=env)
    function = make_function(functions)
    [(setting, text)] = violations(
        AsyncInvocation, wiring, "NotifyAsync", function=function, dead_letter_queue=FailureQueue(wiring, "Dlq")
    )
    assert setting == "dead_letter_queue" and "dependency cycle" in text
    AsyncInvocation(wiring, "NotifyAsync", function=function, dead_letter_queue=FailureQueue(functions, "Dlq"))
    app.synth()


def test_a_function_of_a_stack_in_another_account_is_rejected_not_left_to_a_synth_error():
    """The shape of a two-account pipeline stage: a function of one account's stack handed to another's."""
    app = new_app()
    stage = cdk.Stage(app, "Prod")
    functions = cdk.Stack(stage, "Functions", env=cdk.Environment(account=ACCOUNT, region=REGION))
    api = cdk.Stack(stage, "Api", env=cdk.Environment(account=OTHER_ACCOUNT, region=REGION))
    function = make_function(functions)
    [(setting, text)] = violations(AsyncInvocation, api, "NotifyAsync", function=function)
    assert setting == "function"
    assert text.endswith(f"got Function Prod/Functions/Notify in account {ACCOUNT}")
    [(setting, _)] = violations(StreamConsumer, api, "Consume", function=function, source=kinesis.Stream(api, "S"))
    assert setting == "function"


@pytest.mark.parametrize("env", [True, False], ids=["environment", "environment-agnostic"])
def test_the_alias_wildcard_is_acknowledged_for_cdk_nag_with_its_reason_only_for_that_resource(env):
    stack = cdk.Stack(new_app(), "Orders", env=cdk.Environment(account=ACCOUNT, region=REGION) if env else None)
    key = kms.Alias.from_alias_name(stack, "Key", "alias/orders")
    function = make_function(stack)
    AsyncInvocation(
        stack, "NotifyAsync", function=function, on_failure=FailureQueue(stack, "Failures", encryption_master_key=key)
    )
    function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))  # not ours
    wildcard_findings = [f.rule_id for f in nag_findings(stack) if f.rule_id.startswith("AwsSolutions-IAM5")]
    assert wildcard_findings == ["AwsSolutions-IAM5[Resource::*]"]


def test_a_failure_queue_with_a_retention_cdk_cannot_convert_is_rejected_before_it_exists(stack):
    days = cdk.Duration.days(cdk.CfnParameter(stack, "Days", type="Number").value_as_number)
    [(setting, text)] = violations(FailureQueue, stack, "Failures", retention_period=days)
    assert setting == "retention_period" and text.endswith("got a token Duration in days")
    assert stack.node.try_find_child("Failures") is None
