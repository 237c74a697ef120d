"""The syntax tree shared by filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).

The parser (``filter.py``, ``path.py``) builds these nodes; the in-memory evaluator
(``evaluate.py``) and the server's SQL compiler walk them. Nodes are frozen so a
parsed filter can be cached and shared between requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CompareOp = Literal["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
COMPARE_OPS: frozenset[str] = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})

# A filter's comparison value: the JSON literals the grammar allows (§3.4.2.2 compValue).
CompValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[URN ":"] attrName ["." subAttr]`` as written; names keep the client's case.

    ``urn`` is the schema URN when the client prefixed one (for example the
    enterprise extension), else ``None``. Resolving names against a schema, case-
    insensitively, is the caller's job (see ``schema.py``).
    """

    attr: str
    sub_attr: str | None = None
    urn: str | None = None

    def __str__(self) -> str:
        name = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{name}.{self.sub_attr}" if self.sub_attr else name


@dataclass(frozen=True, slots=True)
class Compare:
    """``attrPath op value``."""

    path: AttrPath
    op: CompareOp
    value: CompValue


@dataclass(frozen=True, slots=True)
class Present:
    """``attrPath pr``."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Not:
    """``not (filter)``."""

    operand: Filter


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attrPath "[" valFilter "]"``: some element of a multi-valued attribute matches.

    Inside ``filter`` the paths are relative to the element (``type``, ``value``),
    so they carry no URN and no sub-attribute of their own.
    """

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True, slots=True)
class PatchPath:
    """A PATCH ``path`` (RFC 7644 §3.5.2): ``attrPath [ "[" valFilter "]" ] [ "." subAttr ]``.

    ``attr.sub_attr`` is set for ``name.givenName``; ``value_filter`` and
    ``element_sub_attr`` for ``addresses[type eq "work"].streetAddress``.
    """

    attr: AttrPath
    value_filter: Filter | None = None
    element_sub_attr: str | None = None
