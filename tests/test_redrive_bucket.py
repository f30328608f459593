"""redrive_bucket against moto's S3: the records an S3 failure object holds are replayed, and an object is
deleted (or tagged) only after every record in it was delivered, whatever fails on the way."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import boto3
import pytest

from constructs_lib.redrive import (
    REDRIVEN_TAG,
    FunctionTarget,
    OriginalFunctionTarget,
    Outcome,
    QueueTarget,
    StreamTarget,
    redrive_bucket,
)
from tests.runtime_support import (
    REGION,
    RefusingKinesisClient,
    drain,
    fail_calls,
    s3_failure_object,
    s3_failure_object_key,
)
from tests.test_redrive import invocations, lambda_client  # noqa: F401 (fixtures)

BUCKET = "orders-failures"


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def kinesis(aws):
    client = boto3.client("kinesis", region_name=REGION)
    client.create_stream(StreamName="orders-replay", ShardCount=2)
    return client


def no_sleep(_: float) -> None:
    """Retry back-off without waiting."""


def fill_bucket(s3: Any, objects: int, records_per_object: int = 3) -> dict[str, list[tuple[str, bytes]]]:
    """Failure objects o-<i>-<j>; returns each key's records."""
    written = {}
    for index in range(objects):
        records = [(f"order-{index}-{j}", f'{{"order": "{index}-{j}"}}'.encode()) for j in range(records_per_object)]
        key = s3_failure_object_key(index)
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(s3_failure_object(records)).encode())
        written[key] = records
    return written


def keys_left(s3: Any) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def stream_contents(kinesis: Any) -> Counter[tuple[str, bytes]]:
    """Every record in the replay stream, by (partition key, data): a count above 1 is a duplicate."""
    seen: Counter[tuple[str, bytes]] = Counter()
    for shard in kinesis.list_shards(StreamName="orders-replay")["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName="orders-replay", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]:
            seen[record["PartitionKey"], record["Data"]] += 1
    return seen


def expected(written: dict[str, list[tuple[str, bytes]]], keys: Any = None) -> Counter[tuple[str, bytes]]:
    return Counter(record for key, records in written.items() if keys is None or key in keys for record in records)


def test_every_record_goes_back_to_the_stream_and_each_object_is_deleted(s3, kinesis):
    written = fill_bucket(s3, 25)

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3)

    assert (summary.moved, summary.failed, summary.skipped, summary.stopped_by) == (25, 0, 0, None)
    assert all(result.deleted for result in summary.results)
    assert stream_contents(kinesis) == expected(written)
    assert keys_left(s3) == set()


def test_records_go_to_a_queue_as_lambda_event_records(s3, aws):
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="orders-replay")["QueueUrl"]
    written = fill_bucket(s3, 4, records_per_object=2)

    summary = redrive_bucket(BUCKET, QueueTarget(queue, client=sqs), s3_client=s3)

    assert summary.moved == 4
    bodies = [json.loads(message["Body"]) for message in drain(sqs, queue)]
    replayed = Counter((body["kinesis"]["partitionKey"], base64.b64decode(body["kinesis"]["data"])) for body in bodies)
    assert replayed == expected(written)
    assert keys_left(s3) == set()


def test_a_function_gets_the_whole_failed_event_as_lambda_gave_it(s3, lambda_client, invocations):  # noqa: F811
    written = fill_bucket(s3, 3)

    summary = redrive_bucket(BUCKET, FunctionTarget("OrdersNotifierFixed", client=lambda_client), s3_client=s3)

    assert summary.moved == 3
    assert {invocation.invocation_type for invocation in invocations} == {"Event"}
    events = sorted(invocation.event["Records"][0]["kinesis"]["partitionKey"] for invocation in invocations)
    assert events == ["order-0-0", "order-1-0", "order-2-0"]
    for invocation in invocations:
        key = s3_failure_object_key(int(invocation.event["Records"][0]["kinesis"]["partitionKey"].split("-")[1]))
        stored = json.loads(s3_failure_object(written[key])["payload"])
        assert invocation.event == stored  # the event exactly as the object holds it
    assert keys_left(s3) == set()


def test_the_original_function_is_the_one_the_record_names(s3, lambda_client, invocations):  # noqa: F811
    key = s3_failure_object_key(0)
    document = s3_failure_object([("k", b"v")])
    document["requestContext"]["functionArn"] = lambda_client.get_function(FunctionName="OrdersNotifier")[
        "Configuration"
    ]["FunctionArn"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document))

    summary = redrive_bucket(BUCKET, OriginalFunctionTarget(client_factory=lambda region: lambda_client), s3_client=s3)

    assert summary.moved == 1
    assert [invocation.function for invocation in invocations] == [document["requestContext"]["functionArn"]]


