"""FailureQueue: the standard SQS queue that failed records land in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypedDict, TypeGuard, Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib._cdk import child_path, has_member, seconds_or_unresolved
from constructs_lib.alarms import (
    add_alarm_actions,
    check_alarm_thresholds,
    check_alarms_flag,
    check_threshold_ids,
    confirm_planned_alarms,
    queue_alarm_ids,
    queue_alarms,
    use_alarm_thresholds,
)
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.limits import (
    SQS_MAX_MESSAGE_BYTES,
    SQS_MAX_RETENTION_SECONDS,
    UNRESOLVED,
    CheckedValue,
    Invalid,
    check_failure_queue_size,
)

FAILURE_RETENTION = cdk.Duration.seconds(SQS_MAX_RETENTION_SECONDS)  # 14 days


class _DefaultFailureQueue:
    def __repr__(self) -> str:
        return "DEFAULT_FAILURE_QUEUE"


DEFAULT_FAILURE_QUEUE: Final[Any] = _DefaultFailureQueue()
"""The default of every ``on_failure``: a new FailureQueue owned by the construct."""


def check_failure_home(
    path: str, *, on_failure: Any, discard_failures: bool, other_home: str | None = None
) -> list[Violation]:
    """Every failed record needs a home unless the user opted out explicitly with ``discard_failures=True``.

    ``other_home`` names a home that makes ``on_failure=None`` acceptable (e.g. the function's DLQ), if any.
    """
    if discard_failures and on_failure is not DEFAULT_FAILURE_QUEUE and on_failure is not None:
        return [
            Violation(
                path,
                "discard_failures",
                "False when an on_failure destination is given (failures cannot be both kept and discarded)",
                "True",
            )
        ]
    if on_failure is None and other_home is None and not discard_failures:
        return [
            Violation(
                path,
                "on_failure",
                "a destination, or left out for a new FailureQueue; to drop failed records knowingly pass "
                "discard_failures=True",
                "None, which would drop failed records silently",
            )
        ]
    return []


def needs_queue_alarms(home: Any) -> TypeGuard[sqs.IQueue]:
    """Whether a failure home is an SQS queue that is not a FailureQueue: a FailureQueue alarms on itself, any
    other queue gets its two queue alarms from the construct that sends failures to it."""
    return home is not None and has_member(home, "queue_arn") and not isinstance(home, FailureQueue)


class QueueProps(TypedDict, total=False):
    """The keyword arguments of ``sqs.Queue`` (aws-cdk-lib 2.275), typed for FailureQueue's ``**queue_props``."""

    content_based_deduplication: bool
    data_key_reuse: cdk.Duration
    dead_letter_queue: sqs.DeadLetterQueue | dict[str, Any]
    deduplication_scope: sqs.DeduplicationScope
    delivery_delay: cdk.Duration
    encryption: sqs.QueueEncryption
    encryption_master_key: kms.IKey
    enforce_ssl: bool
    fifo: bool
    fifo_throughput_limit: sqs.FifoThroughputLimit
    max_message_size_bytes: int | float
    queue_name: str
    receive_message_wait_time: cdk.Duration
    redrive_allow_policy: sqs.RedriveAllowPolicy | dict[str, Any]
    removal_policy: cdk.RemovalPolicy
    retention_period: cdk.Duration
    visibility_timeout: cdk.Duration


class FailureQueue(sqs.Queue):
    """A standard SQS queue for failure records: encrypted at rest, TLS-only, 14-day retention.

    Accepts every ``sqs.Queue`` keyword argument; these defaults apply unless given:

    - ``encryption``: ``SQS_MANAGED`` (SSE-SQS); pass ``encryption_master_key`` for a customer-managed KMS key.
    - ``enforce_ssl``: ``True``.
    - ``retention_period``: 14 days, the SQS maximum, to give operators the longest time to react.
    - ``max_message_size_bytes``: 1 MiB (1,048,576), the SQS maximum and the largest payload or record Lambda
      may deliver; written into the template so a smaller account default or later change shows as drift. A
      smaller value is accepted with a warning (records above it would be lost).

    ``alarm_thresholds`` (e.g. ``{"MessagesWaitingAlarm": 10}``) replaces the threshold of an alarm below, a
    number >= 0 in the metric's unit; an id of no alarm is an error.

    Alarms (``.alarms``), unless ``alarms=False`` (keyword-only, default True): ``MessagesWaitingAlarm`` when at
    least one failed record is waiting (ApproximateNumberOfMessagesVisible >= 1) and ``OldestMessageAgeAlarm``
    when the oldest is about to be deleted (ApproximateAgeOfOldestMessage >= 80 % of the retention period,
    11.2 days by default). ``add_alarm_action(topic_or_action, ...)`` attaches actions to both.

    Rejected, because a failure home must accept every delivery and keep it safe: ``fifo=True`` (Lambda cannot
    deliver to FIFO queues), ``encryption=UNENCRYPTED`` and ``enforce_ssl=False``.

    The queue is a terminal home of failed records, so cdk-nag's ``AwsSolutions-SQS3`` and
    ``Serverless-SQSRedrivePolicy`` (a queue should have a DLQ) are acknowledged on it with that reason — unless
    ``dead_letter_queue`` is given.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alarms: bool = True,
        alarm_thresholds: Mapping[str, float] | None = None,
        **queue_props: Unpack[QueueProps],
    ) -> None:
        path = child_path(scope, id)
        violations = check_alarms_flag(alarms, path=path)
        violations += check_alarm_thresholds(alarm_thresholds, path=path)
        planned_alarm_ids = queue_alarm_ids() if alarms else []
        violations += check_threshold_ids(alarm_thresholds, planned_alarm_ids, path=path)
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
        retention = seconds_or_unresolved(queue_props.get("retention_period"))
        if isinstance(retention, Invalid):  # aws-cdk would fail converting it, half-way through the queue
            violations.append(Violation(path, "retention_period", retention.allowed, retention.given))
        raise_if_any(violations)

        props: dict[str, Any] = {
            "enforce_ssl": True,
            "retention_period": FAILURE_RETENTION,
            "max_message_size_bytes": SQS_MAX_MESSAGE_BYTES,
            **queue_props,
        }
        if "encryption" not in props and "encryption_master_key" not in props:
            props["encryption"] = sqs.QueueEncryption.SQS_MANAGED
        super().__init__(scope, id, **props)
        self.retention_seconds: CheckedValue = SQS_MAX_RETENTION_SECONDS if retention is None else retention
        """How long the queue keeps a failure record, in seconds (UNRESOLVED for a token)."""

        size = props["max_message_size_bytes"]
        # A plain int is never a token (CDK number tokens are floats), so no jsii round trip is needed to tell.
        self.max_message_size_bytes: CheckedValue = size if isinstance(size, int) else UNRESOLVED
        """The queue's MaximumMessageSize in bytes (UNRESOLVED for a token); its own warning covers a small one."""
        if check_failure_queue_size(self.max_message_size_bytes, path="", setting=""):
            for warning in check_failure_queue_size(
                self.max_message_size_bytes, path=self.node.path, setting="max_message_size_bytes"
            ):
                cdk.Annotations.of(self).add_warning_v2("constructs_lib:failure-queue:small-messages", str(warning))

        if queue_props.get("dead_letter_queue") is None:
            reason = (
                "Terminal failure queue: it is the home of failed records (a Lambda destination or dead-letter "
                "queue) and is drained by operators or a redrive, not by a consumer that could fail again."
            )
            cdk.Validations.of(self.node.default_child or self).acknowledge(
                cdk.Acknowledgment(id="AwsSolutions-SQS3", reason=reason),
                cdk.Acknowledgment(id="Serverless-SQSRedrivePolicy", reason=reason),
            )

        use_alarm_thresholds(self, alarm_thresholds, planned_alarm_ids)
        self.alarms: list[cloudwatch.Alarm] = queue_alarms(self, self) if alarms else []
        confirm_planned_alarms(self)

    def add_alarm_action(self, *actions: Any) -> None:
        """Attach each action (an ``sns.ITopic`` or a ``cloudwatch.IAlarmAction``) to every alarm of the queue."""
        add_alarm_actions(self, self.alarms, actions)
