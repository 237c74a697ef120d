"""The public entry points: parse (cached), evaluate, direct mappings, attributes read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from scimitar.provisioning.expressions.compiler import compile_node
from scimitar.provisioning.expressions.context import (
    APP_ROLE_ASSIGNMENTS,
    AppRoleAssignment,
    EvalContext,
)
from scimitar.provisioning.expressions.dotnet_dates import format_default
from scimitar.provisioning.expressions.errors import ExpressionError
from scimitar.provisioning.expressions.functions import FUNCTIONS
from scimitar.provisioning.expressions.nodes import (
    AttributeRef,
    Call,
    Comparison,
    Expression,
    Node,
)
from scimitar.provisioning.expressions.parser import parse
from scimitar.provisioning.expressions.values import StaticError

REDACTED = "[Redact]"
"""What provisioning logs show instead of the value of an expression that calls Redact."""


def parse_expression(text: str) -> Expression:
    """Return the parsed and compiled ``text``; raise ExpressionError pointing at the fault.

    Results are cached (the same mapping is parsed once per process).
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression is a str, not {type(text).__name__}")
    return _parse_cached(text)


# A plain wrapper keeps parse_expression's signature visible to type checkers.
@lru_cache(maxsize=2048)
def _parse_cached(text: str) -> Expression:
    root = parse(text)
    try:
        run = compile_node(root, text)
    except StaticError as error:
        raise ExpressionError(error.reason, text, error.position) from None
    calls = {node.name for node in _walk(root) if isinstance(node, Call)}
    return Expression(
        text=text,
        root=root,
        attributes=frozenset(node.name for node in _walk(root) if isinstance(node, AttributeRef)),
        volatile=any(FUNCTIONS[name.casefold()].volatile for name in calls),
        redacted="Redact" in calls,
        run=run,
    )


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from _walk(arg)
    elif isinstance(node, Comparison):
        yield from _walk(node.left)
        yield from _walk(node.right)


def evaluate(expression: Expression, context: EvalContext) -> Any:
    """Return the value of ``expression`` for the object in ``context``.

    The result is None (null: send nothing), a str, bool or int, or a list (a
    multi-valued attribute; role objects are dicts). A DateTime result is written
    as Entra writes it, ``M/d/yyyy h:mm:ss tt`` in UTC. Raises IgnoreFlow when
    IgnoreFlowIfNullOrEmpty fired anywhere in it (leave the target attribute out of
    this flow), EvaluationError when a function cannot compute its value.
    """
    return _output(expression.run(context))


def _output(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is list or kind is tuple:
        return [_output(item) for item in value]
    if isinstance(value, datetime):
        return format_default(value)
    if kind is Decimal:
        return str(value)
    if kind is AppRoleAssignment:
        return value.role
    return value


def direct(context: EvalContext, source_attribute: str) -> Any:
    """Return a direct mapping's value: the attribute as stored, None when absent.

    ``appRoleAssignments`` gives the assigned role values (Entra advises mapping it
    through SingleAppRoleAssignment or AppRoleAssignmentsComplex instead).
    """
    if source_attribute.casefold() == APP_ROLE_ASSIGNMENTS.casefold():
        return [assignment.role for assignment in context.app_role_assignments]
    return context.lookup(source_attribute, source_attribute.casefold())


def referenced_attributes(expression: Expression) -> set[str]:
    """Return the source attribute names ``expression`` reads, as written in it."""
    return set(expression.attributes)
