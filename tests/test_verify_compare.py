"""verify's comparison, rule by rule, against a fake account (plain dicts), and its boto3 reader against moto
in-process."""

import copy
import json

import boto3
import pytest
from moto import mock_aws

from constructs_lib.limits import DELIVERY_ACTIONS
from constructs_lib.verify import ABSENT, Outcome, verify_stack
from constructs_lib.verify.aws import AwsAccount
from constructs_lib.verify.compare import function_identity, same, same_function, same_metric_queries
from constructs_lib.verify.deployed import Grant, NotReadable, ResourceGone, StackResource, Unresolvable
from constructs_lib.verify.resolve import Resolver
from tests.localdeploy import moto_ext

ACCOUNT = "123456789012"


def every_action(decision):
    return {action: decision for actions in DELIVERY_ACTIONS.values() for action in actions}


REGION = "us-east-1"
STACK = "Orders"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0f1e2d3c"


def arn(service, resource):
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def queue_url(name):
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


class FakeAccount:
    """What a deployed stack looks like to the read-back, as plain dicts."""

    def __init__(self):
        self.status = "CREATE_COMPLETE"
        self.resources = {}
        self.attributes = {}
        self.mappings = {}
        self.invoke_configs = {}
        self.functions = {}
        self.queues = {}
        self.subscriptions = {}
        self.targets = {}
        self.alarms = {}
        self.exports = {}
        self.simulated = []
        self.grant = Grant(
            arn("iam", "role/Orders-Role-1"),
            every_action("allowed"),
            target_policy=False,
            cross_account=False,
        )

    def add(self, logical_id, resource_type, physical_id, **attributes):
        self.resources[logical_id] = StackResource(logical_id, resource_type, physical_id, "CREATE_COMPLETE")
        for name, value in attributes.items():
            self.attributes[(resource_type, physical_id, name)] = value

    def stack(self, stack_name):
        return {"StackName": stack_name, "StackId": STACK_ID, "StackStatus": self.status}

    def stack_resources(self, stack_name):
        return self.resources

    def deployed_template(self, stack_name):
        raise NotReadable("no nested stacks here")

    def export(self, name):
        if name not in self.exports:
            raise Unresolvable(f"Fn::ImportValue {name}: no such export")
        return self.exports[name]

    def attribute(self, resource_type, physical_id, attribute):
        try:
            return self.attributes[(resource_type, physical_id, attribute)]
        except KeyError:
            raise Unresolvable(f"{resource_type}.{attribute}") from None

    @staticmethod
    def _get(table, key):
        if key not in table:
            raise ResourceGone(str(key))
        value = table[key]
        if isinstance(value, Exception):
            raise value
        return value

    def event_source_mapping(self, uuid):
        return self._get(self.mappings, uuid)

    def event_invoke_config(self, function_name, qualifier):
        return self._get(self.invoke_configs, (function_name, qualifier))

    def event_invoke_configs(self, function_name):
        return [config for (name, _), config in self.invoke_configs.items() if name == function_name]

    def function_configuration(self, function_name):
        return self._get(self.functions, function_name)

    def queue_attributes(self, url):
        return self._get(self.queues, url)

    def subscription_attributes(self, subscription_arn):
        return self._get(self.subscriptions, subscription_arn)

    def rule_targets(self, rule_name, event_bus_name):
        return self._get(self.targets, (rule_name, event_bus_name))

    def metric_alarm(self, alarm_name):
        return self._get(self.alarms, alarm_name)

    def delivery_decisions(self, function_name, actions, target_arn):
        self.simulated.append((function_name, actions, target_arn))
        if isinstance(self.grant, Exception):
            raise self.grant
        return self.grant


TEMPLATE = {
    "Resources": {
        "Process": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "index.handler"}},
        "Notify": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}},
        },
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
        "Failures": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Requests": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 180,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": 5},
            },
        },
        "StreamMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "Process"},
                "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 100,
                "BisectBatchOnFunctionError": True,
                "MaximumRetryAttempts": 3,
                "MaximumRecordAgeInSeconds": 3600,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}},
            },
        },
        "QueueMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "Process"},
                "EventSourceArn": {"Fn::GetAtt": ["Requests", "Arn"]},
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": 5},
            },
        },
        "NotifyAsync": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Notify"},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 1,
                "MaximumEventAgeInSeconds": 3600,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}},
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Failures", "Arn"]},
                "RawMessageDelivery": True,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}},
            },
        },
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {"source": ["orders"]},
                "Targets": [
                    {
                        "Id": "Target0",
                        "Arn": {"Fn::GetAtt": ["Notify", "Arn"]},
                        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}},
                    }
                ],
            },
        },
        "RequestsPolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {}},
    }
}


