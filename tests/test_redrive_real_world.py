"""constructs_lib.redrive under real-world failure queues: poison messages, exact payloads, throttling, FIFO
ids, sizes, message attributes, messages that come back, and per-record refusals.

Each test counts lost and duplicated messages exactly. Faults are injected the way the service reports them:
botocore ``before-call`` hooks (the client raises what it raises for that error) and thin client wrappers for
per-entry refusals and lost answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import given
from hypothesis import strategies as st

from constructs_lib.fetch import DynamoDBStreamRecord
from constructs_lib.limits import SQS_FIFO_ID_CHARACTERS, SQS_FIFO_ID_MAX_LENGTH
from constructs_lib.records import parse_record
from constructs_lib.redrive import (
    OriginalFunctionTarget,
    Outcome,
    QueueTarget,
    StreamTarget,
    UnsupportedRecord,
    fifo_id,
    kinesis_partition_key,
    redrive,
)
from constructs_lib.redrive._payloads import dumps_json
from constructs_lib.redrive.cli import EXIT_SKIPPED, main
from tests.runtime_support import (
    ACCOUNT,
    REGION,
    FakeClock,
    RefusingSqsClient,
    async_failure_record,
    drain,
    fail_calls,
    fill_queue,
    load_fixture,
    stream_failure_record,
)

NOTIFIER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:OrdersNotifier"


def run(queue_url: str, target: Any, sqs: Any, **options: Any):
    return redrive(queue_url, target, sqs_client=sqs, wait_seconds=0, **options)


def dead_letter(body: str, request_id: str, **extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A function dead-letter message: the event as body, Lambda's three attributes (plus ``extra`` ones)."""
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "Task timed out after 3.00 seconds"},
        **extra,
    }
    return body, attributes


def add_dead_letters(sqs: Any, queue_url: str, messages: list[tuple[str, dict[str, Any]]]) -> None:
    fill_queue(sqs, queue_url, [body for body, _ in messages], [attributes for _, attributes in messages])


def async_record_text(payload_text: str, request_id: str, function_arn: str = f"{NOTIFIER_ARN}:$LATEST") -> str:
    """An async invocation record (the Lambda documentation's shape) around the payload's exact JSON text."""
    record = async_failure_record({}, function_arn=function_arn, request_id=request_id)
    return json.dumps(record).replace('"requestPayload": {}', f'"requestPayload": {payload_text}')


