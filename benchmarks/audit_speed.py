"""How long the audit takes on a large template: 1,000 resources (and 500, 2,000 to see how it grows).

    .venv/bin/python -m benchmarks.audit_speed [--runs 7]

The template is generated: pipelines of 10 resources each (a function with its role and policy, a Kinesis
stream and its mapping, a failure queue, an SQS source queue with its dead-letter queue and mapping, and an
alarm), wired like real apps, a third of them with gaps so that rules fire. Measured in one process, after
start-up (imports done, files warm): reading the JSON file, all checks, the text report and the Markdown
report with its Mermaid diagrams. Reported: the median of the runs and the time per resource.
Not part of `make test`: timing goals are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from constructs_lib.audit import audit_inputs, render_text
from constructs_lib.audit_markdown import render_markdown

RESOURCES_PER_PIPELINE = 10


def pipeline(index: int) -> dict[str, Any]:
    """Ten resources; every third pipeline has gaps (no bisect, no failure home, no redrive policy)."""
    n = f"P{index}"
    flawed = index % 3 == 0
    statements = [
        {"Effect": "Allow", "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
                                        "kinesis:DescribeStreamSummary", "kinesis:ListShards"],
         "Resource": {"Fn::GetAtt": [f"{n}Stream", "Arn"]}},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": [f"{n}Failures", "Arn"]}},
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
         "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${" + n + "Jobs.QueueName}"}},  # noqa: E501
    ]  # fmt: skip
    stream_mapping = {
        "FunctionName": {"Ref": f"{n}Fn"},
        "EventSourceArn": {"Fn::GetAtt": [f"{n}Stream", "Arn"]},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if not flawed:
        stream_mapping |= {
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [f"{n}Failures", "Arn"]}}},
        }
    jobs = {"VisibilityTimeout": 180}
    if not flawed:
        jobs["RedrivePolicy"] = {"deadLetterTargetArn": {"Fn::GetAtt": [f"{n}JobsDlq", "Arn"]}, "maxReceiveCount": 5}
    return {
        f"{n}Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        f"{n}Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"Roles": [{"Ref": f"{n}Role"}], "PolicyDocument": {"Statement": statements}},
        },
        f"{n}Fn": {
            "Type": "AWS::Lambda::Function",
            "Metadata": {"aws:cdk:path": f"Big/Pipeline{index}/Fn/Resource"},
            "Properties": {"Role": {"Fn::GetAtt": [f"{n}Role", "Arn"]}, "Timeout": 30},
        },
        f"{n}Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        f"{n}StreamMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": stream_mapping},
        f"{n}Failures": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1_209_600}},
        f"{n}Jobs": {"Type": "AWS::SQS::Queue", "Properties": jobs},
        f"{n}JobsDlq": {"Type": "AWS::SQS::Queue"},
        f"{n}JobsMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": f"{n}Fn"},
                "EventSourceArn": {"Fn::GetAtt": [f"{n}Jobs", "Arn"]},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
        f"{n}FailuresAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{n}Failures", "QueueName"]}}],
            },
        },
    }


def big_template(resources: int) -> dict[str, Any]:
    template: dict[str, Any] = {"Resources": {}}
    for index in range(resources // RESOURCES_PER_PIPELINE):
        template["Resources"] |= pipeline(index)
    return template


def measure(path: Path, runs: int) -> tuple[float, int, int]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        reports, problems, _ = audit_inputs(path)
        render_text(reports)
        render_markdown(reports)
        timings.append(time.perf_counter() - start)
    assert not problems
    findings = sum(len(report.findings) for report in reports)
    diagrams = render_markdown(reports).count("```mermaid")
    return statistics.median(timings), findings, diagrams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {args.runs} runs each, median")
    print("| resources | findings | diagrams | audit (read, check, text + Markdown) | per resource |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for resources in (500, 1_000, 2_000):
            path = Path(scratch) / f"big{resources}.template.json"
            path.write_text(json.dumps(big_template(resources)))
            seconds, findings, diagrams = measure(path, args.runs)
            per_resource = seconds / resources * 1000
            print(f"| {resources:,} | {findings} | {diagrams} | {seconds:.3f} s | {per_resource:.2f} ms |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
