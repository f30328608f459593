"""What a function's execution role is allowed to do, as far as the template tells. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constructs_lib.checks.template import (
    MANAGED_POLICY,
    POLICY,
    ROLE,
    TemplateView,
    arn_service,
    as_list,
    matches,
)

# AWS managed policies commonly attached to Lambda roles, with the statements that matter here. A role with
# any other managed policy is not checked for missing permissions: what it grants cannot be known.
KNOWN_MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [],
    "AWSLambdaVPCAccessExecutionRole": [],
    "AWSXRayDaemonWriteAccess": [],
    "AWSLambdaKinesisExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
                "kinesis:ListStreams",
                "kinesis:SubscribeToShard",
            ],
            "Resource": "*",
        }
    ],
    "AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": "*",
        }
    ],
    "AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        }
    ],
}


@dataclass(frozen=True)
class Grants:
    """The Allow statements of one role."""

    statements: tuple[Mapping[str, Any], ...]

    def allows(self, view: TemplateView, action: str, resource: str) -> bool:
        """Whether some Allow statement covers `action` on `resource` (a canonical ARN, see TemplateView.render).

        Conditions are assumed to hold and Deny statements are not weighed: the check is for grants that are
        missing altogether, never for a clever policy that might deny.
        """
        return any(_statement_allows(view, statement, action, resource) for statement in self.statements)


def role_grants(view: TemplateView, function_id: str) -> Grants | None:
    """The grants of a function's execution role; None when the role or one of its policies is unknown."""
    role_id = view.referenced_id(view.properties(function_id).get("Role"))
    if role_id is None or view.type_of(role_id) != ROLE:
        return None
    role = view.properties(role_id)
    statements: list[Mapping[str, Any]] = []
    for policy in as_list(role.get("Policies")):
        statements += _statements(policy.get("PolicyDocument") if isinstance(policy, Mapping) else None)
    for managed_arn in as_list(role.get("ManagedPolicyArns")):
        rendered = view.render(managed_arn)
        name = rendered.rsplit("/", 1)[-1] if rendered and ":iam::aws:policy/" in rendered else None
        if name in KNOWN_MANAGED_POLICIES:
            statements += KNOWN_MANAGED_POLICIES[name]
        elif view.type_of(view.referenced_id(managed_arn)) == MANAGED_POLICY:
            continue  # read below, from the policy resource itself
        else:
            return None
    for document in view.policies_by_role.get(role_id, []):
        statements += _statements(document)
    return Grants(tuple(statements))


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [s for s in statements if isinstance(s, Mapping) and s.get("Effect") == "Allow"]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_matches(pattern: Any, action: str) -> bool:
    return isinstance(pattern, str) and matches(pattern.lower(), action.lower())


def _resource_matches(view: TemplateView, pattern_value: Any, resource: str) -> bool:
    pattern = view.render(pattern_value)
    if pattern is None:
        return True  # an intrinsic that cannot be followed: do not claim the grant is missing
    if matches(pattern, resource):
        return True
    # A literal wildcard ARN of the resource's service may well cover a resource known only by its logical id;
    # a pattern that names another resource of the template does not.
    if "*" in pattern and "${" not in pattern and resource.startswith("${"):
        resource_type = view.type_of(resource[2:].split("}", 1)[0].split(".", 1)[0]) or ""
        service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else None
        return service is not None and arn_service(pattern) == service
    return False


def _statement_allows_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_action_matches(p, action) for p in _as_list(statement["NotAction"]))
    return any(_action_matches(p, action) for p in _as_list(statement.get("Action")))


def _statement_allows(view: TemplateView, statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if not _statement_allows_action(statement, action):
        return False
    if "NotResource" in statement:
        return not any(_resource_matches(view, p, resource) for p in _as_list(statement["NotResource"]))
    return any(_resource_matches(view, p, resource) for p in _as_list(statement.get("Resource")))


def statements_granting(view: TemplateView, action: str) -> list[Mapping[str, Any]]:
    """Allow statements of any role or policy of the template whose actions cover `action`."""
    documents: list[Any] = []
    for _, role in view.of_type(ROLE):
        documents += [p.get("PolicyDocument") for p in as_list(role.get("Policies")) if isinstance(p, Mapping)]
    documents += [policy.get("PolicyDocument") for _, policy in view.of_type(POLICY, MANAGED_POLICY)]
    statements = [statement for document in documents for statement in _statements(document)]
    return [s for s in statements if _statement_allows_action(s, action)]


def statement_covers(view: TemplateView, statement: Mapping[str, Any], action: str, resource: str) -> bool:
    return _statement_allows(view, statement, action, resource)