def bodies(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(message["Body"] for message in messages)


def create_stream(kinesis: Any, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def stream_contents(kinesis: Any, name: str) -> list[dict[str, Any]]:
    shard_id = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    return kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=10_000)["Records"]


# --- 1. one poison message never stops the run ---------------------------------------------------------------


def test_poison_messages_are_skipped_with_their_reason_and_every_other_message_moves(sqs, failure_queue, replay_queue):
    good = [dead_letter(json.dumps({"order_id": f"o-{index}"}), f"req-{index}") for index in range(6)]
    huge_integer = "9" * 5000
    deep = "[" * 100_000 + "]" * 100_000
    fill_queue(sqs, failure_queue, [async_record_text(deep, "r-deep")])
    add_dead_letters(sqs, failure_queue, good[:3])
    fill_queue(
        sqs,
        failure_queue,
        [
            async_record_text(f'{{"order_id": "o-big", "total": {huge_integer}}}', "r-big"),
            async_record_text('{"order_id": "o-bad", "name": "\\ud800"}', "r-surrogate"),
        ],
    )
    add_dead_letters(sqs, failure_queue, [dead_letter('{"order_id": "o-dlq-bad", "note": "\\udc00x"}', "req-bad")])
    add_dead_letters(sqs, failure_queue, good[3:])

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    replayed = bodies(drain(sqs, replay_queue))
    left = bodies(drain(sqs, failure_queue))
    expected_moved = [body for body, _ in good] + [f'{{"order_id": "o-big", "total": {huge_integer}}}']
    assert replayed == Counter(expected_moved)  # nothing lost, nothing twice; the 5,000-digit number intact
    assert (summary.moved, summary.failed, summary.skipped, summary.stopped_by) == (7, 0, 3, None)
    assert len(left) == 3 and sum(left.values()) == 3  # the three poison messages stay, once each
    reasons = sorted(result.reason or "" for result in summary.results if result.outcome is Outcome.SKIPPED)
    assert reasons[0] == (
        "not a failure record: Body: nested too deeply to be parsed (arrays or objects inside each other)"
    )
    assert reasons[1].startswith("the event holds a lone surrogate at body.note ")
    assert reasons[2].startswith("the event holds a lone surrogate at requestPayload.name ")


def test_non_standard_json_is_never_replayed(sqs, failure_queue, replay_queue):
    fill_queue(sqs, failure_queue, [async_record_text('{"ratio": NaN}', "r-nan")])
    add_dead_letters(sqs, failure_queue, [dead_letter('{"limit": Infinity}', "r-inf")])

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert (summary.moved, summary.skipped) == (0, 2)
    assert sorted(result.reason for result in summary.results) == [
        "not a failure record: Body: not standard JSON: Infinity is not a JSON value",
        "not a failure record: Body: not standard JSON: NaN is not a JSON value",
    ]
    assert drain(sqs, replay_queue) == []


def test_generated_json_is_utf8_and_escapes_only_what_sqs_refuses():
    assert dumps_json({"text": "Zoë 東京 🚀", "odd": "\ufffe\uffff"}) == (
        '{"text": "Zoë 東京 🚀", "odd": "\\ufffe\\uffff"}'.encode()
    )
    with pytest.raises(UnsupportedRecord, match=r"holds a lone surrogate \(\\ud800\) at doc.name"):
        dumps_json({"doc": {"name": "\ud800"}})
    with pytest.raises(UnsupportedRecord, match="cannot be written as standard JSON"):
        dumps_json({"x": float("inf")})


def test_the_cli_reports_a_poison_message_and_goes_on(sqs, failure_queue, replay_queue):
    fill_queue(sqs, failure_queue, [async_record_text('{"name": "\\udbff"}', "r-1")])
    add_dead_letters(sqs, failure_queue, [dead_letter('{"order_id": "o-1"}', "req-1")])
    stdout, stderr = io.StringIO(), io.StringIO()

    status = main(
        ["--wait-seconds", "0", "--from", failure_queue, "--to-queue", replay_queue, "-v"], stdout=stdout, stderr=stderr
    )

    assert status == EXIT_SKIPPED
    assert "moved: 1, failed: 0, skipped: 1" in stdout.getvalue()
    assert "lone surrogate at requestPayload.name" in stdout.getvalue()
    assert "Traceback" not in stderr.getvalue()


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def streams(aws):
    return boto3.client("dynamodbstreams", region_name=REGION)


def dynamodb_failure(
    dynamodb: Any, streams: Any, table: str, key_type: str, writes: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """A table with a stream, the given items put (or updated) in order, and the on-failure record of them all."""
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": key_type}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    for item in writes:
        dynamodb.put_item(TableName=table, Item=item)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    record = stream_failure_record(
        batch_key="DDBStreamBatchInfo",
        stream_arn=stream_arn,
        shard_id=shard["ShardId"],
        start=str(first),
        end=str(first + len(writes) - 1),
        batch_size=len(writes),
        first_arrival=dt.datetime.now(dt.UTC),
        function="InventoryProjector",
    )
    return stream_arn, record


def test_dynamodb_binary_attributes_are_replayed_as_lambda_carries_them(
    sqs, kinesis, dynamodb, streams, failure_queue, replay_queue
):
    thumbnail, signature = bytes(range(256)), b"\x00\xffsig"
    # String keys: moto 5.2.5's stream records base64-encode a binary key twice (their images are right).
    _, record = dynamodb_failure(
        dynamodb,
        streams,
        "documents",
        "S",
        [
            {
                "pk": {"S": "doc-1"},
                "thumbnail": {"B": thumbnail},
                "signatures": {"BS": [signature, b"second"]},
                "title": {"S": "Zoë's 東京 notes"},
            },
            {"pk": {"S": "doc-2"}, "size": {"N": "12345678901234567890.123456789"}},
        ],
    )
    fill_queue(sqs, failure_queue, [json.dumps(record)])
    fill_queue(sqs, failure_queue, [json.dumps(record)])  # the same batch twice: once per target
    create_stream(kinesis, "documents-replay")
    clients = {"dynamodb": streams, "kinesis": kinesis}

    to_queue = run(
        failure_queue,
        QueueTarget(replay_queue, client=sqs),
        sqs,
        max_messages=1,
        stream_client_factory=lambda k, r: clients[k.value],
    )
    to_stream = run(
        failure_queue,
        StreamTarget("documents-replay", client=kinesis),
        sqs,
        stream_client_factory=lambda k, r: clients[k.value],
    )

    assert (to_queue.moved, to_queue.skipped, to_stream.moved, to_stream.skipped) == (1, 0, 1, 0)
    doc_1, doc_2 = {"S": "doc-1"}, {"S": "doc-2"}
    queued = {m["Body"] for m in drain(sqs, replay_queue)}
    put = stream_contents(kinesis, "documents-replay")
    assert {record["Data"].decode() for record in put} == queued  # the same event JSON to both targets
    events = {json.dumps(event["dynamodb"]["Keys"]["pk"]): event for event in map(json.loads, queued)}
    assert sorted(events) == sorted([json.dumps(doc_1), json.dumps(doc_2)])
    first = events[json.dumps(doc_1)]["dynamodb"]["NewImage"]
    assert first["thumbnail"] == {"B": base64.b64encode(thumbnail).decode()}
    assert sorted(first["signatures"]["BS"]) == sorted(base64.b64encode(v).decode() for v in (signature, b"second"))
    assert first["title"] == {"S": "Zoë's 東京 notes"}
    assert events[json.dumps(doc_2)]["dynamodb"]["NewImage"]["size"] == {"N": "12345678901234567890.123456789"}
    assert sorted(record["PartitionKey"] for record in put) == sorted(
        [json.dumps({"pk": doc_1}), json.dumps({"pk": doc_2})]
    )
    assert drain(sqs, failure_queue) == []


def test_binary_keys_and_images_of_a_stream_record_become_base64():
    raw = {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"B": b"\x01\x02"}},
            "NewImage": {"pk": {"B": b"\x01\x02"}, "tags": {"BS": [b"\xff", b"a"]}, "m": {"M": {"b": {"B": b"z"}}}},
            "SequenceNumber": "4421584500000000017450439091",
        },
    }
    record = DynamoDBStreamRecord(
        stream_arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t/stream/2026-01-01T00:00:00.000",
        sequence_number="4421584500000000017450439091",
        event_id=raw["eventID"],
        event_name="MODIFY",
        keys=raw["dynamodb"]["Keys"],
        new_image=raw["dynamodb"]["NewImage"],
        old_image=None,
        approximate_creation_time=None,
        raw=raw,
    )

    event = record.to_lambda_event_record()

    assert record.lambda_keys() == {"pk": {"B": "AQI="}}
    assert event["dynamodb"]["Keys"] == {"pk": {"B": "AQI="}}
    assert event["dynamodb"]["NewImage"] == {
        "pk": {"B": "AQI="},
        "tags": {"BS": ["/w==", "YQ=="]},
        "m": {"M": {"b": {"B": "eg=="}}},
    }
    assert json.loads(json.dumps(event)) == event  # plain JSON now


