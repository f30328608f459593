"""constructs_lib.redrive against moto: every target, and no loss when the target fails midway."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from constructs_lib.redrive import (
    FunctionTarget,
    OriginalFunctionTarget,
    Outcome,
    QueueTarget,
    RedriveProgress,
    StreamTarget,
    redrive,
)
from constructs_lib.redrive.cli import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, main
from tests.runtime_support import (
    ACCOUNT,
    REGION,
    FakeClock,
    RefusingKinesisClient,
    RefusingSqsClient,
    async_failure_record,
    count_calls,
    drain,
    fail_calls,
    fill_queue,
    load_fixture,
    moto_server,
    refuse_times,
    stream_failure_record,
    use_fake_aws,
)

PROJECT_ROOT = Path(__file__).parent.parent
NOTIFIER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:OrdersNotifier"


def no_sleep(_: float) -> None:
    """Retry back-off without waiting."""


def run(queue_url: str, target: Any, sqs: Any, **options: Any):
    """redrive() as the tests use it: no long polling, so an empty queue ends the run at once."""
    return redrive(queue_url, target, sqs_client=sqs, wait_seconds=0, **options)


# --- failure queue contents ----------------------------------------------------------------------------------


def add_dead_letters(sqs: Any, queue_url: str, count: int, first: int = 0) -> list[str]:
    """Function-DLQ messages for orders o-<first>..; returns their bodies (the original events)."""
    bodies = [
        json.dumps({"order_id": f"o-{index}", "quantity": index % 5 + 1}) for index in range(first, first + count)
    ]
    attributes = [
        {
            "RequestID": {"DataType": "String", "StringValue": f"req-{index}"},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "Task timed out after 3.00 seconds"},
        }
        for index in range(first, first + count)
    ]
    fill_queue(sqs, queue_url, bodies, attributes)
    return bodies


def add_async_records(sqs: Any, queue_url: str, count: int, function_arn: str = f"{NOTIFIER_ARN}:$LATEST") -> None:
    bodies = [
        json.dumps(async_failure_record({"order_id": f"o-{index}"}, function_arn=function_arn, request_id=f"r-{index}"))
        for index in range(count)
    ]
    fill_queue(sqs, queue_url, bodies)


def order_ids(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(json.loads(message["Body"])["order_id"] for message in messages)


def orders(first: int, last: int) -> list[str]:
    return sorted(f"o-{index}" for index in range(first, last + 1))


# --- queue target --------------------------------------------------------------------------------------------


def test_dead_letters_are_replayed_to_a_queue_with_batch_calls(sqs, failure_queue, replay_queue):
    bodies = add_dead_letters(sqs, failure_queue, 23)
    sends = count_calls(sqs, "SendMessageBatch")
    deletes = count_calls(sqs, "DeleteMessageBatch")
    receives = count_calls(sqs, "ReceiveMessage")

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)
    calls = (len(sends), len(deletes), len(receives))

    assert calls == (3, 3, 4)  # 10 + 10 + 3 messages, then one empty receive
    assert (summary.moved, summary.failed, summary.skipped) == (23, 0, 0)
    assert summary.ok and summary.stopped_by is None
    assert drain(sqs, failure_queue) == []
    replayed = drain(sqs, replay_queue)
    assert sorted(message["Body"] for message in replayed) == sorted(bodies)  # byte for byte
    assert all(result.deleted for result in summary.results)
    assert summary.results[0].description.startswith("dead-letter message req-")
    assert summary.results[0].action == f"send 1 message to queue {replay_queue}"


def test_async_records_are_replayed_to_a_queue_as_their_original_event(sqs, failure_queue, replay_queue):
    add_async_records(sqs, failure_queue, 4)

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert summary.moved == 4
    assert sorted(message["Body"] for message in drain(sqs, replay_queue)) == [
        json.dumps({"order_id": f"o-{index}"}) for index in range(4)
    ]


def test_a_fifo_target_gets_group_and_deduplication_ids(sqs, failure_queue):
    fifo = sqs.create_queue(QueueName="orders-replay.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    add_dead_letters(sqs, failure_queue, 3)

    summary = run(failure_queue, QueueTarget(fifo, client=sqs), sqs)

    assert summary.moved == 3
    replayed = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    groups = {message["Attributes"]["MessageGroupId"] for message in replayed["Messages"]}
    assert groups == {"req-0", "req-1", "req-2"}


# --- function targets ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    function: str
    invocation_type: str | None
    event: Any


@pytest.fixture
def invocations(aws, monkeypatch):
    """What moto's Lambda (without Docker) was asked to invoke; it does not record invocations itself."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    calls: list[Invocation] = []
    original = LambdaSimpleBackend.invoke

    def spy(self, function_name, qualifier, body, headers, response_headers):
        calls.append(Invocation(function_name, headers.get("X-Amz-Invocation-Type"), json.loads(body)))
        return original(self, function_name, qualifier, body, headers, response_headers)

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", spy)
    return calls


