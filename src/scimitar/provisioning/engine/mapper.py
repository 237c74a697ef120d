"""Evaluate an app's attribute mappings for one source object.

Mappings are compiled once per cycle (expressions parsed, targets checked), then
run for every object: the result is the flat ``{target path: value}`` dictionary
that ``transform.py`` turns into SCIM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import datetime
from random import Random
from typing import Any

from scimitar.provisioning.engine.transform import MANAGER, coerce
from scimitar.provisioning.expressions import (
    AppRoleAssignment,
    EvalContext,
    IgnoreFlow,
    evaluate,
    parse_expression,
)
from scimitar.provisioning.mappings import Mapping
from scimitar.scim.schema import ResourceType

MEMBERS = "members"


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    target: str
    apply_on: str  # "always" or "create"
    default_value: str | None
    compute: Callable[[EvalContext], Any]


def _lookup(attributes: MappingABC[str, Any], name: str) -> Any:
    if name in attributes:
        return attributes[name]
    lowered = name.lower()
    return next((v for k, v in attributes.items() if k.lower() == lowered), None)


def _expression(text: str) -> Callable[[EvalContext], Any]:
    expression = parse_expression(text)
    return lambda ctx: evaluate(expression, ctx)


def _constant(value: str) -> Callable[[EvalContext], Any]:
    return lambda _ctx: value


def _direct(name: str) -> Callable[[EvalContext], Any]:
    return lambda ctx: _lookup(ctx.attributes, name)


def compile_mappings(mappings: Sequence[Mapping]) -> list[CompiledMapping]:
    """Prepare mappings for evaluation; ``members`` is handled by the engine itself."""
    makers = {"expression": _expression, "constant": _constant, "direct": _direct}
    return [
        CompiledMapping(m.target, m.apply_on, m.default_value, makers[m.source_type](m.source))
        for m in mappings
        if m.target.lower() != MEMBERS
    ]


def matching_targets(mappings: Sequence[Mapping]) -> list[str]:
    """Targets of the matching mappings, in precedence order."""
    matching = [m for m in mappings if m.matching_precedence is not None]
    return [m.target for m in sorted(matching, key=lambda m: m.matching_precedence or 0)]


def context(
    attributes: MappingABC[str, Any],
    roles: Sequence[str],
    *,
    soft_deleted: bool,
    now: datetime,
    random: Random,
) -> EvalContext:
    return EvalContext(
        attributes={**attributes, "IsSoftDeleted": soft_deleted},
        app_role_assignments=[AppRoleAssignment(role=role) for role in roles],
        now=now,
        random=random,
    )


def map_object(
    resource_type: ResourceType,
    compiled: Sequence[CompiledMapping],
    ctx: EvalContext,
    *,
    creating: bool,
) -> dict[str, Any]:
    """Return the flat target values for one object (create-only mappings when creating)."""
    flat: dict[str, Any] = {}
    for mapping in compiled:
        if mapping.apply_on == "create" and not creating:
            continue
        try:
            value = mapping.compute(ctx)
        except IgnoreFlow:  # IgnoreFlowIfNullOrEmpty: leave the target attribute alone
            continue
        if value is None or value == "" or value == []:
            value = mapping.default_value
        if isinstance(value, list) and len(value) == 1 and mapping.target != MANAGER:
            value = value[0]
        flat[mapping.target] = coerce(resource_type, mapping.target, value)
    return flat