# --- 2. payloads replayed intact -----------------------------------------------------------------------------

EXACT_PAYLOAD = (
    '{"amount": 0.1000000000000000055511151231257827, "limit": 1e400, "count": 123456789012345678901234567890, '
    '"customer": "Zoë Østergård, 東京 🚀", "escaped": "caf\\u00e9", "nested": {"ratio": -0.0, "e": 1E-7}}'
)


def test_the_replayed_event_is_the_recorded_text_byte_for_byte(sqs, kinesis, failure_queue, replay_queue):
    fill_queue(sqs, failure_queue, [async_record_text(EXACT_PAYLOAD, "r-exact")] * 2)
    create_stream(kinesis, "orders-replay")

    to_queue = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, max_messages=1)
    to_stream = run(failure_queue, StreamTarget("orders-replay", client=kinesis), sqs)

    assert (to_queue.moved, to_stream.moved) == (1, 1)
    assert [message["Body"] for message in drain(sqs, replay_queue)] == [EXACT_PAYLOAD]
    [put] = stream_contents(kinesis, "orders-replay")
    assert put["Data"] == EXACT_PAYLOAD.encode("utf-8")
    assert put["PartitionKey"] == "r-exact"


def test_the_record_keeps_the_exact_text_and_decodes_what_python_cannot_hold_as_decimal():
    record = parse_record(async_record_text(EXACT_PAYLOAD, "r-exact"))

    assert record.request_payload_json == EXACT_PAYLOAD
    assert record.request_payload["limit"] == Decimal("1e400")  # not Infinity
    assert record.request_payload["count"] == 123456789012345678901234567890
    assert parse_record(async_record_text('{"n": ' + "7" * 5000 + "}", "r")).request_payload["n"] == Decimal("7" * 5000)


def test_the_exact_text_survives_an_sns_envelope(sqs, failure_queue, replay_queue):
    record = async_record_text(EXACT_PAYLOAD, "r-sns")
    notification = {"Type": "Notification", "MessageId": "n-1", "TopicArn": f"arn:aws:sns:{REGION}:1:t"}
    fill_queue(sqs, failure_queue, [json.dumps({**notification, "Message": record})])

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert summary.moved == 1
    assert [message["Body"] for message in drain(sqs, replay_queue)] == [EXACT_PAYLOAD]


def test_non_ascii_text_is_not_inflated_and_still_fits_a_256_kib_queue(sqs, failure_queue):
    small_queue = sqs.create_queue(QueueName="replay-256k", Attributes={"MaximumMessageSize": "262144"})["QueueUrl"]
    payload = json.dumps({"note": "é東" * 36_000}, ensure_ascii=False)  # 180 KB of UTF-8
    fill_queue(sqs, failure_queue, [async_record_text(payload, "r-text")])

    summary = run(failure_queue, QueueTarget(small_queue, client=sqs), sqs)

    assert summary.moved == 1
    [replayed] = drain(sqs, small_queue)
    assert replayed["Body"] == payload
    assert len(replayed["Body"].encode()) == len(payload.encode()) == 180_012


# --- 3. partial batch failures: only refused entries again, paced per shard ---------------------------------


