"""Rules for asynchronously invoked functions."""

from __future__ import annotations

from collections.abc import Iterator

from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import FUNCTION, PERMISSION, TemplateView

# Services that invoke Lambda asynchronously through a resource-based permission.
ASYNC_PRINCIPALS = frozenset(
    {
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "events.amazonaws.com",
        "ses.amazonaws.com",
        "iot.amazonaws.com",
        "logs.amazonaws.com",
        "codecommit.amazonaws.com",
        "config.amazonaws.com",
    }
)


def async_invoked_functions(view: TemplateView) -> dict[str, str]:
    """Functions invoked asynchronously -> why we know (an EventInvokeConfig or a permission for a service)."""
    found: dict[str, str] = {}
    for logical_id, _, function_id in view.invoke_configs:
        if function_id is not None:
            found.setdefault(function_id, f"it has the EventInvokeConfig {logical_id}")
    for logical_id, properties in view.of_type(PERMISSION):
        principal = properties.get("Principal")
        function_id = view.function_id(properties.get("FunctionName"))
        if function_id is not None and isinstance(principal, str) and principal in ASYNC_PRINCIPALS:
            found.setdefault(function_id, f"{principal} may invoke it ({logical_id})")
    return found


def has_failure_home(view: TemplateView, function_id: str) -> bool:
    if (view.properties(function_id).get("DeadLetterConfig") or {}).get("TargetArn"):
        return True
    return any(
        function == function_id
        and ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        for _, properties, function in view.invoke_configs
    )


@rule(
    "AsyncNoFailureHome",
    Level.ERROR,
    explanation="An asynchronously invoked function without an on-failure destination or DLQ drops events "
    "once retries or the maximum event age run out.",
    fix="Add an on-failure destination or a dead-letter queue (AsyncInvocation's default is a FailureQueue).",
)
def async_no_failure_home(view: TemplateView) -> Iterator[tuple[str, str]]:
    for function_id, why in sorted(async_invoked_functions(view).items()):
        if view.type_of(function_id) == FUNCTION and not has_failure_home(view, function_id):
            yield (
                function_id,
                f"function is invoked asynchronously ({why}) but has no on-failure destination and no DLQ",
            )
