"""Fixtures shared by every test module."""

import os
from pathlib import Path

# jsii starts its Node process on the first aws_cdk import: make it the project's pinned Node 22 even when
# pytest is run directly rather than through `make test`.
_NODE_BIN = Path(__file__).resolve().parents[1] / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and not os.environ.get("PATH", "").startswith(str(_NODE_BIN)):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

from typing import Any  # noqa: E402

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from syrupy.extensions.json import JSONSnapshotExtension  # noqa: E402

from tests.harness import load_cdk_context, new_app  # noqa: E402


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


# --- a fake AWS for the runtime tools (records, fetch, redrive), in process ------------------------------------


@pytest.fixture
def aws(monkeypatch):
    """moto in process, with fake credentials and no Docker for Lambda; a module may override it."""
    from moto import mock_aws

    from tests.runtime_support import use_fake_aws

    use_fake_aws(monkeypatch)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


@pytest.fixture
def sqs(aws):
    import boto3

    from tests.runtime_support import REGION

    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def kinesis(aws):
    import boto3

    from tests.runtime_support import REGION

    return boto3.client("kinesis", region_name=REGION)


@pytest.fixture
def failure_queue(sqs):
    return sqs.create_queue(QueueName="orders-failures")["QueueUrl"]


@pytest.fixture
def replay_queue(sqs):
    return sqs.create_queue(QueueName="orders-replay")["QueueUrl"]
