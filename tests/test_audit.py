"""The audit CLI on the templates users have: SAM (expanded with aws-sam-translator), YAML with short-form
intrinsics, folders read recursively, cloud assemblies with stages and nested stacks; exit codes; the Markdown
report with Mermaid failure paths checked by Mermaid's own parser.

The fixture templates under tests/fixtures/templates/ are ours; they reproduce shapes found in public templates
(see the README's list of sources), each with the findings expected here."""

from __future__ import annotations

import json
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources

from constructs_lib.audit import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, audit_inputs, main
from constructs_lib.audit_markdown import mermaid_blocks, mermaid_label, render_markdown
from tests.harness import PROJECT_ROOT, load_cdk_context
from tests.harness.mermaid import parse_mermaid

TEMPLATES = PROJECT_ROOT / "tests" / "fixtures" / "templates"

SAM_EXPECTED = {
    ("StreamUnboundedRetries", "AuditMapping"),
    ("DeadLetterQueueNeverUsed", "ChargeFunction"),
    ("NoReportBatchItemFailures", "IngestFunctionOrders"),
    ("StreamNoFailureDestination", "IngestFunctionOrders"),
    ("StreamUnboundedRetries", "IngestFunctionOrders"),
    ("FifoTarget", "NotifyFunctionEventInvokeConfig"),
    ("MissingPermission", "ProjectFunction"),
}
SHORT_TAGS_EXPECTED = {
    ("OutOfRange", "ClicksMapping"),
    ("RecordAgeBeyondRetention", "ClicksMapping"),
    ("SqsLowMaxReceiveCount", "Jobs"),
    ("MissingPermission", "Worker"),
}


def findings_of(path) -> tuple[set[tuple[str, str]], list]:
    reports, problems, _ = audit_inputs(path)
    assert problems == []
    return {(f.rule_id, f.resource) for r in reports for f in r.findings}, reports


# --- SAM -------------------------------------------------------------------------------------------------


def test_sam_template_is_expanded_and_findings_name_what_the_user_wrote(capsys):
    found, [report] = findings_of(TEMPLATES / "sam" / "orders.yaml")
    assert found == SAM_EXPECTED
    assert report.notes == ["SAM template, expanded with aws-sam-translator 1.115.0"]
    assert main([str(TEMPLATES / "sam" / "orders.yaml")]) == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "ERROR StreamNoFailureDestination IngestFunction (Events.Orders) [IngestFunctionOrders]" in out
    assert "ERROR FifoTarget NotifyFunction (EventInvokeConfig) [NotifyFunctionEventInvokeConfig]" in out


def test_sam_globals_events_dead_letter_queue_and_policy_templates_are_understood():
    _, [report] = findings_of(TEMPLATES / "sam" / "orders.yaml")
    functions = {function.path: dict(function.settings) for function in report.functions}
    # Globals: every function has the global timeout; the SQS source's visibility timeout is 6x it.
    assert "SqsVisibilityTimeoutBelowAdvice" not in {f.rule_id for f in report.findings}
    assert functions["ChargeFunction"]["dead-letter queue"] == "SQS queue ChargeDeadLetters"
    assert functions["NotifyFunction"]["async $LATEST retries"] == "1"
    project = functions["ProjectFunction"]
    assert project["mapping DynamoDB OrdersTable on failure"] == "SQS queue ProjectionFailures"
    # SQSSendMessagePolicy grants sqs:SendMessage on an ARN built around the queue's name: it covers the queue.
    messages = [f.message for f in report.findings if f.rule_id == "MissingPermission"]
    assert messages == [
        "the function's role lacks kinesis:DescribeStream, kinesis:DescribeStreamSummary, kinesis:GetRecords, "
        "kinesis:GetShardIterator, kinesis:ListShards on the Kinesis source of AuditMapping"
    ]


def test_a_condition_is_evaluated_with_the_parameter_defaults_and_the_finding_says_so():
    _, [report] = findings_of(TEMPLATES / "sam" / "orders.yaml")
    [finding] = [f for f in report.findings if f.resource == "AuditMapping"]
    assert finding.message.endswith("(assuming condition IsProd is false)")