class ThrottlingKinesisClient:
    """A Kinesis client for a one-shard stream that takes at most ``per_second`` records per (fake) second, as a
    shard shared with other producers would; it refuses the excess as Kinesis does, entry by entry."""

    def __init__(self, client: Any, clock: FakeClock, per_second: int) -> None:
        self._client = client
        self._clock = clock
        self._per_second = per_second
        self.windows: Counter[int] = Counter()  # records offered per whole second
        self.accepted = 0
        self.refused = 0
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_records(self, *, Records: list[dict[str, Any]], **stream: Any) -> dict[str, Any]:
        second = int(self._clock())
        self.calls.append(len(Records))
        room = max(0, self._per_second - self.windows[second])
        self.windows[second] += len(Records)
        kept, results = Records[:room], []
        response = self._client.put_records(Records=kept, **stream) if kept else {"Records": []}
        results = list(response["Records"])
        refusal = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
        results += [dict(refusal) for _ in Records[room:]]
        self.accepted += len(kept)
        self.refused += len(Records) - len(kept)
        return {"FailedRecordCount": len(Records) - len(kept), "Records": results}


def add_kinesis_batches(sqs: Any, kinesis: Any, queue_url: str, stream_arn: str, batches: int, size: int) -> None:
    for batch in range(batches):
        records = [
            {"Data": f'{{"order_id": "o-{batch}-{index}"}}'.encode(), "PartitionKey": f"customer-{index % 7}"}
            for index in range(size)
        ]
        answer = kinesis.put_records(StreamARN=stream_arn, Records=records)["Records"]
        record = stream_failure_record(
            batch_key="KinesisBatchInfo",
            stream_arn=stream_arn,
            shard_id="shardId-000000000000",
            start=answer[0]["SequenceNumber"],
            end=answer[-1]["SequenceNumber"],
            batch_size=size,
            first_arrival=dt.datetime.now(dt.UTC),
        )
        fill_queue(sqs, queue_url, [json.dumps(record)])


def test_throttled_records_are_put_again_alone_paced_and_exactly_once(sqs, kinesis, failure_queue):
    source = create_stream(kinesis, "orders")
    create_stream(kinesis, "orders-replay")
    add_kinesis_batches(sqs, kinesis, failure_queue, source, batches=6, size=500)
    clock = FakeClock()
    throttling = ThrottlingKinesisClient(kinesis, clock, per_second=400)
    target = StreamTarget("orders-replay", client=throttling, sleep=clock.sleep, clock=clock)

    summary = run(failure_queue, target, sqs, stream_client_factory=lambda k, r: kinesis)

    replayed = Counter(record["Data"] for record in stream_contents(kinesis, "orders-replay"))
    assert (summary.moved, summary.failed, summary.skipped) == (6, 0, 0)
    assert len(replayed) == 3000 and set(replayed.values()) == {1}  # every record, none twice
    assert throttling.accepted == 3000  # no duplicate copies were ever put
    assert throttling.refused > 0  # the shard did throttle...
    assert max(throttling.windows.values()) <= 1000  # ...and never more than the shard's limit was offered
    assert drain(sqs, failure_queue) == []


def test_a_throttled_shard_backs_off_while_the_other_shard_goes_on(sqs, kinesis, failure_queue):
    source = create_stream(kinesis, "orders")
    kinesis.create_stream(StreamName="orders-replay", ShardCount=2)
    add_kinesis_batches(sqs, kinesis, failure_queue, source, batches=1, size=200)
    clock = FakeClock()
    target = StreamTarget("orders-replay", client=kinesis, sleep=clock.sleep, clock=clock)
    target.prepare()
    busy_shard = target.shard_of("customer-0")
    put_at: dict[str, list[float]] = {}

    class BusyShard:
        """The shard of customer-0 refuses every record for its first 3 (fake) seconds."""

        def __getattr__(self, name: str) -> Any:
            return getattr(kinesis, name)

        def put_records(self, *, Records: list[dict[str, Any]], **stream: Any) -> dict[str, Any]:
            busy = [clock() < 1003 and target.shard_of(r["PartitionKey"]) == busy_shard for r in Records]
            kept = [record for record, refused in zip(Records, busy, strict=True) if not refused]
            written = iter(kinesis.put_records(Records=kept, **stream)["Records"] if kept else [])
            results = []
            for record, refused in zip(Records, busy, strict=True):
                if refused:
                    results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "busy"})
                else:
                    put_at.setdefault(target.shard_of(record["PartitionKey"]) or "", []).append(clock())
                    results.append(next(written))
            return {"FailedRecordCount": busy.count(True), "Records": results}

    target.client = BusyShard()
    summary = run(failure_queue, target, sqs, stream_client_factory=lambda k, r: kinesis)

    assert (summary.moved, summary.failed) == (1, 0)
    other_shard = next(shard for shard in put_at if shard != busy_shard)
    assert max(put_at[other_shard]) == 1000.0  # the other shard was written at once, in the first call
    assert min(put_at[busy_shard]) >= 1003.0  # the busy one after backing off
    assert sum(map(len, put_at.values())) == 200  # every record exactly once


