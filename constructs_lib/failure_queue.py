"""FailureQueue: the standard SQS queue that failed records land in."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib._cdk import child_path
from constructs_lib.errors import Violation, raise_if_any

FAILURE_RETENTION = cdk.Duration.days(14)


class FailureQueue(sqs.Queue):
    """A standard SQS queue for failure records: encrypted at rest, TLS-only, 14-day retention.

    Accepts every ``sqs.Queue`` keyword argument; these defaults apply unless given:

    - ``encryption``: ``SQS_MANAGED`` (SSE-SQS); pass ``encryption_master_key`` for a customer-managed KMS key.
    - ``enforce_ssl``: ``True``.
    - ``retention_period``: 14 days, the SQS maximum, to give operators the longest time to react.

    Rejected, because a failure home must accept every delivery and keep it safe: ``fifo=True`` (Lambda cannot
    deliver to FIFO queues), ``encryption=UNENCRYPTED`` and ``enforce_ssl=False``.

    The queue is a terminal home of failed records, so cdk-nag's ``AwsSolutions-SQS3`` and
    ``Serverless-SQSRedrivePolicy`` (a queue should have a DLQ) are acknowledged on it with that reason — unless
    ``dead_letter_queue`` is given.
    """

    def __init__(self, scope: Construct, id: str, **queue_props: Any) -> None:
        path = child_path(scope, id)
        violations = []
        if queue_props.get("fifo"):
            violations.append(
                Violation(path, "fifo", "False for a failure queue: Lambda cannot deliver to FIFO queues", "True")
            )
        if queue_props.get("encryption") == sqs.QueueEncryption.UNENCRYPTED:
            violations.append(
                Violation(
                    path, "encryption", "SQS_MANAGED, KMS_MANAGED or KMS: failure records hold data", "UNENCRYPTED"
                )
            )
        if queue_props.get("enforce_ssl") is False:
            violations.append(Violation(path, "enforce_ssl", "True for a failure queue", "False"))
        raise_if_any(violations)

        props: dict[str, Any] = {"enforce_ssl": True, "retention_period": FAILURE_RETENTION, **queue_props}
        if "encryption" not in props and "encryption_master_key" not in props:
            props["encryption"] = sqs.QueueEncryption.SQS_MANAGED
        super().__init__(scope, id, **props)

        if queue_props.get("dead_letter_queue") is None:
            reason = (
                "Terminal failure queue: it is the home of failed records (a Lambda destination or dead-letter "
                "queue) and is drained by operators or a redrive, not by a consumer that could fail again."
            )
            cdk.Validations.of(self.node.default_child).acknowledge(
                cdk.Acknowledgment(id="AwsSolutions-SQS3", reason=reason),
                cdk.Acknowledgment(id="Serverless-SQSRedrivePolicy", reason=reason),
            )
