"""The syntax tree of an attribute-mapping expression: frozen nodes, 1-based positions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from typing import Literal as TypingLiteral

if TYPE_CHECKING:
    from scimitar.provisioning.expressions.context import EvalContext

CompareOp = TypingLiteral["=", "<>", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string constant (``"United States"``), a number (``7``, ``-10``, ``&HF7``) or a
    VBA constant (``vbTextCompare``, kept as its name)."""

    value: str | int | Decimal
    position: int


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """``[attributeName]``: a source attribute, looked up case-insensitively."""

    name: str
    position: int


@dataclass(frozen=True, slots=True)
class EmptyArg:
    """An argument left empty (``Switch([x], , "a", "b")``): an omitted optional value."""

    position: int


@dataclass(frozen=True, slots=True)
class Call:
    """``Name(arg, ...)``; ``name`` is the function's canonical spelling."""

    name: str
    args: tuple[Node, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left op right``, as IIF's documented conditions use (``[country]="USA"``)."""

    op: CompareOp
    left: Node
    right: Node
    position: int


Node = Literal | AttributeRef | EmptyArg | Call | Comparison


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, validated and compiled expression; build it with ``parse_expression``.

    ``attributes`` are the source attribute names it reads, as written; ``volatile``
    is true when it calls Now, Guid or RandomString (its value changes on every
    evaluation); ``redacted`` is true when it calls Redact (logs must show
    ``[Redact]`` instead of its value).
    """

    text: str
    root: Node
    attributes: frozenset[str]
    volatile: bool
    redacted: bool
    run: Callable[[EvalContext], Any] = field(compare=False, repr=False)
