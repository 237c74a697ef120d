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

from scimitar.scim.ast import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from scimitar.scim.errors import InvalidFilter, InvalidValue
from scimitar.scim.evaluate import element_matches
from scimitar.scim.resources import URN_ALIASES
from scimitar.scim.schema import Attribute, Resolved, ResourceType, UnknownAttribute, resolve
from scimitar.server.store.sql_json import (
    Place,
    Sql,
    doc_elements,
    padded_datetime,
    sql_for,
)
from scimitar.server.store.sql_values import (
    STRING_TYPES,
    ColumnValue,
    JsonValue,
    Pred,
    Value,
    compare_value,
    negate,
    not_null,
    value_present,
)
from scimitar.server.tables import group_members, groups, users

# RFC 7644 §3.4.2.2: "Clients MAY query by schema ... using the 'schemas' attribute";
# no schema defines it, so it is described here as the evaluator describes it.
_SCHEMAS = Attribute("schemas", type="reference", multi_valued=True)


# -- scopes: what a name means where it is written ----------------------------------------


class _Scope:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def compare(self, node: Compare) -> Pred:
        raise NotImplementedError

    def present(self, path: AttrPath) -> Pred:
        raise NotImplementedError

    def value_path(self, node: ValuePath) -> Pred:
        raise NotImplementedError


def _compile(node: Filter, scope: _Scope) -> Pred:
    if isinstance(node, Compare):
        if node.value is None:
            # The RFC gives null no meaning in a comparison; like the evaluator, read
            # "eq null" as absent and "ne null" as present.
            if node.op == "eq":
                return negate(scope.present(node.path))
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
        return negate(_compile(node.operand, scope))
    if isinstance(node, ValuePath):
        return scope.value_path(node)
    raise TypeError(f"not a filter node: {node!r}")


class _SubScope(_Scope):
    """Names inside ``attr[...]``: one element's or object's sub-attributes.

    In a multi-valued simple attribute, ``value`` names the element itself.
    """

    def __init__(
        self, sql: Sql, attribute: Attribute, label: str, source: Callable[[Attribute], Value]
    ) -> None:
        super().__init__(sql)
        self.attribute = attribute
        self.label = label
        self.source = source

    def sub(self, path: AttrPath) -> Value:
        if path.urn is None and path.sub_attr is None:
            if not self.attribute.sub_attributes and path.attr.lower() == "value":
                return self.source(self.attribute)
            sub = self.attribute.sub_attribute(path.attr)
            if sub is not None:
                return self.source(sub)
        raise InvalidFilter(f"'{self.label}' has no sub-attribute '{path}'")

    def compare(self, node: Compare) -> Pred:
        return compare_value(self.sql, self.sub(node.path), node.op, node.value)

    def present(self, path: AttrPath) -> Pred:
        return value_present(self.sql, self.sub(path))

    def value_path(self, node: ValuePath) -> Pred:
        raise InvalidFilter(f"value filters cannot be nested inside '{self.label}[...]'")


@dataclass(slots=True)
class _Collection:
    """A multi-valued attribute: predicates on one element, wrapped in ``EXISTS``."""

    scope: _SubScope
    exists: Callable[[ColumnElement[bool]], ColumnElement[bool]]
    # ``attr pr``: some element is present; None means every element is.
    element_present: Callable[[], ColumnElement[bool]] | None = None

    def match(self, node: Compare | Present, sub: Attribute | None) -> Pred:
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
        has_value = not_null(scope.sql, scope.sub(path))
        differs = compare_value(scope.sql, scope.sub(path), "ne", node.value)[0]
        return or_(not_(self.exists(has_value)), self.exists(and_(has_value, differs))), False


