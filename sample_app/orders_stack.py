"""The orders pipeline: an orders Kinesis stream and the function that processes it."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import AsyncInvocation, FailureQueue

HANDLERS_DIR = str(Path(__file__).parent / "handlers")
HANDLER_RUNTIME = lambda_.Runtime.PYTHON_3_14


def python_handler(
    scope: Construct, id: str, *, handler: str, description: str, invoked_asynchronously: bool = False
) -> lambda_.Function:
    """A Python function with its own role (no managed policies), its own log group and explicit sizing."""
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {id}",
    )
    log_group = logs.LogGroup(
        scope,
        f"{id}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    function = lambda_.Function(
        scope,
        id,
        description=description,
        runtime=HANDLER_RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=lambda_.Code.from_asset(HANDLERS_DIR, exclude=["__pycache__", "*.pyc"]),
        role=role,
        log_group=log_group,
        memory_size=256,
        timeout=cdk.Duration.seconds(30),
        tracing=lambda_.Tracing.ACTIVE,
    )
    # Without managed policies the role needs its own right to write the function's logs.
    log_group.grant_write(role)
    if not invoked_asynchronously:
        cdk.Validations.of(function.node.default_child).acknowledge(
            cdk.Acknowledgment(
                id="Serverless-LambdaDLQ",
                reason="Invoked only synchronously, by an event source mapping: a function DLQ never receives "
                "anything; failed batches go to the mapping's on-failure destination.",
            )
        )
    role_policy = role.node.try_find_child("DefaultPolicy")
    if role_policy is not None:
        cdk.Validations.of(role_policy).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.",
            )
        )
    return function


class OrdersPipelineStack(cdk.Stack):
    """Orders arrive on a Kinesis stream; a processor function consumes them. Order events on an EventBridge
    bus trigger a notifier function, invoked asynchronously."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)

        self.orders_stream = kinesis.Stream(
            self,
            "OrdersStream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=cdk.Duration.hours(24),
        )

        self.processor = python_handler(
            self,
            "OrdersProcessor",
            handler="orders_processor.handler",
            description="Processes order events from the orders stream",
        )

        self.processor_failures = sqs.Queue(
            self,
            "OrdersProcessorFailures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        terminal_queue = self.processor_failures.node.default_child
        cdk.Validations.of(terminal_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="Terminal failure queue: it is the on-failure destination itself, nothing consumes it.",
            ),
            cdk.Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason="Terminal failure queue: records are inspected and redriven by operators, not consumed.",
            ),
        )
        self.processor.add_event_source(
            event_sources.KinesisEventSource(
                self.orders_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                bisect_batch_on_error=True,
                retry_attempts=2,
                max_record_age=cdk.Duration.hours(1),
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.processor_failures),
            )
        )

        self.order_events = events.EventBus(self, "OrderEvents")
        self.notification_audit = events.EventBus(self, "NotificationAudit")
        self.notifier = python_handler(
            self,
            "OrderNotifier",
            handler="order_notifier.handler",
            description="Notifies customers about placed orders",
            invoked_asynchronously=True,
        )
        # A customer-managed key on the DLQ: the function's role needs kms:GenerateDataKey on it, which
        # AsyncInvocation grants (aws-cdk alone does not, aws-cdk#33153).
        dead_letter_key = kms.Key(
            self, "NotifierDeadLetterKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        self.notifier_dead_letters = FailureQueue(self, "NotifierDeadLetters", encryption_master_key=dead_letter_key)
        self.notifier_async = AsyncInvocation(
            self,
            "OrderNotifierAsync",
            function=self.notifier,
            retry_attempts=1,
            max_event_age=cdk.Duration.hours(1),
            on_success=self.notification_audit,
            dead_letter_queue=self.notifier_dead_letters,
        )
        # Events EventBridge itself cannot deliver to the function (throttling, missing permission) land here.
        self.notifier_undelivered = FailureQueue(self, "NotifierUndeliveredEvents")
        events.Rule(
            self,
            "OrderPlacedRule",
            event_bus=self.order_events,
            event_pattern=events.EventPattern(source=["orders"], detail_type=["OrderPlaced"]),
            targets=[
                events_targets.LambdaFunction(
                    self.notifier,
                    dead_letter_queue=self.notifier_undelivered,
                    retry_attempts=3,
                    max_event_age=cdk.Duration.hours(2),
                )
            ],
        )