@pytest.fixture
def account():
    """An account where everything was deployed exactly as TEMPLATE says."""
    fake = FakeAccount()
    process_arn = arn("lambda", "function:Orders-Process-1")
    notify_arn = arn("lambda", "function:Orders-Notify-1")
    stream_arn = arn("kinesis", "stream/Orders-Stream-1")
    failures_arn, dead_letters_arn, requests_arn = (
        arn("sqs", name) for name in ("Orders-Failures-1", "Orders-DeadLetters-1", "Orders-Requests-1")
    )
    topic_arn = arn("sns", "Orders-Topic-1")
    subscription_arn = f"{topic_arn}:5a1b"
    fake.add("Process", "AWS::Lambda::Function", "Orders-Process-1", Arn=process_arn)
    fake.add("Notify", "AWS::Lambda::Function", "Orders-Notify-1", Arn=notify_arn)
    fake.add("Stream", "AWS::Kinesis::Stream", "Orders-Stream-1", Arn=stream_arn)
    fake.add("Failures", "AWS::SQS::Queue", queue_url("Orders-Failures-1"), Arn=failures_arn)
    fake.add("DeadLetters", "AWS::SQS::Queue", queue_url("Orders-DeadLetters-1"), Arn=dead_letters_arn)
    fake.add("Requests", "AWS::SQS::Queue", queue_url("Orders-Requests-1"), Arn=requests_arn)
    fake.add("StreamMapping", "AWS::Lambda::EventSourceMapping", "uuid-stream")
    fake.add("QueueMapping", "AWS::Lambda::EventSourceMapping", "uuid-queue")
    fake.add("NotifyAsync", "AWS::Lambda::EventInvokeConfig", "Orders-Notify-1:$LATEST")
    fake.add("Topic", "AWS::SNS::Topic", topic_arn)
    fake.add("Subscription", "AWS::SNS::Subscription", subscription_arn)
    fake.add("Rule", "AWS::Events::Rule", "Orders-Rule-1")
    fake.functions = {"Orders-Process-1": {}, "Orders-Notify-1": {"DeadLetterConfig": {"TargetArn": dead_letters_arn}}}
    fake.queues = {
        queue_url("Orders-Failures-1"): {"MessageRetentionPeriod": "1209600", "VisibilityTimeout": "30"},
        queue_url("Orders-DeadLetters-1"): {"MessageRetentionPeriod": "1209600", "VisibilityTimeout": "30"},
        queue_url("Orders-Requests-1"): {
            "MessageRetentionPeriod": "345600",
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": 5}),
        },
    }
    fake.mappings = {
        "uuid-stream": {
            "FunctionArn": process_arn,
            "EventSourceArn": stream_arn,
            "State": "Enabled",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 3600,
            "ParallelizationFactor": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": failures_arn}},
        },
        "uuid-queue": {
            "FunctionArn": process_arn,
            "EventSourceArn": requests_arn,
            "State": "Enabled",
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    }
    fake.invoke_configs = {
        ("Orders-Notify-1", "$LATEST"): {
            "FunctionArn": f"{notify_arn}:$LATEST",
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": failures_arn}},
        }
    }
    fake.subscriptions = {
        subscription_arn: {
            "TopicArn": topic_arn,
            "Protocol": "sqs",
            "Endpoint": failures_arn,
            "RawMessageDelivery": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters_arn}),
        }
    }
    fake.targets = {
        ("Orders-Rule-1", "default"): [
            {
                "Id": "Target0",
                "Arn": notify_arn,
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200},
                "DeadLetterConfig": {"Arn": dead_letters_arn},
            }
        ]
    }
    return fake


def checks_of(report, logical_id):
    return {check.setting: check for check in report.checks if check.logical_id == logical_id}


def test_a_stack_deployed_as_its_template_says_has_no_mismatches(account):
    report = verify_stack(STACK, TEMPLATE, account)
    assert report.drifts == []
    assert report.ok
    assert report.stacks[0].not_deployed == {"RequestsPolicy": "AWS::SQS::QueuePolicy"}


def test_every_failure_handling_resource_of_the_template_is_read_back_by_its_type(account):
    report = verify_stack(STACK, TEMPLATE, account)
    kinds = {check.logical_id: check.kind for check in report.checks}
    assert kinds == {
        STACK: "stack",
        "Process": "function",
        "Notify": "function",
        "Failures": "queue",
        "DeadLetters": "queue",
        "Requests": "queue",
        "StreamMapping": "event source mapping (kinesis)",
        "QueueMapping": "event source mapping (sqs)",
        "NotifyAsync": "event invoke config",
        "Subscription": "SNS subscription",
        "Rule": "EventBridge rule",
    }


