"""The real `cdk bootstrap` and `cdk deploy` of the sample app against a local moto server, verified with
`constructs_lib.verify`.

One moto server (with tests.localdeploy.moto_ext) serves the whole module: it is started on 127.0.0.1 by the
`local` fixture and stopped by its PID afterwards, which the fixture checks.
"""

import json
import os
import re
import signal
from collections import defaultdict

import pytest

from constructs_lib.verify import READERS, Outcome, StackNotReadable
from tests.fixtures.deploy_update_app import STACK_NAME as UPDATE_STACK
from tests.fixtures.deploy_update_app import VARIANTS
from tests.harness import PROJECT_ROOT
from tests.localdeploy import __main__ as deploy_local_main
from tests.localdeploy import server as server_module
from tests.localdeploy.cli import CdkError, cli_environment
from tests.localdeploy.deployment import LocalDeployment, LocalReport
from tests.localdeploy.server import MotoServer, pid_is_running, running_server, start_server, stop_server

UPDATE_APP = "python3 -m tests.fixtures.deploy_update_app"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("deploy-local")
    server = start_server(workdir)
    try:
        deployment = LocalDeployment(server, workdir)
        deployment.bootstrap()
        yield deployment
    finally:
        stop_server(server)
        assert not pid_is_running(server.pid), f"the moto server (PID {server.pid}) is still running"


@pytest.fixture(scope="module")
def sample(local):
    """The sample app, deployed with `cdk deploy --all` and read back: (template, report)."""
    cdk_out = local.workdir / "sample.out"
    local.deploy(output=cdk_out)
    template = json.loads((cdk_out / "OrdersPipeline.template.json").read_text())
    return template, local.read_back(cdk_out)


def checks_by_kind(report: LocalReport) -> dict[str, dict[str, dict[str, object]]]:
    """kind -> logical id -> setting -> deployed value."""
    kinds: dict[str, dict[str, dict[str, object]]] = defaultdict(lambda: defaultdict(dict))
    for check in report.checks:
        kinds[check.kind][check.logical_id][check.setting] = check.actual
    return kinds


def test_the_sample_app_deploys_and_reads_back_without_mismatches(sample):
    _, report = sample
    assert [stack.stack for stack in report.report.stacks] == ["OrdersPipeline"]
    assert report.report.stacks[0].status == "CREATE_COMPLETE"
    assert report.report.drifts == [], report.render()


def test_the_report_counts_what_rests_on_an_emulator_patch(sample):
    _, report = sample
    counts = report.report.counts()
    text = report.render()
    assert f"RESULT: {counts['matched']} matched, 0 drifted, {counts['not_verified']} not verified" in text
    on_patch = report.resting_on_patches()
    # Async settings, the function DLQ, SNS subscriptions and alarms exist here only through our moto patches.
    assert set(on_patch) == {
        "event_invoke_config",
        "function_dead_letter_config",
        "sns_subscription",
        "cloudwatch_alarm",
    }
    assert f"EMULATOR: {sum(on_patch.values())} of the {counts['matched']} matched settings" in text
    for check_index, patch in report.on_patch.items():
        check = report.checks[check_index]
        assert (patch, check.resource_type) in {
            ("event_invoke_config", "AWS::Lambda::EventInvokeConfig"),
            ("function_dead_letter_config", "AWS::Lambda::Function"),
            ("sns_subscription", "AWS::SNS::Subscription"),
            ("cloudwatch_alarm", "AWS::CloudWatch::Alarm"),
        }
    # Nothing read is counted as a match when the API reported nothing.
    assert all(
        check.actual for check in report.checks if check.outcome is Outcome.MATCH and check.note == "AWS default"
    )