@pytest.fixture
def lambda_client(aws):
    client = boto3.client("lambda", region_name=REGION)
    role = boto3.client("iam").create_role(RoleName="notifier", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name in ("OrdersNotifier", "OrdersNotifierFixed"):
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="notifier.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )
    return client


def test_dead_letters_are_invoked_asynchronously_on_a_named_function(sqs, failure_queue, lambda_client, invocations):
    bodies = add_dead_letters(sqs, failure_queue, 12)

    summary = run(failure_queue, FunctionTarget("OrdersNotifierFixed", client=lambda_client), sqs)

    assert summary.moved == 12
    assert {invocation.function for invocation in invocations} == {"OrdersNotifierFixed"}
    assert {invocation.invocation_type for invocation in invocations} == {"Event"}
    assert sorted(json.dumps(invocation.event) for invocation in invocations) == sorted(bodies)
    assert drain(sqs, failure_queue) == []


def test_async_records_go_back_to_the_function_and_qualifier_they_name(sqs, failure_queue, lambda_client, invocations):
    add_async_records(sqs, failure_queue, 3)

    summary = run(failure_queue, OriginalFunctionTarget(client_factory=lambda region: lambda_client), sqs)

    assert summary.moved == 3
    assert {invocation.function for invocation in invocations} == {f"{NOTIFIER_ARN}:$LATEST"}
    assert sorted(invocation.event["order_id"] for invocation in invocations) == ["o-0", "o-1", "o-2"]
    assert summary.results[0].action == f"invoke {NOTIFIER_ARN}:$LATEST asynchronously with 1 event"


def test_what_the_original_function_target_cannot_replay_is_skipped_and_kept(
    sqs, failure_queue, lambda_client, invocations
):
    add_dead_letters(sqs, failure_queue, 1)
    success = load_fixture("async_success.json")
    dropped = load_fixture("async_payload_dropped.json")
    fill_queue(sqs, failure_queue, [json.dumps(success), json.dumps(dropped)])

    summary = run(failure_queue, OriginalFunctionTarget(client_factory=lambda region: lambda_client), sqs)

    assert (summary.moved, summary.failed, summary.skipped) == (0, 0, 3)
    reasons = sorted(result.reason or "" for result in summary.results)
    assert reasons[0].startswith("a dead-letter message does not name the function it came from")
    assert reasons[1] == "not a failure: condition Success"
    assert reasons[2].startswith("the record holds no requestPayload")
    assert invocations == []
    assert len(drain(sqs, failure_queue)) == 3  # kept, and visible again right after the run


def test_stream_batches_are_not_replayed_to_a_function(sqs, failure_queue, lambda_client, invocations):
    fill_queue(sqs, failure_queue, [json.dumps(load_fixture("kinesis_on_failure.json"))])

    summary = run(failure_queue, FunctionTarget("OrdersNotifier", client=lambda_client), sqs)

    assert summary.skipped == 1
    assert summary.results[0].reason == "stream batches cannot be replayed to function OrdersNotifier"
    assert len(drain(sqs, failure_queue)) == 1


# --- stream batches ------------------------------------------------------------------------------------------


def create_stream(kinesis: Any, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def stream_contents(kinesis: Any, name: str) -> list[tuple[bytes, str]]:
    shard_id = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=10_000)["Records"]
    return [(record["Data"], record["PartitionKey"]) for record in records]


def add_kinesis_failures(
    sqs: Any, kinesis: Any, queue_url: str, stream_arn: str, batches: int, per_batch: int, *, via_sns: bool = False
) -> list[tuple[str, list[bytes]]]:
    """Put ``batches`` x ``per_batch`` records (plus one before and after each), and a failure record per batch.

    Returns each batch's start sequence number and payloads.
    """
    expected = []
    for batch in range(batches):
        kinesis.put_record(StreamARN=stream_arn, Data=b"not-in-a-batch", PartitionKey="other")
        payloads = [f'{{"order_id": "o-{batch}-{index}"}}'.encode() for index in range(per_batch)]
        sequence_numbers = [
            kinesis.put_record(StreamARN=stream_arn, Data=data, PartitionKey=f"pk-{batch}")["SequenceNumber"]
            for data in payloads
        ]
        kinesis.put_record(StreamARN=stream_arn, Data=b"not-in-a-batch", PartitionKey="other")
        record = stream_failure_record(
            batch_key="KinesisBatchInfo",
            stream_arn=stream_arn,
            shard_id="shardId-000000000000",
            start=sequence_numbers[0],
            end=sequence_numbers[-1],
            batch_size=per_batch,
            first_arrival=dt.datetime.now(dt.UTC),
        )
        body = json.dumps(record)
        if via_sns:
            body = json.dumps(
                {
                    "Type": "Notification",
                    "MessageId": f"sns-{batch}",
                    "TopicArn": "arn:aws:sns:us-east-1:1:t",
                    "Message": body,
                }
            )
        fill_queue(sqs, queue_url, [body])
        expected.append((sequence_numbers[0], payloads))
    return expected


@pytest.mark.parametrize("via_sns", [False, True], ids=["sqs-destination", "sns-destination"])
def test_kinesis_batches_are_fetched_and_put_to_a_stream(sqs, kinesis, failure_queue, via_sns):
    source = create_stream(kinesis, "orders")
    create_stream(kinesis, "orders-replay")
    batches = add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=3, per_batch=4, via_sns=via_sns)
    puts = count_calls(kinesis, "PutRecords")

    summary = run(
        failure_queue,
        StreamTarget("orders-replay", client=kinesis),
        sqs,
        stream_client_factory=lambda kind, region: kinesis,
    )

    assert summary.moved == 3
    replayed = stream_contents(kinesis, "orders-replay")
    expected = [(data, f"pk-{batch}") for batch, (_, payloads) in enumerate(batches) for data in payloads]
    assert sorted(replayed) == sorted(expected)
    assert len(puts) == 1  # the 12 records of the three messages in one PutRecords call
    assert summary.results[0].action == "put 4 records to stream orders-replay"
    assert drain(sqs, failure_queue) == []


