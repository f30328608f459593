"""The pure limits layer: ranges as data, token-aware checks, destination rules. No CDK needed."""

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from constructs_lib.errors import ValidationError, Violation, raise_if_any
from constructs_lib.limits import (
    DESTINATIONS,
    FILTER_METADATA_KEYS,
    FILTERABLE_KEYS,
    INFINITE,
    LIMITS,
    UNRESOLVED,
    DestinationKind,
    Invalid,
    check_dead_letter_retention,
    check_destination,
    check_filter_patterns,
    check_limit,
    check_redrive_pairing,
)

RANGES = {
    "async.retry_attempts": (0, 2),
    "async.max_event_age": (60, 21_600),
    "mapping.batch_size": (1, 10_000),
    "mapping.max_batching_window": (0, 300),
    "stream.retry_attempts": (0, 10_000),
    "stream.max_record_age": (60, 604_800),
    "stream.parallelization_factor": (1, 10),
    "stream.tumbling_window": (0, 900),
    "sqs.max_concurrency": (2, 1_000),
    "sqs_fifo.batch_size": (1, 10),
    "sqs.max_receive_count": (1, 1_000),
    "kafka.retry_attempts": (0, 10_000),
    "kafka.max_record_age": (60, 604_800),
    "kafka.minimum_pollers": (1, 200),
    "kafka.maximum_pollers": (1, 2_000),
    "sqs.minimum_pollers": (2, 200),
    "sqs.maximum_pollers": (2, 10_000),
}


def test_the_table_holds_aws_documented_ranges():
    assert {key: (limit.minimum, limit.maximum) for key, limit in LIMITS.items()} == RANGES
    assert {key for key, limit in LIMITS.items() if limit.infinite_allowed} == {
        "stream.retry_attempts",
        "stream.max_record_age",
        "kafka.retry_attempts",
        "kafka.max_record_age",
    }


def test_the_pure_layers_import_without_cdk_or_jsii():
    code = (
        "import sys, constructs_lib.limits, constructs_lib.errors; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'constructs')); "
        "print(loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("key", sorted(RANGES))
def test_boundaries_are_accepted_and_their_neighbours_rejected(key):
    limit = LIMITS[key]
    for accepted in (limit.minimum, limit.maximum):
        assert check_limit(limit, accepted, path="S/C", setting="x") == []
    for rejected in (limit.minimum - 1, limit.maximum + 1):
        if limit.infinite_allowed and rejected == INFINITE:
            continue
        assert len(check_limit(limit, rejected, path="S/C", setting="x")) == 1, rejected


@pytest.mark.parametrize("key", sorted(RANGES))
def test_unset_and_unresolved_values_are_never_checked(key):
    assert check_limit(LIMITS[key], None, path="S/C", setting="x") == []
    assert check_limit(LIMITS[key], UNRESOLVED, path="S/C", setting="x") == []


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_stream_record_age_allows_exactly_infinite_or_60_to_604800(value):
    violations = check_limit(LIMITS["stream.max_record_age"], value, path="S/C", setting="max_record_age")
    assert (violations == []) == (value == INFINITE or 60 <= value <= 604_800)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_async_retries_allow_exactly_0_to_2(value):
    violations = check_limit(LIMITS["async.retry_attempts"], value, path="S/C", setting="retry_attempts")
    assert (violations == []) == (0 <= value <= 2)


@given(st.floats(min_value=60, max_value=21_600, allow_nan=False).filter(lambda v: not v.is_integer()))
def test_fractional_seconds_are_rejected_as_not_whole(value):
    [violation] = check_limit(LIMITS["async.max_event_age"], value, path="S/C", setting="max_event_age")
    assert violation.allowed == "a whole number of seconds"


def test_record_age_below_60_is_rejected_although_the_schema_allows_it():
    [violation] = check_limit(LIMITS["stream.max_record_age"], 59, path="S/C", setting="max_record_age")
    assert str(violation) == (
        "S/C: max_record_age must be -1 (infinite) or between 60 and 604800 seconds for Kinesis and DynamoDB "
        "Streams event source mappings, got 59 seconds"
    )


def test_violation_message_names_path_setting_range_and_value():
    [violation] = check_limit(LIMITS["async.retry_attempts"], 5, path="Orders/Notify", setting="retry_attempts")
    assert violation == Violation("Orders/Notify", "retry_attempts", "between 0 and 2 for asynchronous invocation", "5")
    assert str(violation) == "Orders/Notify: retry_attempts must be between 0 and 2 for asynchronous invocation, got 5"


@pytest.mark.parametrize("value", ["3", True, float("nan")])
def test_values_that_are_not_numbers_are_rejected_with_their_repr(value):
    [violation] = check_limit(LIMITS["async.retry_attempts"], value, path="S/C", setting="retry_attempts")
    assert violation.given == repr(value)
    assert violation.allowed.startswith("a number")


def test_validation_error_lists_every_violation_one_per_line():
    violations = [Violation("A/B", "x", "between 0 and 2", "5"), Violation("A/B", "y", "True", "False")]
    with pytest.raises(ValidationError) as caught:
        raise_if_any(violations)
    assert caught.value.violations == tuple(violations)
    assert str(caught.value).splitlines() == ["A/B: x must be between 0 and 2, got 5", "A/B: y must be True, got False"]
    assert isinstance(caught.value, ValueError)
    raise_if_any([])  # nothing to raise


# --- destinations ----------------------------------------------------------------------------------------

ALL_KINDS = set(DestinationKind)


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        ("async.on_success", ALL_KINDS - {DestinationKind.S3_BUCKET}),
        ("async.on_failure", ALL_KINDS),
        ("function.dead_letter_queue", {DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC}),
        ("stream.on_failure", {DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC, DestinationKind.S3_BUCKET}),
    ],
)
def test_destination_kinds_per_role(rule, allowed):
    for kind in DestinationKind:
        violations = check_destination(DESTINATIONS[rule], kind, fifo=False, given="t", path="S/C", setting="s")
        assert (violations == []) == (kind in allowed), kind