def test_every_failure_handling_resource_of_the_template_is_read_back(sample):
    template, report = sample
    failure_handling = {
        logical_id for logical_id, resource in template["Resources"].items() if resource["Type"] in READERS
    }
    assert {check.logical_id for check in report.checks} - {"OrdersPipeline"} == failure_handling
    # What moto's CloudFormation does not create has no failure-handling settings (policies, metadata).
    assert set(report.report.stacks[0].not_deployed.values()) <= {
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::S3::BucketPolicy",
        "AWS::CDK::Metadata",
    }


def test_the_readme_shows_lines_of_the_real_report(sample):
    """The README's report of the sample app is shortened where it shows `  ...`; every other line is the real
    report's, in the same order. Only the bucket name's suffix is random (CloudFormation generates it)."""
    _, report = sample
    readme = (PROJECT_ROOT / "README.md").read_text()
    shown = re.search(r"The report for the sample app today \(shortened\):\n\n```text\n(.*?)```", readme, re.DOTALL)
    assert shown, "the README's report block is missing"
    random_suffix = re.compile(r"(orderspipeline-ordersfailures[0-9a-f]{8})-[a-z0-9]+")
    real = [random_suffix.sub(r"\1-SUFFIX", line) for line in report.render().splitlines()]
    lines = [random_suffix.sub(r"\1-SUFFIX", line) for line in shown[1].splitlines()]
    assert (lines[0], lines[-3:]) == (real[0], real[-3:])
    position = 0
    for line in lines:
        if line == "  ...":
            continue
        assert line in real[position:], f"not in the real report (in this order): {line!r}\n{report.render()}"
        position = real.index(line, position) + 1
    # The figures of the sentence after the block: what the not-verified settings are.
    not_verified = [check for check in report.checks if check.outcome is Outcome.NOT_VERIFIED]
    unreported = [check for check in not_verified if check.note == "not in the template; the API reports no value"]
    grants = [check for check in not_verified if re.fullmatch(r".+ \([a-z0-9]+:\w+\)", check.setting)]
    assert len(unreported) + len(grants) == len(not_verified)
    sentence = f"Of the {len(not_verified)} not verified, {len(unreported)} are settings the template leaves out"
    assert sentence in " ".join(readme.split())
    assert f"and {len(grants)} are the execution roles' grants" in " ".join(readme.split())


def test_a_mapping_of_each_source_kind_is_read_back_with_its_settings(sample):
    _, report = sample
    kinds = checks_by_kind(report)
    (kinesis,) = kinds["event source mapping (kinesis)"].values()
    (dynamodb,) = kinds["event source mapping (dynamodb)"].values()
    (sqs,) = kinds["event source mapping (sqs)"].values()
    for stream in (kinesis, dynamodb):
        assert stream["BisectBatchOnFunctionError"] is True
        assert (stream["MaximumRetryAttempts"], stream["MaximumRecordAgeInSeconds"]) == (3, 3600)
        assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert stream["StartingPosition"] == "TRIM_HORIZON"
    assert (kinesis["BatchSize"], dynamodb["BatchSize"]) == (100, 50)
    assert kinesis["DestinationConfig.OnFailure.Destination"].startswith("arn:aws:s3:::")  # the FailureBucket
    for stream in (kinesis, dynamodb):
        assert stream["MetricsConfig.Metrics"] == ["EventCount"]
    assert ":sns:" in dynamodb["DestinationConfig.OnFailure.Destination"]
    assert (sqs["BatchSize"], sqs["ScalingConfig.MaximumConcurrency"]) == (10, 5)
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "DestinationConfig.OnFailure.Destination" not in sqs  # never on SQS mappings: not compared


def test_the_event_invoke_config_is_read_back(sample):
    _, report = sample
    (config,) = checks_by_kind(report)["event invoke config"].values()
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 3600)
    # The qualifier is compared: with the patch, the emulator names it in FunctionArn as Lambda does.
    (qualifier,) = [c for c in report.checks if c.kind == "event invoke config" and c.setting == "Qualifier"]
    assert (qualifier.expected, qualifier.actual, qualifier.outcome) == ("$LATEST", "$LATEST", Outcome.MATCH)
    assert ":event-bus/" in config["DestinationConfig.OnSuccess.Destination"]
    assert ":sqs:" in config["DestinationConfig.OnFailure.Destination"]


