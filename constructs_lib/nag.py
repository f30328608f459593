"""FailureHandlingChecks: the failure-handling rules (constructs_lib.checks) as a cdk-nag v3 pack.

    Validations.of(app).add_plugins(FailureHandlingChecks(app))

Findings fail ``cdk synth`` like any cdk-nag finding and are acknowledged the cdk-nag way, per rule, on the
narrowest construct, with a reason:

    Validations.of(construct).acknowledge(Acknowledgment(id="FailureHandling-StreamNoBisect", reason="..."))

The pack renders each stack's resources to a CloudFormation template once per run and applies the same pure
rules as the audit CLI and the test helpers. Property overrides (``add_property_override``) are not part of
that rendering; the audit CLI, which reads synthesized templates, sees them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeGuard

import aws_cdk as cdk
import jsii
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from constructs_lib.checks import RULES, Finding, Level, run_checks

PACK_NAME = "FailureHandling"


@jsii.implements(IApplyRule)
class _Applied:
    """One finding handed to cdk-nag; members are properties so that JavaScript sees them, settable because
    IApplyRule declares them so."""

    def __init__(self, node: cdk.CfnResource, finding: Finding) -> None:
        rule = RULES[finding.rule_id]
        self._node = node
        self._rule_suffix_override: str | None = finding.rule_id
        self._info = finding.message
        self._explanation = f"{rule.explanation} Fix: {rule.fix}"
        self._level = NagMessageLevel.ERROR if finding.level is Level.ERROR else NagMessageLevel.WARN

    @property
    def rule_suffix_override(self) -> str | None:
        return self._rule_suffix_override

    @rule_suffix_override.setter
    def rule_suffix_override(self, value: str | None) -> None:
        self._rule_suffix_override = value

    @property
    def info(self) -> str:
        return self._info

    @info.setter
    def info(self, value: str) -> None:
        self._info = value

    @property
    def explanation(self) -> str:
        return self._explanation

    @explanation.setter
    def explanation(self, value: str) -> None:
        self._explanation = value

    @property
    def level(self) -> NagMessageLevel:
        return self._level

    @level.setter
    def level(self, value: NagMessageLevel) -> None:
        self._level = value

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    @node.setter
    def node(self, value: cdk.CfnResource) -> None:
        self._node = value

    def rule(self, node: cdk.CfnResource) -> NagRuleCompliance:
        return NagRuleCompliance.NON_COMPLIANT


def _is_cfn_resource(node: IConstruct) -> TypeGuard[cdk.CfnResource]:
    # CfnResource.isCfnResource, the test cdk itself uses; its jsii binding returns bool, not a type guard.
    return cdk.CfnResource.is_cfn_resource(node)


def stack_template(stack: cdk.Stack) -> dict[str, Any]:
    """The Resources of `stack` as CloudFormation renders them (types and properties, tokens resolved)."""
    resources: dict[str, Any] = {}
    for node in stack.node.find_all():
        if _is_cfn_resource(node) and cdk.Stack.of(node) is stack:
            logical_id = stack.resolve(node.logical_id)
            properties = node._render_properties(stack.resolve(node._cfn_properties))
            resources[logical_id] = {"Type": node.cfn_resource_type, "Properties": properties or {}}
    return {"Resources": resources}


class FailureHandlingChecks(NagPack):
    """cdk-nag v3 pack of the failure-handling rules; rule ids are ``FailureHandling-<Rule>``."""

    def __init__(self, scope: IConstruct | None = None, *, verbose: bool | None = None) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME
        self._findings_by_stack: dict[str, dict[str, list[Finding]]] = {}

    @property
    def name(self) -> str:
        return PACK_NAME

    def validate_scope(self, scope: IConstruct) -> cdk.PolicyValidationPluginReport:
        # The tree may have changed since the last run: render every stack afresh.
        self._findings_by_stack = {}
        return super().validate_scope(scope)

    def _check_resource(self, node: cdk.CfnResource) -> None:
        stack = cdk.Stack.of(node)
        findings = self._findings_by_stack.get(stack.node.path)
        if findings is None:
            findings = defaultdict(list)
            for finding in run_checks(stack_template(stack)):
                findings[finding.resource].append(finding)
            self._findings_by_stack[stack.node.path] = findings
        for finding in findings.get(stack.resolve(node.logical_id), []):
            self._apply_rule(_Applied(node, finding))