def test_kinesis_batches_are_sent_to_a_queue_as_lambda_event_records(sqs, kinesis, failure_queue, replay_queue):
    source = create_stream(kinesis, "orders")
    [(_, payloads)] = add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=1, per_batch=5)

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, stream_client_factory=lambda k, r: kinesis)

    assert summary.moved == 1
    event_records = [json.loads(message["Body"]) for message in drain(sqs, replay_queue)]
    assert sorted(base64.b64decode(record["kinesis"]["data"]) for record in event_records) == sorted(payloads)
    assert {record["eventSourceARN"] for record in event_records} == {source}
    assert {record["eventSource"] for record in event_records} == {"aws:kinesis"}


def test_dynamodb_batches_are_sent_to_a_queue_and_to_a_stream(sqs, kinesis, failure_queue, replay_queue):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="customers",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = dynamodb.describe_table(TableName="customers")["Table"]["LatestStreamArn"]
    for index in range(4):
        dynamodb.put_item(TableName="customers", Item={"id": {"S": f"c-{index}"}})
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    record = stream_failure_record(
        batch_key="DDBStreamBatchInfo",
        stream_arn=stream_arn,
        shard_id=shard["ShardId"],
        start=str(first + 1),
        end=str(first + 2),
        batch_size=2,
        first_arrival=dt.datetime.now(dt.UTC),
    )
    fill_queue(sqs, failure_queue, [json.dumps(record)])
    create_stream(kinesis, "customers-replay")
    clients = {"kinesis": kinesis, "dynamodb": streams}

    def stream_clients(kind, region):
        return clients[kind.value]

    to_queue = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, stream_client_factory=stream_clients)
    fill_queue(sqs, failure_queue, [json.dumps(record)])
    to_stream = run(
        failure_queue, StreamTarget("customers-replay", client=kinesis), sqs, stream_client_factory=stream_clients
    )

    assert (to_queue.moved, to_stream.moved) == (1, 1)
    queued = [json.loads(message["Body"]) for message in drain(sqs, replay_queue)]
    assert sorted(item["dynamodb"]["Keys"]["id"]["S"] for item in queued) == ["c-1", "c-2"]
    assert {item["eventName"] for item in queued} == {"INSERT"}
    put = stream_contents(kinesis, "customers-replay")
    assert sorted(json.loads(data)["dynamodb"]["Keys"]["id"]["S"] for data, _ in put) == ["c-1", "c-2"]
    assert sorted(key for _, key in put) == ['{"id": {"S": "c-1"}}', '{"id": {"S": "c-2"}}']