def test_template_values_are_resolved_to_the_deployed_arns(account):
    stream = checks_of(verify_stack(STACK, TEMPLATE, account), "StreamMapping")
    assert stream["EventSourceArn"].expected == arn("kinesis", "stream/Orders-Stream-1")
    assert stream["DestinationConfig.OnFailure.Destination"].expected == arn("sqs", "Orders-Failures-1")
    assert stream["FunctionName"].expected == "Orders-Process-1"
    assert stream["FunctionName"].actual == arn("lambda", "function:Orders-Process-1")


@pytest.mark.parametrize(
    ("where", "setting", "deployed"),
    [
        (("mappings", "uuid-stream", "MaximumRetryAttempts"), "MaximumRetryAttempts", 10),
        (("mappings", "uuid-stream", "BisectBatchOnFunctionError"), "BisectBatchOnFunctionError", False),
        (("mappings", "uuid-stream", "MaximumRecordAgeInSeconds"), "MaximumRecordAgeInSeconds", -1),
        (("mappings", "uuid-stream", "FunctionResponseTypes"), "FunctionResponseTypes", []),
        (("mappings", "uuid-queue", "BatchSize"), "BatchSize", 100),
        (("mappings", "uuid-queue", "ScalingConfig"), "ScalingConfig.MaximumConcurrency", {"MaximumConcurrency": 2}),
    ],
)
def test_a_mapping_setting_that_differs_is_a_mismatch(account, where, setting, deployed):
    table, key, name = where
    getattr(account, table)[key][name] = deployed
    report = verify_stack(STACK, TEMPLATE, account)
    assert [(check.logical_id, check.setting) for check in report.checks if check.drifted] == [
        ("StreamMapping" if key == "uuid-stream" else "QueueMapping", setting)
    ]


def test_a_mismatch_carries_both_values(account):
    account.mappings["uuid-stream"]["DestinationConfig"] = {"OnFailure": {"Destination": arn("sqs", "Other")}}
    (mismatch,) = [check for check in verify_stack(STACK, TEMPLATE, account).checks if check.drifted]
    assert (mismatch.setting, mismatch.expected, mismatch.actual) == (
        "DestinationConfig.OnFailure.Destination",
        arn("sqs", "Orders-Failures-1"),
        arn("sqs", "Other"),
    )


def outcome_of(report, logical_id, setting):
    (check,) = [c for c in report.checks if (c.logical_id, c.setting) == (logical_id, setting)]
    return check.outcome, check.note


def test_a_setting_the_template_leaves_out_is_compared_with_the_aws_default_the_api_reports(account):
    account.mappings["uuid-queue"]["MaximumBatchingWindowInSeconds"] = 0  # the default, reported
    report = verify_stack(STACK, TEMPLATE, account)
    assert outcome_of(report, "QueueMapping", "MaximumBatchingWindowInSeconds") == (Outcome.MATCH, "AWS default")
    assert outcome_of(report, "StreamMapping", "ParallelizationFactor") == (Outcome.MATCH, "AWS default")

    account.mappings["uuid-stream"]["ParallelizationFactor"] = 4
    account.mappings["uuid-queue"]["FilterCriteria"] = {"Filters": [{"Pattern": '{"body": ["x"]}'}]}
    drifts = [(c.logical_id, c.setting, c.note) for c in verify_stack(STACK, TEMPLATE, account).drifts]
    assert drifts == [
        ("StreamMapping", "ParallelizationFactor", "AWS default"),
        ("QueueMapping", "FilterCriteria", "set on the live resource, not in the template"),
    ]


def test_a_value_the_api_does_not_report_is_not_verified_never_a_match(account):
    del account.mappings["uuid-stream"]["ParallelizationFactor"]
    report = verify_stack(STACK, TEMPLATE, account)
    assert report.drifts == []
    expected = (Outcome.NOT_VERIFIED, "not in the template; the API reports no value")
    assert outcome_of(report, "StreamMapping", "ParallelizationFactor") == expected
    # No destination in the template and none reported: nothing was compared, so it is not counted as a match.
    assert outcome_of(report, "QueueMapping", "FilterCriteria") == expected
    assert outcome_of(report, "Process", "DeadLetterConfig.TargetArn") == expected
    assert report.counts()["not_verified"] == len(report.not_verified) > 0
    assert all(check.outcome is not Outcome.MATCH for check in report.checks if check.actual is ABSENT)


def test_event_invoke_config_settings_are_compared(account):
    config = account.invoke_configs[("Orders-Notify-1", "$LATEST")]
    config["MaximumRetryAttempts"] = 2
    config["DestinationConfig"]["OnSuccess"] = {"Destination": arn("events", "event-bus/default")}
    mismatches = {c.setting: c for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted}
    assert set(mismatches) == {"MaximumRetryAttempts", "DestinationConfig.OnSuccess.Destination"}
    assert mismatches["DestinationConfig.OnSuccess.Destination"].expected is ABSENT


