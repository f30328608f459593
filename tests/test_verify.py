"""`python -m constructs_lib.verify` against a moto server: stacks created from plain templates with
CloudFormation's CreateStack, then changed behind CloudFormation's back through the services' APIs.

One moto server serves the module (started on 127.0.0.1 by the `server` fixture, stopped by its PID and checked
gone afterwards). The CLI finds it the way users point it at an endpoint: AWS_ENDPOINT_URL.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.verify import ABSENT, Outcome, verify_stack
from constructs_lib.verify.cli import main
from tests.localdeploy.cli import PROJECT_ROOT, local_aws_environment
from tests.localdeploy.deployment import LocalDeployment
from tests.localdeploy.server import pid_is_running, start_server, stop_server

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
PIPELINE = FIXTURES / "pipeline.json"
ORDERS = FIXTURES / "orders.yaml"

SHARED = {
    "Resources": {"SharedDeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}}},
    "Outputs": {
        "DeadLettersArn": {
            "Value": {"Fn::GetAtt": ["SharedDeadLetters", "Arn"]},
            "Export": {"Name": "shared-dead-letters-arn"},
        }
    },
}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("verify")
    server = start_server(workdir)
    try:
        yield LocalDeployment(server, workdir)
    finally:
        stop_server(server)
        assert not pid_is_running(server.pid), f"the moto server (PID {server.pid}) is still running"


@pytest.fixture(scope="module")
def account(local):
    return local.account()


@pytest.fixture
def aws_env(local, monkeypatch):
    """The CLI's environment: the server's endpoint in AWS_ENDPOINT_URL, fake credentials, nothing inherited."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    env = local_aws_environment(local.endpoint_url, local.workdir / "cli")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


_created = iter(range(1_000_000))


def create_stack(account, template, *, name=None, parameters=None, client=None):
    """A stack created with CloudFormation's CreateStack (no CDK); returns its name."""
    name = name or f"verify-{next(_created)}"
    body = template.read_text() if isinstance(template, Path) else json.dumps(template)
    cloudformation = client or account.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE", status
    return name


def physical_id(account, stack, logical_id):
    return account.stack_resources(stack)[logical_id].physical_id


def verify(stack, *args, template=PIPELINE, capsys=None):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main(["--stack", stack, "--template", str(template), *args])
    out, err = capsys.readouterr()
    return code, out, err


def outcomes(report, logical_id):
    return {check.setting: check.outcome for check in report.checks if check.logical_id == logical_id}


@pytest.fixture
def pipeline(account):
    return create_stack(account, PIPELINE)


def test_a_stack_created_from_a_plain_template_verifies_without_drift(pipeline, aws_env, capsys):
    code, out, err = verify(pipeline, capsys=capsys)
    assert (code, err) == (0, "")
    assert "RESULT: " in out and ", 0 drifted, " in out
    assert f"== {pipeline} (CREATE_COMPLETE)" in out
    for line in (
        "match        RedrivePolicy.maxReceiveCount                5",
        "match        BisectBatchOnFunctionError                   true",
        "match        MaximumRecordAgeInSeconds                    3600",
        "match        MaximumEventAgeInSeconds                     3600",
    ):
        assert line in out, out


def test_every_failure_handling_resource_is_read_and_counted_three_ways(pipeline, account):
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    read = {check.logical_id for check in report.checks} - {pipeline}
    assert read == {"DeadLetters", "Requests", "Handler", "QueueMapping", "StreamMapping", "AsyncConfig"}
    counts = report.counts()
    assert counts["drifted"] == 0
    assert counts["matched"] + counts["not_verified"] == len(report.checks)
    assert counts["matched"] == 26
    assert outcomes(report, "StreamMapping")["DestinationConfig.OnFailure.Destination"] is Outcome.MATCH
    assert outcomes(report, "Handler")["DeadLetterConfig.TargetArn"] is Outcome.MATCH


def test_a_value_the_api_does_not_report_is_not_verified_never_a_match(pipeline, account):
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    # The template leaves these out; moto returns nothing for them, so nothing was compared.
    assert outcomes(report, "DeadLetters")["RedrivePolicy.deadLetterTargetArn"] is Outcome.NOT_VERIFIED
    assert outcomes(report, "StreamMapping")["ParallelizationFactor"] is Outcome.NOT_VERIFIED
    assert outcomes(report, "AsyncConfig")["DestinationConfig.OnSuccess.Destination"] is Outcome.NOT_VERIFIED
    # ... while a default the API does report is compared with AWS's documented default.
    (retention,) = [c for c in report.checks if c.logical_id == "Requests" and c.setting == "MessageRetentionPeriod"]
    assert (retention.outcome, retention.expected, str(retention.actual)) == (Outcome.MATCH, 345600, "345600")


