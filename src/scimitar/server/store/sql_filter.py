"""Compile SCIM filters (RFC 7644 §3.4.2.2) and ``sortBy`` (§3.4.2.3) into SQL.

A filter becomes one boolean expression over ``users`` or ``groups``: the database
filters, nothing loads a tenant into Python. Attributes copied into columns compare
on them (``userName eq`` is a lookup in the ``(tenant_id, user_name_key)`` unique
index); the rest are read from the JSON document, multi-valued ones through
``EXISTS`` over the array (``json_each`` on SQLite, ``jsonb_array_elements`` on
PostgreSQL); group ``members`` and a user's ``groups`` come from ``group_members``.

The semantics are those of the in-memory evaluator (``scim/evaluate.py``), and the
tests hold the two to the same answers. SQL's NULL is three-valued, SCIM's logic is
not: an absent attribute makes a comparison false, so ``not (title eq "x")`` and
``title ne "x"`` match users without a title. Each compiled predicate carries
whether it may be NULL, and ``not`` wraps such a one in ``COALESCE(..., false)``;
``and``/``or`` need nothing, as WHERE treats NULL as false and both agree with that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    Table,
    Text,
    and_,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from scimitar.scim.ast import And, AttrPath, Compare, CompValue, Filter, Not, Or, Present, ValuePath
from scimitar.scim.errors import InvalidFilter, InvalidValue
from scimitar.scim.evaluate import element_matches
from scimitar.scim.resources import URN_ALIASES
from scimitar.scim.schema import Attribute, Resolved, ResourceType, UnknownAttribute, resolve
from scimitar.server.store.sql_json import (
    ORDER,
    Place,
    Sql,
    Sqlite,
    doc_elements,
    like_pattern,
    padded_datetime,
    sql_for,
)
from scimitar.server.tables import group_members, groups, users

# (predicate, may it be NULL): see the module docstring.
_Pred = tuple[ColumnElement[bool], bool]

_STRING_TYPES = frozenset({"string", "reference", "binary"})
# RFC 7644 §3.4.2.2: "Clients MAY query by schema ... using the 'schemas' attribute";
# no schema defines it, so it is described here as the evaluator describes it.
_SCHEMAS = Attribute("schemas", type="reference", multi_valued=True)


# -- one value: a column or a place in JSON -----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
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
class _Json:
    """A value inside a JSON document or array element."""

    place: Place
    attribute: Attribute
    label: str


_Source = _Column | _Json


def _negate(pred: _Pred) -> _Pred:
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


def _compare(sql: Sql, source: _Source, op: str, value: CompValue) -> _Pred:
    """Compile ``source op value`` for a non-null ``value``, or raise ``InvalidFilter``."""
    if op == "ne":
        return _negate(_compare(sql, source, "eq", value))
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
        if isinstance(source, _Column):
            return source.expr == wanted, source.nullable
        return sql.is_bool(source.place, wanted), True
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilter(f"'{label}' is an {kind}; compare it with a number, not {value!r}")
        if isinstance(source, _Column):
            return ORDER[op](source.expr, value), source.nullable
        return sql.number(source.place, op, value), True
    if kind == "dateTime":
        moment = _datetime(value, label)
        if isinstance(source, _Column):
            return ORDER[op](source.expr, moment), source.nullable
        stored = padded_datetime(sql.text(source.place))
        return ORDER[op](stored, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")), True
    if not isinstance(value, str):
        raise InvalidFilter(f"'{label}' is a {kind}; compare it with a quoted string")
    return _compare_string(sql, source, op, value)


def _compare_string(sql: Sql, source: _Source, op: str, value: str) -> _Pred:
    if isinstance(source, _Column):
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


def _present(sql: Sql, source: _Source) -> _Pred:
    """Compile ``pr``: not null, not "", and a complex value with some sub-value present."""
    attribute = source.attribute
    if isinstance(source, _Column):
        expr = source.key if source.key is not None else source.expr
        if attribute.type in _STRING_TYPES:
            return expr != "", source.nullable
        return expr.is_not(None), False
    if attribute.type == "complex":
        subs = [
            _present(sql, _Json(source.place.child(sub.name), sub, source.label))
            for sub in attribute.sub_attributes
        ]
        return or_(false(), *(expr for expr, _ in subs)), any(nullable for _, nullable in subs)
    text = sql.text(source.place)
    if attribute.type in _STRING_TYPES:
        return text != "", True
    return text.is_not(None), False


def _has_value(sql: Sql, source: _Source) -> ColumnElement[bool]:
    if isinstance(source, _Column):
        return source.expr.is_not(None)
    return sql.text(source.place).is_not(None)


# -- scopes: what a name means where it is written ----------------------------------------


class _Scope:
    def __init__(self, sql: Sql) -> None:
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
            # The RFC gives null no meaning in a comparison; like the evaluator, read
            # "eq null" as absent and "ne null" as present.
            if node.op == "eq":
                return _negate(scope.present(node.path))
            if node.op == "ne":
                return scope.present(node.path)
            raise InvalidFilter(f"'{node.op}' cannot compare '{node.path}' with null")
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
    """Names inside ``attr[...]``: one element's or object's sub-attributes.

    In a multi-valued simple attribute, ``value`` names the element itself.
    """

    def __init__(
        self, sql: Sql, attribute: Attribute, label: str, source: Callable[[Attribute], _Source]
    ) -> None:
        super().__init__(sql)
        self.attribute = attribute
        self.label = label
        self.source = source

    def sub(self, path: AttrPath) -> _Source:
        if path.urn is None and path.sub_attr is None:
            if not self.attribute.sub_attributes and path.attr.lower() == "value":
                return self.source(self.attribute)
            sub = self.attribute.sub_attribute(path.attr)
            if sub is not None:
                return self.source(sub)
        raise InvalidFilter(f"'{self.label}' has no sub-attribute '{path}'")

    def compare(self, node: Compare) -> _Pred:
        return _compare(self.sql, self.sub(node.path), node.op, node.value)

    def present(self, path: AttrPath) -> _Pred:
        return _present(self.sql, self.sub(path))

    def value_path(self, node: ValuePath) -> _Pred:
        raise InvalidFilter(f"value filters cannot be nested inside '{self.label}[...]'")


@dataclass(slots=True)
class _Collection:
    """A multi-valued attribute: predicates on one element, wrapped in ``EXISTS``."""

    scope: _SubScope
    exists: Callable[[ColumnElement[bool]], ColumnElement[bool]]
    # ``attr pr``: some element is present; None means every element is.
    element_present: Callable[[], ColumnElement[bool]] | None = None

    def match(self, node: Compare | Present, sub: Attribute | None) -> _Pred:
        """Compile ``attr[.sub] op value``: some value matches (RFC 7644 §3.4.2.2)."""
        attribute, scope = self.scope.attribute, self.scope
        if isinstance(node, Present) and sub is None:
            present = self.element_present() if self.element_present else true()
            return self.exists(present), False
        if sub is None and attribute.sub_attributes:
            # §3.4.2.2's own `emails co "example.com"` compares through "value".
            sub = attribute.sub_attribute("value")
            if sub is None:
                raise InvalidFilter(
                    f"'{attribute.name}' is complex; filter on one of its sub-attributes"
                )
        path = AttrPath(sub.name if sub is not None else "value")
        if isinstance(node, Present):
            return self.exists(scope.present(path)[0]), False
        if node.op != "ne":
            return self.exists(scope.compare(replace(node, path=path))[0]), False
        # `emails.value ne "x"`: no value at all, or some value other than "x".
        has_value = _has_value(scope.sql, scope.sub(path))
        differs = _compare(scope.sql, scope.sub(path), "ne", node.value)[0]
        return or_(not_(self.exists(has_value)), self.exists(and_(has_value, differs))), False


def _json_collection(
    sql: Sql, table: Table, keys: tuple[str, ...], attribute: Attribute
) -> _Collection:
    alias, element, _position = doc_elements(sql, table, keys)
    label = attribute.name

    def exists(pred: ColumnElement[bool]) -> ColumnElement[bool]:
        return select(literal_column("1")).select_from(alias).where(pred).exists()

    def source(sub: Attribute) -> _Source:
        if sub is attribute:
            return _Json(element, attribute, label)
        return _Json(element.child(sub.name), sub, f"{label}.{sub.name}")

    def element_present() -> ColumnElement[bool]:
        return _present(sql, _Json(element, attribute, label))[0]

    return _Collection(_SubScope(sql, attribute, label, source), exists, element_present)


# Built once, for the reason given at sql_json.doc_elements.
_LINK = group_members.alias("scim_link")
_LINKED = {"user": users.alias("scim_linked_user"), "group": groups.alias("scim_linked_group")}


def _membership_collection(
    sql: Sql, table: Table, attribute: Attribute, kind: Literal["members", "groups"]
) -> _Collection:
    """Group ``members`` or a user's ``groups``, as ``store.members`` shows them.

    Resource ids are server-made lowercase UUIDs, so a caseExact=false ``value``
    compares the id column itself with the folded value: the same answer, and the
    ``(group_id, member_id)`` key or the ``member_id`` index still applies.
    """
    link = _LINK
    joins: dict[str, Any] = {}
    if kind == "members":
        correlate, ids, joined_on = link.c.group_id == table.c.id, link.c.member_id, "member_id"
    else:
        correlate, ids, joined_on = link.c.member_id == table.c.id, link.c.group_id, "group_id"

    def source(sub: Attribute) -> _Source:
        label = f"{kind}.{sub.name}"
        if sub.name == "value":
            return _Column(ids, sub, label, None if sub.case_exact else ids, False, True)
        if sub.name == "type" and kind == "members":
            return _Column(link.c.member_type, sub, label, nullable=False)
        if sub.name == "type":  # store.members.groups_of lists direct memberships
            return _Column(literal("direct", Text), sub, label, nullable=False)
        if sub.name == "display":
            group = joins.setdefault("group", _LINKED["group"])
            if kind == "groups":
                key = group.c.display_name_key
                return _Column(group.c.display_name, sub, label, key, nullable=False)
            # A user member shows its displayName, else its userName.
            user = joins.setdefault("user", _LINKED["user"])
            shown = func.coalesce(user.c.display_name, user.c.user_name, group.c.display_name)
            return _Column(shown, sub, label)
        raise InvalidFilter(f"cannot filter on '{label}': it is computed when shown")

    def exists(pred: ColumnElement[bool]) -> ColumnElement[bool]:
        rows: Any = link
        for name, other in joins.items():  # only what the filter named
            on = other.c.id == link.c[joined_on if name == "group" else "member_id"]
            rows = rows.outerjoin(other, on)
        return select(literal_column("1")).select_from(rows).where(correlate, pred).exists()

    return _Collection(_SubScope(sql, attribute, kind, source), exists)


class _ResourceScope(_Scope):
    """Top-level names: columns, the JSON document, memberships and ``schemas``."""

    def __init__(self, resource_type: ResourceType, table: Table, sql: Sql) -> None:
        super().__init__(sql)
        self.resource_type = resource_type
        self.table = table

    def resolve(self, path: AttrPath, error: type[InvalidFilter | InvalidValue]) -> Resolved:
        if path.urn is not None and path.urn.lower() in URN_ALIASES:
            path = replace(path, urn=URN_ALIASES[path.urn.lower()])
        try:
            return resolve(self.resource_type, path)
        except UnknownAttribute as exc:
            core = self.resource_type.schema
            if (
                error is InvalidFilter
                and path.attr.lower() == "schemas"
                and path.sub_attr is None
                and (path.urn is None or path.urn.lower() == core.id.lower())
            ):
                return Resolved(core, _SCHEMAS)
            name = self.resource_type.name
            raise error(f"cannot use '{path}' with {name} resources: {exc}") from None

    def is_common(self, resolved: Resolved) -> bool:
        """Is this ``id``, ``externalId`` or ``meta`` (RFC 7643 §3.1)?"""
        return self.resource_type.common_attribute(resolved.attribute.name) is resolved.attribute

    def column(self, resolved: Resolved, label: str) -> _Column | None:
        """Return the column holding a single-valued attribute, if one does."""
        table, attribute, sub = self.table, resolved.attribute, resolved.sub
        name = attribute.name
        if self.is_common(resolved):
            if name == "id":
                return _Column(table.c.id, attribute, label, nullable=False, indexed=True)
            if name == "externalId":
                return _Column(table.c.external_id, attribute, label, indexed=True)
            if sub is None:  # bare `meta`: complex, so only `pr` applies, and it holds
                return _Column(true(), attribute, label, nullable=False)
            return self.meta(sub, label)
        if resolved.in_extension or sub is not None:
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
        raise InvalidFilter(f"cannot filter on '{label}': it is computed when shown")

    def place(self, resolved: Resolved) -> Place:
        keys: tuple[str, ...] = (resolved.attribute.name,)
        if resolved.in_extension:
            keys = (resolved.schema.id, *keys)  # extension values nest under the URN (§3.3)
        return Place(self.table.c.doc, keys)

    def membership(self, resolved: Resolved) -> Literal["members", "groups"] | None:
        if resolved.in_extension or self.is_common(resolved):
            return None
        if resolved.attribute.name == "members" and self.table.name == groups.name:
            return "members"
        if resolved.attribute.name == "groups" and self.table.name == users.name:
            return "groups"
        return None

    def collection(self, resolved: Resolved) -> _Collection | None:
        """Return the elements of a multi-valued attribute; None when single-valued."""
        kind = self.membership(resolved)
        if kind is not None:
            return _membership_collection(self.sql, self.table, resolved.attribute, kind)
        if not resolved.attribute.multi_valued:
            return None
        keys = self.place(resolved).keys
        return _json_collection(self.sql, self.table, keys, resolved.attribute)

    def source(self, resolved: Resolved, label: str) -> _Source:
        found = self.column(resolved, label)
        if found is not None:
            return found
        place = self.place(resolved)
        if resolved.sub is not None:
            return _Json(place.child(resolved.sub.name), resolved.sub, label)
        return _Json(place, resolved.attribute, label)

    def schemas(self, node: Filter) -> _Pred:
        """Compile a filter on ``schemas``: the core URN, plus each extension present."""
        if element_matches(_SCHEMAS, self.resource_type.schema.id, node):
            return true(), False  # every resource has its core schema
        candidates: list[ColumnElement[bool]] = []
        for extension, _required in self.resource_type.extensions:
            if element_matches(_SCHEMAS, extension.id, node):
                # store.representation lists an extension when the document has it.
                found = self.sql.text(Place(self.table.c.doc, (extension.id,)))
                candidates.append(found.is_not(None))
        return (or_(*candidates), False) if candidates else (false(), False)

    def compare(self, node: Compare) -> _Pred:
        resolved = self.resolve(node.path, InvalidFilter)
        if resolved.attribute is _SCHEMAS:
            return self.schemas(replace(node, path=AttrPath("value")))
        elements = self.collection(resolved)
        if elements is not None:
            return elements.match(node, resolved.sub)
        source = self.source(_through_value(resolved), str(node.path))
        return _compare(self.sql, source, node.op, node.value)

    def present(self, path: AttrPath) -> _Pred:
        resolved = self.resolve(path, InvalidFilter)
        if resolved.attribute is _SCHEMAS:
            return true(), False
        elements = self.collection(resolved)
        if elements is not None:
            return elements.match(Present(path), resolved.sub)
        return _present(self.sql, self.source(resolved, str(path)))

    def value_path(self, node: ValuePath) -> _Pred:
        resolved = self.resolve(node.path, InvalidFilter)
        label, attribute = str(node.path), resolved.attribute
        if attribute is _SCHEMAS:
            return self.schemas(node.filter)
        elements = self.collection(resolved)
        if elements is not None:
            return elements.exists(_compile(node.filter, elements.scope)[0]), False
        if attribute.type != "complex" or resolved.sub is not None:
            raise InvalidFilter(f"'[...]' applies to multi-valued or complex attributes: {label}")
        # `name[givenName eq "x"]`: one complex value, no EXISTS needed.
        place = self.place(resolved)

        def source(sub: Attribute) -> _Source:
            if self.is_common(resolved):  # meta[...]
                return self.meta(sub, f"{label}.{sub.name}")
            return _Json(place.child(sub.name), sub, f"{label}.{sub.name}")

        return _compile(node.filter, _SubScope(self.sql, attribute, label, source))


def _through_value(resolved: Resolved) -> Resolved:
    """Return a single complex attribute with a "value" (``manager``) as ``manager.value``.

    The evaluator compares it so, as §3.4.2.2 does multi-valued ones (``emails co
    "x"``); Entra ID sends ``manager eq "<id>"`` (tutorial use-scim-to-provision-
    users-and-groups, "Example 4. Query the value of a reference attribute").
    """
    attribute = resolved.attribute
    if resolved.sub is None and attribute.type == "complex":
        value = attribute.sub_attribute("value")
        if value is not None:
            return replace(resolved, sub=value)
    return resolved


# -- the public functions -----------------------------------------------------------------


def compile_filter(
    resource_type: ResourceType, table: Table, node: Filter, dialect: str
) -> ColumnElement[bool]:
    """Compile ``node`` into a WHERE clause over ``table`` (``users`` or ``groups``).

    ``dialect`` is "sqlite" or "postgresql"; the caller adds ``table.c.tenant_id ==
    tenant``. Values are bound parameters. Raises ``InvalidFilter`` naming what is
    wrong: an unknown attribute, a complex one compared whole, an operator its type
    does not allow, or a value of the wrong type.
    """
    return _compile(node, _ResourceScope(resource_type, table, sql_for(dialect)))[0]


def sort_key(
    resource_type: ResourceType, table: Table, path: AttrPath, dialect: str
) -> ColumnElement[Any]:
    """Return the ORDER BY expression for ``sortBy=path`` (RFC 7644 §3.4.2.3).

    caseExact=false strings sort case-insensitively (userName and a group's
    displayName by their indexed folded column); a multi-valued attribute sorts by
    its primary element's value, else its first element's. A resource without a
    value gives NULL, which §3.4.2.3 puts last ascending and first descending:
    ``.asc().nulls_last()`` / ``.desc().nulls_first()``.

    An unknown attribute, a complex one without a sub-attribute, or one computed
    when shown (``members``, ``groups``, ``meta.location``, ``meta.version``) raises
    ``InvalidValue``: §3.4.2.3 gives sortBy no error of its own, §3.12 defines
    invalidValue for a value "not compatible with the operation or attribute type",
    and invalidFilter is about the ``filter`` parameter.
    """
    sql = sql_for(dialect)
    scope = _ResourceScope(resource_type, table, sql)
    resolved = scope.resolve(path, InvalidValue)
    label, attribute = str(path), resolved.attribute
    if scope.membership(resolved) is not None:
        raise InvalidValue(f"cannot sort by '{label}': it has many values computed when shown")
    try:
        found = scope.column(resolved, label)
    except InvalidFilter as exc:
        raise InvalidValue(exc.detail.replace("filter on", "sort by")) from None
    leaf = found.attribute if found is not None else resolved.sub or attribute
    if attribute.multi_valued and resolved.sub is None and attribute.sub_attributes:
        leaf = attribute.sub_attribute("value") or attribute
    if leaf.type == "complex":
        raise InvalidValue(f"cannot sort by '{label}': it is complex; name a sub-attribute")
    if found is not None:
        if leaf.type in _STRING_TYPES and not leaf.case_exact:
            return found.key if found.key is not None else sql.fold(found.expr)
        return found.expr
    place = scope.place(resolved)
    if not attribute.multi_valued:
        return _sort_value(sql, place.child(leaf.name) if resolved.sub else place, leaf)
    alias, element, position = doc_elements(sql, table, place.keys)
    order: list[Any] = []
    if attribute.sub_attribute("primary") is not None:
        primary = sql.is_bool(element.child("primary"), True)
        order.append(func.coalesce(primary, false()).desc())  # the primary value first
    value = _sort_value(sql, element if leaf is attribute else element.child(leaf.name), leaf)
    return select(value).select_from(alias).order_by(*order, position).limit(1).scalar_subquery()


def _sort_value(sql: Sql, place: Place, attribute: Attribute) -> ColumnElement[Any]:
    value = sql.sortable(place, attribute.type)
    if attribute.type == "dateTime":
        return padded_datetime(value)
    if attribute.type in _STRING_TYPES and not attribute.case_exact:
        return sql.fold(value)
    return value
