"""Stream sources for StreamConsumer: what a Kinesis stream or a DynamoDB table's stream needs to be read.

One small function per source. Read permissions are exact (no wildcards), following what Lambda checks when a
mapping is created: Kinesis GetRecords, GetShardIterator, DescribeStream, DescribeStreamSummary, ListShards
(+ SubscribeToShard and DescribeStreamConsumer on the consumer for enhanced fan-out); DynamoDB GetRecords,
GetShardIterator, DescribeStream, ListStreams on the table's stream; plus kms:Decrypt on a customer-managed key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from constructs import IConstruct

from constructs_lib._cdk import has_member, number_or_unresolved, path_of
from constructs_lib.limits import (
    DYNAMODB_STREAM_READ_ACTIONS,
    DYNAMODB_STREAM_RETENTION_SECONDS,
    KINESIS_FAN_OUT_ACTIONS,
    KINESIS_READ_ACTIONS,
    KMS_READ_ACTIONS,
    CheckedValue,
)
from constructs_lib.targets import KeyGrant, customer_managed_key


@dataclass(frozen=True)
class StreamSource:
    kind: str
    construct: IConstruct
    stream_arn: str | None  # None: a DynamoDB table without a stream
    key: KeyGrant | None

    @property
    def is_kinesis(self) -> bool:
        return self.kind == KINESIS

    def describe(self) -> str:
        return self._description

    @cached_property
    def _description(self) -> str:
        return f"{self.kind} {path_of(self.construct)}"

    def retention_seconds(self) -> CheckedValue:
        """How long the stream keeps a record: 24 hours for DynamoDB; a Kinesis stream's retention period, None
        when unknown (an imported stream), UNRESOLVED for a token."""
        if not self.is_kinesis:
            return DYNAMODB_STREAM_RETENTION_SECONDS
        if not isinstance(self.construct, kinesis.Stream):
            return None
        resource = self.construct.node.default_child
        if not isinstance(resource, kinesis.CfnStream):
            return None  # a Stream always has its CfnStream; nothing else tells a retention
        hours = number_or_unresolved(resource.retention_period_hours)
        # None (not set), UNRESOLVED (a token) and Invalid are told as they are.
        return hours * 3_600 if isinstance(hours, int | float) else hours

    def read_statements(self) -> list[iam.PolicyStatement]:
        if self.stream_arn is None:
            # StreamConsumer rejects a table without a stream before it grants anything.
            raise ValueError(f"{self.describe()} has no stream to grant reading")
        actions = KINESIS_READ_ACTIONS if self.is_kinesis else DYNAMODB_STREAM_READ_ACTIONS
        statements = [iam.PolicyStatement(actions=list(actions), resources=[self.stream_arn])]
        if self.key is not None:
            statements.append(self.key.statement(KMS_READ_ACTIONS))
        return statements


KINESIS = "Kinesis stream"
DYNAMODB = "DynamoDB table"


def kinesis_source(stream: kinesis.IStream) -> StreamSource:
    return StreamSource(KINESIS, stream, stream.stream_arn, customer_managed_key(stream.encryption_key))


def dynamodb_source(table: dynamodb.ITable) -> StreamSource:
    return StreamSource(DYNAMODB, table, table.table_stream_arn, customer_managed_key(table.encryption_key))


def stream_source(obj: Any) -> StreamSource | None:
    """The source for a kinesis.IStream or a dynamodb table (ITable/TableV2); None for anything else."""
    if has_member(obj, "stream_arn") and has_member(obj, "stream_name"):
        return kinesis_source(obj)
    if has_member(obj, "table_arn") and has_member(obj, "table_stream_arn"):
        return dynamodb_source(obj)
    return None


def fan_out_statements(consumer_arn: str) -> list[iam.PolicyStatement]:
    return [iam.PolicyStatement(actions=list(KINESIS_FAN_OUT_ACTIONS), resources=[consumer_arn])]