def test_a_configuration_for_another_qualifier_does_not_count_for_the_template_s(pipeline, account):
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    (qualifier,) = [c for c in report.checks if c.logical_id == "AsyncConfig" and c.setting == "Qualifier"]
    assert (qualifier.expected, qualifier.actual, qualifier.outcome) == ("$LATEST", "$LATEST", Outcome.MATCH)

    lambda_ = account.client("lambda")
    function = physical_id(account, pipeline, "Handler")
    config = lambda_.get_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")
    lambda_.delete_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")
    lambda_.put_function_event_invoke_config(
        FunctionName=function,
        Qualifier="live",
        MaximumRetryAttempts=config["MaximumRetryAttempts"],
        MaximumEventAgeInSeconds=config["MaximumEventAgeInSeconds"],
        DestinationConfig=config["DestinationConfig"],
    )
    drifts = [
        (c.logical_id, c.setting) for c in verify_stack(pipeline, json.loads(PIPELINE.read_text()), account).drifts
    ]
    assert drifts == [("AsyncConfig", "(configuration)"), ("Handler", "EventInvokeConfig[live]")]


def test_a_mapping_changed_with_update_event_source_mapping_is_drift(pipeline, account, aws_env, capsys):
    uuid = physical_id(account, pipeline, "StreamMapping")
    account.client("lambda").update_event_source_mapping(
        UUID=uuid, MaximumRetryAttempts=10, BisectBatchOnFunctionError=False, BatchSize=500
    )
    code, out, _ = verify(pipeline, "--problems-only", capsys=capsys)
    assert code == 1
    assert "  event source mapping (kinesis): StreamMapping" in out
    assert "DRIFT        MaximumRetryAttempts                         template 3 | live 10" in out
    assert "DRIFT        BisectBatchOnFunctionError                   template true | live false" in out
    # Left out of the template, so compared with AWS's default of 100 for streams.
    assert "DRIFT        BatchSize                                    template 100 | live 500  (AWS default)" in out
    assert "RESULT: " in out and ", 3 drifted, " in out
    assert "match  " not in out  # --problems-only


def test_a_removed_stream_destination_is_drift(pipeline, account):
    uuid = physical_id(account, pipeline, "StreamMapping")
    account.client("lambda").update_event_source_mapping(UUID=uuid, DestinationConfig={"OnFailure": {}})
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    (drift,) = report.drifts
    assert (drift.logical_id, drift.setting, drift.actual) == (
        "StreamMapping",
        "DestinationConfig.OnFailure.Destination",
        ABSENT,
    )
    assert drift.expected.endswith(physical_id(account, pipeline, "DeadLetters").rsplit("/", 1)[-1])
    assert drift.note == "not set on the live resource"


def test_queue_attributes_changed_with_set_queue_attributes_are_drift(pipeline, account, aws_env, capsys):
    url = physical_id(account, pipeline, "Requests")
    dead_letters = account.queue_attributes(physical_id(account, pipeline, "DeadLetters"))["QueueArn"]
    account.client("sqs").set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "20",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters, "maxReceiveCount": 1000}),
        },
    )
    code, out, _ = verify(pipeline, "--format", "json", capsys=capsys)
    assert code == 1
    document = json.loads(out)
    drifts = [
        (check["logicalId"], check["setting"], check["template"], check["live"])
        for stack in document["stacks"]
        for check in stack["checks"]
        if check["outcome"] == "drift"
    ]
    assert drifts == [
        ("Requests", "RedrivePolicy.maxReceiveCount", 5, 1000),
        ("Requests", "VisibilityTimeout", 180, "20"),
    ]
    assert document["result"] == "drift"
    assert document["counts"]["drifted"] == 2


def test_async_settings_changed_with_put_function_event_invoke_config_are_drift(pipeline, account):
    function = physical_id(account, pipeline, "Handler")
    account.client("lambda").put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=2)
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    drifts = {(c.logical_id, c.setting): c.actual for c in report.drifts}
    # A put replaces the whole configuration: the event age and the destination the template sets are gone.
    assert drifts == {
        ("AsyncConfig", "MaximumRetryAttempts"): 2,
        ("AsyncConfig", "MaximumEventAgeInSeconds"): ABSENT,
        ("AsyncConfig", "DestinationConfig.OnFailure.Destination"): ABSENT,
    }


