"""KafkaConsumer: an Amazon MSK or self-managed Apache Kafka event source mapping with the stream failure handling."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_msk as msk
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib import alarms as alarm_lib
from constructs_lib._cdk import child_path, has_member, is_resolved_str, number_or_unresolved, seconds_or_unresolved
from constructs_lib._mapping import (
    MappingAccessors,
    check_consumer,
    check_filters,
    filter_criteria,
    mapping_function_name,
    no_on_success,
)
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.failure_queue import DEFAULT_FAILURE_QUEUE, FailureQueue, check_failure_home, needs_queue_alarms
from constructs_lib.functions import FunctionSubject, grant_statements
from constructs_lib.limits import (
    KAFKA_CONSUMER_GROUP_ID_MAX_LENGTH,
    KAFKA_NETWORK_ACTIONS,
    KAFKA_OFFSET_LAG_ALARM_RECORDS,
    KAFKA_PROVISIONED_ONLY,
    KAFKA_ROOT_CA_ACCESS_TYPE,
    KMS_READ_ACTIONS,
    LIMITS,
    MSK_AUTHENTICATIONS,
    MSK_CLUSTER_ACTIONS,
    MSK_IAM_CLUSTER_ACTIONS,
    MSK_IAM_GROUP_ACTIONS,
    MSK_IAM_TOPIC_READ_ACTIONS,
    MSK_IAM_TOPIC_WRITE_ACTIONS,
    MSK_SCRAM_ACTIONS,
    RESILIENT_STREAM_MAX_RECORD_AGE_SECONDS,
    RESILIENT_STREAM_RETRY_ATTEMPTS,
    SECRET_READ_ACTIONS,
    SELF_MANAGED_KAFKA_AUTHENTICATIONS,
    UNRESOLVED,
    CheckedValue,
    KafkaAuthentication,
    check_give_up_set,
    check_kafka_bootstrap_servers,
    check_kafka_consumer_group_id,
    check_kafka_pollers,
    check_kafka_topic,
    check_limit,
    kafka_on_failure_topic,
)
from constructs_lib.stream_consumer import _record_age_property, _record_age_seconds, _timestamp
from constructs_lib.targets import (
    KafkaFailureDestination,
    Target,
    checked_target,
    describe_object,
    kms_statements,
    resolve_target,
)

DEFAULT_RETRY_ATTEMPTS = RESILIENT_STREAM_RETRY_ATTEMPTS
DEFAULT_MAX_RECORD_AGE = cdk.Duration.seconds(RESILIENT_STREAM_MAX_RECORD_AGE_SECONDS)
DEFAULT_POLLERS: Final = lambda_.ProvisionedPollerConfig(minimum_pollers=1)
"""Provisioned mode with one poller at least (AWS's default maximum of 200): the error handling controls exist for
Kafka only in provisioned mode."""
ESM_METRICS: Final = ("EventCount", "ErrorCount", "KafkaMetrics")


class _ModeDefault:
    """The default of an error handling setting: the resilient value in provisioned mode, not set on demand."""

    def __init__(self, name: str, provisioned: Any) -> None:
        self.name = name
        self.provisioned = provisioned

    def __repr__(self) -> str:
        return f"default {self.name}"


_BISECT = _ModeDefault("bisect_batch_on_error", True)
_RETRIES = _ModeDefault("retry_attempts", DEFAULT_RETRY_ATTEMPTS)
_RECORD_AGE = _ModeDefault("max_record_age", DEFAULT_MAX_RECORD_AGE)
_REPORT = _ModeDefault("report_batch_item_failures", True)


ON_FAILURE_ALARM_PREFIX = "OnFailure"


def planned_kafka_alarm_ids(*, alarms: object, provisioned: bool, has_home: bool, home: Target | None) -> list[str]:
    """The ids of the alarms a KafkaConsumer creates itself (a FailureQueue's own alarms are not among them):
    `has_home` when failures go somewhere (`home`, a Kafka topic, or a new FailureQueue when `home` is None).
    On-demand mode has no error handling controls, so only the errors alarm."""
    if alarms is not True:
        return []
    if not provisioned:
        return ["ErrorsAlarm"]
    ids = ["ErrorsAlarm", "OffsetLagAlarm", "DroppedEventsAlarm"]
    if has_home:
        ids.append("OnFailureDeliveryErrorsAlarm")
    if home is not None and needs_queue_alarms(home.construct):
        ids += alarm_lib.queue_alarm_ids(ON_FAILURE_ALARM_PREFIX)
    return ids


class KafkaConsumer(MappingAccessors, Construct):
    """A function consuming a Kafka topic of an Amazon MSK cluster or of self-managed brokers, with the failure
    handling of ``StreamConsumer``.

    Lambda offers Kafka mappings the stream controls (bisect, retries, record age, partial batch responses) only in
    provisioned mode, so provisioned mode is the default (``provisioned_poller_config``, at least one poller). The
    defaults then isolate and park a poison pill: bisect on error, 3 retries, 1 hour max record age,
    ReportBatchItemFailures (the handler returns ``batchItemFailures`` with ``topic-partition`` and ``offset``),
    and a new ``FailureQueue`` as failure home. A failure record in an SQS queue or SNS topic holds the batch's
    topic, partitions and offsets, not the data; an S3 bucket gets the whole batch; a Kafka topic
    (``on_failure="kafka://<topic>"``, same cluster, provisioned mode) gets each failed record with its metadata.

    Exactly one source: ``cluster_arn`` (Amazon MSK) or ``bootstrap_servers`` (self-managed Apache Kafka). Every
    setting is validated before anything is created; all violations come in one ValidationError. Tokens are never
    range-checked.

    :param function: the Function, Version or Alias that consumes the topic.
    :param topic: the Kafka topic (1 to 249 of letters, digits, '.', '_', '-').
    :param cluster_arn: the MSK cluster's ARN (a string, or an ``msk.CfnCluster``).
    :param bootstrap_servers: self-managed brokers, 1 to 10 ``host:port`` strings.
    :param consumer_group_id: 1 to 200 of letters, digits and ``-/*:_+=.@``; cannot change after creation.
        Default: a name derived from this construct's path, so a replaced mapping keeps its committed offsets.
    :param starting_position: TRIM_HORIZON (default), LATEST or AT_TIMESTAMP (with ``starting_position_timestamp``).
    :param batch_size: 1 to 10000. Default: not set (AWS uses 100).
    :param max_batching_window: 0 to 300 seconds. Default: not set (AWS uses 500 ms for Kafka).
    :param provisioned_poller_config: ``lambda_.ProvisionedPollerConfig``: minimum_pollers 1 to 200 (default 1),
        maximum_pollers 1 to 2000 (default 200) and at least the minimum, poller_group_name to share pollers.
        Default: ``DEFAULT_POLLERS`` (minimum 1). ``None`` selects on-demand mode, where Lambda accepts none of the
        error handling settings below: left at their defaults they are not set (a warning says what that means),
        given explicitly they are an error.
    :param bisect_batch_on_error: Default: True (provisioned mode).
    :param retry_attempts: 0 to 10000, or ``INFINITE`` (-1; Lambda caps it at 10 when there is a failure home).
        Default: 3 (provisioned mode).
    :param max_record_age: a Duration of 60 seconds to 7 days, or ``INFINITE`` (-1). Default: 1 hour (provisioned
        mode).
    :param report_batch_item_failures: Default: True (provisioned mode).
    :param on_failure: a standard SQS queue, standard SNS topic, S3 bucket, or ``"kafka://<topic>"`` (another topic
        of the same cluster, provisioned mode only). Default: a new FailureQueue (``.failure_queue``).
    :param discard_failures: set True to knowingly drop records that exhaust retries or age. Default: False.
    :param secret: the Secrets Manager secret with the credentials (SASL/SCRAM, SASL/PLAIN) or the client
        certificate (mutual TLS). MSK without a secret uses IAM authentication.
    :param authentication: a ``KafkaAuthentication``; MSK: SASL_SCRAM_512 or MUTUAL_TLS; self-managed: any. Default
        with a secret: SASL_SCRAM_512.
    :param root_ca_certificate: self-managed only: the secret with the root CA of brokers whose certificates a
        private CA signed.
    :param vpc: self-managed brokers reachable only in a VPC; needs ``security_groups``. (MSK: Lambda uses the
        cluster's own subnets and security groups.)
    :param vpc_subnets: which subnets of ``vpc``. Default: the VPC's private subnets.
    :param security_groups: security groups for Lambda's network interfaces in ``vpc``.
    :param filters: event filters made with ``lambda_.FilterCriteria.filter({...})``. Default: none.
    :param enabled: whether the mapping polls. Default: True.
    :param on_success: not supported by event source mappings; given only to report a clear error.
    :param alarms: create the alarms below (``.alarms``); False creates none. Default: True.
    :param offset_lag_alarm_threshold: MaxOffsetLag (records) at which ``OffsetLagAlarm`` fires. Default: 10 000.
    :param alarm_thresholds: a threshold per alarm id of ``.alarms`` created here (e.g. ``{"ErrorsAlarm": 5}``),
        a number >= 0 in the metric's unit, replacing the default described below; an id of no alarm is an
        error. Default: none.
    :param grants_managed_elsewhere: set True when the function's role cannot take policies (an import without a
        role, ``Role.from_role_arn(..., mutable=False)``, ``without_policy_updates()``) and you grant the
        permissions yourself: nothing is added to the role and an info annotation lists what it needs. Without it
        such a role is a ``ValidationError``. Default: False.

    Alarms: ``ErrorsAlarm`` (the function's Errors >= 1), and in provisioned mode, on the mapping's own metrics
    (``MetricsConfig`` EventCount, ErrorCount and KafkaMetrics are enabled for them; they are billed as custom
    metrics): ``OffsetLagAlarm`` (MaxOffsetLag >= ``offset_lag_alarm_threshold``), ``DroppedEventsAlarm``
    (DroppedEventCount >= 1: records given up without reaching a failure home) and, with a failure home,
    ``OnFailureDeliveryErrorsAlarm`` (OnFailureDestinationDeliveryErrorCount >= 1). The default FailureQueue brings
    its own two alarms (listed in ``.alarms``, as are those of a ``FailureQueue`` given as ``on_failure``); a plain
    SQS queue as ``on_failure`` gets the same two here.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        topic: str,
        cluster_arn: str | msk.CfnCluster | None = None,
        bootstrap_servers: Sequence[str] | None = None,
        consumer_group_id: str | None = None,
        starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        starting_position_timestamp: dt.datetime | float | None = None,
        batch_size: int | None = None,
        max_batching_window: cdk.Duration | None = None,
        provisioned_poller_config: lambda_.ProvisionedPollerConfig | None = DEFAULT_POLLERS,
        bisect_batch_on_error: Any = _BISECT,
        retry_attempts: Any = _RETRIES,
        max_record_age: Any = _RECORD_AGE,
        report_batch_item_failures: Any = _REPORT,
        on_failure: KafkaFailureDestination | None = DEFAULT_FAILURE_QUEUE,
        discard_failures: bool = False,
        secret: secretsmanager.ISecret | None = None,
        authentication: KafkaAuthentication | None = None,
        root_ca_certificate: secretsmanager.ISecret | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        enabled: bool = True,
        on_success: Any = None,
        alarms: bool = True,
        offset_lag_alarm_threshold: int = KAFKA_OFFSET_LAG_ALARM_RECORDS,
        alarm_thresholds: Mapping[str, float] | None = None,
        grants_managed_elsewhere: bool = False,
    ) -> None:
        path = child_path(scope, id)
        subject, settings, on_demand_ignored, record_age, failure_target, failure_topic, planned_alarm_ids = (
            self._validate(
                scope,
                path,
                function=function,
                topic=topic,
                cluster_arn=cluster_arn,
                bootstrap_servers=bootstrap_servers,
                consumer_group_id=consumer_group_id,
                starting_position=starting_position,
                starting_position_timestamp=starting_position_timestamp,
                batch_size=batch_size,
                max_batching_window=max_batching_window,
                provisioned_poller_config=provisioned_poller_config,
                settings={
                    "bisect_batch_on_error": bisect_batch_on_error,
                    "retry_attempts": retry_attempts,
                    "max_record_age": max_record_age,
                    "report_batch_item_failures": report_batch_item_failures,
                },
                on_failure=on_failure,
                discard_failures=discard_failures,
                secret=secret,
                authentication=authentication,
                root_ca_certificate=root_ca_certificate,
                vpc=vpc,
                vpc_subnets=vpc_subnets,
                security_groups=security_groups,
                filters=filters,
                on_success=on_success,
                alarms=alarms,
                offset_lag_alarm_threshold=offset_lag_alarm_threshold,
                alarm_thresholds=alarm_thresholds,
                grants_managed_elsewhere=grants_managed_elsewhere,
            )
        )
        provisioned = provisioned_poller_config is not None
        retries = settings["retry_attempts"]

        super().__init__(scope, id)
        alarm_lib.use_alarm_thresholds(self, alarm_thresholds, planned_alarm_ids)
        self.function = function
        self.topic = topic
        self.provisioned = provisioned
        self.cluster_arn: str | None = _cluster_arn(cluster_arn) if cluster_arn is not None else None
        self.failure_queue: FailureQueue | None = None
        self.network_policy: iam.Policy | None = None
        if on_failure is DEFAULT_FAILURE_QUEUE and not discard_failures:
            self.failure_queue = FailureQueue(self, "FailureQueue", alarms=alarms)
            failure_target = resolve_target(self.failure_queue)
        self.on_failure_target = failure_target
        self.on_failure_topic = failure_topic
        self.consumer_group_id = consumer_group_id or cdk.Names.unique_resource_name(
            self, max_length=KAFKA_CONSUMER_GROUP_ID_MAX_LENGTH
        )
        if not provisioned and on_demand_ignored:
            cdk.Annotations.of(self).add_warning_v2(
                "constructs_lib:kafka:on-demand",
                f"{self.node.path} runs in on-demand mode, where Lambda offers Kafka no error handling controls: "
                "a batch that keeps failing is retried until it succeeds or its records leave the topic, and "
                "blocks its partition meanwhile. Give provisioned_poller_config for bisect, bounded retries and "
                "record age.",
            )

        authentication = _authentication(authentication, secret)
        access = self._source_access_configurations(
            authentication, secret, root_ca_certificate, vpc, vpc_subnets, security_groups
        )
        destination = failure_target.arn if failure_target is not None else on_failure if failure_topic else None
        self.event_source_mapping = self._create_mapping(
            subject,
            topic=topic,
            bootstrap_servers=bootstrap_servers,
            starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            provisioned_poller_config=provisioned_poller_config,
            settings=settings,
            access=access,
            destination=destination,
            filters=filters,
            enabled=enabled,
            alarms=alarms,
        )

        self._grant(
            subject,
            authentication,
            secret,
            root_ca_certificate,
            vpc is not None,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self.alarms = self._create_alarms(subject, offset_lag_alarm_threshold, record_age, retries)
        alarm_lib.confirm_planned_alarms(self)

    def _validate(
        self,
        scope: Construct,
        path: str,
        *,
        function: Any,
        topic: Any,
        cluster_arn: Any,
        bootstrap_servers: Any,
        consumer_group_id: Any,
        starting_position: Any,
        starting_position_timestamp: Any,
        batch_size: Any,
        max_batching_window: Any,
        provisioned_poller_config: Any,
        settings: dict[str, Any],
        on_failure: Any,
        discard_failures: Any,
        secret: Any,
        authentication: Any,
        root_ca_certificate: Any,
        vpc: Any,
        vpc_subnets: Any,
        security_groups: Any,
        filters: Any,
        on_success: Any,
        alarms: Any,
        offset_lag_alarm_threshold: Any,
        alarm_thresholds: Any,
        grants_managed_elsewhere: Any,
    ) -> tuple[FunctionSubject, dict[str, Any], list[str], CheckedValue, Target | None, str | None, list[str]]:
        """Every violation at once, raised before any resource exists. Returns the error handling settings as
        they apply in the mode (defaults resolved), the defaults left out on demand, the record age in seconds
        and the failure home."""
        subject, violations = check_consumer(
            scope,
            path,
            function=function,
            alarms=alarms,
            alarm_thresholds=alarm_thresholds,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )
        provisioned = provisioned_poller_config is not None
        # Defaults apply in provisioned mode; on demand they are left out, anything given explicitly is an error.
        on_demand_ignored = [name for name, value in settings.items() if isinstance(value, _ModeDefault)]
        settings = {
            name: (value.provisioned if provisioned else None) if isinstance(value, _ModeDefault) else value
            for name, value in settings.items()
        }
        if not provisioned:
            for name, value in settings.items():
                if value is not None and name not in on_demand_ignored:
                    violations.append(
                        Violation(
                            path,
                            name,
                            f"left out in on-demand mode: Lambda accepts {KAFKA_PROVISIONED_ONLY[name]} for Kafka only "
                            "in provisioned mode (give provisioned_poller_config)",
                            repr(value),
                        )
                    )
        retries, record_age_arg = settings["retry_attempts"], settings["max_record_age"]
        if provisioned:
            violations += check_give_up_set(
                retry_attempts=settings["retry_attempts"], max_record_age=settings["max_record_age"], path=path
            )
        record_age = _record_age_seconds(record_age_arg)

        violations += self._check_source(path, topic, cluster_arn, bootstrap_servers, consumer_group_id)
        violations += self._check_access(
            path,
            cluster_arn is not None,
            secret,
            authentication,
            root_ca_certificate,
            vpc,
            vpc_subnets,
            security_groups,
        )
        violations += self._check_starting_position(path, starting_position, starting_position_timestamp)
        violations += check_limit(
            LIMITS["mapping.batch_size"], number_or_unresolved(batch_size), path=path, setting="batch_size"
        )
        violations += check_limit(
            LIMITS["mapping.max_batching_window"],
            seconds_or_unresolved(max_batching_window),
            path=path,
            setting="max_batching_window",
        )
        violations += check_limit(
            LIMITS["kafka.retry_attempts"], number_or_unresolved(retries), path=path, setting="retry_attempts"
        )
        violations += check_limit(LIMITS["kafka.max_record_age"], record_age, path=path, setting="max_record_age")
        if provisioned_poller_config is not None:
            violations += self._check_pollers(path, provisioned_poller_config)
        if not (isinstance(offset_lag_alarm_threshold, int) and not isinstance(offset_lag_alarm_threshold, bool)) or (
            offset_lag_alarm_threshold < 1
        ):
            violations.append(
                Violation(
                    path,
                    "offset_lag_alarm_threshold",
                    "a whole number of records, at least 1",
                    repr(offset_lag_alarm_threshold),
                )
            )
        violations += check_filters(filters, path=path)
        violations += no_on_success(on_success, path=path)
        violations += check_failure_home(path, on_failure=on_failure, discard_failures=discard_failures)

        failure_target: Target | None = None
        failure_topic = kafka_on_failure_topic(on_failure)
        if failure_topic is not None:
            violations += check_kafka_topic(failure_topic, path=path, setting="on_failure", source=False)
            if failure_topic == topic:
                violations.append(
                    Violation(
                        path,
                        "on_failure",
                        "a Kafka topic other than the source topic (Lambda blocks the loop)",
                        repr(on_failure),
                    )
                )
            if not provisioned:
                violations.append(
                    Violation(
                        path,
                        "on_failure",
                        "an SQS queue, SNS topic or S3 bucket in on-demand mode: a Kafka topic destination needs "
                        "provisioned mode (give provisioned_poller_config)",
                        repr(on_failure),
                    )
                )
        elif isinstance(on_failure, str):
            violations.append(
                Violation(
                    path,
                    "on_failure",
                    "a queue, topic or bucket object, or a Kafka topic written 'kafka://<topic>'",
                    repr(on_failure),
                )
            )
        elif on_failure is not DEFAULT_FAILURE_QUEUE:
            failure_target, found = checked_target(
                on_failure, "kafka.on_failure", path=path, setting="on_failure", scope=scope
            )
            violations += found
        planned_alarm_ids = planned_kafka_alarm_ids(
            alarms=alarms,
            provisioned=provisioned_poller_config is not None,
            has_home=failure_target is not None
            or failure_topic is not None
            or (on_failure is DEFAULT_FAILURE_QUEUE and not discard_failures),
            home=failure_target,
        )
        violations += alarm_lib.check_threshold_ids(alarm_thresholds, planned_alarm_ids, path=path)
        raise_if_any(violations)
        assert subject is not None
        return subject, settings, on_demand_ignored, record_age, failure_target, failure_topic, planned_alarm_ids

    def _create_mapping(
        self,
        subject: FunctionSubject,
        *,
        topic: str,
        bootstrap_servers: Sequence[str] | None,
        starting_position: lambda_.StartingPosition,
        starting_position_timestamp: dt.datetime | float | None,
        batch_size: int | None,
        max_batching_window: cdk.Duration | None,
        provisioned_poller_config: lambda_.ProvisionedPollerConfig | None,
        settings: Mapping[str, Any],
        access: list[Any],
        destination: Any,
        filters: Sequence[Mapping[str, Any]] | None,
        enabled: bool,
        alarms: bool,
    ) -> lambda_.CfnEventSourceMapping:
        poller_config = provisioned_poller_config
        mapping_class = lambda_.CfnEventSourceMapping
        return mapping_class(
            self,
            "Mapping",
            function_name=mapping_function_name(subject),
            event_source_arn=self.cluster_arn,
            self_managed_event_source=mapping_class.SelfManagedEventSourceProperty(
                endpoints=mapping_class.EndpointsProperty(kafka_bootstrap_servers=list(bootstrap_servers))
            )
            if bootstrap_servers is not None
            else None,
            amazon_managed_kafka_event_source_config=mapping_class.AmazonManagedKafkaEventSourceConfigProperty(
                consumer_group_id=self.consumer_group_id
            )
            if self.cluster_arn is not None
            else None,
            self_managed_kafka_event_source_config=mapping_class.SelfManagedKafkaEventSourceConfigProperty(
                consumer_group_id=self.consumer_group_id
            )
            if bootstrap_servers is not None
            else None,
            topics=[topic],
            enabled=enabled,
            starting_position=starting_position.value,
            starting_position_timestamp=_timestamp(starting_position_timestamp),
            batch_size=batch_size,
            maximum_batching_window_in_seconds=max_batching_window.to_seconds()
            if max_batching_window is not None
            else None,
            provisioned_poller_config=mapping_class.ProvisionedPollerConfigProperty(
                minimum_pollers=poller_config.minimum_pollers,
                maximum_pollers=poller_config.maximum_pollers,
                poller_group_name=poller_config.poller_group_name,
            )
            if poller_config is not None
            else None,
            bisect_batch_on_function_error=settings["bisect_batch_on_error"],
            maximum_retry_attempts=settings["retry_attempts"],
            maximum_record_age_in_seconds=_record_age_property(settings["max_record_age"]),
            function_response_types=["ReportBatchItemFailures"] if settings["report_batch_item_failures"] else None,
            source_access_configurations=access or None,
            filter_criteria=filter_criteria(filters),
            destination_config=mapping_class.DestinationConfigProperty(
                on_failure=mapping_class.OnFailureProperty(destination=destination)
            )
            if destination is not None
            else None,
            metrics_config=mapping_class.MetricsConfigProperty(metrics=list(ESM_METRICS))
            if alarms and poller_config is not None
            else None,
        )

    def add_alarm_action(self, *actions: Any) -> None:
        """Attach each action (an ``sns.ITopic`` or a ``cloudwatch.IAlarmAction``) to every alarm in ``.alarms``."""
        alarm_lib.add_alarm_actions(self, self.alarms, actions)

    def describe_source(self) -> str:
        if self.cluster_arn is None:
            return f"Kafka topic {self.topic} of self-managed brokers"
        cluster = self.cluster_arn if is_resolved_str(self.cluster_arn) else "(by reference)"
        return f"Kafka topic {self.topic} of the MSK cluster {cluster}"

    # --- grants ------------------------------------------------------------------------------------------------

    def _grant(
        self,
        subject: FunctionSubject,
        authentication: KafkaAuthentication | None,
        secret: Any,
        root_ca_certificate: Any,
        in_vpc: bool,
        *,
        grants_managed_elsewhere: bool,
    ) -> None:
        statements: list[iam.PolicyStatement] = []
        cluster = self.cluster_arn
        if cluster is not None:
            statements.append(_allow(MSK_CLUSTER_ACTIONS, cluster))
            if authentication is None:  # IAM authentication: the cluster, the topic and the consumer group only
                statements.append(_allow(MSK_IAM_CLUSTER_ACTIONS, cluster))
                statements.append(_allow(MSK_IAM_TOPIC_READ_ACTIONS, _msk_arn(self, cluster, "topic", self.topic)))
                statements.append(
                    _allow(MSK_IAM_GROUP_ACTIONS, _msk_arn(self, cluster, "group", self.consumer_group_id))
                )
                if self.on_failure_topic is not None:
                    statements.append(
                        _allow(MSK_IAM_TOPIC_WRITE_ACTIONS, _msk_arn(self, cluster, "topic", self.on_failure_topic))
                    )
            elif authentication is KafkaAuthentication.SASL_SCRAM_512:
                statements.append(_allow(MSK_SCRAM_ACTIONS, cluster))
        for held in (secret, root_ca_certificate):
            if held is not None:
                statements.append(_allow(SECRET_READ_ACTIONS, held.secret_arn))
                statements += kms_statements(getattr(held, "encryption_key", None), KMS_READ_ACTIONS)
        grant_statements(
            self, subject, statements, self.describe_source, grants_managed_elsewhere=grants_managed_elsewhere
        )
        if self.on_failure_target is not None:
            target = self.on_failure_target
            grant_statements(
                self, subject, target.statements, target.describe, grants_managed_elsewhere=grants_managed_elsewhere
            )
        if self.on_failure_topic is not None and (authentication is not None or cluster is None):
            cdk.Annotations.of(self).add_warning_v2(
                "constructs_lib:kafka:failure-topic-acl",
                f"Lambda writes failed records of {self.node.path} to the Kafka topic {self.on_failure_topic} with the "
                "mapping's own credentials: the brokers' ACLs must let them write to that topic (IAM cannot grant it "
                "without IAM authentication).",
            )
        if cluster is not None or in_vpc:
            self._grant_network(subject, grants_managed_elsewhere=grants_managed_elsewhere)

    def _grant_network(self, subject: FunctionSubject, *, grants_managed_elsewhere: bool) -> None:
        statement = _allow(KAFKA_NETWORK_ACTIONS, "*")
        role = subject.given.role
        if role is None or grants_managed_elsewhere:
            grant_statements(
                self,
                subject,
                [statement],
                lambda: "the network interfaces Lambda creates",
                grants_managed_elsewhere=grants_managed_elsewhere,
            )
            return
        self.network_policy = iam.Policy(self, "NetworkPolicy", statements=[statement], roles=[role])
        cdk.Validations.of(self.network_policy).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Lambda's Kafka pollers create, describe and delete network interfaces in the cluster's "
                "subnets at poll time: the ec2 Describe actions support no resource-level permissions and the "
                "interfaces do not exist before, so these six actions need '*' (the AWSLambdaMSKExecutionRole "
                "policy grants them the same way).",
            )
        )
        self.event_source_mapping.node.add_dependency(self.network_policy)

    # --- alarms ------------------------------------------------------------------------------------------------

    def _create_alarms(
        self, subject: FunctionSubject, lag_threshold: int, record_age: Any, retries: Any
    ) -> list[cloudwatch.Alarm]:
        function = subject.given
        what = subject.describe()
        source = self.describe_source()
        target = self.on_failure_target
        if target is not None:
            home = f"parked in {target.describe()}"
        elif self.on_failure_topic is not None:
            home = f"written to the Kafka topic {self.on_failure_topic}"
        else:
            home = "dropped (failures are discarded)"
        uuid = self.event_source_mapping.ref
        created = list(self.failure_queue.alarms) if self.failure_queue is not None else []
        created.append(
            alarm_lib.create_alarm(
                self,
                "ErrorsAlarm",
                metric=alarm_lib.function_errors(function),
                threshold=1,
                description=f"{what} failed to process a batch from {source}: "
                + (
                    f"the batch is retried and split until the bad records are isolated and {home}."
                    if self.provisioned
                    else "in on-demand mode Lambda retries it until it succeeds, and its partition waits."
                )
                + " Check the function's logs.",
            )
        )
        if not self.provisioned:
            return created
        created.append(
            alarm_lib.create_alarm(
                self,
                "OffsetLagAlarm",
                metric=alarm_lib.event_source_mapping_metric(uuid, "MaxOffsetLag", "Maximum"),
                threshold=lag_threshold,
                description=f"{what} is {lag_threshold} or more records behind in a partition of {source}. "
                "Check the function's errors, duration and throttles, and the mapping's pollers.",
                treat_missing_data=alarm_lib.LAG_MISSING_DATA,
            )
        )
        created.append(
            alarm_lib.create_alarm(
                self,
                "DroppedEventsAlarm",
                metric=alarm_lib.event_source_mapping_metric(uuid, "DroppedEventCount", "Sum"),
                threshold=1,
                description=f"Lambda gave up on records of {source} for {what} (retries or max record age "
                + (
                    "exhausted) and could not park them: they are lost unless the topic still holds them. Check the "
                    "failure home and the function's errors."
                    if target is not None or self.on_failure_topic is not None
                    else "exhausted) and dropped them, as discard_failures asks: they are lost unless the topic still "
                    "holds them. Check the function's errors."
                ),
            )
        )
        if target is not None or self.on_failure_topic is not None:
            where = target.describe() if target is not None else f"the Kafka topic {self.on_failure_topic}"
            created.append(
                alarm_lib.create_alarm(
                    self,
                    "OnFailureDeliveryErrorsAlarm",
                    metric=alarm_lib.event_source_mapping_metric(uuid, "OnFailureDestinationDeliveryErrorCount", "Sum"),
                    threshold=1,
                    description=f"Lambda failed to send failure records of {what} to {where}: the records they "
                    "describe are not parked. Check that the destination exists, is not FIFO, is reachable from the "
                    "cluster's VPC, and that the function's role may write to it and use its KMS key.",
                )
            )
        if target is not None and needs_queue_alarms(target.construct):
            created += alarm_lib.queue_alarms(self, target.construct, id_prefix=ON_FAILURE_ALARM_PREFIX)
        elif target is not None and target.construct is not self.failure_queue:
            created += alarm_lib.failure_queue_alarms(target.construct)
        return created

    # --- validation --------------------------------------------------------------------------------------------

    @staticmethod
    def _check_source(
        path: str, topic: Any, cluster_arn: Any, bootstrap_servers: Any, consumer_group_id: Any
    ) -> list[Violation]:
        violations = []
        if (cluster_arn is None) == (bootstrap_servers is None):
            violations.append(
                Violation(
                    path,
                    "cluster_arn / bootstrap_servers",
                    "exactly one: cluster_arn for Amazon MSK or bootstrap_servers for self-managed Apache Kafka",
                    "both" if cluster_arn is not None else "neither",
                )
            )
        if cluster_arn is not None:
            arn = _cluster_arn(cluster_arn)
            if arn is None:
                violations.append(
                    Violation(
                        path, "cluster_arn", "an MSK cluster ARN or an msk.CfnCluster", describe_object(cluster_arn)
                    )
                )
            elif is_resolved_str(arn) and (":kafka:" not in arn or ":cluster/" not in arn):
                violations.append(
                    Violation(
                        path,
                        "cluster_arn",
                        "an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/...)",
                        repr(arn),
                    )
                )
        if bootstrap_servers is not None and not _is_token_list(bootstrap_servers):
            servers = (
                [UNRESOLVED if isinstance(s, str) and cdk.Token.is_unresolved(s) else s for s in bootstrap_servers]
                if isinstance(bootstrap_servers, list | tuple)
                else bootstrap_servers
            )
            violations += check_kafka_bootstrap_servers(servers, path=path)
        if not (isinstance(topic, str) and cdk.Token.is_unresolved(topic)):
            violations += check_kafka_topic(topic, path=path, setting="topic", source=True)
        if consumer_group_id is not None and not (
            isinstance(consumer_group_id, str) and cdk.Token.is_unresolved(consumer_group_id)
        ):
            violations += check_kafka_consumer_group_id(consumer_group_id, path=path)
        return violations

    @staticmethod
    def _check_access(
        path: str,
        is_msk: bool,
        secret: Any,
        authentication: Any,
        root_ca_certificate: Any,
        vpc: Any,
        vpc_subnets: Any,
        security_groups: Any,
    ) -> list[Violation]:
        violations = []
        for name, value in (("secret", secret), ("root_ca_certificate", root_ca_certificate)):
            if value is not None and not has_member(value, "secret_arn"):
                violations.append(
                    Violation(path, name, "a Secrets Manager secret (secretsmanager.ISecret)", describe_object(value))
                )
        allowed = MSK_AUTHENTICATIONS if is_msk else SELF_MANAGED_KAFKA_AUTHENTICATIONS
        if authentication is not None:
            if not isinstance(authentication, KafkaAuthentication) or authentication not in allowed:
                names = ", ".join(f"KafkaAuthentication.{a.name}" for a in allowed)
                source = "Amazon MSK (leave it out for IAM authentication)" if is_msk else "self-managed Apache Kafka"
                violations.append(
                    Violation(path, "authentication", f"one of {names} for {source}", repr(authentication))
                )
            elif secret is None:
                violations.append(
                    Violation(path, "secret", f"the secret holding the {authentication.name} credentials", "None")
                )
        if is_msk:
            for name, value in (
                ("root_ca_certificate", root_ca_certificate),
                ("vpc", vpc),
                ("vpc_subnets", vpc_subnets),
                ("security_groups", security_groups),
            ):
                if value is not None:
                    violations.append(
                        Violation(
                            path,
                            name,
                            "left out for Amazon MSK (Lambda uses the cluster's own certificates, subnets and security "
                            "groups); it applies to self-managed brokers",
                            describe_object(value),
                        )
                    )
            return violations
        if vpc is None:
            for name, value in (("vpc_subnets", vpc_subnets), ("security_groups", security_groups)):
                if value is not None:
                    violations.append(Violation(path, name, "given only together with vpc", describe_object(value)))
        elif not security_groups:
            violations.append(
                Violation(
                    path, "security_groups", "at least one security group for the brokers' VPC", repr(security_groups)
                )
            )
        return violations

    @staticmethod
    def _check_starting_position(path: str, starting_position: Any, timestamp: Any) -> list[Violation]:
        if not isinstance(starting_position, lambda_.StartingPosition):
            return [Violation(path, "starting_position", "a lambda_.StartingPosition", repr(starting_position))]
        at_timestamp = starting_position == lambda_.StartingPosition.AT_TIMESTAMP
        if at_timestamp and timestamp is None:
            return [
                Violation(
                    path,
                    "starting_position_timestamp",
                    "given with AT_TIMESTAMP (a datetime or Unix time in seconds)",
                    "None",
                )
            ]
        if timestamp is not None and not at_timestamp:
            return [
                Violation(
                    path,
                    "starting_position_timestamp",
                    "left out unless starting_position is AT_TIMESTAMP",
                    f"{timestamp!r} with {starting_position.name}",
                )
            ]
        return []

    @staticmethod
    def _check_pollers(path: str, config: Any) -> list[Violation]:
        if not has_member(config, "minimum_pollers"):
            return [
                Violation(
                    path,
                    "provisioned_poller_config",
                    "a lambda_.ProvisionedPollerConfig, or None for on-demand mode",
                    describe_object(config),
                )
            ]
        return check_kafka_pollers(
            number_or_unresolved(config.minimum_pollers), number_or_unresolved(config.maximum_pollers), path=path
        )

    @staticmethod
    def _source_access_configurations(
        authentication: KafkaAuthentication | None,
        secret: Any,
        root_ca_certificate: Any,
        vpc: Any,
        vpc_subnets: Any,
        security_groups: Any,
    ) -> list[lambda_.CfnEventSourceMapping.SourceAccessConfigurationProperty]:
        access_class = lambda_.CfnEventSourceMapping.SourceAccessConfigurationProperty
        access = []
        if authentication is not None:
            access.append(access_class(type=authentication.value, uri=secret.secret_arn))
        if root_ca_certificate is not None:
            access.append(access_class(type=KAFKA_ROOT_CA_ACCESS_TYPE, uri=root_ca_certificate.secret_arn))
        if vpc is not None:
            for subnet_id in vpc.select_subnets(**_selection(vpc_subnets)).subnet_ids:
                access.append(access_class(type="VPC_SUBNET", uri=f"subnet:{subnet_id}"))
            for group in security_groups:
                access.append(access_class(type="VPC_SECURITY_GROUP", uri=f"security_group:{group.security_group_id}"))
        return access


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 1 and cdk.Token.is_unresolved(list(value))


def _allow(actions: Sequence[str], *resources: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=list(actions), resources=list(resources))


def _authentication(authentication: KafkaAuthentication | None, secret: Any) -> KafkaAuthentication | None:
    """With a secret and no method: SASL/SCRAM-512 (the one SASL mechanism MSK supports); None means IAM (MSK) or
    no authentication (self-managed)."""
    if authentication is None and secret is not None:
        return KafkaAuthentication.SASL_SCRAM_512
    return authentication


_SELECTION_FIELDS = (
    "availability_zones",
    "one_per_az",
    "subnet_filters",
    "subnet_group_name",
    "subnets",
    "subnet_type",
)


def _selection(selection: Any) -> dict[str, Any]:
    """An ``ec2.SubnetSelection`` as the keyword arguments of ``IVpc.select_subnets``."""
    if selection is None:
        return {}
    chosen = {name: getattr(selection, name, None) for name in _SELECTION_FIELDS}
    return {name: value for name, value in chosen.items() if value is not None}


def _cluster_arn(cluster: Any) -> str | None:
    if isinstance(cluster, str):
        return cluster
    for attribute in ("cluster_arn", "attr_arn"):
        if has_member(cluster, attribute):
            arn: str = getattr(cluster, attribute)  # an MSK cluster's ARN (L2 cluster_arn, CfnCluster attr_arn)
            return arn
    return None


def _msk_arn(scope: Construct, cluster_arn: str, kind: str, name: str) -> str:
    """The ARN of a topic or group of an MSK cluster: ``...:cluster/<name>/<uuid>`` becomes
    ``...:<kind>/<name>/<uuid>/<topic or group>`` (the resource ARNs of kafka-cluster actions).

    A cluster ARN known only at deploy time is split in the template when it refers to this stack (a parameter, a
    cluster defined here). Any other token (a cross-stack reference, an import) cannot be split: CloudFormation and
    cfn-lint reject Fn::Split over Fn::GetStackOutput. The grant then names the topic or group in any cluster of the
    stack's account and region."""
    if is_resolved_str(cluster_arn):
        return cluster_arn.replace(":cluster/", f":{kind}/", 1) + f"/{name}"
    if _refers_to(scope, cluster_arn):
        head, tail = cdk.Fn.split(":cluster/", cluster_arn, 2)
        return cdk.Fn.join("", [head, f":{kind}/", tail, "/", name])
    stack = cdk.Stack.of(scope)
    return f"arn:{stack.partition}:kafka:{stack.region}:{stack.account}:{kind}/*/*/{name}"


def _refers_to(scope: Construct, value: str) -> bool:
    """Whether `value` is exactly one reference to something of `scope`'s stack (safe to split in its template)."""
    tokens = cdk.Tokenization.reverse_string(value)
    token = tokens.first_token
    if tokens.length != 1 or not isinstance(token, cdk.Reference):
        return False
    return cdk.Stack.of(token.target) is cdk.Stack.of(scope)


__all__ = ["DEFAULT_POLLERS", "KafkaAuthentication", "KafkaConsumer"]
