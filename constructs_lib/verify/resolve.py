"""Resolving a template's values against its deployed stack: `Ref`, `Fn::GetAtt`, pseudo parameters, the stack's
parameter values, conditions, and the string and map functions. Pure: the live values come from `Deployed`."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from constructs_lib.verify.deployed import Deployed, StackResource, Unresolvable

NO_VALUE: Any = object()  # what Ref AWS::NoValue (or Fn::If choosing it) resolves to: the property is left out


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = next(iter(value))
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::") or key == "Condition")


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        stack: Mapping[str, Any],
        resources: Mapping[str, StackResource],
        deployed: Deployed,
    ) -> None:
        self.template = template
        self.resources = resources
        self.deployed = deployed
        stack_id = stack.get("StackId", "")
        arn = stack_id.split(":")
        self.pseudo = {
            "AWS::StackName": stack.get("StackName", ""),
            "AWS::StackId": stack_id,
            "AWS::Partition": arn[1] if len(arn) > 4 else "aws",
            "AWS::Region": arn[3] if len(arn) > 4 else "",
            "AWS::AccountId": arn[4] if len(arn) > 4 else "",
            "AWS::URLSuffix": "amazonaws.com.cn" if len(arn) > 4 and arn[1] == "aws-cn" else "amazonaws.com",
        }
        self.parameters: dict[str, Any] = {}
        declared = template.get("Parameters") or {}
        for parameter in stack.get("Parameters") or []:
            # An SSM-typed parameter's value is the parameter name; CloudFormation used the resolved value.
            value = parameter.get("ResolvedValue", parameter.get("ParameterValue"))
            if str((declared.get(parameter["ParameterKey"]) or {}).get("Type", "")).startswith("List<"):
                value = value.split(",") if isinstance(value, str) else value
            self.parameters[parameter["ParameterKey"]] = value
        self._conditions: dict[str, bool] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::If":
                name, if_true, if_false = argument
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Fn::FindInMap":
                name, top, second = (self.resolve(part) for part in argument[:3])
                try:
                    return self.resolve(self.template["Mappings"][name][top][second])
                except (KeyError, TypeError):
                    raise Unresolvable(f"Fn::FindInMap {name}.{top}.{second}: not in the template") from None
            if key == "Fn::ImportValue":
                return self.deployed.export(self.resolve(argument))
            if key == "Fn::Base64":
                return base64.b64encode(str(self.resolve(argument)).encode()).decode()
            if key.startswith("Fn::"):
                raise Unresolvable(f"{key} is not resolved by verify")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise Unresolvable(f"Ref {name}: not a parameter or a deployed resource of the stack")
        return resource.physical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute}: not a deployed resource of the stack")
        return self.deployed.attribute(resource.resource_type, resource.physical_id, attribute)

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def condition(self, name: str) -> bool:
        """A condition of the template, evaluated with the stack's parameter values."""
        if name not in self._conditions:
            definition = (self.template.get("Conditions") or {}).get(name)
            if definition is None:
                raise Unresolvable(f"condition {name}: not in the template")
            self._conditions[name] = self._evaluate(definition)
        return self._conditions[name]

    def _evaluate(self, expression: Any) -> bool:
        if isinstance(expression, Mapping) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate(argument[0])
            if key == "Fn::And":
                return all(self._evaluate(item) for item in argument)
            if key == "Fn::Or":
                return any(self._evaluate(item) for item in argument)
        if isinstance(expression, bool):
            return expression
        raise Unresolvable(f"condition {expression!r} is not evaluated by verify")
