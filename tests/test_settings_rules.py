"""The constructs' numeric settings and the SQS stream-only settings, checked by pure functions over plain values
(no CDK, no jsii): the same rules the constructs and the template checks run."""

import subprocess
import sys

from constructs_lib.limits import (
    INFINITE,
    UNRESOLVED,
    check_give_up_set,
    check_queue_settings,
    check_stream_settings,
    sqs_unsupported_settings,
)

STREAM_DEFAULTS = {
    "batch_size": None,
    "max_batching_window": None,
    "retry_attempts": 3,
    "max_record_age": 3600,
    "parallelization_factor": None,
    "tumbling_window": None,
}


def given(violations):
    return [(v.setting, v.given) for v in violations]


def test_stream_settings_all_violations_at_once_in_argument_order():
    found = check_stream_settings(
        batch_size=0,
        max_batching_window=301,
        retry_attempts=10_001,
        max_record_age=59,
        parallelization_factor=11,
        tumbling_window=901,
        path="S/C",
    )
    assert given(found) == [
        ("batch_size", "0"),
        ("max_batching_window", "301 seconds"),
        ("retry_attempts", "10001"),
        ("max_record_age", "59 seconds"),
        ("parallelization_factor", "11"),
        ("tumbling_window", "901 seconds"),
    ]


def test_stream_settings_boundaries_infinite_and_tokens_are_accepted():
    for values in (
        {"batch_size": 1, "max_batching_window": 0, "parallelization_factor": 1, "tumbling_window": 0},
        {"batch_size": 10_000, "max_batching_window": 300, "parallelization_factor": 10, "tumbling_window": 900},
        {"retry_attempts": INFINITE, "max_record_age": INFINITE},
        {"retry_attempts": 0, "max_record_age": 60},
        {"retry_attempts": 10_000, "max_record_age": 604_800},
        {"batch_size": UNRESOLVED, "retry_attempts": UNRESOLVED, "max_record_age": UNRESOLVED},
    ):
        assert check_stream_settings(**{**STREAM_DEFAULTS, **values}, path="S/C") == [], values


def test_none_for_retries_or_record_age_must_be_written_as_infinite():
    found = check_give_up_set(retry_attempts=None, max_record_age=None, path="S/C")
    assert given(found) == [("retry_attempts", "None"), ("max_record_age", "None")]
    assert found[0].allowed == "set: leave it out for the bounded default, or pass INFINITE (-1) to never give up"
    assert check_give_up_set(retry_attempts=INFINITE, max_record_age=3600, path="S/C") == []


def test_queue_settings():
    assert given(
        check_queue_settings(batch_size=11, max_batching_window=None, max_concurrency=1, fifo=True, path="Q")
    ) == [
        ("batch_size", "11"),
        ("max_concurrency", "1"),
    ]
    found = check_queue_settings(batch_size=100, max_batching_window=None, max_concurrency=1000, fifo=False, path="Q")
    assert given(found) == [("max_batching_window", "none with batch_size 100")]
    assert check_queue_settings(batch_size=100, max_batching_window=1, max_concurrency=2, fifo=False, path="Q") == []


def test_stream_only_settings_are_named_as_given_argument_or_property():
    by_argument = sqs_unsupported_settings({"bisect_batch_on_error": "True", "batch_size": "5"}, path="Q")
    by_property = sqs_unsupported_settings({"BisectBatchOnFunctionError": "True", "BatchSize": "5"}, path="M")
    assert given(by_argument) == [("bisect_batch_on_error", "True")]
    assert given(by_property) == [("BisectBatchOnFunctionError", "True")]
    assert (
        by_argument[0].allowed
        == by_property[0].allowed
        == (
            "left out for SQS sources (batches are not split); failed messages go to the queue's dead-letter queue "
            "through its redrive policy"
        )
    )


def test_the_rules_load_without_aws_cdk():
    code = "import sys, constructs_lib.limits; sys.exit(1 if 'aws_cdk' in sys.modules or 'jsii' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
