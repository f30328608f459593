"""The pure failure-handling rules over hand-written templates: each rule fires, and does not fire when fixed."""

import copy

import pytest

from constructs_lib.checks import RULES, Level, TemplateView, run_checks
from constructs_lib.checks.template import number
from constructs_lib.limits import UNRESOLVED

GETATT = "Fn::GetAtt"


def arn(logical_id: str, attribute: str = "Arn") -> dict:
    return {GETATT: [logical_id, attribute]}


def template(**resources) -> dict:
    """A template with a function `Fn` whose role `Role` gets the statements of policy `Policy`."""
    base = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": []}},
        },
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": arn("Role"), "Timeout": 30}},
    }
    return {"Resources": {**base, **resources}}


def grant(t: dict, actions, resource) -> dict:
    t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": actions, "Resource": resource}
    )
    return t


def queue(**props) -> dict:
    return {"Type": "AWS::SQS::Queue", "Properties": props}


def stream_mapping(source="Stream", attribute="Arn", **props) -> dict:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": arn(source, attribute), **props},
    }


RESILIENT = {
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 3,
    "MaximumRecordAgeInSeconds": 3600,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "DestinationConfig": {"OnFailure": {"Destination": arn("Failures")}},
    "StartingPosition": "TRIM_HORIZON",
}
KINESIS_READ = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]


def kinesis_template(**mapping_props) -> dict:
    t = template(
        Stream={"Type": "AWS::Kinesis::Stream", "Properties": {}},
        Failures=queue(),
        Mapping=stream_mapping(**{**RESILIENT, **mapping_props}),
    )
    grant(t, KINESIS_READ, arn("Stream"))
    return grant(t, "sqs:SendMessage", arn("Failures"))


def rules_fired(t: dict) -> set[tuple[str, str]]:
    return {(f.rule_id, f.resource) for f in run_checks(t)}


def test_every_rule_has_an_explanation_and_a_fix():
    assert sorted(RULES) == [
        "AsyncNoFailureHome",
        "DeadLetterQueueNeverUsed",
        "FifoTarget",
        "KafkaFailureTopicIsSource",
        "KafkaIamAuthenticationPermission",
        "KafkaMissingPermission",
        "KafkaNoBisect",
        "KafkaNoFailureDestination",
        "KafkaOnDemandNoErrorHandling",
        "KafkaOutOfRange",
        "KafkaProvisionedOnlySetting",
        "KafkaUnboundedRetries",
        "MissingKmsPermission",
        "MissingPermission",
        "NoReportBatchItemFailures",
        "OutOfRange",
        "RecordAgeBeyondRetention",
        "S3OnSuccess",
        "SqsLowMaxReceiveCount",
        "SqsSourceNoRedrive",
        "SqsStreamOnlySetting",
        "SqsVisibilityTimeout",
        "SqsVisibilityTimeoutBelowAdvice",
        "StreamNoBisect",
        "StreamNoFailureDestination",
        "StreamUnboundedRetries",
    ]
    for rule in RULES.values():
        assert rule.explanation.endswith(".") and rule.fix.endswith("."), rule.id
        assert rule.level in (Level.ERROR, Level.WARNING)


def test_a_resilient_kinesis_mapping_has_no_findings():
    assert run_checks(kinesis_template()) == []


