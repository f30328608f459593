"""No input makes the audit raise: hypothesis over template shapes (the resource types and properties the rules
read, filled with intrinsics of every shape, well-formed or not) and over raw text for the reader."""

from __future__ import annotations

import contextlib
import io
import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constructs_lib.audit import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, audit_document, main, render_json, render_text
from constructs_lib.audit_markdown import render_markdown
from constructs_lib.checks import run_checks
from constructs_lib.reader import AuditInputError, Document, parse_text, to_cloudformation

LOGICAL_IDS = [
    "Fn",
    "Fn2",
    "Alias",
    "Map",
    "Cfg",
    "Queue",
    "Dlq",
    "Stream",
    "Consumer",
    "Table",
    "Topic",
    "Role",
    "Key",
    "P",
]
TYPES = [
    "AWS::Lambda::Function",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Version",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Url",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Events::Rule",
    "AWS::S3::Bucket",
    "AWS::Kinesis::Stream",
    "AWS::Kinesis::StreamConsumer",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudFormation::Stack",
]
PROPERTIES = [
    "FunctionName",
    "EventSourceArn",
    "DestinationConfig",
    "OnFailure",
    "OnSuccess",
    "Destination",
    "DeadLetterConfig",
    "TargetArn",
    "RedrivePolicy",
    "deadLetterTargetArn",
    "maxReceiveCount",
    "FifoQueue",
    "KmsMasterKeyId",
    "Role",
    "Roles",
    "Policies",
    "PolicyDocument",
    "Statement",
    "Action",
    "Resource",
    "Effect",
    "ManagedPolicyArns",
    "BatchSize",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "ScalingConfig",
    "VisibilityTimeout",
    "Timeout",
    "Principal",
    "StreamARN",
    "StreamEncryption",
    "RetentionPeriodHours",
    "Qualifier",
    "Dimensions",
    "Value",
    "Targets",
    "Arn",
    "Endpoint",
    "Protocol",
    "NotificationConfiguration",
    "LambdaConfigurations",
    "Function",
    "TargetFunctionArn",
    "SSESpecification",
    "BucketEncryption",
    "TemplateURL",
    "Metrics",
]
INTRINSICS = ["Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::FindInMap", "Fn::ImportValue", "Condition"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            *LOGICAL_IDS,
            *("arn:aws:sqs:us-east-1:1:q.fifo", "ReportBatchItemFailures", "true", "-1", "sqs:*", "*", "Fn.Arn"),
            *(
                "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Queue.QueueName}",
                '{"maxReceiveCount": 1}',
            ),
        ]
    ),
    st.text(alphabet=string.printable, max_size=12),
)


def values(depth: int = 3):
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.sampled_from(PROPERTIES + INTRINSICS), children, max_size=4),
            st.builds(lambda name, argument: {name: argument}, st.sampled_from(INTRINSICS), children),
        ),
        max_leaves=12,
    )


