"""Normalization of synthesized templates for syrupy snapshots.

Asset hashes change with every edit of handler code or a CDK upgrade; they say nothing about the wiring under
test, so they are replaced by a placeholder. `CDKMetadata` is written by the CLI only and is dropped too.
"""

import re
from typing import Any

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
ASSET_HASH_PLACEHOLDER = "<asset-hash>"
VOLATILE_RESOURCE_TYPES = frozenset({"AWS::CDK::Metadata"})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return ASSET_HASH.sub(ASSET_HASH_PLACEHOLDER, value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def normalize_template(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of `template` without asset hashes and CLI-only resources, stable across unrelated edits."""
    normalized = _scrub(template)
    resources = normalized.get("Resources", {})
    normalized["Resources"] = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource.get("Type") not in VOLATILE_RESOURCE_TYPES
    }
    normalized.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if normalized.get("Conditions") == {}:
        del normalized["Conditions"]
    return normalized
