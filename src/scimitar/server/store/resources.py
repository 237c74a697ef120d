"""SQL for users and groups: one row per resource, its attributes in a JSON document.

Every function takes a ``Db`` (see ``db.py``) inside a transaction the caller owns,
so a request's reads and writes commit or roll back together. Every query carries
the tenant: a resource of another tenant is simply not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, Table, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from scimitar.scim.ast import AttrPath, Compare, Filter
from scimitar.scim.errors import NotFound, Uniqueness
from scimitar.scim.resources import GROUP, USER
from scimitar.scim.schema import ResourceType
from scimitar.server.store.db import INTEGRITY_ERRORS, Db, parse_document, parse_timestamp
from scimitar.server.store.sql_filter import compile_filter, sort_key
from scimitar.server.tables import group_members, groups, users


@dataclass(frozen=True, slots=True)
class Kind:
    """How one resource type maps onto its table."""

    resource_type: ResourceType
    table: Table
    name_attribute: str  # the attribute unique per tenant
    name_column: Column[str]
    key_column: Column[str]
    # Other attributes copied into indexed columns: (attribute, column).
    copied: tuple[tuple[str, str], ...]

    def columns_for(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Return the indexed column values copied out of ``doc``."""
        name = doc[self.name_attribute]
        return {
            self.name_column.key: name,
            self.key_column.key: name.casefold(),
            **self.copied_columns(doc),
        }

    def copied_columns(self, values: dict[str, Any], *, given_only: bool = False) -> dict[str, Any]:
        """Return the ``copied`` columns' values out of ``values`` (None where absent);
        ``given_only``: only the columns of the attributes ``values`` holds."""
        return {
            column: _column_value(column, values.get(attribute))
            for attribute, column in self.copied
            if not given_only or attribute in values
        }


def _column_value(column: str, value: Any) -> Any:
    """``active`` is a boolean column: anything else there is stored as NULL."""
    return None if column == "active" and not isinstance(value, bool) else value


USERS = Kind(
    USER,
    users,
    "userName",
    users.c.user_name,
    users.c.user_name_key,
    (("externalId", "external_id"), ("displayName", "display_name"), ("active", "active")),
)
GROUPS = Kind(
    GROUP,
    groups,
    "displayName",
    groups.c.display_name,
    groups.c.display_name_key,
    (("externalId", "external_id"),),
)
KINDS = {"User": USERS, "Group": GROUPS}


@dataclass(slots=True)
class StoredResource:
    """A resource as read from the database, before it is shaped into SCIM JSON."""

    id: str
    doc: dict[str, Any]
    version: int
    created: datetime
    last_modified: datetime
    # Group members ({"value", "type", "display"}) or a user's groups, when asked for.
    members: list[dict[str, Any]] | None = None
    groups: list[dict[str, Any]] | None = field(default=None)


def now() -> datetime:
    """Return the current time, truncated to milliseconds as SCIM clients print it."""
    stamp = datetime.now(UTC)
    return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)


def resource_columns(table: Table) -> tuple[Column[Any], ...]:
    """The columns ``row_to_resource`` builds a resource from, in its order."""
    return (table.c.id, table.c.doc, table.c.version, table.c.created, table.c.last_modified)


def row_to_resource(row: tuple[Any, ...]) -> StoredResource:
    """Build a resource from (id, doc, version, created, last_modified)."""
    resource_id, doc, version, created, last_modified = row
    return StoredResource(
        id=resource_id,
        doc=parse_document(doc),
        version=version,
        created=parse_timestamp(created),
        last_modified=parse_timestamp(last_modified),
    )


def _uniqueness_error(kind: Kind, doc: dict[str, Any]) -> Uniqueness:
    name = kind.name_attribute
    return Uniqueness(
        f"{name} {doc[name]!r} is already used by another {kind.resource_type.name.lower()} "
        f"of this tenant ({name} is unique, compared case-insensitively)"
    )


class _Statements:
    """One kind's hot statements, built once with bound parameters.

    Building a SQLAlchemy statement costs far more than running it on SQLite
    (tens of microseconds against a few); requests reuse these instead.
    """

    def __init__(self, kind: Kind) -> None:
        table = kind.table
        columns = resource_columns(table)
        mine = (table.c.id == bindparam("rid"), table.c.tenant_id == bindparam("tenant"))
        self.fetch = select(*columns).where(*mine)
        self.fetch_for_update = self.fetch.with_for_update()
        # PostgreSQL: a user and its groups in one statement, one round trip less.
        if table is users:
            self.fetch_with_groups = select(*columns, groups_of_user_column()).where(*mine)
        self.name_taken = (
            select(table.c.id)
            .where(
                table.c.tenant_id == bindparam("tenant"),
                kind.key_column == bindparam("key"),
                table.c.id != bindparam("rid"),
            )
            .limit(1)
        )
        self.insert = table.insert()
        # Only over the version that was read: a write that raced in between makes
        # this touch no row (``ChangedMeanwhile``) instead of being overwritten.
        self.store = (
            update(table)
            .where(*mine, table.c.version == bindparam("read_version"))
            .values({name: bindparam(f"new_{name}") for name in _stored_columns(kind)})
        )
        self.touch = (
            update(table)
            .where(*mine)
            .values(version=table.c.version + 1, last_modified=bindparam("new_last_modified"))
        )
        self.delete = table.delete().where(*mine)
        self._columns = columns
        self._lookups: dict[tuple[str, bool], Any] = {}

    def lookup(self, column: str, with_groups: bool = False) -> Any:
        """SELECT the tenant's resources whose ``column`` equals ``:value``, by id."""
        found = self._lookups.get((column, with_groups))
        if found is None:
            table = self._columns[0].table
            extra = [groups_of_user_column()] if with_groups else []
            found = self._lookups[column, with_groups] = (
                select(*self._columns, *extra)
                .where(
                    table.c.tenant_id == bindparam("tenant"), table.c[column] == bindparam("value")
                )
                .order_by(table.c.id)
                .limit(bindparam("limit", type_=Integer))
            )
        return found