def test_a_batch_whose_records_expired_is_skipped_and_kept(sqs, kinesis, failure_queue, replay_queue):
    source = create_stream(kinesis, "orders")
    add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=1, per_batch=3)
    from moto.kinesis.models import kinesis_backends

    kinesis_backends[ACCOUNT][REGION].streams["orders"].shards["shardId-000000000000"].records.clear()

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, stream_client_factory=lambda k, r: kinesis)

    assert summary.skipped == 1
    assert summary.results[0].reason.startswith("records expired: the records of this batch are gone from")
    assert len(drain(sqs, failure_queue)) == 1
    assert drain(sqs, replay_queue) == []


def test_a_batch_that_cannot_be_fetched_fails_and_the_others_still_move(sqs, kinesis, failure_queue, replay_queue):
    source = create_stream(kinesis, "orders")
    add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=3, per_batch=2)
    fail_calls(kinesis, "GetRecords", on_calls=lambda call: call == 2, code="AccessDeniedException", status=400)

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, stream_client_factory=lambda k, r: kinesis)

    assert (summary.moved, summary.failed) == (2, 1)
    [failed] = [result for result in summary.results if result.outcome is Outcome.FAILED]
    assert "fetching the records failed" in failed.reason and "AccessDeniedException" in failed.reason
    assert len(drain(sqs, failure_queue)) == 1
    assert len(drain(sqs, replay_queue)) == 4


# --- no loss: faults in the middle of a run ------------------------------------------------------------------


@pytest.mark.parametrize("failing_call", [1, 2, 3])
def test_when_the_kth_send_fails_exactly_the_unsent_messages_remain(sqs, failure_queue, replay_queue, failing_call):
    add_dead_letters(sqs, failure_queue, 35)
    target_client = boto3.client("sqs", region_name=REGION)  # only the target's calls fail
    fail_calls(target_client, "SendMessageBatch", on_calls=lambda call: call == failing_call, code="ServiceUnavailable")

    summary = run(failure_queue, QueueTarget(replay_queue, client=target_client), sqs)

    moved = order_ids(drain(sqs, replay_queue))
    remaining = order_ids(drain(sqs, failure_queue))
    assert len(moved) == 10 * (failing_call - 1)
    assert sorted(moved + remaining) == orders(0, 34)  # nothing lost, nothing duplicated
    assert summary.moved == len(moved)
    assert summary.failed == 10  # the batch whose send failed; later messages were never taken
    assert summary.stopped_by is not None and "ServiceUnavailable" in summary.stopped_by
    assert not summary.ok


def test_a_refused_message_stays_and_every_other_one_moves(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 25)
    refusing = RefusingSqsClient(sqs, lambda entry: '"o-17"' in entry["MessageBody"], sender_fault=True)

    summary = run(failure_queue, QueueTarget(replay_queue, client=refusing, sleep=no_sleep), sqs)

    assert order_ids(drain(sqs, failure_queue)) == ["o-17"]
    assert order_ids(drain(sqs, replay_queue)) == sorted(set(orders(0, 24)) - {"o-17"})
    assert (summary.moved, summary.failed, summary.stopped_by) == (24, 1, None)
    [failed] = [result for result in summary.results if result.outcome is Outcome.FAILED]
    assert failed.reason == "1 of 1 refused (SendMessageBatch refused it: InvalidParameterValue)"
    assert len(refusing.refusals) == 1  # a sender fault is not retried


