"""Parameter defaults and conditions, evaluated the way cfn-lint does before it checks a template. Pure.

A template is judged as it deploys with its parameter defaults: ``Ref`` to a parameter with a default becomes
that default, ``Fn::If`` takes the branch its condition gives with those defaults, ``Fn::FindInMap`` with known
keys is looked up. Every resource whose properties depended on that is noted, so that findings can say so.
A parameter without a default (or an SSM parameter, whose value lives elsewhere) stays unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NO_VALUE = object()
_UNKNOWN = object()
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_MAX_DEPTH = 50


@dataclass
class Resolution:
    """The resolved template and, per logical id, what its values assumed: (top-level property or None for
    the resource itself, note)."""

    template: Mapping[str, Any]
    assumptions: dict[str, list[tuple[str | None, str]]] = field(default_factory=dict)
    references: dict[str, set[str]] = field(default_factory=dict)
    properties: dict[str, set[str]] = field(default_factory=dict)  # top-level property names per resource

    def assumed_by(self, logical_id: str, message: str = "") -> list[str]:
        """What a finding on the resource assumed: the notes of the properties its message names (its own or
        those of the resources it references); when it names no property of the resource at all, all of the
        resource's own notes."""
        own = self.assumptions.get(logical_id, [])
        referenced = [
            item for other in sorted(self.references.get(logical_id, ())) for item in self.assumptions.get(other, [])
        ]
        named = [note for key, note in own + referenced if key is not None and key in message]
        names_a_property = any(key in message for key in self.properties.get(logical_id, ()))
        chosen = named if (named or names_a_property) else [note for key, note in own if key is not None]
        chosen += [note for key, note in own if key is None]  # the resource's own condition
        return list(dict.fromkeys(chosen))


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    parameters = template.get("Parameters")
    defaults: dict[str, Any] = {}
    for name, parameter in parameters.items() if isinstance(parameters, Mapping) else ():
        if not isinstance(parameter, Mapping) or "Default" not in parameter:
            continue
        kind = parameter.get("Type")
        if isinstance(kind, str) and kind.startswith("AWS::SSM::Parameter::"):
            continue
        default = parameter["Default"]
        if isinstance(kind, str) and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            default = [item.strip() for item in str(default).split(",")] if isinstance(default, str) else default
        defaults[str(name)] = default
    return defaults