def groups_of_user_column() -> Any:
    """A PostgreSQL column: the user's groups as a JSON array of [id, displayName].

    The same values, in the same order, as ``members.groups_of``.
    """
    pair = func.json_build_array(groups.c.id, groups.c.display_name)
    return (
        select(func.coalesce(func.json_agg(aggregate_order_by(pair, groups.c.id)), text("'[]'")))
        .select_from(group_members.join(groups, groups.c.id == group_members.c.group_id))
        .where(group_members.c.member_id == users.c.id)
        .scalar_subquery()
    )


def row_to_user_with_groups(row: tuple[Any, ...]) -> StoredResource:
    """Build a user from a row whose last column is ``groups_of_user_column()``."""
    resource = row_to_resource(row[:5])
    resource.groups = [
        {"value": group_id, "display": display, "type": "direct"} for group_id, display in row[5]
    ]
    return resource


def folds_groups(db: Db, kind: Kind) -> bool:
    """Whether reads of ``kind`` can bring the users' groups along (PostgreSQL only).

    On SQLite the separate query costs microseconds; on PostgreSQL a round trip.
    """
    return kind.table is users and db.dialect_name == "postgresql"


def _stored_columns(kind: Kind) -> list[str]:
    return ["doc", "version", "last_modified", *kind.columns_for({kind.name_attribute: ""})]


_STATEMENTS: dict[str, _Statements] = {}


def statements(kind: Kind) -> _Statements:
    found = _STATEMENTS.get(kind.table.name)
    if found is None:
        found = _STATEMENTS[kind.table.name] = _Statements(kind)
    return found


def _name_taken(
    db: Db, kind: Kind, tenant_id: int, doc: dict[str, Any], except_id: str | None = None
) -> bool:
    found = db.first(
        statements(kind).name_taken,
        {"tenant": tenant_id, "key": doc[kind.name_attribute].casefold(), "rid": except_id or ""},
    )
    return found is not None


def insert(db: Db, kind: Kind, tenant_id: int, doc: dict[str, Any]) -> StoredResource:
    """Insert a new resource; a taken unique name raises ``Uniqueness`` (409).

    The unique index on (tenant, casefolded name) is the check: asking first would
    cost every create a query, and could still lose a race to a concurrent insert.
    """
    stamp = now()
    resource = StoredResource(str(uuid.uuid4()), doc, 1, stamp, stamp)
    try:
        db.run(
            statements(kind).insert,
            {
                "id": resource.id,
                "tenant_id": tenant_id,
                "doc": doc,
                "version": 1,
                "created": stamp,
                "last_modified": stamp,
                **kind.columns_for(doc),
            },
        )
    except INTEGRITY_ERRORS:  # the name is taken (ids are random UUIDs, the tenant exists)
        raise _uniqueness_error(kind, doc) from None
    return resource


def fetch(
    db: Db,
    kind: Kind,
    tenant_id: int,
    resource_id: str,
    *,
    for_update: bool = False,
    with_groups: bool = False,
) -> StoredResource:
    """Return one resource of the tenant, or raise ``NotFound``.

    ``with_groups``: fill in a user's groups too where that is free (``folds_groups``)
    and the read is unlocked; after a locked read they stay None, and the caller
    loads them on their own (``service._load_derived``).
    """
    prepared = statements(kind)
    # SQLite has no row locks (its write lock is the whole database, taken at BEGIN).
    locking = for_update and db.dialect_name == "postgresql"
    folded = with_groups and not locking and folds_groups(db, kind)
    if folded:
        query = prepared.fetch_with_groups
    else:
        query = prepared.fetch_for_update if locking else prepared.fetch
    row = db.first(query, {"rid": resource_id, "tenant": tenant_id})
    if row is None:
        raise NotFound(f"{kind.resource_type.name} {resource_id!r} not found")
    return row_to_user_with_groups(row) if folded else row_to_resource(row)


class ChangedMeanwhile(Exception):
    """The resource changed between its read and the write (an unlocked read)."""