def test_refused_send_message_batch_entries_are_sent_again_alone(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, [dead_letter(json.dumps({"order_id": f"o-{i}"}), f"r-{i}") for i in range(10)])
    refused_once: set[str] = set()
    entries_per_call: list[int] = []

    def refuse(entry: dict[str, Any]) -> bool:
        if entry["MessageBody"] in {'{"order_id": "o-3"}', '{"order_id": "o-7"}'} - refused_once:
            refused_once.add(entry["MessageBody"])
            return True
        return False

    class Counting(RefusingSqsClient):
        def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            entries_per_call.append(len(Entries))
            return super().send_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    clock = FakeClock()
    client = Counting(sqs, refuse, sender_fault=False)
    summary = run(failure_queue, QueueTarget(replay_queue, client=client, sleep=clock.sleep, clock=clock), sqs)

    assert entries_per_call == [10, 2]  # the retry carries only the two refused entries
    assert summary.moved == 10 and summary.possible_duplicates == ()
    assert set(bodies(drain(sqs, replay_queue)).values()) == {1}


# --- 4. FIFO targets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "mapped"),
    [
        ("req-0b1c", "req-0b1c"),
        ("customer 42", "customer%2042"),
        ("café-7", "caf%C3%A9-7"),
        ('{"id": {"S": "c-1"}}', '{"id":%20{"S":%20"c-1"}}'),
        ("100%", "100%25"),
    ],
)
def test_fifo_ids_are_mapped_to_sqs_characters(key, mapped):
    assert fifo_id(key) == mapped


def test_a_fifo_id_too_long_once_encoded_is_a_hash():
    key = json.dumps({"pk": {"S": "é" * 60}})
    assert fifo_id(key) == "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    assert fifo_id("x" * 128) == "x" * 128
    assert fifo_id("x" * 129).startswith("sha256:")


@given(st.text(max_size=200))
def test_every_fifo_id_is_valid_and_stable(value):
    mapped = fifo_id(value)
    assert 1 <= len(mapped) <= SQS_FIFO_ID_MAX_LENGTH
    assert set(mapped) <= SQS_FIFO_ID_CHARACTERS
    assert fifo_id(value) == mapped


@given(st.text(max_size=40), st.text(max_size=40))
def test_distinct_short_keys_keep_distinct_fifo_groups(first, second):
    if first != second:
        assert fifo_id(first) != fifo_id(second)


def test_kinesis_partition_keys_become_fifo_groups(sqs, kinesis, failure_queue):
    fifo = sqs.create_queue(QueueName="orders-replay.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    source = create_stream(kinesis, "orders")
    keys = ["customer 42", "café-7", "customer 42"]
    answer = kinesis.put_records(
        StreamARN=source, Records=[{"Data": f"order-{i}".encode(), "PartitionKey": k} for i, k in enumerate(keys)]
    )["Records"]
    record = stream_failure_record(
        batch_key="KinesisBatchInfo",
        stream_arn=source,
        shard_id="shardId-000000000000",
        start=answer[0]["SequenceNumber"],
        end=answer[-1]["SequenceNumber"],
        batch_size=3,
        first_arrival=dt.datetime.now(dt.UTC),
    )
    fill_queue(sqs, failure_queue, [json.dumps(record)])

    summary = run(failure_queue, QueueTarget(fifo, client=sqs), sqs, stream_client_factory=lambda k, r: kinesis)

    assert summary.moved == 1
    received = []
    while batch := sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]).get(
        "Messages"
    ):
        received += batch
        sqs.delete_message_batch(
            QueueUrl=fifo, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    groups = Counter(message["Attributes"]["MessageGroupId"] for message in received)
    assert groups == Counter({"customer%2042": 2, "caf%C3%A9-7": 1})
    dedup_ids = {message["Attributes"]["MessageDeduplicationId"] for message in received}
    assert len(dedup_ids) == 3 and all(set(d) <= SQS_FIFO_ID_CHARACTERS for d in dedup_ids)


# --- 5. sizes ------------------------------------------------------------------------------------------------


def test_a_replay_larger_than_the_target_queue_takes_is_skipped_before_sending(sqs, failure_queue):
    small = sqs.create_queue(QueueName="replay-small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    add_dead_letters(
        sqs,
        failure_queue,
        [
            dead_letter(json.dumps({"order_id": "o-1"}), "r-1"),
            dead_letter(json.dumps({"order_id": "o-2", "blob": "x" * 2000}), "r-2"),
            dead_letter(json.dumps({"order_id": "o-3"}), "r-3"),
        ],
    )
    sent: list[int] = []
    sqs_target = boto3.client("sqs", region_name=REGION)
    sqs_target.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: sent.append(len(params["Entries"]))
    )

    summary = run(failure_queue, QueueTarget(small, client=sqs_target), sqs)

    assert (summary.moved, summary.skipped, summary.failed) == (2, 1, 0)
    assert sent == [2]  # the large one was never offered
    [skipped] = [result for result in summary.results if result.outcome is Outcome.SKIPPED]
    assert skipped.reason == (
        f"too large: the replayed message would be 2,031 bytes (body and attributes); queue {small} takes at most "
        "1,024 (its MaximumMessageSize)"
    )
    assert [json.loads(m["Body"])["order_id"] for m in drain(sqs, failure_queue)] == ["o-2"]


