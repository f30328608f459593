"""`Deployed` through boto3: read-only Describe/Get/List calls, one client per service.

Errors are mapped to what they mean for a verification: a resource that does not exist (deleted outside
CloudFormation) is `ResourceGone`, a refused or failed call is `NotReadable`, and a stack that cannot be
described is `StackNotReadable`. Clients take their endpoint, region and credentials from the session and the
environment (AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION, ...) unless an endpoint is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from constructs_lib.limits import S3_OBJECT_ACTIONS
from constructs_lib.verify.deployed import (
    Grant,
    NotReadable,
    ResourceGone,
    StackNotReadable,
    StackResource,
    Unresolvable,
)
from constructs_lib.verify.templates import TemplateError, parse_template

# What the SDK raises besides a service's error response (no endpoint, no credentials, an unreadable answer).
SDK_ERRORS = (BotoCoreError, ResponseParserError)

# Error codes of the services read here that mean "no such resource".
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceNotFound",
        "NotFound",
        "NotFoundException",
        "NoSuchEntity",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def answer(value: object, what: str) -> Mapping[str, Any]:
    """A service's answer (or a part of it) as the mapping it is documented to be: boto3 publishes no types, so
    its results are narrowed here; anything else is an answer verify cannot read."""
    if not isinstance(value, Mapping):
        raise NotReadable(f"{what}: unexpected answer ({type(value).__name__}, not an object)")
    return value


def describe_error(error: Exception) -> str:
    """One line: an unreadable answer (e.g. an HTML error page) is not repeated in full."""
    if isinstance(error, ClientError):
        text = f"{error_code(error)}: {error.response.get('Error', {}).get('Message') or error}"
    else:
        text = str(error) or type(error).__name__
    line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


@contextmanager
def reading(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error_code(error) in NOT_FOUND_CODES:
            raise ResourceGone(f"{what}: {describe_error(error)}") from None
        raise NotReadable(f"{what} cannot be read: {describe_error(error)}") from None
    except SDK_ERRORS as error:
        raise NotReadable(f"{what} cannot be read: {describe_error(error)}") from None


class AwsAccount:
    """Read access to one account and region through a boto3 session."""

    def __init__(self, session: Any, *, endpoint_url: str | None = None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._exports: dict[str, Any] | None = None
        self._simulation_error: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]

    # --- CloudFormation ---------------------------------------------------------------------------------

    def stack(self, stack_name: str) -> Mapping[str, Any]:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            raise StackNotReadable(f"stack {stack_name}: {describe_error(error)}") from None
        except SDK_ERRORS as error:
            raise StackNotReadable(f"stack {stack_name} cannot be described: {describe_error(error)}") from None
        if not stacks:
            raise StackNotReadable(f"stack {stack_name} does not exist")
        stack = stacks[0]
        if not isinstance(stack, Mapping):
            raise StackNotReadable(f"stack {stack_name}: unexpected answer ({type(stack).__name__}, not an object)")
        return stack

    def stack_resources(self, stack_name: str) -> Mapping[str, StackResource]:
        # ListStackResources pages through every resource; DescribeStackResources stops at 100.
        with reading(f"the resources of stack {stack_name}"):
            pages = self.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_name)
            items = [item for page in pages for item in page["StackResourceSummaries"]]
        return {
            item["LogicalResourceId"]: StackResource(
                item["LogicalResourceId"],
                item["ResourceType"],
                item.get("PhysicalResourceId", ""),
                item.get("ResourceStatus", ""),
            )
            for item in items
            if item.get("LogicalResourceId") and item.get("ResourceStatus") != "DELETE_COMPLETE"
        }

    def deployed_template(self, stack_name: str) -> Mapping[str, Any]:
        with reading(f"the template of stack {stack_name}"):
            body = self.client("cloudformation").get_template(StackName=stack_name, TemplateStage="Original")
        body = body["TemplateBody"]
        if isinstance(body, Mapping):
            return body
        if not isinstance(body, str):
            raise NotReadable(f"the template of stack {stack_name}: unexpected answer ({type(body).__name__})")
        try:
            return parse_template(body, f"the template of stack {stack_name}")
        except TemplateError as error:
            raise NotReadable(str(error)) from None

    def export(self, name: str) -> Any:
        if self._exports is None:
            try:
                pages = self.client("cloudformation").get_paginator("list_exports").paginate()
                self._exports = {item["Name"]: item["Value"] for page in pages for item in page["Exports"]}
            except (ClientError, *SDK_ERRORS) as error:
                reason = describe_error(error)
                raise Unresolvable(f"Fn::ImportValue {name}: exports cannot be listed: {reason}") from None
        if name not in self._exports:
            raise Unresolvable(f"Fn::ImportValue {name}: no such export")
        return self._exports[name]

    def attribute(self, resource_type: str, physical_id: str, attribute: str) -> Any:
        reader = _ATTRIBUTE_READERS.get((resource_type, attribute))
        if reader is None:
            raise Unresolvable(f"Fn::GetAtt {attribute} of {resource_type} is not read by verify")
        try:
            with reading(f"{resource_type} {physical_id}"):
                return reader(self, physical_id)
        except (ResourceGone, NotReadable) as error:
            raise Unresolvable(str(error)) from None

    # --- the resources ------------------------------------------------------------------------------------

    def event_source_mapping(self, uuid: str) -> Mapping[str, Any]:
        with reading(f"event source mapping {uuid}"):
            return answer(self.client("lambda").get_event_source_mapping(UUID=uuid), f"event source mapping {uuid}")

    def event_invoke_config(self, function_name: str, qualifier: str | None) -> Mapping[str, Any]:
        kwargs = {"FunctionName": function_name, **({"Qualifier": qualifier} if qualifier else {})}
        what = f"the asynchronous invocation configuration of {function_name}:{qualifier or '$LATEST'}"
        with reading(what):
            return answer(self.client("lambda").get_function_event_invoke_config(**kwargs), what)

    def event_invoke_configs(self, function_name: str) -> list[Mapping[str, Any]]:
        with reading(f"the asynchronous invocation configurations of {function_name}"):
            paginator = self.client("lambda").get_paginator("list_function_event_invoke_configs")
            pages = paginator.paginate(FunctionName=function_name)
            return [config for page in pages for config in page["FunctionEventInvokeConfigs"]]

    def function_configuration(self, function_name: str) -> Mapping[str, Any]:
        with reading(f"function {function_name}"):
            configuration = self.client("lambda").get_function_configuration(FunctionName=function_name)
            return answer(configuration, f"function {function_name}")

    def queue_attributes(self, queue_url: str) -> Mapping[str, str]:
        with reading(f"queue {queue_url}"):
            response = self.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
        return answer(answer(response, f"queue {queue_url}").get("Attributes", {}), f"queue {queue_url}")

    def subscription_attributes(self, subscription_arn: str) -> Mapping[str, str]:
        with reading(f"subscription {subscription_arn}"):
            response = self.client("sns").get_subscription_attributes(SubscriptionArn=subscription_arn)
            return answer(response["Attributes"], f"subscription {subscription_arn}")

    def rule_targets(self, rule_name: str, event_bus_name: str) -> list[Mapping[str, Any]]:
        with reading(f"rule {rule_name} on bus {event_bus_name}"):
            paginator = self.client("events").get_paginator("list_targets_by_rule")
            pages = paginator.paginate(Rule=rule_name, EventBusName=event_bus_name)
            return [target for page in pages for target in page["Targets"]]

    def delivery_decisions(self, function_name: str, actions: tuple[str, ...], target_arn: str) -> Grant:
        """IAM's SimulatePrincipalPolicy for the function's execution role and each action on the target.

        The target's resource policy is not passed: IAM API reference, SimulatePrincipalPolicy, "CallerArn is
        required if you include a ResourcePolicy and the PolicySourceArn is not the ARN for an IAM user" (and a
        role's ARN cannot be the caller). So only whether the target has such a policy is reported."""
        if self._simulation_error is not None:  # e.g. not permitted: the same answer for every target
            raise NotReadable(self._simulation_error)
        role = self.function_configuration(function_name).get("Role")
        if not role:
            raise NotReadable(f"function {function_name} names no execution role")
        decisions = {}
        try:
            with reading("IAM policy simulation"):
                for action in actions:
                    # Objects are written to a bucket's keys; everything else is called on the target itself.
                    resource = f"{target_arn}/*" if action in S3_OBJECT_ACTIONS else target_arn
                    response = self.client("iam").simulate_principal_policy(
                        PolicySourceArn=role, ActionNames=[action], ResourceArns=[resource]
                    )
                    results = response.get("EvaluationResults") or [{}]
                    decisions[action] = results[0].get("EvalDecision", "")
        except (NotReadable, ResourceGone) as error:
            self._simulation_error = str(error)
            raise NotReadable(self._simulation_error) from None
        role_account = role.split(":")[4] if role.count(":") >= 5 else ""
        target_account = target_arn.split(":")[4] if target_arn.count(":") >= 5 else ""
        return Grant(
            role,
            decisions,
            self._has_resource_policy(target_arn),
            cross_account=bool(target_account) and target_account != role_account,
        )

    def _has_resource_policy(self, arn: str) -> bool | None:
        """Whether the target has a resource policy of its own; None when it cannot be read."""
        service, _, account, name = (arn.split(":", 5) + [""] * 6)[2:6]
        try:
            if service == "sqs":
                url = self.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                return "Policy" in self.queue_attributes(url)
            if service == "sns":
                return bool(self.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy"))
            if service == "events":
                return bool(self.client("events").describe_event_bus(Name=arn).get("Policy"))
            if service == "lambda":
                self.client("lambda").get_policy(FunctionName=arn)
                return True
            if service == "s3":
                self.client("s3").get_bucket_policy(Bucket=name.split("/")[0] or arn.rsplit(":", 1)[-1])
                return True
        except ClientError as error:
            if error_code(error) in {"ResourceNotFoundException", "NoSuchBucketPolicy"}:
                return False  # Lambda and S3 answer so when there is no policy
            return None
        except (*SDK_ERRORS, NotReadable, ResourceGone, KeyError):
            return None
        return None

    def metric_alarm(self, alarm_name: str) -> Mapping[str, Any]:
        with reading(f"alarm {alarm_name}"):
            alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[alarm_name], AlarmTypes=["MetricAlarm"])
        if not alarms["MetricAlarms"]:
            raise ResourceGone(f"alarm {alarm_name}: no metric alarm of that name")
        return answer(alarms["MetricAlarms"][0], f"alarm {alarm_name}")