def test_async_invocation_configured_outside_the_template_is_drift(account):
    template = json.loads(PIPELINE.read_text())
    del template["Resources"]["AsyncConfig"]
    stack = create_stack(account, template)
    assert verify_stack(stack, template, account).drifts == []
    function = physical_id(account, stack, "Handler")
    account.client("lambda").put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=0)
    (drift,) = verify_stack(stack, template, account).drifts
    assert (drift.logical_id, drift.setting, drift.note) == (
        "Handler",
        "EventInvokeConfig[$LATEST]",
        "asynchronous invocation configured outside the template",
    )
    assert drift.actual["MaximumRetryAttempts"] == 0


def test_a_resource_deleted_outside_cloudformation_is_drift(pipeline, account):
    account.client("lambda").delete_event_source_mapping(UUID=physical_id(account, pipeline, "QueueMapping"))
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    (drift,) = report.drifts
    assert (drift.logical_id, drift.setting) == ("QueueMapping", "(resource)")
    assert drift.note.startswith("deleted outside CloudFormation")


def test_a_yaml_template_with_parameters_conditions_and_an_imported_queue_verifies(account, aws_env, capsys):
    """A stack that is not ours: hand-written YAML, short-form intrinsics, a cross-stack import."""
    if not any(
        e["Name"] == "shared-dead-letters-arn" for e in account.client("cloudformation").list_exports()["Exports"]
    ):
        create_stack(account, SHARED, name="verify-shared")
    stack = create_stack(account, ORDERS, parameters={"MaxReceiveCount": "7"})
    code, out, err = verify(stack, template=ORDERS, capsys=capsys)
    assert (code, err) == (0, ""), out
    assert "match        RedrivePolicy.maxReceiveCount                7" in out
    assert "match        VisibilityTimeout                            120" in out  # Fn::If on the condition
    assert "match        ScalingConfig.MaximumConcurrency             5" in out
    assert "left out by a false condition: AWS::SQS::Queue x1" in out
    shared_queue = account.stack_resources("verify-shared")["SharedDeadLetters"].physical_id
    assert f"RedrivePolicy.deadLetterTargetArn            {account.queue_attributes(shared_queue)['QueueArn']}" in out


