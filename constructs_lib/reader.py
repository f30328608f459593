"""Reading what users have: template files (JSON or YAML, format told by the content), folders of them
(recursively), CDK cloud assemblies (stages and nested stacks included) and SAM templates, expanded with
aws-sam-translator. Pure: no CDK import, no AWS call.

Whatever cannot be read is a problem to report, never skipped silently: a clean result must only ever be given
for resources that were read.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml", ".template")
NESTED_STACK = "AWS::CloudFormation::Stack"
SAM_APPLICATION = "AWS::Serverless::Application"
# Folders that hold tools and copies, never the user's templates.
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "venv"})
_MAX_NESTING = 10


class AuditInputError(Exception):
    """The input is missing or is not a CloudFormation template / cloud assembly."""


@dataclass
class Document:
    """One template to check: a file, a stack of a cloud assembly, or a nested stack of one of them."""

    name: str  # what the user calls it: the file, the stack, "Parent/NestedStack"
    path: Path
    template: dict[str, Any]  # CloudFormation, SAM expanded
    names: dict[str, str] = field(default_factory=dict)  # logical id -> what the user wrote (SAM)
    parent: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Inputs:
    documents: list[Document] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read: exit code 2
    skipped: list[Path] = field(default_factory=list)  # files of a folder that are not templates


# --- parsing ---------------------------------------------------------------------------------------------


# PyYAML publishes no type information (its stubs are not a dependency), so its SafeLoader is Any to mypy.
class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML as CloudFormation reads it: short-form intrinsics, and dates left as text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = {"Ref": "Ref", "Condition": "Condition"}.get(suffix, f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str) and "." in value:
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON's data model: string keys, dates and bytes as text, sets as lists."""
    if depth > 500:
        raise AuditInputError("nested too deeply")
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def parse_text(text: str, name: str) -> Any:
    """JSON or YAML, told by the content; AuditInputError with the parser's reason when it is neither."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return _plain(json.loads(stripped))
        except json.JSONDecodeError as error:
            json_error = f"not valid JSON ({error.msg} at line {error.lineno})"
        except RecursionError:
            raise AuditInputError(f"{name}: nested too deeply") from None
    else:
        json_error = None
    try:
        return _plain(yaml.load(stripped, Loader=_Loader))  # a SafeLoader subclass
    except yaml.YAMLError as error:
        reason = json_error or f"not valid YAML: {' '.join(str(error).split())}"
        raise AuditInputError(f"{name}: {reason}") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as error:
        raise AuditInputError(f"{name}: not valid YAML: {type(error).__name__}") from None


def is_template(document: Any) -> bool:
    return isinstance(document, Mapping) and isinstance(document.get("Resources"), Mapping)


def _transforms(template: Mapping[str, Any]) -> list[Any]:
    transform = template.get("Transform")
    if transform is None:
        return []
    return transform if isinstance(transform, list) else [transform]


def _contains_key(value: Any, prefix: str, depth: int = 0) -> bool:
    if depth > 100:
        return False
    if isinstance(value, Mapping):
        return any(
            (isinstance(key, str) and key.startswith(prefix)) or _contains_key(item, prefix, depth + 1)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_contains_key(item, prefix, depth + 1) for item in value)
    return False


# --- SAM -------------------------------------------------------------------------------------------------


def _fake_s3_uri(properties: dict[str, Any], key: str) -> None:
    """aws-sam-translator accepts only S3 URIs for code; the code is not what the audit looks at."""
    value = properties.get(key, ".")
    if not (isinstance(value, str) and value.startswith("s3://")):
        properties[key] = "s3://bucket/value"


def _prepare_sam(template: dict[str, Any]) -> None:
    """In place, on a copy: what the translator needs that `sam build` / `sam package` would have filled in."""
    globals_ = template.get("Globals")
    function_globals = globals_.get("Function") if isinstance(globals_, dict) else None
    if isinstance(function_globals, dict) and "CodeUri" in function_globals:
        _fake_s3_uri(function_globals, "CodeUri")
    for resource in template["Resources"].values():
        properties = resource.get("Properties") if isinstance(resource, dict) else None
        if not isinstance(properties, dict):
            continue
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            if properties.get("PackageType") == "Image":
                properties.setdefault("ImageUri", "000000000000.dkr.ecr.us-east-1.amazonaws.com/image:latest")
            elif "InlineCode" not in properties and (
                "CodeUri" in properties or not (isinstance(function_globals, dict) and "CodeUri" in function_globals)
            ):
                _fake_s3_uri(properties, "CodeUri")
            if isinstance(properties.get("AutoPublishCodeSha256"), dict):
                properties["AutoPublishCodeSha256"] = "sha"
        elif kind == "AWS::Serverless::LayerVersion" and "ContentUri" in properties:
            _fake_s3_uri(properties, "ContentUri")
        elif kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::Serverless::StateMachine"):
            if "DefinitionUri" in properties:
                _fake_s3_uri(properties, "DefinitionUri")
        elif kind == SAM_APPLICATION:
            # An application of the Serverless Application Repository ({ApplicationId, SemanticVersion}) would
            # make the translator call AWS; its template is someone else's and is reported as not read.
            properties["Location"] = "s3://bucket/value"


def _sam_names(sam_resources: Mapping[str, Any], expanded: Mapping[str, Any]) -> dict[str, str]:
    """Generated logical id -> the SAM logical id the user wrote, with the part of it that generated it
    ("Orders (Events.Stream)"). The translator names what it generates <SamId><Part>."""
    sam_ids = sorted(
        (
            logical_id
            for logical_id, resource in sam_resources.items()
            if isinstance(resource, Mapping) and str(resource.get("Type", "")).startswith("AWS::Serverless::")
        ),
        key=len,
        reverse=True,
    )
    names: dict[str, str] = {}
    for logical_id in expanded:
        if logical_id in sam_resources:
            continue
        owner = next((sam_id for sam_id in sam_ids if logical_id.startswith(sam_id)), None)
        if owner is None:
            continue
        part = logical_id[len(owner) :]
        properties = sam_resources[owner].get("Properties")
        events = properties.get("Events") if isinstance(properties, Mapping) else None
        if isinstance(events, Mapping) and part in events:
            names[logical_id] = f"{owner} (Events.{part})"
        else:
            names[logical_id] = f"{owner} ({part})" if part else owner
    return names


def expand_sam(template: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The CloudFormation a SAM template deploys as, and the SAM names of what it generated."""
    import boto3
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.parser.parser import Parser
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.translator import Translator

    logging.getLogger("samtranslator").setLevel(logging.CRITICAL)
    sam = copy.deepcopy(template)
    _prepare_sam(sam)
    # A session with a region and no credentials: the translator only builds ARNs with it, it calls nothing.
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="none", aws_secret_access_key="none")
    translator = Translator(get_bundled_managed_policy_map("aws"), Parser(), boto_session=session)
    try:
        expanded = translator.translate(sam, {}, passthrough_metadata=True)
    except InvalidDocumentException as error:
        causes = "; ".join(" ".join(str(cause.message).split()) for cause in error.causes)
        raise AuditInputError(f"{name}: the SAM transform cannot be expanded: {causes}") from None
    except Exception as error:  # the translator raises many kinds on unexpected shapes
        reason = " ".join(str(error).split()) or type(error).__name__
        raise AuditInputError(f"{name}: the SAM transform cannot be expanded: {reason}") from None
    expanded = _plain(expanded)
    return expanded, _sam_names(template["Resources"], expanded["Resources"])