def _json_collection(
    sql: Sql, table: Table, keys: tuple[str, ...], attribute: Attribute
) -> _Collection:
    alias, element, _position = doc_elements(sql, table, keys)
    label = attribute.name

    def exists(pred: ColumnElement[bool]) -> ColumnElement[bool]:
        return select(literal_column("1")).select_from(alias).where(pred).exists()

    def source(sub: Attribute) -> Value:
        if sub is attribute:
            return JsonValue(element, attribute, label)
        return JsonValue(element.child(sub.name), sub, f"{label}.{sub.name}")

    def element_present() -> ColumnElement[bool]:
        return value_present(sql, JsonValue(element, attribute, label))[0]

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

    def source(sub: Attribute) -> Value:
        label = f"{kind}.{sub.name}"
        if sub.name == "value":
            return ColumnValue(ids, sub, label, None if sub.case_exact else ids, False, True)
        if sub.name == "type" and kind == "members":
            return ColumnValue(link.c.member_type, sub, label, nullable=False)
        if sub.name == "type":  # store.members.groups_of lists direct memberships
            return ColumnValue(literal("direct", Text), sub, label, nullable=False)
        if sub.name == "display":
            group = joins.setdefault("group", _LINKED["group"])
            if kind == "groups":
                key = group.c.display_name_key
                return ColumnValue(group.c.display_name, sub, label, key, nullable=False)
            # A user member shows its displayName, else its userName.
            user = joins.setdefault("user", _LINKED["user"])
            shown = func.coalesce(user.c.display_name, user.c.user_name, group.c.display_name)
            return ColumnValue(shown, sub, label)
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

    def column(self, resolved: Resolved, label: str) -> ColumnValue | None:
        """Return the column holding a single-valued attribute, if one does."""
        table, attribute, sub = self.table, resolved.attribute, resolved.sub
        name = attribute.name
        if self.is_common(resolved):
            if name == "id":
                return ColumnValue(table.c.id, attribute, label, nullable=False, indexed=True)
            if name == "externalId":
                return ColumnValue(table.c.external_id, attribute, label, indexed=True)
            if sub is None:  # bare `meta`: complex, so only `pr` applies, and it holds
                return ColumnValue(true(), attribute, label, nullable=False)
            return self.meta(sub, label)
        if resolved.in_extension or sub is not None:
            return None
        if name == "userName" and "user_name_key" in table.c:
            return ColumnValue(
                table.c.user_name, attribute, label, table.c.user_name_key, False, True
            )
        if name == "displayName" and "display_name_key" in table.c:
            key = table.c.display_name_key
            return ColumnValue(table.c.display_name, attribute, label, key, False, True)
        if name == "displayName" and "display_name" in table.c:
            return ColumnValue(table.c.display_name, attribute, label)
        if name == "active" and "active" in table.c:
            return ColumnValue(table.c.active, attribute, label)
        return None

    def meta(self, sub: Attribute, label: str) -> ColumnValue:
        if sub.name == "created":
            return ColumnValue(self.table.c.created, sub, label, nullable=False)
        if sub.name == "lastModified":
            return ColumnValue(self.table.c.last_modified, sub, label, nullable=False)
        if sub.name == "resourceType":
            return ColumnValue(literal(self.resource_type.name, Text), sub, label, nullable=False)
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

    def source(self, resolved: Resolved, label: str) -> Value:
        found = self.column(resolved, label)
        if found is not None:
            return found
        place = self.place(resolved)
        if resolved.sub is not None:
            return JsonValue(place.child(resolved.sub.name), resolved.sub, label)
        return JsonValue(place, resolved.attribute, label)

    def schemas(self, node: Filter) -> Pred:
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

    def compare(self, node: Compare) -> Pred:
        resolved = self.resolve(node.path, InvalidFilter)
        if resolved.attribute is _SCHEMAS:
            return self.schemas(replace(node, path=AttrPath("value")))
        elements = self.collection(resolved)
        if elements is not None:
            return elements.match(node, resolved.sub)
        source = self.source(_through_value(resolved), str(node.path))
        return compare_value(self.sql, source, node.op, node.value)

    def present(self, path: AttrPath) -> Pred:
        resolved = self.resolve(path, InvalidFilter)
        if resolved.attribute is _SCHEMAS:
            return true(), False
        elements = self.collection(resolved)
        if elements is not None:
            return elements.match(Present(path), resolved.sub)
        return value_present(self.sql, self.source(resolved, str(path)))

    def value_path(self, node: ValuePath) -> Pred:
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

        def source(sub: Attribute) -> Value:
            if self.is_common(resolved):  # meta[...]
                return self.meta(sub, f"{label}.{sub.name}")
            return JsonValue(place.child(sub.name), sub, f"{label}.{sub.name}")

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
        if leaf.type in STRING_TYPES and not leaf.case_exact:
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
    if attribute.type in STRING_TYPES and not attribute.case_exact:
        return sql.fold(value)
    return value
