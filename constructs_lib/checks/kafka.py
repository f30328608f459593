"""Rules for Kafka event source mappings (Amazon MSK and self-managed Apache Kafka).

A Kafka mapping is recognised by its ``Topics`` (a Kafka-only property) or its source: an MSK cluster (an
``arn:...:kafka:...`` ARN or an ``AWS::MSK::Cluster`` / ``AWS::MSK::ServerlessCluster`` of the template). The
stream rules do not apply to it as written, because Kafka differs in two ways (see ``constructs_lib.limits``): its
error handling controls exist only in provisioned mode (``ProvisionedPollerConfig``), and Lambda caps infinite
retries at 10 when the mapping has an on-failure destination, so "retries forever" needs infinite retries,
infinite record age *and* no destination.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from constructs_lib.checks.iam import KNOWN_MANAGED_POLICIES, role_grants
from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import MappingView, TemplateView, arn_service, as_mapping, number, truthy
from constructs_lib.limits import (
    INFINITE,
    KAFKA_NETWORK_ACTIONS,
    KAFKA_PROVISIONED_ONLY,
    KAFKA_ROOT_CA_ACCESS_TYPE,
    LIMITS,
    MSK_IAM_CLUSTER_ACTIONS,
    SECRET_READ_ACTIONS,
    UNRESOLVED,
    KafkaAuthentication,
    check_kafka_pollers,
    check_limit,
    kafka_effective_retries,
    kafka_on_failure_topic,
)

MSK_CLUSTER_TYPES = frozenset({"AWS::MSK::Cluster", "AWS::MSK::ServerlessCluster"})
KAFKA_RANGES = ("mapping.batch_size", "mapping.max_batching_window", "kafka.retry_attempts", "kafka.max_record_age")


def is_kafka_mapping(view: TemplateView, properties: Mapping[str, Any]) -> bool:
    """Whether an event source mapping reads Kafka (MSK or self-managed). ``Topics`` is a Kafka-only property, so it
    also tells a cluster given by a reference the template cannot follow (a cross-stack output, a parameter)."""
    if properties.get("Topics"):
        return True
    source = properties.get("EventSourceArn")
    if view.type_of(view.referenced_id(source)) in MSK_CLUSTER_TYPES:
        return True
    rendered = view.render(source)
    return rendered is not None and arn_service(rendered) == "kafka"


def kafka_mappings(view: TemplateView) -> Iterator[MappingView]:
    for mapping in view.mappings:
        if is_kafka_mapping(view, mapping.properties):
            yield mapping


def _provisioned(properties: Mapping[str, Any]) -> bool:
    return bool(properties.get("ProvisionedPollerConfig"))


def _destination(properties: Mapping[str, Any]) -> Any:
    return ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")


def _effective_retries(properties: Mapping[str, Any]) -> object:
    """MaximumRetryAttempts as Lambda applies it (infinite becomes 10 with an on-failure destination)."""
    retries = number(properties.get("MaximumRetryAttempts"))
    if retries is UNRESOLVED:
        return retries
    return kafka_effective_retries(retries, has_destination=bool(_destination(properties)))


def _infinite(value: object) -> bool:
    checked = number(value)
    return checked is None or checked == INFINITE


def _bounded(value: object) -> bool:
    checked = number(value)
    return checked is not None and checked is not UNRESOLVED and checked != INFINITE


@rule(
    "KafkaUnboundedRetries",
    Level.ERROR,
    explanation="A Kafka mapping in provisioned mode with infinite retries, infinite record age and no on-failure "
    "destination retries a poison pill until its record leaves the topic, and its partition waits meanwhile. With a "
    "destination Lambda caps infinite retries at 10, so that one is bounded.",
    fix="Bound MaximumRetryAttempts or MaximumRecordAgeInSeconds, or set DestinationConfig.OnFailure; KafkaConsumer "
    "does all three by default.",
)
def kafka_unbounded_retries(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        properties = mapping.properties
        retries = _effective_retries(properties)
        if _provisioned(properties) and _infinite(retries) and _infinite(properties.get("MaximumRecordAgeInSeconds")):
            yield (
                mapping.logical_id,
                "Kafka mapping retries forever: MaximumRetryAttempts and MaximumRecordAgeInSeconds are both infinite "
                "(-1 or not set) and it has no on-failure destination",
            )


@rule(
    "KafkaNoFailureDestination",
    Level.ERROR,
    explanation="A Kafka mapping that gives up on records (bounded retries or record age) without an on-failure "
    "destination drops them silently.",
    fix="Set DestinationConfig.OnFailure to a standard SQS queue or SNS topic, an S3 bucket or 'kafka://<topic>' "
    "(KafkaConsumer's default is a FailureQueue).",
)
def kafka_no_failure_destination(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        properties = mapping.properties
        gives_up = _bounded(properties.get("MaximumRetryAttempts")) or _bounded(
            properties.get("MaximumRecordAgeInSeconds")
        )
        if _provisioned(properties) and gives_up and not _destination(properties):
            yield mapping.logical_id, "Kafka mapping gives up on records but has no on-failure destination"


@rule(
    "KafkaOnDemandNoErrorHandling",
    Level.WARNING,
    explanation="In on-demand mode Lambda offers Kafka no error handling controls: a batch that keeps failing is "
    "retried until it succeeds or its records leave the topic, and blocks its partition meanwhile.",
    fix="Use provisioned mode (ProvisionedPollerConfig) with bisect, bounded retries and record age and an on-failure "
    "destination (KafkaConsumer's default), or acknowledge the stall knowingly.",
)
def kafka_on_demand(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        if not _provisioned(mapping.properties):
            yield mapping.logical_id, "Kafka mapping in on-demand mode has no bisect, retry or record age controls"


@rule(
    "KafkaProvisionedOnlySetting",
    Level.ERROR,
    explanation="Lambda accepts retries, record age, bisect, ReportBatchItemFailures and a Kafka topic destination "
    "for Kafka mappings only in provisioned mode.",
    fix="Add ProvisionedPollerConfig, or remove the setting.",
)
def kafka_provisioned_only_setting(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        properties = mapping.properties
        if _provisioned(properties):
            continue
        given = [name for name in KAFKA_PROVISIONED_ONLY.values() if properties.get(name) is not None]
        if kafka_on_failure_topic(_destination(properties)) is not None:
            given.append("DestinationConfig.OnFailure (a Kafka topic)")
        if given:
            yield mapping.logical_id, f"Kafka mapping in on-demand mode sets {', '.join(given)}"


@rule(
    "KafkaFailureTopicIsSource",
    Level.ERROR,
    explanation="Lambda refuses a Kafka topic destination that is one of the mapping's source topics (a loop).",
    fix="Send failed records to another topic of the same cluster, e.g. '<topic>-failures'.",
)
def kafka_failure_topic_is_source(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        topic = kafka_on_failure_topic(_destination(mapping.properties))
        topics = mapping.properties.get("Topics") or []
        if topic is not None and isinstance(topics, list) and topic in topics:
            yield mapping.logical_id, f"Kafka mapping sends failed records back to its source topic {topic}"


@rule(
    "KafkaOutOfRange",
    Level.ERROR,
    explanation="A value outside AWS's limits for Kafka mappings fails at deploy time.",
    fix="Use a value within the range the message gives.",
)
def kafka_out_of_range(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        properties = mapping.properties
        found = []
        for key in KAFKA_RANGES:
            limit = LIMITS[key]
            value = number(properties.get(limit.cfn_property))
            found += check_limit(limit, value, path=mapping.logical_id, setting=limit.cfn_property)
        pollers = properties.get("ProvisionedPollerConfig")
        if isinstance(pollers, Mapping):
            found += check_kafka_pollers(
                number(pollers.get("MinimumPollers")),
                number(pollers.get("MaximumPollers")),
                path=mapping.logical_id,
                setting="ProvisionedPollerConfig",
            )
        for violation in found:
            yield mapping.logical_id, f"{violation.setting} must be {violation.allowed}, got {violation.given}"


@rule(
    "KafkaNoBisect",
    Level.WARNING,
    explanation="Without bisecting, a whole Kafka batch is retried and parked for one bad record.",
    fix="Set BisectBatchOnFunctionError to true (provisioned mode); splitting does not consume retries.",
)
def kafka_no_bisect(view: TemplateView) -> Iterator[tuple[str, str]]:
    for mapping in kafka_mappings(view):
        properties = mapping.properties
        bisects = truthy(properties.get("BisectBatchOnFunctionError", False))
        if _provisioned(properties) and _bounded(_effective_retries(properties)) and bisects is False:
            yield mapping.logical_id, "Kafka mapping with bounded retries does not bisect failed batches"


# --- permissions ------------------------------------------------------------------------------------------------

# The AWS managed policy aws-cdk's ManagedKafkaEventSource attaches, as the AWS Managed Policy reference gives it
# (version 2): without it a role holding the policy could not be checked at all. Registered here so the Kafka rules
# stay in this module; checks/iam.py reads the table.
KNOWN_MANAGED_POLICIES.setdefault(
    "AWSLambdaMSKExecutionRole",
    [
        {
            "Effect": "Allow",
            "Action": [
                "kafka:DescribeCluster",
                "kafka:DescribeClusterV2",
                "kafka:GetBootstrapBrokers",
                *KAFKA_NETWORK_ACTIONS,
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
)

_AUTHENTICATION_TYPES = frozenset(authentication.value for authentication in KafkaAuthentication)
_SECRET_TYPES = _AUTHENTICATION_TYPES | {KAFKA_ROOT_CA_ACCESS_TYPE}


def _msk_resource(cluster_arn: str, kind: str, name: str) -> str:
    return cluster_arn.replace(":cluster/", f":{kind}/", 1) + f"/{name}"


def cluster_uses_iam_authentication(view: TemplateView, source: object) -> bool | None:
    """Whether the MSK cluster a mapping reads uses IAM access control: read from the cluster when it is a resource
    of the template (a serverless cluster supports IAM only; a provisioned one says so in
    ``ClientAuthentication.Sasl.Iam.Enabled``), ``None`` for a cluster outside the template."""
    cluster_id = view.referenced_id(source)
    kind = view.type_of(cluster_id)
    if kind == "AWS::MSK::ServerlessCluster":
        return True
    if cluster_id is None or kind != "AWS::MSK::Cluster":
        return None
    authentication = as_mapping(view.properties(cluster_id).get("ClientAuthentication"))
    iam = as_mapping(as_mapping(authentication.get("Sasl")).get("Iam"))
    return truthy(iam.get("Enabled"))


def _kafka_needs(view: TemplateView, mapping: MappingView) -> Iterator[tuple[tuple[str, ...], str, str, bool]]:
    """(actions, canonical resource, what, needed only with IAM authentication) a Kafka mapping's role needs, as
    far as the template tells."""
    properties = mapping.properties
    access = [a for a in properties.get("SourceAccessConfigurations") or [] if isinstance(a, Mapping)]
    for entry in access:
        if entry.get("Type") in _SECRET_TYPES:
            secret = view.render(entry.get("URI"))
            if secret is not None:
                yield SECRET_READ_ACTIONS, secret, f"the {entry['Type']} secret", False
    self_managed = "SelfManagedEventSource" in properties
    if any(entry.get("Type") == "VPC_SUBNET" for entry in access) or not self_managed:
        yield ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"), "*", "the network interfaces", False
    if self_managed:
        return
    cluster = view.render(properties.get("EventSourceArn"))
    if cluster is None:
        return
    yield ("kafka:GetBootstrapBrokers",), cluster, "the MSK cluster", False
    if any(entry.get("Type") in _AUTHENTICATION_TYPES for entry in access):
        return  # SASL/SCRAM or mutual TLS: the brokers' ACLs decide, not IAM
    yield MSK_IAM_CLUSTER_ACTIONS, cluster, "the MSK cluster (IAM authentication)", True
    if not (cluster.startswith("arn:") and ":cluster/" in cluster):
        return  # a cluster of this template: its topic and group ARNs cannot be spelled here
    topics = properties.get("Topics") or []
    for topic in topics if isinstance(topics, list) else []:
        if isinstance(topic, str):
            yield ("kafka-cluster:ReadData",), _msk_resource(cluster, "topic", topic), f"the topic {topic}", True
    config = properties.get("AmazonManagedKafkaEventSourceConfig") or {}
    group = config.get("ConsumerGroupId") if isinstance(config, Mapping) else None
    # Without a ConsumerGroupId Lambda names the group itself: only a grant on every group can cover it.
    group_name = group if isinstance(group, str) else "*"
    group_resource = _msk_resource(cluster, "group", group_name)
    yield ("kafka-cluster:AlterGroup",), group_resource, f"the consumer group {group_name}", True
    failure_topic = kafka_on_failure_topic(_destination(properties))
    if failure_topic is not None:
        yield (
            ("kafka-cluster:WriteData",),
            _msk_resource(cluster, "topic", failure_topic),
            f"the failure topic {failure_topic}",
            True,
        )


def _missing_permissions(view: TemplateView, *, unknown_authentication: bool) -> Iterator[tuple[str, str]]:
    """The grants a Kafka mapping's role lacks. ``unknown_authentication=False``: those certainly needed (IAM
    authentication's only for a cluster of the template that uses it); ``True``: those IAM authentication would
    need on a cluster outside the template, whose authentication cannot be read."""
    for mapping in kafka_mappings(view):
        function_id = mapping.function_id
        grants = role_grants(view, function_id) if function_id else None
        if function_id is None or grants is None:
            continue
        uses_iam = cluster_uses_iam_authentication(view, mapping.properties.get("EventSourceArn"))
        for actions, resource, what, iam_only in _kafka_needs(view, mapping):
            if unknown_authentication != (iam_only and uses_iam is None):
                continue
            if iam_only and uses_iam is False:
                continue
            missing = [action for action in actions if not grants.allows(view, action, resource)]
            if missing:
                yield (
                    function_id,
                    (f"the function's role lacks {', '.join(missing)} on {what} of {mapping.logical_id}"),
                )


@rule(
    "KafkaMissingPermission",
    Level.ERROR,
    explanation="Lambda's Kafka pollers use the function's execution role: to find the MSK brokers, to create their "
    "network interfaces, to read secrets and, with IAM authentication (a serverless cluster, or a provisioned one "
    "of the template with IAM access control on), to connect, read the topic, join the consumer group and write "
    "to a Kafka failure topic. Without the grant the mapping never reads.",
    fix="Grant the listed actions on that resource to the function's role (KafkaConsumer does it).",
)
def kafka_missing_permission(view: TemplateView) -> Iterator[tuple[str, str]]:
    yield from _missing_permissions(view, unknown_authentication=False)


@rule(
    "KafkaIamAuthenticationPermission",
    Level.WARNING,
    explanation="The MSK cluster is outside the template, so whether it uses IAM access control cannot be read. "
    "If it does (the console's default for new clusters), Lambda's pollers need kafka-cluster:Connect, "
    "DescribeGroup, AlterGroup, DescribeTopic and ReadData (and WriteData on a Kafka failure topic) on the "
    "cluster, topic and group, or the mapping never reads; with SASL/SCRAM or mutual TLS the mapping names its "
    "secret instead, and an unauthenticated cluster needs none of them.",
    fix="If the cluster uses IAM authentication, grant the listed actions to the function's role (KafkaConsumer "
    "does it); otherwise acknowledge this warning on the mapping with that reason.",
)
def kafka_iam_authentication_permission(view: TemplateView) -> Iterator[tuple[str, str]]:
    yield from _missing_permissions(view, unknown_authentication=True)