@pytest.mark.parametrize("kind", [DestinationKind.SQS_QUEUE, DestinationKind.SNS_TOPIC])
@pytest.mark.parametrize("rule", sorted(DESTINATIONS))
def test_fifo_targets_are_rejected_in_every_role_and_unknown_fifo_is_accepted(rule, kind):
    [violation] = check_destination(
        DESTINATIONS[rule], kind, fifo=True, given=f"{kind} S/Q", path="S/C", setting="target"
    )
    assert violation.given == f"FIFO {kind} S/Q"
    assert "non-FIFO" in violation.allowed
    assert check_destination(DESTINATIONS[rule], kind, fifo=None, given="t", path="S/C", setting="target") == []


def test_unsupported_target_lists_what_is_allowed():
    [violation] = check_destination(
        DESTINATIONS["async.on_success"], None, fifo=None, given="Table S/T", path="S/C", setting="on_success"
    )
    assert str(violation) == (
        "S/C: on_success must be a standard SQS queue, a standard SNS topic, a Lambda function or an EventBridge "
        "event bus (on-success destination of asynchronous invocation), got Table S/T"
    )


def test_package_exports_load_lazily_and_completely():
    import constructs_lib

    assert set(constructs_lib.__all__) == set(constructs_lib._EXPORTS)
    for name in constructs_lib.__all__:
        assert getattr(constructs_lib, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        constructs_lib.Nope  # noqa: B018


# --- S3 failure homes, pollers, message sizes ---------------------------------------------------------------


def test_sqs_pollers_boundaries_and_order():
    from constructs_lib.limits import check_pollers

    assert check_pollers(2, 2, source="sqs", path="S/C") == []
    assert check_pollers(200, 10_000, source="sqs", path="S/C") == []
    assert check_pollers(UNRESOLVED, 2, source="sqs", path="S/C") == []
    low = check_pollers(1, 10_001, source="sqs", path="S/C")
    assert [v.setting for v in low] == [
        "provisioned_poller_config.minimum_pollers",
        "provisioned_poller_config.maximum_pollers",
    ]
    assert "between 2 and 200" in low[0].allowed and low[1].given == "10001"
    reversed_ = check_pollers(50, 10, source="sqs", path="S/C")
    assert [(v.setting, v.allowed, v.given) for v in reversed_] == [
        ("provisioned_poller_config.maximum_pollers", "at least minimum_pollers (50)", "10")
    ]
    # A minimum above AWS's default maximum of 200 with no maximum given is reversed too.
    assert check_pollers(None, 199, source="sqs", path="S/C") == []
    # Kafka keeps its own ranges through the same rule.
    assert check_pollers(1, 1, source="kafka", path="S/C") == []
    assert len(check_pollers(1, 2_001, source="kafka", path="S/C")) == 1


def test_provisioned_mode_and_max_concurrency_are_exclusive():
    from constructs_lib.limits import check_sqs_scaling_mode

    assert check_sqs_scaling_mode(max_concurrency=10, provisioned=False, path="S/C") == []
    assert check_sqs_scaling_mode(max_concurrency=None, provisioned=True, path="S/C") == []
    [violation] = check_sqs_scaling_mode(max_concurrency=10, provisioned=True, path="S/C")
    assert violation.setting == "max_concurrency" and "mutually exclusive" in violation.allowed


def test_failure_queue_size_warning_below_one_mib():
    from constructs_lib.limits import check_failure_queue_size

    assert check_failure_queue_size(1_048_576, path="S/C", setting="on_failure") == []
    assert check_failure_queue_size(UNRESOLVED, path="S/C", setting="on_failure") == []
    assert check_failure_queue_size(None, path="S/C", setting="on_failure") == []
    [warning] = check_failure_queue_size(1_048_575, path="S/C", setting="on_failure")
    assert warning.given == "MaximumMessageSize 1048575 bytes" and "1 MiB" in warning.allowed


def test_s3_failure_object_key_layout():
    import re

    from constructs_lib.limits import S3_FAILURE_OBJECT_KEY_PATTERN, S3_FAILURE_OBJECT_PREFIX

    key = (
        "aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/shardId-000000000001/2025/11/24/"
        "2025-11-24T00.38.06-5c1f0c5e-8d1e-4b5a-9f6b-0a3c2e1d4b7a"
    )
    match = re.fullmatch(S3_FAILURE_OBJECT_KEY_PATTERN, key)
    assert key.startswith(S3_FAILURE_OBJECT_PREFIX)
    assert match and match["shard_id"] == "shardId-000000000001" and match["timestamp"] == "2025-11-24T00.38.06"
    assert re.fullmatch(S3_FAILURE_OBJECT_KEY_PATTERN, "aws/lambda/uuid/shard/2025/11/24/other") is None


def test_s3_targets_need_only_generate_data_key():
    from constructs_lib.limits import kms_write_actions

    assert kms_write_actions(DestinationKind.S3_BUCKET) == ("kms:GenerateDataKey",)
    assert kms_write_actions(DestinationKind.SQS_QUEUE) == ("kms:Decrypt", "kms:GenerateDataKey")


def test_an_invalid_value_is_reported_as_given_by_any_check():
    invalid = Invalid("a plain int or float", "Retries.ONCE")
    [violation] = check_limit(LIMITS["async.retry_attempts"], invalid, path="S/C", setting="retry_attempts")
    assert str(violation) == "S/C: retry_attempts must be a plain int or float, got Retries.ONCE"


@pytest.mark.parametrize("source", sorted(FILTERABLE_KEYS))
def test_filter_patterns_only_on_keys_the_source_records_have(source):
    [key] = FILTERABLE_KEYS[source]
    assert check_filter_patterns([{key: {"a": [1]}}] * 10, source=source, path="S/C") == []
    metadata = [{name: ["x"]} for name in FILTER_METADATA_KEYS[source]]
    assert check_filter_patterns(metadata, source=source, path="S/C") == []
    [violation] = check_filter_patterns(
        [{key: {}}, {"eventSourceARN": ["x"], "order_id": ["1"]}], source=source, path="S/C"
    )
    assert violation.setting == "filters[1]" and violation.given == "a pattern on 'order_id'"
    assert f"'{key}' (the payload)" in violation.allowed and "every record is discarded" in violation.allowed
    [too_many] = check_filter_patterns([{key: {}}] * 11, source=source, path="S/C")
    assert too_many.setting == "filters" and too_many.given == "11"
    [not_object] = check_filter_patterns(["x"], source=source, path="S/C")
    assert not_object.allowed.startswith("a JSON object pattern")
    [empty] = check_filter_patterns([{}], source=source, path="S/C")
    assert empty.given == "a pattern on no key"


@given(source=st.booleans() | st.none(), dead_letter=st.booleans() | st.none())
def test_redrive_pairs_only_queues_of_one_type(source, dead_letter):
    found = check_redrive_pairing(source_fifo=source, dead_letter_fifo=dead_letter, path="S/C")
    mismatch = source is not None and dead_letter is not None and source != dead_letter
    assert bool(found) == mismatch


@pytest.mark.parametrize(
    "source,dead_letter,fifo,flagged",
    [
        (1_209_600, 345_600, False, True),
        (1_209_600, 1_209_599, False, True),
        (1_209_600, 1_209_600, False, False),
        (345_600, 1_209_600, False, False),
        (1_209_600, 345_600, True, False),  # FIFO resets the enqueue time on the move
        (UNRESOLVED, 345_600, False, False),
        (1_209_600, None, False, False),  # an imported dead-letter queue: unknown
    ],
)
def test_a_dead_letter_queue_must_keep_messages_as_long_as_its_standard_source(source, dead_letter, fifo, flagged):
    found = check_dead_letter_retention(
        source_retention=source, dead_letter_retention=dead_letter, source_fifo=fifo, path="S/C"
    )
    assert bool(found) == flagged