def test_a_record_larger_than_kinesis_takes_is_skipped_before_putting(sqs, kinesis, dynamodb, streams, failure_queue):
    # An update of an item with a large binary attribute: old and new image, base64, exceed 1 MiB as JSON.
    blob = bytes(395_000)
    _, record = dynamodb_failure(
        dynamodb,
        streams,
        "scans",
        "S",
        [{"pk": {"S": "scan-1"}, "image": {"B": blob}}, {"pk": {"S": "scan-1"}, "image": {"B": blob[:-1] + b"\x01"}}],
    )
    fill_queue(sqs, failure_queue, [json.dumps(record)])
    create_stream(kinesis, "scans-replay")
    puts = fail_calls(kinesis, "PutRecords", on_calls=lambda call: False)
    clients = {"dynamodb": streams, "kinesis": kinesis}

    summary = run(
        failure_queue,
        StreamTarget("scans-replay", client=kinesis),
        sqs,
        stream_client_factory=lambda k, r: clients[k.value],
    )

    assert (summary.moved, summary.skipped, summary.failed) == (0, 1, 0)
    assert summary.results[0].reason.startswith("too large: item 2 of 2: a record would be 1,053,")
    assert summary.results[0].reason.endswith("stream scans-replay takes at most 1,048,576 per record")
    assert puts == []  # nothing put: the batch stays whole in the failure queue
    assert len(drain(sqs, failure_queue)) == 1


# --- 6. message attributes -----------------------------------------------------------------------------------


def test_the_events_own_attributes_travel_and_lambdas_stay_behind(sqs, failure_queue, replay_queue):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    add_dead_letters(
        sqs,
        failure_queue,
        [
            dead_letter(
                json.dumps({"order_id": "o-1"}),
                "r-1",
                traceparent={"DataType": "String", "StringValue": traceparent},
                tenant={"DataType": "String.tenant", "StringValue": "acme"},
                signature={"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe"},
            )
        ],
    )
    record = async_record_text('{"order_id": "o-2"}', "r-2")
    fill_queue(sqs, failure_queue, [record], [{"tenant": {"DataType": "String", "StringValue": "globex"}}])

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert (summary.moved, summary.skipped) == (2, 0)  # a binary attribute no longer makes a message unparseable
    replayed = {json.loads(m["Body"])["order_id"]: m.get("MessageAttributes", {}) for m in drain(sqs, replay_queue)}
    assert replayed["o-1"] == {
        "traceparent": {"StringValue": traceparent, "DataType": "String"},
        "tenant": {"StringValue": "acme", "DataType": "String.tenant"},
        "signature": {"BinaryValue": b"\x00\x01\xfe", "DataType": "Binary"},
    }
    assert replayed["o-2"] == {"tenant": {"StringValue": "globex", "DataType": "String"}}


# --- 7. progress: messages left in the queue never end the run early ----------------------------------------


def test_skipped_messages_that_keep_coming_back_do_not_end_the_run(sqs, failure_queue, replay_queue):
    fill_queue(sqs, failure_queue, [f"junk-{index}" for index in range(27)])  # the oldest: received first
    good = [dead_letter(json.dumps({"order_id": f"o-{i}"}), f"r-{i}") for i in range(60)]
    add_dead_letters(sqs, failure_queue, good)

    # A visibility timeout of 0: every message left in the queue is visible again at once (the junk was
    # received first, so before the fix the second receive brought back only junk and the run ended there).
    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs, visibility_timeout=0)

    assert (summary.moved, summary.skipped, summary.failed) == (60, 27, 0)
    assert bodies(drain(sqs, replay_queue)) == Counter(body for body, _ in good)  # each exactly once
    assert sorted(bodies(drain(sqs, failure_queue))) == sorted(f"junk-{index}" for index in range(27))


# --- 8. smaller defects --------------------------------------------------------------------------------------


def test_a_long_dynamodb_key_gets_a_hashed_partition_key(sqs, kinesis, dynamodb, streams, failure_queue):
    long_id = "tenant-7/" + "x" * 240
    _, record = dynamodb_failure(dynamodb, streams, "sessions", "S", [{"pk": {"S": long_id}}])
    fill_queue(sqs, failure_queue, [json.dumps(record)])
    create_stream(kinesis, "sessions-replay")
    clients = {"dynamodb": streams, "kinesis": kinesis}

    summary = run(
        failure_queue,
        StreamTarget("sessions-replay", client=kinesis),
        sqs,
        stream_client_factory=lambda k, r: clients[k.value],
    )

    assert (summary.moved, summary.failed) == (1, 0)
    [put] = stream_contents(kinesis, "sessions-replay")
    key_json = json.dumps({"pk": {"S": long_id}}, sort_keys=True)
    assert len(key_json) > 256
    assert (
        put["PartitionKey"]
        == kinesis_partition_key(key_json)
        == "sha256:" + hashlib.sha256(key_json.encode()).hexdigest()
    )


