"""What a construct needs to know about the function it configures, whatever form of ``IFunction`` it is given.

Every form aws-cdk has comes down to an underlying function and a qualifier: ``Function`` and
``DockerImageFunction`` (``$LATEST``), ``fn.latest_version`` (the same ``$LATEST``), ``Version`` /
``fn.current_version`` / ``Version.from_version_arn`` (a version), ``Alias`` / ``Alias.from_alias_attributes``
(an alias name), ``Function.from_function_arn`` / ``from_function_attributes`` (``$LATEST``, or the qualifier
of a qualified ARN) and ``SingletonFunction`` (the one function its uuid stands for, defined in this app).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, Dependable, IConstruct

from constructs_lib._cdk import (
    ALIAS_GRANT,
    OBJECTS_GRANT,
    has_member,
    is_resolved_str,
    nag_rendering,
    path_of,
    stack_of,
)
from constructs_lib.errors import Violation

LATEST = "$LATEST"

# arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
_FUNCTION_ARN = re.compile(
    r"^arn:[^:]+:lambda:(?P<region>[^:]*):(?P<account>[^:]*):function:(?P<name>[^:]+)(?::(?P<q>.+))?$"
)

# Keyword every construct takes to leave the function's permissions to the user (see `check_role`).
GRANTS_MANAGED_ELSEWHERE = "grants_managed_elsewhere"


@dataclass(frozen=True)
class FunctionSubject:
    """``given`` as passed (``fn.latest_version`` is taken as ``fn``); ``base`` the underlying function (for a
    SingletonFunction, the Function it stands for); ``qualifier`` $LATEST, a version or an alias name."""

    given: lambda_.IFunction
    base: lambda_.IFunction
    qualifier: str
    kind: str

    @cached_property
    def path(self) -> str:
        return path_of(self.given)

    @cached_property
    def cfn_function(self) -> lambda_.CfnFunction | None:
        """The L1 function when it is defined in this app (not imported), else None."""
        child = self.base.node.default_child
        return child if isinstance(child, lambda_.CfnFunction) else None

    @cached_property
    def defined_here(self) -> bool:
        """Whether the function is defined in this app (an owned Function needs no read to tell)."""
        return isinstance(self.base, lambda_.Function) or self.cfn_function is not None

    @cached_property
    def stack(self) -> cdk.Stack:
        return cdk.Stack.of(self.base)

    @cached_property
    def function_key(self) -> str:
        """The function's ARN without qualifier: the same string for every reference to one function in an app
        (a token for a function defined here, shared by all its wrappers; the ARN of an import)."""
        arn = self.base.function_arn
        match = _FUNCTION_ARN.match(arn)
        return arn[: -len(match["q"]) - 1] if match is not None and match["q"] else arn

    @cached_property
    def name_key(self) -> tuple[str, str] | None:
        """(account, name) with a plain name: how a function imported by name or ARN is matched with one defined
        in this app under a physical name. The account may be the stack's AWS::AccountId token."""
        if self.cfn_function is not None:
            name = self.cfn_function.function_name
            account = cdk.Stack.of(self.base).account if is_resolved_str(name) else None
        else:
            match = _FUNCTION_ARN.match(self.function_key)
            name, account = (match["name"], match["account"]) if match else (None, None)
        return (account, name) if is_resolved_str(name) and account else None

    @cached_property
    def role(self) -> iam.IRole | None:
        return self.given.role

    def role_in_stack_of(self, scope: IConstruct) -> bool:
        """Whether the execution role belongs to the stack `scope` is in."""
        ours = stack_of(scope)
        theirs = self._role_stack
        return theirs is not None and (theirs is ours or theirs.node.path == ours.node.path)

    @cached_property
    def _role_stack(self) -> cdk.Stack | None:
        return self.role.stack if self.role is not None else None

    def same_function(self, other: FunctionSubject) -> bool:
        """Whether both are the same underlying function, however each was referenced."""
        if self.function_key == other.function_key:
            return True
        if self.defined_here and other.defined_here:
            return False  # two functions defined in the app
        return self.name_key is not None and self.name_key == other.name_key

    def describe(self) -> str:
        return f"{self.kind} {self.path}"


def _singleton_function(singleton: lambda_.SingletonFunction) -> lambda_.IFunction:
    """The Function a SingletonFunction stands for: a child of its stack named after the uuid."""
    found = cdk.Stack.of(singleton).node.try_find_child(singleton.construct_name)
    return found if isinstance(found, lambda_.Function) else singleton


