"""Small translations from CDK values to the plain values the pure layers check."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeGuard, cast

import aws_cdk as cdk
from constructs import IConstruct

from constructs_lib.errors import Violation
from constructs_lib.limits import UNRESOLVED, CheckedValue, Invalid

# A construct's path never changes, and most constructs share a few scopes (a stack): remember each scope's path
# instead of asking jsii again, for as long as the scope lives.
_SCOPE_PATHS: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()


def child_path(scope: IConstruct, id: str) -> str:
    """The path a construct `id` under `scope` will have, known before it is created."""
    parent = path_of(scope)
    return f"{parent}/{id}" if parent else id


def path_of(construct: IConstruct) -> str:
    """``construct.node.path``, asked of jsii once per construct (a path never changes)."""
    try:
        path = _SCOPE_PATHS.get(construct)
    except TypeError:  # not weakly referable: not a jsii object, read as it is
        return str(construct.node.path)
    if path is None:
        path = _SCOPE_PATHS[construct] = construct.node.path
    return path


# CDK encodes a number token as a huge negative double; any number above this is a plain value, which saves a
# round trip to jsii for every setting checked.
_NUMBER_TOKEN_CEILING = -1e280


def number_or_unresolved(value: Any) -> CheckedValue:
    """A plain number as is, a token as UNRESOLVED, None as None. An int subclass (an IntEnum, say) is Invalid:
    jsii passes only plain numbers. Anything else is passed through to be rejected by the range check."""
    if value is None:
        return None
    if isinstance(value, float) and value < _NUMBER_TOKEN_CEILING and cdk.Token.is_unresolved(value):
        return UNRESOLVED
    if isinstance(value, int | float) and type(value) not in (int, float, bool):
        return Invalid(
            f"a plain int or float (jsii cannot pass a {type(value).__name__} to CloudFormation; use int(...))",
            repr(value),
        )
    # A value of any other type is passed on for the range check to report as given (its repr, with the allowed
    # range); CheckedValue (limits.py) does not name such values, hence the cast (as in checks.template.number).
    return cast(CheckedValue, value)


def seconds_or_unresolved(duration: cdk.Duration | None) -> CheckedValue:
    """Seconds of a Duration (fractions kept, so a non-whole value can be reported), or UNRESOLVED for a token.

    Invalid for anything but a Duration, and for a token Duration CDK cannot convert to seconds (a token given in
    minutes, hours or milliseconds: ``Duration.minutes(param.value_as_number).to_seconds()`` raises)."""
    if duration is None:
        return None
    if not isinstance(duration, cdk.Duration):
        return Invalid("a cdk.Duration (e.g. cdk.Duration.seconds(60))", f"{type(duration).__name__} {duration!r}")
    if duration.is_unresolved():
        try:
            duration.to_seconds()
        except Exception:  # jsii's error for "cannot be converted into seconds"
            return Invalid(
                "a Duration CDK can convert to seconds: give a token as cdk.Duration.seconds(...)",
                f"a token Duration in {duration.unit_label()}",
            )
        return UNRESOLVED
    milliseconds = duration.to_milliseconds()
    return milliseconds // 1000 if milliseconds % 1000 == 0 else milliseconds / 1000


# CDK encodes every token in a string as ``${Token[...]}`` (aws-cdk core, TokenString): looking for it in Python
# answers ``Token.is_unresolved`` for a string without a round trip to jsii.
_STRING_TOKEN_MARKER = "${Token["


def is_resolved_str(value: str | None) -> TypeGuard[str]:
    return isinstance(value, str) and _STRING_TOKEN_MARKER not in value


def has_member(obj: Any, name: str) -> bool:
    """Whether `obj` has the property or method `name`, asked of its class so that nothing is read (a read is a
    round trip to jsii). jsii's dynamic interface proxies keep their members on the instance."""
    if hasattr(type(obj), name):
        return True
    return type(obj).__name__ == "InterfaceDynamicProxy" and hasattr(obj, name)