def test_a_delete_without_a_result_is_not_counted_as_deleted(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, [dead_letter(json.dumps({"order_id": f"o-{i}"}), f"r-{i}") for i in range(3)])

    class SilentDeletes:
        """Deletes everything but leaves the first entry out of the answer, in neither list."""

        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            response = sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries)
            return {**response, "Successful": response["Successful"][1:]}

    summary = redrive(failure_queue, QueueTarget(replay_queue, client=sqs), sqs_client=SilentDeletes(), wait_seconds=0)

    assert summary.moved == 3 and len(summary.not_deleted) == 1
    assert "DeleteMessageBatch reported no result for it" in (summary.not_deleted[0].reason or "")
    assert not summary.ok


def test_the_failure_queue_under_another_host_name_is_refused_as_target(sqs, failure_queue):
    other_host = f"http://localhost:4566/{ACCOUNT}/orders-failures"
    with pytest.raises(ValueError, match="the target queue is the failure queue itself"):
        run(failure_queue, QueueTarget(other_host, client=sqs), sqs)


def test_messages_hidden_by_a_crashed_run_are_reported(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, [dead_letter(json.dumps({"order_id": f"o-{i}"}), f"r-{i}") for i in range(5)])
    crashed = sqs.receive_message(QueueUrl=failure_queue, MaxNumberOfMessages=3, VisibilityTimeout=300)["Messages"]
    stdout = io.StringIO()

    status = main(["--wait-seconds", "0", "--from", failure_queue, "--to-queue", replay_queue], stdout=stdout)

    assert len(crashed) == 3
    assert status == EXIT_SKIPPED  # not 0: three messages were out of reach
    assert "moved: 2, failed: 0, skipped: 0" in stdout.getvalue()
    assert "warning: 3 message(s) were hidden (in flight) when the run started" in stdout.getvalue()


