"""Failure-handling checks on Kafka mappings: recognised by their source, judged by Kafka's own rules.

Templates come from three places: KafkaConsumer, aws-cdk's own ManagedKafkaEventSource / SelfManagedKafkaEventSource
(what most CDK apps use), and hand-written templates in the shape of the AWS CloudFormation and Lambda developer
guide examples (an MSK mapping by literal ARN, a self-managed one by SelfManagedEventSource).
"""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from constructs_lib import FailureHandlingChecks, KafkaConsumer
from constructs_lib.checks import RULES, run_checks
from constructs_lib.checks.kafka import is_kafka_mapping
from constructs_lib.checks.template import TemplateView
from tests.harness import nag_findings, new_app
from tests.test_async_invocation import make_function

CLUSTER = "arn:aws:kafka:us-east-1:123456789012:cluster/orders/abcd1234-abcd-cafe-abab-9876543210ab-4"
KAFKA_RULES = {rule_id for rule_id in RULES if rule_id.startswith("Kafka")}


def template(**properties) -> dict:
    """A function and one Kafka mapping with `properties` (MSK by literal ARN unless given otherwise)."""
    mapping = {"FunctionName": {"Ref": "Fn"}, "Topics": ["orders"], "StartingPosition": "TRIM_HORIZON"}
    if "SelfManagedEventSource" not in properties:
        mapping["EventSourceArn"] = CLUSTER
    mapping.update({key: value for key, value in properties.items() if value is not None})
    return {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::123456789012:role/r"}},
            "Failures": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": mapping},
        }
    }


def findings(document: dict) -> set[str]:
    return {finding.rule_id for finding in run_checks(document)}


PROVISIONED = {"ProvisionedPollerConfig": {"MinimumPollers": 1}}
HOME = {"DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}}}
RESILIENT = {
    **PROVISIONED,
    **HOME,
    "MaximumRetryAttempts": 3,
    "MaximumRecordAgeInSeconds": 3600,
    "BisectBatchOnFunctionError": True,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}


def test_kafka_mappings_are_recognised_by_their_source():
    view = TemplateView(
        {
            "Resources": {
                "Cluster": {"Type": "AWS::MSK::Cluster", "Properties": {}},
                "Serverless": {"Type": "AWS::MSK::ServerlessCluster", "Properties": {}},
            }
        }
    )
    assert is_kafka_mapping(view, {"EventSourceArn": CLUSTER})
    assert is_kafka_mapping(view, {"EventSourceArn": {"Ref": "Cluster"}})
    assert is_kafka_mapping(view, {"EventSourceArn": {"Fn::GetAtt": ["Serverless", "Arn"]}})
    assert is_kafka_mapping(view, {"SelfManagedEventSource": {"Endpoints": {}}, "Topics": ["orders"]})
    cross_stack = {"Fn::GetStackOutput": {"StackName": "Platform", "OutputName": "ClusterArn"}}
    assert is_kafka_mapping(view, {"EventSourceArn": cross_stack, "Topics": ["orders"]})
    assert not is_kafka_mapping(view, {"EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/orders"})
    assert not is_kafka_mapping(view, {"EventSourceArn": {"Ref": "ParameterOfUnknownKind"}})


def test_a_resilient_kafka_mapping_has_no_findings():
    assert findings(template(**RESILIENT)) == set()


def test_infinite_retries_with_a_destination_are_bounded_by_lambda_and_not_flagged():
    document = template(**PROVISIONED, **HOME, MaximumRetryAttempts=-1, BisectBatchOnFunctionError=True)
    assert findings(document) & {"KafkaUnboundedRetries", "StreamUnboundedRetries"} == set()


@pytest.mark.parametrize(
    ("properties", "fires"),
    [
        ({**PROVISIONED}, True),
        ({**PROVISIONED, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1}, True),
        ({**PROVISIONED, **HOME}, False),
        ({**PROVISIONED, "MaximumRecordAgeInSeconds": 3600}, False),
        ({**PROVISIONED, "MaximumRetryAttempts": {"Ref": "Retries"}}, False),
        ({}, False),  # on-demand: another rule
    ],
)
def test_kafka_unbounded_retries(properties, fires):
    assert ("KafkaUnboundedRetries" in findings(template(**properties))) is fires


@pytest.mark.parametrize(
    ("properties", "fires"),
    [
        ({**PROVISIONED, "MaximumRetryAttempts": 3}, True),
        ({**PROVISIONED, "MaximumRecordAgeInSeconds": 60}, True),
        ({**PROVISIONED, "MaximumRetryAttempts": 3, **HOME}, False),
        ({**PROVISIONED, "MaximumRetryAttempts": -1}, False),
    ],
)
def test_kafka_mapping_that_gives_up_without_a_destination(properties, fires):
    assert ("KafkaNoFailureDestination" in findings(template(**properties))) is fires


def test_on_demand_mode_is_a_warning_and_provisioned_only_settings_are_errors():
    on_demand = run_checks(template())
    assert [(f.rule_id, f.level) for f in on_demand] == [("KafkaOnDemandNoErrorHandling", "warning")]
    document = template(
        MaximumRetryAttempts=3,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": "kafka://dlt"}},
    )
    [finding] = [f for f in run_checks(document) if f.rule_id == "KafkaProvisionedOnlySetting"]
    assert finding.message == (
        "Kafka mapping in on-demand mode sets MaximumRetryAttempts, BisectBatchOnFunctionError, "
        "DestinationConfig.OnFailure (a Kafka topic)"
    )


def test_a_failure_topic_that_is_the_source_topic():
    document = template(**{**RESILIENT, "DestinationConfig": {"OnFailure": {"Destination": "kafka://orders"}}})
    assert findings(document) == {"KafkaFailureTopicIsSource"}
    other = template(**{**RESILIENT, "DestinationConfig": {"OnFailure": {"Destination": "kafka://orders-dlt"}}})
    assert findings(other) == set()


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"MaximumRetryAttempts": 10_001}, "MaximumRetryAttempts must be -1 (infinite) or between 0 and 10000"),
        ({"MaximumRecordAgeInSeconds": 59}, "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60"),
        ({"BatchSize": 10_001}, "BatchSize must be between 1 and 10000"),
        ({"ProvisionedPollerConfig": {"MinimumPollers": 201}}, "ProvisionedPollerConfig.minimum_pollers must be"),
        (
            {"ProvisionedPollerConfig": {"MinimumPollers": 5, "MaximumPollers": 2}},
            "ProvisionedPollerConfig.maximum_pollers must be at least minimum_pollers (5), got 2",
        ),
    ],
)
def test_kafka_ranges(properties, message):
    [finding] = [f for f in run_checks(template(**{**RESILIENT, **properties})) if f.rule_id == "KafkaOutOfRange"]
    assert message in finding.message