def test_a_missing_event_invoke_config_is_a_mismatch(account):
    account.invoke_configs.clear()
    (mismatch,) = [c for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert (mismatch.logical_id, mismatch.setting, mismatch.expected, mismatch.note) == (
        "NotifyAsync",
        "(configuration)",
        "Orders-Notify-1:$LATEST",
        "no configuration for it",
    )


def test_the_event_invoke_config_qualifier_is_compared(account):
    config = account.invoke_configs.pop(("Orders-Notify-1", "$LATEST"))
    # An account whose Lambda answers for any qualifier with the configuration of another one.
    account.invoke_configs[("Orders-Notify-1", "$LATEST")] = {
        **config,
        "FunctionArn": f"{config['FunctionArn'][:-8]}:live",
    }
    drifts = [(c.logical_id, c.setting, c.expected, c.actual) for c in verify_stack(STACK, TEMPLATE, account).drifts]
    assert drifts[0] == ("NotifyAsync", "Qualifier", "$LATEST", "live")
    # ... and listed on the function, the configuration of `live` is one the template does not describe.
    assert [drift[:2] for drift in drifts[1:]] == [("Notify", "EventInvokeConfig[live]")]


def test_an_unqualified_function_arn_leaves_the_qualifier_not_verified(account):
    config = account.invoke_configs[("Orders-Notify-1", "$LATEST")]
    config["FunctionArn"] = config["FunctionArn"].removesuffix(":$LATEST")
    report = verify_stack(STACK, TEMPLATE, account)
    assert report.drifts == []
    assert outcome_of(report, "NotifyAsync", "Qualifier") == (
        Outcome.NOT_VERIFIED,
        "the API's FunctionArn names no qualifier",
    )


def test_an_invoke_config_for_a_qualifier_the_template_does_not_configure_is_drift(account):
    account.invoke_configs[("Orders-Process-1", "live")] = {
        "FunctionArn": arn("lambda", "function:Orders-Process-1:live"),
        "MaximumRetryAttempts": 0,
    }
    (drift,) = verify_stack(STACK, TEMPLATE, account).drifts
    assert (drift.logical_id, drift.setting, drift.actual) == (
        "Process",
        "EventInvokeConfig[live]",
        {"MaximumRetryAttempts": 0},
    )


def test_a_dropped_dead_letter_config_is_a_mismatch(account):
    account.functions["Orders-Notify-1"] = {}
    (mismatch,) = [c for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert (mismatch.logical_id, mismatch.setting, mismatch.actual) == ("Notify", "DeadLetterConfig.TargetArn", ABSENT)


def test_an_unexpected_dead_letter_config_is_a_mismatch(account):
    account.functions["Orders-Process-1"] = {"DeadLetterConfig": {"TargetArn": arn("sqs", "Orders-DeadLetters-1")}}
    (mismatch,) = [c for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert (mismatch.logical_id, mismatch.setting) == ("Process", "DeadLetterConfig.TargetArn")


@pytest.mark.parametrize(
    ("policy", "setting"),
    [
        ({"deadLetterTargetArn": arn("sqs", "Orders-DeadLetters-1"), "maxReceiveCount": 3}, "maxReceiveCount"),
        ({"deadLetterTargetArn": arn("sqs", "Orders-Failures-1"), "maxReceiveCount": 5}, "deadLetterTargetArn"),
    ],
)
def test_a_queue_redrive_policy_that_differs_is_a_mismatch(account, policy, setting):
    account.queues[queue_url("Orders-Requests-1")]["RedrivePolicy"] = json.dumps(policy)
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert mismatches == [("Requests", f"RedrivePolicy.{setting}")]


def test_a_missing_redrive_policy_is_a_mismatch(account):
    del account.queues[queue_url("Orders-Requests-1")]["RedrivePolicy"]
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert mismatches == [
        ("Requests", "RedrivePolicy.deadLetterTargetArn"),
        ("Requests", "RedrivePolicy.maxReceiveCount"),
    ]


def test_a_redrive_policy_given_as_a_json_string_in_the_template_is_compared_by_content(account):
    template = copy.deepcopy(TEMPLATE)
    policy = template["Resources"]["Requests"]["Properties"]["RedrivePolicy"]
    template["Resources"]["Requests"]["Properties"]["RedrivePolicy"] = {
        "Fn::Join": ["", ['{"deadLetterTargetArn":"', policy["deadLetterTargetArn"], '","maxReceiveCount":5}']]
    }
    assert verify_stack(STACK, template, account).drifts == []


def test_subscription_and_rule_target_settings_are_compared(account):
    account.subscriptions[next(iter(account.subscriptions))]["RawMessageDelivery"] = "false"
    account.targets[("Orders-Rule-1", "default")][0]["RetryPolicy"]["MaximumRetryAttempts"] = 185
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert mismatches == [
        ("Subscription", "RawMessageDelivery"),
        ("Rule", "Targets[Target0].RetryPolicy.MaximumRetryAttempts"),
    ]


def test_a_missing_rule_target_is_a_mismatch(account):
    account.targets[("Orders-Rule-1", "default")] = []
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert mismatches == [("Rule", "Targets[Target0]")]


def test_a_failure_handling_resource_missing_from_the_stack_is_a_mismatch(account):
    del account.resources["StreamMapping"]
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert mismatches == [("StreamMapping", "(resource)")]


def test_a_resource_deleted_outside_cloudformation_is_drift(account):
    del account.mappings["uuid-queue"]
    (drift,) = verify_stack(STACK, TEMPLATE, account).drifts
    assert (drift.logical_id, drift.setting) == ("QueueMapping", "(resource)")
    assert drift.note.startswith("deleted outside CloudFormation")


def test_a_resource_that_may_not_be_read_is_not_verified(account):
    account.queues[queue_url("Orders-Requests-1")] = NotReadable("AccessDenied: not authorized")
    report = verify_stack(STACK, TEMPLATE, account)
    assert report.drifts == []
    assert outcome_of(report, "Requests", "(resource)") == (Outcome.NOT_VERIFIED, "AccessDenied: not authorized")


def test_a_stack_that_did_not_complete_is_a_mismatch(account):
    account.status = "CREATE_FAILED"
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, TEMPLATE, account).checks if c.drifted]
    assert mismatches == [(STACK, "StackStatus")]


def test_a_value_that_cannot_be_resolved_is_not_verified_not_a_match(account):
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["StreamMapping"]["Properties"]["MaximumRetryAttempts"] = {"Fn::ImportValue": "retries"}
    report = verify_stack(STACK, template, account)
    (check,) = [c for c in report.checks if (c.logical_id, c.setting) == ("StreamMapping", "MaximumRetryAttempts")]
    assert (check.outcome, check.expected) == (Outcome.NOT_VERIFIED, "(unresolvable)")
    assert "Fn::ImportValue retries: no such export" in check.note

    account.exports["retries"] = "3"  # a cross-stack value, resolved through the account's exports
    assert (
        outcome_of(verify_stack(STACK, template, account), "StreamMapping", "MaximumRetryAttempts")[0] is Outcome.MATCH
    )


def test_conditions_are_evaluated_with_the_stack_parameters(account):
    template = copy.deepcopy(TEMPLATE)
    template["Parameters"] = {"Stage": {"Type": "String"}}
    template["Conditions"] = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}
    template["Resources"]["DebugQueue"] = {"Type": "AWS::SQS::Queue", "Condition": "IsProd"}
    template["Resources"]["Requests"]["Properties"]["VisibilityTimeout"] = {"Fn::If": ["IsProd", 180, 60]}
    stack = account.stack

    account.stack = lambda name: {**stack(name), "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "dev"}]}
    report = verify_stack(STACK, template, account)
    assert report.stacks[0].conditional == {"DebugQueue": "AWS::SQS::Queue"}
    assert [(c.setting, c.expected, c.actual) for c in report.drifts] == [("VisibilityTimeout", 60, "180")]

    account.stack = lambda name: {**stack(name), "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "prod"}]}
    assert [(c.logical_id, c.setting) for c in verify_stack(STACK, template, account).drifts] == [
        ("DebugQueue", "(resource)")
    ]


def test_a_resource_added_to_the_template_is_read_back_without_changes_here(account):
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["AlarmTopicQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}
    template["Resources"]["Dashboard"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}
    account.add("AlarmTopicQueue", "AWS::SQS::Queue", queue_url("Orders-AlarmTopicQueue-1"))
    account.queues[queue_url("Orders-AlarmTopicQueue-1")] = {"VisibilityTimeout": "60"}
    report = verify_stack(STACK, template, account)
    assert report.drifts == []
    assert checks_of(report, "AlarmTopicQueue")["VisibilityTimeout"].expected == 60
    assert report.stacks[0].not_deployed["Dashboard"] == "AWS::CloudWatch::Dashboard"


ALARM = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Failures", "QueueName"]}}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "Topic"}],
    },
}


@pytest.fixture
def alarmed(account):
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["FailuresAlarm"] = ALARM
    account.add("FailuresAlarm", "AWS::CloudWatch::Alarm", "Orders-FailuresAlarm-1")
    account.attributes[("AWS::SQS::Queue", queue_url("Orders-Failures-1"), "QueueName")] = "Orders-Failures-1"
    account.alarms["Orders-FailuresAlarm-1"] = {
        "AlarmName": "Orders-FailuresAlarm-1",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "Orders-Failures-1"}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": True,
        "AlarmActions": [arn("sns", "Orders-Topic-1")],
        "OKActions": [],
        "InsufficientDataActions": [],
    }
    return template, account


