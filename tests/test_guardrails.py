"""The three front-ends of the failure-handling checks on CDK-built stacks: the cdk-nag pack, the audit CLI and
the test helpers. Plain aws-cdk-lib wiring (with the grants aws-cdk forgets) must be caught; our constructs
must pass."""

import json
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from constructs_lib import AsyncInvocation, FailureHandlingChecks, FailureQueue, QueueConsumer, StreamConsumer
from constructs_lib.audit import main as audit_main
from constructs_lib.testing import assert_no_failure_handling_findings, failure_handling_findings
from tests.harness import PROJECT_ROOT, load_cdk_context, nag_findings, new_app

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n")


def function(stack: cdk.Stack, id: str, **props) -> lambda_.Function:
    return lambda_.Function(stack, id, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", code=CODE, **props)


def build_plain(stack: cdk.Stack) -> None:
    """Hand wiring with plain aws-cdk-lib, as many apps have it."""
    key = kms.Key(stack, "DlqKey", enable_key_rotation=True)
    notify = function(stack, "Notify", dead_letter_queue=sqs.Queue(stack, "NotifyDlq", encryption_master_key=key))
    uploads = s3.Bucket(stack, "Uploads")
    uploads.add_event_notification(s3.EventType.OBJECT_CREATED, s3_notifications.LambdaDestination(notify))
    thumbnails = function(stack, "Thumbnails")
    uploads.add_event_notification(s3.EventType.OBJECT_REMOVED, s3_notifications.LambdaDestination(thumbnails))
    consume = function(stack, "Consume")
    consume.add_event_source(
        event_sources.KinesisEventSource(
            kinesis.Stream(stack, "Orders"), starting_position=lambda_.StartingPosition.LATEST
        )
    )


def build_ours(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "DlqKey", enable_key_rotation=True)
    notify = function(stack, "Notify")
    AsyncInvocation(
        stack,
        "NotifyAsync",
        function=notify,
        dead_letter_queue=FailureQueue(stack, "NotifyDlq", encryption_master_key=key),
    )
    StreamConsumer(stack, "ConsumeOrders", function=function(stack, "Consume"), source=kinesis.Stream(stack, "Orders"))
    payments = sqs.Queue(
        stack,
        "Payments",
        visibility_timeout=cdk.Duration.seconds(18),
        dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(stack, "PaymentsDlq"), max_receive_count=5),
    )
    QueueConsumer(stack, "ConsumePayments", function=function(stack, "Charge"), queue=payments)


def plain_mapping(stack: cdk.Stack):
    """The event source mapping aws-cdk's KinesisEventSource adds (its id carries a hash)."""
    [mapping] = [
        c for c in stack.node.find_child("Consume").node.children if c.node.id.startswith("KinesisEventSource")
    ]
    return mapping


PLAIN_RULES = {
    "MissingKmsPermission": "Notify",
    "AsyncNoFailureHome": "Thumbnails",
    "StreamUnboundedRetries": "mapping",
    "StreamNoFailureDestination": "mapping",
    "NoReportBatchItemFailures": "mapping",
}


