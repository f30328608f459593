"""QueueConsumer: the source queue's DLQ as failure home, SQS batching rules, visibility timeout, grants."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import FailureQueue, QueueConsumer, ValidationError
from tests.harness import lint_template, nag_findings, new_app, normalize_template
from tests.test_async_invocation import allow, arn_of, make_function, ref, role_statements

CONSUME = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders")


def make_queue(
    stack: cdk.Stack, *, fifo: bool = False, max_receive_count: int = 5, dlq: bool = True, **props
) -> sqs.Queue:
    redrive = None
    if dlq:
        dead_letters = (
            sqs.Queue(stack, "DeadLetters", fifo=True, enforce_ssl=True) if fifo else FailureQueue(stack, "DeadLetters")
        )
        redrive = sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=max_receive_count)
    return sqs.Queue(
        stack,
        "Payments",
        fifo=fifo or None,
        enforce_ssl=True,
        visibility_timeout=props.pop("visibility_timeout", cdk.Duration.seconds(18)),
        dead_letter_queue=redrive,
        **props,
    )


def mapping(stack: cdk.Stack) -> dict:
    [resource] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    return resource["Properties"]


def violations_of(**kwargs) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        QueueConsumer(**kwargs)
    return [(violation.setting, str(violation)) for violation in caught.value.violations]


def warnings_of(stack: cdk.Stack) -> list[str]:
    return [str(w.entry.data) for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())]


def test_defaults_report_partial_failures_and_grant_exactly_consume(stack, template_snapshot):
    function, queue = make_function(stack), make_queue(stack)
    consumer = QueueConsumer(stack, "Consume", function=function, queue=queue)
    assert consumer.dead_letter_queue is queue.dead_letter_queue.queue
    assert mapping(stack) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "EventSourceArn": arn_of(stack, queue),
        "Enabled": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    assert role_statements(stack, function) == [allow(CONSUME, arn_of(stack, queue))]
    assert warnings_of(stack) == []
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


def test_what_the_construct_creates_is_nag_and_cfn_lint_clean(stack):
    consumer = QueueConsumer(stack, "Consume", function=make_function(stack), queue=make_queue(stack))
    assert [f for f in nag_findings(stack) if f.path.startswith(consumer.node.path)] == []
    assert [f for f in nag_findings(stack) if "DeadLetters" in f.path or "Payments" in f.path] == []
    assert lint_template(Template.from_stack(stack).to_json()) == []


def test_every_setting_is_written(stack):
    QueueConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        queue=make_queue(stack),
        batch_size=100,
        max_batching_window=cdk.Duration.seconds(10),
        max_concurrency=20,
        report_batch_item_failures=False,
        filters=[lambda_.FilterCriteria.filter({"body": {"kind": lambda_.FilterRule.is_equal("card")}})],
        enabled=False,
    )
    properties = mapping(stack)
    assert {key: value for key, value in properties.items() if key not in ("FunctionName", "EventSourceArn")} == {
        "Enabled": False,
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 10,
        "ScalingConfig": {"MaximumConcurrency": 20},
        "FilterCriteria": {"Filters": [{"Pattern": '{"body":{"kind":["card"]}}'}]},
    }


def test_a_queue_without_redrive_policy_is_rejected_with_how_to_add_one(stack):
    [(setting, text)] = violations_of(
        scope=stack, id="Consume", function=make_function(stack), queue=make_queue(stack, dlq=False)
    )
    assert setting == "queue"
    assert "dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(...), max_receive_count=5)" in text
    assert text.endswith("got SQS queue Orders/Payments without a dead-letter queue")


def test_a_fifo_queue_needs_a_fifo_dead_letter_queue(stack):
    dead_letters = FailureQueue(stack, "DeadLetters")
    queue = sqs.Queue(
        stack, "Payments", fifo=True, dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5)
    )
    [(setting, text)] = violations_of(scope=stack, id="Consume", function=make_function(stack), queue=queue)
    assert setting == "queue"
    assert text == (
        "Orders/Consume: queue must be a FIFO queue with a FIFO dead-letter queue (SQS requires both to be FIFO), "
        "got FIFO queue Orders/Payments with standard dead-letter queue Orders/DeadLetters"
    )


def test_fifo_queues_take_batches_of_at_most_10_and_no_window(stack):
    queue = make_queue(stack, fifo=True)
    found = violations_of(
        scope=stack,
        id="Consume",
        function=make_function(stack),
        queue=queue,
        batch_size=11,
        max_batching_window=cdk.Duration.seconds(1),
    )
    assert found == [
        (
            "batch_size",
            "Orders/Consume: batch_size must be between 1 and 10 for SQS FIFO event source mappings, got 11",
        ),
        (
            "max_batching_window",
            "Orders/Consume: max_batching_window must be left out for SQS FIFO event source mappings (AWS does not support batching windows on FIFO queues), got 1 seconds",
        ),
    ]
    QueueConsumer(stack, "Consume", function=make_function(stack, "Other"), queue=queue, batch_size=10)
    assert mapping(stack)["BatchSize"] == 10


def test_a_standard_batch_above_10_needs_a_window_of_at_least_a_second(stack):
    function, queue = make_function(stack), make_queue(stack)
    [(setting, text)] = violations_of(scope=stack, id="A", function=function, queue=queue, batch_size=11)
    assert setting == "max_batching_window"
    assert (
        text
        == "Orders/A: max_batching_window must be at least 1 second when batch_size is above 10 for SQS event source mappings, got none with batch_size 11"
    )
    [(setting, _)] = violations_of(
        scope=stack, id="B", function=function, queue=queue, batch_size=11, max_batching_window=cdk.Duration.seconds(0)
    )
    assert setting == "max_batching_window"
    QueueConsumer(
        stack, "C", function=function, queue=queue, batch_size=10_000, max_batching_window=cdk.Duration.seconds(1)
    )
    assert mapping(stack)["BatchSize"] == 10_000


@pytest.mark.parametrize(("value", "ok"), [(1, False), (2, True), (1000, True), (1001, False)])
def test_max_concurrency_is_2_to_1000(stack, value, ok):
    kwargs = {
        "scope": stack,
        "id": "Consume",
        "function": make_function(stack),
        "queue": make_queue(stack),
        "max_concurrency": value,
    }
    if ok:
        QueueConsumer(**kwargs)
        assert mapping(stack)["ScalingConfig"] == {"MaximumConcurrency": value}
    else:
        [(_, text)] = violations_of(**kwargs)
        assert (
            text
            == f"Orders/Consume: max_concurrency must be between 2 and 1000 for SQS event source mappings, got {value}"
        )


def test_tokens_are_accepted(stack):
    size = cdk.CfnParameter(stack, "Batch", type="Number").value_as_number
    QueueConsumer(
        stack, "Consume", function=make_function(stack), queue=make_queue(stack), batch_size=size, max_concurrency=size
    )
    assert mapping(stack)["BatchSize"] == {"Ref": "Batch"}


def test_visibility_timeout_below_the_function_timeout_is_rejected(stack):
    function = make_function(stack, timeout=cdk.Duration.seconds(60))
    [(setting, text)] = violations_of(
        scope=stack,
        id="Consume",
        function=function,
        queue=make_queue(stack, visibility_timeout=cdk.Duration.seconds(59)),
    )
    assert setting == "queue visibility timeout"
    assert (
        text
        == "Orders/Consume: queue visibility timeout must be at least the function timeout (AWS rejects the mapping), got 59 seconds with a function timeout of 60 seconds"
    )


def test_default_timeouts_are_compared_too(stack):
    # An SQS queue defaults to 30 s of visibility; a function to 3 s of timeout.
    function = make_function(stack, timeout=cdk.Duration.seconds(31))
    queue = sqs.Queue(
        stack, "Payments", dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(stack, "Dlq"), max_receive_count=5)
    )
    [(_, text)] = violations_of(scope=stack, id="Consume", function=function, queue=queue)
    assert text.endswith("got 30 seconds with a function timeout of 31 seconds")


def test_visibility_timeout_below_six_times_is_accepted_with_a_warning(stack):
    function = make_function(stack, timeout=cdk.Duration.seconds(10))
    QueueConsumer(
        stack, "Consume", function=function, queue=make_queue(stack, visibility_timeout=cdk.Duration.seconds(59))
    )
    [warning] = warnings_of(stack)
    assert "at least 6x the function timeout (60 seconds)" in warning


def test_a_low_max_receive_count_is_warned_about(stack):
    QueueConsumer(stack, "Consume", function=make_function(stack), queue=make_queue(stack, max_receive_count=2))
    [warning] = warnings_of(stack)
    assert "maxReceiveCount of the queue's redrive policy must be at least 5" in warning


def test_an_encrypted_queue_gets_kms_decrypt_only(stack):
    function, key = make_function(stack), kms.Key(stack, "Key", enable_key_rotation=True)
    queue = make_queue(stack, encryption_master_key=key)
    QueueConsumer(stack, "Consume", function=function, queue=queue)
    assert role_statements(stack, function) == [
        allow(CONSUME, arn_of(stack, queue)),
        allow("kms:Decrypt", arn_of(stack, key)),
    ]


def test_an_imported_queue_is_consumed_with_a_warning_that_nothing_could_be_checked(stack):
    function = make_function(stack)
    queue = sqs.Queue.from_queue_arn(stack, "Imported", "arn:aws:sqs:us-east-1:123456789012:payments")
    consumer = QueueConsumer(stack, "Consume", function=function, queue=queue)
    assert consumer.dead_letter_queue is None
    assert mapping(stack)["EventSourceArn"] == "arn:aws:sqs:us-east-1:123456789012:payments"
    [warning] = warnings_of(stack)
    assert "cannot be checked" in warning


@pytest.mark.parametrize(
    ("setting", "value", "instead"),
    [
        ("bisect_batch_on_error", True, "batches are not split"),
        ("retry_attempts", 2, "maxReceiveCount"),
        ("max_record_age", cdk.Duration.hours(1), "retention period"),
        ("parallelization_factor", 2, "max_concurrency"),
        ("tumbling_window", cdk.Duration.seconds(30), "no tumbling windows"),
        ("starting_position", lambda_.StartingPosition.LATEST, "no position"),
    ],
)
def test_stream_only_settings_are_rejected_naming_the_redrive_policy(stack, setting, value, instead):
    [(found, text)] = violations_of(
        scope=stack, id="Consume", function=make_function(stack), queue=make_queue(stack), **{setting: value}
    )
    assert found == setting
    assert instead in text
    assert "dead-letter queue through its redrive policy" in text


def test_on_failure_and_on_success_are_rejected(stack):
    found = violations_of(
        scope=stack,
        id="Consume",
        function=make_function(stack),
        queue=make_queue(stack),
        on_failure=FailureQueue(stack, "Elsewhere"),
        on_success=FailureQueue(stack, "Done"),
    )
    assert [setting for setting, _ in found] == ["on_failure", "on_success"]
    assert found[0][1].endswith("got FailureQueue Orders/Elsewhere")


# --- provisioned mode -------------------------------------------------------------------------------------


def test_provisioned_pollers_are_written(stack):
    QueueConsumer(
        stack,
        "Charge",
        function=make_function(stack),
        queue=make_queue(stack),
        provisioned_poller_config=lambda_.ProvisionedPollerConfig(minimum_pollers=2, maximum_pollers=10_000),
    )
    assert mapping(stack)["ProvisionedPollerConfig"] == {"MinimumPollers": 2, "MaximumPollers": 10_000}
    assert "ScalingConfig" not in mapping(stack)
    assert lint_template(Template.from_stack(stack).to_json()) == []


def test_provisioned_pollers_boundaries_and_tokens(stack):
    pollers = cdk.CfnParameter(stack, "Pollers", type="Number").value_as_number
    QueueConsumer(
        stack,
        "Charge",
        function=make_function(stack),
        queue=make_queue(stack),
        provisioned_poller_config=lambda_.ProvisionedPollerConfig(minimum_pollers=200, maximum_pollers=pollers),
    )
    assert mapping(stack)["ProvisionedPollerConfig"] == {"MinimumPollers": 200, "MaximumPollers": {"Ref": "Pollers"}}


@pytest.mark.parametrize(
    ("config", "settings"),
    [
        ({"minimum_pollers": 1}, ["provisioned_poller_config.minimum_pollers"]),
        ({"minimum_pollers": 201}, ["provisioned_poller_config.minimum_pollers"]),
        ({"maximum_pollers": 1}, ["provisioned_poller_config.maximum_pollers"]),
        ({"maximum_pollers": 10_001}, ["provisioned_poller_config.maximum_pollers"]),
        ({"minimum_pollers": 20, "maximum_pollers": 10}, ["provisioned_poller_config.maximum_pollers"]),
        ({"poller_group_name": "shared"}, ["provisioned_poller_config.poller_group_name"]),
    ],
)
def test_provisioned_pollers_out_of_range_are_rejected(stack, config, settings):
    found = violations_of(
        scope=stack,
        id="Charge",
        function=make_function(stack),
        queue=make_queue(stack),
        provisioned_poller_config=lambda_.ProvisionedPollerConfig(**config),
    )
    assert [setting for setting, _ in found] == settings


def test_provisioned_mode_excludes_max_concurrency(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Charge",
        function=make_function(stack),
        queue=make_queue(stack),
        max_concurrency=10,
        provisioned_poller_config=lambda_.ProvisionedPollerConfig(minimum_pollers=2, maximum_pollers=20),
    )
    assert setting == "max_concurrency" and "mutually exclusive" in text and text.endswith("got 10")


def test_provisioned_poller_config_of_the_wrong_type_is_named(stack):
    [(setting, text)] = violations_of(
        scope=stack,
        id="Charge",
        function=make_function(stack),
        queue=make_queue(stack),
        provisioned_poller_config={"minimum_pollers": 2},
    )
    assert setting == "provisioned_poller_config" and "lambda_.ProvisionedPollerConfig" in text