def store(
    db: Db, kind: Kind, tenant_id: int, resource: StoredResource, doc: dict[str, Any]
) -> StoredResource:
    """Write ``doc`` as the resource's new state, bumping its version.

    Raises ``ChangedMeanwhile`` when ``resource`` is no longer the stored version,
    which only an unlocked read (``fetch`` without ``for_update``) lets happen.
    """
    renamed = (
        doc.get(kind.name_attribute, "").casefold()
        != resource.doc.get(kind.name_attribute, "").casefold()
    )
    if renamed and _name_taken(db, kind, tenant_id, doc, except_id=resource.id):
        raise _uniqueness_error(kind, doc)
    stamp = now()
    values = {
        "doc": doc,
        "version": resource.version + 1,
        "last_modified": stamp,
        **kind.columns_for(doc),
    }
    try:
        written = db.run(
            statements(kind).store,
            {
                "rid": resource.id,
                "tenant": tenant_id,
                "read_version": resource.version,
                **{f"new_{name}": value for name, value in values.items()},
            },
        )
    except INTEGRITY_ERRORS:
        raise _uniqueness_error(kind, doc) from None
    if written == 0:
        raise ChangedMeanwhile
    return StoredResource(resource.id, doc, resource.version + 1, resource.created, stamp)


def touch(db: Db, kind: Kind, tenant_id: int, resource: StoredResource) -> StoredResource:
    """Bump a resource's version without changing its document (members changed)."""
    stamp = now()
    db.run(
        statements(kind).touch,
        {"rid": resource.id, "tenant": tenant_id, "new_last_modified": stamp},
    )
    return StoredResource(resource.id, resource.doc, resource.version + 1, resource.created, stamp)


def delete(db: Db, kind: Kind, tenant_id: int, resource_id: str) -> None:
    db.run(statements(kind).delete, {"rid": resource_id, "tenant": tenant_id})


def _indexed_lookup(kind: Kind, node: Filter | None) -> tuple[str, str] | None:
    """Recognise ``userName eq "x"``-style filters that one index answers exactly.

    These are what Entra ID and the engine send to match objects, so they skip
    building a statement from the filter tree: a prepared one is bound instead.
    Returns (column name, value to bind) or None.
    """
    if not isinstance(node, Compare) or node.op != "eq" or not isinstance(node.value, str):
        return None
    path = node.path
    if path.sub_attr is not None or (
        path.urn is not None and path.urn.lower() != kind.resource_type.schema.id.lower()
    ):
        return None
    name = path.attr.lower()
    if name == kind.name_attribute.lower():  # caseExact false: the casefolded key column
        return kind.key_column.key, node.value.casefold()
    if name == "externalid":  # caseExact true (RFC 7643 §3.1)
        return "external_id", node.value
    if name == "id":
        return "id", node.value
    return None


def _count(db: Db, kind: Kind, where: list[ColumnElement[bool]]) -> int:
    row = db.first(select(func.count()).select_from(kind.table).where(*where))
    assert row is not None
    return int(row[0])


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    resources: list[StoredResource]


def query(
    db: Db,
    kind: Kind,
    tenant_id: int,
    node: Filter | None,
    *,
    sort_by: AttrPath | None,
    descending: bool,
    start_index: int,
    count: int,
    with_groups: bool = False,
) -> Page:
    """Return one page of the tenant's resources matching ``node``, and the total.

    ``with_groups``: as for ``fetch``, on the indexed lookups that matching sends.
    """
    table = kind.table
    lookup = _indexed_lookup(kind, node) if sort_by is None else None
    if lookup is not None and count > 0:
        column, value = lookup
        limit = start_index - 1 + count
        folded = with_groups and folds_groups(db, kind)
        found = db.rows(
            statements(kind).lookup(column, folded),
            {"tenant": tenant_id, "value": value, "limit": limit},
        )
        build = row_to_user_with_groups if folded else row_to_resource
        page = [build(row) for row in found[start_index - 1 :]]
        if len(found) < limit:  # every match is in hand: no COUNT needed
            return Page(len(found), page)
    where: list[ColumnElement[bool]] = [table.c.tenant_id == tenant_id]
    if node is not None:
        where.append(compile_filter(kind.resource_type, table, node, db.dialect_name))
    if lookup is not None and count > 0:
        return Page(_count(db, kind, where), page)
    offset = start_index - 1
    rows: list[tuple[Any, ...]] = []
    if count > 0:
        order: list[Any] = []
        if sort_by is not None:
            key = sort_key(kind.resource_type, table, sort_by, db.dialect_name)
            # RFC 7644 §3.4.2.3: without a value, last when ascending and first when descending.
            order.append(key.desc().nulls_first() if descending else key.asc().nulls_last())
        order.append(table.c.id)  # a stable order, so pages neither skip nor repeat
        page_query = select(*resource_columns(table)).where(*where).order_by(*order)
        rows = db.rows(page_query.limit(count).offset(offset))
    if 0 < len(rows) < count or (offset == 0 and len(rows) < count):
        # The page ran short: everything up to here is all there is, no COUNT needed.
        total = offset + len(rows)
    else:
        total = _count(db, kind, where)
    return Page(total, [row_to_resource(row) for row in rows])