def test_an_alarm_deployed_as_its_template_says_has_no_mismatches(alarmed):
    template, account = alarmed
    report = verify_stack(STACK, template, account)
    assert [check for check in report.checks if check.drifted] == []
    assert checks_of(report, "FailuresAlarm")["Dimensions"].kind == "alarm"


@pytest.mark.parametrize(
    ("setting", "deployed"),
    [
        ("Threshold", 5.0),
        ("Dimensions", [{"Name": "QueueName", "Value": "Orders-DeadLetters-1"}]),
        ("TreatMissingData", "breaching"),
        ("AlarmActions", []),
        ("MetricName", "ApproximateAgeOfOldestMessage"),
    ],
)
def test_an_alarm_setting_that_differs_is_a_mismatch(alarmed, setting, deployed):
    template, account = alarmed
    account.alarms["Orders-FailuresAlarm-1"][setting] = deployed
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, template, account).checks if c.drifted]
    assert mismatches == [("FailuresAlarm", setting)]


def test_a_missing_alarm_is_a_mismatch(alarmed):
    template, account = alarmed
    account.alarms.clear()
    mismatches = [(c.logical_id, c.setting) for c in verify_stack(STACK, template, account).checks if c.drifted]
    assert mismatches == [("FailuresAlarm", "(resource)")]


