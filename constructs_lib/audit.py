"""Audit CLI: the failure handling of every function in CloudFormation / SAM templates, and its findings.

    python -m constructs_lib.audit cdk.out/            # a cloud assembly: stages and nested stacks included
    python -m constructs_lib.audit infra/              # a folder: .json/.yaml/.yml/.template, recursively
    python -m constructs_lib.audit template.yaml --format markdown    # tables and Mermaid failure paths

Exit code: 0 without error-level findings, 1 with at least one, 2 when some input cannot be read (a missing
path, a file that is not a template, a transform that cannot be expanded, a nested stack that is not a local
file): what was read is still reported, but the result is never "clean".
Pure: needs neither the CDK nor AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib._cli import AUDIT_SCRIPT, program_name
from constructs_lib.checks import RULES, Finding, Level, run_checks
from constructs_lib.checks.asynchronous import async_invoked_functions
from constructs_lib.checks.template import (
    FUNCTION,
    MappingView,
    TemplateView,
    as_list,
    as_mapping,
    redrive_policy,
    truthy,
)
from constructs_lib.limits import ESM_ON_FAILURE_DELIVERED_EVENT_COUNT, LIMITS
from constructs_lib.reader import AuditInputError, Document, Inputs, load_template, read_inputs

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "AuditInputError",
    "TemplateReport",
    "audit",
    "load_template",
    "main",
]

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
ALARM = "AWS::CloudWatch::Alarm"


# --- describing ------------------------------------------------------------------------------------------


class Describer:
    """Names and values of one template as the user knows them."""

    def __init__(self, view: TemplateView, names: Mapping[str, str] | None = None) -> None:
        self.view = view
        self.names = dict(names or {})

    def display(self, logical_id: str) -> str:
        """The SAM resource the user wrote, the construct path when the template has CDK metadata, else the
        logical id."""
        if logical_id in self.names:
            return self.names[logical_id]
        metadata = as_mapping(as_mapping(self.view.resources.get(logical_id)).get("Metadata"))
        path = metadata.get("aws:cdk:path")
        if isinstance(path, str):
            return path.removesuffix("/Resource")
        return logical_id

    def resource(self, logical_id: str) -> str:
        """A finding's resource: what the user wrote, and the generated logical id when they differ."""
        return f"{self.names[logical_id]} [{logical_id}]" if logical_id in self.names else logical_id

    def value(self, value: Any, unit: str = "", unset: str = "not set") -> str:
        if value is None:
            return unset
        if isinstance(value, Mapping):
            ref = value.get("Ref")
            if isinstance(ref, str) and ref in as_mapping(self.view.template.get("Parameters")):
                return f"parameter {ref}"
            return "intrinsic " + json.dumps(value, separators=(",", ":"), default=str)[:60]
        return f"{value} {unit}".strip()

    def target(self, value: Any) -> str | None:
        if not value:
            return None
        target = self.view.target(value)
        if target is None:
            return self.value(value)
        name = self.display(target.logical_id) if target.logical_id else target.arn
        fifo = "FIFO " if target.fifo else ""
        return f"{fifo}{target.kind or 'target'} {name}"


def _yes_no(value: Any, unset: str = "no") -> str:
    flag = truthy(value) if value is not None else None
    return unset if value is None else ("yes" if flag else "no" if flag is False else "intrinsic")


def _destination(config: Mapping[str, Any], role: str) -> Any:
    return as_mapping(as_mapping(as_mapping(config).get("DestinationConfig")).get(role)).get("Destination")


_ASYNC_RETRIES_DEFAULT = LIMITS["async.retry_attempts"].default
_ASYNC_AGE_DEFAULT = LIMITS["async.max_event_age"].default


@dataclass
class FailurePath:
    """One way events reach a function, and where they go when it fails."""

    trigger: str  # "asynchronous events", "Kinesis stream Orders", ...
    trigger_id: str | None  # logical id of the source, for alarms
    handling: str  # "retries 2, max event age 21600 s" / "bisect, retries 3, max record age 3600 s"
    on_failure: str | None  # what receives failures; None: they are dropped
    on_failure_id: str | None
    on_success: str | None = None
    failure_from_source: bool = False  # SQS: the source queue moves failed messages to its DLQ


