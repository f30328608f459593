"""Each patch of tests.localdeploy.moto_ext, in-process: the gap it bridges exists in moto without it, and is gone with it."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.localdeploy import moto_ext

ACCOUNT = "123456789012"
REGION = "us-east-1"
CHANGE_SET = "cdk-deploy-change-set"


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials, one region, empty AWS config files: nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))


@pytest.fixture
def patched(aws_env):
    with moto_ext.applied(), mock_aws():
        yield


@pytest.fixture
def unpatched(aws_env):
    assert not moto_ext.is_applied()
    with mock_aws():
        yield


def client(service):
    return boto3.client(service, region_name=REGION)


def deploy(stack_name, template, *, update=False, parameters=()):
    """Create and execute a change set, as `cdk deploy` does; returns the stack description."""
    cfn = client("cloudformation")
    cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=CHANGE_SET,
        ChangeSetType="UPDATE" if update else "CREATE",
        TemplateBody=json.dumps(template),
        Parameters=list(parameters),
    )
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=CHANGE_SET)
    return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]


def physical_id(stack_name, logical_id):
    resource = client("cloudformation").describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    return resource["StackResourceDetail"]["PhysicalResourceId"]


ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    },
}


def function(**properties):
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            **properties,
        },
    }


def queue(**properties):
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


# --------------------------------------------------------------------------------------------------------------
# Version guard and restore


def test_refuses_another_moto_version():
    moto_ext.check_moto_version(moto_ext.SUPPORTED_MOTO_VERSION)
    with pytest.raises(moto_ext.UnsupportedMotoVersion, match=r"moto 5\.2\.5 .* but moto 5\.3\.0 is installed"):
        moto_ext.check_moto_version("5.3.0")


def test_apply_checks_the_installed_version_before_patching(monkeypatch):
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set
    monkeypatch.setattr(moto_ext, "installed_moto_version", lambda: "5.2.6")
    with pytest.raises(moto_ext.UnsupportedMotoVersion), moto_ext.applied():
        pass
    assert not moto_ext.is_applied()
    assert CloudFormationBackend.execute_change_set is original


def test_the_installed_moto_is_the_supported_one():
    moto_ext.check_moto_version()


def test_restore_puts_moto_back_as_it_was():
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import parsing, responses, utils
    from moto.cloudformation.models import CloudFormationBackend
    from moto.events.models import EventBus

    before = (
        vars(CloudFormationBackend)["execute_change_set"],
        vars(LambdaFunction)["create_from_cloudformation_json"],
        parsing.get_model_map,
        utils.get_stack_from_s3_url,
        responses.get_stack_from_s3_url,
    )
    with moto_ext.applied() as patches:
        assert [patch.name for patch in patches] == [patch.name for patch in moto_ext.PATCHES]
        assert "AWS::Lambda::EventInvokeConfig" in parsing.get_model_map()
        assert vars(CloudFormationBackend)["execute_change_set"] is not before[0]
    after = (
        vars(CloudFormationBackend)["execute_change_set"],
        vars(LambdaFunction)["create_from_cloudformation_json"],
        parsing.get_model_map,
        utils.get_stack_from_s3_url,
        responses.get_stack_from_s3_url,
    )
    assert after == before
    assert "physical_resource_id" not in vars(EventBus)
    assert "AWS::Lambda::EventInvokeConfig" not in parsing.get_model_map()


def test_every_patch_documents_its_gap():
    for patch in moto_ext.PATCHES:
        assert patch.gap
        assert patch.install.__doc__, patch.name
        assert f"- {patch.name}:" in moto_ext.__doc__


# --------------------------------------------------------------------------------------------------------------
# template_url_on_loopback

QUEUE_ONLY = {"Resources": {"Queue": queue()}}


def put_template(key="template.json"):
    s3 = client("s3")
    s3.create_bucket(Bucket="assets")
    s3.put_object(Bucket="assets", Key=key, Body=json.dumps(QUEUE_ONLY).encode())


def test_template_url_on_127_0_0_1_without_the_patch_is_misparsed(unpatched):
    put_template()
    with pytest.raises(ClientError, match="NoSuchBucket"):
        client("cloudformation").create_stack(StackName="S", TemplateURL="http://127.0.0.1:5000/assets/template.json")


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "localhost:5000", "[::1]:5000"])
def test_template_url_on_any_loopback_host_is_read_path_style(patched, host):
    put_template()
    client("cloudformation").create_stack(StackName="S", TemplateURL=f"http://{host}/assets/template.json")
    assert physical_id("S", "Queue")


# --------------------------------------------------------------------------------------------------------------
# change_sets_per_stack, change_set_outputs, change_set_failures, ssm_parameter_previous_value


def test_change_sets_are_per_stack_and_gone_once_executed(patched):
    cfn = client("cloudformation")
    for name in ("First", "Second"):
        cfn.create_change_set(
            StackName=name, ChangeSetName=CHANGE_SET, ChangeSetType="CREATE", TemplateBody=json.dumps(QUEUE_ONLY)
        )
    second = cfn.describe_change_set(StackName="Second", ChangeSetName=CHANGE_SET)
    assert second["StackName"] == "Second"
    cfn.execute_change_set(StackName="Second", ChangeSetName=CHANGE_SET)
    with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
        cfn.describe_change_set(StackName="Second", ChangeSetName=CHANGE_SET)
    # The other stack's change set with the same name is untouched.
    assert cfn.describe_change_set(StackName="First", ChangeSetName=CHANGE_SET)["StackName"] == "First"
    # Deleting a change set that is not there is a no-op, as the CDK CLI expects before every deploy.
    cfn.delete_change_set(StackName="Second", ChangeSetName=CHANGE_SET)


def test_a_missing_change_set_without_the_patch_is_a_validation_error(unpatched):
    cfn = client("cloudformation")
    with pytest.raises(ClientError) as error:
        cfn.describe_change_set(StackName="S", ChangeSetName=CHANGE_SET)
    assert error.value.response["Error"]["Code"] == "ValidationError"


TWO_VERSIONS = [
    {"Resources": {"Queue": queue(VisibilityTimeout=30)}},
    {"Resources": {"Queue": queue(VisibilityTimeout=60)}},
]


def test_a_stack_is_updated_by_a_second_change_set_of_the_same_name(patched):
    deploy("S", TWO_VERSIONS[0])
    stack = deploy("S", TWO_VERSIONS[1], update=True)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    attributes = client("sqs").get_queue_attributes(QueueUrl=physical_id("S", "Queue"), AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "60"


def test_a_second_change_set_of_the_same_name_without_the_patch_fails(unpatched):
    deploy("S", TWO_VERSIONS[0])
    cfn = client("cloudformation")
    cfn.delete_change_set(StackName="S", ChangeSetName=CHANGE_SET)
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_change_set(StackName="S", ChangeSetName=CHANGE_SET)  # the CLI waits for ChangeSetNotFound


WITH_OUTPUTS = {
    "Resources": {"Queue": queue()},
    "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "failure-queue-arn"}}},
}


def test_change_set_deploys_have_outputs_and_exports(patched):
    stack = deploy("S", WITH_OUTPUTS)
    assert stack["Outputs"][0]["OutputKey"] == "QueueArn"
    assert stack["Outputs"][0]["OutputValue"].startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:S-Queue")
    assert [export["Name"] for export in client("cloudformation").list_exports()["Exports"]] == ["failure-queue-arn"]


def test_change_set_deploys_without_the_patch_have_no_outputs(unpatched):
    assert "Outputs" not in deploy("S", WITH_OUTPUTS)


FAILING = {
    "Resources": {
        "Queue": queue(),
        "Async": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": "no-such-function", "Qualifier": "$LATEST", "MaximumRetryAttempts": 1},
        },
    }
}


def test_a_failing_resource_fails_the_stack_with_its_reason(patched):
    stack = deploy("S", FAILING)
    assert stack["StackStatus"] == "CREATE_FAILED"
    events = client("cloudformation").describe_stack_events(StackName="S")["StackEvents"]
    statuses = [event["ResourceStatus"] for event in events]
    assert "CREATE_COMPLETE" not in statuses
    failed = next(event for event in events if event["ResourceStatus"] == "CREATE_FAILED")
    assert "no-such-function" in failed["ResourceStatusReason"]


SSM_PARAMETER_TEMPLATE = {
    "Parameters": {
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/hnb659fds/version",
        }
    },
    **TWO_VERSIONS[0],
}


def test_an_update_keeps_the_ssm_name_of_a_previous_parameter_value(patched):
    client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    deploy("S", SSM_PARAMETER_TEMPLATE)
    updated = {**SSM_PARAMETER_TEMPLATE, **TWO_VERSIONS[1]}
    previous = [{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}]
    assert deploy("S", updated, update=True, parameters=previous)["StackStatus"] == "UPDATE_COMPLETE"


def test_an_update_with_a_previous_ssm_parameter_value_without_the_patch_fails(unpatched):
    client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    deploy("S", SSM_PARAMETER_TEMPLATE)
    updated = {**SSM_PARAMETER_TEMPLATE, **TWO_VERSIONS[1]}
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'value'"):
        deploy("S", updated, update=True, parameters=[{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}])


# --------------------------------------------------------------------------------------------------------------
# event_bus_ref, kms_key_policy, sqs_queue_update

RULE_ON_CUSTOM_BUS = {
    "Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "orders"}},
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {"EventBusName": {"Ref": "Bus"}, "EventPattern": {"source": ["orders"]}},
        },
    }
}


def test_a_rule_on_a_custom_bus_refers_to_the_bus_by_name(patched):
    assert deploy("S", RULE_ON_CUSTOM_BUS)["StackStatus"] == "CREATE_COMPLETE"
    rules = client("events").list_rules(EventBusName="orders")["Rules"]
    assert [rule["EventBusName"] for rule in rules] == ["orders"]


def test_a_rule_on_a_custom_bus_without_the_patch_fails(unpatched):
    with pytest.raises(AttributeError, match="'EventBus' object has no attribute 'split'"):
        deploy("S", RULE_ON_CUSTOM_BUS)


KEY = {
    "Resources": {
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                }
            },
        }
    }
}


def test_a_key_created_by_cloudformation_can_be_described(patched):
    deploy("S", KEY)
    metadata = client("kms").describe_key(KeyId=physical_id("S", "Key"))["KeyMetadata"]
    assert metadata["Arn"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")


def test_a_key_created_by_cloudformation_without_the_patch_cannot_be_described(unpatched):
    deploy("S", KEY)
    with pytest.raises(TypeError, match="must be str, bytes or bytearray, not dict"):
        client("kms").describe_key(KeyId=physical_id("S", "Key"))


def redrive_template(max_receive_count=None):
    source = queue(VisibilityTimeout=60)
    if max_receive_count is not None:
        source["Properties"]["RedrivePolicy"] = {
            "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]},
            "maxReceiveCount": max_receive_count,
        }
    return {"Resources": {"DeadLetters": queue(), "Source": source}}


def redrive_policy(stack_name):
    attributes = client("sqs").get_queue_attributes(QueueUrl=physical_id(stack_name, "Source"), AttributeNames=["All"])
    policy = attributes["Attributes"].get("RedrivePolicy")
    return json.loads(policy) if policy else None


def test_a_queue_update_changes_and_removes_the_redrive_policy(patched):
    deploy("S", redrive_template(5))
    assert redrive_policy("S")["maxReceiveCount"] == 5
    deploy("S", redrive_template(8), update=True)
    assert redrive_policy("S")["maxReceiveCount"] == 8
    deploy("S", redrive_template(None), update=True)
    assert redrive_policy("S") is None


def test_a_queue_update_without_the_patch_keeps_the_old_redrive_policy(unpatched):
    deploy("S", redrive_template(5))
    deploy("S", redrive_template(8), update=True)
    assert redrive_policy("S")["maxReceiveCount"] == 5


# --------------------------------------------------------------------------------------------------------------
# function_dead_letter_config


def dead_letter_template(with_dlq=True):
    properties = {"DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}} if with_dlq else {}
    return {"Resources": {"Role": ROLE, "DeadLetters": queue(), "Fn": function(**properties)}}


def dead_letter_target(stack_name):
    configuration = client("lambda").get_function_configuration(FunctionName=physical_id(stack_name, "Fn"))
    return configuration.get("DeadLetterConfig", {}).get("TargetArn")


def test_a_function_keeps_its_dead_letter_config_through_cloudformation(patched):
    deploy("S", dead_letter_template())
    assert dead_letter_target("S").endswith(physical_id("S", "DeadLetters").rsplit("/", 1)[-1])
    deploy("S", dead_letter_template(with_dlq=False), update=True)
    assert dead_letter_target("S") is None


def test_a_function_keeps_its_dead_letter_config_through_the_api(patched):
    deploy("S", dead_letter_template(with_dlq=False))
    lambda_ = client("lambda")
    name = physical_id("S", "Fn")
    target = f"arn:aws:sqs:{REGION}:{ACCOUNT}:elsewhere"
    lambda_.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": target})
    assert dead_letter_target("S") == target
    lambda_.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert dead_letter_target("S") is None


def test_a_function_without_the_patch_drops_its_dead_letter_config(unpatched):
    deploy("S", dead_letter_template())
    assert dead_letter_target("S") is None


def test_a_function_with_inline_code_can_be_updated(patched):
    deploy("S", dead_letter_template(with_dlq=False))
    updated = dead_letter_template(with_dlq=False)
    updated["Resources"]["Fn"]["Properties"]["Timeout"] = 30
    assert deploy("S", updated, update=True)["StackStatus"] == "UPDATE_COMPLETE"
    assert client("lambda").get_function_configuration(FunctionName=physical_id("S", "Fn"))["Timeout"] == 30


def test_a_function_with_inline_code_without_the_patch_cannot_be_updated(unpatched):
    deploy("S", dead_letter_template(with_dlq=False))
    updated = dead_letter_template(with_dlq=False)
    updated["Resources"]["Fn"]["Properties"]["Timeout"] = 30
    with pytest.raises(ValueError, match="Invalid base64-encoded string"):
        deploy("S", updated, update=True)


# --------------------------------------------------------------------------------------------------------------
# event_invoke_config


def event_invoke_config_template(retry_attempts, *, on_failure=True):
    destinations = {"OnSuccess": {"Destination": {"Fn::GetAtt": ["Successes", "Arn"]}}}
    if on_failure:
        destinations["OnFailure"] = {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}
    return {
        "Resources": {
            "Role": ROLE,
            "Fn": function(),
            "Successes": queue(),
            "Failures": queue(),
            "Async": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": retry_attempts,
                    "MaximumEventAgeInSeconds": 3600,
                    "DestinationConfig": destinations,
                },
            },
        }
    }


def event_invoke_config(stack_name):
    lambda_ = client("lambda")
    try:
        return lambda_.get_function_event_invoke_config(FunctionName=physical_id(stack_name, "Fn"), Qualifier="$LATEST")
    except lambda_.exceptions.ResourceNotFoundException:
        return None


def test_an_event_invoke_config_is_created_and_updated_by_cloudformation(patched):
    deploy("S", event_invoke_config_template(1))
    config = event_invoke_config("S")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert ":S-Successes-" in config["DestinationConfig"]["OnSuccess"]["Destination"]
    assert ":S-Failures-" in config["DestinationConfig"]["OnFailure"]["Destination"]

    deploy("S", event_invoke_config_template(0, on_failure=False), update=True)
    config = event_invoke_config("S")
    assert config["MaximumRetryAttempts"] == 0
    assert "OnFailure" not in config["DestinationConfig"]
    assert physical_id("S", "Async") == f"{physical_id('S', 'Fn')}:$LATEST"


def test_an_event_invoke_config_is_deleted_with_its_resource(patched):
    deploy("S", event_invoke_config_template(1))
    without = event_invoke_config_template(1)
    del without["Resources"]["Async"]
    deploy("S", without, update=True)
    assert event_invoke_config("S") is None


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_an_event_invoke_config_without_the_patch_is_skipped(unpatched):
    deploy("S", event_invoke_config_template(1))
    assert event_invoke_config("S") is None


def test_put_overwrites_and_update_merges_event_invoke_configs(patched):
    deploy("S", dead_letter_template(with_dlq=False))
    lambda_ = client("lambda")
    name = physical_id("S", "Fn")
    lambda_.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=600)
    lambda_.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    config = lambda_.get_function_event_invoke_config(FunctionName=name)
    assert (config["MaximumRetryAttempts"], config.get("MaximumEventAgeInSeconds")) == (1, None)
    lambda_.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)
    config = lambda_.get_function_event_invoke_config(FunctionName=name)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 120)


def put_for_two_qualifiers(name):
    lambda_ = client("lambda")
    lambda_.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=0)
    lambda_.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)


def test_event_invoke_configs_are_kept_per_qualifier_and_name_it(patched):
    deploy("S", dead_letter_template(with_dlq=False))
    lambda_ = client("lambda")
    name = physical_id("S", "Fn")
    put_for_two_qualifiers(name)
    live = lambda_.get_function_event_invoke_config(FunctionName=name, Qualifier="live")
    latest = lambda_.get_function_event_invoke_config(FunctionName=name)
    assert (live["MaximumRetryAttempts"], latest["MaximumRetryAttempts"]) == (0, 2)
    assert (live["FunctionArn"].rsplit(":", 1)[1], latest["FunctionArn"].rsplit(":", 1)[1]) == ("live", "$LATEST")
    assert lambda_.get_function_event_invoke_config(FunctionName=f"{name}:live")["MaximumRetryAttempts"] == 0
    listed = lambda_.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert sorted(config["FunctionArn"].rsplit(":", 1)[1] for config in listed) == ["$LATEST", "live"]
    lambda_.delete_function_event_invoke_config(FunctionName=name, Qualifier="live")
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.get_function_event_invoke_config(FunctionName=name, Qualifier="live")
    assert lambda_.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 2


def test_event_invoke_configs_without_the_patch_ignore_the_qualifier(unpatched):
    deploy("S", dead_letter_template(with_dlq=False))
    lambda_ = client("lambda")
    name = physical_id("S", "Fn")
    put_for_two_qualifiers(name)
    live = lambda_.get_function_event_invoke_config(FunctionName=name, Qualifier="live")
    # The first configuration put, whichever qualifier is asked for, under the unqualified FunctionArn.
    assert (live["MaximumRetryAttempts"], live["FunctionArn"]) == (
        0,
        lambda_.get_function(FunctionName=name)["Configuration"]["FunctionArn"],
    )
    assert lambda_.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0


# --------------------------------------------------------------------------------------------------------------
# sns_subscription

SUBSCRIPTION = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Records": queue(),
        "Undelivered": queue(),
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Records", "Arn"]},
                "RawMessageDelivery": True,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Undelivered", "Arn"]}},
            },
        },
    }
}


def test_a_subscription_is_created_with_its_attributes_and_removed_with_its_resource(patched):
    deploy("S", SUBSCRIPTION)
    arn = physical_id("S", "Subscription")
    attributes = client("sns").get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    assert ":S-Undelivered-" in json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    assert attributes["Endpoint"].split(":")[-1] == physical_id("S", "Records").rsplit("/", 1)[-1]

    without = {"Resources": {k: v for k, v in SUBSCRIPTION["Resources"].items() if k != "Subscription"}}
    deploy("S", without, update=True)
    assert client("sns").list_subscriptions()["Subscriptions"] == []


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_a_subscription_without_the_patch_is_skipped(unpatched):
    deploy("S", SUBSCRIPTION)
    assert client("sns").list_subscriptions()["Subscriptions"] == []


# --------------------------------------------------------------------------------------------------------------
# cloudwatch_alarm

ALARMS = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Failures": queue(),
        "Visible": {
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
        },
        "ErrorRate": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "error-rate",
                "Metrics": [
                    {"Id": "rate", "Expression": "errors / invocations", "ReturnData": True},
                    {
                        "Id": "errors",
                        "ReturnData": False,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Lambda",
                                "MetricName": "Errors",
                                "Dimensions": [{"Name": "FunctionName", "Value": "notify"}],
                            },
                            "Period": 300,
                            "Stat": "Sum",
                        },
                    },
                    {
                        "Id": "invocations",
                        "ReturnData": False,
                        "MetricStat": {
                            "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations"},
                            "Period": 300,
                            "Stat": "Sum",
                        },
                    },
                ],
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": 0.05,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        },
    },
    "Outputs": {"VisibleArn": {"Value": {"Fn::GetAtt": ["Visible", "Arn"]}}},
}


def test_alarms_are_created_updated_and_deleted_by_cloudformation(patched):
    stack = deploy("S", ALARMS)
    cloudwatch = client("cloudwatch")
    visible = physical_id("S", "Visible")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[visible])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "ApproximateNumberOfMessagesVisible",
        1.0,
        "notBreaching",
    )
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": physical_id("S", "Failures").rsplit("/", 1)[-1]}]
    assert alarm["AlarmActions"] == [physical_id("S", "Topic")]
    assert stack["Outputs"][0]["OutputValue"] == alarm["AlarmArn"]
    (math,) = cloudwatch.describe_alarms(AlarmNames=["error-rate"])["MetricAlarms"]
    assert [query["Id"] for query in math["Metrics"]] == ["rate", "errors", "invocations"]

    updated = json.loads(json.dumps(ALARMS))
    updated["Resources"]["Visible"]["Properties"]["Threshold"] = 10
    del updated["Resources"]["ErrorRate"]
    deploy("S", updated, update=True)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[visible])["MetricAlarms"]
    assert alarm["Threshold"] == 10.0
    assert cloudwatch.describe_alarms(AlarmNames=["error-rate"])["MetricAlarms"] == []


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_alarms_without_the_patch_are_skipped(unpatched):
    without_outputs = {"Resources": ALARMS["Resources"]}
    deploy("S", without_outputs)
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
