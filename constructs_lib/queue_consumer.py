"""QueueConsumer: an SQS event source mapping whose failure home is the source queue's dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import alarms as alarm_lib
from constructs_lib._cdk import (
    arn_region_account,
    check_same_region,
    child_path,
    has_member,
    is_resolved_str,
    number_or_unresolved,
    remember_stack,
    seconds_or_unresolved,
    stack_of,
)
from constructs_lib._mapping import (
    MappingAccessors,
    check_consumer,
    checked_filters,
    filter_criteria,
    mapping_function_name,
    no_on_success,
)
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.failure_queue import needs_queue_alarms
from constructs_lib.functions import FunctionSubject, grant_statements
from constructs_lib.limits import (
    AWS_MANAGED_SQS_KEY_ALIAS,
    KMS_READ_ACTIONS,
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    LIMITS,
    SQS_CONSUME_ACTIONS,
    SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    CheckedValue,
    check_dead_letter_retention,
    check_limit,
    check_max_receive_count,
    check_pollers,
    check_queue_settings,
    check_redrive_pairing,
    check_sqs_scaling_mode,
    check_visibility_timeout,
    sqs_unsupported_settings,
)
from constructs_lib.targets import describe_object, is_aws_managed_key, is_fifo, kms_statements

DEAD_LETTER_QUEUE_ALARM_PREFIX = "DeadLetterQueue"


class QueueConsumer(MappingAccessors, Construct):
    """A function consuming an SQS queue, with the queue's dead-letter queue as the failure home.

    For SQS sources AWS has no on-failure destination, bisecting, retry count or record age: a failed message
    becomes visible again after the queue's visibility timeout and moves to the queue's dead-letter queue after
    ``maxReceiveCount`` receives. So the queue must have a redrive policy, and its visibility timeout must be at
    least the function timeout (AWS rejects the mapping otherwise; AWS recommends 6x, which is warned about).

    :param function: the Function, Version or Alias that consumes the queue.
    :param queue: an ``sqs.IQueue`` in the stack's region with a redrive policy
        (``dead_letter_queue=sqs.DeadLetterQueue(...)``): ``maxReceiveCount`` 1 to 1000, a dead-letter queue of the
        same type (FIFO or standard) and, for a standard queue, keeping messages at least as long as the source.
        For an imported queue the redrive policy and the visibility timeout cannot be known: they are not guessed,
        a warning says so; one of another account must not be encrypted with the AWS managed key alias/aws/sqs.
    :param batch_size: messages per invocation, 1 to 10000 (FIFO: 1 to 10); above 10 a ``max_batching_window``
        of at least 1 second is required. Default: not set (AWS uses 10).
    :param max_batching_window: 0 to 300 seconds; not for FIFO queues. Default: not set (0).
    :param max_concurrency: most concurrent invocations for this queue, 2 to 1000. Default: not set.
    :param provisioned_poller_config: provisioned mode, aws-cdk's ``lambda_.ProvisionedPollerConfig``:
        ``minimum_pollers`` 2 to 200 (AWS default 2), ``maximum_pollers`` 2 to 10000 (AWS default 200) and at least
        the minimum; not together with ``max_concurrency`` (AWS: mutually exclusive); ``poller_group_name`` is
        Kafka only. Pollers are billed by the hour. Default: not set (on-demand scaling).
    :param report_batch_item_failures: ReportBatchItemFailures, so only the failed messages of a batch return to
        the queue (the handler must return ``batchItemFailures``). Default: True.
    :param filters: event filters made with ``lambda_.FilterCriteria.filter({...})`` or plain pattern dicts, at
        most 10, on the message ``body`` only (AWS filters SQS messages on that key). Default: none.
    :param enabled: whether the mapping polls. Default: True.
    :param alarms: create the alarms below (``.alarms``); False creates none. Default: True.
    :param alarm_thresholds: a threshold per alarm id of ``.alarms`` created here (e.g. ``{"ErrorsAlarm": 5}``),
        a number >= 0 in the metric's unit, replacing the default described below; an id of no alarm is an
        error. Default: none.
    :param grants_managed_elsewhere: set True when the function's role cannot take policies and you grant the
        permissions yourself (see ``AsyncInvocation``). Default: False.

    Alarms: the failure home is the queue's dead-letter queue. A ``FailureQueue`` has its own alarms, which are
    listed in ``.alarms`` too (none are added); any other dead-letter queue gets the two queue alarms here,
    ``DeadLetterQueueMessagesWaitingAlarm`` (ApproximateNumberOfMessagesVisible >= 1) and
    ``DeadLetterQueueOldestMessageAgeAlarm`` (ApproximateAgeOfOldestMessage >= 80 % of its retention; taken as
    SQS's default 4 days when the dead-letter queue is imported). The dead-letter queue of an imported source
    queue is not known, so it gets no alarms. ``add_alarm_action(topic)`` attaches an SNS topic or any
    ``cloudwatch.IAlarmAction`` to every alarm in ``.alarms``.

    ``bisect_batch_on_error``, ``retry_attempts``, ``max_record_age``, ``parallelization_factor``,
    ``tumbling_window``, ``starting_position``, ``on_failure`` and ``on_success`` do not exist for SQS; given, they
    are reported with what SQS does instead.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        queue: sqs.IQueue,
        batch_size: int | None = None,
        max_batching_window: cdk.Duration | None = None,
        max_concurrency: int | None = None,
        provisioned_poller_config: lambda_.ProvisionedPollerConfig | None = None,
        report_batch_item_failures: bool = True,
        filters: Sequence[Mapping[str, Any]] | None = None,
        enabled: bool = True,
        bisect_batch_on_error: bool | None = None,
        retry_attempts: int | None = None,
        max_record_age: cdk.Duration | int | None = None,
        parallelization_factor: int | None = None,
        tumbling_window: cdk.Duration | None = None,
        starting_position: lambda_.StartingPosition | None = None,
        on_failure: object = None,
        on_success: object = None,
        alarms: bool = True,
        alarm_thresholds: Mapping[str, float] | None = None,
        grants_managed_elsewhere: bool = False,
    ) -> None:
        path = child_path(scope, id)
        subject, patterns, warnings, planned_alarm_ids = self._validate(
            scope,
            path,
            function=function,
            queue=queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            provisioned_poller_config=provisioned_poller_config,
            flags={"report_batch_item_failures": report_batch_item_failures, "enabled": enabled},
            stream_only={
                "bisect_batch_on_error": bisect_batch_on_error,
                "retry_attempts": retry_attempts,
                "max_record_age": max_record_age,
                "parallelization_factor": parallelization_factor,
                "tumbling_window": tumbling_window,
                "starting_position": starting_position,
                "on_failure": on_failure,
            },
            on_success=on_success,
            filters=filters,
            alarms=alarms,
            alarm_thresholds=alarm_thresholds,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )

        super().__init__(scope, id)
        remember_stack(self, scope)
        alarm_lib.use_alarm_thresholds(self, alarm_thresholds, planned_alarm_ids)
        owned = isinstance(queue, sqs.Queue)
        self.function = function
        self.queue = queue
        # An owned queue without a redrive policy is a violation above.
        self.dead_letter_queue: sqs.IQueue | None = self._dead_letter_queue_of(queue)
        for warning in warnings:
            cdk.Annotations.of(self).add_warning_v2("constructs_lib:queue:recommendation", str(warning))
        if not owned:
            cdk.Annotations.of(self).add_warning_v2(
                "constructs_lib:queue:imported",
                f"{self.node.path}: {queue.node.path} is imported, so its redrive policy (the failure home of SQS "
                "sources) and its visibility timeout (at least the function timeout) cannot be checked: make sure "
                "both are set.",
            )
        self.event_source_mapping = self._create_mapping(
            subject,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            provisioned_poller_config=provisioned_poller_config,
            report_batch_item_failures=report_batch_item_failures,
            patterns=patterns,
            enabled=enabled,
        )
        self._grant(subject, grants_managed_elsewhere=grants_managed_elsewhere)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self.alarms = self._create_alarms()
        alarm_lib.confirm_planned_alarms(self)

    def _validate(
        self,
        scope: Construct,
        path: str,
        *,
        function: Any,
        queue: Any,
        batch_size: Any,
        max_batching_window: Any,
        max_concurrency: Any,
        provisioned_poller_config: Any,
        flags: Mapping[str, Any],
        stream_only: Mapping[str, Any],
        on_success: Any,
        filters: Any,
        alarms: Any,
        alarm_thresholds: Any,
        grants_managed_elsewhere: Any,
    ) -> tuple[FunctionSubject, list[Any], list[Violation], list[str]]:
        """Every violation at once, raised before any resource exists; returns the recommendations to warn
        about. The numbers and the stream-only settings go to the pure ``check_queue_settings`` and
        ``sqs_unsupported_settings``."""
        subject, violations = check_consumer(
            scope,
            path,
            function=function,
            alarms=alarms,
            alarm_thresholds=alarm_thresholds,
            flags=flags,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )
        violations += sqs_unsupported_settings(
            {setting: _describe_value(value) for setting, value in stream_only.items() if value is not None}, path=path
        )
        violations += no_on_success(on_success, path=path)
        patterns, found = checked_filters(filters, source="sqs", path=path)
        violations += found

        owned = isinstance(queue, sqs.Queue)
        if not has_member(queue, "queue_arn"):
            violations.append(Violation(path, "queue", "an SQS queue", describe_object(queue)))
            raise_if_any(violations)
        fifo = is_fifo(queue, owned=owned, name="" if owned else queue.queue_name)
        if not owned:
            violations += self._check_imported(scope, path, queue)
        violations += check_queue_settings(
            batch_size=number_or_unresolved(batch_size),
            max_batching_window=seconds_or_unresolved(max_batching_window),
            max_concurrency=number_or_unresolved(max_concurrency),
            fifo=fifo,
            path=path,
        )
        violations += self._check_pollers(path, provisioned_poller_config, number_or_unresolved(max_concurrency))
        warnings: list[Violation] = []
        if owned:
            redrive = queue.dead_letter_queue
            violations += self._check_redrive(path, queue, redrive, fifo)
            if redrive is not None:
                max_receive_count = number_or_unresolved(redrive.max_receive_count)
                violations += check_limit(
                    LIMITS["sqs.max_receive_count"],
                    max_receive_count,
                    path=path,
                    setting="maxReceiveCount of the queue's redrive policy",
                )
                warnings += check_max_receive_count(max_receive_count, path=path)
            if subject is not None:
                errors, found = check_visibility_timeout(
                    visibility_timeout=_queue_visibility_timeout(queue),
                    function_timeout=_function_timeout(subject),
                    path=path,
                )
                violations += errors
                warnings += found
        planned_alarm_ids = self.planned_alarm_ids(queue, alarms=alarms)
        violations += alarm_lib.check_threshold_ids(alarm_thresholds, planned_alarm_ids, path=path)
        raise_if_any(violations)
        assert subject is not None
        return subject, patterns, warnings, planned_alarm_ids

    def _create_mapping(
        self,
        subject: FunctionSubject,
        *,
        batch_size: int | None,
        max_batching_window: cdk.Duration | None,
        max_concurrency: int | None,
        provisioned_poller_config: lambda_.ProvisionedPollerConfig | None,
        report_batch_item_failures: bool,
        patterns: list[Any],
        enabled: bool,
    ) -> lambda_.CfnEventSourceMapping:
        mapping_class = lambda_.CfnEventSourceMapping
        mapping = mapping_class(
            self,
            "Mapping",
            function_name=mapping_function_name(subject),
            event_source_arn=self.queue.queue_arn,
            enabled=enabled,
            batch_size=batch_size,
            maximum_batching_window_in_seconds=max_batching_window.to_seconds()
            if max_batching_window is not None
            else None,
            scaling_config=mapping_class.ScalingConfigProperty(maximum_concurrency=max_concurrency)
            if max_concurrency is not None
            else None,
            function_response_types=["ReportBatchItemFailures"] if report_batch_item_failures else None,
            filter_criteria=filter_criteria(patterns),
            provisioned_poller_config=mapping_class.ProvisionedPollerConfigProperty(
                minimum_pollers=provisioned_poller_config.minimum_pollers,
                maximum_pollers=provisioned_poller_config.maximum_pollers,
            )
            if provisioned_poller_config is not None
            else None,
        )
        if self.dead_letter_queue is not None:
            # cdk-nag asks every mapping for an on-failure destination, which AWS does not support for SQS.
            cdk.Validations.of(mapping).acknowledge(
                cdk.Acknowledgment(
                    id="Serverless-LambdaEventSourceMappingDestination",
                    reason="SQS event source mappings cannot have destinations; failed messages move to the "
                    f"source queue's dead-letter queue {self.dead_letter_queue.node.path} (redrive policy, "
                    "checked by QueueConsumer).",
                )
            )
        return mapping

    def _grant(self, subject: FunctionSubject, *, grants_managed_elsewhere: bool) -> None:
        queue = self.queue
        statements = [
            iam.PolicyStatement(actions=list(SQS_CONSUME_ACTIONS), resources=[queue.queue_arn]),
            # Reading an encrypted message needs only Decrypt; GenerateDataKey is for writers.
            *kms_statements(queue.encryption_master_key, KMS_READ_ACTIONS),
        ]
        grant_statements(
            self,
            subject,
            statements,
            lambda: f"SQS queue {queue.node.path}",
            grants_managed_elsewhere=grants_managed_elsewhere,
        )

    @staticmethod
    def _dead_letter_queue_of(queue: Any) -> sqs.IQueue | None:
        redrive = queue.dead_letter_queue if isinstance(queue, sqs.Queue) else None
        return redrive.queue if redrive is not None else None

    @staticmethod
    def planned_alarm_ids(queue: Any, *, alarms: object) -> list[str]:
        """The ids of the alarms created here (not those a FailureQueue brings itself): the two queue alarms of a
        dead-letter queue that is not a FailureQueue."""
        if alarms is not True or not needs_queue_alarms(QueueConsumer._dead_letter_queue_of(queue)):
            return []
        return alarm_lib.queue_alarm_ids(DEAD_LETTER_QUEUE_ALARM_PREFIX)

    def _create_alarms(self) -> list[cloudwatch.Alarm]:
        if not needs_queue_alarms(self.dead_letter_queue):
            return alarm_lib.failure_queue_alarms(self.dead_letter_queue)
        return alarm_lib.queue_alarms(self, self.dead_letter_queue, id_prefix=DEAD_LETTER_QUEUE_ALARM_PREFIX)

    def add_alarm_action(self, *actions: Any) -> None:
        """Attach each action (an ``sns.ITopic`` or a ``cloudwatch.IAlarmAction``) to every alarm in ``.alarms``."""
        alarm_lib.add_alarm_actions(self, self.alarms, actions)

    @staticmethod
    def _check_redrive(
        path: str, queue: sqs.Queue, redrive: sqs.DeadLetterQueue | None, fifo: bool | None
    ) -> list[Violation]:
        if redrive is None:
            return [
                Violation(
                    path,
                    "queue",
                    "a queue with a redrive policy, the failure home of SQS sources: create it with "
                    "dead_letter_queue=sqs.DeadLetterQueue(queue=FailureQueue(...), max_receive_count=5)",
                    f"SQS queue {queue.node.path} without a dead-letter queue",
                )
            ]
        dead_letter = redrive.queue
        dead_letter_owned = isinstance(dead_letter, sqs.Queue)
        dead_letter_fifo = is_fifo(
            dead_letter, owned=dead_letter_owned, name="" if dead_letter_owned else dead_letter.queue_name
        )
        if fifo is not None and dead_letter_fifo is not None and fifo != dead_letter_fifo:
            return check_redrive_pairing(
                source_fifo=fifo,
                dead_letter_fifo=dead_letter_fifo,
                path=path,
                source=queue.node.path,
                dead_letter=dead_letter.node.path,
            )
        return check_dead_letter_retention(
            source_retention=alarm_lib.queue_retention_seconds(queue),
            dead_letter_retention=alarm_lib.queue_retention_seconds(dead_letter),
            source_fifo=fifo,
            path=path,
        )

    @staticmethod
    def _check_pollers(path: str, config: Any, max_concurrency: CheckedValue) -> list[Violation]:
        """Provisioned mode of an SQS mapping, over plain values: ranges, order, Kafka-only group, exclusivity."""
        if config is None:
            return []
        if not has_member(config, "minimum_pollers"):
            return [
                Violation(
                    path,
                    "provisioned_poller_config",
                    "a lambda_.ProvisionedPollerConfig, or None for on-demand scaling",
                    describe_object(config),
                )
            ]
        violations = check_pollers(
            number_or_unresolved(config.minimum_pollers),
            number_or_unresolved(config.maximum_pollers),
            source="sqs",
            path=path,
        )
        if config.poller_group_name is not None:
            violations.append(
                Violation(
                    path,
                    "provisioned_poller_config.poller_group_name",
                    "left out for SQS (poller groups are for Amazon MSK and self-managed Apache Kafka)",
                    repr(config.poller_group_name),
                )
            )
        violations += check_sqs_scaling_mode(max_concurrency=max_concurrency, provisioned=True, path=path)
        return violations

    @staticmethod
    def _check_imported(scope: Construct, path: str, queue: sqs.IQueue) -> list[Violation]:
        """Another region: Lambda cannot poll it. Another account with the AWS managed key alias/aws/sqs: its
        key policy cannot let this account decrypt, so every receive fails."""
        arn = queue.queue_arn
        violations = check_same_region(
            arn, scope, path=path, setting="queue", what=lambda: f"SQS queue {queue.node.path}"
        )
        parts = arn_region_account(arn)
        if parts is None or not parts[1]:
            return violations
        account = stack_of(scope).account
        if is_resolved_str(account) and account != parts[1] and is_aws_managed_key(queue.encryption_master_key, "sqs"):
            violations.append(
                Violation(
                    path,
                    "queue",
                    "a queue of another account encrypted with a customer managed KMS key or SSE-SQS: the AWS "
                    f"managed key {AWS_MANAGED_SQS_KEY_ALIAS} cannot be shared across accounts",
                    f"SQS queue {queue.node.path} of account {parts[1]} encrypted with {AWS_MANAGED_SQS_KEY_ALIAS}",
                )
            )
        return violations


def _describe_value(value: Any) -> str:
    if isinstance(value, cdk.Duration):
        return value.to_human_string()
    if hasattr(value, "node"):
        return describe_object(value)
    return getattr(value, "name", None) or repr(value)


def _queue_visibility_timeout(queue: sqs.Queue) -> CheckedValue:
    cfn_queue = queue.node.default_child
    if not isinstance(cfn_queue, sqs.CfnQueue):  # an sqs.Queue always has one
        return None
    value = cfn_queue.visibility_timeout
    return SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if value is None else number_or_unresolved(value)


def _function_timeout(subject: FunctionSubject) -> Any:
    cfn_function = subject.cfn_function
    if cfn_function is None:
        return None  # imported: unknown, not guessed
    value = cfn_function.timeout
    return LAMBDA_DEFAULT_TIMEOUT_SECONDS if value is None else number_or_unresolved(value)
