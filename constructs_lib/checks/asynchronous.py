"""Rules for asynchronously invoked functions."""

from __future__ import annotations

from collections.abc import Iterator

from constructs_lib.checks.iam import statement_covers, statements_granting
from constructs_lib.checks.model import Level, rule
from constructs_lib.checks.template import FUNCTION, PERMISSION, TemplateView, as_list, as_mapping
from constructs_lib.limits import LAMBDA_INVOKE_ACTION

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


# Services whose resource-based permission means a synchronous invocation (API Gateway's default, load
# balancers, Cognito triggers, Lex, Alexa, Secrets Manager rotation).
SYNC_PRINCIPALS = frozenset(
    {
        "apigateway.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "cognito-idp.amazonaws.com",
        "lex.amazonaws.com",
        "lexv2.amazonaws.com",
        "alexa-appkit.amazon.com",
        "alexa-connectedhome.amazon.com",
        "secretsmanager.amazonaws.com",
    }
)


def async_invoked_functions(view: TemplateView) -> dict[str, str]:
    """Functions invoked asynchronously -> why we know (an EventInvokeConfig, a permission for a service, an
    SNS subscription, an EventBridge rule target or an S3 notification)."""
    found: dict[str, str] = {}
    for logical_id, _, function_id in view.invoke_configs:
        if function_id is not None:
            found.setdefault(function_id, f"it has the EventInvokeConfig {logical_id}")
    for logical_id, properties in view.of_type(PERMISSION):
        principal = properties.get("Principal")
        function_id = view.function_id(properties.get("FunctionName"))
        if function_id is not None and isinstance(principal, str) and principal in ASYNC_PRINCIPALS:
            found.setdefault(function_id, f"{principal} may invoke it ({logical_id})")
    # A destination function is invoked asynchronously ("Introducing AWS Lambda Destinations", AWS Compute Blog).
    for logical_id, properties, _ in view.invoke_configs:
        for role in ("OnSuccess", "OnFailure"):
            destination = as_mapping(as_mapping(properties.get("DestinationConfig")).get(role)).get("Destination")
            function_id = view.function_id(destination) if destination else None
            if function_id is not None:
                found.setdefault(function_id, f"it is the {role} destination of {logical_id}")
    for logical_id, properties in view.of_type("AWS::SNS::Subscription"):
        function_id = view.function_id(properties.get("Endpoint"))
        if function_id is not None and properties.get("Protocol") == "lambda":
            found.setdefault(function_id, f"the SNS subscription {logical_id} invokes it")
    for logical_id, properties in view.of_type("AWS::Events::Rule"):
        for target in as_list(properties.get("Targets")):
            function_id = view.function_id(as_mapping(target).get("Arn"))
            if function_id is not None:
                found.setdefault(function_id, f"the EventBridge rule {logical_id} targets it")
    for logical_id, properties in view.of_type("AWS::S3::Bucket"):
        notifications = as_mapping(properties.get("NotificationConfiguration"))
        for configuration in as_list(notifications.get("LambdaConfigurations")):
            function_id = view.function_id(as_mapping(configuration).get("Function"))
            if function_id is not None:
                found.setdefault(function_id, f"the S3 bucket {logical_id} notifies it")
    return found


def maybe_async_invoked_functions(view: TemplateView) -> set[str]:
    """Functions something in the template might invoke asynchronously without saying so: a permission for a
    principal that is not a known synchronous service, or an IAM grant of lambda:InvokeFunction on them."""
    found = set(async_invoked_functions(view))
    for _, properties in view.of_type(PERMISSION):
        principal = properties.get("Principal")
        function_id = view.function_id(properties.get("FunctionName"))
        if function_id is not None and not (isinstance(principal, str) and principal in SYNC_PRINCIPALS):
            found.add(function_id)
    invoking = statements_granting(view, LAMBDA_INVOKE_ACTION)
    for function_id, _ in view.of_type(FUNCTION) if invoking else ():
        resource = f"${{{function_id}}}"
        if function_id not in found and any(
            statement_covers(view, s, LAMBDA_INVOKE_ACTION, resource) for s in invoking
        ):
            found.add(function_id)
    return found


def synchronous_invokers(view: TemplateView) -> dict[str, str]:
    """Functions -> a synchronous invoker the template shows (an event source mapping, a synchronous
    service's permission, a function URL)."""
    found: dict[str, str] = {}
    for mapping in view.mappings:
        if mapping.function_id is not None:
            found.setdefault(mapping.function_id, f"the event source mapping {mapping.logical_id}")
    for logical_id, properties in view.of_type(PERMISSION):
        principal = properties.get("Principal")
        function_id = view.function_id(properties.get("FunctionName"))
        if function_id is not None and isinstance(principal, str) and principal in SYNC_PRINCIPALS:
            found.setdefault(function_id, f"{principal} ({logical_id})")
    for logical_id, properties in view.of_type("AWS::Lambda::Url"):
        function_id = view.function_id(properties.get("TargetFunctionArn"))
        if function_id is not None:
            found.setdefault(function_id, f"the function URL {logical_id}")
    return found


def has_failure_home(view: TemplateView, function_id: str) -> bool:
    if as_mapping(view.properties(function_id).get("DeadLetterConfig")).get("TargetArn"):
        return True
    return any(
        function == function_id
        and as_mapping(as_mapping(properties.get("DestinationConfig")).get("OnFailure")).get("Destination")
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


@rule(
    "DeadLetterQueueNeverUsed",
    Level.WARNING,
    explanation="A function's dead-letter queue receives only failed asynchronous events; records of an event "
    "source mapping or synchronous calls never reach it, so their failures are not parked there.",
    fix="Park failures where they happen: an SQS source queue's redrive policy, a stream mapping's on-failure "
    "destination; remove the dead-letter queue or invoke the function asynchronously.",
)
def dead_letter_queue_never_used(view: TemplateView) -> Iterator[tuple[str, str]]:
    maybe_async = maybe_async_invoked_functions(view)
    for function_id, invoker in sorted(synchronous_invokers(view).items()):
        has_dlq = as_mapping(view.properties(function_id).get("DeadLetterConfig")).get("TargetArn")
        if view.type_of(function_id) == FUNCTION and has_dlq and function_id not in maybe_async:
            yield (
                function_id,
                f"function has a dead-letter queue but only {invoker} invokes it, synchronously, and nothing "
                "in the template invokes it asynchronously",
            )