def test_the_report_renders_every_setting_and_the_verdict(account):
    account.mappings["uuid-stream"]["MaximumRetryAttempts"] = 10
    report = verify_stack(STACK, TEMPLATE, account)
    counts = report.counts()
    text = report.render()
    summary = f"{counts['matched']} matched, 1 drifted, {counts['not_verified']} not verified"
    assert f"== Orders (CREATE_COMPLETE): {summary}" in text
    assert "DRIFT        MaximumRetryAttempts                         template 3 | live 10" in text
    assert "not in the deployed stack (no failure-handling settings): AWS::SQS::QueuePolicy x1" in text
    assert text.splitlines()[-1] == f"RESULT: {summary}"
    assert sum(counts.values()) == len(report.checks)


# --------------------------------------------------------------------------------------------------------------
# Resolving and comparing


@pytest.fixture
def resolver(account):
    return Resolver(TEMPLATE, account.stack(STACK), account.resources, account)


def test_resolver_handles_refs_attributes_pseudo_parameters_joins_and_subs(resolver):
    assert resolver.resolve({"Ref": "Process"}) == "Orders-Process-1"
    assert resolver.resolve({"Fn::GetAtt": "Stream.Arn"}) == arn("kinesis", "stream/Orders-Stream-1")
    assert resolver.resolve({"Fn::Join": [":", [{"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}]]}) == (
        f"{REGION}:{ACCOUNT}"
    )
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${Process}:${Stream.Arn}:${!Literal}"}) == (
        f"arn:aws:x:Orders-Process-1:{arn('kinesis', 'stream/Orders-Stream-1')}:${{Literal}}"
    )
    assert resolver.resolve({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "AWS::StackName"}}]}) == "Orders-x"
    assert resolver.resolve({"Fn::Select": [1, ["a", "b"]]}) == "b"
    assert resolver.resolve({"Key": {"Ref": "AWS::NoValue"}, "Other": 1}) == {"Other": 1}
    assert resolver.resolve({"Fn::Split": [",", "a,b"]}) == ["a", "b"]


def test_resolver_reads_maps_of_the_template(account):
    template = {**TEMPLATE, "Mappings": {"Retries": {"us-east-1": {"Stream": 3}}}}
    resolver = Resolver(template, account.stack(STACK), account.resources, account)
    assert resolver.resolve({"Fn::FindInMap": ["Retries", {"Ref": "AWS::Region"}, "Stream"]}) == 3


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "NotInTheStack"},
        {"Fn::GetAtt": ["Process", "SnapStartResponse"]},
        {"Fn::ImportValue": "x"},
        {"Fn::GetAZs": ""},
        {"Fn::FindInMap": ["Missing", "a", "b"]},
    ],
)
def test_resolver_refuses_what_it_cannot_resolve(resolver, value):
    with pytest.raises(Unresolvable):
        resolver.resolve(value)


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        (5, "5", True),
        (True, "true", True),
        (False, "true", False),
        (3600, 3600.0, True),
        ({"a": 1}, '{"a": 1}', True),
        (["ReportBatchItemFailures"], ["ReportBatchItemFailures"], True),
        (["A", "B"], ["B", "A"], True),
        (None, [], True),
        (None, "x", False),
        ("x", None, False),
        (0, None, False),
        ("arn:a", "arn:b", False),
    ],
)
def test_same_compares_template_and_api_representations(expected, actual, result):
    assert same(expected, actual) is result


