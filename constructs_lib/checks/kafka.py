"""Rules for Kafka event source mappings (Amazon MSK and self-managed Apache Kafka).

A Kafka mapping is recognised by its source: an MSK cluster (an ``arn:...:kafka:...`` ARN or an
``AWS::MSK::Cluster`` / ``AWS::MSK::ServerlessCluster`` of the template), or a ``SelfManagedEventSource`` with
``Topics``. The stream rules do not apply to it as written, because Kafka differs in two ways (see
``constructs_lib.limits``): its error handling controls exist only in provisioned mode (``ProvisionedPollerConfig``),
and Lambda caps infinite retries at 10 when the mapping has an on-failure destination, so "retries forever" needs
infinite retries, infinite record age *and* no destination.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import MappingView, TemplateView, arn_service, number, truthy
from constructs_lib.limits import (
    INFINITE,
    KAFKA_PROVISIONED_ONLY,
    LIMITS,
    UNRESOLVED,
    check_kafka_pollers,
    check_limit,
    kafka_effective_retries,
    kafka_on_failure_topic,
)

MSK_CLUSTER_TYPES = frozenset({"AWS::MSK::Cluster", "AWS::MSK::ServerlessCluster"})
KAFKA_RANGES = ("mapping.batch_size", "mapping.max_batching_window", "kafka.retry_attempts", "kafka.max_record_age")


def is_kafka_mapping(view: TemplateView, properties: Mapping[str, Any]) -> bool:
    """Whether an event source mapping reads Kafka (MSK or self-managed)."""
    if properties.get("SelfManagedEventSource") and properties.get("Topics"):
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