# --- streams ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "fires"),
    [
        ({"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1}, True),
        ({"MaximumRetryAttempts": None, "MaximumRecordAgeInSeconds": None}, True),
        ({"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 3600}, False),
        ({"MaximumRetryAttempts": 5, "MaximumRecordAgeInSeconds": -1}, False),
    ],
    ids=["both-minus-one", "both-unset", "age-bounded", "retries-bounded"],
)
def test_stream_unbounded_retries(props, fires):
    t = kinesis_template(**props)
    for key, value in props.items():
        if value is None:
            del t["Resources"]["Mapping"]["Properties"][key]
    assert (("StreamUnboundedRetries", "Mapping") in rules_fired(t)) is fires


def test_stream_without_failure_destination():
    t = kinesis_template()
    del t["Resources"]["Mapping"]["Properties"]["DestinationConfig"]
    assert ("StreamNoFailureDestination", "Mapping") in rules_fired(t)


@pytest.mark.parametrize(
    ("bisect", "retries", "fires"),
    [(False, 3, True), (None, 3, True), (True, 3, False), (False, -1, False), (False, {"Ref": "Retries"}, False)],
    ids=["off-bounded", "unset-bounded", "on", "off-infinite", "off-parameter"],
)
def test_stream_without_bisect_while_retries_are_bounded_is_a_warning(bisect, retries, fires):
    t = kinesis_template(MaximumRetryAttempts=retries, BisectBatchOnFunctionError=bisect)
    if bisect is None:
        del t["Resources"]["Mapping"]["Properties"]["BisectBatchOnFunctionError"]
    findings = [f for f in run_checks(t) if f.rule_id == "StreamNoBisect"]
    assert bool(findings) is fires
    assert all(f.level is Level.WARNING for f in findings)


def test_no_report_batch_item_failures_for_streams_and_sqs():
    t = kinesis_template(FunctionResponseTypes=[])
    assert ("NoReportBatchItemFailures", "Mapping") in rules_fired(t)
    sqs = sqs_template()
    del sqs["Resources"]["Mapping"]["Properties"]["FunctionResponseTypes"]
    assert ("NoReportBatchItemFailures", "Mapping") in rules_fired(sqs)


def test_a_dynamodb_stream_source_is_recognized_by_its_stream_arn():
    t = template(
        Table={"Type": "AWS::DynamoDB::Table", "Properties": {}},
        Failures=queue(),
        Mapping=stream_mapping("Table", "StreamArn", MaximumRetryAttempts=-1),
    )
    t["Resources"]["Mapping"]["Properties"].pop("MaximumRecordAgeInSeconds", None)
    fired = rules_fired(t)
    assert ("StreamUnboundedRetries", "Mapping") in fired
    assert ("StreamNoFailureDestination", "Mapping") in fired
    assert ("MissingPermission", "Fn") in fired, "no dynamodb stream read was granted"


def test_a_literal_kinesis_arn_is_a_stream_source():
    t = template(
        Mapping={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": "imported",
                "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
            },
        }
    )
    assert {rule for rule, _ in rules_fired(t)} == {
        "StreamUnboundedRetries",
        "StreamNoFailureDestination",
        "NoReportBatchItemFailures",
    }


def test_kafka_mappings_get_only_the_kafka_rules_and_unknown_sources_none():
    # The Kafka rules live in checks/kafka.py (tests/test_kafka_checks.py); no stream or SQS rule judges Kafka.
    t = template(
        Mapping={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"FunctionName": {"Ref": "Fn"}, "SelfManagedEventSource": {}, "Topics": ["orders"]},
        }
    )
    assert {f.rule_id for f in run_checks(t)} == {"KafkaOnDemandNoErrorHandling"}
    mq = template(
        Mapping={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "EventSourceArn": "arn:aws:mq:us-east-1:123456789012:broker:orders:b-1234",
                "Queues": ["orders"],
            },
        }
    )
    assert run_checks(mq) == []


# --- asynchronous invocation -----------------------------------------------------------------------------


def permission(principal: str) -> dict:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": arn("Fn"), "Principal": principal},
    }


@pytest.mark.parametrize("principal", ["s3.amazonaws.com", "sns.amazonaws.com", "events.amazonaws.com"])
def test_async_invoked_function_without_failure_home(principal):
    assert ("AsyncNoFailureHome", "Fn") in rules_fired(template(Perm=permission(principal)))


def test_a_synchronous_principal_is_not_async():
    assert rules_fired(template(Perm=permission("apigateway.amazonaws.com"))) == set()


def test_an_event_invoke_config_without_on_failure_is_async_without_home():
    t = template(
        Config={
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST"},
        }
    )
    assert ("AsyncNoFailureHome", "Fn") in rules_fired(t)


def test_a_dlq_or_an_on_failure_destination_is_a_home():
    with_dlq = template(Perm=permission("s3.amazonaws.com"), Dlq=queue())
    with_dlq["Resources"]["Fn"]["Properties"]["DeadLetterConfig"] = {"TargetArn": arn("Dlq")}
    grant(with_dlq, "sqs:SendMessage", arn("Dlq"))
    assert run_checks(with_dlq) == []
    with_destination = template(
        Perm=permission("sns.amazonaws.com"),
        Failures=queue(),
        Config={
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "Qualifier": "$LATEST",
                "DestinationConfig": {"OnFailure": {"Destination": arn("Failures")}},
            },
        },
    )
    grant(with_destination, "sqs:SendMessage", arn("Failures"))
    assert run_checks(with_destination) == []


