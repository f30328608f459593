"""Every AWS number and IAM action of `constructs_lib.limits` is written there once: no other module of the
package hard-codes one of its values. Pure: reads the sources as text, no CDK needed."""

import ast
import sys
from pathlib import Path

from constructs_lib import limits

PACKAGE = Path(limits.__file__).parent

# Numbers below this are too common (counts, indexes, small loops) to tell a fact from arithmetic.
SMALLEST_DISTINCT_NUMBER = 20

# The same value meaning something else, each with what it means there.
NOT_AWS_FACTS = {
    ("_cdk.py", 1000): "milliseconds per second",
    ("async_invocation.py", 1000): "milliseconds per second",
    ("stream_consumer.py", 1000): "milliseconds per second",
    ("checks/ranges.py", 3600): "seconds per hour",
    ("sources.py", 3600): "seconds per hour",
    ("fetch.py", 3600): "seconds per hour",
    ("failure_bucket.py", 86_400): "seconds per day (S3 lifecycle expiry counts whole days)",
    ("audit.py", 60): "characters of an intrinsic shown in a report",
    ("records.py", 60): "characters of a value shown in an error",
    ("verify/aws.py", 200): "characters of an error line shown",
    ("reader.py", 100): "nesting depth searched for a key",
    ("reader.py", 500): "nesting depth of a document read",
    ("redrive/_targets.py", 500): "HTTP status 500 and above: a server error, retried",
    ("redrive/cli.py", 30): "width of the progress bar",
    ("redrive/cli.py", 300): "the redrive tool's own default visibility timeout while it works on a message",
    ("redrive/_core.py", 300): "the redrive tool's own default visibility timeout while it works on a message",
}
# IAM actions written elsewhere on purpose: the statements of AWS managed policies (a different fact: what a
# policy grants, not what a wiring needs), and the one action of a set that a Kafka check requires per resource.
ACTIONS_ELSEWHERE = {"checks/iam.py", "checks/kafka.py"}


def _table_numbers() -> set[int]:
    numbers = set()
    for limit in limits.LIMITS.values():
        numbers |= {limit.minimum, limit.maximum}
        if limit.aws_default is not None:
            numbers.add(limit.aws_default)
    for name, value in vars(limits).items():
        if name.isupper() and type(value) is int:
            numbers.add(value)
    return {number for number in numbers if number >= SMALLEST_DISTINCT_NUMBER}


def _table_actions() -> set[str]:
    actions: set[str] = set()
    for name, value in vars(limits).items():
        if name.endswith("ACTIONS"):
            for group in value.values() if isinstance(value, dict) else [value]:
                actions |= set(group)
        elif name.endswith("_ACTION"):
            actions.add(value)
    return actions


def _hard_coded(numbers: set[int], actions: set[str]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "limits.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=module)):
            if not isinstance(node, ast.Constant):
                continue
            value = node.value
            if type(value) is int and value in numbers and (module, value) not in NOT_AWS_FACTS:
                found.append(f"{module}:{node.lineno} {value}")
            if isinstance(value, str) and value in actions and module not in ACTIONS_ELSEWHERE:
                found.append(f"{module}:{node.lineno} {value!r}")
    return found


def test_the_table_holds_the_facts_the_scan_looks_for():
    numbers = _table_numbers()
    actions = _table_actions()
    assert {21_600, 604_800, 10_000, 345_600, 30, 86_400} <= numbers
    assert {"s3:PutObject", "s3:ListBucket", "lambda:InvokeFunction", "sqs:SendMessage"} <= actions


def test_no_module_hard_codes_a_number_or_action_of_the_table():
    assert _hard_coded(_table_numbers(), _table_actions()) == []


def test_the_scan_finds_a_hard_coded_fact(tmp_path, monkeypatch):
    (tmp_path / "limits.py").write_text("X = 1\n")
    (tmp_path / "consumer.py").write_text('VISIBILITY = 30\nACTIONS = ("s3:PutObject",)\nPAGE = 30 // 3\n')
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert _hard_coded({30}, {"s3:PutObject"}) == [
        "consumer.py:1 30",
        "consumer.py:2 's3:PutObject'",
        "consumer.py:3 30",
    ]


def test_every_exception_is_still_needed():
    """An exception whose value no longer stands in its module is removed, so the list never hides a fact."""
    numbers = _table_numbers()
    unused = []
    for (module, value), _reason in NOT_AWS_FACTS.items():
        tree = ast.parse((PACKAGE / module).read_text())
        if value not in numbers or not any(
            isinstance(node, ast.Constant) and node.value == value for node in ast.walk(tree)
        ):
            unused.append((module, value))
    assert unused == []