def test_a_missing_stack_exits_2_with_a_message_and_no_traceback(aws_env):
    result = subprocess.run(
        [sys.executable, "-m", "constructs_lib.verify", "--stack", "no-such-stack", "--template", str(PIPELINE)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "verify: stack no-such-stack: ValidationError: Stack with id no-such-stack does not exist"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "missing.json"], "missing.json: cannot be read: No such file or directory"),
        (["--app", "no-cdk-out"], "no-cdk-out: not a cloud assembly"),
        (["--template", str(PIPELINE), "--profile", "nobody"], "The config profile (nobody) could not be found"),
    ],
)
def test_unreadable_input_exits_2(aws_env, capsys, args, message):
    assert main(["--stack", "any", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_a_profile_and_a_region_are_honoured(local, account, aws_env, monkeypatch, tmp_path, capsys):
    """The stack lives in eu-west-1; the profile `ops` names that region and its own (fake) keys."""
    eu = local.session().client("cloudformation", region_name="eu-west-1", endpoint_url=local.endpoint_url)
    stack = create_stack(account, PIPELINE, client=eu)
    (tmp_path / "config").write_text("[profile ops]\nregion = eu-west-1\n")
    (tmp_path / "credentials").write_text("[ops]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)

    code, out, _ = verify(stack, "--profile", "ops", capsys=capsys)
    assert code == 0, out
    assert ":sqs:eu-west-1:" in out
    # The same stack name in the default region of the environment does not exist.
    code, _, err = verify(stack, "--profile", "ops", "--region", "us-east-1", capsys=capsys)
    assert code == 2
    assert "does not exist" in err


def write_assembly(directory, stack_name, template, nested=None):
    directory.mkdir()
    (directory / f"{stack_name}.template.json").write_text(json.dumps(template))
    for file_name, nested_template in (nested or {}).items():
        (directory / file_name).write_text(json.dumps(nested_template))
    manifest = {
        "artifacts": {
            stack_name: {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": f"{stack_name}.template.json"},
            }
        }
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def nested_parent(account, nested_template):
    """A parent template whose nested stack's template is uploaded to the emulator's S3."""
    s3 = account.client("s3")
    s3.create_bucket(Bucket="verify-templates")
    s3.put_object(Bucket="verify-templates", Key="pipeline.json", Body=json.dumps(nested_template).encode())
    return {
        "Resources": {
            "Pipeline": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "https://verify-templates.s3.amazonaws.com/pipeline.json"},
                # What the CDK writes for a nested stack: its template's file in the cloud assembly.
                "Metadata": {"aws:asset:path": "Parent.Pipeline.nested.template.json"},
            }
        }
    }


def test_a_nested_stack_is_verified_too(account, aws_env, tmp_path, capsys):
    nested_template = json.loads(PIPELINE.read_text())
    parent_template = nested_parent(account, nested_template)
    stack = create_stack(account, parent_template)
    cdk_out = write_assembly(
        tmp_path / "cdk.out", stack, parent_template, nested={"Parent.Pipeline.nested.template.json": nested_template}
    )
    assert main(["--stack", stack, "--app", str(cdk_out)]) == 0
    out, _ = capsys.readouterr()
    assert f"== {stack}/Pipeline (CREATE_COMPLETE)" in out
    assert "match        MaximumRetryAttempts                         3" in out

    nested_id = physical_id(account, stack, "Pipeline")
    uuid = account.stack_resources(nested_id)["StreamMapping"].physical_id
    account.client("lambda").update_event_source_mapping(UUID=uuid, MaximumRetryAttempts=1)
    # Without the cloud assembly (a plain template): the nested stack's deployed template is the reference.
    (tmp_path / "parent.json").write_text(json.dumps(parent_template))
    assert main(["--stack", stack, "--template", str(tmp_path / "parent.json")]) == 1
    out, _ = capsys.readouterr()
    assert "DRIFT        MaximumRetryAttempts                         template 3 | live 1" in out


def test_async_settings_on_a_published_version_are_verified_for_that_version(account):
    """After the CloudFormation user guide's example: asynchronous settings for a published version."""
    template = json.loads((FIXTURES / "version_async.json").read_text())
    stack = create_stack(account, template)
    report = verify_stack(stack, template, account)
    assert report.drifts == [], report.render()
    (qualifier,) = [c for c in report.checks if c.setting == "Qualifier"]
    assert (qualifier.expected, qualifier.actual, qualifier.outcome) == ("1", "1", Outcome.MATCH)

    # Settings put on $LATEST instead do not satisfy the template's version, and are not in the template.
    function = physical_id(account, stack, "Notify")
    lambda_ = account.client("lambda")
    lambda_.delete_function_event_invoke_config(FunctionName=function, Qualifier="1")
    lambda_.put_function_event_invoke_config(
        FunctionName=function, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=300
    )
    drifts = [(c.logical_id, c.setting) for c in verify_stack(stack, template, account).drifts]
    assert drifts == [("NotifyAsync", "(configuration)"), ("Notify", "EventInvokeConfig[$LATEST]")]


def test_a_version_or_alias_reference_resolves_to_the_qualifier(account):
    version_arn = "arn:aws:lambda:us-east-1:123456789012:function:Notify:7"
    assert account.attribute("AWS::Lambda::Version", version_arn, "Version") == "7"


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        (("AWS_REGION", "AWS_DEFAULT_REGION"), "You must specify a region"),
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "Unable to locate credentials"),
    ],
)
def test_no_region_or_no_credentials_exits_2(aws_env, monkeypatch, capsys, unset, message):
    for name in unset:
        monkeypatch.delenv(name)
    assert main(["--stack", "any", "--template", str(PIPELINE)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_the_console_script_runs_verify(aws_env, tmp_path):
    script = Path(sys.executable).parent / "constructs-lib-verify"  # installed by pyproject's [project.scripts]
    result = subprocess.run(
        [str(script), "--stack", "any", "--template", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"verify: {tmp_path / 'missing.yaml'}: cannot be read: No such file or directory\n"


def test_a_grant_the_emulator_cannot_simulate_is_not_verified(pipeline, account):
    """moto 5.2.5 does not implement IAM's SimulatePrincipalPolicy: the role's grants are not verified, never
    assumed."""
    report = verify_stack(pipeline, json.loads(PIPELINE.read_text()), account)
    grants = [c for c in report.checks if c.setting.endswith("(sqs:SendMessage)")]
    assert {(c.logical_id, c.setting) for c in grants} == {
        ("Handler", "DeadLetterConfig.TargetArn (sqs:SendMessage)"),
        ("StreamMapping", "DestinationConfig.OnFailure.Destination (sqs:SendMessage)"),
        ("AsyncConfig", "DestinationConfig.OnFailure.Destination (sqs:SendMessage)"),
    }
    assert {c.outcome for c in grants} == {Outcome.NOT_VERIFIED}
    assert all(c.note.startswith("IAM policy simulation cannot be read: Unable to parse response") for c in grants)