def _partition(account: AwsAccount) -> str:
    region = account.client("s3").meta.region_name or ""
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _table(account: AwsAccount, name: str) -> Mapping[str, Any]:
    return answer(account.client("dynamodb").describe_table(TableName=name)["Table"], f"table {name}")


def _key(account: AwsAccount, key_id: str) -> Mapping[str, Any]:
    return answer(account.client("kms").describe_key(KeyId=key_id)["KeyMetadata"], f"key {key_id}")


# (resource type, attribute) -> the attribute's live value, read from the resource's own service.
_ATTRIBUTE_READERS: dict[tuple[str, str], Callable[[AwsAccount, str], Any]] = {
    ("AWS::SQS::Queue", "Arn"): lambda aws, url: aws.queue_attributes(url)["QueueArn"],
    ("AWS::SQS::Queue", "QueueUrl"): lambda aws, url: url,
    ("AWS::SQS::Queue", "QueueName"): lambda aws, url: url.rstrip("/").rsplit("/", 1)[-1],
    ("AWS::SNS::Topic", "TopicArn"): lambda aws, arn: arn,
    ("AWS::SNS::Topic", "TopicName"): lambda aws, arn: arn.rsplit(":", 1)[-1],
    ("AWS::Lambda::Function", "Arn"): lambda aws, name: aws.function_configuration(name)["FunctionArn"],
    # A version's and an alias's physical id is its qualified ARN.
    ("AWS::Lambda::Version", "Version"): lambda aws, arn: arn.rsplit(":", 1)[-1],
    ("AWS::Lambda::Alias", "AliasArn"): lambda aws, arn: arn,
    ("AWS::Kinesis::Stream", "Arn"): lambda aws, name: aws.client("kinesis").describe_stream_summary(StreamName=name)[
        "StreamDescriptionSummary"
    ]["StreamARN"],
    ("AWS::Kinesis::StreamConsumer", "ConsumerARN"): lambda aws, arn: arn,
    ("AWS::DynamoDB::Table", "Arn"): lambda aws, name: _table(aws, name)["TableArn"],
    ("AWS::DynamoDB::Table", "StreamArn"): lambda aws, name: _table(aws, name)["LatestStreamArn"],
    ("AWS::DynamoDB::GlobalTable", "Arn"): lambda aws, name: _table(aws, name)["TableArn"],
    ("AWS::DynamoDB::GlobalTable", "StreamArn"): lambda aws, name: _table(aws, name)["LatestStreamArn"],
    ("AWS::Events::EventBus", "Arn"): lambda aws, name: aws.client("events").describe_event_bus(Name=name)["Arn"],
    ("AWS::Events::EventBus", "Name"): lambda aws, name: name,
    ("AWS::S3::Bucket", "Arn"): lambda aws, name: f"arn:{_partition(aws)}:s3:::{name}",
    ("AWS::KMS::Key", "Arn"): lambda aws, key_id: _key(aws, key_id)["Arn"],
    ("AWS::KMS::Key", "KeyId"): lambda aws, key_id: _key(aws, key_id)["KeyId"],
    ("AWS::CloudWatch::Alarm", "Arn"): lambda aws, name: aws.metric_alarm(name)["AlarmArn"],
    ("AWS::IAM::Role", "Arn"): lambda aws, name: aws.client("iam").get_role(RoleName=name)["Role"]["Arn"],
}
