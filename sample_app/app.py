"""Builds the sample app. The CDK CLI passes cdk.json's context; tests pass the same context explicitly."""

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from constructs_lib import FailureHandlingChecks
from sample_app.orders_stack import OrdersPipelineStack


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True) -> cdk.App:
    """The sample app; with ``nag`` the cdk-nag packs (AwsSolutions, Serverless and our FailureHandling) run at
    synth and any finding fails it."""
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    OrdersPipelineStack(app, "OrdersPipeline")
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), FailureHandlingChecks(app))
    return app
