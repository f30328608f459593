"""How fast a failure bucket is redriven, measured on a local moto server.

Replays N S3 failure objects of a Kinesis mapping (each one failed batch of R records, in the layout and shape
the Lambda developer guide documents) into a Kinesis stream, several times each way:

- ``redrive_bucket``: as shipped: objects read 8 at a time (S3 has no batch read), the records of 20 objects
  put with as few ``PutRecords`` calls as the shards allow, replayed objects removed with one ``DeleteObjects``;
- ``redrive_bucket, one reader``: the same with ``read_threads=1``;
- ``one object at a time (plain loop)``: the obvious script: list, then per object ``GetObject``, one
  ``PutRecords`` of its records, ``DeleteObject``.

Prints the API calls each one makes, its median wall time, objects and records per second and the speed-up
over the plain loop. Every run checks that each record arrived exactly once and the bucket is empty. The
server runs in its own process, listens on 127.0.0.1 on a free port and is stopped at the end; credentials are
fake. ``--round-trip-ms`` (default 10) adds that much client-side delay to every call, to model the network.
Not part of the test suite:

    python benchmarks/redrive_bucket.py [--objects 300] [--records 5] [--runs 3] [--round-trip-ms 10]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(variable, None)

import boto3  # noqa: E402 (after the environment is made safe)
from botocore.config import Config  # noqa: E402

from constructs_lib.redrive import StreamTarget, redrive_bucket  # noqa: E402

_SERVER = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.WARNING)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""
_STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"


def failure_object(index: int, records: int) -> bytes:
    first = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + index * records
    event = {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"order-{index}-{j}",
                    "sequenceNumber": str(first + j),
                    "data": base64.b64encode(json.dumps({"order": f"{index}-{j}", "pad": "x" * 200}).encode()).decode(),
                    "approximateArrivalTimestamp": 1763944684.835,
                },
                "eventSource": "aws:kinesis",
                "eventSourceARN": _STREAM_ARN,
            }
            for j in range(records)
        ]
    }
    document = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:OrdersProcessor",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2025-11-24T00:38:06.021Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000001",
            "startSequenceNumber": str(first),
            "endSequenceNumber": str(first + records - 1),
            "approximateArrivalOfFirstRecord": "2025-11-24T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2025-11-24T00:38:05.580Z",
            "batchSize": records,
            "streamArn": _STREAM_ARN,
        },
        "payload": json.dumps(event),
    }
    return json.dumps(document).encode()


def plain_loop(s3: Any, kinesis: Any, bucket: str, stream: str) -> int:
    """The one-object-at-a-time script people write first."""
    moved = 0
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    for key in keys:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        records = json.loads(document["payload"])["Records"]
        entries = [
            {"Data": base64.b64decode(r["kinesis"]["data"]), "PartitionKey": r["kinesis"]["partitionKey"]}
            for r in records
        ]
        if kinesis.put_records(StreamName=stream, Records=entries)["FailedRecordCount"]:
            continue
        s3.delete_object(Bucket=bucket, Key=key)
        moved += 1
    return moved


def stream_count(kinesis: Any, stream: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in response["Records"]:
                seen[record["PartitionKey"]] += 1
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return seen


def measure(
    s3: Any,
    kinesis: Any,
    objects: int,
    records: int,
    move: Callable[[str, str], int],
    on_timing: Callable[[bool], None],
) -> float:
    suffix = uuid.uuid4().hex[:8]
    bucket, stream = f"failures-{suffix}", f"replay-{suffix}"
    s3.create_bucket(Bucket=bucket)
    kinesis.create_stream(StreamName=stream, ShardCount=4)
    for index in range(objects):
        key = f"aws/lambda/f89f8514/shardId-000000000001/2025/11/24/2025-11-24T00.38.06-{index:08d}"
        s3.put_object(Bucket=bucket, Key=key, Body=failure_object(index, records))
    on_timing(True)
    started = time.perf_counter()
    moved = move(bucket, stream)
    elapsed = time.perf_counter() - started
    on_timing(False)
    left = s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    arrived = stream_count(kinesis, stream)
    if moved != objects or left or len(arrived) != objects * records or max(arrived.values()) != 1:
        raise SystemExit(f"lost or duplicated: moved {moved}, left {left}, distinct records {len(arrived)}")
    kinesis.delete_stream(StreamName=stream)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--records", type=int, default=5, help="records per failure object (failed batch)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--round-trip-ms", type=float, default=10.0, help="simulated network delay per call")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        port = int(server.stdout.readline()) if server.stdout else 0
        config = Config(max_pool_connections=16)
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, config=config)
        kinesis = boto3.client("kinesis", region_name="us-east-1", endpoint_url=endpoint, config=config)
        calls = Counter[str]()
        counting = [""]

        def on_call(**_: Any) -> None:
            if counting[0]:
                calls[counting[0]] += 1
                if args.round_trip_ms:
                    time.sleep(args.round_trip_ms / 1000)

        s3.meta.events.register("before-send.s3.*", on_call)
        kinesis.meta.events.register("before-send.kinesis.*", on_call)

        def shipped(read_threads: int) -> Callable[[str, str], int]:
            def move(bucket: str, stream: str) -> int:
                return redrive_bucket(
                    bucket, StreamTarget(stream, client=kinesis), s3_client=s3, read_threads=read_threads
                ).moved

            return move

        strategies = {
            "redrive_bucket": shipped(8),
            "redrive_bucket, one reader": shipped(1),
            "one object at a time (plain loop)": lambda bucket, stream: plain_loop(s3, kinesis, bucket, stream),
        }
        measure(s3, kinesis, 10, args.records, shipped(8), lambda timing: None)  # warm up
        times: dict[str, list[float]] = {name: [] for name in strategies}
        for _ in range(args.runs):
            for name, move in strategies.items():  # interleaved, so drift affects every strategy alike

                def on_timing(timing: bool, name: str = name) -> None:
                    counting[0] = name if timing else ""

                times[name].append(measure(s3, kinesis, args.objects, args.records, move, on_timing))
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    latency = f"{args.round_trip_ms:g} ms simulated round trip per call" if args.round_trip_ms else "no added latency"
    print(
        f"redrive of {args.objects} S3 failure objects ({args.records} records each) -> Kinesis (4 shards), "
        f"moto server on 127.0.0.1 (own process), {latency}, {args.runs} runs"
    )
    loop = statistics.median(times["one object at a time (plain loop)"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"  {name:<34} {calls[name] // args.runs:5d} calls/run  median {median:6.2f} s "
            f"({args.objects / median:5.0f} objects/s, {args.objects * args.records / median:6.0f} records/s)  "
            f"range {min(samples):.2f}-{max(samples):.2f} s  {loop / median:4.1f}x the plain loop"
        )


if __name__ == "__main__":
    main()