def test_functions_are_the_same_by_name_and_qualifier():
    function_arn = arn("lambda", "function:Orders-Process-1")
    assert function_identity(function_arn) == ("Orders-Process-1", None)
    assert function_identity(f"{ACCOUNT}:function:Orders-Process-1:live") == ("Orders-Process-1", "live")
    assert same_function("Orders-Process-1", function_arn)
    assert same_function("Orders-Process-1", f"{function_arn}:$LATEST")
    assert same_function(f"{function_arn}:live", f"{function_arn}:live")
    assert not same_function("Orders-Process-1:live", function_arn)
    assert not same_function("Orders-Other-1", function_arn)


# --------------------------------------------------------------------------------------------------------------
# The boto3 reader, against moto in-process


@pytest.fixture
def moto_account(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }.items():
        monkeypatch.setenv(name, value)
    with moto_ext.applied(), mock_aws():
        yield AwsAccount(boto3.Session(region_name=REGION))


QUEUE_TEMPLATE = {
    "Resources": {
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Requests": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 180,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": 5},
            },
        },
    }
}


def write_assembly(directory, stack_name, template):
    directory.mkdir()
    (directory / f"{stack_name}.template.json").write_text(json.dumps(template))
    (directory / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    stack_name: {
                        "type": "aws:cloudformation:stack",
                        "properties": {"templateFile": f"{stack_name}.template.json"},
                    }
                }
            }
        )
    )
    return directory


def verify_assembly(cdk_out, stack_name, account):
    from constructs_lib.verify import assembly_template

    template, _ = assembly_template(cdk_out, stack_name)
    return verify_stack(stack_name, template, account)


def test_the_boto3_reader_finds_a_queue_changed_behind_the_template(moto_account, tmp_path):
    cdk_out = write_assembly(tmp_path / "cdk.out", "Queues", QUEUE_TEMPLATE)
    moto_account.client("cloudformation").create_stack(StackName="Queues", TemplateBody=json.dumps(QUEUE_TEMPLATE))
    report = verify_assembly(cdk_out, "Queues", moto_account)
    assert report.ok, report.render()
    assert checks_of(report, "Requests")["RedrivePolicy.maxReceiveCount"].actual == 5

    url = moto_account.stack_resources("Queues")["Requests"].physical_id
    dead_letters = moto_account.attribute(
        "AWS::SQS::Queue", moto_account.stack_resources("Queues")["DeadLetters"].physical_id, "Arn"
    )
    moto_account.client("sqs").set_queue_attributes(
        QueueUrl=url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters, "maxReceiveCount": 9})},
    )
    report = verify_assembly(cdk_out, "Queues", moto_account)
    assert [(c.logical_id, c.setting, c.expected, c.actual) for c in report.drifts] == [
        ("Requests", "RedrivePolicy.maxReceiveCount", 5, 9)
    ]
    assert not report.ok


def test_the_boto3_reader_compares_alarms_metric_math_included(moto_account, tmp_path):
    from tests.test_moto_ext import ALARMS

    template = {"Resources": ALARMS["Resources"]}
    cdk_out = write_assembly(tmp_path / "cdk.out", "Alarms", template)
    moto_account.client("cloudformation").create_stack(StackName="Alarms", TemplateBody=json.dumps(template))
    report = verify_assembly(cdk_out, "Alarms", moto_account)
    assert report.ok, report.render()
    assert report.coverage()["alarm"] == 2
    assert checks_of(report, "ErrorRate")["Metrics"].actual

    visible = moto_account.stack_resources("Alarms")["Visible"].physical_id
    moto_account.client("cloudwatch").put_metric_alarm(
        AlarmName=visible,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "another-queue"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    mismatches = [(c.logical_id, c.setting) for c in verify_assembly(cdk_out, "Alarms", moto_account).drifts]
    assert mismatches == [("Visible", "Dimensions"), ("Visible", "AlarmActions")]


def test_metric_math_queries_are_compared_by_content():
    template = [
        {"Id": "rate", "Expression": "e / i"},
        {
            "Id": "e",
            "ReturnData": False,
            "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Stat": "Sum", "Period": 60},
        },
    ]
    deployed = [
        {
            "Id": "e",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "N", "MetricName": "M", "Dimensions": []},
                "Stat": "Sum",
                "Period": 60,
            },
        },
        {"Id": "rate", "Expression": "e / i", "ReturnData": True},
    ]
    assert same_metric_queries(template, deployed)
    deployed[0]["MetricStat"]["Stat"] = "Average"
    assert not same_metric_queries(template, deployed)


