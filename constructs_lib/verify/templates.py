"""Reading the template to verify against: a JSON or YAML file, or a stack of a cloud assembly (cdk.out). Pure."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from constructs_lib.reader import AuditInputError, parse_text


class TemplateError(Exception):
    """The template (or cloud assembly) cannot be read."""


def parse_template(text: str, source: str) -> dict[str, Any]:
    """JSON or YAML (CloudFormation's short-form intrinsics included), read as the audit reads it."""
    try:
        template = parse_text(text, source)
    except AuditInputError as error:
        raise TemplateError(str(error)) from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{source}: not a CloudFormation template (no Resources section)")
    return template


def load_template(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as error:
        raise TemplateError(f"{path}: cannot be read: {error.strerror}") from None
    return parse_template(text, str(path))


def _manifest(cdk_out: Path) -> Mapping[str, Any]:
    try:
        manifest = json.loads((cdk_out / "manifest.json").read_text())
    except OSError as error:
        raise TemplateError(f"{cdk_out}: not a cloud assembly ({error.strerror}: manifest.json)") from None
    except ValueError as error:
        raise TemplateError(f"{cdk_out}/manifest.json: not valid JSON: {error}") from None
    if not isinstance(manifest, Mapping):
        raise TemplateError(f"{cdk_out}/manifest.json: not a cloud assembly manifest (not a JSON object)")
    return manifest


def stacks_in_assembly(cdk_out: Path) -> dict[str, Path]:
    """Stack name -> template file of every stack in a cloud assembly (nested assemblies, e.g. stages, too)."""
    stacks: dict[str, Path] = {}
    for artifact_id, artifact in (_manifest(cdk_out).get("artifacts") or {}).items():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack" and properties.get("templateFile"):
            stacks[properties.get("stackName", artifact_id)] = cdk_out / properties["templateFile"]
        elif artifact.get("type") == "cdk:cloud-assembly" and properties.get("directoryName"):
            stacks.update(stacks_in_assembly(cdk_out / properties["directoryName"]))
    return stacks


def assembly_template(cdk_out: Path, stack_name: str) -> tuple[dict[str, Any], Path]:
    """The template of `stack_name` in the cloud assembly, and the folder its nested templates are in."""
    stacks = stacks_in_assembly(cdk_out)
    if stack_name not in stacks:
        known = ", ".join(sorted(stacks)) or "none"
        raise TemplateError(f"{cdk_out}: no stack named {stack_name} in the cloud assembly (stacks: {known})")
    path = stacks[stack_name]
    return load_template(path), path.parent


def nested_template_from(directory: Path) -> Callable[[str, Mapping[str, Any], str], dict[str, Any] | None]:
    """A `nested_template` function for verify_stack: a CDK nested stack's template is a file of the assembly,
    named by the resource's `aws:asset:path` metadata. Other nested stacks: None (read the deployed template)."""

    def nested_template(logical_id: str, definition: Mapping[str, Any], nested_stack_id: str) -> dict[str, Any] | None:
        asset = (definition.get("Metadata") or {}).get("aws:asset:path")
        if not isinstance(asset, str) or not (directory / asset).is_file():
            return None
        return load_template(directory / asset)

    return nested_template