def test_an_entry_refused_by_a_transient_error_is_retried(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 10)
    refusing = RefusingSqsClient(sqs, refuse_times(3, lambda entry: True), sender_fault=False)
    delays: list[float] = []

    summary = run(failure_queue, QueueTarget(replay_queue, client=refusing, sleep=delays.append), sqs)

    assert summary.moved == 10
    assert order_ids(drain(sqs, replay_queue)) == orders(0, 9)  # each exactly once
    assert len(refusing.refusals) == 3
    assert delays == [0.2]


def test_an_entry_missing_from_the_batch_response_is_not_counted_as_sent(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 10)
    dropped: list[str] = []

    class LosingSqsClient:
        """Loses one entry on the way and does not report it at all: neither Successful nor Failed."""

        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            if not dropped:
                dropped.append(Entries[0]["MessageBody"])
                Entries = Entries[1:]
            return sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    summary = run(failure_queue, QueueTarget(replay_queue, client=LosingSqsClient(), sleep=no_sleep), sqs)

    assert summary.moved == 10
    assert order_ids(drain(sqs, replay_queue)) == orders(0, 9)  # the lost one was sent again, once


def test_when_the_kth_put_fails_the_batches_put_before_it_are_moved(sqs, kinesis, failure_queue):
    source = create_stream(kinesis, "orders")
    create_stream(kinesis, "orders-replay")
    batches = add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=4, per_batch=3)
    target_client = boto3.client("kinesis", region_name=REGION)
    fail_calls(target_client, "PutRecords", on_calls=lambda call: call == 3, code="InternalFailure")

    summary = run(
        failure_queue,
        StreamTarget(source.replace("/orders", "/orders-replay"), client=target_client),
        sqs,
        batch_size=1,  # one failure message per round, so each PutRecords call carries one batch
        stream_client_factory=lambda kind, region: kinesis,
    )

    assert (summary.moved, summary.failed) == (2, 1)  # the fourth message was never taken
    remaining = {
        json.loads(message["Body"])["KinesisBatchInfo"]["startSequenceNumber"] for message in drain(sqs, failure_queue)
    }
    assert len(remaining) == 2
    replayed = sorted(data for data, _ in stream_contents(kinesis, "orders-replay"))
    assert replayed == sorted(data for start, payloads in batches if start not in remaining for data in payloads)


def test_a_record_refused_by_put_records_keeps_its_whole_batch(sqs, kinesis, failure_queue):
    source = create_stream(kinesis, "orders")
    create_stream(kinesis, "orders-replay")
    add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=3, per_batch=3)
    refusing = RefusingKinesisClient(kinesis, lambda record: record["Data"] == b'{"order_id": "o-1-2"}')
    clock = FakeClock()

    summary = run(
        failure_queue,
        StreamTarget("orders-replay", client=refusing, sleep=clock.sleep, clock=clock),
        sqs,
        stream_client_factory=lambda kind, region: kinesis,
    )

    assert (summary.moved, summary.failed) == (2, 1)
    [failed] = [result for result in summary.results if result.outcome is Outcome.FAILED]
    assert failed.reason.startswith("1 of 3 refused (PutRecords refused it: ProvisionedThroughputExceededException")
    assert len(refusing.refusals) == 11  # tried, then retried ten times, backing off up to 5 s
    assert sum(clock.slept) >= 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 5 * 4
    [remaining] = drain(sqs, failure_queue)
    assert json.loads(remaining["Body"])["KinesisBatchInfo"]["batchSize"] == 3
    # The batch's other two records were put: a rerun puts them again (at-least-once).
    replayed = [data for data, _ in stream_contents(kinesis, "orders-replay")]
    assert sorted(replayed) == sorted(
        f'{{"order_id": "o-{batch}-{index}"}}'.encode()
        for batch in range(3)
        for index in range(3)
        if (batch, index) != (1, 2)
    )


