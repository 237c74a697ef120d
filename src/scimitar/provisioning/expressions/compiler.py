"""Compile a syntax tree into nested closures, so evaluation walks no tree.

Each node becomes a function of the EvalContext. A function's failure (``Fail``) is
re-raised as EvaluationError naming the function and pointing at its call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scimitar.provisioning.expressions.context import APP_ROLE_ASSIGNMENTS, EvalContext
from scimitar.provisioning.expressions.errors import EvaluationError
from scimitar.provisioning.expressions.fn_logic import compare
from scimitar.provisioning.expressions.functions import FUNCTIONS
from scimitar.provisioning.expressions.nodes import (
    AttributeRef,
    Call,
    Comparison,
    EmptyArg,
    Literal,
    Node,
)
from scimitar.provisioning.expressions.values import Fail

Thunk = Callable[[EvalContext], Any]

_ROLES = APP_ROLE_ASSIGNMENTS.casefold()


def compile_node(node: Node, text: str) -> Thunk:
    """Return a function computing ``node``'s value for a context."""
    if isinstance(node, Literal):
        constant = node.value
        return lambda _context: constant
    if isinstance(node, EmptyArg):
        return lambda _context: None
    if isinstance(node, AttributeRef):
        name, folded = node.name, node.name.casefold()
        if folded == _ROLES:
            return lambda context: context.app_role_assignments
        return lambda context: context.lookup(name, folded)
    if isinstance(node, Comparison):
        return _comparison(node, text)
    return _call(node, text)


def _comparison(node: Comparison, text: str) -> Thunk:
    left, right = compile_node(node.left, text), compile_node(node.right, text)
    op, position = node.op, node.position

    def run(context: EvalContext) -> bool:
        try:
            return compare(op, left(context), right(context))
        except Fail as error:
            raise EvaluationError(f"'{op}': {error}", text, position) from None

    return run


def _call(node: Call, text: str) -> Thunk:
    spec = FUNCTIONS[node.name.casefold()]
    impl = spec.prepare(node) if spec.prepare is not None else spec.impl
    assert impl is not None  # the parser rejects unsupported functions
    args = tuple(compile_node(arg, text) for arg in node.args)
    label, position = spec.name, node.position

    def failed(error: Fail) -> EvaluationError:
        return EvaluationError(f"{label}: {error}", text, position)

    if spec.lazy:

        def lazy(context: EvalContext) -> Any:
            try:
                return impl(context, args)
            except Fail as error:
                raise failed(error) from None

        return lazy
    if spec.context:

        def with_context(context: EvalContext) -> Any:
            try:
                return impl(context, *[arg(context) for arg in args])
            except Fail as error:
                raise failed(error) from None

        return with_context
    # Specialised closures for the common arities avoid building an argument list.
    if len(args) == 1:
        (first,) = args

        def one(context: EvalContext) -> Any:
            try:
                return impl(first(context))
            except Fail as error:
                raise failed(error) from None

        return one
    if len(args) == 2:
        first, second = args

        def two(context: EvalContext) -> Any:
            try:
                return impl(first(context), second(context))
            except Fail as error:
                raise failed(error) from None

        return two
    if len(args) == 3:
        first, second, third = args

        def three(context: EvalContext) -> Any:
            try:
                return impl(first(context), second(context), third(context))
            except Fail as error:
                raise failed(error) from None

        return three

    def many(context: EvalContext) -> Any:
        try:
            return impl(*[arg(context) for arg in args])
        except Fail as error:
            raise failed(error) from None

    return many
