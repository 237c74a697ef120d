"""Compare one value, an SQL column or a place in a JSON document, with a filter's literal.

``sql_filter`` decides which value a filter's attribute names; this module compiles
``eq``/``co``/``gt``/``pr``/... on it, with the evaluator's typing rules
(``scim/evaluate.py``): booleans, numbers, dateTimes and case-insensitive strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from scimitar.scim.ast import CompValue
from scimitar.scim.errors import InvalidFilter
from scimitar.scim.schema import Attribute
from scimitar.server.store.sql_json import ORDER, Place, Sql, Sqlite, like_pattern, padded_datetime

# (predicate, may it be NULL): see ``sql_filter``'s module docstring.
Pred = tuple[ColumnElement[bool], bool]

STRING_TYPES = frozenset({"string", "reference", "binary"})


@dataclass(frozen=True, slots=True)
class ColumnValue:
    """A value in an SQL column or expression: native type, NULL when absent.

    ``key`` is an already case-folded copy (``user_name_key``) that caseExact=false
    comparisons use with a folded value, so that the index on it still applies.
    """

    expr: ColumnElement[Any]
    attribute: Attribute
    label: str
    key: ColumnElement[Any] | None = None
    nullable: bool = True
    indexed: bool = False


@dataclass(frozen=True, slots=True)
class JsonValue:
    """A value inside a JSON document or array element."""

    place: Place
    attribute: Attribute
    label: str


Value = ColumnValue | JsonValue


def negate(pred: Pred) -> Pred:
    """Return SCIM's ``not``: a NULL (absent) value makes the negation true."""
    expr, nullable = pred
    return not_(func.coalesce(expr, false()) if nullable else expr), False


def _boolean(value: CompValue, label: str) -> bool:
    if isinstance(value, bool):
        return value
    # Entra ID quotes booleans: `roles[primary eq "True"]`.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidFilter(f"'{label}' is a boolean; compare it with true or false, not {value!r}")


def _datetime(value: CompValue, label: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:  # no offset means UTC, as in the evaluator
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    raise InvalidFilter(
        f"'{label}' is a dateTime; compare it with an ISO 8601 string such as "
        f'"2011-05-13T04:42:34Z", not {value!r}'
    )


def compare_value(sql: Sql, source: Value, op: str, value: CompValue) -> Pred:
    """Compile ``source op value`` for a non-null ``value``, or raise ``InvalidFilter``."""
    if op == "ne":
        return negate(compare_value(sql, source, "eq", value))
    attribute, label = source.attribute, source.label
    kind = attribute.type
    if kind == "complex":
        raise InvalidFilter(f"'{label}' is complex; filter on one of its sub-attributes")
    if op in ("co", "sw", "ew") and kind not in ("string", "reference"):
        raise InvalidFilter(f"'{op}' applies to strings; '{label}' is a {kind}")
    if op not in ("eq", "co", "sw", "ew") and kind in ("boolean", "binary"):
        # RFC 7644 §3.4.2.2: ordering a Boolean or Binary SHALL fail with invalidFilter.
        raise InvalidFilter(f"'{op}' does not apply to the {kind} attribute '{label}'")
    if kind == "boolean":
        wanted = _boolean(value, label)
        if isinstance(source, ColumnValue):
            return source.expr == wanted, source.nullable
        return sql.is_bool(source.place, wanted), True
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilter(f"'{label}' is an {kind}; compare it with a number, not {value!r}")
        if isinstance(source, ColumnValue):
            return ORDER[op](source.expr, value), source.nullable
        return sql.number(source.place, op, value), True
    if kind == "dateTime":
        moment = _datetime(value, label)
        if isinstance(source, ColumnValue):
            return ORDER[op](source.expr, moment), source.nullable
        stored = padded_datetime(sql.text(source.place))
        return ORDER[op](stored, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")), True
    if not isinstance(value, str):
        raise InvalidFilter(f"'{label}' is a {kind}; compare it with a quoted string")
    return _compare_string(sql, source, op, value)


def _compare_string(sql: Sql, source: Value, op: str, value: str) -> Pred:
    if isinstance(source, ColumnValue):
        expr, nullable, key, indexed = source.expr, source.nullable, source.key, source.indexed
    else:
        expr, nullable, key, indexed = sql.text(source.place), True, None, False
    if source.attribute.case_exact or source.attribute.type == "binary":
        if op in ORDER:
            return ORDER[op](expr, value), nullable
        if not value:  # every string contains, starts and ends with ""
            return expr.is_not(None), False
        return sql.substring(expr, op, value, indexed), nullable
    if key is not None:  # already folded, and indexed
        folded = value.casefold()
        if op in ORDER:
            return ORDER[op](key, folded), nullable
        if op == "sw" and folded and isinstance(sql, Sqlite):
            return sql.substring(key, op, folded, indexed=True), nullable
        return key.like(like_pattern(folded, op), escape="\\"), nullable
    lhs = sql.fold(expr)
    if op in ORDER:
        return ORDER[op](lhs, sql.fold_value(value)), nullable
    # casefold() and lower() leave the pattern's '\', '%' and '_' alone.
    return lhs.like(sql.fold_value(like_pattern(value, op)), escape="\\"), nullable


def value_present(sql: Sql, source: Value) -> Pred:
    """Compile ``pr``: not null, not "", and a complex value with some sub-value present."""
    attribute = source.attribute
    if isinstance(source, ColumnValue):
        expr = source.key if source.key is not None else source.expr
        if attribute.type in STRING_TYPES:
            return expr != "", source.nullable
        return expr.is_not(None), False
    if attribute.type == "complex":
        subs = [
            value_present(sql, JsonValue(source.place.child(sub.name), sub, source.label))
            for sub in attribute.sub_attributes
        ]
        return or_(false(), *(expr for expr, _ in subs)), any(nullable for _, nullable in subs)
    text = sql.text(source.place)
    if attribute.type in STRING_TYPES:
        return text != "", True
    return text.is_not(None), False


def not_null(sql: Sql, source: Value) -> ColumnElement[bool]:
    """Return whether the value is there at all (JSON null counts as absent)."""
    if isinstance(source, ColumnValue):
        return source.expr.is_not(None)
    return sql.text(source.place).is_not(None)