def test_permissions_on_an_alias_count_for_its_function():
    t = template(Alias={"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "live"}})
    t["Resources"]["Perm"] = permission("events.amazonaws.com")
    t["Resources"]["Perm"]["Properties"]["FunctionName"] = {"Ref": "Alias"}
    assert ("AsyncNoFailureHome", "Fn") in rules_fired(t)


# --- destinations ----------------------------------------------------------------------------------------


def invoke_config(**destinations) -> dict:
    return {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": "Fn"},
            "Qualifier": "$LATEST",
            "DestinationConfig": {role: {"Destination": value} for role, value in destinations.items()},
        },
    }


@pytest.mark.parametrize(
    ("target", "value"),
    [
        (queue(FifoQueue=True), arn("Target")),
        ({"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": True}}, {"Ref": "Target"}),
        (None, "arn:aws:sqs:us-east-1:123456789012:orders.fifo"),
    ],
    ids=["fifo-queue", "fifo-topic", "imported-fifo-arn"],
)
@pytest.mark.parametrize("where", ["OnSuccess", "OnFailure", "DeadLetterConfig", "mapping"])
def test_fifo_targets_are_found_wherever_they_are_used(target, value, where):
    resources = {"Target": target} if target else {}
    if where == "DeadLetterConfig":
        t = template(**resources)
        t["Resources"]["Fn"]["Properties"]["DeadLetterConfig"] = {"TargetArn": value}
        owner = "Fn"
    elif where == "mapping":
        t = kinesis_template(DestinationConfig={"OnFailure": {"Destination": value}})
        t["Resources"].update(resources)
        owner = "Mapping"
    else:
        t = template(Config=invoke_config(**{where: value}), **resources)
        owner = "Config"
    assert ("FifoTarget", owner) in rules_fired(t)


def test_standard_targets_are_not_fifo():
    t = template(Target=queue(FifoQueue=False), Config=invoke_config(OnFailure=arn("Target")))
    assert ("FifoTarget", "Config") not in rules_fired(t)


def test_s3_on_success_is_rejected_but_on_failure_is_fine():
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {}}
    assert ("S3OnSuccess", "Config") in rules_fired(
        template(Bucket=bucket, Config=invoke_config(OnSuccess=arn("Bucket")))
    )
    assert ("S3OnSuccess", "Config") not in rules_fired(
        template(Bucket=bucket, Config=invoke_config(OnFailure=arn("Bucket")))
    )


# --- SQS -------------------------------------------------------------------------------------------------


def sqs_template(**queue_props) -> dict:
    props = {
        "VisibilityTimeout": 180,
        "RedrivePolicy": {"deadLetterTargetArn": arn("Dlq"), "maxReceiveCount": 5},
        **queue_props,
    }
    t = template(
        Source=queue(**props),
        Dlq=queue(),
        Mapping={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "EventSourceArn": arn("Source"),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
    )
    return grant(t, ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], arn("Source"))


def test_a_well_configured_sqs_mapping_has_no_findings():
    assert run_checks(sqs_template()) == []


@pytest.mark.parametrize(
    "setting",
    [
        {"BisectBatchOnFunctionError": True},
        {"MaximumRetryAttempts": 2},
        {"MaximumRecordAgeInSeconds": 60},
        {"ParallelizationFactor": 2},
        {"TumblingWindowInSeconds": 10},
        {"StartingPosition": "LATEST"},
        {"DestinationConfig": {"OnFailure": {"Destination": arn("Dlq")}}},
    ],
    ids=lambda s: next(iter(s)),
)
def test_stream_only_settings_on_sqs_mappings(setting):
    t = sqs_template()
    t["Resources"]["Mapping"]["Properties"].update(setting)
    [finding] = [f for f in run_checks(t) if f.rule_id == "SqsStreamOnlySetting"]
    assert next(iter(setting)) in finding.message


def test_sqs_source_without_redrive_policy():
    t = sqs_template()
    del t["Resources"]["Source"]["Properties"]["RedrivePolicy"]
    assert ("SqsSourceNoRedrive", "Source") in rules_fired(t)