def check_flag(value: Any, *, path: str, setting: str) -> list[Violation]:
    """A boolean setting must be a bool: jsii rejects anything else after the construct is half built."""
    if isinstance(value, bool):
        return []
    return [Violation(path, setting, "True or False", repr(value))]


_SCOPE_APPS: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()


def app_key(scope: IConstruct) -> str:
    """A key for the app (the construct tree's root) `scope` belongs to, stable for its lifetime: jsii's
    reference of the root object. Cached per scope, like `child_path`."""
    key = _SCOPE_APPS.get(scope)
    if key is None:
        root = scope.node.root
        # The jsii runtime sets __jsii_ref__ on every object it creates; its generated types do not declare it.
        jsii_ref: str = root.__jsii_ref__.ref  # type: ignore[attr-defined]
        key = _SCOPE_APPS[scope] = jsii_ref
    return key


def arn_region_account(arn: Any) -> tuple[str, str] | None:
    """(region, account) of a plain ARN string; None for a token or anything else."""
    if not isinstance(arn, str) or not is_resolved_str(arn):
        return None
    parts = arn.split(":", 5)
    return (parts[3], parts[4]) if len(parts) == 6 and parts[0] == "arn" else None


def check_same_region(
    arn: Any, scope: IConstruct, *, path: str, setting: str, what: Callable[[], str]
) -> list[Violation]:
    """An event source in another region than the stack: Lambda polls sources of its own region only, the
    mapping fails at deploy. Unknown (a token ARN, an environment-agnostic stack) is not guessed."""
    parts = arn_region_account(arn)
    if parts is None or not parts[0]:
        return []
    region = stack_of(scope).region
    if not is_resolved_str(region) or region == parts[0]:
        return []
    return [
        Violation(
            path,
            setting,
            f"a source in the stack's region ({region}): an event source mapping reads sources of its own region only",
            f"{what()} in region {parts[0]}",
        )
    ]


_SCOPE_STACKS: weakref.WeakKeyDictionary[IConstruct, cdk.Stack] = weakref.WeakKeyDictionary()


def remember_stack(construct: IConstruct, scope: IConstruct) -> None:
    """A construct just created under `scope` is in `scope`'s stack: remembered, so `stack_of` needs no read."""
    _SCOPE_STACKS[construct] = stack_of(scope)


def stack_of(scope: IConstruct) -> cdk.Stack:
    """``Stack.of(scope)``, asked of jsii once per scope."""
    stack = _SCOPE_STACKS.get(scope)
    if stack is None:
        stack = _SCOPE_STACKS[scope] = cdk.Stack.of(scope)
    return stack


ALIAS_GRANT = "_constructs_lib_alias_grant"
"""Marks a KMS statement on ``key/*`` narrowed to one alias by ``kms:ResourceAliases``: (wildcard ARN, alias)."""
OBJECTS_GRANT = "_constructs_lib_objects_grant"
"""Marks an ``s3:PutObject`` statement on a failure bucket's objects (``<bucket ARN>/*``): the wildcard ARN."""


def nag_rendering(scope: IConstruct, value: str) -> str:
    """A string the way cdk-nag shows it in a finding id: ``Ref``s as ``<AWS::Region>``, ``Fn::GetAtt``s as
    ``<LogicalId.Arn>``."""
    resolved = stack_of(scope).resolve(value)
    if isinstance(resolved, str):
        return resolved
    parts = resolved.get("Fn::Join", ["", []])[1] if isinstance(resolved, dict) else []
    return "".join(part if isinstance(part, str) else _nag_part(part) for part in parts)


def _nag_part(part: Any) -> str:
    if isinstance(part, dict) and isinstance(part.get("Fn::GetAtt"), list):
        return f"<{'.'.join(str(item) for item in part['Fn::GetAtt'])}>"
    return f"<{part.get('Ref', part) if isinstance(part, dict) else part}>"
