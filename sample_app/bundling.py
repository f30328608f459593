"""Packages the handlers with Powertools for AWS Lambda without Docker.

CDK bundles assets in a Docker container unless a local bundler succeeds. This one copies the handler modules
and the pure-Python Powertools package (with its dependencies) from the environment that runs the synth, where
the project's dev extras installed them at the pinned versions.
"""

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

# Powertools and what it imports at runtime (its install requirements).
RUNTIME_PACKAGES = ("aws_lambda_powertools", "jmespath", "typing_extensions")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def _copy_module(name: str, output_dir: Path) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed: run `make synth` (it installs the project's dev extras)")
    if spec.submodule_search_locations:
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, output_dir / source.name, ignore=_IGNORED, dirs_exist_ok=True)
    else:
        shutil.copy2(spec.origin, output_dir / Path(spec.origin).name)


@jsii.implements(cdk.ILocalBundling)
class HandlersWithPowertools:
    def __init__(self, handlers_dir: Path) -> None:
        self.handlers_dir = handlers_dir

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        output = Path(output_dir)
        shutil.copytree(self.handlers_dir, output, ignore=_IGNORED, dirs_exist_ok=True)
        for name in RUNTIME_PACKAGES:
            _copy_module(name, output)
        return True


def handlers_code(handlers_dir: Path) -> cdk.aws_lambda.Code:
    """The handlers directory plus Powertools, bundled locally (never in Docker)."""
    return cdk.aws_lambda.Code.from_asset(
        str(handlers_dir),
        bundling=cdk.BundlingOptions(
            # Only used if local bundling declined, which it never does: it raises instead.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=HandlersWithPowertools(handlers_dir),
        ),
    )
