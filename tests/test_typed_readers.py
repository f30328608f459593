"""The narrowing the strict types brought to the template checks, the readers, verify's AWS reads, the stream
sources and the cdk-nag pack: what an unexpected value now does, and that the typed paths still give what they
gave."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagMessageLevel

from constructs_lib.checks import RULES
from constructs_lib.checks.model import Finding, Level
from constructs_lib.checks.template import TemplateView, number
from constructs_lib.limits import LIMITS, UNRESOLVED, check_limit
from constructs_lib.nag import _Applied, stack_template
from constructs_lib.sources import dynamodb_source, kinesis_source
from constructs_lib.verify.aws import AwsAccount, answer
from constructs_lib.verify.deployed import NotReadable
from constructs_lib.verify.templates import TemplateError, stacks_in_assembly
from tests.harness import new_app

# --- checks/template.py ----------------------------------------------------------------------------------


def test_an_unreadable_number_is_passed_on_and_reported_as_given():
    assert number("ten") == "ten"
    limit = LIMITS["mapping.batch_size"]
    (violation,) = check_limit(limit, number("ten"), path="Mapping", setting="BatchSize")
    assert violation.given == "'ten'"
    assert number("12") == 12 and number("1.5") == 1.5 and number({"Ref": "P"}) is UNRESOLVED


def test_properties_of_no_resource_or_an_unknown_one_are_empty():
    view = TemplateView({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}}})
    assert view.properties(None) == {}
    assert view.properties("Missing") == {}
    assert view.properties("Queue") == {"FifoQueue": True}


def test_a_join_renders_only_when_every_part_can_be_followed():
    view = TemplateView({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    assert view.render({"Fn::Join": [":", ["arn", {"Ref": "Queue"}]]}) == "arn:${Queue}"
    assert view.render({"Fn::Join": [":", ["arn", {"Ref": "NotHere"}]]}) is None


# --- verify/templates.py and verify/aws.py -----------------------------------------------------------------


def test_a_manifest_that_is_not_an_object_is_a_template_error(tmp_path: Path):
    (tmp_path / "manifest.json").write_text(json.dumps(["not", "a", "manifest"]))
    with pytest.raises(TemplateError, match=r"manifest.json: not a cloud assembly manifest \(not a JSON object\)"):
        stacks_in_assembly(tmp_path)


def test_an_answer_is_narrowed_to_a_mapping_or_is_not_readable():
    given = {"FunctionArn": "arn:aws:lambda:us-east-1:111111111111:function:f"}
    assert answer(given, "function f") is given
    with pytest.raises(NotReadable, match=r"^function f: unexpected answer \(list, not an object\)$"):
        answer(["not", "a", "mapping"], "function f")


class _Client:
    def __init__(self, answers: dict[str, Any]) -> None:
        self._answers = answers

    def __getattr__(self, operation: str) -> Any:
        return lambda **_: self._answers[operation]


class _Session:
    def __init__(self, answers: dict[str, Any]) -> None:
        self._answers = answers

    def client(self, service: str, endpoint_url: str | None = None) -> _Client:
        return _Client(self._answers)


def test_aws_reads_of_unexpected_shapes_are_not_readable_and_expected_shapes_pass_through():
    configuration = {"Role": "arn:aws:iam::111111111111:role/r"}
    account = AwsAccount(
        _Session(
            {
                "get_function_configuration": configuration,
                "get_queue_attributes": {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:111111111111:q"}},
                "get_template": {"TemplateBody": 42},
                "get_event_source_mapping": "a string",
            }
        )
    )
    assert account.function_configuration("f") == configuration
    assert account.queue_attributes("https://queue")["QueueArn"] == "arn:aws:sqs:us-east-1:111111111111:q"
    with pytest.raises(NotReadable, match=r"the template of stack S: unexpected answer \(int\)"):
        account.deployed_template("S")
    with pytest.raises(NotReadable, match=r"event source mapping u: unexpected answer \(str, not an object\)"):
        account.event_source_mapping("u")


# --- sources.py and nag.py (jsii) ---------------------------------------------------------------------------


def test_stream_sources_tell_the_retention_and_refuse_to_grant_without_a_stream():
    stack = cdk.Stack(new_app(), "Sources")
    parameter = cdk.CfnParameter(stack, "Hours", type="Number")
    assert kinesis_source(kinesis.Stream(stack, "Stream")).retention_seconds() == 24 * 3600  # CDK sets 24 h
    long = kinesis.Stream(stack, "Long", retention_period=cdk.Duration.hours(48))
    assert kinesis_source(long).retention_seconds() == 48 * 3600
    tokened = kinesis.Stream(stack, "Tokened")
    tokened.node.default_child.retention_period_hours = parameter.value_as_number  # type: ignore[union-attr]
    assert kinesis_source(tokened).retention_seconds() is UNRESOLVED
    imported = kinesis.Stream.from_stream_arn(stack, "Imported", "arn:aws:kinesis:us-east-1:111111111111:stream/s")
    assert kinesis_source(imported).retention_seconds() is None

    table = dynamodb.Table(
        stack, "Table", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
    )
    source = dynamodb_source(table)
    assert source.stream_arn is None
    with pytest.raises(ValueError, match="DynamoDB table Sources/Table has no stream to grant reading"):
        source.read_statements()


def test_the_finding_handed_to_cdk_nag_reads_as_before():
    stack = cdk.Stack(new_app(), "Nag")
    queue = sqs.Queue(stack, "Queue")
    node = queue.node.default_child
    assert isinstance(node, cdk.CfnResource)
    rule_id = next(iter(RULES))
    applied = _Applied(node, Finding(rule_id, Level.ERROR, "Queue", "the message"))
    assert applied.rule_suffix_override == rule_id
    assert applied.info == "the message"
    assert applied.explanation == f"{RULES[rule_id].explanation} Fix: {RULES[rule_id].fix}"
    assert applied.level == NagMessageLevel.ERROR
    assert applied.node is node
    warning = _Applied(node, Finding(rule_id, Level.WARNING, "Queue", "m"))
    assert warning.level == NagMessageLevel.WARN
    logical_id = stack.resolve(node.logical_id)
    assert stack_template(stack)["Resources"][logical_id]["Type"] == "AWS::SQS::Queue"
