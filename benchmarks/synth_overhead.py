"""Synth overhead of constructs_lib against the same pipelines written with plain aws-cdk-lib.

    make bench                      # or: .venv/bin/python -m benchmarks.synth_overhead --runs 5

Each measurement is a separate process (Python and jsii start-up included, as in `cdk synth`) that builds N
pipelines and synthesizes them; runs of both variants are interleaved so that machine noise hits both alike.
A pipeline is a stream consumer and an asynchronously invoked function, configured as closely alike as the
two APIs allow. Reported: median whole-process time, resources synthesized, seconds per resource, and the
ratio of constructs_lib to plain aws-cdk-lib; the marginal cost of one more pipeline, (t(N) - t(1)) / (N - 1),
which leaves out start-up; the jsii round trips (requests from Python to the JavaScript kernel, counted by
wrapping the kernel's send) per pipeline and per constructs_lib construct. Also: the time from a constructor
call to its ValidationError.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SIZES = (1, 10, 30)
PIPELINES_PER_STACK = 10  # 31 resources each: 10 stay under CloudFormation's 500 resources per stack


def _code():
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n")


def _function(stack, id: str):
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Function(
        stack,
        id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=_code(),
        memory_size=256,
        timeout=cdk.Duration.seconds(30),
    )


def build_ours(stack, index: int) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kinesis as kinesis

    from constructs_lib import AsyncInvocation, FailureQueue, StreamConsumer

    stream = kinesis.Stream(stack, f"Stream{index}", encryption=kinesis.StreamEncryption.MANAGED)
    StreamConsumer(
        stack, f"Consume{index}", function=_function(stack, f"Consumer{index}"), source=stream, batch_size=100
    )
    AsyncInvocation(
        stack,
        f"Notify{index}",
        function=_function(stack, f"Notifier{index}"),
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        dead_letter_queue=FailureQueue(stack, f"NotifierDlq{index}"),
    )


def _queue(stack, id: str):
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    return sqs.Queue(
        stack,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )


def _alarm(stack, id: str, metric, threshold: float) -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    cloudwatch.Alarm(
        stack,
        id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=f"{id} of the benchmark pipeline",
    )


def _queue_alarms(stack, queue, id: str) -> None:
    import aws_cdk as cdk

    _alarm(
        stack, f"{id}Waiting", queue.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(1)), 1
    )
    _alarm(
        stack, f"{id}Oldest", queue.metric_approximate_age_of_oldest_message(period=cdk.Duration.minutes(1)), 967_680
    )


def build_plain(stack, index: int) -> None:
    """The same pipeline with aws-cdk-lib's L2 constructs, alarms included (as constructs_lib makes them)."""
    import aws_cdk as cdk
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_lambda_destinations as destinations
    from aws_cdk import aws_lambda_event_sources as sources

    stream = kinesis.Stream(stack, f"Stream{index}", encryption=kinesis.StreamEncryption.MANAGED)
    consumer = _function(stack, f"Consumer{index}")
    consume_failures = _queue(stack, f"ConsumeFailures{index}")
    consumer.add_event_source(
        sources.KinesisEventSource(
            stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=100,
            bisect_batch_on_error=True,
            retry_attempts=3,
            max_record_age=cdk.Duration.hours(1),
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(consume_failures),
        )
    )
    minute = cdk.Duration.minutes(1)
    _alarm(
        stack,
        f"ConsumerIteratorAge{index}",
        consumer.metric("IteratorAge", statistic="Maximum", period=minute),
        1_800_000,
    )
    _alarm(stack, f"ConsumerErrors{index}", consumer.metric_errors(period=minute), 1)
    _alarm(stack, f"ConsumerDeliveryFailures{index}", consumer.metric("DestinationDeliveryFailures", period=minute), 1)
    _alarm(
        stack,
        f"StreamIteratorAge{index}",
        stream.metric_get_records_iterator_age_milliseconds(period=minute),
        69_120_000,
    )
    _queue_alarms(stack, consume_failures, f"ConsumeFailures{index}")
    notifier_dlq = _queue(stack, f"NotifierDlq{index}")
    notify_failures = _queue(stack, f"NotifyFailures{index}")
    notifier = lambda_.Function(
        stack,
        f"Notifier{index}",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=_code(),
        memory_size=256,
        timeout=cdk.Duration.seconds(30),
        dead_letter_queue=notifier_dlq,
    )
    notifier.configure_async_invoke(
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        on_failure=destinations.SqsDestination(notify_failures),
    )
    for metric_name, threshold in (
        ("AsyncEventsDropped", 1),
        ("AsyncEventAge", 1_800_000),
        ("DestinationDeliveryFailures", 1),
        ("DeadLetterErrors", 1),
    ):
        _alarm(stack, f"Notifier{metric_name}{index}", notifier.metric(metric_name, period=minute), threshold)
    _queue_alarms(stack, notifier_dlq, f"NotifierDlq{index}")
    _queue_alarms(stack, notify_failures, f"NotifyFailures{index}")


