"""The test harness itself: each helper must report what is wrong, not only pass on good input."""

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from tests.harness import PROJECT_ROOT, lint_template, nag_findings, new_app, normalize_template
from tests.harness.snapshot import ASSET_HASH_PLACEHOLDER


def test_app_fixture_carries_cdk_json_feature_flags(app, cdk_context):
    flags = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    assert cdk_context == flags
    assert len(flags) > 50
    for flag, value in flags.items():
        assert app.node.try_get_context(flag) == value, flag


def test_new_app_adds_extra_context_without_touching_cdk_json_flags():
    app = new_app(environment="staging")
    assert app.node.try_get_context("environment") == "staging"
    assert app.node.try_get_context("@aws-cdk/aws-lambda:recognizeLayerVersion") is True


# --- snapshots -------------------------------------------------------------------------------------------


def _function_template(code_dir: Path) -> dict:
    stack = cdk.Stack(new_app(), "Snap")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_asset(str(code_dir)),
    )
    return Template.from_stack(stack).to_json()


def test_normalized_template_does_not_change_when_only_the_asset_changes(tmp_path):
    first, second = tmp_path / "v1", tmp_path / "v2"
    for folder, body in ((first, "A = 1\n"), (second, "A = 2\n")):
        folder.mkdir()
        (folder / "index.py").write_text(body)
    raw_first, raw_second = _function_template(first), _function_template(second)

    assert raw_first != raw_second, "the raw templates differ by their asset hash"
    assert normalize_template(raw_first) == normalize_template(raw_second)
    code = normalize_template(raw_first)["Resources"]
    s3_keys = [r["Properties"]["Code"]["S3Key"] for r in code.values() if r["Type"] == "AWS::Lambda::Function"]
    assert s3_keys == [f"{ASSET_HASH_PLACEHOLDER}.zip"]


def test_normalize_drops_cli_metadata_and_keeps_everything_else():
    template = {
        "Resources": {
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:..."}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders"}},
        },
        "Conditions": {"CDKMetadataAvailable": {"Fn::Or": []}},
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
    }
    assert normalize_template(template) == {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders"}}},
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
    }
    assert "CDKMetadata" in template["Resources"], "the input is not modified"


def test_normalize_leaves_short_hex_and_non_hash_strings_alone():
    value = {"a": "deadbeef", "b": "x" * 64, "c": ["f" * 64 + ".zip", 3, None]}
    assert normalize_template({"Resources": {}, "Metadata": value})["Metadata"] == {
        "a": "deadbeef",
        "b": "x" * 64,
        "c": [f"{ASSET_HASH_PLACEHOLDER}.zip", 3, None],
    }


def test_snapshot_fixture_stores_normalized_templates(template_snapshot):
    stack = cdk.Stack(new_app(), "SnapshotSelfTest")
    sqs.Queue(stack, "Queue", enforce_ssl=True, retention_period=cdk.Duration.days(14))
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


# --- cdk-nag ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_queue_stack() -> cdk.Stack:
    stack = cdk.Stack(new_app(), "Bad")
    sqs.Queue(stack, "PlainQueue")
    acknowledged = sqs.Queue(stack, "AcknowledgedQueue", enforce_ssl=True)
    cdk.Validations.of(acknowledged.node.default_child).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-SQS3", reason="test: a terminal queue"),
        cdk.Acknowledgment(id="Serverless-SQSRedrivePolicy", reason="test: a terminal queue"),
    )
    return stack


def test_nag_helper_reports_rule_and_construct_path_of_a_bad_stack(bad_queue_stack):
    findings = {(f.rule_id, f.path) for f in nag_findings(bad_queue_stack)}
    assert findings == {
        ("AwsSolutions-SQS3", "Bad/PlainQueue/Resource"),
        ("AwsSolutions-SQS4", "Bad/PlainQueue/Resource"),
        ("Serverless-SQSRedrivePolicy", "Bad/PlainQueue/Resource"),
    }


def test_nag_helper_findings_read_well_in_an_assertion_failure(bad_queue_stack):
    first = nag_findings(bad_queue_stack)[0]
    assert str(first).startswith("AwsSolutions-SQS3 (error) at Bad/PlainQueue/Resource: ")


def test_nag_helper_respects_acknowledgments_and_returns_nothing_for_a_clean_stack():
    stack = cdk.Stack(new_app(), "Clean")
    queue = sqs.Queue(stack, "Terminal", enforce_ssl=True)
    cdk.Validations.of(queue.node.default_child).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-SQS3", reason="test: a terminal queue"),
        cdk.Acknowledgment(id="Serverless-SQSRedrivePolicy", reason="test: a terminal queue"),
    )
    assert nag_findings(stack) == []


# --- cfn-lint --------------------------------------------------------------------------------------------


def test_cfn_lint_helper_reports_errors_of_a_bad_template():
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 99999999}},
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": "f",
                    "BatchSize": 0,
                    "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                },
            },
        }
    }
    problems = lint_template(template)
    paths = {problem.path for problem in problems}
    assert "Resources/Queue/Properties/MessageRetentionPeriod" in paths
    assert "Resources/Mapping/Properties/BatchSize" in paths
    assert all(problem.rule_id.startswith(("E", "W")) for problem in problems)


def test_cfn_lint_helper_ignores_only_redundant_depends_on():
    queue = {"Type": "AWS::SQS::Queue", "Properties": {}}
    template = {
        "Resources": {
            "First": queue,
            "Second": {
                "Type": "AWS::SQS::Queue",
                "DependsOn": "First",
                "Properties": {
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["First", "Arn"]},
                        "maxReceiveCount": 5,
                    }
                },
            },
        }
    }
    assert lint_template(template) == []
    template["Resources"]["Second"]["Properties"]["VisibilityTimeout"] = -1
    assert [problem.rule_id for problem in lint_template(template)] != []
