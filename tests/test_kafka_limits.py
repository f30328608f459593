"""The Kafka facts of constructs_lib.limits: pure checks, no CDK needed."""

import pytest

from constructs_lib.limits import (
    INFINITE,
    KAFKA_INFINITE_RETRIES_WITH_DESTINATION,
    LIMITS,
    UNRESOLVED,
    check_kafka_bootstrap_servers,
    check_kafka_consumer_group_id,
    check_kafka_pollers,
    check_kafka_topic,
    kafka_effective_retries,
    kafka_on_failure_topic,
)


def test_kafka_reuses_the_stream_ranges_with_its_own_wording():
    for setting in ("retry_attempts", "max_record_age"):
        kafka, stream = LIMITS[f"kafka.{setting}"], LIMITS[f"stream.{setting}"]
        assert (kafka.minimum, kafka.maximum, kafka.infinite_allowed) == (stream.minimum, stream.maximum, True)
        assert kafka.applies_to == "Amazon MSK and self-managed Apache Kafka event source mappings"


@pytest.mark.parametrize(
    ("topic", "source_ok", "destination_ok"),
    [
        ("o", False, True),  # CloudFormation's Topics pattern needs two characters; kafka://o is accepted
        ("or", True, True),
        ("x" * 249, True, True),
        ("x" * 250, False, False),
        (".orders", False, False),
        ("orders v1", False, False),
        ("", False, False),
        (None, False, False),
    ],
)
def test_topic_names(topic, source_ok, destination_ok):
    assert (check_kafka_topic(topic, path="p", setting="t", source=True) == []) is source_ok
    assert (check_kafka_topic(topic, path="p", setting="t", source=False) == []) is destination_ok


def test_failure_topic_strings():
    assert kafka_on_failure_topic("kafka://orders-dlt") == "orders-dlt"
    assert kafka_on_failure_topic("arn:aws:sqs:us-east-1:123456789012:q") is None
    assert kafka_on_failure_topic({"Ref": "Queue"}) is None


@pytest.mark.parametrize(
    ("group", "ok"), [("g", True), ("x" * 200, True), ("x" * 201, False), ("a b", False), ("", False)]
)
def test_consumer_group_ids(group, ok):
    assert (check_kafka_consumer_group_id(group, path="p") == []) is ok


def test_bootstrap_servers_report_each_bad_entry():
    violations = check_kafka_bootstrap_servers(["b-1.example.com:9092", "no-port", "-bad.example.com:9092"], path="p")
    assert [v.given for v in violations] == ["'no-port'", "'-bad.example.com:9092'"]


@pytest.mark.parametrize(
    ("minimum", "maximum", "count"),
    [(1, 2000, 0), (200, None, 0), (None, 1, 0), (201, None, 1), (None, 2001, 1), (3, 2, 1), (UNRESOLVED, 1, 0)],
)
def test_pollers(minimum, maximum, count):
    assert len(check_kafka_pollers(minimum, maximum, path="p")) == count


def test_infinite_retries_are_capped_when_there_is_a_destination():
    assert kafka_effective_retries(INFINITE, has_destination=True) == KAFKA_INFINITE_RETRIES_WITH_DESTINATION == 10
    assert kafka_effective_retries(None, has_destination=True) == 10
    assert kafka_effective_retries(None, has_destination=False) == INFINITE
    assert kafka_effective_retries(3, has_destination=True) == 3
