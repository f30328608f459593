"""KafkaConsumer: Amazon MSK and self-managed Kafka mappings with the stream failure handling, validation, grants."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_msk as msk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import INFINITE, FailureQueue, KafkaAuthentication, KafkaConsumer, ValidationError
from constructs_lib.checks import run_checks
from tests.harness import lint_template, nag_findings, new_app, normalize_template
from tests.test_async_invocation import allow, arn_of, make_function, ref, role_statements

CLUSTER = "arn:aws:kafka:us-east-1:123456789012:cluster/orders/abcd1234-abcd-cafe-abab-9876543210ab-4"
TOPIC_ARN = "arn:aws:kafka:us-east-1:123456789012:topic/orders/abcd1234-abcd-cafe-abab-9876543210ab-4"
GROUP_ARN = "arn:aws:kafka:us-east-1:123456789012:group/orders/abcd1234-abcd-cafe-abab-9876543210ab-4"
NETWORK = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]
BROKERS = ["b-1.kafka.example.com:9096", "b-2.kafka.example.com:9096"]


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders")


def mapping(stack: cdk.Stack) -> dict:
    [resource] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    return resource["Properties"]


def network_policies(stack: cdk.Stack) -> list[dict]:
    return [
        policy["Properties"]
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        if "NetworkPolicy" in policy["Properties"]["PolicyName"]
    ]


def violations_of(stack: cdk.Stack, **kwargs) -> list[tuple[str, str]]:
    if "function" not in kwargs:
        kwargs["function"] = make_function(stack, f"Function{len(stack.node.children)}")
    kwargs.setdefault("topic", "orders")
    if "bootstrap_servers" not in kwargs:
        kwargs.setdefault("cluster_arn", CLUSTER)
    with pytest.raises(ValidationError) as caught:
        KafkaConsumer(stack, "Consume", **kwargs)
    return [(violation.setting, str(violation)) for violation in caught.value.violations]


def settings_of(stack: cdk.Stack, **kwargs) -> list[str]:
    return [setting for setting, _ in violations_of(stack, **kwargs)]


# --- defaults --------------------------------------------------------------------------------------------


def test_msk_defaults_provisioned_mode_bisect_bounded_retries_and_a_failure_queue(stack, template_snapshot):
    function = make_function(stack)
    consumer = KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER)

    assert isinstance(consumer.failure_queue, FailureQueue)
    assert mapping(stack) == {
        "FunctionName": {"Ref": ref(stack, function)},
        "EventSourceArn": CLUSTER,
        "Topics": ["orders"],
        "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "OrdersConsumeAFB2E70A"},
        "Enabled": True,
        "StartingPosition": "TRIM_HORIZON",
        "ProvisionedPollerConfig": {"MinimumPollers": 1},
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": arn_of(stack, consumer.failure_queue)}},
        "MetricsConfig": {"Metrics": ["EventCount", "ErrorCount", "KafkaMetrics"]},
    }
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


def test_msk_iam_authentication_grants_the_cluster_topic_and_group_and_nothing_else(stack):
    function = make_function(stack)
    consumer = KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER)

    assert role_statements(stack, function) == [
        allow(["kafka-cluster:Connect", "kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"], CLUSTER),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], f"{TOPIC_ARN}/orders"),
        allow(["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"], f"{GROUP_ARN}/OrdersConsumeAFB2E70A"),
        allow("sqs:SendMessage", arn_of(stack, consumer.failure_queue)),
        allow(NETWORK, "*"),
    ]
    # No AWS managed policy (aws-cdk's ManagedKafkaEventSource attaches AWSLambdaMSKExecutionRole).
    role = Template.from_stack(stack).find_resources("AWS::IAM::Role")[ref(stack, function.role)]
    assert [arn for arn in role["Properties"]["ManagedPolicyArns"] if "MSK" in str(arn)] == []


def test_the_network_policy_is_its_own_with_a_reasoned_acknowledgment_and_precedes_the_mapping(stack):
    function = make_function(stack)
    consumer = KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER)

    [policy] = network_policies(stack)
    assert policy["PolicyDocument"]["Statement"] == [allow(NETWORK, "*")]
    [resource] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    assert stack.get_logical_id(consumer.network_policy.node.default_child) in resource["DependsOn"]
    assert [f for f in nag_findings(stack) if f.path.startswith(consumer.node.path)] == []


def test_what_the_construct_creates_is_nag_and_cfn_lint_clean(stack):
    consumer = KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER)
    assert [f for f in nag_findings(stack) if f.path.startswith(consumer.node.path)] == []
    assert lint_template(Template.from_stack(stack).to_json()) == []


def test_our_own_checks_find_nothing_in_a_kafka_consumer(stack):
    KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER)
    assert run_checks(Template.from_stack(stack).to_json()) == []


def test_a_consumer_group_given_is_used_and_scopes_the_group_grant(stack):
    function = make_function(stack)
    KafkaConsumer(
        stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, consumer_group_id="billing.v2"
    )
    assert mapping(stack)["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "billing.v2"}
    assert allow(["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"], f"{GROUP_ARN}/billing.v2") in (
        role_statements(stack, function)
    )


def test_a_cluster_arn_from_a_parameter_derives_topic_and_group_arns_in_the_template(stack):
    function = make_function(stack)
    cluster = cdk.CfnParameter(stack, "ClusterArn").value_as_string
    KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=cluster)

    split = {"Fn::Split": [":cluster/", {"Ref": "ClusterArn"}]}
    topic_arn = {
        "Fn::Join": [
            "",
            [{"Fn::Select": [0, split]}, ":topic/", {"Fn::Select": [1, split]}, "/orders"],
        ]
    }
    assert allow(["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], topic_arn) in role_statements(
        stack, function
    )
    assert mapping(stack)["EventSourceArn"] == {"Ref": "ClusterArn"}
    assert lint_template(Template.from_stack(stack).to_json()) == []


def test_an_msk_cfn_cluster_can_be_given(stack):
    cluster = msk.CfnCluster(
        stack,
        "Cluster",
        cluster_name="orders",
        kafka_version="3.6.0",
        number_of_broker_nodes=2,
        broker_node_group_info=msk.CfnCluster.BrokerNodeGroupInfoProperty(
            client_subnets=["subnet-1", "subnet-2"], instance_type="kafka.m5.large"
        ),
    )
    KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=cluster)
    assert mapping(stack)["EventSourceArn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}


def test_sasl_scram_secret_with_a_customer_key_is_granted_with_its_key_and_no_iam_cluster_actions(stack):
    function = make_function(stack)
    key = kms.Key(stack, "SecretKey", enable_key_rotation=True)
    secret = secretsmanager.Secret(stack, "Credentials", encryption_key=key)
    consumer = KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, secret=secret)
    assert mapping(stack)["SourceAccessConfigurations"] == [
        {"Type": "SASL_SCRAM_512_AUTH", "URI": {"Ref": ref(stack, secret)}}
    ]
    statements = role_statements(stack, function)
    assert statements == [
        allow(["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka:ListScramSecrets"], CLUSTER),
        allow("secretsmanager:GetSecretValue", {"Ref": ref(stack, secret)}),
        allow("kms:Decrypt", arn_of(stack, key)),
        allow("sqs:SendMessage", arn_of(stack, consumer.failure_queue)),
        allow(NETWORK, "*"),
    ]


def test_mutual_tls_on_msk_reads_the_certificate_secret(stack):
    secret = secretsmanager.Secret(stack, "Certificate")
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        secret=secret,
        authentication=KafkaAuthentication.MUTUAL_TLS,
    )
    assert mapping(stack)["SourceAccessConfigurations"] == [
        {"Type": "CLIENT_CERTIFICATE_TLS_AUTH", "URI": {"Ref": ref(stack, secret)}}
    ]


def test_self_managed_brokers_in_a_vpc(stack, template_snapshot):
    function = make_function(stack)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    group = ec2.SecurityGroup(stack, "Brokers", vpc=vpc)
    secret = secretsmanager.Secret(stack, "Credentials")
    root_ca = secretsmanager.Secret(stack, "RootCa")
    consumer = KafkaConsumer(
        stack,
        "Consume",
        function=function,
        topic="orders",
        bootstrap_servers=BROKERS,
        secret=secret,
        authentication=KafkaAuthentication.SASL_SCRAM_256,
        root_ca_certificate=root_ca,
        vpc=vpc,
        security_groups=[group],
        consumer_group_id="orders-billing",
    )
    properties = mapping(stack)
    assert "EventSourceArn" not in properties
    assert properties["SelfManagedEventSource"] == {"Endpoints": {"KafkaBootstrapServers": BROKERS}}
    assert properties["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "orders-billing"}
    subnets = [
        {"Type": "VPC_SUBNET", "URI": {"Fn::Join": ["", ["subnet:", {"Ref": ref(stack, subnet)}]]}}
        for subnet in vpc.isolated_subnets
    ]
    assert properties["SourceAccessConfigurations"] == [
        {"Type": "SASL_SCRAM_256_AUTH", "URI": {"Ref": ref(stack, secret)}},
        {"Type": "SERVER_ROOT_CA_CERTIFICATE", "URI": {"Ref": ref(stack, root_ca)}},
        *subnets,
        {
            "Type": "VPC_SECURITY_GROUP",
            "URI": {"Fn::Join": ["", ["security_group:", {"Fn::GetAtt": [ref(stack, group), "GroupId"]}]]},
        },
    ]
    assert role_statements(stack, function) == [
        allow("secretsmanager:GetSecretValue", [{"Ref": ref(stack, secret)}, {"Ref": ref(stack, root_ca)}]),
        allow("sqs:SendMessage", arn_of(stack, consumer.failure_queue)),
        allow(NETWORK, "*"),
    ]
    assert lint_template(Template.from_stack(stack).to_json()) == []
    assert normalize_template(Template.from_stack(stack).to_json()) == template_snapshot


def test_self_managed_brokers_without_a_vpc_get_no_network_grant(stack):
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        bootstrap_servers=BROKERS,
        secret=secretsmanager.Secret(stack, "Credentials"),
        authentication=KafkaAuthentication.SASL_PLAIN,
    )
    assert network_policies(stack) == []
    assert mapping(stack)["SourceAccessConfigurations"][0]["Type"] == "BASIC_AUTH"


def test_a_version_or_alias_is_mapped_by_its_qualified_arn(stack):
    function = make_function(stack)
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=function.current_version)
    KafkaConsumer(stack, "Consume", function=alias, topic="orders", cluster_arn=CLUSTER)
    assert mapping(stack)["FunctionName"] == {"Ref": ref(stack, alias)}


def test_an_imported_function_without_a_role_is_an_error_as_for_the_other_consumers(stack):
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:consume"
    )
    [(setting, text)] = violations_of(stack, function=imported)
    assert setting == "function" and "no known execution role" in text
    assert not [child for child in stack.node.children if isinstance(child, KafkaConsumer)]


# --- failure homes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["queue", "topic", "bucket"])
def test_sqs_sns_and_s3_are_failure_homes_with_their_grants(stack, kind):
    function = make_function(stack)
    home = {
        "queue": lambda: sqs.Queue(stack, "Home", enforce_ssl=True),
        "topic": lambda: sns.Topic(stack, "Home", enforce_ssl=True),
        "bucket": lambda: s3.Bucket(stack, "Home", enforce_ssl=True),
    }[kind]()
    KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, on_failure=home)
    assert mapping(stack)["DestinationConfig"]["OnFailure"]["Destination"] == (
        {"Ref": ref(stack, home)} if kind == "topic" else arn_of(stack, home)
    )
    actions = {
        statement["Action"] if isinstance(statement["Action"], str) else tuple(statement["Action"])
        for statement in role_statements(stack, function)
    }
    expected = {"queue": {"sqs:SendMessage"}, "topic": {"sns:Publish"}, "bucket": {"s3:PutObject", "s3:ListBucket"}}[
        kind
    ]
    assert expected <= actions


def test_a_kafka_topic_failure_home_gets_write_access_with_iam_authentication(stack):
    function = make_function(stack)
    consumer = KafkaConsumer(
        stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, on_failure="kafka://orders-failures"
    )
    assert consumer.failure_queue is None
    assert mapping(stack)["DestinationConfig"] == {"OnFailure": {"Destination": "kafka://orders-failures"}}
    assert allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], f"{TOPIC_ARN}/orders-failures") in (
        role_statements(stack, function)
    )
    assert [a.node.id for a in consumer.alarms] == [
        "ErrorsAlarm",
        "OffsetLagAlarm",
        "DroppedEventsAlarm",
        "OnFailureDeliveryErrorsAlarm",
    ]


def test_a_kafka_topic_failure_home_with_scram_warns_that_acls_must_allow_the_write(stack):
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        secret=secretsmanager.Secret(stack, "Credentials"),
        on_failure="kafka://orders-failures",
    )
    assert Annotations.from_stack(stack).find_warning("/Orders/Consume", Match.string_like_regexp("ACLs"))


def test_discarding_failures_is_explicit(stack):
    consumer = KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        on_failure=None,
        discard_failures=True,
    )
    assert consumer.failure_queue is None and "DestinationConfig" not in mapping(stack)
    assert settings_of(cdk.Stack(new_app(), "Other"), on_failure=None) == ["on_failure"]


@pytest.mark.parametrize(
    ("on_failure", "expected"),
    [
        ("kafka://orders", "a Kafka topic other than the source topic"),
        ("kafka://.hidden", "not starting with '.'"),
        ("kafka://", "a Kafka topic name of 1 to 249"),
        ("arn:aws:sqs:us-east-1:123456789012:failures", "a queue, topic or bucket object, or a Kafka topic written"),
    ],
)
def test_bad_kafka_topic_failure_homes_are_rejected(stack, on_failure, expected):
    [(setting, message)] = violations_of(stack, on_failure=on_failure)
    assert setting == "on_failure" and expected in message


def test_fifo_and_lambda_failure_homes_are_rejected(stack):
    fifo = sqs.Queue(stack, "Fifo", fifo=True)
    assert "FIFO" in violations_of(stack, on_failure=fifo)[0][1]
    other = make_function(stack, "Other")
    [(setting, message)] = violations_of(stack, on_failure=other)
    assert setting == "on_failure" and "Lambda function" in message and "Kafka event source mappings" in message


# --- on-demand mode -------------------------------------------------------------------------------------------


def test_on_demand_mode_leaves_the_provisioned_only_settings_out_and_says_so(stack):
    consumer = KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        provisioned_poller_config=None,
    )
    properties = mapping(stack)
    for key in (
        "ProvisionedPollerConfig",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "FunctionResponseTypes",
        "MetricsConfig",
    ):
        assert key not in properties
    assert properties["DestinationConfig"]["OnFailure"]["Destination"] == arn_of(stack, consumer.failure_queue)
    assert Annotations.from_stack(stack).find_warning("/Orders/Consume", Match.string_like_regexp("on-demand mode"))
    assert [a.node.id for a in consumer.alarms] == ["MessagesWaitingAlarm", "OldestMessageAgeAlarm", "ErrorsAlarm"]


def test_on_demand_mode_rejects_every_provisioned_only_setting_given_explicitly(stack):
    assert settings_of(
        stack,
        provisioned_poller_config=None,
        retry_attempts=2,
        max_record_age=cdk.Duration.minutes(5),
        bisect_batch_on_error=False,
        report_batch_item_failures=True,
        on_failure="kafka://orders-failures",
    ) == ["bisect_batch_on_error", "retry_attempts", "max_record_age", "report_batch_item_failures", "on_failure"]


# --- validation ----------------------------------------------------------------------------------------------


def test_exactly_one_source(stack):
    assert settings_of(stack, cluster_arn=None) == ["cluster_arn / bootstrap_servers"]
    assert settings_of(cdk.Stack(new_app(), "B"), bootstrap_servers=BROKERS, cluster_arn=CLUSTER) == [
        "cluster_arn / bootstrap_servers"
    ]


@pytest.mark.parametrize("arn", ["arn:aws:sqs:us-east-1:123456789012:orders", "orders"])
def test_a_cluster_arn_that_is_not_msk_is_rejected(stack, arn):
    assert settings_of(stack, cluster_arn=arn) == ["cluster_arn"]


@pytest.mark.parametrize(
    ("servers", "count"),
    [([], 1), ("b-1:9092", 1), (["b-1.example.com"], 1), (["b-1:9092"] * 11, 1), (["x" * 300 + ":9092"], 1)],
)
def test_bad_bootstrap_servers_are_rejected(stack, servers, count):
    assert settings_of(stack, bootstrap_servers=servers) == ["bootstrap_servers"] * count


def test_ten_bootstrap_servers_are_accepted(stack):
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        bootstrap_servers=[f"b-{i}.example.com:9092" for i in range(10)],
    )


@pytest.mark.parametrize("topic", ["", "o", ".orders", "orders!", "x" * 250])
def test_bad_topics_are_rejected(stack, topic):
    assert settings_of(stack, topic=topic) == ["topic"]


@pytest.mark.parametrize("topic", ["or", "orders.v1_blue-2", "x" * 249])
def test_topic_boundaries_are_accepted(stack, topic):
    KafkaConsumer(stack, "Consume", function=make_function(stack), topic=topic, cluster_arn=CLUSTER)


@pytest.mark.parametrize("group", ["", "a b", "x" * 201, "group#1"])
def test_bad_consumer_group_ids_are_rejected(stack, group):
    assert settings_of(stack, consumer_group_id=group) == ["consumer_group_id"]


@pytest.mark.parametrize("group", ["g", "a-b/c*d:e_f+g=h.i@j", "x" * 200])
def test_consumer_group_id_boundaries_are_accepted(stack, group):
    KafkaConsumer(
        stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER, consumer_group_id=group
    )
    assert mapping(stack)["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": group}


@pytest.mark.parametrize(
    ("config", "settings"),
    [
        (lambda_.ProvisionedPollerConfig(minimum_pollers=0), ["provisioned_poller_config.minimum_pollers"]),
        (lambda_.ProvisionedPollerConfig(minimum_pollers=201), ["provisioned_poller_config.minimum_pollers"]),
        (lambda_.ProvisionedPollerConfig(maximum_pollers=0), ["provisioned_poller_config.maximum_pollers"]),
        (lambda_.ProvisionedPollerConfig(maximum_pollers=2001), ["provisioned_poller_config.maximum_pollers"]),
        (
            lambda_.ProvisionedPollerConfig(minimum_pollers=5, maximum_pollers=4),
            ["provisioned_poller_config.maximum_pollers"],
        ),
        (
            lambda_.ProvisionedPollerConfig(minimum_pollers=201, maximum_pollers=2001),
            ["provisioned_poller_config.minimum_pollers", "provisioned_poller_config.maximum_pollers"],
        ),
        ({"minimum_pollers": 1}, ["provisioned_poller_config"]),
    ],
)
def test_bad_poller_configs_are_rejected(stack, config, settings):
    assert settings_of(stack, provisioned_poller_config=config) == settings


@pytest.mark.parametrize(("low", "high"), [(1, 1), (200, 2000), (1, 2000), (200, 200)])
def test_poller_boundaries_are_accepted(stack, low, high):
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        provisioned_poller_config=lambda_.ProvisionedPollerConfig(
            minimum_pollers=low, maximum_pollers=high, poller_group_name="orders-pollers"
        ),
    )
    assert mapping(stack)["ProvisionedPollerConfig"] == {
        "MinimumPollers": low,
        "MaximumPollers": high,
        "PollerGroupName": "orders-pollers",
    }


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("retry_attempts", -2),
        ("retry_attempts", 10_001),
        ("max_record_age", cdk.Duration.seconds(59)),
        ("max_record_age", cdk.Duration.seconds(604_801)),
        ("batch_size", 0),
        ("batch_size", 10_001),
        ("max_batching_window", cdk.Duration.seconds(301)),
        ("retry_attempts", None),
        ("max_record_age", None),
        ("offset_lag_alarm_threshold", 0),
    ],
)
def test_out_of_range_values_are_rejected(stack, setting, value):
    assert settings_of(stack, **{setting: value}) == [setting]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"retry_attempts": 0, "max_record_age": cdk.Duration.seconds(60)}, (0, 60)),
        ({"retry_attempts": 10_000, "max_record_age": cdk.Duration.days(7)}, (10_000, 604_800)),
        ({"retry_attempts": INFINITE, "max_record_age": INFINITE}, (-1, -1)),
    ],
)
def test_retry_and_age_boundaries_are_accepted(stack, kwargs, expected):
    KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER, **kwargs)
    properties = mapping(stack)
    assert (properties["MaximumRetryAttempts"], properties["MaximumRecordAgeInSeconds"]) == expected


def test_tokens_are_not_range_checked(stack):
    retries = cdk.CfnParameter(stack, "Retries", type="Number").value_as_number
    batch = cdk.CfnParameter(stack, "Batch", type="Number").value_as_number
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        retry_attempts=retries,
        batch_size=batch,
    )
    assert mapping(stack)["MaximumRetryAttempts"] == {"Ref": "Retries"}


def test_access_rules(stack):
    secret = secretsmanager.Secret(stack, "Credentials")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)
    group = ec2.SecurityGroup(stack, "Group", vpc=vpc)
    # MSK: only SCRAM-512 and mutual TLS, and no VPC or root CA settings (Lambda uses the cluster's).
    assert settings_of(stack, secret=secret, authentication=KafkaAuthentication.SASL_SCRAM_256) == ["authentication"]
    assert settings_of(stack, authentication=KafkaAuthentication.MUTUAL_TLS) == ["secret"]
    assert settings_of(stack, vpc=vpc, security_groups=[group], root_ca_certificate=secret) == [
        "root_ca_certificate",
        "vpc",
        "security_groups",
    ]
    # Self-managed: subnets and security groups only with a VPC, and a VPC needs security groups.
    assert settings_of(stack, bootstrap_servers=BROKERS, security_groups=[group]) == ["security_groups"]
    assert settings_of(stack, bootstrap_servers=BROKERS, vpc=vpc) == ["security_groups"]
    assert settings_of(stack, bootstrap_servers=BROKERS, secret="arn:aws:secretsmanager:x") == ["secret"]


def test_starting_position_rules(stack):
    assert settings_of(stack, starting_position=lambda_.StartingPosition.AT_TIMESTAMP) == [
        "starting_position_timestamp"
    ]
    assert settings_of(stack, starting_position_timestamp=1_700_000_000) == ["starting_position_timestamp"]
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        starting_position=lambda_.StartingPosition.AT_TIMESTAMP,
        starting_position_timestamp=1_700_000_000,
    )
    assert mapping(stack)["StartingPositionTimestamp"] == 1_700_000_000


def test_every_violation_is_reported_at_once_with_path_range_and_value(stack):
    violations = violations_of(
        stack,
        topic=".x",
        retry_attempts=20_000,
        batch_size=0,
        provisioned_poller_config=lambda_.ProvisionedPollerConfig(minimum_pollers=300),
        on_success=sqs.Queue(stack, "Done"),
    )
    assert [setting for setting, _ in violations] == [
        "topic",
        "batch_size",
        "retry_attempts",
        "provisioned_poller_config.minimum_pollers",
        "on_success",
    ]
    assert dict(violations)["retry_attempts"] == (
        "Orders/Consume: retry_attempts must be -1 (infinite) or between 0 and 10000 for Amazon MSK and self-managed "
        "Apache Kafka event source mappings, got 20000"
    )
    assert stack.node.try_find_child("Consume") is None


# --- alarms --------------------------------------------------------------------------------------------------


def test_alarms_watch_the_mappings_own_metrics_by_its_uuid(stack):
    consumer = KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER)
    uuid = {"Ref": stack.get_logical_id(consumer.event_source_mapping)}
    alarms = {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    }
    for name, statistic, threshold in (
        ("MaxOffsetLag", "Maximum", 10_000),
        ("DroppedEventCount", "Sum", 1),
        ("OnFailureDestinationDeliveryErrorCount", "Sum", 1),
    ):
        assert alarms[name]["Namespace"] == "AWS/Lambda"
        assert alarms[name]["Dimensions"] == [{"Name": "EventSourceMappingUUID", "Value": uuid}]
        assert (alarms[name]["Statistic"], alarms[name]["Threshold"]) == (statistic, threshold)
        assert alarms[name]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarms["MaxOffsetLag"]["TreatMissingData"] == "ignore"
    assert alarms["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": ref(stack, consumer.function)}}]
    assert [a.node.id for a in consumer.alarms] == [
        "MessagesWaitingAlarm",
        "OldestMessageAgeAlarm",
        "ErrorsAlarm",
        "OffsetLagAlarm",
        "DroppedEventsAlarm",
        "OnFailureDeliveryErrorsAlarm",
    ]


def test_a_plain_queue_failure_home_gets_its_queue_alarms_and_actions_reach_every_alarm(stack):
    consumer = KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        on_failure=sqs.Queue(stack, "Home", enforce_ssl=True),
        offset_lag_alarm_threshold=500,
    )
    assert [a.node.id for a in consumer.alarms][-2:] == [
        "OnFailureMessagesWaitingAlarm",
        "OnFailureOldestMessageAgeAlarm",
    ]
    topic = sns.Topic(stack, "OnCall", enforce_ssl=True)
    consumer.add_alarm_action(topic)
    for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": ref(stack, topic)}]
    lag = next(a for a in consumer.alarms if a.node.id == "OffsetLagAlarm")
    assert lag.node.default_child.threshold == 500


def test_alarms_false_creates_none_and_enables_no_billed_metrics(stack):
    consumer = KafkaConsumer(
        stack, "Consume", function=make_function(stack), topic="orders", cluster_arn=CLUSTER, alarms=False
    )
    assert consumer.alarms == []
    assert Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm") == {}
    assert "MetricsConfig" not in mapping(stack)


# --- the world: cross-stack, imported and encrypted resources --------------------------------------------------


def test_a_cluster_of_another_stack_is_referenced_across_stacks_and_both_templates_lint_clean():
    app = new_app()
    platform = cdk.Stack(app, "Platform")
    cluster = msk.CfnCluster(
        platform,
        "Cluster",
        cluster_name="orders",
        kafka_version="3.6.0",
        number_of_broker_nodes=2,
        broker_node_group_info=msk.CfnCluster.BrokerNodeGroupInfoProperty(
            client_subnets=["subnet-1", "subnet-2"], instance_type="kafka.m5.large"
        ),
    )
    orders = cdk.Stack(app, "Orders")
    function = make_function(orders)
    KafkaConsumer(orders, "Consume", function=function, topic="orders", cluster_arn=cluster.attr_arn)

    reference = mapping(orders)["EventSourceArn"]  # a cross-stack reference (Fn::GetStackOutput with cdk.json's flags)
    assert set(reference) & {"Fn::ImportValue", "Fn::GetStackOutput"}
    # CloudFormation cannot split a cross-stack reference: the topic is named in any cluster of the account/region.
    topic_grant = next(s for s in role_statements(orders, function) if "kafka-cluster:ReadData" in s["Action"])
    assert topic_grant["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":kafka:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":topic/*/*/orders",
            ],
        ]
    }
    assert lint_template(Template.from_stack(orders).to_json()) == []
    assert lint_template(Template.from_stack(platform).to_json()) == []


def test_imported_secrets_get_a_key_grant_only_when_imported_with_their_key(stack):
    function = make_function(stack)
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    with_key = secretsmanager.Secret.from_secret_attributes(
        stack,
        "WithKey",
        secret_complete_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-AbCdEf",
        encryption_key=key,
    )
    KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, secret=with_key)
    statements = role_statements(stack, function)
    assert allow("kms:Decrypt", key.key_arn) in statements
    assert allow("secretsmanager:GetSecretValue", with_key.secret_arn) in statements

    other = cdk.Stack(new_app(), "Other")
    function = make_function(other)
    without_key = secretsmanager.Secret.from_secret_complete_arn(
        other, "WithoutKey", "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-AbCdEf"
    )
    KafkaConsumer(other, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, secret=without_key)
    assert [s for s in role_statements(other, function) if "kms:" in str(s["Action"])] == []


def test_an_imported_function_with_its_role_is_granted_on_that_role(stack):
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:role/consumer")
    imported = lambda_.Function.from_function_attributes(
        stack, "Imported", function_arn="arn:aws:lambda:us-east-1:123456789012:function:consume", role=role
    )
    consumer = KafkaConsumer(stack, "Consume", function=imported, topic="orders", cluster_arn=CLUSTER)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    assert all(policy["Properties"]["Roles"] == ["consumer"] for policy in policies.values())
    assert len(network_policies(stack)) == 1
    assert mapping(stack)["FunctionName"] == "consume"
    assert consumer.failure_queue is not None


def test_an_encrypted_bucket_and_a_queue_imported_by_token_are_accepted_failure_homes(stack):
    function = make_function(stack)
    key = kms.Key(stack, "BucketKey", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Failures", encryption_key=key, enforce_ssl=True)
    KafkaConsumer(stack, "Consume", function=function, topic="orders", cluster_arn=CLUSTER, on_failure=bucket)
    assert allow(["kms:Decrypt", "kms:GenerateDataKey"], arn_of(stack, key)) in role_statements(stack, function)

    other = cdk.Stack(new_app(), "Other")
    queue_arn = cdk.CfnParameter(other, "QueueArn").value_as_string
    queue = sqs.Queue.from_queue_arn(other, "Imported", queue_arn)
    KafkaConsumer(
        other, "Consume", function=make_function(other), topic="orders", cluster_arn=CLUSTER, on_failure=queue
    )
    assert mapping(other)["DestinationConfig"] == {"OnFailure": {"Destination": {"Ref": "QueueArn"}}}


def test_bootstrap_servers_from_parameters_are_not_guessed(stack):
    servers = cdk.CfnParameter(stack, "Servers", type="CommaDelimitedList").value_as_list
    KafkaConsumer(stack, "Consume", function=make_function(stack), topic="orders", bootstrap_servers=servers)
    assert mapping(stack)["SelfManagedEventSource"] == {"Endpoints": {"KafkaBootstrapServers": {"Ref": "Servers"}}}
    one = cdk.CfnParameter(stack, "One").value_as_string
    KafkaConsumer(
        stack,
        "Mixed",
        function=make_function(stack, "MixedFunction"),
        topic="orders",
        bootstrap_servers=[one, "b:9092"],
    )
    assert settings_of(stack, bootstrap_servers=[one, "no-port"]) == ["bootstrap_servers"]


@pytest.mark.parametrize(("batch", "window"), [(1, 0), (10_000, 300)])
def test_batch_size_and_window_boundaries_are_accepted(stack, batch, window):
    KafkaConsumer(
        stack,
        "Consume",
        function=make_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        batch_size=batch,
        max_batching_window=cdk.Duration.seconds(window),
    )
    assert (mapping(stack)["BatchSize"], mapping(stack)["MaximumBatchingWindowInSeconds"]) == (batch, window)


# --- roles that cannot take policies ---------------------------------------------------------------------------


def immutable_role_function(stack: cdk.Stack) -> lambda_.IFunction:
    role = iam.Role.from_role_arn(stack, "FixedRole", "arn:aws:iam::123456789012:role/platform-managed", mutable=False)
    return lambda_.Function.from_function_attributes(
        stack, "Imported", function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders", role=role
    )


def test_a_role_that_cannot_take_policies_is_an_error_and_nothing_is_created(stack):
    found = violations_of(stack, function=immutable_role_function(stack))
    assert [setting for setting, _ in found] == ["function"]
    assert "grants_managed_elsewhere=True" in found[0][1]
    assert not [child for child in stack.node.children if isinstance(child, KafkaConsumer)]


def test_grants_managed_elsewhere_adds_nothing_to_the_role_and_lists_the_permissions(stack):
    consumer = KafkaConsumer(
        stack,
        "Consume",
        function=immutable_role_function(stack),
        topic="orders",
        cluster_arn=CLUSTER,
        grants_managed_elsewhere=True,
    )
    assert Template.from_stack(stack).find_resources("AWS::IAM::Policy") == {}
    assert consumer.network_policy is None
    infos = " ".join(str(entry.entry.data) for entry in Annotations.from_stack(stack).find_info("*", Match.any_value()))
    assert "kafka:GetBootstrapBrokers" in infos and "kafka-cluster:ReadData" in infos
    assert "ec2:CreateNetworkInterface" in infos and "sqs:SendMessage" in infos


def test_grants_managed_elsewhere_must_be_a_bool(stack):
    assert settings_of(stack, grants_managed_elsewhere="yes") == ["grants_managed_elsewhere"]
