"""Audit CLI: the failure handling of every function in synthesized templates, and its findings.

    python -m constructs_lib.audit cdk.out/            # a cloud assembly (or any folder of *.template.json)
    python -m constructs_lib.audit MyStack.template.json --format json

Exit code: 0 without error-level findings, 1 with at least one, 2 when the input cannot be read.
Pure: reads JSON (or YAML, when PyYAML is installed) and needs neither the CDK nor AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.checks import RULES, Finding, Level, run_checks
from constructs_lib.checks.template import FUNCTION, TemplateView, truthy

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


class AuditInputError(Exception):
    """The input is missing or is not a CloudFormation template / cloud assembly."""


# --- reading ---------------------------------------------------------------------------------------------


def _load_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError as error:
        raise AuditInputError(f"{path}: YAML templates need PyYAML (pip install pyyaml); JSON needs nothing") from error

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", intrinsic)
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise AuditInputError(f"{path}: not valid YAML: {error}") from error


def load_template(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as error:
        raise AuditInputError(f"{path}: cannot be read: {error.strerror}") from error
    if path.suffix in (".yaml", ".yml"):
        template = _load_yaml(text, path)
    else:
        try:
            template = json.loads(text)
        except json.JSONDecodeError as error:
            raise AuditInputError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise AuditInputError(f"{path}: not a CloudFormation template (no Resources section)")
    return template


def _assembly_templates(directory: Path) -> Iterator[Path]:
    manifest = json.loads((directory / "manifest.json").read_text())
    for artifact in (manifest.get("artifacts") or {}).values():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack" and properties.get("templateFile"):
            yield directory / properties["templateFile"]
        elif artifact.get("type") == "cdk:cloud-assembly" and properties.get("directoryName"):
            yield from _assembly_templates(directory / properties["directoryName"])


def find_templates(path: Path) -> list[Path]:
    """Templates of a cloud assembly (manifest.json), of a folder (*.template.json), or the file itself."""
    if not path.exists():
        raise AuditInputError(f"{path}: no such file or directory (run `cdk synth` first?)")
    if path.is_file():
        return [path]
    if (path / "manifest.json").is_file():
        try:
            templates = list(_assembly_templates(path))
        except (OSError, ValueError, AttributeError) as error:
            raise AuditInputError(f"{path}/manifest.json: not a readable cloud assembly manifest: {error}") from error
    else:
        templates = sorted(path.glob("*.template.json"))
    if not templates:
        raise AuditInputError(f"{path}: no CloudFormation templates found (*.template.json or a cloud assembly)")
    return templates


# --- describing ------------------------------------------------------------------------------------------


def _display(view: TemplateView, logical_id: str) -> str:
    """The construct path when the template has CDK metadata, else the logical id."""
    metadata = view.resources.get(logical_id, {}).get("Metadata") or {}
    path = metadata.get("aws:cdk:path") if isinstance(metadata, Mapping) else None
    if isinstance(path, str):
        return path.removesuffix("/Resource")
    return logical_id


def _value(view: TemplateView, value: Any, unit: str = "", unset: str = "not set") -> str:
    if value is None:
        return unset
    if isinstance(value, Mapping):
        ref = value.get("Ref")
        if isinstance(ref, str) and ref in (view.template.get("Parameters") or {}):
            return f"parameter {ref}"
        return "intrinsic " + json.dumps(value, separators=(",", ":"))[:60]
    return f"{value} {unit}".strip()


def _target(view: TemplateView, value: Any) -> str | None:
    if not value:
        return None
    target = view.target(value)
    if target is None:
        return _value(view, value)
    name = _display(view, target.logical_id) if target.logical_id else target.arn
    fifo = "FIFO " if target.fifo else ""
    return f"{fifo}{target.kind or 'target'} {name}"


def _yes_no(value: Any, unset: str = "no") -> str:
    flag = truthy(value) if value is not None else None
    return unset if value is None else ("yes" if flag else "no" if flag is False else "intrinsic")


@dataclass
class FunctionReport:
    logical_id: str
    path: str
    settings: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"logical_id": self.logical_id, "path": self.path, "settings": dict(self.settings)}


def describe_functions(view: TemplateView) -> list[FunctionReport]:
    reports = []
    for function_id, properties in view.of_type(FUNCTION):
        report = FunctionReport(function_id, _display(view, function_id))
        for _, config, config_function in view.invoke_configs:
            if config_function != function_id:
                continue
            qualifier = config.get("Qualifier", "$LATEST")
            prefix = f"async {_value(view, qualifier)}"
            destinations = config.get("DestinationConfig") or {}
            report.settings += [
                (f"{prefix} retries", _value(view, config.get("MaximumRetryAttempts"), unset="not set (AWS: 2)")),
                (
                    f"{prefix} max event age",
                    _value(view, config.get("MaximumEventAgeInSeconds"), "s", unset="not set (AWS: 21600 s)"),
                ),
                (
                    f"{prefix} on success",
                    _target(view, (destinations.get("OnSuccess") or {}).get("Destination")) or "none",
                ),
                (
                    f"{prefix} on failure",
                    _target(view, (destinations.get("OnFailure") or {}).get("Destination")) or "NONE",
                ),
            ]
        dead_letters = (properties.get("DeadLetterConfig") or {}).get("TargetArn")
        report.settings.append(("dead-letter queue", _target(view, dead_letters) or "none"))
        for mapping in view.mappings:
            if mapping.function_id != function_id:
                continue
            mapped = mapping.properties
            source = (
                _display(view, mapping.source_id) if mapping.source_id else _value(view, mapped.get("EventSourceArn"))
            )
            prefix = f"mapping {mapping.source or 'unknown'} {source}"
            rows = [(f"{prefix} batch size", _value(view, mapped.get("BatchSize"), unset="not set (AWS default)"))]
            if mapping.is_stream:
                destination = ((mapped.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
                rows += [
                    (f"{prefix} bisect", _yes_no(mapped.get("BisectBatchOnFunctionError"))),
                    (f"{prefix} retries", _value(view, mapped.get("MaximumRetryAttempts"), unset="not set (infinite)")),
                    (
                        f"{prefix} max record age",
                        _value(view, mapped.get("MaximumRecordAgeInSeconds"), "s", unset="not set (infinite)"),
                    ),
                    (f"{prefix} on failure", _target(view, destination) or "NONE"),
                ]
            elif mapping.source_id:
                redrive = view.properties(mapping.source_id).get("RedrivePolicy") or {}
                rows.append(
                    (f"{prefix} dead-letter queue", _target(view, redrive.get("deadLetterTargetArn")) or "NONE")
                )
            response_types = mapped.get("FunctionResponseTypes") or []
            rows.append(
                (f"{prefix} ReportBatchItemFailures", "yes" if "ReportBatchItemFailures" in response_types else "no")
            )
            report.settings += rows
        reports.append(report)
    return reports


@dataclass
class TemplateReport:
    file: str
    functions: list[FunctionReport]
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "functions": [function.to_dict() for function in self.functions],
            "findings": [
                finding.to_dict()
                | {"explanation": RULES[finding.rule_id].explanation, "fix": RULES[finding.rule_id].fix}
                for finding in self.findings
            ],
        }


def audit(path: Path) -> list[TemplateReport]:
    reports = []
    for template_path in find_templates(path):
        view = TemplateView(load_template(template_path))
        reports.append(TemplateReport(str(template_path), describe_functions(view), run_checks(view)))
    return reports


# --- output ----------------------------------------------------------------------------------------------


def render_text(reports: Sequence[TemplateReport]) -> str:
    lines: list[str] = []
    for report in reports:
        lines.append(f"== {report.file}")
        if not report.functions:
            lines.append("   (no Lambda functions)")
        for function in report.functions:
            lines.append(f"   {function.path}")
            width = max((len(name) for name, _ in function.settings), default=0)
            lines += [f"     {name.ljust(width)}  {value}" for name, value in function.settings]
        if report.findings:
            lines.append(f"   findings ({len(report.findings)}):")
            lines += [f"     {finding}" for finding in report.findings]
            lines += sorted({f"       fix {f.rule_id}: {RULES[f.rule_id].fix}" for f in report.findings})
        else:
            lines.append("   findings: none")
        lines.append("")
    errors = sum(f.level is Level.ERROR for r in reports for f in r.findings)
    warnings = sum(f.level is Level.WARNING for r in reports for f in r.findings)
    lines.append(f"{len(reports)} template(s): {errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def render_json(reports: Sequence[TemplateReport]) -> str:
    findings = [f for r in reports for f in r.findings]
    return json.dumps(
        {
            "templates": [report.to_dict() for report in reports],
            "errors": sum(f.level is Level.ERROR for f in findings),
            "warnings": sum(f.level is Level.WARNING for f in findings),
        },
        indent=2,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.audit",
        description="Show the failure handling of every Lambda function in synthesized CloudFormation templates "
        "and check it. Exit code 1 when a finding is an error, 2 when the input cannot be read.",
    )
    parser.add_argument("path", type=Path, help="a cloud assembly (cdk.out/), a folder of templates or a template file")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    args = parser.parse_args(argv)
    try:
        reports = audit(args.path)
    except AuditInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(render_json(reports) if args.format == "json" else render_text(reports))
    has_errors = any(f.level is Level.ERROR for r in reports for f in r.findings)
    return EXIT_FINDINGS if has_errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
