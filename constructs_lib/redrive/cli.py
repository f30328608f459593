"""Command line front-end of :func:`constructs_lib.redrive.redrive`.

Exit status: 0 when every message was moved (or would be, in a dry run); 1 when anything failed, a moved
message could not be deleted, or the run stopped on an error; 2 for invalid arguments; 3 when nothing failed
but messages are left in the failure queue: skipped, hidden (in flight) when the run started, or held back
behind a skipped message in a FIFO group.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

from constructs_lib._cli import REDRIVE_SCRIPT, program_name
from constructs_lib.limits import S3_FAILURE_OBJECT_PREFIX
from constructs_lib.records import StreamKind
from constructs_lib.redrive._bucket import AfterReplay, redrive_bucket
from constructs_lib.redrive._core import MessageResult, Outcome, RedriveProgress, RedriveSummary, redrive
from constructs_lib.redrive._targets import (
    FunctionTarget,
    OriginalFunctionTarget,
    QueueTarget,
    RedriveTarget,
    StreamTarget,
    _default_client,
    _region_of,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3
# Listing every failed or skipped message of a huge run would bury the summary.
_MAX_LISTED = 20
_SQS_URL_REGION = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")

DESCRIPTION = """\
Replay the messages of a Lambda failure queue (on-failure destination or dead-letter queue) to a target.
A message is deleted from the failure queue only after its replay succeeded: anything that fails or cannot
be replayed stays there. Delivery is at-least-once: if the process dies between sending and deleting, the
next run sends those messages again, so consumers must tolerate duplicates.

What each target accepts:
  --to-function / --to-original-function   async invocation records and DLQ messages: invoked
                                           asynchronously with the original event (--to-original-function
                                           uses the function ARN the record names; DLQ messages do not
                                           name one and are skipped)
  --to-queue                               everything: the original event, or one message per fetched
                                           stream record (as a Lambda event record)
  --to-stream                              everything: Kinesis records keep data and partition key
Kinesis and DynamoDB batches are fetched from their stream first, which works only while the stream still
keeps them (24 hours for DynamoDB Streams, the retention period for Kinesis).

--from s3://BUCKET[/PREFIX] replays an S3 failure bucket of a Kinesis or DynamoDB Streams mapping instead
(default prefix aws/lambda/): its objects hold the records themselves, nothing is fetched. An object is
deleted (--after tag: tagged constructs-lib-redriven=true and kept) only once all its records were replayed;
--to-function invokes the whole failed event, --to-original-function the function the record names.

