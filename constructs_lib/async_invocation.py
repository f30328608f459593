"""AsyncInvocation: validated asynchronous invoke settings, destinations and dead-letter queue for a function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from constructs_lib import alarms as alarm_lib
from constructs_lib._cdk import (
    app_key,
    check_flag,
    child_path,
    has_member,
    number_or_unresolved,
    remember_stack,
    seconds_or_unresolved,
    stack_of,
)
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.failure_queue import DEFAULT_FAILURE_QUEUE, FailureQueue, check_failure_home, needs_queue_alarms
from constructs_lib.functions import (
    LATEST,
    FunctionSubject,
    check_environment,
    check_role,
    grant_statements,
    subject_of,
)
from constructs_lib.limits import (
    LAG_ALARM_FRACTION,
    LIMITS,
    CheckedValue,
    DestinationKind,
    async_event_age_threshold_ms,
    check_limit,
    human_duration,
)
from constructs_lib.targets import (
    AsyncDestination,
    AsyncFailureDestination,
    DeadLetterTarget,
    Target,
    checked_target,
    describe_object,
    kms_statements,
    queue_size_warnings,
    resolve_target,
    sns_payload_note,
)

# Every AsyncInvocation of an app with the function it configures, so that a second one for the same function and
# qualifier is caught however the function is referenced (another wrapper, an import by ARN or name), without
# walking the construct tree.
_CONFIGURED: dict[str, list[tuple[FunctionSubject, AsyncInvocation]]] = {}


def _configurations(scope: IConstruct) -> list[tuple[FunctionSubject, AsyncInvocation]]:
    return _CONFIGURED.setdefault(app_key(scope), [])


def _has_cdk_invoke_config(subject: FunctionSubject) -> bool:
    """Whether aws-cdk configured the same qualifier itself: an ``EventInvokeConfig`` child of the object given,
    and for $LATEST also of the function and of its ``latest_version``."""
    nodes = [subject.given.node]
    if subject.qualifier == LATEST:
        if subject.base is not subject.given:
            nodes.append(subject.base.node)
        latest = nodes[-1].try_find_child(LATEST)
        if latest is not None:
            nodes.append(latest.node)
    return any(node.try_find_child("EventInvokeConfig") is not None for node in nodes)


def _cdk_dead_letter(subject: FunctionSubject) -> Any | None:
    """The dead-letter queue or topic aws-cdk set on a Function defined in this app, if any (read once)."""
    base = subject.base
    if not isinstance(base, lambda_.Function):
        return None
    return base.dead_letter_queue or base.dead_letter_topic


def _key_statements(target: Target) -> list[Any]:
    """The KMS statements of a target (aws-cdk already grants the delivery action of a DLQ it set)."""
    key: kms.IKey | None = None
    if target.kind is DestinationKind.SQS_QUEUE:
        key = getattr(target.construct, "encryption_master_key", None)
    if target.kind is DestinationKind.SNS_TOPIC:
        key = getattr(target.construct, "master_key", None)
    return list(kms_statements(key))


def _failure_homes(on_failure_home: Any, dead_letter_home: Any, own_queue: Any = None) -> list[tuple[str, Any]]:
    """The failure homes given (not the construct's own FailureQueue), each once, with its alarm id prefix."""
    homes: list[tuple[str, Any]] = []
    for prefix, home in (("OnFailure", on_failure_home), ("DeadLetterQueue", dead_letter_home)):
        if home is not None and home is not own_queue and not any(home is seen for _, seen in homes):
            homes.append((prefix, home))
    return homes


def planned_async_alarm_ids(
    *, alarms: object, has_destination: bool, on_failure_home: Any, dead_letter_home: Any
) -> list[str]:
    """The ids of the alarms an AsyncInvocation creates itself (a FailureQueue's own alarms are not among them):
    `has_destination` when an on-success or on-failure destination is set (a new FailureQueue counts);
    `on_failure_home` is the given on-failure destination, None for a new FailureQueue."""
    if alarms is not True:
        return []
    ids = ["EventsDroppedAlarm", "EventAgeAlarm"]
    if has_destination:
        ids.append("DestinationDeliveryFailuresAlarm")
    if dead_letter_home is not None:
        ids.append("DeadLetterErrorsAlarm")
    for prefix, home in _failure_homes(on_failure_home, dead_letter_home):
        if needs_queue_alarms(home):
            ids += alarm_lib.queue_alarm_ids(prefix)
    return ids


@dataclass(frozen=True)
class _Checked:
    """What validation found, as plain values for the steps after it."""

    subject: FunctionSubject
    success_target: Target | None
    failure_target: Target | None
    dlq_target: Target | None
    cdk_dead_letter: Any | None
    cdk_dlq_target: Target | None
    planned_alarm_ids: list[str]


class AsyncInvocation(Construct):
    """Asynchronous invocation of a function, with every failure given a home.

    Creates one ``AWS::Lambda::EventInvokeConfig`` for the function's qualifier, sets the function's
    ``DeadLetterConfig`` when asked, and grants the function's execution role exactly what each target needs:
    ``sqs:SendMessage``, ``sns:Publish``, ``lambda:InvokeFunction``, ``events:PutEvents`` or
    ``s3:PutObject`` + ``s3:ListBucket``, plus ``kms:Decrypt`` + ``kms:GenerateDataKey`` on a target's
    customer-managed KMS key — for the dead-letter queue too, which aws-cdk itself does not grant.
    All settings are validated before anything is created; every violation is reported in one ValidationError.

    :param function: the Function, Version or Alias invoked asynchronously. A Function configures the
        ``$LATEST`` qualifier, a Version its version number, an Alias its alias name.
    :param retry_attempts: retries after a failed invocation, 0 to 2. Default: not set (AWS uses 2).
    :param max_event_age: how long an event may wait to be processed, 60 seconds to 6 hours, in whole seconds.
        Default: not set (AWS uses 6 h).
    :param on_success: where records of successful invocations go: a standard SQS queue, a standard SNS topic,
        a Lambda function or an EventBridge event bus (not S3: AWS allows S3 for failures only).
        Default: none.
    :param on_failure: where records of failed or expired events go: the same kinds as ``on_success`` or an S3
        bucket. Default: a new ``FailureQueue`` (``.failure_queue``). ``None`` leaves failures without a
        destination, which is accepted only together with a ``dead_letter_queue`` or ``discard_failures``.
    :param dead_letter_queue: the function's dead-letter queue, a standard SQS queue or SNS topic. Only for a
        Function defined in this app: the DLQ is version-locked function configuration, not per qualifier.
        Default: none.
    :param discard_failures: set True to knowingly drop failed events (no on-failure destination, no default
        queue). Default: False.
    :param alarms: create the alarms below (``.alarms``); False creates none, for this construct and its default
        failure queue. Default: True.
    :param alarm_thresholds: a threshold per alarm id of ``.alarms`` created here (e.g.
        ``{"EventsDroppedAlarm": 5}``), a number >= 0 in the metric's unit, replacing the default described below;
        an id of no alarm is an error. Default: none.
    :param grants_managed_elsewhere: set True when the function's role cannot take policies (an imported
        function without role, ``Role.from_role_arn(..., mutable=False)``, ``role.without_policy_updates()``) and
        you grant the permissions yourself: nothing is added to the role and an info annotation lists what is
        needed. Without it such a role is a ValidationError, since every grant would be dropped. Default: False.

    Alarms, all on the function's metrics (``FunctionName``, plus ``Resource`` ``<name>:<qualifier>`` for a
    Version or Alias): ``EventsDroppedAlarm`` (AsyncEventsDropped >= 1: events failed for good),
    ``EventAgeAlarm`` (AsyncEventAge >= half of ``max_event_age``, 3 hours for AWS's default 6 hours),
    ``DestinationDeliveryFailuresAlarm`` (DestinationDeliveryFailures >= 1, with any destination) and
    ``DeadLetterErrorsAlarm`` (DeadLetterErrors >= 1, when the function has a dead-letter queue). The default
    ``FailureQueue`` brings its own two alarms (included in ``.alarms``); an ``on_failure`` or
    ``dead_letter_queue`` that is a plain SQS queue gets the same two alarms here, one that is a ``FailureQueue``
    has them already (listed in ``.alarms`` too). ``add_alarm_action(topic)``
    attaches an SNS topic or any ``cloudwatch.IAlarmAction`` to all of them.

    FIFO queues and topics are rejected everywhere: they synthesize and deploy, then every delivery fails.
    A queue or topic imported from a token ARN cannot be known to be FIFO and is accepted as is; an imported
    target's KMS key is granted only when it was imported with its key (see ``constructs_lib.targets``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        retry_attempts: int | None = None,
        max_event_age: cdk.Duration | None = None,
        on_success: AsyncDestination | None = None,
        on_failure: AsyncFailureDestination | None = DEFAULT_FAILURE_QUEUE,
        dead_letter_queue: DeadLetterTarget | None = None,
        discard_failures: bool = False,
        alarms: bool = True,
        alarm_thresholds: Mapping[str, float] | None = None,
        grants_managed_elsewhere: bool = False,
    ) -> None:
        path = child_path(scope, id)
        checked = self._validate(
            scope,
            path,
            function=function,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_success=on_success,
            on_failure=on_failure,
            dead_letter_queue=dead_letter_queue,
            discard_failures=discard_failures,
            alarms=alarms,
            alarm_thresholds=alarm_thresholds,
            grants_managed_elsewhere=grants_managed_elsewhere,
        )
        subject = checked.subject

        super().__init__(scope, id)
        remember_stack(self, scope)
        alarm_lib.use_alarm_thresholds(self, alarm_thresholds, checked.planned_alarm_ids)
        _configurations(scope).append((subject, self))
        self.function = function
        self.qualifier = subject.qualifier
        self.failure_queue: FailureQueue | None = None
        failure_target = checked.failure_target
        if on_failure is DEFAULT_FAILURE_QUEUE and not discard_failures:
            self.failure_queue = FailureQueue(self, "FailureQueue", alarms=alarms)
            failure_target = resolve_target(self.failure_queue)
        self.on_success_target = checked.success_target
        self.on_failure_target = failure_target
        self.dead_letter_target = checked.dlq_target
        self._dead_letter_home_set_by_cdk = checked.cdk_dead_letter
        self.event_invoke_config = self._configure(subject, retry_attempts=retry_attempts, max_event_age=max_event_age)
        self._annotate()
        self._grant(subject, checked.cdk_dlq_target, grants_managed_elsewhere=grants_managed_elsewhere)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self.alarms = self._create_alarms(subject, seconds_or_unresolved(max_event_age))
        alarm_lib.confirm_planned_alarms(self)

    def add_alarm_action(self, *actions: Any) -> None:
        """Attach each action (an ``sns.ITopic`` or a ``cloudwatch.IAlarmAction``) to every alarm in ``.alarms``."""
        alarm_lib.add_alarm_actions(self, self.alarms, actions)

    # --- steps ------------------------------------------------------------------------------------------

    def _validate(
        self,
        scope: Construct,
        path: str,
        *,
        function: Any,
        retry_attempts: Any,
        max_event_age: Any,
        on_success: Any,
        on_failure: Any,
        dead_letter_queue: Any,
        discard_failures: Any,
        alarms: Any,
        alarm_thresholds: Any,
        grants_managed_elsewhere: Any,
    ) -> _Checked:
        """Every violation at once, raised before any resource exists."""
        subject = subject_of(function)
        violations = self._check_function(scope, path, function, subject)
        violations += check_role(subject, grants_managed_elsewhere, path=path)
        violations += check_environment(subject, scope, path=path)
        violations += alarm_lib.check_alarms_flag(alarms, path=path)
        violations += alarm_lib.check_alarm_thresholds(alarm_thresholds, path=path)
        violations += check_flag(discard_failures, path=path, setting="discard_failures")
        violations += check_limit(
            LIMITS["async.retry_attempts"], number_or_unresolved(retry_attempts), path=path, setting="retry_attempts"
        )
        violations += check_limit(
            LIMITS["async.max_event_age"], seconds_or_unresolved(max_event_age), path=path, setting="max_event_age"
        )
        success_target, found = self._check_target(scope, path, "on_success", "async.on_success", on_success, subject)
        violations += found
        failure_target: Target | None = None
        if on_failure is not DEFAULT_FAILURE_QUEUE:
            failure_target, found = self._check_target(
                scope, path, "on_failure", "async.on_failure", on_failure, subject
            )
            violations += found
        dlq_target, found = self._check_target(
            scope, path, "dead_letter_queue", "function.dead_letter_queue", dead_letter_queue, subject
        )
        violations += found
        violations += check_failure_home(
            path,
            on_failure=on_failure,
            discard_failures=discard_failures,
            other_home="dead_letter_queue" if dead_letter_queue is not None else None,
        )
        # A dead-letter queue set through aws-cdk (Function(dead_letter_queue=...)) is a home too: checked like
        # ours and granted its KMS key, which aws-cdk forgets (aws-cdk#33153).
        cdk_dead_letter = _cdk_dead_letter(subject) if subject is not None else None
        cdk_dlq_target: Target | None = None
        if subject is not None and dead_letter_queue is not None:
            violations += self._check_dead_letter_subject(scope, path, subject, dead_letter_queue, cdk_dead_letter)
        elif subject is not None and cdk_dead_letter is not None:
            cdk_dlq_target, found = checked_target(
                cdk_dead_letter,
                "function.dead_letter_queue",
                path=path,
                setting=f"dead-letter queue of {subject.describe()} (set through aws-cdk)",
            )
            violations += found
        planned_alarm_ids = planned_async_alarm_ids(
            alarms=alarms,
            has_destination=success_target is not None
            or failure_target is not None
            or (on_failure is DEFAULT_FAILURE_QUEUE and not discard_failures),
            on_failure_home=failure_target.construct if failure_target is not None else None,
            dead_letter_home=dlq_target.construct if dlq_target is not None else cdk_dead_letter,
        )
        violations += alarm_lib.check_threshold_ids(alarm_thresholds, planned_alarm_ids, path=path)
        raise_if_any(violations)
        assert subject is not None  # a missing subject is a violation above
        return _Checked(
            subject=subject,
            success_target=success_target,
            failure_target=failure_target,
            dlq_target=dlq_target,
            cdk_dead_letter=cdk_dead_letter,
            cdk_dlq_target=cdk_dlq_target,
            planned_alarm_ids=planned_alarm_ids,
        )

    def _configure(
        self, subject: FunctionSubject, *, retry_attempts: int | None, max_event_age: cdk.Duration | None
    ) -> lambda_.CfnEventInvokeConfig:
        """The function's asynchronous invocation settings and destinations, and its dead-letter queue."""
        success_target, failure_target, dlq_target = (
            self.on_success_target,
            self.on_failure_target,
            self.dead_letter_target,
        )
        on_success_config = (
            lambda_.CfnEventInvokeConfig.OnSuccessProperty(destination=success_target.arn)
            if success_target is not None
            else None
        )
        on_failure_config = (
            lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=failure_target.arn)
            if failure_target is not None
            else None
        )
        event_invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            "EventInvokeConfig",
            function_name=subject.base.function_name,
            qualifier=subject.qualifier,
            maximum_retry_attempts=retry_attempts,
            maximum_event_age_in_seconds=max_event_age.to_seconds() if max_event_age is not None else None,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_success=on_success_config, on_failure=on_failure_config
            )
            if on_success_config is not None or on_failure_config is not None
            else None,
        )
        if dlq_target is not None:
            assert subject.cfn_function is not None  # a dead-letter queue needs one: a violation above otherwise
            subject.cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
                target_arn=dlq_target.arn
            )
        return event_invoke_config

    def _annotate(self) -> None:
        """Warnings and notes about the homes: small queue messages, SNS payloads."""
        success_target, failure_target, dlq_target = (
            self.on_success_target,
            self.on_failure_target,
            self.dead_letter_target,
        )
        for setting, target in (("on_failure", failure_target), ("dead_letter_queue", dlq_target)):
            for warning in queue_size_warnings(target, path=self.node.path, setting=setting):
                cdk.Annotations.of(self).add_warning_v2("constructs_lib:async:small-messages", str(warning))
        for setting, target in (("on_success", success_target), ("on_failure", failure_target)):
            note = sns_payload_note(target, path=self.node.path, setting=setting)
            if note is not None:
                cdk.Annotations.of(self).add_info(note)

    def _grant(
        self, subject: FunctionSubject, cdk_dlq_target: Target | None, *, grants_managed_elsewhere: bool
    ) -> None:
        """The function's role may write to every home and use its KMS key (also one aws-cdk set)."""
        for target in (self.on_success_target, self.on_failure_target, self.dead_letter_target):
            if target is not None:
                grant_statements(
                    self, subject, target.statements, target.describe, grants_managed_elsewhere=grants_managed_elsewhere
                )
        if cdk_dlq_target is not None:
            key_statements = _key_statements(cdk_dlq_target)
            if key_statements:
                grant_statements(
                    self,
                    subject,
                    key_statements,
                    cdk_dlq_target.describe,
                    grants_managed_elsewhere=grants_managed_elsewhere,
                )

    # --- alarms ------------------------------------------------------------------------------------------

    def _create_alarms(self, subject: FunctionSubject, max_event_age: CheckedValue) -> list[cloudwatch.Alarm]:
        function = subject.given
        what = subject.describe()
        dead_letter_home = self._dead_letter_home(subject)
        homes = [target.describe() for target in (self.on_failure_target,) if target is not None]
        if dead_letter_home is not None:
            homes.append(f"the dead-letter queue {describe_object(dead_letter_home)}")
        fate = f"their records went to {' and '.join(homes)}" if homes else "they are lost (failures are discarded)"
        created = list(self.failure_queue.alarms) if self.failure_queue is not None else []
        created.append(
            alarm_lib.create_alarm(
                self,
                "EventsDroppedAlarm",
                metric=alarm_lib.function_async_events_dropped(function),
                threshold=1,
                description=f"{what} dropped asynchronous events after all retries or past the max event age: "
                f"{fate}. Find the cause in the function's logs, then redrive them.",
            )
        )
        age_threshold = async_event_age_threshold_ms(max_event_age)
        max_age_text = human_duration(age_threshold / 1000 / LAG_ALARM_FRACTION)
        created.append(
            alarm_lib.create_alarm(
                self,
                "EventAgeAlarm",
                metric=alarm_lib.function_async_event_age(function),
                threshold=age_threshold,
                description=f"Asynchronous events of {what} waited {human_duration(age_threshold / 1000)} before "
                f"being processed, {LAG_ALARM_FRACTION:.0%} of the max event age of {max_age_text}, after which "
                "Lambda drops them: check the function's errors, throttles and concurrency.",
                treat_missing_data=alarm_lib.LAG_MISSING_DATA,
            )
        )
        destinations = [t.describe() for t in (self.on_success_target, self.on_failure_target) if t is not None]
        if destinations:
            created.append(
                alarm_lib.create_alarm(
                    self,
                    "DestinationDeliveryFailuresAlarm",
                    metric=alarm_lib.function_destination_delivery_failures(function),
                    threshold=1,
                    description=f"Lambda failed to deliver invocation records of {what} to "
                    f"{' or '.join(destinations)}: those records are lost. Check that the destination exists, "
                    "accepts them (not FIFO) and that the function's role may write to it and use its KMS key.",
                )
            )
        if dead_letter_home is not None:
            also = " (the on-failure destination still gets them)" if self.on_failure_target else " and are lost"
            created.append(
                alarm_lib.create_alarm(
                    self,
                    "DeadLetterErrorsAlarm",
                    metric=alarm_lib.function_dead_letter_errors(function),
                    threshold=1,
                    description=f"Lambda failed to send failed events of {what} to its dead-letter queue "
                    f"{describe_object(dead_letter_home)}: those events never reach it{also}. Check that it "
                    "exists, is not FIFO and that the function's role may write to it and use its KMS key.",
                )
            )
        on_failure_home = self.on_failure_target.construct if self.on_failure_target else None
        for prefix, home in _failure_homes(on_failure_home, dead_letter_home, self.failure_queue):
            if needs_queue_alarms(home):
                created += alarm_lib.queue_alarms(self, home, id_prefix=prefix)
            else:
                created += alarm_lib.failure_queue_alarms(home)
        return created

    def _dead_letter_home(self, subject: FunctionSubject) -> Any | None:
        """The function's dead-letter queue or topic: the one given here, or one aws-cdk already set on it."""
        if self.dead_letter_target is not None:
            return self.dead_letter_target.construct
        return self._dead_letter_home_set_by_cdk

    # --- validation (pure reads of the given objects; nothing is created) ---------------------------------

    @staticmethod
    def _check_function(
        scope: IConstruct, path: str, function: Any, subject: FunctionSubject | None
    ) -> list[Violation]:
        if subject is None:
            return [Violation(path, "function", "a lambda Function, Version or Alias", describe_object(function))]
        for configured, existing in _configurations(scope):
            if configured.qualifier == subject.qualifier and configured.same_function(subject):
                return [
                    Violation(
                        path,
                        "function",
                        "a function whose asynchronous invocation is not configured yet (one configuration per "
                        "function and qualifier)",
                        f"{subject.describe()}, already configured by {existing.node.path}",
                    )
                ]
        if _has_cdk_invoke_config(subject):
            return [
                Violation(
                    path,
                    "function",
                    "a function without aws-cdk's own async settings for the same qualifier (retry_attempts, "
                    "max_event_age, on_success or on_failure on the function, or configure_async_invoke): AWS "
                    "allows one configuration per function and qualifier; move those settings here",
                    f"{subject.describe()} with an EventInvokeConfig for {subject.qualifier}",
                )
            ]
        return []

    @staticmethod
    def _check_target(
        scope: IConstruct, path: str, setting: str, rule_key: str, obj: Any, subject: FunctionSubject | None
    ) -> tuple[Target | None, list[Violation]]:
        target, violations = checked_target(obj, rule_key, path=path, setting=setting, scope=scope)
        if target is not None and target.kind is DestinationKind.LAMBDA_FUNCTION and subject is not None:
            target_subject = subject_of(target.construct)  # the function itself, also behind a LambdaDestination
            if target_subject is not None and target_subject.same_function(subject):
                violations.append(
                    Violation(
                        path,
                        setting,
                        "a function other than the invoked one (delivering to itself is an invocation loop)",
                        target.describe(),
                    )
                )
        return target, violations

    @staticmethod
    def _check_dead_letter_subject(
        scope: IConstruct, path: str, subject: FunctionSubject, dead_letter_queue: Any, existing: Any
    ) -> list[Violation]:
        if subject.kind != "Function":
            return [
                Violation(
                    path,
                    "dead_letter_queue",
                    "set on a Function: the DLQ is version-locked function configuration, not per Version or "
                    "Alias (configure it on the Function before publishing versions)",
                    subject.describe(),
                )
            ]
        if subject.cfn_function is None:
            return [
                Violation(
                    path,
                    "dead_letter_queue",
                    "set on a Function defined in this app (an imported function's configuration cannot change)",
                    f"imported {subject.describe()}",
                )
            ]
        if existing is not None and existing is not dead_letter_queue:
            return [
                Violation(
                    path,
                    "dead_letter_queue",
                    "the function's own dead-letter target or left out (a function has one DLQ)",
                    f"{describe_object(dead_letter_queue)}, while {subject.describe()} already has "
                    f"{describe_object(existing)}",
                )
            ]
        ours = stack_of(scope)
        function_stack = subject.stack
        elsewhere = function_stack is not ours and function_stack.node.path != ours.node.path
        if elsewhere and has_member(dead_letter_queue, "node") and cdk.Stack.of(dead_letter_queue) is ours:
            return [
                Violation(
                    path,
                    "dead_letter_queue",
                    f"a queue or topic outside this construct's stack {ours.node.path}, e.g. in the function's "
                    f"stack {function_stack.node.path}: the function's DeadLetterConfig would reference this "
                    "stack, which references the function, a dependency cycle",
                    describe_object(dead_letter_queue),
                )
            ]
        return []
