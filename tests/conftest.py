"""Fixtures shared by every test module."""

from typing import Any

import aws_cdk as cdk
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.harness import load_cdk_context, new_app


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    """cdk.json's context: the feature flags `cdk synth` uses."""
    return load_cdk_context()


@pytest.fixture
def app() -> cdk.App:
    """A fresh app with cdk.json's feature flags."""
    return new_app()


@pytest.fixture
def template_snapshot(snapshot):
    """Syrupy snapshot stored as JSON; compare `normalize_template(...)` output with it."""
    return snapshot.use_extension(JSONSnapshotExtension)
