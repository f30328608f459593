"""StreamConsumer: a Kinesis or DynamoDB Streams event source mapping that isolates and parks poison pills."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_lib import alarms as alarm_lib
from constructs_lib._cdk import (
    check_same_region,
    child_path,
    number_or_unresolved,
    remember_stack,
    seconds_or_unresolved,
)
from constructs_lib._mapping import (
    MappingAccessors,
    check_consumer,
    checked_filters,
    filter_criteria,
    mapping_function_name,
    no_on_success,
    with_options,
)
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.failure_queue import DEFAULT_FAILURE_QUEUE, FailureQueue, check_failure_home, needs_queue_alarms
from constructs_lib.functions import FunctionSubject, grant_statements
from constructs_lib.limits import (
    ESM_DROPPED_EVENT_COUNT,
    ESM_EVENT_COUNT_METRICS,
    ESM_ON_FAILURE_DELIVERED_EVENT_COUNT,
    KINESIS_CONSUMER_NAME_MAX_LENGTH,
    RESILIENT_STREAM_MAX_RECORD_AGE_SECONDS,
    RESILIENT_STREAM_RETRY_ATTEMPTS,
    RETENTION_ALARM_FRACTION,
    UNRESOLVED,
    CheckedValue,
    DestinationKind,
    check_dynamodb_record_age,
    check_stream_settings,
    human_duration,
    iterator_age_threshold_ms,
    stream_read_lag_threshold_ms,
    unprocessed_record_age_seconds,
)
from constructs_lib.sources import StreamSource, fan_out_statements, stream_source
from constructs_lib.targets import (
    MappingFailureDestination,
    StreamSourceResource,
    Target,
    checked_target,
    describe_object,
    mapping_home,
    queue_size_warnings,
    resolve_target,
)

DEFAULT_RETRY_ATTEMPTS = RESILIENT_STREAM_RETRY_ATTEMPTS
DEFAULT_MAX_RECORD_AGE = cdk.Duration.seconds(RESILIENT_STREAM_MAX_RECORD_AGE_SECONDS)


def _record_age_seconds(max_record_age: Any) -> CheckedValue:
    if isinstance(max_record_age, int | float) and not isinstance(max_record_age, bool):
        return number_or_unresolved(max_record_age)
    return seconds_or_unresolved(max_record_age)


ON_FAILURE_ALARM_PREFIX = "OnFailure"


def planned_stream_alarm_ids(
    *, alarms: object, has_home: bool, home: Target | None, is_kinesis: bool, enhanced_fan_out: object
) -> list[str]:
    """The ids of the alarms a StreamConsumer creates itself (a FailureQueue's own alarms are not among them):
    `has_home` when failures go somewhere (`home`, or a new FailureQueue when `home` is None)."""
    if alarms is not True:
        return []
    ids = ["IteratorAgeAlarm", "ErrorsAlarm"]
    if has_home:
        ids.append("DestinationDeliveryFailuresAlarm")
    if is_kinesis and not enhanced_fan_out:
        ids.append("StreamIteratorAgeAlarm")
    ids.append("DroppedEventsAlarm")
    if home is not None and home.kind is DestinationKind.S3_BUCKET:
        ids.append("FailureObjectsAlarm")
    if home is not None and needs_queue_alarms(home.construct):
        ids += alarm_lib.queue_alarm_ids(ON_FAILURE_ALARM_PREFIX)
    return ids


class StreamConsumer(MappingAccessors, Construct):
    """A function consuming a Kinesis stream or a DynamoDB table's stream, with resilient defaults.

    A poison pill (a record the function can never process) blocks its shard until it expires: a day for
    DynamoDB, up to a year for Kinesis. The defaults isolate it and park it quickly instead:

    - ``bisect_batch_on_error=True``: a failed batch is split in two, and again, until the bad record is alone.
      Splitting does not consume retries, so a batch of N needs about log2(N) splits.
    - ``retry_attempts=3``: retries count per batch, so once isolated the bad record is retried 3 times and
      then handed to ``on_failure``; a transient error still gets 3 retries of every half.
    - ``max_record_age=1 hour``: a backstop that parks records older than an hour, leaving at least 23 of the
      default 24 hours of stream retention to fetch and redrive them.
    - ``report_batch_item_failures=True``: a handler that reports failed items makes Lambda retry from the
      first failed record instead of the whole batch (the handler must return ``batchItemFailures``).
    - ``on_failure``: a new ``FailureQueue``. The failure record holds the batch's shard and sequence numbers,
      not the data: fetch the records (``constructs_lib.fetch``) before the stream trims them.

    Every setting is validated before anything is created; all violations come in one ValidationError. Tokens
    are never range-checked.

    :param function: the Function, Version or Alias that consumes the stream.
    :param source: a ``kinesis.IStream``, or a DynamoDB table with a stream (``stream=`` / ``dynamo_stream=``).
    :param starting_position: TRIM_HORIZON (default), LATEST, or AT_TIMESTAMP (Kinesis only, with
        ``starting_position_timestamp``).
    :param starting_position_timestamp: for AT_TIMESTAMP: a timezone-aware datetime or Unix time in seconds, not
        in the future.
    :param batch_size: records per invocation, 1 to 10000. Default: not set (AWS uses 100).
    :param max_batching_window: how long to gather records, 0 to 300 seconds. Default: not set (0).
    :param bisect_batch_on_error: split a failed batch and retry the halves. Default: True.
    :param retry_attempts: 0 to 10000, or ``INFINITE`` (-1, retry until the record expires). Default: 3.
    :param max_record_age: a Duration of 60 seconds to 7 days, or ``INFINITE`` (-1; aws-cdk cannot express it,
        aws-cdk#27321). Default: 1 hour. For DynamoDB, more than 24 hours is accepted with a warning: it can
        never trigger.
    :param parallelization_factor: concurrent batches per shard, 1 to 10. Default: not set (1).
    :param tumbling_window: 0 to 900 seconds. Default: not set.
    :param filters: event filters made with ``lambda_.FilterCriteria.filter({...})`` or plain pattern dicts, at
        most 10, on ``data`` for Kinesis and ``dynamodb`` for DynamoDB (the only keys AWS filters them on).
        Default: none.
    :param report_batch_item_failures: ReportBatchItemFailures. Default: True.
    :param on_failure: an S3 bucket (a ``FailureBucket``: each object holds the failed batch's records, nothing
        to fetch before the stream trims them), a standard SQS queue or a standard SNS topic (these get only the
        batch's shard and sequence numbers), or aws-cdk's ``SqsDlq``, ``SnsDlq``, ``S3OnFailureDestination`` of
        one. Default: a new FailureQueue (``.failure_queue``). An SQS queue of the app that takes less than 1 MiB
        gets a warning.
    :param discard_failures: set True to knowingly drop records that exhaust retries or age. Default: False.
    :param enhanced_fan_out: Kinesis only: read through a dedicated stream consumer (``.stream_consumer``) with
        its own 2 MB/s per shard. Default: False.
    :param enabled: whether the mapping polls. Default: True.
    :param on_success: not supported by event source mappings; given only to report a clear error.
    :param alarms: create the alarms below (``.alarms``); False creates none, for this construct and its default
        failure queue. Default: True.
    :param alarm_thresholds: a threshold per alarm id of ``.alarms`` created here (e.g. ``{"ErrorsAlarm": 5}``),
        a number >= 0 in the metric's unit, replacing the default described below; an id of no alarm is an
        error. Default: none.
    :param grants_managed_elsewhere: set True when the function's role cannot take policies and you grant the
        permissions yourself (see ``AsyncInvocation``). Default: False.

    Alarms, on the function's metrics (``FunctionName``, plus ``Resource`` ``<name>:<qualifier>`` for a Version
    or Alias): ``IteratorAgeAlarm`` (IteratorAge >= half the age at which records leave the stream
    unprocessed: the max record age or, when it is ``INFINITE`` or longer, the stream's retention; 30 minutes
    by default, 12 hours for ``INFINITE`` on a 24-hour stream), ``ErrorsAlarm`` (Errors >= 1) and, with a
    failure home, ``DestinationDeliveryFailuresAlarm`` (DestinationDeliveryFailures >= 1). A Kinesis source
    read without enhanced fan-out also gets ``StreamIteratorAgeAlarm`` (AWS/Kinesis
    GetRecords.IteratorAgeMilliseconds with its StreamName >= 80 % of the stream's retention: records are about
    to expire unread). On the mapping's own metrics (``MetricsConfig`` ``EventCount``, enabled with the alarms
    and billed as custom CloudWatch metrics; ``EventSourceMappingUUID``): ``DroppedEventsAlarm``
    (DroppedEventCount >= 1: records given up without reaching a home) and, with an S3 bucket as home,
    ``FailureObjectsAlarm`` (OnFailureDestinationDeliveredEventCount >= 1: a bucket has no depth to watch).
    The default ``FailureQueue`` brings its own two alarms (included in ``.alarms``); an
    ``on_failure`` that is a plain SQS queue gets the same two alarms here, one that is a ``FailureQueue`` has
    them already (listed in ``.alarms`` too); an SNS topic has no "messages
    waiting" metric: watch the queue subscribed to it. ``add_alarm_action(topic)`` attaches an SNS topic or any
    ``cloudwatch.IAlarmAction`` to all of them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        source: StreamSourceResource,
        starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        starting_position_timestamp: dt.datetime | float | None = None,
        batch_size: int | None = None,
        max_batching_window: cdk.Duration | None = None,
        bisect_batch_on_error: bool = True,
        retry_attempts: int | None = DEFAULT_RETRY_ATTEMPTS,
        max_record_age: cdk.Duration | int | None = DEFAULT_MAX_RECORD_AGE,
        parallelization_factor: int | None = None,
        tumbling_window: cdk.Duration | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        report_batch_item_failures: bool = True,
        on_failure: MappingFailureDestination | None = DEFAULT_FAILURE_QUEUE,
        discard_failures: bool = False,
        enhanced_fan_out: bool = False,
        enabled: bool = True,
        on_success: object = None,
        alarms: bool = True,
        alarm_thresholds: Mapping[str, float] | None = None,
        grants_managed_elsewhere: bool = False,
    ) -> None:
        path = child_path(scope, id)
        subject, source_info, record_age, patterns, failure_target, planned_alarm_ids = self._validate(
            scope,
            path,
            function=function,
            source=source,
            starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
            parallelization_factor=parallelization_factor,
            tumbling_window=tumbling_window,
            filters=filters,
            flags={
                "bisect_batch_on_error": bisect_batch_on_error,
                "report_batch_item_failures": report_batch_item_failures,
                "discard_failures": discard_failures,
                "enhanced_fan_out": enhanced_fan_out,
                "enabled": enabled,
            },
            on_failure=on_failure,
            on_success=on_success,
            alarms=alarms,
            alarm_thresholds=alarm_thresholds,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )

        super().__init__(scope, id)
        remember_stack(self, scope)
        alarm_lib.use_alarm_thresholds(self, alarm_thresholds, planned_alarm_ids)
        self.function = function
        self.source = source
        self.failure_queue: FailureQueue | None = None
        if on_failure is DEFAULT_FAILURE_QUEUE and not discard_failures:
            self.failure_queue = FailureQueue(self, "FailureQueue", alarms=alarms)
            failure_target = resolve_target(self.failure_queue)
        failure_target = mapping_home(failure_target)
        self.on_failure_target = failure_target
        self._warn(queue_size_warnings(failure_target, path=self.node.path, setting="on_failure"), "small-messages")
        if not source_info.is_kinesis:
            for warning in check_dynamodb_record_age(record_age, path=self.node.path):
                cdk.Annotations.of(self).add_warning_v2(
                    "constructs_lib:stream:record-age-beyond-retention", str(warning)
                )

        self.stream_consumer: kinesis.CfnStreamConsumer | None = None
        if enhanced_fan_out:
            assert source_info.stream_arn is not None  # Kinesis only, and a stream has an ARN: a violation otherwise
            self.stream_consumer = kinesis.CfnStreamConsumer(
                self,
                "StreamConsumer",
                stream_arn=source_info.stream_arn,
                consumer_name=cdk.Names.unique_resource_name(self, max_length=KINESIS_CONSUMER_NAME_MAX_LENGTH),
            )
        self.event_source_mapping = self._create_mapping(
            subject,
            source_info,
            starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            bisect_batch_on_error=bisect_batch_on_error,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
            parallelization_factor=parallelization_factor,
            tumbling_window=tumbling_window,
            report_batch_item_failures=report_batch_item_failures,
            patterns=patterns,
            enabled=enabled,
            alarms=alarms,
        )
        self._grant(subject, source_info, grants_managed_elsewhere=grants_managed_elsewhere)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self.alarms = self._create_alarms(subject, source_info, record_age, enhanced_fan_out)
        alarm_lib.confirm_planned_alarms(self)

    def _validate(
        self,
        scope: Construct,
        path: str,
        *,
        function: Any,
        source: Any,
        starting_position: Any,
        starting_position_timestamp: Any,
        batch_size: Any,
        max_batching_window: Any,
        retry_attempts: Any,
        max_record_age: Any,
        parallelization_factor: Any,
        tumbling_window: Any,
        filters: Any,
        flags: Mapping[str, Any],
        on_failure: Any,
        on_success: Any,
        alarms: Any,
        alarm_thresholds: Any,
        grants_managed_elsewhere: Any,
    ) -> tuple[FunctionSubject, StreamSource, CheckedValue, list[Any], Target | None, list[str]]:
        """Every violation at once, raised before any resource exists; the numbers go to the pure
        ``check_stream_settings``."""
        subject, violations = check_consumer(
            scope,
            path,
            function=function,
            alarms=alarms,
            alarm_thresholds=alarm_thresholds,
            flags=flags,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )
        source_info = stream_source(source)
        violations += self._check_source(path, source, source_info, starting_position, starting_position_timestamp)
        if source_info is not None and source_info.stream_arn is not None:
            violations += check_same_region(
                source_info.stream_arn, scope, path=path, setting="source", what=source_info.describe
            )
        if flags["enhanced_fan_out"] and source_info is not None and not source_info.is_kinesis:
            violations.append(Violation(path, "enhanced_fan_out", "False for a DynamoDB stream (Kinesis only)", "True"))
        record_age = _record_age_seconds(max_record_age)
        violations += check_stream_settings(
            batch_size=number_or_unresolved(batch_size),
            max_batching_window=seconds_or_unresolved(max_batching_window),
            retry_attempts=number_or_unresolved(retry_attempts),
            max_record_age=record_age,
            parallelization_factor=number_or_unresolved(parallelization_factor),
            tumbling_window=seconds_or_unresolved(tumbling_window),
            path=path,
        )
        filter_kind = "kinesis" if source_info is None or source_info.is_kinesis else "dynamodb"
        patterns, found = checked_filters(filters, source=filter_kind, path=path)
        violations += found
        violations += no_on_success(on_success, path=path)
        discard_failures = flags["discard_failures"]
        violations += check_failure_home(path, on_failure=on_failure, discard_failures=discard_failures)
        failure_target: Target | None = None
        if on_failure is not DEFAULT_FAILURE_QUEUE:
            failure_target, found = checked_target(
                on_failure, "stream.on_failure", path=path, setting="on_failure", scope=scope
            )
            violations += found
        planned_alarm_ids: list[str] = []
        if source_info is not None:
            has_home = failure_target is not None or (on_failure is DEFAULT_FAILURE_QUEUE and not discard_failures)
            planned_alarm_ids = planned_stream_alarm_ids(
                alarms=alarms,
                has_home=has_home,
                home=failure_target,
                is_kinesis=source_info.is_kinesis,
                enhanced_fan_out=flags["enhanced_fan_out"],
            )
            violations += alarm_lib.check_threshold_ids(alarm_thresholds, planned_alarm_ids, path=path)
        raise_if_any(violations)
        assert subject is not None and source_info is not None
        return subject, source_info, record_age, patterns, failure_target, planned_alarm_ids

    def _create_mapping(
        self,
        subject: FunctionSubject,
        source_info: StreamSource,
        *,
        starting_position: lambda_.StartingPosition,
        starting_position_timestamp: dt.datetime | float | None,
        batch_size: int | None,
        max_batching_window: cdk.Duration | None,
        bisect_batch_on_error: bool,
        retry_attempts: int | None,
        max_record_age: cdk.Duration | int | None,
        parallelization_factor: int | None,
        tumbling_window: cdk.Duration | None,
        report_batch_item_failures: bool,
        patterns: list[Any],
        enabled: bool,
        alarms: bool,
    ) -> lambda_.CfnEventSourceMapping:
        failure_target = self.on_failure_target
        mapping_class = lambda_.CfnEventSourceMapping
        return mapping_class(
            self,
            "Mapping",
            function_name=mapping_function_name(subject),
            event_source_arn=self.stream_consumer.attr_consumer_arn
            if self.stream_consumer is not None
            else source_info.stream_arn,
            enabled=enabled,
            starting_position=starting_position.value,
            starting_position_timestamp=_timestamp(starting_position_timestamp),
            batch_size=batch_size,
            maximum_batching_window_in_seconds=max_batching_window.to_seconds()
            if max_batching_window is not None
            else None,
            bisect_batch_on_function_error=bisect_batch_on_error,
            maximum_retry_attempts=retry_attempts,
            maximum_record_age_in_seconds=_record_age_property(max_record_age),
            parallelization_factor=parallelization_factor,
            tumbling_window_in_seconds=tumbling_window.to_seconds() if tumbling_window is not None else None,
            function_response_types=["ReportBatchItemFailures"] if report_batch_item_failures else None,
            filter_criteria=filter_criteria(patterns),
            destination_config=mapping_class.DestinationConfigProperty(
                on_failure=mapping_class.OnFailureProperty(destination=failure_target.arn)
            )
            if failure_target is not None
            else None,
            metrics_config=self._metrics_config(alarms),
        )

    def _grant(self, subject: FunctionSubject, source_info: StreamSource, *, grants_managed_elsewhere: bool) -> None:
        statements = source_info.read_statements()
        if self.stream_consumer is not None:
            statements += fan_out_statements(self.stream_consumer.attr_consumer_arn)
        grant_statements(
            self, subject, statements, source_info.describe, grants_managed_elsewhere=grants_managed_elsewhere
        )
        failure_target = self.on_failure_target
        if failure_target is not None:
            grant_statements(
                self,
                subject,
                failure_target.statements,
                failure_target.describe,
                grants_managed_elsewhere=grants_managed_elsewhere,
            )

    def metric_iterator_age(
        self, *, period: cdk.Duration | None = None, statistic: str | None = None
    ) -> cloudwatch.Metric:
        """AWS/Lambda IteratorAge of the function (Maximum, milliseconds): how old the last record of a batch was
        when Lambda sent it; the ``IteratorAgeAlarm`` watches it."""
        metric = alarm_lib.function_iterator_age(self.function)
        return with_options(metric, period, statistic)

    def add_alarm_action(self, *actions: Any) -> None:
        """Attach each action (an ``sns.ITopic`` or a ``cloudwatch.IAlarmAction``) to every alarm in ``.alarms``."""
        alarm_lib.add_alarm_actions(self, self.alarms, actions)

    def _warn(self, warnings: list[Violation], what: str) -> None:
        for warning in warnings:
            cdk.Annotations.of(self).add_warning_v2(f"constructs_lib:stream:{what}", str(warning))

    @staticmethod
    def _metrics_config(alarms: bool) -> lambda_.CfnEventSourceMapping.MetricsConfigProperty | None:
        """The mapping's EventCount metrics (DroppedEventCount, OnFailureDestinationDeliveredEventCount, ...),
        which the alarms watch; billed as custom metrics, so only with alarms."""
        if not alarms:
            return None
        return lambda_.CfnEventSourceMapping.MetricsConfigProperty(metrics=[ESM_EVENT_COUNT_METRICS])

    def _create_mapping_alarms(self, what: str, source: StreamSource) -> list[cloudwatch.Alarm]:
        """Alarms on the mapping's own EventCount metrics, per EventSourceMappingUUID."""
        uuid = self.event_source_mapping.ref
        target = self.on_failure_target
        created = [
            alarm_lib.create_alarm(
                self,
                "DroppedEventsAlarm",
                metric=alarm_lib.event_source_mapping_metric(uuid, ESM_DROPPED_EVENT_COUNT, "Sum"),
                threshold=1,
                description=f"Lambda gave up on records of {source.describe()} for {what} (retries or max record age "
                + (
                    f"exhausted) and could not park them in {target.describe()}: they are lost unless the stream "
                    "still holds them. Check the failure home, the function's role and the function's errors."
                    if target is not None
                    else "exhausted) and dropped them, as discard_failures asks: they are lost unless the stream "
                    "still holds them. Check the function's errors."
                ),
            )
        ]
        if target is not None and target.kind is DestinationKind.S3_BUCKET:
            # A bucket has no "messages waiting" metric: watch what the mapping delivered to it.
            created.append(
                alarm_lib.create_alarm(
                    self,
                    "FailureObjectsAlarm",
                    metric=alarm_lib.event_source_mapping_metric(uuid, ESM_ON_FAILURE_DELIVERED_EVENT_COUNT, "Sum"),
                    threshold=1,
                    description=f"Failed records of {what} from {source.describe()} were written to "
                    f"{target.describe()}: find the cause, fix it, then redrive the objects "
                    "(python -m constructs_lib.redrive --from s3://<bucket>).",
                )
            )
        return created

    def _create_alarms(
        self, subject: FunctionSubject, source: StreamSource, record_age: CheckedValue, enhanced_fan_out: bool
    ) -> list[cloudwatch.Alarm]:
        function = subject.given
        what = subject.describe()
        target = self.on_failure_target
        home = f"parked in {target.describe()}" if target is not None else "dropped (failures are discarded)"
        retention = source.retention_seconds()
        assumed = "" if isinstance(retention, int | float) else " (assumed: the stream's own retention is not known)"
        limit = unprocessed_record_age_seconds(record_age, retention)
        if isinstance(record_age, int | float) and record_age == limit:
            fate = f"are {home} (max_record_age)"
        else:
            fate = f"expire from the stream unprocessed at the end of its retention{assumed}"
        threshold = iterator_age_threshold_ms(record_age, retention)
        created = list(self.failure_queue.alarms) if self.failure_queue is not None else []
        created.append(
            alarm_lib.create_alarm(
                self,
                "IteratorAgeAlarm",
                metric=alarm_lib.function_iterator_age(function),
                threshold=threshold,
                description=f"{what} is falling behind on {source.describe()}: the records it gets are "
                f"{human_duration(threshold / 1000)} old, half of the {human_duration(limit)} after which records "
                f"{fate}. Check the function's errors, duration and throttles.",
                treat_missing_data=alarm_lib.LAG_MISSING_DATA,
            )
        )
        created.append(
            alarm_lib.create_alarm(
                self,
                "ErrorsAlarm",
                metric=alarm_lib.function_errors(function),
                threshold=1,
                description=f"{what} failed to process a batch from {source.describe()}: the batch is retried and "
                f"split until the bad records are isolated and {home}. Check the function's logs.",
            )
        )
        if target is not None:
            created.append(
                alarm_lib.create_alarm(
                    self,
                    "DestinationDeliveryFailuresAlarm",
                    metric=alarm_lib.function_destination_delivery_failures(function),
                    threshold=1,
                    description=f"Lambda failed to send failure records of {what} to {target.describe()}: the "
                    "batches they point to are not parked. Check that the destination exists, is not FIFO and that "
                    "the function's role may write to it and use its KMS key.",
                )
            )
        if source.is_kinesis and not enhanced_fan_out:
            read_threshold = stream_read_lag_threshold_ms(retention)
            retention_text = human_duration(read_threshold / 1000 / RETENTION_ALARM_FRACTION) + assumed
            created.append(
                alarm_lib.create_alarm(
                    self,
                    "StreamIteratorAgeAlarm",
                    metric=alarm_lib.kinesis_iterator_age(source.construct),
                    threshold=read_threshold,
                    description=f"Records of {source.describe()} are read {human_duration(read_threshold / 1000)} "
                    f"after they arrived, {RETENTION_ALARM_FRACTION:.0%} of the stream's retention of "
                    f"{retention_text}: they are about to expire unread. Check {what} and the stream's other "
                    "consumers.",
                    treat_missing_data=alarm_lib.LAG_MISSING_DATA,
                )
            )
        created += self._create_mapping_alarms(what, source)
        if target is not None and needs_queue_alarms(target.construct):
            created += alarm_lib.queue_alarms(self, target.construct, id_prefix=ON_FAILURE_ALARM_PREFIX)
        elif target is not None and target.construct is not self.failure_queue:
            created += alarm_lib.failure_queue_alarms(target.construct)
        return created

    @staticmethod
    def _check_source(
        path: str,
        source: Any,
        info: StreamSource | None,
        starting_position: Any,
        timestamp: Any,
    ) -> list[Violation]:
        if info is None:
            return [
                Violation(
                    path,
                    "source",
                    "a Kinesis stream or a DynamoDB table with a stream (for SQS use QueueConsumer)",
                    describe_object(source),
                )
            ]
        violations = []
        if not isinstance(starting_position, lambda_.StartingPosition):
            violations.append(
                Violation(
                    path,
                    "starting_position",
                    "a lambda_.StartingPosition (TRIM_HORIZON, LATEST or AT_TIMESTAMP)",
                    repr(starting_position),
                )
            )
        if timestamp is not None:
            violations += _check_timestamp(path, timestamp)
        if info.stream_arn is None:
            violations.append(
                Violation(
                    path,
                    "source",
                    "a DynamoDB table with a stream: create it with stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES "
                    "(TableV2: dynamo_stream=...), or import it with table_stream_arn",
                    f"{info.describe()} without a stream",
                )
            )
        at_timestamp = starting_position is lambda_.StartingPosition.AT_TIMESTAMP
        if at_timestamp and not info.is_kinesis:
            violations.append(
                Violation(path, "starting_position", "TRIM_HORIZON or LATEST for a DynamoDB stream", "AT_TIMESTAMP")
            )
        if at_timestamp and info.is_kinesis and timestamp is None:
            violations.append(
                Violation(
                    path,
                    "starting_position_timestamp",
                    "given with AT_TIMESTAMP (a datetime or Unix time in seconds)",
                    "None",
                )
            )
        if timestamp is not None and not at_timestamp:
            violations.append(
                Violation(
                    path,
                    "starting_position_timestamp",
                    "left out unless starting_position is AT_TIMESTAMP",
                    f"{timestamp!r} with {getattr(starting_position, 'name', starting_position)}",
                )
            )
        return violations