def test_a_sam_template_without_its_transform_declared_is_still_expanded(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.13\n"
        "      Handler: a.handler\n"
        "      Events:\n"
        "        Upload: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: 's3:ObjectCreated:*'}}\n"
        "  Uploads: {Type: AWS::S3::Bucket}\n"
    )
    found, [report] = findings_of(tmp_path / "t.yaml")
    assert found == {("AsyncNoFailureHome", "Fn")}
    assert "is not declared" in report.notes[0]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            # aws-sam-translator rejects Fn::If around a whole DestinationConfig (so would CloudFormation).
            "Transform: AWS::Serverless-2016-10-31\nConditions: {C: !Equals [a, b]}\nResources:\n"
            "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      Runtime: python3.13\n      Handler: a.b\n      CodeUri: .\n      Events:\n"
            "        S: {Type: Kinesis, Properties: {Stream: arn:aws:kinesis:us-east-1:1:stream/s,"
            " StartingPosition: LATEST, DestinationConfig: !If [C, {OnFailure: {Destination: x}}, !Ref AWS::NoValue]}}\n",
            "the SAM transform cannot be expanded: Resource with id [Fn] is invalid",
        ),
        ("Transform: MyCompanyMacro\nResources: {Q: {Type: AWS::SQS::Queue}}\n", "the transform MyCompanyMacro"),
        (
            "Transform: AWS::LanguageExtensions\nResources:\n  Fn::ForEach::Queues: [Q, [a, b], {'Q${Q}': {Type: AWS::SQS::Queue}}]\n",
            "Fn::ForEach cannot be expanded here",
        ),
        (
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
            "      Fn::Transform: {Name: AWS::Include, Parameters: {Location: s3://bucket/props.yaml}}\n",
            "Fn::Transform (a macro, or AWS::Include of a file that is not here)",
        ),
    ],
)
def test_what_cannot_be_expanded_is_reported_and_exits_2_never_clean(tmp_path, capsys, template, message):
    (tmp_path / "t.yaml").write_text(template)
    assert main([str(tmp_path / "t.yaml")]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert "findings: none" not in captured.out
    assert "1 input(s) could not be read" in captured.out


def test_a_local_aws_include_is_read(tmp_path):
    (tmp_path / "mapping.yaml").write_text(
        "Type: AWS::Lambda::EventSourceMapping\nProperties: {FunctionName: !Ref Fn, EventSourceArn: !GetAtt S.Arn}\n"
    )
    (tmp_path / "t.yaml").write_text(
        "Resources:\n  S: {Type: AWS::Kinesis::Stream}\n"
        "  Fn: {Type: AWS::Lambda::Function, Properties: {Role: arn:aws:iam::1:role/r}}\n"
        "  M:\n    Fn::Transform: {Name: AWS::Include, Parameters: {Location: ./mapping.yaml}}\n"
    )
    found, _ = findings_of(tmp_path / "t.yaml")
    assert ("StreamUnboundedRetries", "M") in found


# --- plain templates -------------------------------------------------------------------------------------


def test_yaml_short_tags_parameters_string_redrive_and_malformed_getatt():
    found, [report] = findings_of(TEMPLATES / "short_tags.yaml")
    assert found == SHORT_TAGS_EXPECTED
    messages = {f.rule_id: f.message for f in report.findings}
    assert messages["OutOfRange"].endswith("got 20000 (assuming parameter BatchSize = 20000 (its default))")
    assert messages["RecordAgeBeyondRetention"].endswith("got 172800 seconds"), "no BatchSize note on the age"
    assert messages["SqsLowMaxReceiveCount"].endswith("got 2"), "the JSON string redrive policy is read"
    # A grant built with Fn::Sub around *another* queue's name covers that queue only.
    assert messages["MissingPermission"] == (
        "the function's role lacks sqs:SendMessage on SQS queue Failures (OnFailure of ClicksMapping)"
    )
    settings = dict(report.functions[0].settings)
    assert settings["mapping Kinesis Clicks retries"] == "parameter Retries"  # no default: not guessed
    assert settings["mapping SQS Jobs dead-letter queue"] == "SQS queue arn:aws:sqs:us-east-1:123456789012:jobs-dlq"


# --- folders and cloud assemblies ------------------------------------------------------------------------


def test_a_folder_is_read_recursively_with_nested_stacks_under_their_parent(capsys):
    reports, problems, inputs = audit_inputs(TEMPLATES / "folder")
    assert problems == []
    by_name = {report.name.removeprefix(str(TEMPLATES / "folder") + "/"): report for report in reports}
    assert set(by_name) == {"app.template", "app.template/Parent", "more/stream.json"}
    child = by_name["app.template/Parent"]
    assert child.parent.endswith("app.template") and child.file.endswith("nested/child.yml")
    assert [(f.rule_id, f.resource) for f in child.findings] == [("AsyncNoFailureHome", "Fn")]
    assert by_name["more/stream.json"].findings == []
    assert sorted(p.name for p in inputs.skipped) == ["buildspec.yml", "package.json"]
    assert main([str(TEMPLATES / "folder")]) == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "nested in" in out and "2 file(s) that are not templates skipped" in out


def test_a_folder_with_an_unreadable_template_reports_the_rest_and_exits_2(tmp_path, capsys):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.json").write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}')
    (tmp_path / "broken.template").write_text('{"Resources": {')
    (tmp_path / "parent.yaml").write_text(
        "Resources:\n  Child: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: https://s3.amazonaws.com/b/c.json}}\n"
    )
    assert main([str(tmp_path)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "ok/a.json" in captured.out and "findings: none" in captured.out
    assert "broken.template: not valid JSON" in captured.err
    assert "parent.yaml/Child: nested stack template not read (it is not a local file" in captured.err
    assert "2 input(s) could not be read" in captured.out


def test_a_cloud_assembly_with_a_stage_and_a_nested_stack_is_audited_under_its_parent(tmp_path):
    app = cdk.App(context={**load_cdk_context(), "aws:cdk:enable-path-metadata": True}, outdir=str(tmp_path))
    stage = cdk.Stage(app, "Prod")
    parent = cdk.Stack(stage, "Orders")
    nested = cdk.NestedStack(parent, "Consumers")
    consume = lambda_.Function(
        nested,
        "Consume",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    pass\n"),
    )
    consume.add_event_source(
        event_sources.KinesisEventSource(
            kinesis.Stream(nested, "Clicks"), starting_position=lambda_.StartingPosition.LATEST
        )
    )
    app.synth()
    reports, problems, _ = audit_inputs(tmp_path)
    assert problems == []
    names = {report.name: report for report in reports}
    assert set(names) == {"Prod/Orders", "Prod/Orders/Consumers"}
    consumers = names["Prod/Orders/Consumers"]
    assert consumers.parent == "Prod/Orders"
    assert {f.rule_id for f in consumers.findings} == {
        "StreamUnboundedRetries",
        "StreamNoFailureDestination",
        "NoReportBatchItemFailures",
    }
    assert [function.path for function in consumers.functions] == ["Prod/Orders/Consumers/Consume"]


# --- exit codes ------------------------------------------------------------------------------------------


def test_exit_codes_are_distinct_and_documented(tmp_path):
    clean = tmp_path / "clean.json"
    clean.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}')
    codes = {
        "clean": main([str(clean)]),
        "findings": main([str(TEMPLATES / "sam" / "orders.yaml")]),
        "unreadable": main([str(tmp_path / "missing.yaml")]),
    }
    assert codes == {"clean": EXIT_OK, "findings": EXIT_FINDINGS, "unreadable": EXIT_BAD_INPUT}
    assert (EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT) == (0, 1, 2)
    result = subprocess.run(
        [sys.executable, "-m", "constructs_lib.audit", "--help"], capture_output=True, text=True, check=True
    )
    help_text = " ".join(result.stdout.split())
    assert "Exit code 0: no error-level finding; 1: at least one; 2: some input could not be read." in help_text


def test_warnings_alone_exit_0(tmp_path):
    (tmp_path / "t.json").write_text(
        json.dumps(
            {
                "Resources": {
                    "Q": {
                        "Type": "AWS::SQS::Queue",
                        "Properties": {
                            "RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:d", "maxReceiveCount": 2}
                        },
                    },
                    "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::1:role/r"}},
                    "M": {
                        "Type": "AWS::Lambda::EventSourceMapping",
                        "Properties": {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": {"Fn::GetAtt": ["Q", "Arn"]}},
                    },
                }
            }
        )
    )
    assert main([str(tmp_path / "t.json")]) == EXIT_OK


