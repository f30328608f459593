"""What the comparison reads from an account, as a protocol: `AwsAccount` implements it with boto3, tests may
implement it with plain dicts. No boto3 import here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Unresolvable(Exception):
    """A template value that cannot be resolved against the deployed stack."""


class StackNotReadable(Exception):
    """The stack does not exist or cannot be described: nothing can be verified."""


class ResourceGone(Exception):
    """The resource CloudFormation lists no longer exists in its service (deleted outside CloudFormation)."""


class NotReadable(Exception):
    """The service refused to describe the resource (e.g. AccessDenied): its settings cannot be verified."""


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    resource_type: str
    physical_id: str
    status: str


class Deployed(Protocol):
    """Read-only access to a deployed account. Every reader raises `ResourceGone` when the resource does not
    exist and `NotReadable` when it may not be read; `stack` raises `StackNotReadable`."""

    def stack(self, stack_name: str) -> Mapping[str, Any]: ...

    def stack_resources(self, stack_name: str) -> Mapping[str, StackResource]: ...

    def deployed_template(self, stack_name: str) -> Mapping[str, Any]: ...

    def export(self, name: str) -> Any: ...

    def attribute(self, resource_type: str, physical_id: str, attribute: str) -> Any: ...

    def event_source_mapping(self, uuid: str) -> Mapping[str, Any]: ...

    def event_invoke_config(self, function_name: str, qualifier: str | None) -> Mapping[str, Any]: ...

    def event_invoke_configs(self, function_name: str) -> list[Mapping[str, Any]]: ...

    def function_configuration(self, function_name: str) -> Mapping[str, Any]: ...

    def queue_attributes(self, queue_url: str) -> Mapping[str, str]: ...

    def subscription_attributes(self, subscription_arn: str) -> Mapping[str, str]: ...

    def rule_targets(self, rule_name: str, event_bus_name: str) -> list[Mapping[str, Any]]: ...

    def metric_alarm(self, alarm_name: str) -> Mapping[str, Any]: ...

    def delivery_decisions(self, function_name: str, actions: tuple[str, ...], target_arn: str) -> Grant: ...


@dataclass(frozen=True)
class Grant:
    """What IAM's policy simulation says about a function's execution role calling `actions` on a target.

    `decisions` maps each action to "allowed", "implicitDeny" or "explicitDeny" for the role's own policies (the
    simulation cannot include a resource policy for a role). `target_policy` says whether the target has a
    resource policy of its own (None: unknown), which can still allow a call in its account; `cross_account`
    whether the target is in another account than the role, where the role's own policies must allow it."""

    role_arn: str
    decisions: Mapping[str, str]
    target_policy: bool | None
    cross_account: bool