def test_fifo_source_with_standard_dlq():
    t = sqs_template(FifoQueue=True)
    [finding] = [f for f in run_checks(t) if f.rule_id == "SqsSourceNoRedrive"]
    assert "standard dead-letter queue SQS queue Dlq" in finding.message


@pytest.mark.parametrize(
    ("visibility", "timeout", "expected"),
    [
        (29, 30, {"SqsVisibilityTimeout"}),
        (30, 30, {"SqsVisibilityTimeoutBelowAdvice"}),
        (180, 30, set()),
        (None, 31, {"SqsVisibilityTimeout"}),
    ],
    ids=["below", "equal", "six-times", "queue-default-30"],
)
def test_visibility_timeout_against_function_timeout(visibility, timeout, expected):
    t = sqs_template(VisibilityTimeout=visibility)
    if visibility is None:
        del t["Resources"]["Source"]["Properties"]["VisibilityTimeout"]
    t["Resources"]["Fn"]["Properties"]["Timeout"] = timeout
    assert {rule for rule, _ in rules_fired(t)} == expected


def test_a_low_max_receive_count_is_a_warning():
    t = sqs_template(RedrivePolicy={"deadLetterTargetArn": arn("Dlq"), "maxReceiveCount": 2})
    [finding] = run_checks(t)
    assert (finding.rule_id, finding.level) == ("SqsLowMaxReceiveCount", Level.WARNING)


# --- permissions -----------------------------------------------------------------------------------------


def test_missing_stream_read_and_destination_send():
    t = kinesis_template()
    t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"] = []
    messages = [f.message for f in run_checks(t) if f.rule_id == "MissingPermission"]
    assert len(messages) == 2
    assert any("sqs:SendMessage on SQS queue Failures (OnFailure of Mapping)" in m for m in messages)
    assert any("kinesis:DescribeStream" in m and "the Kinesis source of Mapping" in m for m in messages)


@pytest.mark.parametrize(
    "resource",
    ["*", arn("Failures"), {"Ref": "Failures"}, "arn:aws:sqs:*:*:*"],
    ids=["star", "getatt", "ref", "literal-wildcard"],
)
def test_grants_are_recognized_in_every_form(resource):
    t = kinesis_template()
    statements = t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"]
    statements[1]["Resource"] = resource
    assert run_checks(t) == []


def test_action_wildcards_and_inline_role_policies_count():
    t = kinesis_template()
    t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"] = []
    t["Resources"]["Role"]["Properties"]["Policies"] = [
        {
            "PolicyName": "inline",
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Action": ["kinesis:*", "sqs:Send*"], "Resource": "*"}]
            },
        }
    ]
    assert run_checks(t) == []


def test_a_grant_on_another_resource_does_not_count():
    t = kinesis_template()
    t["Resources"]["Other"] = queue()
    t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"][1]["Resource"] = arn("Other")
    assert ("MissingPermission", "Fn") in rules_fired(t)