def test_the_function_dead_letter_queue_is_read_back(sample):
    _, report = sample
    functions = checks_by_kind(report)["function"]
    with_dlq = {logical_id for logical_id, settings in functions.items() if settings["DeadLetterConfig.TargetArn"]}
    assert [logical_id[: len("OrderNotifier")] for logical_id in with_dlq] == ["OrderNotifier"]
    assert len(functions) == 4


def test_the_queue_redrive_policies_are_read_back(sample):
    _, report = sample
    queues = checks_by_kind(report)["queue"]
    redriven = {
        logical_id: settings for logical_id, settings in queues.items() if settings["RedrivePolicy.deadLetterTargetArn"]
    }
    assert list(redriven) == [next(q for q in queues if q.startswith("PaymentsQueue"))]
    (payments,) = redriven.values()
    assert payments["RedrivePolicy.maxReceiveCount"] == 5
    assert "-PaymentsDeadLetters" in payments["RedrivePolicy.deadLetterTargetArn"]
    notifier_dlq = next(settings for logical_id, settings in queues.items() if logical_id.startswith("NotifierDead"))
    assert ":kms:" in notifier_dlq["KmsMasterKeyId"]


def test_the_sns_subscription_and_eventbridge_target_dead_letter_queues_are_read_back(sample):
    _, report = sample
    kinds = checks_by_kind(report)
    (subscription,) = kinds["SNS subscription"].values()
    assert subscription["RawMessageDelivery"] == "true"
    assert "InventoryFailureUndelivered" in subscription["RedrivePolicy.deadLetterTargetArn"]
    (rule,) = kinds["EventBridge rule"].values()
    assert rule["Targets[Target0].RetryPolicy.MaximumRetryAttempts"] == 3
    assert "NotifierUndeliveredEvents" in rule["Targets[Target0].DeadLetterConfig.Arn"]


def test_a_redeploy_with_changed_settings_applies_them(local):
    """The update path: the same stack deployed twice with the real `cdk deploy`, different settings each time."""
    cdk_out = local.workdir / "update.out"
    observed = {}
    for variant in ("first", "second"):
        local.deploy(output=cdk_out, app=UPDATE_APP, context={"variant": variant})
        report = local.read_back(cdk_out)
        assert report.report.drifts == [], report.render()
        kinds = checks_by_kind(report)
        (async_config,) = kinds["event invoke config"].values()
        (stream,) = kinds["event source mapping (kinesis)"].values()
        dead_letter_targets = [
            settings["DeadLetterConfig.TargetArn"]
            for settings in kinds["function"].values()
            if settings["DeadLetterConfig.TargetArn"]
        ]
        (max_receive_count,) = [
            settings["RedrivePolicy.maxReceiveCount"]
            for settings in kinds["queue"].values()
            if settings["RedrivePolicy.maxReceiveCount"]
        ]
        observed[variant] = {
            "status": report.report.stacks[0].status,
            "async_retry_attempts": async_config["MaximumRetryAttempts"],
            "max_event_age_minutes": async_config["MaximumEventAgeInSeconds"] // 60,
            "dead_letter_queue": "DeadLettersA" if "DeadLettersA" in dead_letter_targets[0] else "DeadLettersB",
            "stream_retry_attempts": stream["MaximumRetryAttempts"],
            "stream_batch_size": stream["BatchSize"],
            "max_receive_count": int(max_receive_count),
        }
    assert observed == {
        "first": {"status": "CREATE_COMPLETE", **VARIANTS["first"]},
        "second": {"status": "UPDATE_COMPLETE", **VARIANTS["second"]},
    }
    assert local.account().stack(UPDATE_STACK)["StackStatus"] == "UPDATE_COMPLETE"