def test_a_skipped_message_holding_back_its_fifo_group_is_reported(sqs, replay_queue):
    fifo = sqs.create_queue(
        QueueName="orders-failures.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    group_a = ["junk"] + [json.dumps({"order_id": f"a-{index}"}) for index in range(11)]
    for body, group in [(body, "A") for body in group_a] + [('{"order_id": "b-0"}', "B")]:
        _, attributes = dead_letter(body, f"r-{body}")
        sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=group, MessageAttributes=attributes)
    stdout = io.StringIO()

    status = main(["--wait-seconds", "0", "--from", fifo, "--to-queue", replay_queue], stdout=stdout)

    # The first receive brings the junk and the nine A messages after it; once the junk is left in the queue,
    # SQS delivers nothing more of group A: the last two stay behind it, unreceived.
    assert status == EXIT_SKIPPED
    assert "moved: 10, failed: 0, skipped: 1" in stdout.getvalue()
    assert "in 1 message group(s) (A) a message left in the queue holds back the ones behind it" in stdout.getvalue()
    assert sorted(json.loads(m["Body"])["order_id"] for m in drain(sqs, replay_queue)) == sorted(
        [f"a-{index}" for index in range(9)] + ["b-0"]
    )
    left = []
    while batch := sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10).get("Messages"):
        left += [message["Body"] for message in batch]
        sqs.delete_message_batch(
            QueueUrl=fifo, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    assert left == ["junk", json.dumps({"order_id": "a-9"}), json.dumps({"order_id": "a-10"})]


def test_a_lost_answer_is_reported_as_a_possible_duplicate_and_counted(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, [dead_letter(json.dumps({"order_id": f"o-{i}"}), f"r-{i}") for i in range(10)])

    class LostAnswer:
        """Sends every entry, but the answer loses the first one (in neither list) on the first call."""

        def __init__(self) -> None:
            self.calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls += 1
            response = sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
            if self.calls == 1:
                response = {**response, "Successful": [s for s in response["Successful"] if s["Id"] != "0"]}
            return response

    summary = run(failure_queue, QueueTarget(replay_queue, client=LostAnswer(), sleep=lambda _: None), sqs)

    replayed = bodies(drain(sqs, replay_queue))
    assert summary.moved == 10
    assert sorted(replayed.values()) == [1] * 9 + [2]  # the one whose answer was lost arrived twice...
    [duplicate] = summary.possible_duplicates  # ...and the summary names it
    assert duplicate.possible_duplicate and "may have arrived twice" in (duplicate.reason or "")


def test_a_failed_call_that_may_have_been_applied_is_reported(sqs, failure_queue, replay_queue):
    add_dead_letters(sqs, failure_queue, [dead_letter(json.dumps({"order_id": f"o-{i}"}), f"r-{i}") for i in range(4)])
    target_client = boto3.client("sqs", region_name=REGION)

    def sent_then_lost(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        sqs.send_message_batch(QueueUrl=replay_queue, Entries=[{"Id": "0", "MessageBody": "applied"}])
        error = {"Error": {"Code": "InternalError", "Message": "lost"}, "ResponseMetadata": {"HTTPStatusCode": 500}}
        return AWSResponse("https://injected.invalid/", 500, {}, None), error

    target_client.meta.events.register("before-call.sqs.SendMessageBatch", sent_then_lost)

    summary = run(failure_queue, QueueTarget(replay_queue, client=target_client), sqs)

    assert (summary.moved, summary.failed) == (0, 4)
    assert len(summary.possible_duplicates) == 4
    assert all("a rerun may repeat" in (result.reason or "") for result in summary.results)
    assert len(drain(sqs, failure_queue)) == 4  # nothing lost


# --- 9. one failing target record does not stop the others ---------------------------------------------------


@pytest.fixture
def lambda_client(aws):
    client = boto3.client("lambda", region_name=REGION)
    role = boto3.client("iam").create_role(RoleName="notifier", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client.create_function(
        FunctionName="OrdersNotifier",
        Runtime="python3.12",
        Role=role,
        Handler="notifier.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    return client


def test_records_naming_a_gone_or_foreign_function_fail_alone(sqs, failure_queue, lambda_client):
    other_account = f"arn:aws:lambda:{REGION}:210987654321:function:PartnerHook:$LATEST"
    deleted = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:RetiredNotifier:$LATEST"
    arns = [f"{NOTIFIER_ARN}:$LATEST", deleted, other_account, f"{NOTIFIER_ARN}:$LATEST", deleted, f"{NOTIFIER_ARN}"]
    fill_queue(
        sqs,
        failure_queue,
        [async_record_text(json.dumps({"n": i}), f"r-{i}", function_arn=arn) for i, arn in enumerate(arns)],
    )
    invoked: list[str] = []

    def lambda_answers(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        # moto's Lambda without Docker invokes any name: answer as Lambda does for these two functions.
        invoked.append(params["url_path"])
        if "210987654321" in params["url_path"]:
            code, message, status = "AccessDeniedException", "not authorized to perform lambda:InvokeFunction", 403
        elif "RetiredNotifier" in params["url_path"]:
            code, message, status = "ResourceNotFoundException", "Function not found: RetiredNotifier", 404
        else:
            return None
        error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("https://injected.invalid/", status, {}, None), error

    lambda_client.meta.events.register("before-call.lambda.Invoke", lambda_answers)

    summary = run(failure_queue, OriginalFunctionTarget(client_factory=lambda region: lambda_client), sqs)

    assert (summary.moved, summary.failed, summary.stopped_by) == (3, 3, None)
    reasons = sorted(r.reason or "" for r in summary.results if r.outcome is Outcome.FAILED)
    assert sum("ResourceNotFoundException" in reason for reason in reasons) == 2
    assert sum("AccessDeniedException" in reason for reason in reasons) == 1
    assert sum("RetiredNotifier" in path for path in invoked) == 1  # asked once; its second record failed alike
    assert sum(NOTIFIER_ARN.split(":")[-1] in path for path in invoked) == 3
    left = sorted(json.loads(m["Body"])["requestContext"]["requestId"] for m in drain(sqs, failure_queue))
    assert left == ["r-1", "r-2", "r-4"]


def test_a_systemic_failure_still_stops_the_run(sqs, failure_queue, lambda_client):
    fill_queue(
        sqs,
        failure_queue,
        [async_record_text(json.dumps({"n": i}), f"r-{i}", function_arn=f"{NOTIFIER_ARN}:$LATEST") for i in range(3)],
    )
    fail_calls(lambda_client, "Invoke", on_calls=lambda call: call == 2, code="UnrecognizedClientException", status=403)

    summary = run(failure_queue, OriginalFunctionTarget(client_factory=lambda region: lambda_client), sqs)

    assert (summary.moved, summary.failed) == (1, 2)
    assert "UnrecognizedClientException" in (summary.stopped_by or "")
    assert len(drain(sqs, failure_queue)) == 2
    assert summary.possible_duplicates == ()  # a 403 was never carried out


def test_the_documented_async_record_replays_its_payload_exactly(sqs, failure_queue, replay_queue):
    document = json.dumps(load_fixture("async_retries_exhausted.json"), indent=2)
    fill_queue(sqs, failure_queue, [document])

    summary = run(failure_queue, QueueTarget(replay_queue, client=sqs), sqs)

    assert summary.moved == 1
    [message] = drain(sqs, replay_queue)
    assert message["Body"] == json.dumps(
        load_fixture("async_retries_exhausted.json")["requestPayload"], indent=2
    ).replace("\n", "\n  ")
    assert json.loads(message["Body"]) == load_fixture("async_retries_exhausted.json")["requestPayload"]