@dataclass
class FunctionReport:
    logical_id: str
    path: str
    settings: list[tuple[str, str]] = field(default_factory=list)
    paths: list[FailurePath] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    related: set[str] = field(default_factory=set)  # its mappings, invoke configs and source queues

    def to_dict(self) -> dict[str, Any]:
        return {"logical_id": self.logical_id, "path": self.path, "settings": dict(self.settings)}


def describe_functions(view: TemplateView, names: Mapping[str, str] | None = None) -> list[FunctionReport]:
    describe = Describer(view, names)
    alarms = alarms_by_resource(view, describe)
    async_invoked = async_invoked_functions(view)
    reports = []
    for function_id, properties in view.of_type(FUNCTION):
        report = FunctionReport(function_id, describe.display(function_id), alarms=alarms.get(function_id, []))
        dead_letters = as_mapping(properties.get("DeadLetterConfig")).get("TargetArn")
        dead_letter_target = describe.target(dead_letters)
        dead_letter_id = _target_id(view, dead_letters)
        report.related.add(function_id)
        for config_id, config, config_function in view.invoke_configs:
            if config_function != function_id:
                continue
            report.related.add(config_id)
            prefix = f"async {describe.value(config.get('Qualifier', '$LATEST'))}"
            retries = describe.value(
                config.get("MaximumRetryAttempts"), unset=f"not set (AWS: {_ASYNC_RETRIES_DEFAULT})"
            )
            age = describe.value(
                config.get("MaximumEventAgeInSeconds"), "s", unset=f"not set (AWS: {_ASYNC_AGE_DEFAULT} s)"
            )
            on_success = describe.target(_destination(config, "OnSuccess"))
            on_failure = describe.target(_destination(config, "OnFailure"))
            report.settings += [
                (f"{prefix} retries", retries),
                (f"{prefix} max event age", age),
                (f"{prefix} on success", on_success or "none"),
                (f"{prefix} on failure", on_failure or "NONE"),
            ]
            report.paths.append(
                FailurePath(
                    f"asynchronous events ({describe.value(config.get('Qualifier', '$LATEST'))})",
                    None,
                    f"retries {retries}, max event age {age}",
                    on_failure or dead_letter_target,
                    _target_id(view, _destination(config, "OnFailure")) if on_failure else dead_letter_id,
                    on_success,
                )
            )
        report.settings.append(("dead-letter queue", dead_letter_target or "none"))
        invoked_by = async_invoked.get(function_id)
        if (dead_letter_target or invoked_by) and not any(p.trigger.startswith("asynchronous") for p in report.paths):
            report.paths.append(
                FailurePath(
                    f"asynchronous events ({invoked_by or 'none in this template'})",
                    None,
                    f"retries not set (AWS: {_ASYNC_RETRIES_DEFAULT}), "
                    f"max event age not set (AWS: {_ASYNC_AGE_DEFAULT} s)",
                    dead_letter_target,
                    dead_letter_id,
                )
            )
        for mapping in view.mappings:
            if mapping.function_id != function_id:
                continue
            report.related |= {i for i in (mapping.logical_id, mapping.source_id) if i is not None}
            report.settings += _mapping_settings(view, describe, mapping, report)
        reports.append(report)
    return reports