def subject_of(function: Any) -> FunctionSubject | None:
    """Describe any form of IFunction (owned or imported); None if `function` is not a Lambda function."""
    if isinstance(function, lambda_.Function):  # Function, DockerImageFunction: the common case, no reads
        return FunctionSubject(function, function, LATEST, "Function")
    if isinstance(function, lambda_.SingletonFunction):
        return FunctionSubject(function, _singleton_function(function), LATEST, "Function")
    if has_member(function, "alias_name") and has_member(function, "version"):
        return FunctionSubject(function, _underlying(function.version.lambda_), function.alias_name, "Alias")
    if has_member(function, "lambda_") and has_member(function, "version"):
        base = _underlying(function.lambda_)
        version = function.version
        if version == LATEST:  # fn.latest_version is the function's own $LATEST
            return FunctionSubject(base, base, LATEST, "Function")
        return FunctionSubject(function, base, version, "Version")
    if has_member(function, "function_arn"):
        arn = function.function_arn
        match = _FUNCTION_ARN.match(arn)
        if match is not None and match["q"]:  # imported with a qualified ARN
            kind = "Version" if match["q"].isdigit() else "Alias"
            return FunctionSubject(function, function, match["q"], kind)
        return FunctionSubject(function, function, LATEST, "Function")
    return None


def _underlying(function: Any) -> Any:
    return _singleton_function(function) if isinstance(function, lambda_.SingletonFunction) else function


# --- the execution role --------------------------------------------------------------------------------------


def role_problem(subject: FunctionSubject) -> str | None:
    """Why the function's execution role cannot take the statements a construct grants, or None if it can.

    An imported function has no known role; ``Role.from_role_arn(..., mutable=False)``, a role of another
    account and ``role.without_policy_updates()`` are aws-cdk's immutable roles, which accept statements and drop
    them. They are recognized by what aws-cdk's ``ImmutableRole`` declares: it depends on the role it wraps,
    not on itself.
    """
    role = subject.role
    if role is None:
        return "has no known execution role (imported without one)"
    if isinstance(role, iam.Role | iam.LazyRole):
        return None
    role_path = role.node.path
    if any(root.node.path != role_path for root in Dependable.of(role).dependency_roots):
        return f"has an immutable execution role {role_path} (aws-cdk drops every statement added to it)"
    return None


def check_role(subject: FunctionSubject | None, grants_managed_elsewhere: Any, *, path: str) -> list[Violation]:
    """A function whose role cannot take policies would lose every grant silently: an error, unless the user
    says the permissions are granted elsewhere (``grants_managed_elsewhere=True``)."""
    if not isinstance(grants_managed_elsewhere, bool):
        return [Violation(path, GRANTS_MANAGED_ELSEWHERE, "True or False", repr(grants_managed_elsewhere))]
    if subject is None or grants_managed_elsewhere:
        return []
    problem = role_problem(subject)
    if problem is None:
        return []
    return [
        Violation(
            path,
            "function",
            "a function whose execution role can be granted the permissions this wiring needs; if they are "
            f"granted elsewhere, pass {GRANTS_MANAGED_ELSEWHERE}=True (the permissions are then listed as an info "
            "annotation)",
            f"{subject.describe()}, which {problem}",
        )
    ]