def test_when_the_kth_invoke_fails_exactly_the_uninvoked_messages_remain(
    sqs, failure_queue, lambda_client, invocations
):
    add_dead_letters(sqs, failure_queue, 8)
    fail_calls(lambda_client, "Invoke", on_calls=lambda call: call == 6, code="ServiceException")

    summary = run(failure_queue, FunctionTarget("OrdersNotifier", client=lambda_client), sqs)

    invoked = sorted(invocation.event["order_id"] for invocation in invocations)
    remaining = order_ids(drain(sqs, failure_queue))
    assert len(invoked) == 5
    assert sorted(invoked + remaining) == orders(0, 7)
    assert (summary.moved, summary.failed) == (5, 3)
    assert "Invoke failed: ServiceException" in (summary.stopped_by or "")


def test_a_payload_lambda_refuses_fails_alone(sqs, failure_queue, lambda_client, invocations):
    add_dead_letters(sqs, failure_queue, 4)
    fail_calls(
        lambda_client, "Invoke", on_calls=lambda call: call == 2, code="RequestEntityTooLargeException", status=413
    )

    summary = run(failure_queue, FunctionTarget("OrdersNotifier", client=lambda_client), sqs)

    assert (summary.moved, summary.failed, summary.stopped_by) == (3, 1, None)
    assert len(drain(sqs, failure_queue)) == 1


def test_a_failed_delete_replays_again_but_loses_nothing(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 15)
    fail_calls(sqs, "DeleteMessageBatch", on_calls=lambda call: call == 2, code="ServiceUnavailable")

    first = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert first.moved == 15 and len(first.not_deleted) == 5
    assert "a rerun replays it again" in (first.not_deleted[0].reason or "")
    assert not first.ok

    second = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert second.moved == 5
    replayed = Counter(order_ids(drain(sqs, replay_queue)))
    assert sorted(replayed) == orders(0, 14)  # everything arrived...
    assert sorted(replayed.values()) == [1] * 10 + [2] * 5  # ...and the five not deleted arrived twice
    assert drain(sqs, failure_queue) == []


def test_a_fifo_target_drops_the_copies_a_rerun_sends(sqs, failure_queue):
    fifo = sqs.create_queue(QueueName="orders-replay.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    add_dead_letters(sqs, failure_queue, 5)
    fail_calls(sqs, "DeleteMessageBatch", on_calls=lambda call: call == 1, code="ServiceUnavailable")

    run(failure_queue, QueueTarget(fifo, client=sqs), sqs)
    run(failure_queue, QueueTarget(fifo, client=sqs), sqs)

    assert drain(sqs, failure_queue) == []
    assert order_ids(drain(sqs, fifo)) == orders(0, 4)  # once each: same deduplication ids on both runs


def test_running_twice_after_a_failure_moves_the_rest_exactly_once(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 30)
    flaky = boto3.client("sqs", region_name=REGION)
    fail_calls(flaky, "SendMessageBatch", on_calls=lambda call: call == 2, code="ServiceUnavailable")

    first = run(failure_queue, QueueTarget(replay_queue, client=flaky), sqs)
    second = run(failure_queue, QueueTarget(replay_queue, client=flaky), sqs)
    third = run(failure_queue, QueueTarget(replay_queue, client=flaky), sqs)

    assert (first.moved, second.moved, third.moved) == (10, 20, 0)
    assert order_ids(drain(sqs, replay_queue)) == orders(0, 29)
    assert drain(sqs, failure_queue) == []


def test_a_receive_failure_stops_the_run_and_takes_nothing(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 3)
    fail_calls(sqs, "ReceiveMessage", on_calls=lambda call: call == 1, code="AccessDenied", status=403)

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert summary.results == ()
    assert "ReceiveMessage failed: AccessDenied" in (summary.stopped_by or "")
    assert len(drain(sqs, failure_queue)) == 3


# --- dry run, --max, bad input -------------------------------------------------------------------------------


def test_a_dry_run_changes_nothing(sqs, kinesis, failure_queue, replay_queue):
    source = create_stream(kinesis, "orders")
    add_kinesis_failures(sqs, kinesis, failure_queue, source, batches=1, per_batch=4)
    add_dead_letters(sqs, failure_queue, 12)
    fill_queue(sqs, failure_queue, ["not a failure record"])
    sends = count_calls(sqs, "SendMessageBatch")
    deletes = count_calls(sqs, "DeleteMessageBatch")

    summary = run(
        failure_queue,
        QueueTarget(replay_queue, client=sqs),
        sqs,
        dry_run=True,
        stream_client_factory=lambda k, r: kinesis,
    )

    assert (summary.moved, summary.skipped, summary.dry_run) == (13, 1, True)
    actions = Counter(result.action for result in summary.results)
    assert actions[f"send 4 messages to queue {replay_queue}"] == 1  # the stream batch was fetched
    assert actions[f"send 1 message to queue {replay_queue}"] == 12
    assert (len(sends), len(deletes)) == (0, 0)
    assert len(drain(sqs, failure_queue)) == 14  # all still there, and visible again at once
    assert drain(sqs, replay_queue) == []


@pytest.mark.parametrize(("maximum", "moved"), [(13, 13), (10, 10), (1, 1), (0, 0), (40, 25)])
def test_max_caps_the_messages_taken(sqs, failure_queue, replay_queue, maximum, moved):
    add_dead_letters(sqs, failure_queue, 25)

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, max_messages=maximum)

    assert summary.moved == moved
    assert len(drain(sqs, replay_queue)) == moved
    assert len(drain(sqs, failure_queue)) == 25 - moved