def test_kafka_ranges_accept_the_boundaries_and_parameters():
    document = template(
        **{
            **RESILIENT,
            "MaximumRetryAttempts": 10_000,
            "MaximumRecordAgeInSeconds": 604_800,
            "BatchSize": {"Ref": "Batch"},
            "ProvisionedPollerConfig": {"MinimumPollers": 200, "MaximumPollers": 2000},
        }
    )
    assert findings(document) == set()


def test_bounded_retries_without_bisect_is_a_warning():
    document = template(**{**RESILIENT, "BisectBatchOnFunctionError": False})
    assert [(f.rule_id, f.level) for f in run_checks(document)] == [("KafkaNoBisect", "warning")]


def test_a_self_managed_mapping_is_judged_the_same_way():
    self_managed = {"SelfManagedEventSource": {"Endpoints": {"KafkaBootstrapServers": ["b-1.example.com:9092"]}}}
    assert findings(template(**self_managed, **RESILIENT)) == set()
    assert findings(template(**self_managed, **PROVISIONED, MaximumRetryAttempts=2)) == {
        "KafkaNoFailureDestination",
        "KafkaNoBisect",
    }


def test_stream_rules_stay_quiet_on_kafka_mappings():
    stream_rules = {"StreamUnboundedRetries", "StreamNoFailureDestination", "StreamNoBisect", "OutOfRange"}
    for properties in ({}, PROVISIONED, {**PROVISIONED, "MaximumRetryAttempts": 20_000}):
        assert findings(template(**properties)) & stream_rules == set()


# --- aws-cdk's own Kafka event sources and our construct, through the cdk-nag pack --------------------------