def worker(variant: str, size: int) -> None:
    """Build and synthesize `size` pipelines; print the number of resources."""
    import aws_cdk as cdk

    with tempfile.TemporaryDirectory() as outdir:
        context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
        app = cdk.App(context=context, outdir=outdir)
        build = build_ours if variant == "ours" else build_plain
        stacks = []
        for index in range(size):
            if index % PIPELINES_PER_STACK == 0:
                stacks.append(cdk.Stack(app, f"Bench{len(stacks)}"))
            build(stacks[-1], index)
        assembly = app.synth()
        resources = sum(
            len(
                json.loads(Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path).read_text())[
                    "Resources"
                ]
            )
            for stack in stacks
        )
    print(json.dumps({"resources": resources}))


class _RoundTrips:
    """Counts the requests Python sends to the jsii kernel (each one a round trip to the Node process)."""

    def __init__(self) -> None:
        from jsii._kernel.providers import process

        self.count = 0
        original = process._NodeProcess.send

        def send(node_process, request, response_type):
            self.count += 1
            return original(node_process, request, response_type)

        process._NodeProcess.send = send


def round_trip_worker(pipelines: int) -> None:
    """jsii round trips per pipeline of each variant, and per constructs_lib construct, after one warm-up
    pipeline (so that first-use loading of jsii types is not counted)."""
    import aws_cdk as cdk
    from aws_cdk import aws_kinesis as kinesis

    from constructs_lib import AsyncInvocation, FailureQueue, StreamConsumer

    counter = _RoundTrips()
    app = cdk.App(context=json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"])
    result: dict[str, float] = {}
    for variant, build in (("plain", build_plain), ("ours", build_ours)):
        stack = cdk.Stack(app, f"RoundTrips{variant}")
        build(stack, 0)
        before = counter.count
        for index in range(1, pipelines + 1):
            build(stack, index)
        result[variant] = (counter.count - before) / pipelines

    stack = cdk.Stack(app, "PerConstruct")
    per_construct: dict[str, list[int]] = {"FailureQueue": [], "StreamConsumer": [], "AsyncInvocation": []}
    for index in range(pipelines + 1):
        stream = kinesis.Stream(stack, f"Stream{index}", encryption=kinesis.StreamEncryption.MANAGED)
        consumer, notifier = _function(stack, f"Consumer{index}"), _function(stack, f"Notifier{index}")
        before = counter.count
        queue = FailureQueue(stack, f"NotifierDlq{index}")
        after_queue = counter.count
        StreamConsumer(stack, f"Consume{index}", function=consumer, source=stream, batch_size=100)
        after_consumer = counter.count
        AsyncInvocation(
            stack,
            f"Notify{index}",
            function=notifier,
            retry_attempts=1,
            max_event_age=cdk.Duration.hours(1),
            dead_letter_queue=queue,
        )
        if index:  # the first of each is the warm-up
            per_construct["FailureQueue"].append(after_queue - before)
            per_construct["StreamConsumer"].append(after_consumer - after_queue)
            per_construct["AsyncInvocation"].append(counter.count - after_consumer)
    result.update({name: statistics.mean(counts) for name, counts in per_construct.items()})
    print(json.dumps(result))


def validation_worker(repeats: int) -> None:
    """Time from a constructor call to its ValidationError (after jsii is warm)."""
    import aws_cdk as cdk
    from aws_cdk import aws_kinesis as kinesis

    from constructs_lib import StreamConsumer, ValidationError

    stack = cdk.Stack(cdk.App(), "Bench")
    function, stream = _function(stack, "Consumer"), kinesis.Stream(stack, "Stream")
    timings = []
    for index in range(repeats):
        start = time.perf_counter()
        try:
            StreamConsumer(stack, f"Bad{index}", function=function, source=stream, batch_size=0, retry_attempts=-5)
        except ValidationError:
            timings.append(time.perf_counter() - start)
    print(json.dumps({"median_ms": statistics.median(timings) * 1000, "max_ms": max(timings) * 1000}))


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str]) -> tuple[float, dict]:
    """Wall time of one worker process and its output; its CPU time (Python and the jsii Node process, which the
    worker waits for) is in the output as ``cpu_s``."""
    env = {**os.environ, "PATH": f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    cpu_start = _children_cpu_seconds()
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.synth_overhead", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    cpu = _children_cpu_seconds() - cpu_start
    if result.returncode != 0:
        sys.exit(f"benchmark worker {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return elapsed, {**json.loads(result.stdout.strip().splitlines()[-1]), "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs per variant and size (default 5)")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--worker", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--validation-worker", type=int, metavar="REPEATS", help=argparse.SUPPRESS)
    parser.add_argument("--round-trip-worker", type=int, metavar="PIPELINES", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    if args.validation_worker:
        validation_worker(args.validation_worker)
        return
    if args.round_trip_worker:
        round_trip_worker(args.round_trip_worker)
        return

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    # CPU time is reported beside wall time: on a shared machine it moves far less with other load.
    print(
        "| pipelines | variant | median s | resources | ms per resource | ratio per resource "
        "| median CPU s | CPU ratio per resource |"
    )
    print("|---|---|---|---|---|---|---|---|")
    medians: dict[tuple[str, int], float] = {}
    cpu_medians: dict[tuple[str, int], float] = {}
    for size in args.sizes:
        times: dict[str, list[float]] = {"ours": [], "plain": []}
        cpu_times: dict[str, list[float]] = {"ours": [], "plain": []}
        resources: dict[str, int] = {}
        for _ in range(args.runs):
            for variant in ("ours", "plain"):
                elapsed, output = _run(["--worker", variant, str(size)])
                times[variant].append(elapsed)
                cpu_times[variant].append(output["cpu_s"])
                resources[variant] = output["resources"]
        per_resource = {v: statistics.median(times[v]) / resources[v] for v in times}
        cpu_per_resource = {v: statistics.median(cpu_times[v]) / resources[v] for v in times}
        medians.update({(v, size): statistics.median(times[v]) for v in times})
        cpu_medians.update({(v, size): statistics.median(cpu_times[v]) for v in times})
        for variant in ("plain", "ours"):
            ratio = per_resource[variant] / per_resource["plain"]
            cpu_ratio = cpu_per_resource[variant] / cpu_per_resource["plain"]
            print(
                f"| {size} | {'constructs_lib' if variant == 'ours' else 'aws-cdk-lib'} | "
                f"{statistics.median(times[variant]):.2f} | {resources[variant]} | "
                f"{per_resource[variant] * 1000:.1f} | {ratio:.2f}x | "
                f"{statistics.median(cpu_times[variant]):.2f} | {cpu_ratio:.2f}x |"
            )
    if 1 in args.sizes and len(args.sizes) > 1:
        print("\nmarginal cost of one more pipeline, (t(N) - t(1)) / (N - 1), start-up left out:")
        print(
            "| N | aws-cdk-lib ms | constructs_lib ms | ratio "
            "| aws-cdk-lib CPU ms | constructs_lib CPU ms | CPU ratio |"
        )
        print("|---|---|---|---|---|---|---|")
        for size in (s for s in args.sizes if s > 1):
            marginal = {v: (medians[(v, size)] - medians[(v, 1)]) / (size - 1) for v in ("plain", "ours")}
            cpu = {v: (cpu_medians[(v, size)] - cpu_medians[(v, 1)]) / (size - 1) for v in ("plain", "ours")}
            print(
                f"| {size} | {marginal['plain'] * 1000:.0f} | {marginal['ours'] * 1000:.0f} | "
                f"{marginal['ours'] / marginal['plain']:.2f}x | {cpu['plain'] * 1000:.0f} | {cpu['ours'] * 1000:.0f} | "
                f"{cpu['ours'] / cpu['plain']:.2f}x |"
            )
    _, trips = _run(["--round-trip-worker", "5"])
    print(
        f"\njsii round trips per pipeline: aws-cdk-lib {trips['plain']:.0f}, constructs_lib {trips['ours']:.0f} "
        f"({trips['ours'] / trips['plain']:.2f}x); per construct: FailureQueue {trips['FailureQueue']:.0f}, "
        f"StreamConsumer {trips['StreamConsumer']:.0f}, AsyncInvocation {trips['AsyncInvocation']:.0f}"
    )
    _, validation = _run(["--validation-worker", "50"])
    print(
        f"\nconstructor call to ValidationError: median {validation['median_ms']:.1f} ms, "
        f"max {validation['max_ms']:.1f} ms (50 calls)"
    )


if __name__ == "__main__":
    main()