def grant_statements(
    scope: Construct,
    subject: FunctionSubject,
    statements: Sequence[iam.PolicyStatement],
    what: Callable[[], str],
    *,
    grants_managed_elsewhere: bool = False,
) -> None:
    """Add `statements` to the function's execution role. With ``grants_managed_elsewhere`` nothing is added and
    an info annotation lists what the user grants instead; `what` describes the resource for it.

    A role of another stack gets them through a policy in `scope`'s stack: added to the role's own default
    policy they would make the function's stack depend on this one, which already depends on the function (its
    name, its ARN), a cycle CDK only reports at synth."""
    if grants_managed_elsewhere:
        actions = sorted({action for statement in statements for action in statement.actions})
        cdk.Annotations.of(scope).add_info(
            f"{subject.describe()}: permissions granted elsewhere ({GRANTS_MANAGED_ELSEWHERE}=True); this wiring "
            f"needs {', '.join(actions)} on {what()}."
        )
        return
    role = subject.role
    if role is None:  # a caller that did not check the role first (see `check_role`)
        actions = sorted({action for statement in statements for action in statement.actions})
        cdk.Annotations.of(scope).add_warning_v2(
            "constructs_lib:function-without-role",
            f"{subject.describe()} has no known execution role (imported without one): grant it "
            f"{', '.join(actions)} on {what()} yourself, or this wiring cannot work.",
        )
        return
    if not subject.role_in_stack_of(scope):
        found = scope.node.try_find_child("RolePolicy")
        policy = found if isinstance(found, iam.Policy) else iam.Policy(scope, "RolePolicy", roles=[role])
        policy.add_statements(*statements)
    else:
        policy = None
        for statement in statements:
            subject.given.add_to_role_policy(statement)
    alias_grants = [getattr(s, ALIAS_GRANT) for s in statements if hasattr(s, ALIAS_GRANT)]
    if alias_grants:
        _acknowledge_alias_wildcards(scope, subject, policy, alias_grants)
    object_grants = [getattr(s, OBJECTS_GRANT) for s in statements if hasattr(s, OBJECTS_GRANT)]
    if object_grants:
        _acknowledge_object_wildcards(scope, subject, policy, object_grants)


def _policy_resource(subject: FunctionSubject, policy: Any) -> Any:
    """The CfnPolicy holding the statements just added: `policy`, or the role's own (default) policy."""
    if policy is None and subject.role is not None:
        role = subject.role
        policy = role.node.try_find_child("DefaultPolicy") or next(
            (child for child in role.node.children if isinstance(child, iam.Policy)), None
        )
    return policy.node.default_child if policy is not None else None


def _acknowledge_object_wildcards(
    scope: IConstruct, subject: FunctionSubject, policy: Any, wildcards: list[str]
) -> None:
    """cdk-nag's AwsSolutions-IAM5 flags ``<bucket>/*``; acknowledged for that resource only, with the reason."""
    resource = _policy_resource(subject, policy)
    if resource is None:
        return
    for wildcard in wildcards:
        cdk.Validations.of(resource).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag_rendering(scope, wildcard)}]",
                reason="Lambda names each failure object itself (for a mapping: aws/lambda/<mapping UUID>/<shard>/"
                "<date>/<time>-<UUID>), so s3:PutObject must cover the bucket's objects; it is the only object "
                "action granted (no read, no delete).",
            )
        )


def _acknowledge_alias_wildcards(
    scope: IConstruct, subject: FunctionSubject, policy: Any, alias_grants: list[tuple[str, str]]
) -> None:
    """cdk-nag's AwsSolutions-IAM5 flags ``key/*``; acknowledged on the policy that holds the statement, for that
    resource only, with the true reason: KMS accepts no alias as Resource, the condition narrows it to the alias."""
    resource = _policy_resource(subject, policy)
    if resource is None:
        return
    for wildcard, alias in alias_grants:
        cdk.Validations.of(resource).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag_rendering(scope, wildcard)}]",
                reason=f"KMS ignores alias ARNs as Resource: the grant is on the account's keys, narrowed by the "
                f"condition kms:ResourceAliases = {alias} to the key that alias names (as aws-cdk grants aliases).",
            )
        )


def check_environment(subject: FunctionSubject | None, scope: IConstruct, *, path: str) -> list[Violation]:
    """A function in another account or region (imported, or defined in a stack of another environment) cannot
    be configured from this stack: CloudFormation creates the configuration in the stack's own account and
    region, and references across accounts or regions do not exist."""
    if subject is None:
        return []
    stack = stack_of(scope)
    if subject.defined_here:
        function_stack = subject.stack
        if function_stack is stack:
            return []
        account, region = function_stack.account, function_stack.region
    else:
        match = _FUNCTION_ARN.match(subject.function_key)
        if match is None:
            return []
        account, region = match["account"], match["region"]
    violations = []
    for what, theirs, ours in (("account", account, stack.account), ("region", region, stack.region)):
        if is_resolved_str(theirs) and theirs and is_resolved_str(ours) and theirs != ours:
            violations.append(
                Violation(
                    path,
                    "function",
                    f"a function in the stack's {what} ({ours}): its configuration is created where the stack is",
                    f"{subject.describe()} in {what} {theirs}",
                )
            )
    return violations
