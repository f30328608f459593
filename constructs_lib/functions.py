"""What a construct needs to know about the function it configures: Function, Version or Alias."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from constructs_lib._cdk import has_member

LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionSubject:
    """``given`` as passed; ``base`` the underlying function; ``qualifier`` $LATEST, a version or an alias."""

    given: lambda_.IFunction
    base: lambda_.IFunction
    qualifier: str
    kind: str

    @cached_property
    def path(self) -> str:
        return self.given.node.path

    @cached_property
    def cfn_function(self) -> lambda_.CfnFunction | None:
        """The L1 function when it is defined in this app (not imported), else None."""
        child = self.base.node.default_child
        return child if isinstance(child, lambda_.CfnFunction) else None

    def same_function(self, other: FunctionSubject) -> bool:
        return self.base.node.path == other.base.node.path

    def describe(self) -> str:
        return f"{self.kind} {self.path}"


def subject_of(function: Any) -> FunctionSubject | None:
    """Describe a Function, Version or Alias (owned or imported); None if `function` is none of them."""
    if has_member(function, "alias_name") and has_member(function, "version"):
        return FunctionSubject(function, function.version.lambda_, function.alias_name, "Alias")
    if has_member(function, "lambda_") and has_member(function, "version"):
        return FunctionSubject(function, function.lambda_, function.version, "Version")
    if has_member(function, "function_arn"):
        return FunctionSubject(function, function, LATEST, "Function")
    return None


def grant_statements(
    scope: IConstruct,
    subject: FunctionSubject,
    statements: Sequence[iam.PolicyStatement],
    what: Callable[[], str],
) -> None:
    """Add `statements` to the function's execution role; without a known role (an imported function), warn
    with the permissions the user must grant, since the wiring cannot work without them. `what` describes the
    resource for that warning (called only then)."""
    if subject.given.role is None:
        actions = sorted({action for statement in statements for action in statement.actions})
        cdk.Annotations.of(scope).add_warning_v2(
            "constructs_lib:function-without-role",
            f"{subject.describe()} has no known execution role (imported without one): grant it "
            f"{', '.join(actions)} on {what()} yourself, or this wiring cannot work.",
        )
        return
    for statement in statements:
        subject.given.add_to_role_policy(statement)