def _check_timestamp(path: str, timestamp: Any) -> list[Violation]:
    """A timezone-aware datetime or Unix seconds (plain int/float, or a number token), not in the future."""
    setting = "starting_position_timestamp"
    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is None or timestamp.utcoffset() is None:
            return [
                Violation(
                    path,
                    setting,
                    "a timezone-aware datetime (e.g. datetime(..., tzinfo=timezone.utc)): a naive one would mean a "
                    "different instant on each machine that synthesizes",
                    f"naive {timestamp.isoformat()}",
                )
            ]
        seconds: Any = timestamp.timestamp()
    elif type(timestamp) in (int, float):
        seconds = number_or_unresolved(timestamp)
        if seconds is UNRESOLVED:
            return []
    else:
        return [Violation(path, setting, "a datetime or Unix time in seconds (int or float)", repr(timestamp))]
    if seconds > dt.datetime.now(dt.UTC).timestamp():
        return [
            Violation(
                path,
                setting,
                "a time in the past: the stream has no records after now, so Lambda would start at a position "
                "that does not exist yet",
                dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(),
            )
        ]
    return []


def _timestamp(value: dt.datetime | float | None) -> float | None:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def _record_age_property(max_record_age: Any) -> Any:
    if isinstance(max_record_age, cdk.Duration):
        return max_record_age.to_seconds()
    return max_record_age  # INFINITE (-1) or a token number