def test_unparseable_messages_are_skipped_reported_and_kept(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 2)
    fill_queue(sqs, failure_queue, ["{not json", json.dumps({"hello": "world"}), json.dumps([1, 2])])

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert (summary.moved, summary.skipped) == (2, 3)
    reasons = sorted(result.reason or "" for result in summary.results if result.outcome is Outcome.SKIPPED)
    assert reasons == [
        "not a failure record: Body: expected a JSON object, got an array ([1, 2])",
        "not a failure record: Body: not JSON (Expecting property name enclosed in double quotes at line 1 column 2)",
        "not a failure record: Body: not a Lambda invocation record, SNS notification or dead-letter message "
        "(no 'requestContext' and no 'Type': 'Notification'); keys found: hello",
    ]
    assert sorted(message["Body"] for message in drain(sqs, failure_queue)) == sorted(
        ["{not json", '{"hello": "world"}', "[1, 2]"]
    )


def test_messages_that_reappear_during_the_run_are_handled_once(sqs, failure_queue, replay_queue):
    fill_queue(sqs, failure_queue, ["junk-1", "junk-2", "junk-3"])

    # With no visibility timeout, skipped messages come straight back on the next receive.
    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, visibility_timeout=0)

    assert sorted(result.message_id for result in summary.results) == sorted({r.message_id for r in summary.results})
    assert summary.skipped == 3


def test_progress_is_reported_after_every_round(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 25)
    updates: list[RedriveProgress] = []

    run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, on_progress=updates.append)

    assert [(update.done, update.total, update.moved) for update in updates] == [
        (10, 25, 10),
        (20, 25, 20),
        (25, 25, 25),
    ]


def test_invalid_options_are_refused(sqs, failure_queue, replay_queue):
    with pytest.raises(ValueError, match="batch_size must be 1 to 10"):
        run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, batch_size=11)
    with pytest.raises(ValueError, match="max_messages must be >= 0"):
        run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, max_messages=-1)
    with pytest.raises(ValueError, match="the target queue is the failure queue itself"):
        run(failure_queue, QueueTarget(failure_queue, client=sqs), sqs)


# --- the CLI -------------------------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = main(["--wait-seconds", "0", *args], stdout=stdout, stderr=stderr)
    return status, stdout.getvalue(), stderr.getvalue()


def test_cli_dry_run_lists_every_message_and_sends_nothing(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 2)

    status, out, _ = cli("--from", failure_queue, "--to-queue", replay_queue, "--dry-run")

    assert status == EXIT_OK
    assert out.count("    would: send 1 message to queue") == 2
    assert "(dry run: nothing sent, nothing deleted)" in out
    assert "would move: 2, failed: 0, skipped: 0" in out
    assert len(drain(sqs, failure_queue)) == 2 and drain(sqs, replay_queue) == []


