"""Redrive a failure queue: replay each failed event or stream batch to a target, then delete it, never before.

The CLI (``python -m constructs_lib.redrive --help``) is a thin front-end over :func:`redrive`::

    from constructs_lib.redrive import QueueTarget, redrive

    summary = redrive(failure_queue_url, QueueTarget(replay_queue_url), max_messages=100)
    print(summary.moved, summary.failed, summary.skipped)

:func:`redrive_bucket` replays an S3 failure bucket (the objects hold the records themselves).

Targets: :class:`QueueTarget` (SQS), :class:`StreamTarget` (Kinesis), :class:`FunctionTarget` (asynchronous
invoke of a named function) and :class:`OriginalFunctionTarget` (the function an async record names).
"""

from constructs_lib.redrive._bucket import REDRIVEN_TAG, AfterReplay, redrive_bucket
from constructs_lib.redrive._core import (
    LAMBDA_DLQ_ATTRIBUTES,
    MessageResult,
    Outcome,
    RedriveProgress,
    RedriveSummary,
    redrive,
)
from constructs_lib.redrive._payloads import UnsupportedRecord
from constructs_lib.redrive._targets import (
    Delivery,
    DeliveryReport,
    FunctionTarget,
    OriginalFunctionTarget,
    QueueTarget,
    RedriveTarget,
    StreamTarget,
    fifo_id,
    kinesis_partition_key,
)

__all__ = [
    "LAMBDA_DLQ_ATTRIBUTES",
    "REDRIVEN_TAG",
    "AfterReplay",
    "Delivery",
    "DeliveryReport",
    "FunctionTarget",
    "MessageResult",
    "OriginalFunctionTarget",
    "Outcome",
    "QueueTarget",
    "RedriveProgress",
    "RedriveSummary",
    "RedriveTarget",
    "StreamTarget",
    "UnsupportedRecord",
    "fifo_id",
    "kinesis_partition_key",
    "redrive",
    "redrive_bucket",
]