def test_poison_objects_are_skipped_and_kept_the_others_replayed(s3, kinesis):
    written = fill_bucket(s3, 6)
    s3.put_object(Bucket=BUCKET, Key="aws/lambda/x/not-json", Body=b"\x00 not json")
    without_payload = s3_failure_object([("k", b"v")])
    del without_payload["payload"]
    s3.put_object(Bucket=BUCKET, Key="aws/lambda/x/no-payload", Body=json.dumps(without_payload))

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3)

    assert (summary.moved, summary.skipped) == (6, 2)
    reasons = {r.message_id: r.reason for r in summary.results if r.outcome is Outcome.SKIPPED}
    assert "not a stream failure object" in reasons["aws/lambda/x/not-json"]
    assert "no payload" in reasons["aws/lambda/x/no-payload"]
    assert keys_left(s3) == {"aws/lambda/x/not-json", "aws/lambda/x/no-payload"}
    assert stream_contents(kinesis) == expected(written)


def test_an_object_that_cannot_be_read_fails_alone_and_stays(s3, kinesis):
    written = fill_bucket(s3, 5)
    fail_calls(s3, "GetObject", on_calls=lambda call: call == 2, code="AccessDenied", status=403)

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3, read_threads=1)

    assert (summary.moved, summary.failed) == (4, 1)
    [failed] = [r for r in summary.results if r.outcome is Outcome.FAILED]
    assert "AccessDenied" in failed.reason
    assert keys_left(s3) == {failed.message_id}
    assert stream_contents(kinesis) == expected(written, set(written) - {failed.message_id})


def test_an_object_with_a_refused_record_is_kept_the_others_deleted(s3, kinesis):
    written = fill_bucket(s3, 5)
    refusing = RefusingKinesisClient(kinesis, lambda record: record["PartitionKey"] == "order-3-1")

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=refusing, sleep=no_sleep), s3_client=s3)

    assert (summary.moved, summary.failed) == (4, 1)
    [failed] = [r for r in summary.results if r.outcome is Outcome.FAILED]
    assert failed.message_id == s3_failure_object_key(3) and "refused" in failed.reason
    assert keys_left(s3) == {s3_failure_object_key(3)}
    # Its other records went (only refused entries are resent): a rerun repeats them, never loses one.
    contents = stream_contents(kinesis)
    assert contents == expected(written) - Counter({("order-3-1", b'{"order": "3-1"}'): 1})


def test_a_target_that_fails_midway_stops_the_run_and_nothing_is_lost(s3, kinesis):
    written = fill_bucket(s3, 10)
    fail_calls(kinesis, "PutRecords", on_calls=lambda call: call >= 2, code="InternalFailure", status=500)

    summary = redrive_bucket(
        BUCKET, StreamTarget("orders-replay", client=kinesis, sleep=no_sleep), s3_client=s3, objects_per_round=4
    )

    assert summary.stopped_by is not None and "InternalFailure" in summary.stopped_by
    moved = {r.message_id for r in summary.results if r.outcome is Outcome.MOVED}
    assert len(moved) == 4 and all(r.deleted for r in summary.results if r.outcome is Outcome.MOVED)
    assert keys_left(s3) == set(written) - moved
    assert stream_contents(kinesis) == expected(written, moved)

    # A rerun with the target back replays exactly the rest: nothing lost, nothing twice.
    kinesis.meta.events.unregister("before-call.kinesis.PutRecords")
    rerun = redrive_bucket(
        BUCKET, StreamTarget("orders-replay", client=boto3.client("kinesis", region_name=REGION)), s3_client=s3
    )
    assert rerun.moved == 6 and keys_left(s3) == set()
    assert stream_contents(kinesis) == expected(written)


class LosingDeletes:
    """An S3 client whose DeleteObjects answers an error for the keys ``lose`` picks (and keeps them)."""

    def __init__(self, client: Any, lose: Any) -> None:
        self._client = client
        self._lose = lose

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        kept = [item for item in Delete["Objects"] if self._lose(item["Key"])]
        gone = [item for item in Delete["Objects"] if item not in kept]
        response = self._client.delete_objects(Bucket=Bucket, Delete={**Delete, "Objects": gone}) if gone else {}
        errors = [{"Key": item["Key"], "Code": "InternalError", "Message": "injected"} for item in kept]
        return {**response, "Errors": errors}


