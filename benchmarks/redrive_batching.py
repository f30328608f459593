"""How much batching and pipelining speed up a redrive, measured on a local moto server.

Redrives N function-DLQ messages from one queue to another, several times each way:

- ``pipelined (redrive)``: ``redrive()`` as shipped: batches of 10, the next receive and the previous
  ``DeleteMessageBatch`` overlapping each ``SendMessageBatch``;
- ``batched, sequential (redrive)``: the same with ``pipelined=False``: one call at a time;
- ``one at a time (redrive)``: ``batch_size=1, pipelined=False``: one message per receive, send and delete;
- ``one at a time (plain loop)``: the obvious script: ``ReceiveMessage`` (1), ``SendMessage``, ``DeleteMessage``.

Prints the API calls each one makes, its median wall time, messages per second and the speed-up over the
plain loop. The server runs in its own process (as a remote endpoint would), listens on 127.0.0.1 on a free
port and is stopped at the end; credentials are fake, so nothing can reach AWS. Not part of the test suite:

    python benchmarks/redrive_batching.py [--messages 500] [--runs 5] [--round-trip-ms 10]

On AWS every call is a network round trip of milliseconds; on the loopback interface it costs next to
nothing, and moto's own work dominates instead. ``--round-trip-ms`` (default 10) adds that much client-side
delay to every call, to model the network; 0 measures the emulator alone. One moto inefficiency that AWS does
not have (a scan of the whole queue per message received) is removed in the server process, see below.
"""

from __future__ import annotations

import argparse
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

# Run from a checkout without installing: the project root goes first on the path.
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

from constructs_lib.redrive import QueueTarget, redrive  # noqa: E402

# The emulator in a process of its own: its work does not compete with the client for Python's GIL.
# moto 5.2.5's ReceiveMessage computes every attribute of the queue (a scan of all its messages) for each
# message it returns, only to read MessageRetentionPeriod: a receive costs O(messages returned x queue depth),
# which AWS's does not, and which would swamp the network time measured here. The server reads the retention
# period directly instead; the result is the same, for every strategy alike.
_SERVER = """
import logging, sys
from moto.core.utils import unix_time
from moto.server import ThreadedMotoServer
from moto.sqs.models import SQSBackend

def retained(self, queue_name, message):
    retention = self.get_queue(queue_name).message_retention_period
    return retention + message.sent_timestamp / 1000 > unix_time()

SQSBackend.is_message_valid_based_on_retention_period = retained
logging.getLogger("werkzeug").setLevel(logging.WARNING)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
server.stop()
"""


def fill(sqs: Any, queue_url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps({"order_id": f"o-{index}", "quantity": 1 + index % 5}),
                "MessageAttributes": {
                    "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                    "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                    "ErrorMessage": {"DataType": "String", "StringValue": "Task timed out after 3.00 seconds"},
                },
            }
            for index in range(start, min(start + 10, count))
        ]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)


def plain_loop(sqs: Any, source: str, target: str) -> int:
    """The one-at-a-time script people write first."""
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=1, MessageAttributeNames=["All"])
        if not messages.get("Messages"):
            return moved
        message = messages["Messages"][0]
        sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
        moved += 1


def depth(sqs: Any, queue_url: str) -> int:
    """Messages in a queue, visible or in flight."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def measure(sqs: Any, messages: int, move: Callable[[str, str], int], on_timing: Callable[[bool], None]) -> float:
    """Time one redrive of ``messages`` messages between two fresh queues; checks that nothing was lost.

    ``on_timing(True)`` / ``on_timing(False)`` bracket the timed part (to count its calls only).
    """
    suffix = uuid.uuid4().hex[:8]
    source = sqs.create_queue(QueueName=f"failures-{suffix}")["QueueUrl"]
    target = sqs.create_queue(QueueName=f"replay-{suffix}")["QueueUrl"]
    fill(sqs, source, messages)
    on_timing(True)
    started = time.perf_counter()
    moved = move(source, target)
    elapsed = time.perf_counter() - started
    on_timing(False)
    left, arrived = depth(sqs, source), depth(sqs, target)
    if (moved, left, arrived) != (messages, 0, messages):
        raise SystemExit(f"lost or duplicated messages: moved {moved}, left {left}, arrived {arrived} of {messages}")
    sqs.delete_queue(QueueUrl=source)
    sqs.delete_queue(QueueUrl=target)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round-trip-ms", type=float, default=10.0, help="simulated network delay per call")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        port = int(server.stdout.readline()) if server.stdout else 0
        sqs = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            config=Config(max_pool_connections=10),
        )
        calls = Counter[str]()
        counting = [""]  # the strategy whose calls are being counted, while it is timed

        def on_call(**_: Any) -> None:
            calls[counting[0]] += 1
            if args.round_trip_ms:
                time.sleep(args.round_trip_ms / 1000)

        sqs.meta.events.register("before-send.sqs.*", on_call)

        def with_redrive(batch_size: int, pipelined: bool) -> Callable[[str, str], int]:
            def move(source: str, target: str) -> int:
                summary = redrive(
                    source,
                    QueueTarget(target, client=sqs),
                    sqs_client=sqs,
                    wait_seconds=0,
                    batch_size=batch_size,
                    pipelined=pipelined,
                )
                return summary.moved

            return move

        strategies = {
            "pipelined (redrive)": with_redrive(10, True),
            "batched, sequential (redrive)": with_redrive(10, False),
            "one at a time (redrive)": with_redrive(1, False),
            "one at a time (plain loop)": lambda source, target: plain_loop(sqs, source, target),
        }
        measure(sqs, 20, with_redrive(10, True), lambda timing: None)  # warm up the server and the clients
        times: dict[str, list[float]] = {name: [] for name in strategies}
        for _ in range(args.runs):
            for name, move in strategies.items():  # interleaved, so drift affects every strategy alike

                def on_timing(timing: bool, name: str = name) -> None:
                    counting[0] = name if timing else ""

                times[name].append(measure(sqs, args.messages, move, on_timing))
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    latency = f"{args.round_trip_ms:g} ms simulated round trip per call" if args.round_trip_ms else "no added latency"
    print(
        f"redrive of {args.messages} messages queue -> queue, moto server on 127.0.0.1 (own process), {latency}, "
        f"{args.runs} runs"
    )
    loop = statistics.median(times["one at a time (plain loop)"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"  {name:<30} {calls[name] // args.runs:5d} calls/run  median {median:6.2f} s "
            f"({args.messages / median:5.0f} messages/s)  range {min(samples):.2f}-{max(samples):.2f} s  "
            f"{loop / median:4.1f}x the plain loop"
        )


if __name__ == "__main__":
    main()
