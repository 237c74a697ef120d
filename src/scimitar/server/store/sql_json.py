"""Read SCIM's JSON documents in SQL: what differs between SQLite and PostgreSQL.

``sql_filter`` compiles filters and ``sortBy`` once, against the ``Sql`` here; this
module says how each database reaches into a document (``json_extract`` on SQLite,
``#>``/``#>>`` on PostgreSQL), walks an array (``json_each`` /
``jsonb_array_elements``), compares numbers and booleans inside JSON, folds case and
matches substrings. SQLite's Unicode case fold is a Python function each connection
needs: ``install_casefold`` registers it on an engine, and ``create_app`` calls it.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Engine,
    FromClause,
    Table,
    Text,
    and_,
    bindparam,
    case,
    column,
    event,
    func,
    literal,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

ORDER: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
"""The SQL comparison for each ordering operator of RFC 7644 §3.4.2.2."""

# -- SQLite: a Unicode-aware case fold ----------------------------------------------------

CASEFOLD_FUNCTION = "scimitar_casefold"
"""The SQLite function compiled filters call: Python's ``str.casefold``.

SQLite's ``lower()`` folds ASCII only, so ``title eq "élan"`` would miss "ÉLAN",
while RFC 7643 §2.2 makes caseExact=false comparisons case-insensitive for all of
Unicode; ``user_name_key`` is ``casefold()``-ed in Python, so using the same fold in
SQL keeps columns, documents and the evaluator in agreement. It only runs where no
index could help anyway (JSON values, users' ``displayName``). PostgreSQL uses its
own ``lower()``, Unicode-aware under a UTF-8 ``LC_CTYPE``; it differs from
``casefold()`` only where a fold is not a lowercase (``ß``/``ss``, final ``ς``),
and never for userName or a group's displayName, which compare on their key columns.
"""
_SqliteValue = str | bytes | int | float | None


def _casefold(value: _SqliteValue) -> _SqliteValue:
    return value.casefold() if isinstance(value, str) else value


def install_sqlite_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Register the SQL functions compiled filters call on one SQLite connection."""
    dbapi_connection.create_function(CASEFOLD_FUNCTION, 1, _casefold, deterministic=True)


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    install_sqlite_functions(dbapi_connection)


def install_casefold(engine: Engine) -> None:
    """Give every connection ``engine`` opens from now on the ``CASEFOLD_FUNCTION``.

    Call it before the engine first connects, as ``create_app`` does right after
    ``make_engine``: connections already in the pool are not touched. Without it, a
    filter that folds case on SQLite fails with "no such function".
    """
    if engine.dialect.name != "sqlite":
        raise ValueError(f"{CASEFOLD_FUNCTION} is for SQLite, not {engine.dialect.name}")
    event.listen(engine, "connect", _on_connect)


# -- the dialects -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """A JSON value: ``keys`` below ``base`` (a document column or an array element).

    ``atom_type`` is ``json_each.type`` when ``base`` is a SQLite array element itself,
    whose ``value`` is then an SQL value rather than JSON text to extract from.
    """

    base: ColumnElement[Any]
    keys: tuple[str, ...] = ()
    atom_type: ColumnElement[Any] | None = None

    def child(self, key: str) -> Place:
        return Place(self.base, (*self.keys, key))


def like_pattern(value: str, op: str) -> str:
    """Return the LIKE pattern (escape ``\\``) for ``co``, ``sw`` or ``ew`` ``value``."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"sw": f"{escaped}%", "ew": f"%{escaped}", "co": f"%{escaped}%"}[op]


def _successor(prefix: str) -> str | None:
    """Return the least string above every string that starts with ``prefix``."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return None
    following = 0xE000 if last == 0xD7FF else last + 1  # surrogates cannot be stored
    return prefix[:-1] + chr(following)


def padded_datetime(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return a stored dateTime's text in a form whose text order is time order."""
    # Stored dateTimes are UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" (validate.format_datetime);
    # pad a fraction-less one so that text order stays time order ("…:00Z" > "…:00.5Z").
    return case((func.length(text) == 20, func.substr(text, 1, 19).concat(".000000Z")), else_=text)


class Sql:
    """What differs between SQLite and PostgreSQL."""

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def fold_value(self, value: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def text(self, place: Place) -> ColumnElement[Any]:
        """The value as SQL (text for a JSON string); NULL when absent or null."""
        raise NotImplementedError

    def is_bool(self, place: Place, value: bool) -> ColumnElement[bool]:
        raise NotImplementedError

    def number(self, place: Place, op: str, value: int | float) -> ColumnElement[bool]:
        raise NotImplementedError

    def sortable(self, place: Place, kind: str) -> ColumnElement[Any]:
        return self.text(place)

    def elements(self, place: Place) -> tuple[FromClause, Place, ColumnElement[Any]]:
        """Return a FROM item over the array at ``place``, its element, and its position."""
        raise NotImplementedError

    def substring(
        self, expr: ColumnElement[Any], op: str, value: str, indexed: bool
    ) -> ColumnElement[bool]:
        """Case-exact ``co``/``sw``/``ew`` of ``expr`` against a non-empty ``value``."""
        return expr.like(like_pattern(value, op), escape="\\")


class Sqlite(Sql):
    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return getattr(func, CASEFOLD_FUNCTION)(expr)  # type: ignore[no-any-return]

    def fold_value(self, value: str) -> ColumnElement[Any]:
        return literal(value.casefold(), Text)

    @staticmethod
    def _path(keys: tuple[str, ...]) -> str:
        # Quoted keys, since extension URNs contain ':' and '.' (RFC 7643 §3.3).
        return "$" + "".join(f'."{key}"' for key in keys)

    def text(self, place: Place) -> ColumnElement[Any]:
        if not place.keys:
            return place.base
        return func.json_extract(place.base, self._path(place.keys))

    def _type(self, place: Place) -> ColumnElement[Any]:
        if not place.keys:
            assert place.atom_type is not None, "an element of json_each has its type"
            return place.atom_type
        return func.json_type(place.base, self._path(place.keys))

    def is_bool(self, place: Place, value: bool) -> ColumnElement[bool]:
        return self._type(place) == ("true" if value else "false")

    def number(self, place: Place, op: str, value: int | float) -> ColumnElement[bool]:
        # json_extract yields text for a JSON string and SQLite orders all text above
        # all numbers: only real numbers may take part.
        return and_(self._type(place).in_(("integer", "real")), ORDER[op](self.text(place), value))

    def elements(self, place: Place) -> tuple[FromClause, Place, ColumnElement[Any]]:
        each = func.json_each(place.base, self._path(place.keys))
        alias = each.table_valued("value", "type", "key").alias()
        return alias, Place(alias.c.value, (), alias.c.type), alias.c.key

    def substring(
        self, expr: ColumnElement[Any], op: str, value: str, indexed: bool
    ) -> ColumnElement[bool]:
        # SQLite's LIKE ignores ASCII case: case-exact matching uses instr/substr.
        upper = _successor(value) if op == "sw" and indexed else None
        if upper is not None:
            # On the BINARY collation (UTF-8 byte order is code point order) this range
            # is exactly "starts with", and the column's index can serve it.
            return and_(expr >= value, expr < upper)
        if op == "co":
            return func.instr(expr, value) > 0
        if op == "sw":
            return func.substr(expr, 1, len(value)) == value
        return func.substr(expr, -len(value)) == value


class Postgres(Sql):
    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.lower(expr)

    def fold_value(self, value: str) -> ColumnElement[Any]:
        return func.lower(literal(value, Text))

    def jsonb(self, place: Place) -> ColumnElement[Any]:
        if not place.keys:
            return place.base
        return place.base.op("#>", return_type=JSONB)(self._keys(place.keys))

    @staticmethod
    def _keys(keys: tuple[str, ...]) -> ColumnElement[Any]:
        return bindparam(None, list(keys), type_=ARRAY(Text))

    def text(self, place: Place) -> ColumnElement[Any]:
        return place.base.op("#>>", return_type=Text)(self._keys(place.keys))

    def is_bool(self, place: Place, value: bool) -> ColumnElement[bool]:
        return self.jsonb(place) == bindparam(None, value, type_=JSONB)

    def number(self, place: Place, op: str, value: int | float) -> ColumnElement[bool]:
        # jsonb orders numbers numerically but every string below every number.
        found = self.jsonb(place)
        return and_(
            func.jsonb_typeof(found) == "number",
            ORDER[op](found, bindparam(None, value, type_=JSONB)),
        )

    def sortable(self, place: Place, kind: str) -> ColumnElement[Any]:
        # The text of 10 sorts before that of 9; jsonb sorts numbers numerically.
        return self.jsonb(place) if kind in ("integer", "decimal") else self.text(place)

    def elements(self, place: Place) -> tuple[FromClause, Place, ColumnElement[Any]]:
        array = self.jsonb(place)
        # jsonb_array_elements raises on anything but an array (an absent key gives
        # NULL): hand it an empty array instead.
        safe = case(
            (func.jsonb_typeof(array) == "array", array),
            else_=literal_column("'[]'::jsonb", JSONB),
        )
        alias = (
            func.jsonb_array_elements(safe)
            .table_valued(column("value", JSONB), with_ordinality="position")
            .render_derived()
            .alias()
        )
        return alias, Place(alias.c.value), alias.c.position


_DIALECTS: dict[str, Sql] = {"sqlite": Sqlite(), "postgresql": Postgres()}


def sql_for(dialect: str) -> Sql:
    """Return the ``Sql`` for a SQLAlchemy dialect name: "sqlite" or "postgresql"."""
    try:
        return _DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unsupported SQL dialect {dialect!r}") from None


@lru_cache(maxsize=256)
def doc_elements(
    sql: Sql, table: Table, keys: tuple[str, ...]
) -> tuple[FromClause, Place, ColumnElement[Any]]:
    """Return ``sql.elements`` of the array at ``keys`` in ``table``'s document."""
    # Built once per array: an alias's column collection costs more than the rest of a
    # compile, and sibling EXISTS subqueries may share one FROM item.
    return sql.elements(Place(table.c.doc, keys))