# --- Markdown and Mermaid --------------------------------------------------------------------------------


def test_markdown_has_a_table_per_stack_and_mermaid_that_mermaid_parses(tmp_path):
    hostile = tmp_path / "hostile.json"
    hostile.write_text(
        json.dumps(
            {
                "Resources": {
                    'Fn"1': {
                        "Type": "AWS::Lambda::Function",
                        "Metadata": {"aws:cdk:path": 'App/"Quoted" <b>#1</b> | end; graph TD'},
                        "Properties": {
                            "Role": "arn:aws:iam::1:role/r",
                            "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:x:1:q"},
                        },
                    },
                    "P": {
                        "Type": "AWS::Lambda::Permission",
                        "Properties": {"FunctionName": {"Ref": 'Fn"1'}, "Principal": "sns.amazonaws.com"},
                    },
                }
            }
        )
    )
    reports = []
    for path in (TEMPLATES / "sam" / "orders.yaml", TEMPLATES / "short_tags.yaml", TEMPLATES / "folder", hostile):
        reports += audit_inputs(path)[0]
    markdown = render_markdown(reports)
    assert "| function | triggered by | on failure | handling | findings |" in markdown
    assert "| IngestFunction | Kinesis stream OrdersStream | **dropped** |" in markdown
    blocks = mermaid_blocks(markdown)
    assert len(blocks) == 8
    results = parse_mermaid(blocks)
    assert [(r.ok, r.diagram_type) for r in results] == [(True, "flowchart-v2")] * len(blocks), [
        r.error for r in results
    ]
    ingest = next(block for block in blocks if "λ IngestFunction" in block)
    assert '(["Kinesis stream OrdersStream"])' in ingest and '[/"records dropped"/]' in ingest
    notify = next(block for block in blocks if "λ NotifyFunction" in block)
    assert '[("FIFO SQS queue NotifyFailures")]' in notify and '{{"no alarm on it"}}' in notify