def _include_local_files(value: Any, base: Path | None, name: str, notes: list[str], depth: int = 0) -> Any:
    """`Fn::Transform: {Name: AWS::Include, Parameters: {Location: <a local file>}}` replaced by that file, as
    `sam deploy` / `aws cloudformation package` upload it; anything else is left for the caller to refuse."""
    if depth > 100:
        return value
    if isinstance(value, list):
        return [_include_local_files(item, base, name, notes, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    transform = value.get("Fn::Transform") if len(value) == 1 else None
    if isinstance(transform, dict) and transform.get("Name") == "AWS::Include" and base is not None:
        location = (transform.get("Parameters") or {}).get("Location") if isinstance(transform, dict) else None
        path = _local_path(location, base)
        if path is not None and depth < 50:
            included = _read(path)
            notes.append(f"AWS::Include of {location} read from {path}")
            return _include_local_files(included, path.parent, name, notes, depth + 1)
        return value
    return {key: _include_local_files(item, base, name, notes, depth + 1) for key, item in value.items()}


def to_cloudformation(
    document: Any, name: str, base: Path | None = None
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """A parsed document as the CloudFormation template it deploys as, with SAM names and notes. `base` is the
    folder that local files it includes are relative to."""
    if not is_template(document):
        raise AuditInputError(f"{name}: not a CloudFormation template (no Resources section)")
    names: dict[str, str] = {}
    notes: list[str] = []
    template: dict[str, Any] = _include_local_files(dict(document), base, name, notes)
    transforms = _transforms(template)
    for transform in transforms:
        if transform == LANGUAGE_EXTENSIONS:
            if _contains_key(template["Resources"], "Fn::ForEach"):
                raise AuditInputError(
                    f"{name}: the {LANGUAGE_EXTENSIONS} transform's Fn::ForEach cannot be expanded here"
                )
        elif transform != SAM_TRANSFORM:
            shown = transform if isinstance(transform, str) else json.dumps(transform)[:80]
            raise AuditInputError(f"{name}: the transform {shown} cannot be expanded here")
    if _contains_key(template["Resources"], "Fn::Transform"):
        raise AuditInputError(
            f"{name}: Fn::Transform (a macro, or AWS::Include of a file that is not here) cannot be expanded here"
        )
    has_sam_resources = any(
        isinstance(resource, Mapping) and str(resource.get("Type", "")).startswith("AWS::Serverless::")
        for resource in template["Resources"].values()
    )
    if SAM_TRANSFORM in transforms or has_sam_resources:
        import samtranslator

        template, names = expand_sam(template, name)
        declared = "" if SAM_TRANSFORM in transforms else f" (its Transform: {SAM_TRANSFORM} is not declared)"
        notes.append(f"SAM template{declared}, expanded with aws-sam-translator {samtranslator.__version__}")
    return template, names, notes


def load_template(path: Path) -> dict[str, Any]:
    """One template file as CloudFormation (SAM expanded)."""
    template, _, _ = to_cloudformation(_read(path), str(path), path.parent)
    return template


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise AuditInputError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as error:
        raise AuditInputError(f"{path}: cannot be read: {error.strerror}") from None
    return parse_text(text, str(path))


# --- nested stacks ---------------------------------------------------------------------------------------


def _nested_location(resource: Mapping[str, Any]) -> Any:
    """Where a nested stack's template is: CDK's asset path, else TemplateURL / Location."""
    metadata = resource.get("Metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("aws:asset:path"), str):
        return metadata["aws:asset:path"]
    properties = resource.get("Properties")
    properties = properties if isinstance(properties, Mapping) else {}
    return properties.get("TemplateURL", properties.get("Location"))


def _local_path(location: Any, base: Path) -> Path | None:
    if not isinstance(location, str) or "://" in location or location.startswith("https:"):
        return None
    candidate = (base / location).resolve()
    return candidate if candidate.is_file() else None


def _nested_documents(
    parent: Document, original: Mapping[str, Any], depth: int, inputs: Inputs, seen: set[Path]
) -> Iterator[Document]:
    """The nested stacks of `parent` (CDK nested stacks, TemplateURL / SAM Application with a local path)."""
    resources = original.get("Resources")
    for logical_id, resource in resources.items() if isinstance(resources, Mapping) else ():
        if not isinstance(resource, Mapping) or resource.get("Type") not in (NESTED_STACK, SAM_APPLICATION):
            continue
        location = _nested_location(resource)
        shown = parent.names.get(logical_id) or _cdk_path(resource) or logical_id
        name = f"{parent.name}/{shown}"
        path = _local_path(location, parent.path.parent) or _cdk_asset(location, parent.path.parent)
        if path is None:
            where = location if isinstance(location, str) else json.dumps(location)[:100]
            inputs.problems.append(f"{name}: nested stack template not read (it is not a local file: {where})")
            continue
        if depth >= _MAX_NESTING or path in seen:
            inputs.problems.append(f"{name}: nested stack template {path} not read (nested too deeply or in a loop)")
            continue
        yield from _document(path, name, inputs, parent=parent.name, depth=depth + 1, seen=seen | {path})


def _cdk_asset(location: Any, directory: Path) -> Path | None:
    """A CDK nested stack's template in the cloud assembly, found by the asset hash in its TemplateURL (when
    the app ran without asset metadata, as `cdk.App()` in tests does)."""
    text = json.dumps(location)
    for manifest in sorted(directory.glob("*.assets.json")):
        try:
            files = json.loads(manifest.read_text()).get("files") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for asset_hash, asset in files.items() if isinstance(files, Mapping) else ():
            source = asset.get("source") if isinstance(asset, Mapping) else None
            source_path = source.get("path") if isinstance(source, Mapping) else None
            if isinstance(source_path, str) and source_path.endswith(".template.json") and str(asset_hash) in text:
                candidate = directory / source_path
                if candidate.is_file():
                    return candidate
    return None


def _cdk_path(resource: Mapping[str, Any]) -> str | None:
    metadata = resource.get("Metadata")
    path = metadata.get("aws:cdk:path") if isinstance(metadata, Mapping) else None
    return path.rsplit("/", 1)[-1].removesuffix(".NestedStackResource") if isinstance(path, str) else None


def _document(
    path: Path, name: str, inputs: Inputs, *, parent: str | None = None, depth: int = 0, seen: set[Path] | None = None
) -> Iterator[Document]:
    try:
        original = _read(path)
        template, names, notes = to_cloudformation(original, name, path.parent)
    except AuditInputError as error:
        inputs.problems.append(str(error))
        return
    document = Document(name, path, template, names, parent, notes)
    yield document
    yield from _nested_documents(document, original, depth, inputs, seen or {path.resolve()})


# --- what the user points at -----------------------------------------------------------------------------


def _assembly(directory: Path, inputs: Inputs, prefix: str = "", depth: int = 0) -> Iterator[Document]:
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        artifacts = manifest.get("artifacts") or {}
        items = list(artifacts.items())
    except (OSError, ValueError, AttributeError) as error:
        inputs.problems.append(f"{manifest_path}: not a readable cloud assembly manifest: {error}")
        return
    for artifact_id, artifact in items:
        if not isinstance(artifact, Mapping):
            continue
        given_properties = artifact.get("properties")
        properties: Mapping[str, Any] = given_properties if isinstance(given_properties, Mapping) else {}
        if artifact.get("type") == "aws:cloudformation:stack" and isinstance(properties.get("templateFile"), str):
            display = artifact.get("displayName") if isinstance(artifact.get("displayName"), str) else artifact_id
            yield from _document(directory / properties["templateFile"], f"{prefix}{display}", inputs)
        elif artifact.get("type") == "cdk:cloud-assembly" and isinstance(properties.get("directoryName"), str):
            if depth >= _MAX_NESTING:
                inputs.problems.append(f"{directory}: cloud assemblies nested too deeply")
                continue
            yield from _assembly(directory / properties["directoryName"], inputs, prefix, depth + 1)


def _folder(directory: Path, inputs: Inputs) -> list[Document]:
    """Every template below `directory`; a nested stack's template is audited once, under its parent."""
    documents: list[Document] = []
    for root, folders, files in os.walk(directory):
        root_path = Path(root)
        if (root_path / "manifest.json").is_file():
            documents += _assembly(root_path, inputs, prefix=f"{root_path.relative_to(directory)}/".lstrip("./"))
            folders.clear()
            continue
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in SKIPPED_FOLDERS)
        for file_name in sorted(files):
            path = root_path / file_name
            if path.suffix.lower() not in TEMPLATE_SUFFIXES:
                continue
            try:
                parsed = _read(path)
            except AuditInputError as error:
                if _looks_like_a_template(path):
                    inputs.problems.append(str(error))
                else:
                    inputs.skipped.append(path)
                continue
            if not is_template(parsed):
                inputs.skipped.append(path)
                continue
            documents += _document(path, str(path), inputs)
    nested = {document.path.resolve() for document in documents if document.parent is not None}
    return [d for d in documents if d.parent is not None or d.path.resolve() not in nested]


def _looks_like_a_template(path: Path) -> bool:
    """Whether a file that does not parse was meant as a template (and so must not be skipped silently)."""
    if path.suffix.lower() == ".template" or "template" in path.name.lower():
        return True
    try:
        head = path.read_bytes()[:65536].decode("utf-8", "replace")
    except OSError:
        return True
    return "AWSTemplateFormatVersion" in head or "Resources" in head


def read_inputs(path: Path) -> Inputs:
    """The templates of a cloud assembly (manifest.json), of a folder (recursively) or of one file."""
    inputs = Inputs()
    if not path.exists():
        raise AuditInputError(f"{path}: no such file or directory (run `cdk synth` first?)")
    if path.is_file():
        inputs.documents += _document(path, str(path), inputs)
    elif (path / "manifest.json").is_file():
        inputs.documents += _assembly(path, inputs)
    else:
        inputs.documents += _folder(path, inputs)
    if not inputs.documents and not inputs.problems:
        raise AuditInputError(f"{path}: no CloudFormation templates found (.json, .yaml, .yml, .template)")
    return inputs
