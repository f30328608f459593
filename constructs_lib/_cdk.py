"""Small translations from CDK values to the plain values the pure layers check."""

from __future__ import annotations

import weakref
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

from constructs_lib.limits import UNRESOLVED, CheckedValue

# A construct's path never changes, and most constructs share a few scopes (a stack): remember each scope's path
# instead of asking jsii again, for as long as the scope lives.
_SCOPE_PATHS: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()


def child_path(scope: IConstruct, id: str) -> str:
    """The path a construct `id` under `scope` will have, known before it is created."""
    parent = _SCOPE_PATHS.get(scope)
    if parent is None:
        parent = _SCOPE_PATHS[scope] = scope.node.path
    return f"{parent}/{id}" if parent else id


# CDK encodes a number token as a huge negative double; any number above this is a plain value, which saves a
# round trip to jsii for every setting checked.
_NUMBER_TOKEN_CEILING = -1e280


def number_or_unresolved(value: Any) -> CheckedValue:
    """A plain number as is, a token as UNRESOLVED, None as None; anything else is passed through to be rejected."""
    if value is None:
        return None
    if isinstance(value, float) and value < _NUMBER_TOKEN_CEILING and cdk.Token.is_unresolved(value):
        return UNRESOLVED
    return value


def seconds_or_unresolved(duration: cdk.Duration | None) -> CheckedValue:
    """Seconds of a Duration (fractions kept, so a non-whole value can be reported), or UNRESOLVED for a token."""
    if duration is None:
        return None
    if not isinstance(duration, cdk.Duration):
        return duration  # reported by the range check as not a number
    if duration.is_unresolved():
        return UNRESOLVED
    milliseconds = duration.to_milliseconds()
    return milliseconds // 1000 if milliseconds % 1000 == 0 else milliseconds / 1000


def is_resolved_str(value: str | None) -> bool:
    return value is not None and not cdk.Token.is_unresolved(value)


def has_member(obj: Any, name: str) -> bool:
    """Whether `obj` has the property or method `name`, asked of its class so that nothing is read (a read is a
    round trip to jsii). jsii's dynamic interface proxies keep their members on the instance."""
    if hasattr(type(obj), name):
        return True
    return type(obj).__name__ == "InterfaceDynamicProxy" and hasattr(obj, name)
