"""The sample app: wiring, cfn-lint, cdk-nag, snapshot, and the real `cdk synth` through the CLI."""

import json

import pytest
from aws_cdk.assertions import Match, Template

from constructs_lib.audit import main as audit_main
from constructs_lib.testing import assert_no_failure_handling_findings
from sample_app.app import build_app
from tests.harness import lint_template, load_cdk_context, nag_findings, normalize_template, run_cdk


@pytest.fixture(scope="module")
def orders_stack():
    app = build_app(load_cdk_context(), nag=False)
    return app.node.find_child("OrdersPipeline")


@pytest.fixture(scope="module")
def template(orders_stack) -> Template:
    return Template.from_stack(orders_stack)


def mapping_of(template: Template, function_prefix: str) -> dict:
    mappings = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if resource["Properties"]["FunctionName"]["Ref"].startswith(function_prefix)
    ]
    assert len(mappings) == 1, function_prefix
    return mappings[0]


def test_orders_processor_consumes_the_stream_with_resilient_defaults_and_a_failure_bucket(template):
    mapping = mapping_of(template, "OrdersProcessor")
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith("OrdersStream")
    [bucket_id] = template.find_resources("AWS::S3::Bucket")
    assert bucket_id.startswith("OrdersFailures")
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert {
        key: mapping[key] for key in mapping if key not in ("FunctionName", "EventSourceArn", "DestinationConfig")
    } == {
        "Enabled": True,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MetricsConfig": {"Metrics": ["EventCount"]},
    }


def test_inventory_projector_parks_failures_on_an_encrypted_topic_with_a_queue_behind_it(template):
    mapping = mapping_of(template, "InventoryProjector")
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith("OrdersTable")
    assert mapping["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"]["Ref"].startswith("InventoryFailures")
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "sqs",
            "RawMessageDelivery": True,
            "Endpoint": {"Fn::GetAtt": [Match.string_like_regexp("^InventoryFailureRecords"), "Arn"]},
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [Match.string_like_regexp("^InventoryFailureUndelivered"), "Arn"]}
            },
        },
    )


def test_payments_processor_consumes_a_queue_whose_dlq_is_the_failure_home(template):
    mapping = mapping_of(template, "PaymentsProcessor")
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith("PaymentsQueue")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert "DestinationConfig" not in mapping and "BisectBatchOnFunctionError" not in mapping
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": 180,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [Match.string_like_regexp("^PaymentsDeadLetters"), "Arn"]},
                "maxReceiveCount": 5,
            },
        },
    )


def test_notifier_is_invoked_asynchronously_with_every_failure_given_a_home(template):
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": Match.string_like_regexp("^OrderNotifier")},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {
                "OnSuccess": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("^NotificationAudit"), "Arn"]}},
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [Match.string_like_regexp("^OrderNotifierAsyncFailureQueue"), "Arn"]}
                },
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "order_notifier.handler",
            "DeadLetterConfig": {
                "TargetArn": {"Fn::GetAtt": [Match.string_like_regexp("^NotifierDeadLetters"), "Arn"]}
            },
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Targets": [
                Match.object_like(
                    {
                        "DeadLetterConfig": {
                            "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^NotifierUndeliveredEvents"), "Arn"]}
                        }
                    }
                )
            ]
        },
    )


def test_notifier_may_use_the_key_of_its_encrypted_dead_letter_queue(template):
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^OrderNotifierRole")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            "Effect": "Allow",
                            "Resource": {"Fn::GetAtt": [Match.string_like_regexp("^NotifierDeadLetterKey"), "Arn"]},
                        }
                    ]
                )
            },
        },
    )


def test_processor_role_has_no_managed_policies_and_may_write_its_own_logs(template):
    roles = template.find_resources("AWS::IAM::Role")
    assert len(roles) == 4
    assert all("ManagedPolicyArns" not in role["Properties"] for role in roles.values())
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": {"Fn::GetAtt": [Match.string_like_regexp("^OrdersProcessorLogs"), "Arn"]},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_every_failure_path_has_alarms_that_notify_the_encrypted_alarm_topic(template):
    alarms = template.find_resources("AWS::CloudWatch::Alarm").values()
    [topic_id] = template.find_resources("AWS::SNS::Topic", {"Properties": {"DisplayName": "Orders pipeline alarms"}})
    assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for alarm in alarms)
    metrics = sorted(alarm["Properties"]["MetricName"] for alarm in alarms)
    assert metrics == sorted(
        # six failure queues (two default, four given), two alarms each
        ["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"] * 6
        # two stream consumers, both with a failure home, and their mappings' EventCount metrics; the Kinesis one
        # also watches the stream itself and, its home being a bucket, what the mapping delivered there
        + ["IteratorAge", "Errors", "DestinationDeliveryFailures", "DroppedEventCount"] * 2
        + ["GetRecords.IteratorAgeMilliseconds", "OnFailureDestinationDeliveredEventCount"]
        # the notifier's asynchronous invocation, with destinations and a dead-letter queue
        + ["AsyncEventsDropped", "AsyncEventAge", "DestinationDeliveryFailures", "DeadLetterErrors"]
    )


def test_cloudwatch_may_use_the_alarm_topics_key(template):
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "DisplayName": "Orders pipeline alarms",
            "KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^AlarmTopicKey"), "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": "Encrypts alarm notifications of the orders pipeline",
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
            },
        },
    )


def test_sample_stack_is_cfn_lint_clean(template):
    assert lint_template(template.to_json()) == []


def test_sample_stack_is_cdk_nag_clean(orders_stack):
    # AwsSolutions, Serverless and our FailureHandling pack.
    assert nag_findings(orders_stack) == []


def test_sample_stack_passes_the_failure_handling_test_helper(template):
    assert_no_failure_handling_findings(template)


def test_sample_stack_snapshot(template, template_snapshot):
    assert normalize_template(template.to_json()) == template_snapshot


# --- the real CLI ----------------------------------------------------------------------------------------


def test_real_cdk_synth_writes_a_clean_sample_template(tmp_path):
    result = run_cdk(["synth", "--quiet", "--output", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr + result.stdout, "jsii must run on the pinned Node 22"

    templates = sorted(path.name for path in tmp_path.glob("*.template.json"))
    assert templates == ["OrdersPipeline.template.json"]
    written = json.loads((tmp_path / "OrdersPipeline.template.json").read_text())
    types = sorted(resource["Type"] for resource in written["Resources"].values())
    assert "AWS::CDK::Metadata" in types, "the CLI adds analytics metadata that in-process synth does not"
    assert types.count("AWS::Lambda::EventSourceMapping") == 3
    assert types.count("AWS::Lambda::EventInvokeConfig") == 1
    assert types.count("AWS::CloudWatch::Alarm") == 26
    assert lint_template(written) == []
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == [], "cdk-nag ran inside the CLI synth and found nothing"
    assert audit_main([str(tmp_path)]) == 0, "the audit CLI finds nothing in what the CLI wrote"


def test_real_cdk_synth_fails_on_a_nag_finding(tmp_path):
    result = run_cdk(["synth", "--quiet", "--app", "python3 tests/fixtures/bad_app.py", "--output", str(tmp_path)])
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "AwsSolutions-SQS3" in output
    assert "BadStack/UnencryptedQueueWithoutDlq/Resource" in output