def test_an_invoke_config_qualifier_given_as_a_version_or_alias_arn_is_its_name(account):
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["NotifyLive"] = {"Type": "AWS::Lambda::Alias", "Properties": {}}
    template["Resources"]["NotifyAsync"]["Properties"]["Qualifier"] = {"Ref": "NotifyLive"}
    live_arn = arn("lambda", "function:Orders-Notify-1:live")
    account.add("NotifyLive", "AWS::Lambda::Alias", live_arn)
    config = account.invoke_configs.pop(("Orders-Notify-1", "$LATEST"))
    account.invoke_configs[("Orders-Notify-1", "live")] = {**config, "FunctionArn": live_arn}
    report = verify_stack(STACK, template, account)
    assert report.drifts == []
    assert outcome_of(report, "NotifyAsync", "Qualifier") == (Outcome.MATCH, "")


# --------------------------------------------------------------------------------------------------------------
# The execution role's grant on each live destination (IAM policy simulation)


def grant_checks(report):
    return {
        (c.logical_id, c.setting): (c.actual, c.outcome) for c in report.checks if c.setting.endswith(":SendMessage)")
    }


def test_the_role_s_grant_on_every_live_destination_is_asked_of_iam(account):
    report = verify_stack(STACK, TEMPLATE, account)
    assert report.drifts == []
    assert grant_checks(report) == {
        ("StreamMapping", "DestinationConfig.OnFailure.Destination (sqs:SendMessage)"): ("allowed", Outcome.MATCH),
        ("NotifyAsync", "DestinationConfig.OnFailure.Destination (sqs:SendMessage)"): ("allowed", Outcome.MATCH),
        ("Notify", "DeadLetterConfig.TargetArn (sqs:SendMessage)"): ("allowed", Outcome.MATCH),
    }
    # Asked for the live destination, with the live function.
    assert (arn("lambda", "function:Orders-Process-1"), ("sqs:SendMessage",), arn("sqs", "Orders-Failures-1")) in (
        account.simulated
    )


@pytest.mark.parametrize(
    ("decision", "target_policy", "cross_account", "outcome"),
    [
        ("explicitDeny", True, False, Outcome.DRIFT),
        ("implicitDeny", False, False, Outcome.DRIFT),  # nothing else can allow it
        ("implicitDeny", True, True, Outcome.DRIFT),  # across accounts the role's policies must allow it
        ("implicitDeny", True, False, Outcome.NOT_VERIFIED),  # the queue's own policy may allow it
        ("implicitDeny", None, False, Outcome.NOT_VERIFIED),  # the queue's policy could not be read
    ],
)
def test_a_grant_the_role_lacks_is_drift_when_nothing_else_can_allow_it(
    account, decision, target_policy, cross_account, outcome
):
    account.grant = Grant(account.grant.role_arn, every_action(decision), target_policy, cross_account)
    report = verify_stack(STACK, TEMPLATE, account)
    checks = grant_checks(report)
    assert set(checks.values()) == {(decision, outcome)}
    if outcome is Outcome.DRIFT:
        (drift, *_) = report.drifts
        assert drift.note == f"{account.grant.role_arn} may not sqs:SendMessage it: failure records are lost"


def test_a_simulation_that_cannot_run_leaves_the_grant_not_verified(account):
    account.grant = NotReadable("IAM policy simulation of a role cannot be read: AccessDenied")
    report = verify_stack(STACK, TEMPLATE, account)
    assert report.drifts == []
    assert set(grant_checks(report).values()) == {(ABSENT, Outcome.NOT_VERIFIED)}


def test_provisioned_pollers_are_compared_when_the_template_sets_them(account):
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["QueueMapping"]["Properties"].pop("ScalingConfig")
    template["Resources"]["QueueMapping"]["Properties"]["ProvisionedPollerConfig"] = {
        "MinimumPollers": 2,
        "MaximumPollers": 20,
    }
    account.mappings["uuid-queue"].pop("ScalingConfig")
    account.mappings["uuid-queue"]["ProvisionedPollerConfig"] = {"MinimumPollers": 2, "MaximumPollers": 50}
    report = verify_stack(STACK, template, account)
    assert [(c.logical_id, c.setting, c.expected, c.actual) for c in report.checks if c.drifted] == [
        ("QueueMapping", "ProvisionedPollerConfig.MaximumPollers", 20, 50)
    ]
    assert outcome_of(report, "QueueMapping", "ProvisionedPollerConfig.MinimumPollers")[0].name == "MATCH"
    # Without the setting in the template nothing is compared (AWS's defaults differ by source).
    assert not [c for c in verify_stack(STACK, TEMPLATE, account).checks if c.setting.startswith("Provisioned")]