def plain_findings(stack: cdk.Stack) -> set[tuple[str, str]]:
    mapping_path = plain_mapping(stack).node.default_child.node.path
    return {
        (rule, mapping_path if where == "mapping" else f"{stack.node.path}/{where}/Resource")
        for rule, where in PLAIN_RULES.items()
    }


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> dict[str, cdk.Stack]:
    # Path metadata as the CLI writes it, so the audit can show construct paths.
    context = {**load_cdk_context(), "aws:cdk:enable-path-metadata": True}
    app = cdk.App(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    plain, ours = cdk.Stack(app, "Plain"), cdk.Stack(app, "Ours")
    build_plain(plain)
    build_ours(ours)
    return {"plain": plain, "ours": ours}


@pytest.fixture(scope="module")
def assembly(stacks) -> str:
    """The cloud assembly of both stacks, synthesized once (no nag plugin: the CLI audits it)."""
    return stacks["plain"].node.root.synth().directory


# --- cdk-nag pack ----------------------------------------------------------------------------------------


def test_the_pack_finds_what_plain_wiring_gets_wrong_with_construct_paths(stacks):
    found = {(f.rule_id, f.path) for f in nag_findings(stacks["plain"], [FailureHandlingChecks()])}
    assert {(rule.removeprefix("FailureHandling-"), path) for rule, path in found} == plain_findings(stacks["plain"])


def test_the_pack_is_clean_on_our_constructs(stacks):
    assert nag_findings(stacks["ours"], [FailureHandlingChecks()]) == []


def test_pack_findings_carry_level_and_message(stacks):
    findings = {f.rule_id: f for f in nag_findings(stacks["plain"], [FailureHandlingChecks()])}
    assert findings["FailureHandling-NoReportBatchItemFailures"].severity == "warning"
    kms_finding = findings["FailureHandling-MissingKmsPermission"]
    assert kms_finding.severity == "error"
    assert "lacks kms:Decrypt, kms:GenerateDataKey on the KMS key of SQS queue" in kms_finding.description


def test_findings_are_acknowledged_per_rule_on_the_narrowest_construct():
    stack = cdk.Stack(new_app(), "Plain")
    build_plain(stack)
    cdk.Validations.of(plain_mapping(stack)).acknowledge(
        cdk.Acknowledgment(
            id="FailureHandling-NoReportBatchItemFailures", reason="test: the handler fails whole batches"
        )
    )
    rules = {f.rule_id for f in nag_findings(stack, [FailureHandlingChecks()])}
    assert "FailureHandling-NoReportBatchItemFailures" not in rules
    assert "FailureHandling-StreamUnboundedRetries" in rules, "only the acknowledged rule is gone"


def test_registered_like_the_built_in_packs_findings_fail_synth(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    build_plain(cdk.Stack(app, "Plain"))
    cdk.Validations.of(app).add_plugins(FailureHandlingChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    [plugin] = report["pluginReports"]
    assert plugin["pluginName"] == "FailureHandling"
    assert {v["ruleName"] for v in plugin["violations"]} == {f"FailureHandling-{rule}" for rule in PLAIN_RULES}


# --- audit CLI -------------------------------------------------------------------------------------------


def test_audit_reports_functions_and_findings_and_fails_on_errors(assembly, capsys):
    assert audit_main([assembly]) == 1
    out = capsys.readouterr().out
    assert "== " in out and "Plain.template.json" in out and "Ours.template.json" in out
    assert "Plain/Consume" in out and "mapping Kinesis Plain/Orders retries" in out
    assert "not set (infinite)" in out
    assert "ERROR StreamUnboundedRetries" in out
    assert "fix MissingKmsPermission: Grant kms:GenerateDataKey" in out
    assert out.rstrip().endswith("2 template(s): 4 error(s), 1 warning(s)")


def test_audit_json_is_machine_readable(assembly, capsys):
    assert audit_main([assembly, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["errors"], report["warnings"]) == (4, 1)
    ours = next(t for t in report["templates"] if t["file"].endswith("Ours.template.json"))
    assert ours["findings"] == []
    consume = next(f for f in ours["functions"] if f["path"] == "Ours/Consume")
    assert consume["settings"]["mapping Kinesis Ours/Orders retries"] == "3"
    assert consume["settings"]["mapping Kinesis Ours/Orders on failure"] == "SQS queue Ours/ConsumeOrders/FailureQueue"


def test_audit_of_a_clean_template_file_exits_zero(assembly, capsys):
    assert audit_main([f"{assembly}/Ours.template.json"]) == 0
    assert "findings: none" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing", None, "no such file or directory"),
        ("broken.json", "{not json", "not valid JSON"),
        ("other.json", '{"a": 1}', "not a CloudFormation template (no Resources section)"),
        ("empty-dir", "", "no CloudFormation templates found"),
    ],
)
def test_audit_bad_input_is_a_clear_message_and_exit_2(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content == "":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    assert audit_main([str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err


def test_audit_reads_yaml_templates_with_short_form_intrinsics(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(
        "Resources:\n"
        "  Stream: {Type: AWS::Kinesis::Stream}\n"
        "  Fn: {Type: AWS::Lambda::Function, Properties: {Role: arn:aws:iam::1:role/r}}\n"
        "  Mapping:\n"
        "    Type: AWS::Lambda::EventSourceMapping\n"
        "    Properties:\n"
        "      FunctionName: !Ref Fn\n"
        "      EventSourceArn: !GetAtt Stream.Arn\n"
    )
    assert audit_main([str(tmp_path / "t.yaml")]) == 1
    assert "StreamUnboundedRetries Mapping" in capsys.readouterr().out


def test_audit_runs_as_a_module_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "constructs_lib.audit", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


# --- test helpers ----------------------------------------------------------------------------------------


def test_helper_passes_our_constructs_and_accepts_a_stack(stacks):
    assert_no_failure_handling_findings(Template.from_stack(stacks["ours"]))
    assert_no_failure_handling_findings(stacks["ours"])


def test_helper_failure_lists_every_finding_with_why_and_fix(stacks):
    with pytest.raises(AssertionError) as caught:
        assert_no_failure_handling_findings(Template.from_stack(stacks["plain"]))
    message = str(caught.value)
    assert message.startswith("5 failure-handling finding(s):")
    assert "ERROR MissingKmsPermission" in message and "why: " in message and "fix: " in message


def test_helper_ignores_rules_and_warnings_on_request(stacks):
    template = Template.from_stack(stacks["plain"])
    errors_only = failure_handling_findings(template, include_warnings=False)
    assert {f.rule_id for f in errors_only} == set(PLAIN_RULES) - {"NoReportBatchItemFailures"}
    ignore = list(PLAIN_RULES)
    assert_no_failure_handling_findings(template, ignore=ignore)
    with pytest.raises(ValueError, match="unknown rule ids in ignore: Nope"):
        failure_handling_findings(template, ignore=["Nope"])
    with pytest.raises(TypeError, match=r"expected an aws_cdk\.assertions\.Template"):
        failure_handling_findings(42)


def test_audit_shows_values_it_cannot_resolve_instead_of_failing(tmp_path, capsys):
    template = {
        "Parameters": {"Retries": {"Type": "Number"}},
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::ImportValue": "SharedRole"}}},
            "Config": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": {"Ref": "Retries"},
                    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::ImportValue": "SharedFailureQueueArn"}}},
                },
            },
        },
    }
    (tmp_path / "t.template.json").write_text(json.dumps(template))
    assert audit_main([str(tmp_path / "t.template.json")]) == 0
    out = capsys.readouterr().out
    assert "async $LATEST retries        parameter Retries" in out
    assert 'async $LATEST on failure     intrinsic {"Fn::ImportValue":"SharedFailureQueueArn"}' in out
    assert "findings: none" in out