def test_the_parser_is_strict_so_the_check_can_fail():
    results = parse_mermaid(
        [
            'flowchart LR\n    n1["a"] -->|"b"| n2["c"]',
            'flowchart LR\n    n1["a" --> n2',
            'flowchart LR\n    n1{{"unterminated}}',
            "flowchrt LR\n    a --> b",
        ]
    )
    assert [r.ok for r in results] == [True, False, False, False]


def test_labels_escape_what_mermaid_reserves():
    assert mermaid_label('a "b" #1 <c>\n d') == "a #quot;b#quot; #35;1 #lt;c#gt; d"


def test_markdown_from_the_cli_reports_unreadable_inputs_and_exits_2(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("Resources: {Q: {Type: AWS::SQS::Queue}}\n")
    (tmp_path / "template.yaml").write_text("Resources: [\n")
    assert main([str(tmp_path), "--format", "markdown"]) == EXIT_BAD_INPUT
    out = capsys.readouterr().out
    assert out.startswith("# Failure handling audit")
    assert "## Not read" in out and "template.yaml: not valid YAML" in out


def test_the_readme_mermaid_example_is_what_the_audit_renders_and_parses():
    readme = (PROJECT_ROOT / "README.md").read_text()
    [example] = mermaid_blocks(readme)
    reports = audit_inputs(TEMPLATES / "readme_example.yaml")[0]
    assert example in mermaid_blocks(render_markdown(reports))
    [result] = parse_mermaid([example])
    assert result.ok, result.error


def test_a_sam_application_with_a_local_location_is_audited_under_its_parent(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Orders: {Type: AWS::Serverless::Application, Properties: {Location: ./orders/template.yaml}}\n"
        "  Shared:\n    Type: AWS::Serverless::Application\n"
        "    Properties: {Location: {ApplicationId: arn:aws:serverlessrepo:us-east-1:1:applications/x, SemanticVersion: 1.0.0}}\n"
    )
    (tmp_path / "orders" / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Consume:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Runtime: python3.13\n      Handler: a.b\n"
        "      Events: {S: {Type: Kinesis, Properties: {Stream: !GetAtt S.Arn, StartingPosition: LATEST}}}\n"
        "  S: {Type: AWS::Kinesis::Stream}\n"
    )
    reports, problems, _ = audit_inputs(tmp_path)
    names = {report.name.removeprefix(f"{tmp_path}/"): report for report in reports}
    assert set(names) == {"template.yaml", "template.yaml/Orders"}
    assert {f.resource for f in names["template.yaml/Orders"].findings} == {"ConsumeS"}
    # An application from the Serverless Application Repository is someone else's template: not read, said so.
    assert len(problems) == 1 and problems[0].startswith(
        f"{tmp_path}/template.yaml/Shared: nested stack template not read"
    )


def test_a_bucket_home_is_watched_by_the_alarm_on_its_deliveries(tmp_path):
    from constructs_lib import FailureBucket, StreamConsumer
    from tests.harness import new_app

    app = new_app()
    stack = cdk.Stack(app, "Orders")
    function = lambda_.Function(
        stack,
        "Consume",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )
    bucket = FailureBucket(stack, "Failures")
    StreamConsumer(stack, "Orders", function=function, source=kinesis.Stream(stack, "Stream"), on_failure=bucket)
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(app.synth().get_stack_by_name("Orders").template))

    [block] = mermaid_blocks(render_markdown(audit_inputs(path)[0]))
    bucket_node = next(line.split("[")[0].strip() for line in block.splitlines() if '[("S3 bucket Failures' in line)
    alarm_node = next(
        line.split("{")[0].strip()
        for line in block.splitlines()
        if "FailureObjectsAlarm" in line and "(OnFailureDestinationDeliveredEventCount)" in line
    )
    assert f"    {bucket_node} -.-> {alarm_node}" in block.splitlines()
    assert "no alarm on it" not in block
    assert [r.ok for r in parse_mermaid([block])] == [True]
