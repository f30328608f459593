"""Every Python example in the README runs as written, and prints what the README shows after it.

Examples of the runtime tools talk to AWS: they run against moto, in a sandbox that holds what the README
assumes exists — a Kinesis stream `orders` with a failed batch, and the failure queue (`FAILURE_QUEUE_URL`)
holding its on-failure record — plus the sample values some snippets start from (`message`, `json_text`,
`event`).
"""

import contextlib
import datetime as dt
import io
import json
import re

import boto3
import pytest
from moto import mock_aws

from tests.harness import PROJECT_ROOT
from tests.runtime_support import (
    fixture_text,
    load_fixture,
    s3_failure_object,
    s3_failure_object_key,
    stream_failure_record,
    use_fake_aws,
)

# A python block, optionally followed by a plain block holding the output it prints.
EXAMPLE = re.compile(r"```python\n(?P<code>.*?)```(?:\n\n```\n(?P<output>.*?)```)?", flags=re.DOTALL)
EXAMPLES = [(m["code"], m["output"]) for m in EXAMPLE.finditer((PROJECT_ROOT / "README.md").read_text())]


@pytest.fixture
def sandbox(monkeypatch):
    use_fake_aws(monkeypatch)
    with mock_aws():
        kinesis, sqs = boto3.client("kinesis"), boto3.client("sqs")
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        stream_arn = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["StreamARN"]
        put = [
            kinesis.put_record(StreamName="orders", Data=json.dumps({"order_id": f"o-{n}"}).encode(), PartitionKey="k")
            for n in range(3)
        ]
        record = stream_failure_record(
            batch_key="KinesisBatchInfo",
            stream_arn=stream_arn,
            shard_id=put[0]["ShardId"],
            start=put[0]["SequenceNumber"],
            end=put[-1]["SequenceNumber"],
            batch_size=3,
            first_arrival=dt.datetime.now(dt.UTC),
        )
        queue_url = sqs.create_queue(QueueName="failures")["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="orders-failures")
        s3_object = s3_failure_object([("k", b'{"order_id": "o-9"}')], stream_arn=stream_arn)
        s3.put_object(Bucket="orders-failures", Key=s3_failure_object_key(0), Body=json.dumps(s3_object))
        yield {
            "FAILURE_QUEUE_URL": queue_url,
            "message": load_fixture("sqs_message_sns_kinesis_on_failure.json"),
            "json_text": fixture_text("kinesis_on_failure.json"),
            "event": load_fixture("lambda_sns_event_dynamodb_on_failure.json"),
        }


def test_the_readme_has_examples():
    # Every python block of the README is an example (none is left out by the pattern), and these print output.
    assert len(EXAMPLES) == (PROJECT_ROOT / "README.md").read_text().count("```python\n")
    assert sum(1 for _, output in EXAMPLES if output) == 10


@pytest.mark.parametrize(("code", "output"), EXAMPLES, ids=[f"example-{n}" for n in range(1, len(EXAMPLES) + 1)])
def test_readme_example_runs(code, output, tmp_path, monkeypatch, sandbox):
    monkeypatch.chdir(tmp_path)  # any cdk.out an example writes stays out of the project
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__", **sandbox})
    if output is not None:
        assert printed.getvalue() == output


def shell_output(command: str) -> str:
    """The plain block the README shows after the bash block holding `command` (one sentence may come between)."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = r"```bash\n" + re.escape(command) + r"\n```\n\n(?:[^`\n][^\n]*\n\n)?```\n(?P<output>.*?)```"
    found = re.search(block, readme, re.DOTALL)
    assert found, f"no output block after `{command}` in the README"
    return found["output"]


def test_readme_redrive_dry_run_output_is_a_real_run(monkeypatch):
    """The dry run of "Fix the function, then replay": the CLI on moto (in process) with the README's setting,
    a failure queue `OrdersProcessorFailures` holding the on-failure record of a 500-record Kinesis batch.
    Only the SQS message id is random: it is replaced by the README's before comparing."""
    from constructs_lib.redrive.cli import main

    shown = shell_output('python -m constructs_lib.redrive --from "$FAILURE_QUEUE_URL" --to-stream orders --dry-run')
    use_fake_aws(monkeypatch)
    with mock_aws():
        kinesis, sqs = boto3.client("kinesis"), boto3.client("sqs")
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        stream_arn = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["StreamARN"]
        entries = [{"Data": json.dumps({"order_id": f"o-{n}"}).encode(), "PartitionKey": "k"} for n in range(500)]
        put = kinesis.put_records(StreamName="orders", Records=entries)["Records"]
        record = stream_failure_record(
            batch_key="KinesisBatchInfo",
            stream_arn=stream_arn,
            shard_id=put[0]["ShardId"],
            start=put[0]["SequenceNumber"],
            end=put[-1]["SequenceNumber"],
            batch_size=500,
            first_arrival=dt.datetime.now(dt.UTC),
        )
        queue_url = sqs.create_queue(QueueName="OrdersProcessorFailures")["QueueUrl"]
        message_id = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))["MessageId"]
        printed = io.StringIO()
        status = main(
            ["--from", queue_url, "--to-stream", "orders", "--dry-run", "--wait-seconds", "0"],
            stdout=printed,
            stderr=io.StringIO(),
        )
        assert (
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
            == "1"
        )  # a dry run deletes nothing
    assert status == 0
    shown_id = shown.split(":", 1)[0]
    assert printed.getvalue().replace(message_id, shown_id) == shown


def test_readme_redrive_synopsis_is_the_parsers_options():
    """The README's synopsis of the redrive CLI is set by hand (wider `--from` than argparse's usage line shows),
    so it is compared with the parser: the same options, each with its metavar (or choices), and nothing more."""
    import argparse

    from constructs_lib.redrive.cli import build_parser

    readme = (PROJECT_ROOT / "README.md").read_text()
    synopsis = re.search(r"### The redrive CLI\n\n```\n(?P<text>.*?)```", readme, re.DOTALL)
    assert synopsis, "the README's redrive synopsis is missing"
    text = synopsis["text"].removeprefix("python -m constructs_lib.redrive")
    actions = [action for action in build_parser()._actions if not isinstance(action, argparse._HelpAction)]
    assert set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", text)) == {action.option_strings[0] for action in actions}
    for action in actions:
        option = action.option_strings[0]
        if action.choices:
            value = "{" + ",".join(action.choices) + "}"
        elif action.nargs == 0:
            value = ""
        else:
            value = action.metavar or action.dest.upper()
        # `--from` is shown with the S3 form its metavar leaves out: `--from (QUEUE_URL | s3://...)`.
        assert re.search(re.escape(option) + (r" \(?" + re.escape(value) if value else r"[\]\) |\n]"), text), option
