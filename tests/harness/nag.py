"""cdk-nag v3 findings for a construct tree, with the construct path of every violating resource.

cdk-nag 3 is a CDK validation plugin; `validate_scope` is its direct entry point. Its report names the rule but
the Python binding drops the violating construct path, so the tree is walked once more, resource by resource,
only when the whole-scope run found something.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NagPack, ServerlessChecks
from constructs import IConstruct

from constructs_lib.nag import FailureHandlingChecks


@dataclass(frozen=True, order=True)
class NagFinding:
    rule_id: str
    path: str
    severity: str
    description: str

    def __str__(self) -> str:
        return f"{self.rule_id} ({self.severity}) at {self.path}: {self.description}"


def default_packs() -> list[NagPack]:
    """The packs every sample stack must pass: AWS Solutions, Serverless and our FailureHandling."""
    return [AwsSolutionsChecks(), ServerlessChecks(), FailureHandlingChecks()]


def nag_findings(scope: IConstruct, packs: Sequence[NagPack] | None = None) -> list[NagFinding]:
    """Unacknowledged findings of `packs` (default: AwsSolutions, Serverless, FailureHandling) below `scope`."""
    packs = list(packs) if packs is not None else default_packs()
    failing = [pack for pack in packs if pack.validate_scope(scope).violations]
    if not failing:
        return []
    resources = [node for node in scope.node.find_all() if cdk.CfnResource.is_cfn_resource(node)]
    findings: set[NagFinding] = set()
    for resource in resources:
        for pack in failing:
            for violation in pack.validate_scope(resource).violations:
                findings.add(
                    NagFinding(violation.rule_name, resource.node.path, violation.severity, violation.description)
                )
    return sorted(findings)