class _Resolver:
    def __init__(self, template: Mapping[str, Any]) -> None:
        self.template = template
        self.defaults = parameter_defaults(template)
        conditions = template.get("Conditions")
        self.conditions: Mapping[str, Any] = conditions if isinstance(conditions, Mapping) else {}
        mappings = template.get("Mappings")
        self.mappings: Mapping[str, Any] = mappings if isinstance(mappings, Mapping) else {}
        resources = template.get("Resources")
        self.resources: Mapping[str, Any] = resources if isinstance(resources, Mapping) else {}
        self._condition_values: dict[str, bool | None] = {}
        self._evaluating: set[str] = set()
        self.notes: list[str] = []
        self.refs: set[str] = set()

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # --- conditions --------------------------------------------------------------------------------------

    def condition(self, name: Any) -> bool | None:
        if not isinstance(name, str) or name not in self.conditions or name in self._evaluating:
            return None
        if name not in self._condition_values:
            self._evaluating.add(name)
            self._condition_values[name] = self._evaluate(self.conditions[name], 0)
            self._evaluating.discard(name)
        return self._condition_values[name]

    def _evaluate(self, expression: Any, depth: int) -> bool | None:
        if not isinstance(expression, Mapping) or len(expression) != 1 or depth > _MAX_DEPTH:
            return None
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
            left, right = (self._scalar(value, depth + 1) for value in argument)
            if left is _UNKNOWN or right is _UNKNOWN:
                return None
            return str(left) == str(right)
        if function == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
            value = self._evaluate(argument[0], depth + 1)
            return None if value is None else not value
        if function in ("Fn::And", "Fn::Or") and isinstance(argument, list):
            values = [self._evaluate(item, depth + 1) for item in argument]
            if function == "Fn::And":
                return False if False in values else None if None in values else True
            return True if True in values else None if None in values else False
        return None

    def _scalar(self, value: Any, depth: int) -> Any:
        if isinstance(value, str | int | float | bool):
            return value
        if isinstance(value, Mapping) and len(value) == 1 and "Ref" in value:
            name = value["Ref"]
            if isinstance(name, str) and name in self.defaults and not isinstance(self.defaults[name], list):
                return self.defaults[name]
        if isinstance(value, Mapping) and len(value) == 1 and "Fn::FindInMap" in value:
            found = self._find_in_map(value["Fn::FindInMap"], depth)
            if found is not _UNKNOWN and isinstance(found, str | int | float | bool):
                return found
        return _UNKNOWN

    def _find_in_map(self, argument: Any, depth: int) -> Any:
        if not isinstance(argument, list) or len(argument) < 3:
            return _UNKNOWN
        keys = [self._scalar(key, depth + 1) for key in argument[:3]]
        if _UNKNOWN in keys:
            return _UNKNOWN
        value: Any = self.mappings
        for key in keys:
            value = value.get(str(key), _UNKNOWN) if isinstance(value, Mapping) else _UNKNOWN
        return value

    # --- values ------------------------------------------------------------------------------------------

    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, list):
            items = [self.value(item, depth + 1) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and isinstance(argument, str):
                if argument == "AWS::NoValue":
                    return _NO_VALUE
                if argument in self.defaults:
                    self._note(f"parameter {argument} = {_show(self.defaults[argument])} (its default)")
                    return self.defaults[argument]
                if argument in self.resources:
                    self.refs.add(argument)
            elif function == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) and argument else argument
                if isinstance(target, str):
                    self.refs.add(target.split(".", 1)[0])
            elif function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
                chosen = self.condition(argument[0])
                if chosen is not None:
                    self._note(f"condition {argument[0]} is {str(chosen).lower()}")
                    return self.value(argument[1] if chosen else argument[2], depth + 1)
            elif function == "Fn::FindInMap":
                found = self._find_in_map(argument, depth)
                if found is not _UNKNOWN:
                    return self.value(found, depth + 1)
            elif function == "Fn::Sub":
                return {function: self._sub(argument, depth)}
        resolved = {key: self.value(item, depth + 1) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _sub(self, argument: Any, depth: int) -> Any:
        text: str | None = argument if isinstance(argument, str) else None
        variables: Any = {} if text is not None else None  # a template value once resolved: any JSON
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text = argument[0]
            variables = self.value(argument[1], depth + 1)
        if text is None:
            return self.value(argument, depth + 1)

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            default = self.defaults.get(name)
            if name in (variables or {}) or not isinstance(default, str | int | float):
                if name in self.resources:
                    self.refs.add(name)
                return match.group(0)
            self._note(f"parameter {name} = {_show(default)} (its default)")
            return str(default)

        text = _SUB_NAME.sub(substitute, text)
        return [text, variables] if variables else text


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def resolve(template: Mapping[str, Any]) -> Resolution:
    """The template with parameter defaults, conditions and mappings evaluated in its resources. The input is
    not modified; without Parameters, Conditions and Mappings it is returned as it is."""
    resources = template.get("Resources")
    if not isinstance(resources, Mapping):
        return Resolution(template)
    if not any(isinstance(template.get(key), Mapping) for key in ("Parameters", "Conditions", "Mappings")):
        return Resolution(template)
    resolved_resources: dict[str, Any] = {}
    assumptions: dict[str, list[tuple[str | None, str]]] = {}
    references: dict[str, set[str]] = {}
    property_names: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, Mapping):
            resolved_resources[logical_id] = resource
            continue
        notes: list[tuple[str | None, str]] = []
        refs: set[str] = set()
        properties = resource.get("Properties")
        if isinstance(properties, Mapping):
            resolved_properties = {}
            for key, value in properties.items():
                resolver = _Resolver(template)
                resolved = resolver.value(value)
                if resolved is not _NO_VALUE:
                    resolved_properties[key] = resolved
                notes += [(str(key), note) for note in resolver.notes]
                refs |= resolver.refs
            resource = {**resource, "Properties": resolved_properties}
            property_names[logical_id] = {str(key) for key in properties}
        condition = resource.get("Condition")
        if isinstance(condition, str):
            holds = _Resolver(template).condition(condition)
            state = "" if holds is None else f"; {str(holds).lower()} with the parameter defaults"
            notes.append((None, f"created only when condition {condition} holds{state}"))
        resolved_resources[logical_id] = resource
        if notes:
            assumptions[logical_id] = notes
        references[logical_id] = refs - {logical_id}
    return Resolution({**template, "Resources": resolved_resources}, assumptions, references, property_names)