def test_known_aws_managed_policies_are_read_and_unknown_ones_are_not_guessed():
    t = kinesis_template()
    t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"] = [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn("Failures")}
    ]
    managed = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"],
        ]
    }
    t["Resources"]["Role"]["Properties"]["ManagedPolicyArns"] = [managed]
    assert run_checks(t) == []
    t["Resources"]["Role"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::123456789012:policy/team-policy"]
    t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"] = []
    assert run_checks(t) == [], "an unknown managed policy may grant anything: not judged"


def test_an_imported_role_is_not_judged():
    t = kinesis_template()
    t["Resources"]["Fn"]["Properties"]["Role"] = "arn:aws:iam::123456789012:role/existing"
    assert run_checks(t) == []


def test_the_dlq_kms_grant_aws_cdk_forgets_is_found():
    # aws-cdk#33153
    t = template(Key={"Type": "AWS::KMS::Key", "Properties": {}}, Dlq=queue(KmsMasterKeyId=arn("Key")))
    t["Resources"]["Fn"]["Properties"]["DeadLetterConfig"] = {"TargetArn": arn("Dlq")}
    grant(t, "sqs:SendMessage", arn("Dlq"))
    [finding] = run_checks(t)
    assert (finding.rule_id, finding.resource) == ("MissingKmsPermission", "Fn")
    assert finding.message == (
        "the function's role lacks kms:Decrypt, kms:GenerateDataKey on the KMS key of SQS queue Dlq (DeadLetterConfig of Fn)"
    )
    grant(t, ["kms:Decrypt", "kms:GenerateDataKey*"], arn("Key"))
    assert run_checks(t) == []


def test_aws_managed_keys_need_no_grant():
    t = template(Dlq=queue(KmsMasterKeyId="alias/aws/sqs"))
    t["Resources"]["Fn"]["Properties"]["DeadLetterConfig"] = {"TargetArn": arn("Dlq")}
    grant(t, "sqs:SendMessage", arn("Dlq"))
    assert run_checks(t) == []


def test_encrypted_sources_need_kms_decrypt():
    t = kinesis_template()
    t["Resources"]["Key"] = {"Type": "AWS::KMS::Key", "Properties": {}}
    t["Resources"]["Stream"]["Properties"]["StreamEncryption"] = {"EncryptionType": "KMS", "KeyId": arn("Key")}
    [finding] = run_checks(t)
    assert (
        finding.rule_id == "MissingKmsPermission"
        and "kms:Decrypt on the KMS key of the Kinesis source" in finding.message
    )


def test_s3_targets_need_put_object_on_objects_and_list_bucket():
    t = template(Bucket={"Type": "AWS::S3::Bucket", "Properties": {}}, Config=invoke_config(OnFailure=arn("Bucket")))
    grant(t, "s3:PutObject", {"Fn::Join": ["", [arn("Bucket"), "/*"]]})
    [finding] = run_checks(t)
    assert "lacks s3:ListBucket" in finding.message
    grant(t, "s3:ListBucket", arn("Bucket"))
    assert run_checks(t) == []


def test_enhanced_fan_out_needs_subscribe_on_the_consumer():
    t = kinesis_template()
    t["Resources"]["Consumer"] = {
        "Type": "AWS::Kinesis::StreamConsumer",
        "Properties": {"StreamARN": arn("Stream"), "ConsumerName": "c"},
    }
    t["Resources"]["Mapping"]["Properties"]["EventSourceArn"] = arn("Consumer", "ConsumerARN")
    [finding] = run_checks(t)
    assert "kinesis:DescribeStreamConsumer, kinesis:SubscribeToShard" in finding.message
    grant(t, ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"], arn("Consumer", "ConsumerARN"))
    assert run_checks(t) == []


# --- ranges ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"MaximumRetryAttempts": 10_001}, "MaximumRetryAttempts must be -1 (infinite) or between 0 and 10000"),
        (
            {"MaximumRecordAgeInSeconds": 30},
            "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800 seconds",
        ),
        ({"BatchSize": 0}, "BatchSize must be between 1 and 10000"),
        ({"ParallelizationFactor": "11"}, "ParallelizationFactor must be between 1 and 10"),
        ({"TumblingWindowInSeconds": 901}, "TumblingWindowInSeconds must be between 0 and 900 seconds"),
    ],
)
def test_stream_mapping_ranges_come_from_the_limits_table(props, message):
    [finding] = [f for f in run_checks(kinesis_template(**props)) if f.rule_id == "OutOfRange"]
    assert finding.message.startswith(message)


def test_async_ranges():
    t = template(Failures=queue(), Config=invoke_config(OnFailure=arn("Failures")))
    grant(t, "sqs:SendMessage", arn("Failures"))
    t["Resources"]["Config"]["Properties"].update(MaximumRetryAttempts=3, MaximumEventAgeInSeconds=59)
    assert sorted(f.message for f in run_checks(t)) == [
        "MaximumEventAgeInSeconds must be between 60 and 21600 seconds for asynchronous invocation, got 59 seconds",
        "MaximumRetryAttempts must be between 0 and 2 for asynchronous invocation, got 3",
    ]