def test_cli_moves_reports_skips_and_exits_3_when_something_was_left(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, 12)
    fill_queue(sqs, failure_queue, ["junk"])

    status, out, err = cli("--from", failure_queue, "--to-queue", replay_queue, "--progress", "always")

    assert status == EXIT_SKIPPED
    assert "moved: 12, failed: 0, skipped: 1" in out
    assert "skipped (left in the failure queue):" in out and "not a failure record: Body: not JSON" in out
    assert "[" + "#" * 30 + "] 13/13 messages: moved 12, failed 0, skipped 1" in err
    assert err.endswith("\n")


def test_cli_exits_1_when_a_send_fails(sqs, failure_queue, replay_queue, monkeypatch):
    add_dead_letters(sqs, failure_queue, 3)
    refuse_all = RefusingSqsClient(sqs, lambda entry: True, sender_fault=True)
    monkeypatch.setattr("constructs_lib.redrive.cli._default_client", lambda service, region=None: refuse_all)

    status, out, _ = cli("--from", failure_queue, "--to-queue", replay_queue, "--json")

    report = json.loads(out)
    assert status == EXIT_FAILED
    assert (report["moved"], report["failed"], report["skipped"]) == (0, 3, 0)
    assert {message["outcome"] for message in report["messages"]} == {"failed"}
    assert len(drain(sqs, failure_queue)) == 3


def test_cli_max_and_original_function(sqs, failure_queue, lambda_client, invocations):
    add_async_records(sqs, failure_queue, 5)

    status, out, _ = cli("--from", failure_queue, "--to-original-function", "--max", "2", "-v")

    assert status == EXIT_OK
    assert "moved: 2, failed: 0, skipped: 0" in out
    assert out.count(f"did: invoke {NOTIFIER_ARN}:$LATEST asynchronously with 1 event") == 2
    assert len(invocations) == 2 and len(drain(sqs, failure_queue)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to-queue", "q"], "the following arguments are required: --from"),
        (["--from", "q"], "one of the arguments --to-queue --to-stream --to-function --to-original-function"),
        (["--from", "q", "--to-queue", "r", "--to-stream", "s"], "not allowed with argument"),
        (["--from", "q", "--to-queue", "r", "--max", "lots"], "expected a whole number, got 'lots'"),
        (["--from", "q", "--to-queue", "r", "--visibility-timeout", "0"], "must be 1 or more, got 0"),
    ],
)
def test_cli_usage_errors(args, message, capsys):
    assert main(args) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_cli_setup_errors_are_a_message_not_a_traceback(monkeypatch):
    use_fake_aws(monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)

    status, _, err = cli("--from", "http://localhost:1/123456789012/q", "--to-queue", "http://localhost:1/q2")

    assert status == EXIT_FAILED
    assert err.startswith("error: NoRegionError: You must specify a region.")
    assert "Traceback" not in err


def test_the_cli_runs_as_a_module_against_a_moto_server(monkeypatch):
    use_fake_aws(monkeypatch)
    with moto_server() as endpoint:
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        failure_queue = sqs.create_queue(QueueName="orders-failures")["QueueUrl"]
        replay_queue = sqs.create_queue(QueueName="orders-replay")["QueueUrl"]
        add_dead_letters(sqs, failure_queue, 12)
        fill_queue(sqs, failure_queue, ["junk"])
        environment = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(PROJECT_ROOT)}

        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "constructs_lib.redrive",
                "--from",
                failure_queue,
                "--to-queue",
                replay_queue,
                "--wait-seconds",
                "0",
            ],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert completed.returncode == EXIT_SKIPPED, completed.stderr
        assert "moved: 12, failed: 0, skipped: 1" in completed.stdout
        assert "Traceback" not in completed.stderr
        assert order_ids(drain(sqs, replay_queue)) == orders(0, 11)
        assert [message["Body"] for message in drain(sqs, failure_queue)] == ["junk"]


def test_the_runtime_modules_import_no_cdk():
    code = (
        "import sys\n"
        "import constructs_lib.fetch, constructs_lib.redrive, constructs_lib.redrive.cli\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'aws_cdk', 'constructs', 'jsii'})\n"
        "assert not loaded, loaded\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)

    assert completed.returncode == 0, completed.stderr