def _mapping_settings(
    view: TemplateView, describe: Describer, mapping: MappingView, report: FunctionReport
) -> list[tuple[str, str]]:
    mapped = mapping.properties
    source = describe.display(mapping.source_id) if mapping.source_id else describe.value(mapped.get("EventSourceArn"))
    prefix = f"mapping {mapping.source or 'unknown'} {source}"
    batch = describe.value(mapped.get("BatchSize"), unset="not set (AWS default)")
    rows = [(f"{prefix} batch size", batch)]
    response_types = mapped.get("FunctionResponseTypes") or []
    partial = "yes" if isinstance(response_types, list) and "ReportBatchItemFailures" in response_types else "no"
    kinds = {"Kinesis": "Kinesis stream", "DynamoDB": "DynamoDB stream", "SQS": "SQS queue"}
    kind = kinds.get(mapping.source, "event source") if mapping.source is not None else "event source"
    if mapping.is_stream:
        destination = _destination(mapped, "OnFailure")
        bisect = _yes_no(mapped.get("BisectBatchOnFunctionError"))
        retries = describe.value(mapped.get("MaximumRetryAttempts"), unset="not set (infinite)")
        age = describe.value(mapped.get("MaximumRecordAgeInSeconds"), "s", unset="not set (infinite)")
        on_failure = describe.target(destination)
        rows += [
            (f"{prefix} bisect", bisect),
            (f"{prefix} retries", retries),
            (f"{prefix} max record age", age),
            (f"{prefix} on failure", on_failure or "NONE"),
        ]
        report.paths.append(
            FailurePath(
                f"{kind} {source}",
                mapping.source_id,
                f"batch {batch}, bisect {bisect}, retries {retries}, max record age {age}, "
                f"ReportBatchItemFailures {partial}",
                on_failure,
                _target_id(view, destination),
            )
        )
    elif mapping.source_id:
        redrive = redrive_policy(view.properties(mapping.source_id)) or {}
        dead_letters = describe.target(redrive.get("deadLetterTargetArn"))
        rows.append((f"{prefix} dead-letter queue", dead_letters or "NONE"))
        receives = describe.value(redrive.get("maxReceiveCount"), unset="?")
        report.paths.append(
            FailurePath(
                f"{kind} {source}",
                mapping.source_id,
                f"batch {batch}, ReportBatchItemFailures {partial}, redrive after {receives} receives",
                dead_letters,
                _target_id(view, redrive.get("deadLetterTargetArn")),
                failure_from_source=True,
            )
        )
    else:
        report.paths.append(
            FailurePath(f"{kind} {source}", None, f"batch {batch}", "unknown (not in the template)", None)
        )
    rows.append((f"{prefix} ReportBatchItemFailures", partial))
    return rows


def _target_id(view: TemplateView, value: Any) -> str | None:
    target = view.target(value) if value else None
    return target.logical_id if target else None


def alarms_by_resource(view: TemplateView, describe: Describer) -> dict[str, list[str]]:
    """Logical id -> the CloudWatch alarms whose metric dimensions name it (queues, functions, streams)."""
    found: dict[str, list[str]] = {}
    homes = {
        mapping.logical_id: view.referenced_id(
            as_mapping(as_mapping(mapping.properties.get("DestinationConfig")).get("OnFailure")).get("Destination")
        )
        for mapping in view.mappings
    }
    for alarm_id, properties in view.of_type(ALARM):
        dimension_lists = [properties.get("Dimensions")]
        for query in as_list(properties.get("Metrics")):
            metric = as_mapping(as_mapping(as_mapping(query).get("MetricStat")).get("Metric"))
            dimension_lists.append(metric.get("Dimensions"))
        metric_name = properties.get("MetricName")
        label = f"{describe.display(alarm_id)}" + (f" ({metric_name})" if isinstance(metric_name, str) else "")
        for dimensions in dimension_lists:
            for dimension in as_list(dimensions):
                value = as_mapping(dimension).get("Value")
                named = view.referenced_id(value)
                if named is None:
                    rendered = view.render(value) if isinstance(value, Mapping) else None
                    named = view.named_id(rendered) if rendered else None
                if named is not None and label not in found.setdefault(named, []):
                    found[named].append(label)
                # Deliveries to a mapping's failure home (an S3 bucket has no depth metric of its own) watch it.
                home = (
                    homes.get(named)
                    if named is not None and metric_name == ESM_ON_FAILURE_DELIVERED_EVENT_COUNT
                    else None
                )
                if home is not None and label not in found.setdefault(home, []):
                    found[home].append(label)
    return found


@dataclass
class TemplateReport:
    file: str
    functions: list[FunctionReport]
    findings: list[Finding]
    name: str = ""
    parent: str | None = None
    notes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    alarms: dict[str, list[str]] = field(default_factory=dict)

    def shown(self, finding: Finding) -> str:
        resource = f"{self.names[finding.resource]} [{finding.resource}]" if finding.resource in self.names else None
        return f"{finding.level.upper()} {finding.rule_id} {resource or finding.resource}: {finding.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "name": self.name or self.file,
            "parent": self.parent,
            "notes": self.notes,
            "functions": [function.to_dict() for function in self.functions],
            "findings": [
                finding.to_dict()
                | {
                    "written_as": self.names.get(finding.resource, finding.resource),
                    "explanation": RULES[finding.rule_id].explanation,
                    "fix": RULES[finding.rule_id].fix,
                }
                for finding in self.findings
            ],
        }