def test_sqs_batching_rules():
    t = sqs_template()
    t["Resources"]["Mapping"]["Properties"].update(BatchSize=100, ScalingConfig={"MaximumConcurrency": 1})
    assert sorted(f.message for f in run_checks(t)) == [
        "MaximumBatchingWindowInSeconds must be at least 1 second when BatchSize is above 10 for SQS event source mappings, got none with BatchSize 100",
        "ScalingConfig.MaximumConcurrency must be between 2 and 1000 for SQS event source mappings, got 1",
    ]
    fifo = sqs_template(
        FifoQueue=True, RedrivePolicy={"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:dlq.fifo", "maxReceiveCount": 5}
    )
    fifo["Resources"]["Mapping"]["Properties"]["BatchSize"] = 11
    assert [f.message for f in run_checks(fifo)] == [
        "BatchSize must be between 1 and 10 for SQS FIFO event source mappings, got 11"
    ]


def test_parameters_are_never_range_checked():
    t = kinesis_template(MaximumRetryAttempts={"Ref": "Retries"}, BatchSize={"Ref": "Batch"})
    assert run_checks(t) == []


def test_a_dynamodb_record_age_beyond_24_hours_is_a_warning():
    t = template(
        Table={"Type": "AWS::DynamoDB::Table", "Properties": {}},
        Failures=queue(),
        Mapping=stream_mapping("Table", "StreamArn", **{**RESILIENT, "MaximumRecordAgeInSeconds": 90_000}),
    )
    grant(t, ["dynamodb:*"], arn("Table", "StreamArn"))
    grant(t, "sqs:SendMessage", arn("Failures"))
    [finding] = run_checks(t)
    assert (finding.rule_id, finding.level) == ("RecordAgeBeyondRetention", Level.WARNING)


# --- the template view -----------------------------------------------------------------------------------


def test_a_dict_without_resources_is_rejected_clearly():
    with pytest.raises(ValueError, match="no Resources mapping"):
        TemplateView({"AWSTemplateFormatVersion": "2010-09-09"})


def test_template_numbers():
    assert [number(v) for v in (5, "5", "-1", "1.5", None)] == [5, 5, -1, 1.5, None]
    assert number({"Ref": "P"}) is UNRESOLVED


def test_run_checks_does_not_modify_the_template():
    t = kinesis_template(MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=-1)
    before = copy.deepcopy(t)
    run_checks(t)
    assert t == before


def test_render_follows_joins_and_subs():
    view = TemplateView(template(Q=queue()))
    assert view.render({"Fn::Join": ["", [arn("Q"), "/*"]]}) == "${Q}/*"
    assert (
        view.render({"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:orders"})
        == "arn:*:sqs:*:*:orders"
    )
    assert view.render({"Fn::Sub": "${Q.Arn}/x"}) == "${Q}/x"
    assert view.render({"Fn::ImportValue": "Shared"}) is None


# --- issue: precision, robustness and the two new rules --------------------------------------------------


def sub(text: str) -> dict:
    return {"Fn::Sub": text}


def test_an_arn_built_around_a_resource_name_is_that_resource():
    view = TemplateView(template(Q=queue(), Other=queue(), S={"Type": "AWS::Kinesis::Stream"}))
    assert view.render(sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Q.QueueName}")) == "${Q}"
    assert view.render(sub("arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${Fn}:*")) == "${Fn}:*"
    assert view.render({"Fn::Join": ["", ["arn:aws:kinesis:*:*:stream/", {"Ref": "S"}]]}) == "${S}"
    assert view.target(sub("arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:${Q.QueueName}")).logical_id == "Q"


def test_a_grant_on_an_arn_built_around_another_queue_does_not_count_for_this_one():
    t = kinesis_template()
    t["Resources"]["Other"] = queue()
    statements = t["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"]
    statements[-1]["Resource"] = sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Other.QueueName}")
    assert rules_fired(t) == {("MissingPermission", "Fn")}
    statements[-1]["Resource"] = sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Failures.QueueName}")
    assert rules_fired(t) == set()
    statements[-1]["Resource"] = "arn:aws:sqs:*:*:*"  # a literal wildcard still may cover it
    assert rules_fired(t) == set()


@pytest.mark.parametrize(
    ("props", "fires"),
    [
        ({"BatchSize": 1, "FunctionResponseTypes": []}, False),
        ({"BatchSize": 2, "FunctionResponseTypes": []}, True),
        ({"FunctionResponseTypes": {"Ref": "Types"}}, False),
        ({"FunctionResponseTypes": [{"Ref": "Type"}]}, False),
    ],
)
def test_no_report_batch_item_failures_skips_single_record_batches_and_parameters(props, fires):
    fired = ("NoReportBatchItemFailures", "Mapping") in rules_fired(kinesis_template(**props))
    assert fired is fires


