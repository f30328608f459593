"""Apps built from cdk.json's context, so tests and `cdk synth` see the same feature flags."""

import json
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@cache
def _cdk_json_context() -> str:
    # Cached as text: every caller gets its own copy to mutate.
    return json.dumps(json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"])


def load_cdk_context() -> dict[str, Any]:
    """The `context` of the project's cdk.json (feature flags), as a fresh dict."""
    return json.loads(_cdk_json_context())


def new_app(**extra_context: Any) -> cdk.App:
    """A `cdk.App` with cdk.json's context (plus `extra_context`); `cdk.App()` alone ignores cdk.json."""
    return cdk.App(context={**load_cdk_context(), **extra_context})
