"""A synth-only example: a KafkaConsumer on an Amazon MSK cluster, outside the deployed sample app.

moto, the local AWS emulator the sample app is deployed to, does not model MSK clusters or Kafka event source
mappings, so this stack is synthesized and checked (cdk-nag, cfn-lint, our own checks) but never deployed
locally. Synthesize it with the CLI:

    cdk synth --app "python3 -m sample_app.kafka_example"

The MSK cluster is given by ARN (a stack parameter): clusters usually belong to a platform stack.
"""

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import Construct

from constructs_lib import FailureHandlingChecks, KafkaConsumer
from sample_app.orders_stack import python_handler


class OrderEventsStack(cdk.Stack):
    """OrderEventsConsumer reads the `order-events` topic of an MSK cluster with IAM authentication (KafkaConsumer
    defaults: provisioned mode, bisect, 3 retries, 1 hour max record age, ReportBatchItemFailures, a new
    FailureQueue), and its alarms notify a KMS-encrypted topic."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        cluster_arn = cdk.CfnParameter(
            self,
            "OrdersClusterArn",
            description="ARN of the MSK cluster that holds the order-events topic",
            allowed_pattern=r"arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster/.+",
        ).value_as_string
        function = python_handler(
            self,
            "OrderEventsConsumer",
            handler="order_events_consumer.handler",
            description="Consumes order events from the order-events Kafka topic",
        )
        self.consumer = KafkaConsumer(
            self,
            "OrderEvents",
            function=function,
            topic="order-events",
            cluster_arn=cluster_arn,
            consumer_group_id="order-events-consumer",
            batch_size=100,
            provisioned_poller_config=lambda_.ProvisionedPollerConfig(minimum_pollers=1, maximum_pollers=4),
        )
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            description="Encrypts alarm notifications of the order events consumer",
        )
        self.alarm_topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        self.consumer.add_alarm_action(self.alarm_topic)


def build_kafka_app(
    context: Mapping[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True
) -> cdk.App:
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    OrderEventsStack(app, "OrderEvents")
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), FailureHandlingChecks(app))
    return app


if __name__ == "__main__":
    build_kafka_app().synth()