def test_a_redrive_policy_written_as_a_json_string_is_read():
    t = sqs_template(
        RedrivePolicy='{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:payments-dlq", "maxReceiveCount": 2}'
    )
    assert rules_fired(t) == {("SqsLowMaxReceiveCount", "Source")}
    t["Resources"]["Source"]["Properties"]["RedrivePolicy"] = "not json"
    assert rules_fired(t) == set(), "present but unreadable: not judged"


def test_a_malformed_getatt_is_not_followed():
    view = TemplateView(template(Q=queue()))
    for argument in (["Q", "Arn", "Extra"], ["Q"], 7, "Q", [["Q"], "Arn"]):
        assert view.referenced_id({GETATT: argument}) is None
        assert view.render({GETATT: argument}) is None
    t = kinesis_template()
    t["Resources"]["Mapping"]["Properties"]["FunctionName"] = {GETATT: ["Fn", "Arn", "Extra"]}
    assert TemplateView(t).mappings[0].function_id is None
    assert rules_fired(t) == set(), "the mapping's own settings are still judged; its role cannot be"


@pytest.mark.parametrize(
    ("retention_hours", "age", "fires"),
    [
        (None, 86_399, False),
        (None, 86_400, True),  # at the 24-hour default retention: records expire first
        (48, 86_400, False),
        (48, 172_800, True),
        ({"Ref": "Hours"}, 604_800, False),  # unknown retention: not judged
        (None, -1, False),
    ],
)
def test_a_kinesis_record_age_at_or_beyond_the_streams_retention_is_a_warning(retention_hours, age, fires):
    t = kinesis_template(MaximumRecordAgeInSeconds=age)
    if retention_hours is not None:
        t["Resources"]["Stream"]["Properties"]["RetentionPeriodHours"] = retention_hours
    found = [f for f in run_checks(t) if f.rule_id == "RecordAgeBeyondRetention"]
    assert bool(found) is fires
    if fires:
        assert found[0].level is Level.WARNING and "below the stream's retention" in found[0].message


def test_a_kinesis_stream_outside_the_template_has_no_known_retention():
    t = kinesis_template(MaximumRecordAgeInSeconds=604_800)
    t["Resources"]["Mapping"]["Properties"]["EventSourceArn"] = "arn:aws:kinesis:us-east-1:1:stream/s"
    assert "RecordAgeBeyondRetention" not in {f.rule_id for f in run_checks(t)}


def dead_letter_function(t: dict) -> dict:
    t["Resources"]["Fn"]["Properties"]["DeadLetterConfig"] = {"TargetArn": arn("Dlq")}
    t["Resources"]["Dlq"] = queue()
    return grant(t, "sqs:SendMessage", arn("Dlq"))


def test_a_dead_letter_queue_on_a_function_only_a_mapping_invokes_is_never_used():
    t = dead_letter_function(kinesis_template())
    [finding] = run_checks(t)
    assert (finding.rule_id, finding.resource, finding.level) == ("DeadLetterQueueNeverUsed", "Fn", Level.WARNING)
    assert "only the event source mapping Mapping invokes it" in finding.message


@pytest.mark.parametrize(
    "invoker",
    [
        {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"FunctionName": {"Ref": "Fn"}, "Principal": "sns.amazonaws.com"},
        },
        {"Type": "AWS::Lambda::Permission", "Properties": {"FunctionName": {"Ref": "Fn"}, "Principal": "123456789012"}},
        {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST"},
        },
        {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Id": "1", "Arn": arn("Fn")}]}},
        {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": ["other-role"],
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn("Fn")}]
                },
            },
        },
    ],
)
def test_a_dead_letter_queue_is_used_when_something_may_invoke_asynchronously(invoker):
    t = dead_letter_function(kinesis_template())
    t["Resources"]["Invoker"] = invoker
    assert "DeadLetterQueueNeverUsed" not in {f.rule_id for f in run_checks(t)}


def test_a_dead_letter_queue_on_a_function_with_no_invoker_in_the_template_is_not_judged():
    t = dead_letter_function(template())
    assert run_checks(t) == []


