"""FailureQueue: a secure standard SQS queue for failure records."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from constructs_lib import FailureQueue, ValidationError
from tests.harness import lint_template, nag_findings, new_app, normalize_template


@pytest.fixture
def stack() -> cdk.Stack:
    # Template.from_stack synthesizes the whole app, so every test gets its own.
    return cdk.Stack(new_app(), "Orders")


def test_defaults_are_encrypted_tls_only_standard_with_14_day_retention(stack, template_snapshot):
    FailureQueue(stack, "Failures")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1_209_600}
    )
    assert "FifoQueue" not in next(iter(template.find_resources("AWS::SQS::Queue").values()))["Properties"]
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Action": "sqs:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            }
        },
    )
    assert normalize_template(template.to_json()) == template_snapshot


def test_is_nag_and_cfn_lint_clean_with_its_acknowledgments_on_the_queue_itself(stack):
    queue = FailureQueue(stack, "Failures")
    assert nag_findings(stack) == []
    assert lint_template(Template.from_stack(stack).to_json()) == []
    acknowledged = queue.node.default_child.node.metadata
    assert any("AwsSolutions-SQS3" in str(entry.data) for entry in acknowledged)


def test_a_customer_managed_key_replaces_sqs_managed_encryption(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    queue = FailureQueue(stack, "Failures", encryption_master_key=key)
    assert queue.encryption_master_key is key
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}}
    )


def test_queue_props_pass_through(stack):
    FailureQueue(stack, "Failures", retention_period=cdk.Duration.days(4), queue_name="orders-failures")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue", {"QueueName": "orders-failures", "MessageRetentionPeriod": 345_600}
    )


def test_with_its_own_dlq_nothing_is_acknowledged(stack):
    dlq = FailureQueue(stack, "Last")
    queue = FailureQueue(stack, "Failures", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5))
    assert not any("AwsSolutions-SQS3" in str(entry.data) for entry in queue.node.default_child.node.metadata)


def test_fifo_unencrypted_and_plain_http_are_rejected_together(stack):
    with pytest.raises(ValidationError) as caught:
        FailureQueue(stack, "Failures", fifo=True, encryption=sqs.QueueEncryption.UNENCRYPTED, enforce_ssl=False)
    assert [(v.setting, v.given) for v in caught.value.violations] == [
        ("fifo", "True"),
        ("encryption", "UNENCRYPTED"),
        ("enforce_ssl", "False"),
    ]
    assert str(caught.value).startswith(f"{stack.node.path}/Failures: fifo must be False for a failure queue")
    assert stack.node.try_find_child("Failures") is None, "nothing is created when validation fails"


def test_accepts_one_mib_messages_and_warns_below(stack):
    FailureQueue(stack, "Failures")
    small = FailureQueue(stack, "Small", max_message_size_bytes=262_144)
    template = Template.from_stack(stack)
    sizes = {
        lid[:5]: q["Properties"]["MaximumMessageSize"] for lid, q in template.find_resources("AWS::SQS::Queue").items()
    }
    assert sizes == {"Failu": 1_048_576, "Small": 262_144}
    warnings = cdk.assertions.Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("max_message_size_bytes must be at least 1048576 bytes")
    )
    assert [w.id for w in warnings] == [f"/{small.node.path}"]
    assert "1048576 bytes (1 MiB)" in warnings[0].entry.data and "262144" in warnings[0].entry.data


def test_a_small_failure_queue_used_as_a_home_is_warned_about_once_by_itself(stack):
    from constructs_lib import AsyncInvocation
    from tests.test_async_invocation import make_function

    small = FailureQueue(stack, "Small", max_message_size_bytes=262_144)
    assert small.max_message_size_bytes == 262_144
    AsyncInvocation(stack, "Async", function=make_function(stack), on_failure=small)
    warnings = cdk.assertions.Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("1 MiB"))
    assert [w.id for w in warnings] == ["/Orders/Small"]