def audit_document(document: Document) -> TemplateReport:
    view = TemplateView(document.template)
    describe = Describer(view, document.names)
    return TemplateReport(
        str(document.path),
        describe_functions(view, document.names),
        run_checks(view),
        document.name,
        document.parent,
        document.notes,
        document.names,
        alarms_by_resource(view, describe),
    )


def audit_inputs(path: Path) -> tuple[list[TemplateReport], list[str], Inputs]:
    """Reports of everything that could be read, and what could not."""
    inputs = read_inputs(path)
    reports, problems = [], list(inputs.problems)
    for document in inputs.documents:
        try:
            reports.append(audit_document(document))
        except Exception as error:  # a last guard: never a traceback, never a clean result for it
            problems.append(f"{document.name}: could not be checked ({type(error).__name__}: {error})")
    return reports, problems, inputs


def audit(path: Path) -> list[TemplateReport]:
    reports, problems, _ = audit_inputs(path)
    if problems:
        raise AuditInputError("; ".join(problems))
    return reports


# --- output ----------------------------------------------------------------------------------------------


def _totals(reports: Sequence[TemplateReport]) -> tuple[int, int]:
    errors = sum(f.level is Level.ERROR for r in reports for f in r.findings)
    warnings = sum(f.level is Level.WARNING for r in reports for f in r.findings)
    return errors, warnings


def _title(report: TemplateReport) -> str:
    title = report.file if not report.name or report.name == report.file else f"{report.name} ({report.file})"
    return title + (f", nested in {report.parent}" if report.parent else "")


def render_text(reports: Sequence[TemplateReport], problems: Sequence[str] = (), skipped: int = 0) -> str:
    lines: list[str] = []
    for report in reports:
        lines.append(f"== {_title(report)}")
        lines += [f"   ({note})" for note in report.notes]
        if not report.functions:
            lines.append("   (no Lambda functions)")
        for function in report.functions:
            lines.append(f"   {function.path}")
            width = max((len(name) for name, _ in function.settings), default=0)
            lines += [f"     {name.ljust(width)}  {value}" for name, value in function.settings]
        if report.findings:
            lines.append(f"   findings ({len(report.findings)}):")
            lines += [f"     {report.shown(finding)}" for finding in report.findings]
            lines += sorted({f"       fix {f.rule_id}: {RULES[f.rule_id].fix}" for f in report.findings})
        else:
            lines.append("   findings: none")
        lines.append("")
    for problem in problems:
        lines.append(f"NOT READ {problem}")
    errors, warnings = _totals(reports)
    summary = f"{len(reports)} template(s): {errors} error(s), {warnings} warning(s)"
    if skipped:
        summary += f"; {skipped} file(s) that are not templates skipped"
    if problems:
        summary += f"; {len(problems)} input(s) could not be read"
    lines.append(summary)
    return "\n".join(lines)


def render_json(reports: Sequence[TemplateReport], problems: Sequence[str] = (), skipped: Sequence[str] = ()) -> str:
    errors, warnings = _totals(reports)
    return json.dumps(
        {
            "templates": [report.to_dict() for report in reports],
            "errors": errors,
            "warnings": warnings,
            "not_read": list(problems),
            "skipped": list(skipped),
        },
        indent=2,
        default=str,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program_name(AUDIT_SCRIPT, "constructs_lib.audit"),
        description="Show the failure handling of every Lambda function in CloudFormation or SAM templates and "
        "check it. Exit code 0: no error-level finding; 1: at least one; 2: some input could not be read.",
    )
    parser.add_argument(
        "path", type=Path, help="a cloud assembly (cdk.out/), a folder of templates (recursively) or a template file"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (default: text); markdown renders tables and Mermaid failure paths",
    )
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:  # the output was piped into a reader that stopped early (| head)
        sys.stderr.close()
        return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    try:
        reports, problems, inputs = audit_inputs(args.path)
    except AuditInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print(render_json(reports, problems, [str(p) for p in inputs.skipped]))
    elif args.format == "markdown":
        from constructs_lib.audit_markdown import render_markdown

        print(render_markdown(reports, problems, len(inputs.skipped)))
    else:
        print(render_text(reports, problems, len(inputs.skipped)))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    errors, _ = _totals(reports)
    return EXIT_FINDINGS if errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