def test_the_toolkit_stack_has_its_outputs(local):
    outputs = {o["OutputKey"]: o["OutputValue"] for o in local.account().stack("CDKToolkit").get("Outputs", [])}
    assert outputs["BucketName"] == f"cdk-hnb659fds-assets-{local.account_id()}-us-east-1"


# --------------------------------------------------------------------------------------------------------------
# The server, the CLI environment and the entry point


def test_the_server_listens_on_loopback_and_is_stopped_by_its_pid(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "not-configured-here")  # inherited AWS settings do not reach the server
    server = start_server(tmp_path)
    try:
        assert pid_is_running(server.pid)
        assert server.endpoint_url == f"http://127.0.0.1:{server.port}"
        assert json.loads((tmp_path / "moto-server.json").read_text()) == {"pid": server.pid, "port": server.port}
        log = server.log_file.read_text()
        assert f"on http://127.0.0.1:{server.port} (PID {server.pid})" in log
        assert "moto_ext.event_invoke_config" in log
    finally:
        stop_server(server)
    assert not pid_is_running(server.pid)


def test_the_server_is_stopped_when_the_block_using_it_fails(tmp_path):
    with pytest.raises(RuntimeError, match="a step failed"), running_server(tmp_path) as server:
        raise RuntimeError("a step failed")
    assert not pid_is_running(server.pid)


def test_a_server_that_ignores_sigterm_is_killed(tmp_path):
    server = start_server(tmp_path)
    os.kill(server.pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    try:
        stop_server(server, timeout=0.5)
        assert not pid_is_running(server.pid)
    finally:
        if pid_is_running(server.pid):
            os.kill(server.pid, signal.SIGKILL)


def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path):
    with pytest.raises(server_module.ServerError, match="exited with"):
        start_server(tmp_path, python="/bin/false")


def test_the_cli_environment_holds_fake_credentials_and_the_local_endpoint_only(tmp_path):
    base = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "AWS_PROFILE": "production",
        "AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/deployer",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/token",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/creds",
        "CDK_DEFAULT_ACCOUNT": "111111111111",
    }
    env = cli_environment("http://127.0.0.1:5555", tmp_path, base=base)
    aws = {key: value for key, value in env.items() if key.startswith(("AWS_", "CDK_DEFAULT_"))}
    assert aws == {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5555",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    assert (tmp_path / "aws-config").read_text() == (tmp_path / "aws-credentials").read_text() == ""
    assert env["CDK_HOME"] == str(tmp_path / "cdk-home")
    assert env["PATH"].endswith(":/usr/bin")


def test_boto3_reads_no_aws_settings_of_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "not-configured-here")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing"))
    deployment = LocalDeployment(MotoServer(pid=0, port=5555, log_file=tmp_path / "log"), tmp_path)
    session = deployment.session()
    client = deployment.account().client("sqs")
    assert (session.region_name, client.meta.endpoint_url) == ("us-east-1", "http://127.0.0.1:5555")
    assert session.get_credentials().access_key == "testing"


@pytest.mark.parametrize(
    ("outcome", "exit_code"),
    [("ok", 0), ("drift", 1), ("cdk fails", 2), ("stack unreadable", 2)],
)
def test_the_entry_point_exit_code_says_what_happened(monkeypatch, tmp_path, outcome, exit_code):
    class FakeReport:
        ok = outcome == "ok"

    def run(workdir, *, app, context):
        assert (workdir, app, context) == (tmp_path.resolve(), None, {"variant": "second"})
        if outcome == "cdk fails":
            raise CdkError(["deploy"], type("Result", (), {"returncode": 1, "stdout": "", "stderr": "boom"})())
        if outcome == "stack unreadable":
            raise StackNotReadable("stack OrdersPipeline: ValidationError: Stack with id OrdersPipeline does not exist")
        return FakeReport()

    monkeypatch.setattr(deploy_local_main, "run", run)
    assert deploy_local_main.main(["--workdir", str(tmp_path), "-c", "variant=second"]) == exit_code
