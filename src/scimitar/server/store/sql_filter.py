"""Compile SCIM filters (RFC 7644 §3.4.2.2) and ``sortBy`` (§3.4.2.3) into SQL.

A filter becomes one boolean expression over ``users`` or ``groups``, so the
database does the filtering and nothing loads a tenant into Python. Attributes
copied into columns compare on those columns (``userName eq`` is a lookup in the
``(tenant_id, user_name_key)`` unique index); every other attribute is read from
the JSON document, multi-valued ones through ``EXISTS`` over the array's elements
(``json_each`` on SQLite, ``jsonb_array_elements`` on PostgreSQL); group
``members`` and a user's ``groups`` come from ``group_members``.

SQL's NULL is three-valued, SCIM's logic is not: an absent attribute makes a
comparison false, so ``not (title eq "x")`` and ``title ne "x"`` match users with
no title. Every compiled predicate carries whether it may be NULL, and ``not``
wraps such a predicate in ``COALESCE(..., false)``; ``and``/``or`` need nothing,
since a WHERE clause treats NULL as false and both operators agree with that.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    FromClause,
    Table,
    Text,
    and_,
    bindparam,
    case,
    column,
    event,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from scimitar.scim.ast import And, AttrPath, Compare, CompValue, Filter, Not, Or, Present, ValuePath
from scimitar.scim.errors import InvalidFilter, InvalidValue
from scimitar.scim.resources import URN_ALIASES
from scimitar.scim.schema import Attribute, Resolved, ResourceType, UnknownAttribute, resolve
from scimitar.server.tables import group_members, groups, users

Dialect = Literal["sqlite", "postgresql"]

# (predicate, may it be NULL): see the module docstring.
_Pred = tuple[ColumnElement[bool], bool]

_ORDER: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_STRING_TYPES = frozenset({"string", "reference", "binary"})

# -- SQLite: a Unicode-aware case fold --------------------------------------------------

CASEFOLD_FUNCTION = "scimitar_casefold"
"""SQLite function that compiled filters call: Python's ``str.casefold``.