def test_aws_cdk_kafka_event_sources_get_the_findings_they_deserve():
    stack = cdk.Stack(new_app(), "Legacy")
    on_demand = make_function(stack, "OnDemand")
    on_demand.add_event_source(
        sources.ManagedKafkaEventSource(
            cluster_arn=CLUSTER, topic="orders", starting_position=lambda_.StartingPosition.LATEST
        )
    )
    looping = make_function(stack, "Looping")
    looping.add_event_source(
        sources.ManagedKafkaEventSource(
            cluster_arn=CLUSTER,
            topic="payments",
            starting_position=lambda_.StartingPosition.LATEST,
            provisioned_poller_config=sources.ProvisionedPollerConfig(minimum_pollers=1),
            retry_attempts=2,
            bisect_batch_on_error=True,
            on_failure=sources.KafkaDlq("payments"),
        )
    )
    dropping = make_function(stack, "Dropping")
    dropping.add_event_source(
        sources.SelfManagedKafkaEventSource(
            bootstrap_servers=["b-1.example.com:9092"],
            topic="refunds",
            secret=secretsmanager.Secret(stack, "Credentials"),
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            provisioned_poller_config=sources.ProvisionedPollerConfig(minimum_pollers=1),
            max_record_age=cdk.Duration.hours(1),
            bisect_batch_on_error=True,
        )
    )
    found = {
        (f.rule_id, f.path.split("/")[1])
        for f in nag_findings(stack, [FailureHandlingChecks()])
        if "Kafka" in f.rule_id
    }
    assert found == {
        ("FailureHandling-KafkaOnDemandNoErrorHandling", "OnDemand"),
        # The cluster is outside the app, so IAM authentication is possible but not known, and aws-cdk grants no
        # kafka-cluster:* action for it: a warning, not an error.
        ("FailureHandling-KafkaIamAuthenticationPermission", "OnDemand"),
        ("FailureHandling-KafkaIamAuthenticationPermission", "Looping"),
        ("FailureHandling-KafkaFailureTopicIsSource", "Looping"),
        ("FailureHandling-KafkaNoFailureDestination", "Dropping"),
    }


def test_a_kafka_consumer_passes_the_pack():
    stack = cdk.Stack(new_app(), "Ours")
    KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER)
    assert nag_findings(stack, [FailureHandlingChecks()]) == []
    assert {f.rule_id for f in run_checks(Template.from_stack(stack).to_json())} & KAFKA_RULES == set()


# --- permissions -------------------------------------------------------------------------------------------------

IAM_READ = [
    {
        "Effect": "Allow",
        "Action": ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka-cluster:Connect"],
        "Resource": CLUSTER,
    },
    {
        "Effect": "Allow",
        "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
        "Resource": CLUSTER.replace(":cluster/", ":topic/") + "/orders",
    },
    {
        "Effect": "Allow",
        "Action": ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"],
        "Resource": CLUSTER.replace(":cluster/", ":group/") + "/billing",
    },
    {"Effect": "Allow", "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"], "Resource": "*"},
]


def with_role(document: dict, statements: list[dict], managed: list[str] | None = None) -> dict:
    resources = document["Resources"]
    resources["Role"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {}, "ManagedPolicyArns": managed or []},
    }
    resources["Policy"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": {"Statement": statements}, "Roles": [{"Ref": "Role"}]},
    }
    resources["Fn"]["Properties"]["Role"] = {"Fn::GetAtt": ["Role", "Arn"]}
    return document


PERMISSION_RULES = {"KafkaMissingPermission", "KafkaIamAuthenticationPermission"}


def missing(document: dict) -> list[str]:
    """What the role lacks, certain or depending on the authentication of a cluster outside the template."""
    return sorted(f.message for f in run_checks(document) if f.rule_id in PERMISSION_RULES)


def permission_findings(document: dict) -> set[tuple[str, str]]:
    return {(f.rule_id, f.message.split(" on ")[0]) for f in run_checks(document) if f.rule_id in PERMISSION_RULES}


LACKS_READ = "the function's role lacks kafka-cluster:ReadData"


def needs_iam_actions(found: set[tuple[str, str]], rule: str) -> bool:
    return any(found_rule == rule and "kafka-cluster:" in message for found_rule, message in found)


LACKS_BROKERS = "the function's role lacks kafka:GetBootstrapBrokers"


def with_cluster(authentication: dict | None, cluster_type: str = "AWS::MSK::Cluster") -> dict:
    document = template(**RESILIENT, **GROUP, EventSourceArn={"Ref": "Cluster"})
    properties = {} if authentication is None else {"ClientAuthentication": authentication}
    document["Resources"]["Cluster"] = {"Type": cluster_type, "Properties": properties}
    return with_role(document, [])