ids = st.sampled_from(LOGICAL_IDS)
references = st.one_of(
    st.builds(lambda i: {"Ref": i}, ids),
    st.builds(lambda i, a: {"Fn::GetAtt": [i, a]}, ids, st.sampled_from(["Arn", "QueueName", "StreamArn", "Name"])),
    st.builds(lambda i: {"Fn::GetAtt": f"{i}.Arn"}, ids),
    st.builds(
        lambda i: {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${" + i + ".QueueName}"}, ids
    ),
    st.builds(lambda i: {"Fn::Sub": ["arn:aws:kinesis:*:*:stream/${S}", {"S": {"Ref": i}}]}, ids),
    st.builds(lambda i: {"Fn::Join": ["", ["arn:aws:lambda:*:*:function:", {"Ref": i}]]}, ids),
    st.builds(lambda i: {"Fn::If": ["C", {"Ref": i}, {"Ref": "AWS::NoValue"}]}, ids),
    st.sampled_from(
        ["arn:aws:sqs:us-east-1:1:q.fifo", "arn:aws:sns:us-east-1:1:t", "arn:aws:kinesis:us-east-1:1:stream/s"]
    ),
)


def refs_to(*logical_ids: str, attribute: str = "Arn"):
    """References meant for these resources, in every form, or any reference at all."""
    chosen = st.sampled_from(logical_ids)
    return st.one_of(
        st.builds(lambda i: {"Ref": i}, chosen),
        st.builds(lambda i: {"Fn::GetAtt": [i, attribute]}, chosen),
        st.builds(lambda i: {"Fn::Sub": "${" + i + "." + attribute + "}"}, chosen),
        references,
    )


functions = refs_to("Fn", "Fn2", "Alias")
sources = st.one_of(refs_to("Stream", "Consumer", "Queue"), refs_to("Table", attribute="StreamArn"))
targets = refs_to("Queue", "Dlq", "Topic", "Bucket", "Fn2")
keys = refs_to("Key")


def maybe(plausible):
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(plausible, plausible, plausible, values())


numbers = st.one_of(st.integers(-5, 700_000), st.sampled_from(["-1", "10", {"Ref": "P"}]))
flags = st.one_of(st.booleans(), st.sampled_from(["true", "False", {"Ref": "P"}]))
destination_config = st.fixed_dictionaries(
    {},
    optional={
        role: maybe(st.fixed_dictionaries({"Destination": maybe(references)})) for role in ("OnSuccess", "OnFailure")
    },
)
statement = st.fixed_dictionaries(
    {"Effect": maybe(st.just("Allow"))},
    optional={
        "Action": maybe(
            st.one_of(
                st.sampled_from(["sqs:*", "sqs:SendMessage", "kms:*", "*", "lambda:InvokeFunction"]),
                st.lists(
                    st.sampled_from(["sqs:SendMessage", "kinesis:GetRecords", "dynamodb:*", "sns:Publish"]), max_size=3
                ),
            )
        ),
        "NotAction": maybe(st.just("iam:*")),
        "Resource": maybe(
            st.one_of(targets, sources, keys, st.just("*"), st.lists(st.one_of(targets, sources), max_size=3))
        ),
        "NotResource": maybe(references),
    },
)
policy_document = st.fixed_dictionaries({"Statement": maybe(st.one_of(statement, st.lists(statement, max_size=3)))})
PROPERTIES_BY_TYPE = {
    "AWS::Lambda::Function": {
        "Role": refs_to("Role"),
        "DeadLetterConfig": st.fixed_dictionaries({"TargetArn": maybe(targets)}),
        "Timeout": numbers,
    },
    "AWS::Lambda::Alias": {"FunctionName": references},
    "AWS::Lambda::Version": {"FunctionName": references},
    "AWS::Lambda::EventSourceMapping": {
        "FunctionName": functions,
        "EventSourceArn": sources,
        "BatchSize": numbers,
        "MaximumBatchingWindowInSeconds": numbers,
        "MaximumRetryAttempts": numbers,
        "MaximumRecordAgeInSeconds": numbers,
        "ParallelizationFactor": numbers,
        "BisectBatchOnFunctionError": flags,
        "FunctionResponseTypes": st.one_of(
            st.just(["ReportBatchItemFailures"]), st.just([]), st.just([{"Ref": "P"}]), references
        ),
        "DestinationConfig": destination_config,
        "ScalingConfig": st.fixed_dictionaries({"MaximumConcurrency": numbers}),
        "StartingPosition": st.sampled_from(["LATEST", "TRIM_HORIZON"]),
    },
    "AWS::Lambda::EventInvokeConfig": {
        "FunctionName": functions,
        "Qualifier": st.sampled_from(["$LATEST", "live", {"Ref": "P"}]),
        "MaximumRetryAttempts": numbers,
        "MaximumEventAgeInSeconds": numbers,
        "DestinationConfig": destination_config,
    },
    "AWS::Lambda::Permission": {
        "FunctionName": functions,
        "Principal": st.sampled_from(
            ["s3.amazonaws.com", "sns.amazonaws.com", "apigateway.amazonaws.com", "123456789012", {"Ref": "P"}]
        ),
    },
    "AWS::Lambda::Url": {"TargetFunctionArn": functions},
    "AWS::SQS::Queue": {
        "RedrivePolicy": st.one_of(
            st.fixed_dictionaries({"deadLetterTargetArn": maybe(targets), "maxReceiveCount": numbers}),
            st.builds(
                lambda n: json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:d", "maxReceiveCount": n}),
                st.integers(0, 9),
            ),
            st.sampled_from(["{not json", "[]", '"x"']),
        ),
        "FifoQueue": flags,
        "KmsMasterKeyId": st.one_of(keys, st.just("alias/aws/sqs")),
        "VisibilityTimeout": numbers,
        "MessageRetentionPeriod": numbers,
    },
    "AWS::SNS::Topic": {"FifoTopic": flags, "KmsMasterKeyId": keys},
    "AWS::SNS::Subscription": {"Protocol": st.just("lambda"), "Endpoint": functions},
    "AWS::Events::Rule": {"Targets": st.lists(st.fixed_dictionaries({"Arn": maybe(references)}), max_size=2)},
    "AWS::S3::Bucket": {
        "NotificationConfiguration": st.fixed_dictionaries(
            {"LambdaConfigurations": st.lists(st.fixed_dictionaries({"Function": maybe(references)}), max_size=2)}
        ),
        "BucketEncryption": values(),
    },
    "AWS::Kinesis::Stream": {
        "RetentionPeriodHours": numbers,
        "StreamEncryption": st.fixed_dictionaries({"EncryptionType": st.just("KMS"), "KeyId": maybe(references)}),
    },
    "AWS::Kinesis::StreamConsumer": {"StreamARN": refs_to("Stream")},
    "AWS::DynamoDB::Table": {
        "SSESpecification": st.fixed_dictionaries({"SSEEnabled": flags, "KMSMasterKeyId": maybe(references)})
    },
    "AWS::KMS::Key": {},
    "AWS::IAM::Role": {
        "Policies": st.lists(st.fixed_dictionaries({"PolicyDocument": maybe(policy_document)}), max_size=2),
        "ManagedPolicyArns": st.lists(
            st.one_of(
                references,
                st.sampled_from(
                    [
                        "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
                        "arn:aws:iam::aws:policy/Other",
                    ]
                ),
            ),
            max_size=2,
        ),
    },
    "AWS::IAM::Policy": {"Roles": st.lists(refs_to("Role"), max_size=2), "PolicyDocument": maybe(policy_document)},
    "AWS::CloudWatch::Alarm": {
        "Dimensions": st.lists(
            st.fixed_dictionaries({"Name": st.just("QueueName"), "Value": maybe(references)}), max_size=2
        ),
        "MetricName": st.just("ApproximateNumberOfMessagesVisible"),
    },
    "AWS::CloudFormation::Stack": {
        "TemplateURL": st.sampled_from(["https://example.invalid/t.json", "./missing.yaml"])
    },
}


REQUIRED = {
    "AWS::Lambda::Function": ("Role",),
    "AWS::Lambda::EventSourceMapping": ("FunctionName", "EventSourceArn"),
    "AWS::Lambda::EventInvokeConfig": ("FunctionName",),
    "AWS::Lambda::Permission": ("FunctionName", "Principal"),
}


def resource_of(kind: str):
    strategies = PROPERTIES_BY_TYPE[kind]
    required = REQUIRED.get(kind, ())
    properties = st.fixed_dictionaries(
        {name: strategies[name] for name in required},
        optional={name: maybe(strategy) for name, strategy in strategies.items() if name not in required},
    )
    return st.fixed_dictionaries(
        {"Type": st.just(kind)},
        optional={"Properties": maybe(properties), "Condition": st.sampled_from(["C", "D", 1]), "Metadata": values()},
    )


# Each logical id has a type, so that references meet what they are meant for (and sometimes what they are not).
TYPE_OF_ID = {
    "Fn": "AWS::Lambda::Function",
    "Fn2": "AWS::Lambda::Function",
    "Alias": "AWS::Lambda::Alias",
    "Map": "AWS::Lambda::EventSourceMapping",
    "Map2": "AWS::Lambda::EventSourceMapping",
    "Cfg": "AWS::Lambda::EventInvokeConfig",
    "Perm": "AWS::Lambda::Permission",
    "Url": "AWS::Lambda::Url",
    "Queue": "AWS::SQS::Queue",
    "Dlq": "AWS::SQS::Queue",
    "Topic": "AWS::SNS::Topic",
    "Sub": "AWS::SNS::Subscription",
    "Rule": "AWS::Events::Rule",
    "Bucket": "AWS::S3::Bucket",
    "Stream": "AWS::Kinesis::Stream",
    "Consumer": "AWS::Kinesis::StreamConsumer",
    "Table": "AWS::DynamoDB::Table",
    "Key": "AWS::KMS::Key",
    "Role": "AWS::IAM::Role",
    "Policy": "AWS::IAM::Policy",
    "Alarm": "AWS::CloudWatch::Alarm",
    "Nested": "AWS::CloudFormation::Stack",
}
resources = st.fixed_dictionaries(
    {},
    optional={
        logical_id: st.one_of(
            resource_of(kind), resource_of(kind), st.sampled_from(TYPES).flatmap(resource_of), values()
        )
        for logical_id, kind in TYPE_OF_ID.items()
    },
)
templates = st.fixed_dictionaries(
    {"Resources": resources},
    optional={
        "Parameters": st.dictionaries(
            st.sampled_from(LOGICAL_IDS), st.one_of(st.fixed_dictionaries({"Default": values()}), values()), max_size=3
        ),
        "Conditions": st.dictionaries(
            st.sampled_from(["C", "D"]),
            maybe(
                st.sampled_from(
                    [{"Fn::Equals": [{"Ref": "P"}, "x"]}, {"Fn::Not": [{"Condition": "C"}]}, {"Condition": "D"}]
                )
            ),
            max_size=2,
        ),
        "Mappings": values(),
        "Transform": st.one_of(st.just("AWS::LanguageExtensions"), values()),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates)
def test_no_template_shape_makes_the_checks_or_the_renderers_raise(template):
    findings = run_checks(template)
    assert all(f.resource in template["Resources"] for f in findings)
    try:
        expanded, names, notes = to_cloudformation(template, "fuzz.json")
    except AuditInputError:
        return  # an unknown transform: reported as not read
    report = audit_document(Document("fuzz.json", Path("fuzz.json"), expanded, names, None, notes))
    render_text([report])
    json.loads(render_json([report]))
    render_markdown([report])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_no_text_makes_the_reader_raise_anything_but_a_clear_input_error(text):
    try:
        parsed = parse_text(text, "fuzz.yaml")
    except AuditInputError as error:
        assert str(error).startswith("fuzz.yaml: ")
        return
    try:
        to_cloudformation(parsed, "fuzz.yaml")
    except AuditInputError as error:
        assert str(error).startswith("fuzz.yaml")


YAML_PIECES = [
    "Resources:\n",
    "  Fn:\n",
    "    Type: AWS::Lambda::Function\n",
    "    Properties:\n",
    "      Role: !GetAtt Role.Arn\n",
    "      Role: !GetAtt [A, B, C]\n",
    "      FunctionName: !Sub '${AWS::StackName}-x'\n",
    "  M:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties: {FunctionName: !Ref Fn}\n",
    "      X: !If [C, !Ref A, !Ref AWS::NoValue]\n",
    "      Y: !Join ['', [a, !Ref B]]\n",
    "      Z: !Condition C\n",
    "      D: 2010-09-09\n",
    "      E: &a {x: 1}\n      F: *a\n",
    "      G: !!binary aGVsbG8=\n",
    "    - item\n",
    "Transform: AWS::Serverless-2016-10-31\n",
    "  S:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: python3.13, Handler: a.b}\n",
    "      Events: {K: {Type: Kinesis, Properties: {Stream: !GetAtt St.Arn, StartingPosition: LATEST}}}\n",
    "{",
    "\t",
    ": :\n",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=12))
def test_the_cli_exits_0_1_or_2_without_a_traceback_on_template_like_files(tmp_path_factory, pieces):
    path = tmp_path_factory.mktemp("fuzz") / "template.yaml"
    path.write_text("".join(pieces))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(path), "--format", "markdown"])
    assert code in (EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT)
    assert "Traceback" not in err.getvalue()
    assert "could not be checked" not in err.getvalue(), err.getvalue()  # the last-resort guard never fires
    assert (code == EXIT_BAD_INPUT) == err.getvalue().startswith("error: ")
