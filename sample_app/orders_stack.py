"""The orders pipeline: an orders Kinesis stream and the function that processes it."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import AsyncInvocation, FailureBucket, FailureQueue, QueueConsumer, StreamConsumer
from sample_app.bundling import handlers_code

HANDLERS_DIR = Path(__file__).parent / "handlers"
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
        code=handlers_code(HANDLERS_DIR),
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
    """An orders event pipeline, every failure path wired by constructs_lib:

    - orders arrive on a Kinesis stream, consumed by OrdersProcessor (StreamConsumer, failed batches kept whole in
      a FailureBucket);
    - orders are stored in a table whose DynamoDB stream feeds InventoryProjector (StreamConsumer, failures
      published to an encrypted SNS topic with a failure queue subscribed);
    - payment requests arrive on an SQS queue, consumed by PaymentsProcessor (QueueConsumer, the queue's
      dead-letter queue is the failure home);
    - OrderPlaced events on an EventBridge bus trigger OrderNotifier (AsyncInvocation with an on-success bus,
      the default failure queue and a KMS-encrypted dead-letter queue).

    Every construct's alarms notify one KMS-encrypted SNS topic, ``AlarmTopic`` (subscribe the on-call to it).
    """

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self._alarm_topic()
        self._orders_stream()
        self._inventory_projection()
        self._payments()
        self._notifications()
        self._notify_on_alarms()

    def _alarm_topic(self) -> None:
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            description="Encrypts alarm notifications of the orders pipeline",
        )
        # add_alarm_action lets CloudWatch use this key; without that every notification would fail.
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", master_key=key, enforce_ssl=True, display_name="Orders pipeline alarms"
        )

    def _notify_on_alarms(self) -> None:
        """One call per construct attaches the topic to all of its alarms, those of a FailureQueue it uses (its
        default one, or one passed in) included. The FailureQueues behind the SNS topic and the EventBridge rule
        are used by no construct of this library, so they get their own call."""
        for construct in (
            self.processor_consumer,
            self.inventory_consumer,
            self.inventory_failure_records,
            self.inventory_failure_undelivered,
            self.payments_consumer,
            self.notifier_async,
            self.notifier_undelivered,
        ):
            construct.add_alarm_action(self.alarm_topic)

    def _orders_stream(self) -> None:
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
        # Failed batches are kept whole in a bucket: the records themselves, not only where they were in the
        # stream, so nothing races the stream's 24-hour retention (redrive with --from s3://<bucket>).
        self.orders_failures = FailureBucket(self, "OrdersFailures")
        self.processor_consumer = StreamConsumer(
            self,
            "OrdersProcessorConsumer",
            function=self.processor,
            source=self.orders_stream,
            batch_size=100,
            on_failure=self.orders_failures,
        )

    def _inventory_projection(self) -> None:
        self.orders_table = dynamodb.Table(
            self,
            "OrdersTable",
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.inventory_projector = python_handler(
            self,
            "InventoryProjector",
            handler="inventory_projector.handler",
            description="Projects order changes onto stock levels",
        )
        failures_key = kms.Key(
            self, "InventoryFailuresKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        self.inventory_failures = sns.Topic(
            self, "InventoryFailures", master_key=failures_key, enforce_ssl=True, display_name="Inventory failures"
        )
        # A topic keeps nothing: a subscribed failure queue is where the failure records stay.
        self.inventory_failure_records = FailureQueue(self, "InventoryFailureRecords")
        # Messages SNS cannot deliver to that queue (e.g. it was deleted) are kept here.
        self.inventory_failure_undelivered = FailureQueue(self, "InventoryFailureUndelivered")
        self.inventory_failures.add_subscription(
            subscriptions.SqsSubscription(
                self.inventory_failure_records,
                raw_message_delivery=True,
                dead_letter_queue=self.inventory_failure_undelivered,
            )
        )
        self.inventory_consumer = StreamConsumer(
            self,
            "InventoryProjectorConsumer",
            function=self.inventory_projector,
            source=self.orders_table,
            batch_size=50,
            on_failure=self.inventory_failures,
        )

    def _payments(self) -> None:
        self.payments_dead_letters = FailureQueue(self, "PaymentsDeadLetters")
        self.payments_queue = sqs.Queue(
            self,
            "PaymentsQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(180),  # 6x the function timeout, as AWS recommends
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.payments_dead_letters, max_receive_count=5),
        )
        self.payments_processor = python_handler(
            self,
            "PaymentsProcessor",
            handler="payments_processor.handler",
            description="Charges payments requested on the payments queue",
        )
        self.payments_consumer = QueueConsumer(
            self,
            "PaymentsProcessorConsumer",
            function=self.payments_processor,
            queue=self.payments_queue,
            batch_size=10,
            max_concurrency=5,
        )

    def _notifications(self) -> None:
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