def test_a_destination_function_is_invoked_asynchronously():
    t = template(
        Receiver={"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::1:role/r"}},
        Config={
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "Qualifier": "$LATEST",
                "DestinationConfig": {"OnFailure": {"Destination": arn("Receiver")}},
            },
        },
    )
    grant(t, "lambda:InvokeFunction", arn("Receiver"))
    [finding] = run_checks(t)
    assert (finding.rule_id, finding.resource) == ("AsyncNoFailureHome", "Receiver")
    assert "it is the OnFailure destination of Config" in finding.message


def test_parameter_defaults_and_conditions_are_evaluated_and_findings_say_so():
    t = kinesis_template(
        BatchSize={"Ref": "Batch"},
        MaximumRetryAttempts={"Fn::If": ["Prod", 3, -1]},
        MaximumRecordAgeInSeconds={"Fn::If": ["Prod", 3600, {"Ref": "AWS::NoValue"}]},
    )
    t["Parameters"] = {"Batch": {"Type": "Number", "Default": 20_000}, "Stage": {"Type": "String", "Default": "dev"}}
    t["Conditions"] = {"Prod": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}
    messages = {f.rule_id: f.message for f in run_checks(t)}
    assert messages["OutOfRange"].endswith("got 20000 (assuming parameter Batch = 20000 (its default))")
    assert messages["StreamUnboundedRetries"].endswith("(assuming condition Prod is false)")
    t["Parameters"]["Stage"]["Default"] = "prod"
    t["Parameters"]["Batch"]["Default"] = 100
    assert run_checks(t) == []


def test_a_resource_created_only_under_a_condition_says_so():
    t = kinesis_template(MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=-1)
    t["Conditions"] = {"Never": {"Fn::Equals": ["a", "b"]}}
    t["Resources"]["Mapping"]["Condition"] = "Never"
    [finding] = run_checks(t)
    assert finding.message.endswith(
        "(assuming created only when condition Never holds; false with the parameter defaults)"
    )


def test_ssm_parameters_and_parameters_without_defaults_stay_unresolved():
    t = kinesis_template(BatchSize={"Ref": "Batch"}, MaximumRetryAttempts={"Ref": "Retries"})
    t["Parameters"] = {
        "Batch": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/config/batch"},
        "Retries": {"Type": "Number"},
    }
    assert run_checks(t) == []


def s3_home_template(**bucket_props) -> dict:
    t = template(
        Stream={"Type": "AWS::Kinesis::Stream", "Properties": {}},
        Bucket={"Type": "AWS::S3::Bucket", "Properties": bucket_props},
        Mapping=stream_mapping(**{**RESILIENT, "DestinationConfig": {"OnFailure": {"Destination": arn("Bucket")}}}),
    )
    return grant(t, KINESIS_READ, arn("Stream"))


def test_an_s3_bucket_is_a_stream_home_with_put_object_and_list_bucket():
    t = s3_home_template()
    assert rules_fired(t) == {("MissingPermission", "Fn")}
    assert sorted(finding.message.split(" on ")[0] for finding in run_checks(t)) == [
        "the function's role lacks s3:ListBucket",
        "the function's role lacks s3:PutObject",
    ]
    grant(t, "s3:PutObject", {"Fn::Join": ["", [arn("Bucket"), "/*"]]})
    [finding] = run_checks(t)
    assert "lacks s3:ListBucket on S3 bucket Bucket (OnFailure of Mapping)" in finding.message
    grant(t, "s3:ListBucket", arn("Bucket"))
    assert run_checks(t) == []


def test_an_s3_home_with_a_customer_managed_key_needs_generate_data_key_only():
    encryption = {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn("Key")}}
        ]
    }
    t = s3_home_template(BucketEncryption=encryption)
    t["Resources"]["Key"] = {"Type": "AWS::KMS::Key", "Properties": {}}
    grant(t, "s3:PutObject", {"Fn::Join": ["", [arn("Bucket"), "/*"]]})
    grant(t, "s3:ListBucket", arn("Bucket"))
    [finding] = run_checks(t)
    assert finding.rule_id == "MissingKmsPermission"
    assert "lacks kms:GenerateDataKey on the KMS key of S3 bucket Bucket" in finding.message
    grant(t, "kms:GenerateDataKey", arn("Key"))
    assert run_checks(t) == []
