"""Helpers for the runtime tests (records, fetch, redrive): fixtures, fake AWS, fault injection."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

FIXTURES = Path(__file__).parent / "fixtures" / "records"
ACCOUNT = "123456789012"
REGION = "us-east-1"

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    # moto intercepts DynamoDB only on its regional endpoint, not on account-based ones.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def use_fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, and no profile or endpoint from the machine: nothing can reach AWS."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def load_fixture(name: str) -> Any:
    """A sample record from tests/fixtures/records/, decoded."""
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def stream_failure_record(
    *,
    batch_key: str,
    stream_arn: str,
    shard_id: str,
    start: str,
    end: str,
    batch_size: int,
    first_arrival: dt.datetime,
    function: str = "OrdersProcessor",
) -> dict[str, Any]:
    """An on-failure record as Lambda writes it for a Kinesis or DynamoDB Streams batch."""
    return {
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4d2b-af9c-0c604cde93a5",
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _iso(first_arrival + dt.timedelta(seconds=30)),
        batch_key: {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": _iso(first_arrival),
            "approximateArrivalOfLastRecord": _iso(first_arrival + dt.timedelta(seconds=1)),
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }


def async_failure_record(payload: Any, *, function_arn: str, request_id: str) -> dict[str, Any]:
    """An asynchronous invocation record with condition RetriesExhausted."""
    return {
        "version": "1.0",
        "timestamp": "2025-11-24T09:41:27.358Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "boom", "errorType": "RuntimeError"},
    }


def fail_calls(
    client: Any,
    operation: str,
    *,
    on_calls: Callable[[int], bool],
    code: str = "InternalError",
    message: str = "injected failure",
    status: int = 500,
) -> list[int]:
    """Make the chosen calls (numbered from 1) of ``operation`` fail with a real botocore ``ClientError``.

    The failure is injected at botocore's ``before-call`` hook, so the client raises exactly what it raises
    when the service answers with that error (nothing reaches the service). Returns the list of call numbers
    seen so far, which grows as the client is used.
    """
    calls: list[int] = []
    service_id = client.meta.service_model.service_id.hyphenize()

    def inject(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls.append(len(calls) + 1)
        if not on_calls(calls[-1]):
            return None
        response = AWSResponse("https://injected.invalid/", status, {}, None)
        return response, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}

    client.meta.events.register(f"before-call.{service_id}.{operation}", inject)
    return calls


def count_calls(client: Any, operation: str) -> list[int]:
    """Count the calls of ``operation`` without changing them."""
    return fail_calls(client, operation, on_calls=lambda _: False)


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive every message of a queue once (they stay hidden for a minute); returns them."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def fill_queue(sqs: Any, queue_url: str, bodies: list[str], attributes: list[dict[str, Any]] | None = None) -> None:
    """Send these bodies (with optional SQS message attributes, one dict per body) in batches of 10."""
    for start in range(0, len(bodies), 10):
        entries = []
        for index in range(start, min(start + 10, len(bodies))):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": bodies[index]}
            if attributes:
                entry["MessageAttributes"] = attributes[index]
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port, stopped on exit; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RefusingSqsClient:
    """An SQS client whose ``SendMessageBatch`` refuses the entries ``refuse`` picks, as SQS reports refusals.

    The refused entries are not sent; they come back under ``Failed`` with ``SenderFault``. Everything else
    goes to the real client. ``refusals`` lists every entry refused so far.
    """

    def __init__(self, client: Any, refuse: Callable[[dict[str, Any]], bool], *, sender_fault: bool) -> None:
        self._client = client
        self._refuse = refuse
        self._sender_fault = sender_fault
        self.refusals: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        refused = [entry for entry in Entries if self._refuse(entry)]
        kept = [entry for entry in Entries if entry not in refused]
        self.refusals.extend(refused)
        response = self._client.send_message_batch(QueueUrl=QueueUrl, Entries=kept) if kept else {"Successful": []}
        failed = list(response.get("Failed", []))
        code = "InvalidParameterValue" if self._sender_fault else "InternalError"
        failed += [{"Id": entry["Id"], "SenderFault": self._sender_fault, "Code": code} for entry in refused]
        return {**response, "Failed": failed}


class RefusingKinesisClient:
    """A Kinesis client whose ``PutRecords`` refuses the records ``refuse`` picks, as Kinesis reports them.

    Refused records are not written; their result entry carries ``ErrorCode`` at their position and
    ``FailedRecordCount`` counts them. Everything else goes to the real client.
    """

    def __init__(self, client: Any, refuse: Callable[[dict[str, Any]], bool]) -> None:
        self._client = client
        self._refuse = refuse
        self.refusals: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_records(self, *, Records: list[dict[str, Any]], **stream: Any) -> dict[str, Any]:
        refused = {index for index, record in enumerate(Records) if self._refuse(record)}
        self.refusals.extend(Records[index] for index in sorted(refused))
        kept = [record for index, record in enumerate(Records) if index not in refused]
        response = self._client.put_records(Records=kept, **stream) if kept else {"FailedRecordCount": 0, "Records": []}
        written = iter(response["Records"])
        error = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
        results = [dict(error) if index in refused else next(written) for index in range(len(Records))]
        return {"FailedRecordCount": response["FailedRecordCount"] + len(refused), "Records": results}


def refuse_times(times: int, predicate: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    """A ``refuse`` function that refuses what ``predicate`` picks, ``times`` times in all."""
    left = [times]

    def refuse(entry: dict[str, Any]) -> bool:
        if left[0] > 0 and predicate(entry):
            left[0] -= 1
            return True
        return False

    return refuse


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called: back-off and pacing without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def s3_failure_object(
    records: list[tuple[str, bytes]],
    *,
    stream_arn: str = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders",
    shard_id: str = "shardId-000000000000",
    first_sequence: int = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000,
) -> dict[str, Any]:
    """An S3 failure object of a Kinesis mapping, as the Lambda developer guide shows it: the on-failure record
    plus ``payload``, the failed event (``Records`` of ``(partition key, data)``) as an escaped JSON string."""
    arrival = dt.datetime(2025, 11, 24, 0, 38, 4, tzinfo=dt.UTC)
    document = stream_failure_record(
        batch_key="KinesisBatchInfo",
        stream_arn=stream_arn,
        shard_id=shard_id,
        start=str(first_sequence),
        end=str(first_sequence + len(records) - 1),
        batch_size=len(records),
        first_arrival=arrival,
    )
    event_records = [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": key,
                "sequenceNumber": str(first_sequence + index),
                "data": base64.b64encode(data).decode(),
                "approximateArrivalTimestamp": arrival.timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{first_sequence + index}",
            "eventName": "aws:kinesis:record",
            "awsRegion": REGION,
            "eventSourceARN": stream_arn,
        }
        for index, (key, data) in enumerate(records)
    ]
    document["payload"] = json.dumps({"Records": event_records})
    return document


def s3_failure_object_key(index: int, *, mapping_uuid: str = "f89f8514-cdd9-4602-9e1f-01a5b77d449b") -> str:
    """A key in Lambda's layout: aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>."""
    return f"aws/lambda/{mapping_uuid}/shardId-000000000000/2025/11/24/2025-11-24T00.38.{index % 60:02d}-{index:08d}"