AWS credentials and region come from the usual places (environment, profile); AWS_ENDPOINT_URL points every
client at another endpoint.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(REDRIVE_SCRIPT, "constructs_lib.redrive"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="QUEUE_URL", help="the failure queue, or s3://BUCKET[/PREFIX]"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-queue", metavar="QUEUE_URL", help="send to this SQS queue")
    target.add_argument("--to-stream", metavar="STREAM", help="put to this Kinesis stream (name or ARN)")
    target.add_argument("--to-function", metavar="FUNCTION", help="invoke this function (name or ARN) asynchronously")
    target.add_argument(
        "--to-original-function",
        action="store_true",
        help="invoke the function each async invocation record names, asynchronously",
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would happen; send and delete nothing")
    parser.add_argument("--max", type=_non_negative, metavar="N", help="take at most N messages (default: all)")
    parser.add_argument("--region", help="region of the failure queue and of targets given by name")
    parser.add_argument(
        "--visibility-timeout",
        type=_positive,
        default=300,
        metavar="SECONDS",
        help="how long received messages stay hidden while the run lasts (default: 300)",
    )
    parser.add_argument(
        "--wait-seconds",
        type=_non_negative,
        default=1,
        metavar="SECONDS",
        help="long-poll time of each receive; the run ends at the first empty one (default: 1)",
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="progress bar on stderr (default: auto, when stderr is a terminal)",
    )
    parser.add_argument(
        "--after",
        choices=[after.value for after in AfterReplay],
        default=AfterReplay.DELETE.value,
        help="S3 source: what to do with a replayed object (default: delete)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print one line per message")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)

    region = args.region or _region_of_queue_url(args.source)
    progress = ProgressBar(stderr, enabled=args.progress == "always" or (args.progress == "auto" and _isatty(stderr)))
    printer = _ResultPrinter(
        _PrintableStream(stdout), dry_run=args.dry_run, verbose=args.verbose or args.dry_run, quiet=args.json
    )

    def on_result(result: MessageResult) -> None:
        if printer.enabled:
            progress.clear()
            printer(result)

    try:
        target = _make_target(args, region)
        if args.source.startswith("s3://"):
            bucket, _, prefix = args.source.removeprefix("s3://").partition("/")
            summary = redrive_bucket(
                bucket,
                target,
                prefix=prefix or S3_FAILURE_OBJECT_PREFIX,
                s3_client=_default_client("s3", region),
                max_objects=args.max,
                dry_run=args.dry_run,
                after=args.after,
                on_result=on_result,
                on_progress=progress.update if progress.enabled else None,
            )
        else:
            summary = redrive(
                args.source,
                target,
                sqs_client=_default_client("sqs", region),
                stream_client_factory=_stream_client,
                max_messages=args.max,
                dry_run=args.dry_run,
                visibility_timeout=args.visibility_timeout,
                wait_seconds=args.wait_seconds,
                on_progress=progress.update if progress.enabled else None,
                on_result=on_result,
            )
    except Exception as error:  # a setup problem (no region, bad credentials...): a message, not a traceback
        progress.close()
        print(f"error: {type(error).__name__}: {error}", file=stderr)
        return EXIT_FAILED
    progress.close()
    if args.json:
        print(json.dumps(summary_as_dict(summary, args.source, target.describe()), indent=2), file=stdout)
    else:
        print_summary(summary, args.source, target.describe(), _PrintableStream(stdout))
    if not summary.ok:
        return EXIT_FAILED
    return EXIT_SKIPPED if summary.left_in_queue else EXIT_OK


def print_summary(summary: RedriveSummary, source: str, target: str, stream: TextOut) -> None:
    """The human-readable end-of-run report: counts, then every failed or skipped message and why."""
    verb = "would move" if summary.dry_run else "moved"
    dry_run_note = " (dry run: nothing sent, nothing deleted)" if summary.dry_run else ""
    print(f"redrive from {source} to {target}{dry_run_note}", file=stream)
    print(f"{verb}: {summary.moved}, failed: {summary.failed}, skipped: {summary.skipped}", file=stream)
    for outcome in (Outcome.FAILED, Outcome.SKIPPED):
        listed = [result for result in summary.results if result.outcome is outcome]
        if listed:
            print(f"{outcome.value} (left in the failure queue):", file=stream)
        for result in listed[:_MAX_LISTED]:
            print(f"  {result.message_id}: {result.reason}", file=stream)
        if len(listed) > _MAX_LISTED:
            print(f"  ... and {len(listed) - _MAX_LISTED} more", file=stream)
    if summary.not_deleted:
        print(
            f"warning: {len(summary.not_deleted)} moved message(s) could not be deleted from the failure queue; "
            "a rerun will replay them again (duplicates):",
            file=stream,
        )
        for result in summary.not_deleted[:_MAX_LISTED]:
            print(f"  {result.message_id}: {result.reason}", file=stream)
    if summary.possible_duplicates:
        print(
            f"possible duplicates: {len(summary.possible_duplicates)} message(s) may arrive (or have arrived) twice "
            "at the target (a lost answer, or moved but not deleted); consumers must be idempotent:",
            file=stream,
        )
        for result in summary.possible_duplicates[:_MAX_LISTED]:
            print(f"  {result.message_id}", file=stream)
    if summary.in_flight_at_start:
        print(
            f"warning: {summary.in_flight_at_start} message(s) were hidden (in flight) when the run started: another "
            "consumer or a run that stopped holds them; they reappear when their visibility timeout ends, run "
            "again then",
            file=stream,
        )
    if summary.held_back_groups:
        groups = ", ".join(summary.held_back_groups[:_MAX_LISTED])
        print(
            f"warning: FIFO failure queue: in {len(summary.held_back_groups)} message group(s) ({groups}) a message "
            "left in the queue holds back the ones behind it; they were not received",
            file=stream,
        )
    if summary.not_reached:
        print(f"not reached: {summary.not_reached} message(s) received ahead, put back untouched", file=stream)
    if summary.stopped_by:
        print(f"stopped early: {summary.stopped_by}; the messages not moved are still in the queue", file=stream)


def summary_as_dict(summary: RedriveSummary, source: str, target: str) -> dict[str, Any]:
    """The summary as plain data (``--json``)."""
    return {
        "source": source,
        "target": target,
        "dry_run": summary.dry_run,
        "moved": summary.moved,
        "failed": summary.failed,
        "skipped": summary.skipped,
        "not_deleted": len(summary.not_deleted),
        "possible_duplicates": len(summary.possible_duplicates),
        "in_flight_at_start": summary.in_flight_at_start,
        "held_back_groups": list(summary.held_back_groups),
        "not_reached": summary.not_reached,
        "stopped_by": summary.stopped_by,
        "messages": [
            {
                "message_id": result.message_id,
                "outcome": result.outcome.value,
                "description": result.description,
                "action": result.action,
                "reason": result.reason,
                "deleted": result.deleted,
                "possible_duplicate": result.possible_duplicate,
            }
            for result in summary.results
        ],
    }


class TextOut(Protocol):
    """What the reports are printed to: a text stream, or a `_PrintableStream` wrapping one."""

    def write(self, text: str, /) -> int: ...


class _PrintableStream:
    """Writes text that may quote message contents: a lone surrogate is printed as its escape, not a crash."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))

    def flush(self) -> None:
        self._stream.flush()


class ProgressBar:
    """A one-line textual progress bar, redrawn in place with a carriage return."""

    def __init__(self, stream: TextIO, *, enabled: bool, width: int = 30) -> None:
        self.stream = stream
        self.enabled = enabled
        self.width = width
        self._drawn = False

    def update(self, progress: RedriveProgress) -> None:
        if not self.enabled:
            return
        counts = f"moved {progress.moved}, failed {progress.failed}, skipped {progress.skipped}"
        if progress.total:
            filled = min(self.width, self.width * progress.done // progress.total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"[{bar}] {progress.done}/{progress.total} messages: {counts}"
        else:
            line = f"{progress.done} messages: {counts}"
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the bar so that a line printed next starts at the left margin."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class _ResultPrinter:
    """Prints one line per settled message (dry runs and --verbose)."""

    def __init__(self, stream: TextOut, *, dry_run: bool, verbose: bool, quiet: bool) -> None:
        self.stream = stream
        self.dry_run = dry_run
        self.enabled = verbose and not quiet

    def __call__(self, result: MessageResult) -> None:
        if not self.enabled:
            return
        if result.outcome is Outcome.MOVED:
            verb = "would" if self.dry_run else "did"
            line = f"{result.message_id}: {result.description}\n    {verb}: {result.action}"
        else:
            line = f"{result.message_id}: {result.description}\n    {result.outcome.value}: {result.reason}"
        print(line, file=self.stream)


def _make_target(args: argparse.Namespace, region: str | None) -> RedriveTarget:
    if args.to_queue:
        return QueueTarget(args.to_queue, client=_default_client("sqs", _region_of_queue_url(args.to_queue) or region))
    if args.to_stream:
        return StreamTarget(args.to_stream, client=_default_client("kinesis", _region_of(args.to_stream) or region))
    if args.to_function:
        return FunctionTarget(
            args.to_function, client=_default_client("lambda", _region_of(args.to_function) or region)
        )
    return OriginalFunctionTarget()


def _stream_client(kind: StreamKind, region: str) -> Any:
    return _default_client("kinesis" if kind is StreamKind.KINESIS else "dynamodbstreams", region)


def _region_of_queue_url(url: str) -> str | None:
    match = _SQS_URL_REGION.match(url)
    return match.group(1) if match else None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _non_negative(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value