def test_iam_authentication_grants_are_an_error_only_when_the_template_tells_the_cluster_uses_it():
    iam_on = {"Sasl": {"Iam": {"Enabled": True}}}
    found = permission_findings(with_cluster(iam_on))
    assert needs_iam_actions(found, "KafkaMissingPermission")
    assert {rule for rule, _ in found} == {"KafkaMissingPermission"}
    found = permission_findings(with_cluster({}, "AWS::MSK::ServerlessCluster"))
    assert needs_iam_actions(found, "KafkaMissingPermission")  # serverless clusters support IAM only
    # TLS without IAM, or no client authentication at all: no kafka-cluster:* action is needed.
    for authentication in ({"Tls": {"Enabled": True}}, {"Sasl": {"Iam": {"Enabled": False}}}, None):
        found = permission_findings(with_cluster(authentication))
        assert ("KafkaMissingPermission", LACKS_BROKERS) in found
        assert not any("kafka-cluster:" in message for _, message in found), authentication


def test_a_cluster_outside_the_template_makes_iam_authentication_grants_a_warning():
    found = permission_findings(with_role(template(**RESILIENT, **GROUP), []))
    assert ("KafkaIamAuthenticationPermission", LACKS_READ) in found
    assert ("KafkaMissingPermission", LACKS_BROKERS) in found
    assert not needs_iam_actions(found, "KafkaMissingPermission")


GROUP = {"AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "billing"}}


def test_iam_authentication_needs_the_cluster_topic_and_group():
    assert missing(with_role(template(**RESILIENT, **GROUP), IAM_READ)) == []
    assert missing(with_role(template(**RESILIENT, **GROUP), IAM_READ[:1] + IAM_READ[3:])) == [
        "the function's role lacks kafka-cluster:AlterGroup on the consumer group billing of Mapping",
        "the function's role lacks kafka-cluster:ReadData on the topic orders of Mapping",
    ]


def test_without_a_consumer_group_id_only_a_grant_on_every_group_covers_it():
    assert missing(with_role(template(**RESILIENT), IAM_READ)) == [
        "the function's role lacks kafka-cluster:AlterGroup on the consumer group * of Mapping"
    ]
    every_group = {**IAM_READ[2], "Resource": CLUSTER.replace(":cluster/", ":group/") + "/*"}
    assert missing(with_role(template(**RESILIENT), [*IAM_READ, every_group])) == []


def test_a_kafka_failure_topic_needs_write_access_with_iam_authentication():
    document = template(**{**RESILIENT, **GROUP, "DestinationConfig": {"OnFailure": {"Destination": "kafka://dlt"}}})
    assert missing(with_role(document, IAM_READ)) == [
        "the function's role lacks kafka-cluster:WriteData on the failure topic dlt of Mapping"
    ]


def test_sasl_authentication_needs_the_secret_and_no_kafka_cluster_actions():
    access = {
        "SourceAccessConfigurations": [
            {"Type": "SASL_SCRAM_512_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka"}
        ]
    }
    document = template(**RESILIENT, **access)
    assert missing(with_role(document, IAM_READ[:1] + IAM_READ[3:])) == [
        "the function's role lacks secretsmanager:GetSecretValue on the SASL_SCRAM_512_AUTH secret of Mapping"
    ]


def test_the_msk_execution_role_managed_policy_is_understood():
    managed = ["arn:aws:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole"]
    statements = [*IAM_READ[1:3], {"Effect": "Allow", "Action": "kafka-cluster:Connect", "Resource": CLUSTER}]
    assert missing(with_role(template(**RESILIENT, **GROUP), statements, managed)) == []


def test_a_role_with_an_unknown_managed_policy_is_not_judged():
    managed = ["arn:aws:iam::123456789012:policy/platform-kafka-access"]
    assert missing(with_role(template(**RESILIENT, **GROUP), [], managed)) == []


def test_self_managed_brokers_outside_a_vpc_need_only_their_secret():
    document = template(
        **RESILIENT,
        SelfManagedEventSource={"Endpoints": {"KafkaBootstrapServers": ["b-1.example.com:9092"]}},
        SourceAccessConfigurations=[
            {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k"}
        ],
    )
    assert missing(with_role(document, [])) == [
        "the function's role lacks secretsmanager:GetSecretValue on the BASIC_AUTH secret of Mapping"
    ]