def test_an_object_not_deleted_is_reported_and_replayed_again_by_a_rerun(s3, kinesis):
    written = fill_bucket(s3, 3)
    kept = s3_failure_object_key(1)

    summary = redrive_bucket(
        BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=LosingDeletes(s3, lambda key: key == kept)
    )

    assert summary.moved == 3
    [not_deleted] = summary.not_deleted
    assert not_deleted.message_id == kept and "not deleted" in not_deleted.reason
    assert [r.message_id for r in summary.possible_duplicates] == [kept]
    assert keys_left(s3) == {kept}
    redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3)
    assert stream_contents(kinesis) == expected(written) + expected(written, {kept})  # at least once, said so


def test_delete_objects_failing_as_a_whole_keeps_every_object(s3, kinesis):
    fill_bucket(s3, 3)
    fail_calls(s3, "DeleteObjects", on_calls=lambda call: True, code="ServiceUnavailable", status=503)

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3)

    assert summary.moved == 3 and len(summary.not_deleted) == 3
    assert summary.stopped_by is not None and "ServiceUnavailable" in summary.stopped_by
    assert len(keys_left(s3)) == 3


def test_tagging_keeps_the_objects_and_a_rerun_passes_them_by(s3, kinesis):
    written = fill_bucket(s3, 4)
    s3.put_object_tagging(
        Bucket=BUCKET, Key=s3_failure_object_key(0), Tagging={"TagSet": [{"Key": "team", "Value": "orders"}]}
    )

    first = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3, after="tag")
    second = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3, after="tag")

    assert first.moved == 4 and second.results == ()
    assert keys_left(s3) == set(written)
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=s3_failure_object_key(0))["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in tags) == [(REDRIVEN_TAG, "true"), ("team", "orders")]
    assert stream_contents(kinesis) == expected(written)


def test_a_dry_run_reads_everything_and_changes_nothing(s3, kinesis):
    written = fill_bucket(s3, 3)

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3, dry_run=True)

    assert summary.moved == 3 and summary.results[0].action == "put 3 records to stream orders-replay"
    assert keys_left(s3) == set(written) and stream_contents(kinesis) == Counter()


def test_max_objects_and_prefix_limit_the_run(s3, kinesis):
    fill_bucket(s3, 5)
    s3.put_object(Bucket=BUCKET, Key="reports/summary.json", Body=b"{}")

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3, max_objects=2)

    assert summary.moved == 2
    assert len(keys_left(s3)) == 4  # 3 failure objects and the report, which is outside aws/lambda/


def test_listing_failure_stops_the_run_without_a_traceback(s3, kinesis):
    fill_bucket(s3, 2)
    fail_calls(s3, "ListObjectsV2", on_calls=lambda call: True, code="AccessDenied", status=403)

    summary = redrive_bucket(BUCKET, StreamTarget("orders-replay", client=kinesis), s3_client=s3)

    assert summary.results == () and "AccessDenied" in summary.stopped_by
    assert not summary.ok


def test_the_cli_takes_an_s3_source(s3, kinesis):
    import io

    from constructs_lib.redrive.cli import EXIT_OK, EXIT_SKIPPED, main

    written = fill_bucket(s3, 2)
    s3.put_object(Bucket=BUCKET, Key="aws/lambda/x/junk", Body=b"junk")
    stdout, stderr = io.StringIO(), io.StringIO()

    dry = main(
        ["--from", f"s3://{BUCKET}", "--to-stream", "orders-replay", "--dry-run", "--region", REGION],
        stdout=stdout,
        stderr=stderr,
    )
    assert dry == EXIT_SKIPPED and "would move: 2, failed: 0, skipped: 1" in stdout.getvalue()
    assert len(keys_left(s3)) == 3

    stdout = io.StringIO()
    status = main(
        ["--from", f"s3://{BUCKET}/aws/lambda/f89f8514", "--to-stream", "orders-replay", "--region", REGION],
        stdout=stdout,
        stderr=stderr,
    )
    assert status == EXIT_OK, stdout.getvalue() + stderr.getvalue()
    assert "moved: 2, failed: 0, skipped: 0" in stdout.getvalue()
    assert keys_left(s3) == {"aws/lambda/x/junk"}
    assert stream_contents(kinesis) == expected(written)


def test_progress_is_reported_after_every_round(s3, kinesis):
    fill_bucket(s3, 5)
    s3.put_object(Bucket=BUCKET, Key="aws/lambda/x/junk", Body=b"junk")
    seen = []

    redrive_bucket(
        BUCKET,
        StreamTarget("orders-replay", client=kinesis),
        s3_client=s3,
        objects_per_round=4,
        on_progress=seen.append,
    )

    assert [(p.done, p.total) for p in seen] == [(4, None), (6, None)]
    assert (seen[-1].moved, seen[-1].failed, seen[-1].skipped) == (5, 0, 1)