SQLite's own ``lower()`` folds ASCII only, so ``title eq "élan"`` would miss
"ÉLAN"; RFC 7643 §2.2 makes caseExact=false comparisons case-insensitive for all
of Unicode, and ``user_name_key`` is ``casefold()``-ed in Python, so the same
function on both sides keeps columns and documents consistent. It only runs on
attributes without an index (JSON values, users' ``displayName``), which are
full scans anyway. PostgreSQL's ``lower()`` is Unicode-aware and is used there.
"""
_INSTALLED = "scimitar_sql_functions"


_SqliteValue = str | bytes | int | float | None


def _casefold(value: _SqliteValue) -> _SqliteValue:
    return value.casefold() if isinstance(value, str) else value


def install_sqlite_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Register the SQL functions compiled filters call on one SQLite connection."""
    dbapi_connection.create_function(CASEFOLD_FUNCTION, 1, _casefold, deterministic=True)


# Registered for every engine, so no caller can forget: new DBAPI connections get the
# function at connect time, and connections opened before this module was imported get
# it the first time they are checked out afterwards.
@event.listens_for(Engine, "connect")
def _on_pool_connect(dbapi_connection: Any, record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        install_sqlite_functions(dbapi_connection)
        record.info[_INSTALLED] = True


@event.listens_for(Engine, "engine_connect")
def _on_checkout(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    pooled = connection.connection
    dbapi_connection: Any = pooled.dbapi_connection
    if _INSTALLED not in pooled.info and isinstance(dbapi_connection, sqlite3.Connection):
        install_sqlite_functions(dbapi_connection)
        pooled.info[_INSTALLED] = True


# -- where a JSON value sits, and the dialects ------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    """A JSON value: ``keys`` below ``base`` (a document column or an array element).

    ``atom_type`` is SQLite's ``json_each.type`` when ``base`` is an element itself:
    ``json_each.value`` is then already an SQL value, not JSON text to extract from.
    """

    base: ColumnElement[Any]
    keys: tuple[str, ...] = ()
    atom_type: ColumnElement[Any] | None = None

    def child(self, key: str) -> _Place:
        return _Place(self.base, (*self.keys, key))


def _like_pattern(value: str, op: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"sw": f"{escaped}%", "ew": f"%{escaped}", "co": f"%{escaped}%"}[op]


def _successor(prefix: str) -> str | None:
    """Return the least string above every string that starts with ``prefix``."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return None
    following = 0xE000 if last == 0xD7FF else last + 1  # skip the surrogates
    return prefix[:-1] + chr(following)


class _Sql:
    """What differs between SQLite and PostgreSQL."""

    name: Dialect

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def fold_value(self, value: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def text(self, place: _Place) -> ColumnElement[Any]:
        """The value as SQL (text for JSON strings), NULL when absent or null."""
        raise NotImplementedError

    def is_bool(self, place: _Place, value: bool) -> ColumnElement[bool]:
        raise NotImplementedError

    def number(self, place: _Place, op: str, value: int | float) -> ColumnElement[bool]:
        raise NotImplementedError

    def nonempty(self, place: _Place, kind: Literal["array", "object"]) -> ColumnElement[bool]:
        raise NotImplementedError

    def elements(self, place: _Place) -> tuple[FromClause, _Place, ColumnElement[Any]]:
        """Return a FROM item over the array at ``place``, an element, and its position."""
        raise NotImplementedError

    def substring(
        self, expr: ColumnElement[Any], op: str, value: str, indexed: bool
    ) -> ColumnElement[bool]:
        """Case-exact ``co``/``sw``/``ew`` of ``expr`` against ``value``."""
        return expr.like(_like_pattern(value, op), escape="\\")


class _Sqlite(_Sql):
    name: Dialect = "sqlite"

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return getattr(func, CASEFOLD_FUNCTION)(expr)  # type: ignore[no-any-return]

    def fold_value(self, value: str) -> ColumnElement[Any]:
        return literal(value.casefold(), Text)

    @staticmethod
    def _path(keys: tuple[str, ...]) -> str:
        # Quoted keys: extension URNs contain ':' and '.' (RFC 7643 §3.3).
        return "$" + "".join(f'."{key}"' for key in keys)

    def text(self, place: _Place) -> ColumnElement[Any]:
        if not place.keys:
            return place.base
        return func.json_extract(place.base, self._path(place.keys))

    def _type(self, place: _Place) -> ColumnElement[Any]:
        if not place.keys:
            assert place.atom_type is not None  # an element of json_each
            return place.atom_type
        return func.json_type(place.base, self._path(place.keys))

    def is_bool(self, place: _Place, value: bool) -> ColumnElement[bool]:
        return self._type(place) == ("true" if value else "false")

    def number(self, place: _Place, op: str, value: int | float) -> ColumnElement[bool]:
        # json_extract yields a text for a JSON string, and SQLite orders every text
        # above every number: only real numbers may take part.
        return and_(self._type(place).in_(("integer", "real")), _ORDER[op](self.text(place), value))

    def nonempty(self, place: _Place, kind: Literal["array", "object"]) -> ColumnElement[bool]:
        if kind == "array":
            return func.json_array_length(place.base, self._path(place.keys)) > 0
        return and_(self._type(place) == "object", self.text(place) != "{}")

    def elements(self, place: _Place) -> tuple[FromClause, _Place, ColumnElement[Any]]:
        each = func.json_each(place.base, self._path(place.keys))
        alias = each.table_valued("value", "type", "key").alias()
        return alias, _Place(alias.c.value, (), alias.c.type), alias.c.key

    def substring(
        self, expr: ColumnElement[Any], op: str, value: str, indexed: bool
    ) -> ColumnElement[bool]:
        # SQLite's LIKE ignores ASCII case, so case-exact matching uses instr/substr.
        if op == "sw" and indexed:
            upper = _successor(value)
            if upper is not None:
                # A range on the BINARY collation (UTF-8 byte order is code point
                # order) is exactly "starts with", and can use the column's index.
                return and_(expr >= value, expr < upper)
        if op == "co":
            return func.instr(expr, value) > 0
        if op == "sw":
            return func.substr(expr, 1, len(value)) == value
        return func.substr(expr, -len(value)) == value


class _Postgres(_Sql):
    name: Dialect = "postgresql"

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.lower(expr)

    def fold_value(self, value: str) -> ColumnElement[Any]:
        return func.lower(literal(value, Text))

    @staticmethod
    def _keys(keys: tuple[str, ...]) -> ColumnElement[Any]:
        return bindparam(None, list(keys), type_=ARRAY(Text))

    def jsonb(self, place: _Place) -> ColumnElement[Any]:
        if not place.keys:
            return place.base
        return place.base.op("#>", return_type=JSONB)(self._keys(place.keys))

    def text(self, place: _Place) -> ColumnElement[Any]:
        return place.base.op("#>>", return_type=Text)(self._keys(place.keys))

    def is_bool(self, place: _Place, value: bool) -> ColumnElement[bool]:
        return self.jsonb(place) == bindparam(None, value, type_=JSONB)

    def number(self, place: _Place, op: str, value: int | float) -> ColumnElement[bool]:
        # jsonb orders numbers numerically, but a string below every number: type first.
        value_json = self.jsonb(place)
        return and_(
            func.jsonb_typeof(value_json) == "number",
            _ORDER[op](value_json, bindparam(None, value, type_=JSONB)),
        )

    def nonempty(self, place: _Place, kind: Literal["array", "object"]) -> ColumnElement[bool]:
        value_json = self.jsonb(place)
        empty = literal_column("'[]'::jsonb" if kind == "array" else "'{}'::jsonb", JSONB)
        return and_(func.jsonb_typeof(value_json) == kind, value_json != empty)

    def elements(self, place: _Place) -> tuple[FromClause, _Place, ColumnElement[Any]]:
        array = self.jsonb(place)
        # jsonb_array_elements raises on a non-array (an absent key is NULL, a
        # malformed document might hold an object): feed it an empty array instead.
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
        return alias, _Place(alias.c.value), alias.c.position


_DIALECTS: dict[str, _Sql] = {"sqlite": _Sqlite(), "postgresql": _Postgres()}


def _sql(dialect: str) -> _Sql:
    try:
        return _DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unsupported SQL dialect {dialect!r}") from None


# -- comparing one value ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    """A value in an SQL column or expression: native type, NULL when absent.

    ``key`` is an already case-folded copy (``user_name_key``) that a caseExact=false
    comparison uses with a folded value, so the column's index still applies.
    """

    expr: ColumnElement[Any]
    attribute: Attribute
    label: str
    key: ColumnElement[Any] | None = None
    nullable: bool = True
    indexed: bool = False


@dataclass(frozen=True, slots=True)
class _Json:
    """A value inside a JSON document or array element."""

    place: _Place
    attribute: Attribute
    label: str


_Source = _Column | _Json


def _negate(pred: _Pred) -> _Pred:
    expr, nullable = pred
    if nullable:
        expr = func.coalesce(expr, false())
    return not_(expr), False


def _boolean(value: CompValue, label: str) -> bool:
    if isinstance(value, bool):
        return value
    # Entra ID quotes booleans: `active eq "True"`.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidFilter(f"{label} is a boolean: compare it with true or false, not {value!r}")


def _number(value: CompValue, label: str) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise InvalidFilter(f"{label} is a number: compare it with a number, not {value!r}")


def _datetime(value: CompValue, label: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)  # RFC 7643 §2.3.5: UTC when no offset
            return parsed.astimezone(UTC)
    raise InvalidFilter(
        f"{label} is a dateTime: compare it with an ISO 8601 string such as "
        f'"2024-05-01T12:00:00Z", not {value!r}'
    )


def _compare(sql: _Sql, source: _Source, op: str, value: CompValue) -> _Pred:
    """Compile ``source op value`` for a non-null ``value``."""
    if op == "ne":
        return _negate(_compare(sql, source, "eq", value))
    attribute, label = source.attribute, source.label
    kind = attribute.type
    if kind == "complex":
        raise InvalidFilter(
            f"{label} is complex: compare one of its sub-attributes (e.g. {label}.value)"
        )
    if op in ("co", "sw", "ew") and kind not in _STRING_TYPES:
        raise InvalidFilter(f"'{op}' applies to strings, but {label} is a {kind}")
    if op in ("gt", "ge", "lt", "le") and kind in ("boolean", "binary"):
        # RFC 7644 §3.4.2.2: gt/ge/lt/le on Boolean or Binary SHALL fail with invalidFilter.
        raise InvalidFilter(f"'{op}' cannot order {label}, a {kind}")
    if kind == "boolean":
        wanted = _boolean(value, label)
        if isinstance(source, _Column):
            return source.expr == wanted, source.nullable
        return sql.is_bool(source.place, wanted), True
    if kind in ("integer", "decimal"):
        number = _number(value, label)
        if isinstance(source, _Column):
            return _ORDER[op](source.expr, number), source.nullable
        return sql.number(source.place, op, number), True
    if kind == "dateTime":
        moment = _datetime(value, label)
        if isinstance(source, _Column):
            return _ORDER[op](source.expr, moment), source.nullable
        # Documents hold UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]Z": pad the fraction so text
        # order is time order ("...:00Z" would otherwise sort after "...:00.5Z").
        stored = sql.text(source.place)
        padded = case(
            (func.length(stored) == 20, func.substr(stored, 1, 19).concat(".000000Z")),
            else_=stored,
        )
        return _ORDER[op](padded, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")), True
    if not isinstance(value, str):
        raise InvalidFilter(f"{label} is a string: compare it with a quoted value, not {value!r}")
    return _compare_string(sql, source, op, value)


def _compare_string(sql: _Sql, source: _Source, op: str, value: str) -> _Pred:
    if isinstance(source, _Column):
        expr, nullable, key, indexed = source.expr, source.nullable, source.key, source.indexed
    else:
        expr, nullable, key, indexed = sql.text(source.place), True, None, False
    if source.attribute.case_exact:
        if op in _ORDER:
            return _ORDER[op](expr, value), nullable
        if not value:  # every string contains, starts and ends with ""
            return expr.is_not(None), False
        return sql.substring(expr, op, value, indexed), nullable
    if key is not None:  # already folded, and indexed
        folded = value.casefold()
        if op in _ORDER:
            return _ORDER[op](key, folded), nullable
        if op == "sw" and isinstance(sql, _Sqlite) and folded:
            return sql.substring(key, op, folded, indexed=True), nullable
        return key.like(_like_pattern(folded, op), escape="\\"), nullable
    lhs = sql.fold(expr)
    if op in _ORDER:
        return _ORDER[op](lhs, sql.fold_value(value)), nullable
    # casefold()/lower() leave the pattern's '\', '%' and '_' alone.
    return lhs.like(sql.fold_value(_like_pattern(value, op)), escape="\\"), nullable


def _present(sql: _Sql, source: _Source) -> _Pred:
    """Compile ``source pr``: a value that is not null, "", [] or {} (RFC 7644 §3.4.2.2)."""
    kind = source.attribute.type
    if isinstance(source, _Column):
        expr = source.key if source.key is not None else source.expr
        if kind in _STRING_TYPES:
            return expr != "", source.nullable
        return expr.is_not(None), False
    if kind == "complex":
        return sql.nonempty(source.place, "object"), True
    text = sql.text(source.place)
    if kind in _STRING_TYPES:
        return text != "", True
    return text.is_not(None), False


# -- scopes: what a name means where it is written ----------------------------------------


class _Scope:
    def __init__(self, sql: _Sql) -> None:
        self.sql = sql

    def compare(self, node: Compare) -> _Pred:
        raise NotImplementedError

    def present(self, path: AttrPath) -> _Pred:
        raise NotImplementedError

    def value_path(self, node: ValuePath) -> _Pred:
        raise NotImplementedError


def _compile(node: Filter, scope: _Scope) -> _Pred:
    if isinstance(node, Compare):
        if node.value is None:
            # `title eq null` asks for absence, `title ne null` for presence.
            if node.op == "eq":
                return _negate(scope.present(node.path))
            if node.op == "ne":
                return scope.present(node.path)
            raise InvalidFilter(f"'{node.op} null' is meaningless: use 'eq null' or 'ne null'")
        return scope.compare(node)
    if isinstance(node, Present):
        return scope.present(node.path)
    if isinstance(node, And | Or):
        left, left_null = _compile(node.left, scope)
        right, right_null = _compile(node.right, scope)
        joined = and_(left, right) if isinstance(node, And) else or_(left, right)
        return joined, left_null or right_null
    if isinstance(node, Not):
        return _negate(_compile(node.operand, scope))
    if isinstance(node, ValuePath):
        return scope.value_path(node)
    raise TypeError(f"not a filter node: {node!r}")


class _SubScope(_Scope):
    """Names inside ``attr[...]``: the sub-attributes of one element or object."""

    def __init__(
        self, sql: _Sql, attribute: Attribute, label: str, source: Callable[[Attribute], _Source]
    ) -> None:
        super().__init__(sql)
        self.attribute = attribute
        self.label = label
        self.source = source

    def _sub(self, path: AttrPath) -> _Source:
        sub = self.attribute.sub_attribute(path.attr)
        if path.urn is not None or path.sub_attr is not None or sub is None:
            raise InvalidFilter(f"{self.label} has no sub-attribute {str(path)!r}")
        return self.source(sub)

    def compare(self, node: Compare) -> _Pred:
        return _compare(self.sql, self._sub(node.path), node.op, node.value)

    def present(self, path: AttrPath) -> _Pred:
        return _present(self.sql, self._sub(path))

    def value_path(self, node: ValuePath) -> _Pred:
        raise InvalidFilter(f"value filters cannot be nested inside {self.label}[...]")


@dataclass(slots=True)
class _Collection:
    """A multi-valued attribute: element predicates wrapped in ``EXISTS``.

    ``scope`` names a complex element's sub-attributes; a multi-valued simple
    attribute has ``element`` (the element's own value) instead.
    """

    sql: _Sql
    attribute: Attribute
    label: str
    scope: _SubScope | None
    element: _Source | None
    exists: Callable[[ColumnElement[bool]], ColumnElement[bool]]
    nonempty: Callable[[], _Pred]

    def match(self, node: Compare | Present, sub: Attribute | None) -> _Pred:
        """Compile ``attr[.sub] op value`` as "some element matches" (RFC 7644 §3.4.2.2)."""
        if isinstance(node, Present) and sub is None:
            return self.nonempty()
        if self.scope is None:
            assert self.element is not None
            inner = (
                _present(self.sql, self.element)
                if isinstance(node, Present)
                else _compare(self.sql, self.element, node.op, node.value)
            )
            return self.exists(inner[0]), False
        if sub is None:
            # `emails eq "x"` compares each element's "value".
            sub = self.attribute.sub_attribute("value")
            if sub is None:
                raise InvalidFilter(
                    f"{self.label} is complex: compare one of its sub-attributes "
                    f"(e.g. {self.label}.type)"
                )
        path = AttrPath(sub.name)
        leaf = Present(path) if isinstance(node, Present) else Compare(path, node.op, node.value)
        return self.exists(_compile(leaf, self.scope)[0]), False


def _json_collection(sql: _Sql, place: _Place, attribute: Attribute, label: str) -> _Collection:
    alias, element, _position = sql.elements(place)

    def exists(pred: ColumnElement[bool]) -> ColumnElement[bool]:
        return select(literal_column("1")).select_from(alias).where(pred).exists()

    def nonempty() -> _Pred:
        return sql.nonempty(place, "array"), True

    if not attribute.sub_attributes:
        return _Collection(
            sql, attribute, label, None, _Json(element, attribute, label), exists, nonempty
        )

    def source(sub: Attribute) -> _Source:
        return _Json(element.child(sub.name), sub, f"{label}.{sub.name}")

    scope = _SubScope(sql, attribute, label, source)
    return _Collection(sql, attribute, label, scope, None, exists, nonempty)


def _membership_collection(
    sql: _Sql, table: Table, kind: Literal["members", "groups"], attribute: Attribute, label: str
) -> _Collection:
    """Group ``members`` or a user's ``groups``: rows of ``group_members``.

    Member and group ids are server-made lowercase UUIDs, so a caseExact=false
    ``value`` compares the column itself with the folded value: same answer, and
    the ``(group_id, member_id)`` key or the ``member_id`` index still applies.
    """
    link = group_members.alias()
    joins: dict[str, Any] = {}
    if kind == "members":
        correlate = link.c.group_id == table.c.id
        member_id, ids = link.c.member_id, link.c.member_id
    else:
        correlate = link.c.member_id == table.c.id
        member_id, ids = link.c.member_id, link.c.group_id

    def source(sub: Attribute) -> _Source:
        name, sub_label = sub.name, f"{label}.{sub.name}"
        if name == "value":
            key = None if sub.case_exact else ids
            return _Column(ids, sub, sub_label, key, nullable=False, indexed=True)
        if name == "type":
            if kind == "members":
                return _Column(link.c.member_type, sub, sub_label, nullable=False)
            # A user's groups are its direct memberships (store.members.groups_of).
            return _Column(literal("direct", Text), sub, sub_label, nullable=False)
        if name == "display" and kind == "members":
            # As store.members.members_of shows it: a user's displayName, else its
            # userName; a group's displayName.
            user = joins.setdefault("user", users.alias())
            group = joins.setdefault("group", groups.alias())
            display = func.coalesce(user.c.display_name, user.c.user_name, group.c.display_name)
            return _Column(display, sub, sub_label)
        if name == "display":
            group = joins.setdefault("group", groups.alias())
            return _Column(
                group.c.display_name, sub, sub_label, group.c.display_name_key, nullable=False
            )
        raise InvalidFilter(
            f"cannot filter on {sub_label}: it is computed when a resource is shown"
        )

    def exists(pred: ColumnElement[bool]) -> ColumnElement[bool]:
        joined: Any = link
        if "user" in joins:
            joined = joined.outerjoin(joins["user"], joins["user"].c.id == member_id)
        if "group" in joins:
            target = member_id if kind == "members" else link.c.group_id
            joined = joined.outerjoin(joins["group"], joins["group"].c.id == target)
        return select(literal_column("1")).select_from(joined).where(correlate, pred).exists()

    def nonempty() -> _Pred:
        return exists(true()), False

    scope = _SubScope(sql, attribute, label, source)
    return _Collection(sql, attribute, label, scope, None, exists, nonempty)


class _ResourceScope(_Scope):
    """Top-level names: columns, the JSON document, and memberships."""

    def __init__(self, resource_type: ResourceType, table: Table, sql: _Sql) -> None:
        super().__init__(sql)
        self.resource_type = resource_type
        self.table = table

    def resolve(self, path: AttrPath, error: type[InvalidFilter | InvalidValue]) -> Resolved:
        if path.urn is not None and path.urn.lower() in URN_ALIASES:
            path = replace(path, urn=URN_ALIASES[path.urn.lower()])
        try:
            return resolve(self.resource_type, path)
        except UnknownAttribute as exc:
            raise error(
                f"{exc}: {self.resource_type.name} has no attribute {str(path)!r}"
            ) from None

    def is_common(self, resolved: Resolved) -> bool:
        """Is this ``id``, ``externalId`` or ``meta`` (RFC 7643 §3.1)?"""
        return self.resource_type.common_attribute(resolved.attribute.name) is resolved.attribute

    def column(self, resolved: Resolved, label: str) -> _Column | None:
        """Return the column holding a single-valued attribute, if it has one."""
        table, attribute, sub = self.table, resolved.attribute, resolved.sub
        name = attribute.name
        if resolved.in_extension:
            return None
        if self.is_common(resolved):
            if name == "id":
                return _Column(table.c.id, attribute, label, nullable=False, indexed=True)
            if name == "externalId":
                return _Column(table.c.external_id, attribute, label, indexed=True)
            if sub is None:  # bare `meta`: complex, so only `pr` applies, and always holds
                return _Column(true(), attribute, label, nullable=False)
            return self.meta(sub, label)
        if sub is not None:
            return None
        if name == "userName" and "user_name_key" in table.c:
            return _Column(table.c.user_name, attribute, label, table.c.user_name_key, False, True)
        if name == "displayName" and "display_name_key" in table.c:
            key = table.c.display_name_key
            return _Column(table.c.display_name, attribute, label, key, False, True)
        if name == "displayName" and "display_name" in table.c:
            return _Column(table.c.display_name, attribute, label)
        if name == "active" and "active" in table.c:
            return _Column(table.c.active, attribute, label)
        return None

    def meta(self, sub: Attribute, label: str) -> _Column:
        if sub.name == "created":
            return _Column(self.table.c.created, sub, label, nullable=False)
        if sub.name == "lastModified":
            return _Column(self.table.c.last_modified, sub, label, nullable=False)
        if sub.name == "resourceType":
            return _Column(literal(self.resource_type.name, Text), sub, label, nullable=False)
        raise InvalidFilter(f"cannot filter on {label}: it is computed when a resource is shown")

    def place(self, resolved: Resolved) -> _Place:
        keys: tuple[str, ...] = (resolved.attribute.name,)
        if resolved.in_extension:
            keys = (resolved.schema.id, *keys)  # extension values nest under the URN (§3.3)
        return _Place(self.table.c.doc, keys)

    def membership(self, resolved: Resolved) -> Literal["members", "groups"] | None:
        if resolved.in_extension or self.is_common(resolved):
            return None
        if resolved.attribute.name == "members" and self.table.name == groups.name:
            return "members"
        if resolved.attribute.name == "groups" and self.table.name == users.name:
            return "groups"
        return None

    def collection(self, resolved: Resolved, label: str) -> _Collection | None:
        """Return the elements of a multi-valued attribute; None when single-valued."""
        attribute = resolved.attribute
        kind = self.membership(resolved)
        if kind is not None:
            return _membership_collection(self.sql, self.table, kind, attribute, attribute.name)
        if not attribute.multi_valued:
            return None
        return _json_collection(self.sql, self.place(resolved), attribute, attribute.name)

    def source(self, resolved: Resolved, label: str) -> _Source:
        found = self.column(resolved, label)
        if found is not None:
            return found
        place = self.place(resolved)
        if resolved.sub is not None:
            return _Json(place.child(resolved.sub.name), resolved.sub, label)
        return _Json(place, resolved.attribute, label)

    def _target(self, path: AttrPath) -> tuple[Resolved, str, _Collection | None]:
        resolved = self.resolve(path, InvalidFilter)
        label = str(path)
        return resolved, label, self.collection(resolved, label)

    def compare(self, node: Compare) -> _Pred:
        resolved, label, elements = self._target(node.path)
        if elements is not None:
            return elements.match(node, resolved.sub)
        return _compare(self.sql, self.source(resolved, label), node.op, node.value)

    def present(self, path: AttrPath) -> _Pred:
        resolved, label, elements = self._target(path)
        if elements is not None:
            return elements.match(Present(path), resolved.sub)
        return _present(self.sql, self.source(resolved, label))

    def value_path(self, node: ValuePath) -> _Pred:
        resolved, label, elements = self._target(node.path)
        attribute = resolved.attribute
        if elements is not None and elements.scope is not None:
            return elements.exists(_compile(node.filter, elements.scope)[0]), False
        if elements is None and attribute.type == "complex" and resolved.sub is None:
            # `name[givenName eq "x"]`: one complex value, no EXISTS needed.
            source: Callable[[Attribute], _Source]
            if self.is_common(resolved):  # meta[...]
                source = lambda sub: self.meta(sub, f"{label}.{sub.name}")  # noqa: E731
            else:
                place = self.place(resolved)
                source = lambda sub: _Json(place.child(sub.name), sub, f"{label}.{sub.name}")  # noqa: E731
            return _compile(node.filter, _SubScope(self.sql, attribute, label, source))
        raise InvalidFilter(f"{label}[...] needs a complex attribute with sub-attributes")


# -- public API ---------------------------------------------------------------------------


def compile_filter(
    resource_type: ResourceType, table: Table, node: Filter, dialect: str
) -> ColumnElement[bool]:
    """Compile ``node`` into a WHERE clause over ``table`` (``users`` or ``groups``).

    The caller adds ``table.c.tenant_id == tenant`` itself. Values are bound
    parameters. Raises ``InvalidFilter`` (400) naming the attribute or operator at
    fault: an unknown attribute, a complex attribute compared as a whole, an
    operator its type does not allow, or a value of the wrong type.
    """
    return _compile(node, _ResourceScope(resource_type, table, _sql(dialect)))[0]


def sort_key(
    resource_type: ResourceType, table: Table, path: AttrPath, dialect: str
) -> ColumnElement[Any]:
    """Return the ORDER BY expression for ``sortBy=path`` (RFC 7644 §3.4.2.3).

    Strings whose attribute is caseExact=false sort case-insensitively (userName
    and group displayName by their indexed folded column); a multi-valued attribute
    sorts by its primary element's value, else its first element's. Resources
    without a value give NULL: §3.4.2.3 puts them last ascending and first
    descending, so order with ``.asc().nulls_last()`` / ``.desc().nulls_first()``.

    An attribute the resource type does not have, a complex one without a
    sub-attribute, or one this server computes (``members``, ``groups``,
    ``meta.location``, ``meta.version``) raises ``InvalidValue``: the RFC gives
    sortBy no error of its own, and §3.12 defines invalidValue for a value "not
    compatible with the operation or attribute type" (invalidFilter is reserved for
    the ``filter`` parameter).
    """
    sql = _sql(dialect)
    scope = _ResourceScope(resource_type, table, sql)
    resolved = scope.resolve(path, InvalidValue)
    label = str(path)
    attribute = resolved.attribute
    if scope.membership(resolved) is not None:
        raise InvalidValue(f"cannot sort by {label}: sort by an attribute with one value")
    try:
        found = scope.column(resolved, label)
    except InvalidFilter as exc:
        raise InvalidValue(exc.detail.replace("filter on", "sort by")) from None
    if found is not None:
        if found.attribute.type == "complex":
            raise InvalidValue(f"{label} is complex: sort by one of its sub-attributes")
        if found.attribute.type in _STRING_TYPES and not found.attribute.case_exact:
            return found.key if found.key is not None else sql.fold(found.expr)
        return found.expr
    place = scope.place(resolved)
    if not attribute.multi_valued:
        leaf = resolved.sub or attribute
        if leaf.type == "complex":
            raise InvalidValue(f"{label} is complex: sort by one of its sub-attributes")
        return _sort_value(sql, place.child(leaf.name) if resolved.sub else place, leaf)
    sub = resolved.sub
    if attribute.sub_attributes and sub is None:
        sub = attribute.sub_attribute("value")
        if sub is None:
            raise InvalidValue(f"{label} is complex: sort by one of its sub-attributes")
    alias, element, position = sql.elements(place)
    order: list[ColumnElement[Any]] = []
    if attribute.sub_attribute("primary") is not None:
        # The primary value first (§3.4.2.3), then document order.
        is_primary = sql.is_bool(element.child("primary"), True)
        order.append(func.coalesce(is_primary, false()).desc())
    order.append(position)
    value = (
        _sort_value(sql, element.child(sub.name), sub)
        if sub
        else _sort_value(sql, element, attribute)
    )
    return select(value).select_from(alias).order_by(*order).limit(1).scalar_subquery()


def _sort_value(sql: _Sql, place: _Place, attribute: Attribute) -> ColumnElement[Any]:
    kind = attribute.type
    if kind in ("integer", "decimal") and isinstance(sql, _Postgres):
        return sql.jsonb(place)  # jsonb orders numbers numerically; their text would not
    text = sql.text(place)
    if kind in _STRING_TYPES and not attribute.case_exact:
        return sql.fold(text)
    if kind == "dateTime":
        return case(
            (func.length(text) == 20, func.substr(text, 1, 19).concat(".000000Z")),
            else_=text,
        )
    return text
