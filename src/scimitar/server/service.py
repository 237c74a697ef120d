"""The SCIM operations, each one transaction: authenticate, validate, write, read back.

Handlers call them inline: each worker runs one at a time on its own connection
(see ``store.connections`` for why). The key check and the operation share one
transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

from sqlalchemy import Engine, literal, select

from scimitar.scim.ast import AttrPath, Filter
from scimitar.scim.errors import (
    InvalidValue,
    PreconditionFailed,
    ScimError,
    Unauthorized,
)
from scimitar.scim.evaluate import element_matches
from scimitar.scim.group_members import MemberChange, split_member_operations
from scimitar.scim.mutability import check_mutability
from scimitar.scim.patch import apply_patch, parse_patch_request
from scimitar.scim.plain_patch import plain_assignments
from scimitar.scim.resources import GROUP_SCHEMA
from scimitar.scim.validate import normalize
from scimitar.server import policy
from scimitar.server.auth import Principal, authenticate, require_permissions
from scimitar.server.passwords import protect
from scimitar.server.representation import etag
from scimitar.server.store import members, resources
from scimitar.server.store.connections import worker_connection
from scimitar.server.store.db import Db
from scimitar.server.store.patch_in_place import patch_in_place
from scimitar.server.store.postgres import KeyNoLongerValid, PsycopgDb
from scimitar.server.store.resources import (
    GROUPS,
    USERS,
    ChangedMeanwhile,
    Kind,
    Page,
    StoredResource,
)

_PING = select(literal(1))
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Wanted:
    """Which derived attributes a response needs: loading members is not free."""

    members: bool = True  # a group's members
    groups: bool = True  # a user's groups


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: Filter | None
    sort_by: AttrPath | None
    descending: bool
    start_index: int
    count: int


def check_if_match(if_match: str | None, resource: StoredResource) -> None:
    """Raise 412 when ``If-Match`` names no current version (RFC 7644 §3.14)."""
    if if_match is None:
        return
    current = etag(resource.version)
    candidates = [tag.strip() for tag in if_match.split(",")]
    # Weak comparison: W/"3" and "3" name the same version.
    if "*" in candidates or any(tag.removeprefix("W/") == current[2:] for tag in candidates):
        return
    raise PreconditionFailed(
        f"the resource has changed: its current version is {current}, not {if_match}"
    )


def _waiting_for_commit(
    operation: Callable[Concatenate[ScimService, P], T],
) -> Callable[Concatenate[ScimService, P], Coroutine[Any, Any, T]]:
    """Make an operation a coroutine whose single write waits for its commit on the
    event loop, the worker serving other requests meanwhile (``store.async_writes``)."""

    async def waiting(service: ScimService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        work = functools.partial(operation, service, *args, **kwargs)
        return await service.connection.run_allowing_waits(work)

    functools.update_wrapper(waiting, operation)
    return waiting


class ScimService:
    """Users and groups of the tenant that the bearer key belongs to."""

    def __init__(self, engine: Engine) -> None:
        self.connection = worker_connection(engine)

    def close(self) -> None:
        """Close the database connection (at shutdown)."""
        self.connection.close()

    @contextmanager
    def _session(
        self, authorization: str | None, *, write: bool, single_write: bool = False
    ) -> Iterator[tuple[Db, Principal]]:
        with self.connection.transaction(write=write, single_write=single_write) as db:
            principal = authenticate(db, authorization, self.connection.keys)
            require_permissions(principal)
            try:
                yield db, principal
            except KeyNoLongerValid:
                self._refuse(db, authorization, principal)
            except ScimError:
                # A revoked key is answered 401, whatever else was wrong with the request.
                self._settle_key(db, authorization, principal)
                raise
            # Before anything commits or is answered: the key was valid throughout.
            self._settle_key(db, authorization, principal)

    def _settle_key(self, db: Db, authorization: str | None, principal: Principal) -> None:
        """Run the key check that no statement of the request carried (see ``auth``)."""
        if isinstance(db, PsycopgDb):
            try:
                db.settle_key()
            except KeyNoLongerValid:
                self._refuse(db, authorization, principal)

    def _refuse(self, db: Db, authorization: str | None, principal: Principal) -> NoReturn:
        """The cached key was revoked: forget it, and refuse with the full check's reason."""
        if self.connection.keys is not None:
            self.connection.keys.forget(principal.key_id)
        authenticate(db, authorization)  # raises Unauthorized, saying why
        raise Unauthorized("the API key is no longer valid; issue a new one")

    def ping(self) -> None:
        """Check that the database answers (``/healthz``)."""
        with self.connection.transaction(write=False) as db:
            db.first(_PING)

    def check_key(self, authorization: str | None) -> Principal:
        """Authenticate without doing anything else (for endpoints with no data access)."""
        with self._session(authorization, write=False) as (_db, principal):
            return principal

    # -- reads --------------------------------------------------------------------------

    def get(
        self, authorization: str | None, kind: Kind, resource_id: str, wanted: Wanted
    ) -> StoredResource:
        with self._session(authorization, write=False) as (db, principal):
            resource = resources.fetch(
                db, kind, principal.tenant_id, resource_id, with_groups=wanted.groups
            )
            _load_derived(db, kind, [resource], wanted)
            return resource

    def query(
        self, authorization: str | None, kind: Kind, query: ListQuery, wanted: Wanted
    ) -> Page:
        with self._session(authorization, write=False) as (db, principal):
            page = resources.query(
                db,
                kind,
                principal.tenant_id,
                query.filter,
                sort_by=query.sort_by,
                descending=query.descending,
                start_index=query.start_index,
                count=query.count,
                with_groups=wanted.groups,
            )
            _load_derived(db, kind, page.resources, wanted)
            return page

    def search_all(
        self,
        authorization: str | None,
        query: ListQuery,
        wanted: Wanted,
        unusable: tuple[type[Exception], ...],
    ) -> tuple[int, list[tuple[Kind, StoredResource]]]:
        """Search users then groups as one list (``POST /.search``, RFC 7644 §3.4.3).

        A filter that names an attribute one type lacks matches nothing of that type
        (``unusable`` are the errors that mean so) rather than failing the search.
        """
        results: list[tuple[Kind, StoredResource]] = []
        total = 0
        with self._session(authorization, write=False) as (db, principal):
            start = query.start_index
            remaining = query.count
            for kind in (USERS, GROUPS):
                try:
                    counted = resources.query(
                        db,
                        kind,
                        principal.tenant_id,
                        query.filter,
                        sort_by=None,
                        descending=False,
                        start_index=1,
                        count=0,
                    ).total
                except unusable:
                    continue
                total += counted
                if remaining > 0 and start <= counted:
                    page = resources.query(
                        db,
                        kind,
                        principal.tenant_id,
                        query.filter,
                        sort_by=query.sort_by,
                        descending=query.descending,
                        start_index=start,
                        count=remaining,
                    )
                    _load_derived(db, kind, page.resources, wanted)
                    results += [(kind, resource) for resource in page.resources]
                    remaining -= len(page.resources)
                start = max(1, start - counted)
        return total, results

    # -- writes -------------------------------------------------------------------------

    @_waiting_for_commit
    def create(
        self, authorization: str | None, kind: Kind, body: dict[str, Any], wanted: Wanted
    ) -> StoredResource:
        """Create a resource (a coroutine: a user's one INSERT waits for its commit)."""
        single_write = creates_in_one_write(kind)
        with self._session(authorization, write=True, single_write=single_write) as session:
            db, principal = session
            return create_in(db, principal, kind, body, wanted)

    def replace(
        self,
        authorization: str | None,
        kind: Kind,
        resource_id: str,
        body: dict[str, Any],
        if_match: str | None,
        wanted: Wanted,
    ) -> StoredResource:
        with self._session(authorization, write=True) as (db, principal):
            return replace_in(db, principal, kind, resource_id, body, if_match, wanted)

    @_waiting_for_commit
    def patch(
        self,
        authorization: str | None,
        kind: Kind,
        resource_id: str,
        body: Any,
        if_match: str | None,
        wanted: Wanted | None,
    ) -> StoredResource | None:
        """Apply a PatchOp; return the resource when ``wanted``, else None (204).

        A user's PATCH writes one row (its ``groups`` are read-only), so it needs no
        transaction: on PostgreSQL it is one UPDATE when it sets plain values
        (``store/patch_in_place.py``); else it reads without a lock and writes only
        over the version it read, and if another request wrote in between, it does it
        again under a row lock. A coroutine: that write waits for its commit on the
        event loop.
        """
        if kind is not USERS:
            with self._session(authorization, write=True) as (db, principal):
                return patch_in(db, principal, kind, resource_id, body, if_match, wanted)
        try:
            with self._session(authorization, write=True, single_write=True) as session:
                db, principal = session
                return patch_in(
                    db, principal, kind, resource_id, body, if_match, wanted, lock=False
                )
        except ChangedMeanwhile:
            pass
        # Another request wrote between this one's read and its write: the user is
        # being changed right now, so this attempt locks it, which cannot lose a race.
        with self._session(authorization, write=True) as (db, principal):
            return patch_in(db, principal, kind, resource_id, body, if_match, wanted)

    def delete(
        self, authorization: str | None, kind: Kind, resource_id: str, if_match: str | None
    ) -> None:
        with self._session(authorization, write=True) as (db, principal):
            delete_in(db, principal, kind, resource_id, if_match)


# The operations themselves take an open ``Db``, so Bulk can run each of its
# operations in its own transaction with the principal it authenticated once.


def creates_in_one_write(kind: Kind) -> bool:
    """Whether ``create_in`` writes one statement for ``kind``: a user is one INSERT, so
    it needs no transaction around it (a group also writes its members)."""
    return kind is USERS


def create_in(
    db: Db, principal: Principal, kind: Kind, body: dict[str, Any], wanted: Wanted
) -> StoredResource:
    """Create a resource (in one write where ``creates_in_one_write`` says so)."""
    doc, member_ids = _split_members(kind, normalize(kind.resource_type, body))
    _enforce_policy(principal, kind, doc)
    doc = protect(doc)
    resource = resources.insert(db, kind, principal.tenant_id, doc)
    if member_ids:
        members.add(db, principal.tenant_id, resource.id, member_ids)
    if kind is USERS:
        resource.groups = []  # nobody can have added a user created a moment ago to a group
    else:
        _load_derived(db, kind, [resource], wanted)
    return resource


def replace_in(
    db: Db,
    principal: Principal,
    kind: Kind,
    resource_id: str,
    body: dict[str, Any],
    if_match: str | None,
    wanted: Wanted,
) -> StoredResource:
    current = resources.fetch(db, kind, principal.tenant_id, resource_id, for_update=True)
    check_if_match(if_match, current)
    doc, member_ids = _split_members(kind, normalize(kind.resource_type, body))
    check_mutability(kind.resource_type, current.doc, doc)
    _enforce_policy(principal, kind, doc)
    doc = protect(doc)
    resource = resources.store(db, kind, principal.tenant_id, current, doc)
    if kind is GROUPS:
        # PUT replaces every attribute (RFC 7644 §3.5.1), members included.
        members.remove_all(db, resource.id)
        members.add(db, principal.tenant_id, resource.id, member_ids)
    _load_derived(db, kind, [resource], wanted)
    return resource


def patch_in(
    db: Db,
    principal: Principal,
    kind: Kind,
    resource_id: str,
    body: Any,
    if_match: str | None,
    wanted: Wanted | None,
    lock: bool = True,
) -> StoredResource | None:
    """Apply a PatchOp. ``lock=False``: read without a row lock, for a caller that
    retries on ``ChangedMeanwhile`` (the write is conditional on the version read);
    a user's PATCH of plain values is then one UPDATE on PostgreSQL, with no read."""
    operations = parse_patch_request(body)
    # A user's groups cannot change by its own PATCH (``groups`` is read-only): read
    # them with the user, before the change, when the answer needs them.
    with_groups = wanted is not None and wanted.groups
    if kind is USERS and not lock and if_match is None and isinstance(db, PsycopgDb):
        values = plain_assignments(kind.resource_type, operations)
        if values is not None:
            # No policy can object: roles are not plain, and the stored ones passed it.
            written = patch_in_place(
                db, principal.tenant_id, resource_id, values, with_groups=with_groups
            )
            if written is not None:
                return written if wanted is not None else None
    current = resources.fetch(
        db, kind, principal.tenant_id, resource_id, for_update=lock, with_groups=with_groups
    )
    check_if_match(if_match, current)
    changes: list[MemberChange] = []
    if kind is GROUPS:
        operations, changes = split_member_operations(operations)
    resource = current
    if operations:
        doc = apply_patch(kind.resource_type, current.doc, operations)
        if doc != current.doc:
            _enforce_policy(principal, kind, doc)
            doc = protect(doc, current.doc)
            resource = resources.store(db, kind, principal.tenant_id, current, doc)
            resource.groups = current.groups
    if (
        changes
        and _apply_member_changes(db, principal.tenant_id, resource.id, changes)
        and resource is current
    ):
        resource = resources.touch(db, kind, principal.tenant_id, current)
    if wanted is None:
        return None
    _load_derived(db, kind, [resource], wanted)
    return resource


def delete_in(
    db: Db, principal: Principal, kind: Kind, resource_id: str, if_match: str | None
) -> None:
    current = resources.fetch(db, kind, principal.tenant_id, resource_id, for_update=True)
    check_if_match(if_match, current)
    members.forget_member(db, principal.tenant_id, resource_id)
    resources.delete(db, kind, principal.tenant_id, resource_id)


def _split_members(kind: Kind, doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Take ``members`` out of a group document: they are rows, not document values."""
    if kind is not GROUPS or "members" not in doc:
        return doc, []
    doc = dict(doc)
    values = doc.pop("members")
    return doc, [value["value"] for value in values]


def _enforce_policy(principal: Principal, kind: Kind, doc: dict[str, Any]) -> None:
    if kind is USERS:
        policy.enforce(principal.role_policy, doc)


def _apply_member_changes(
    db: Db, tenant_id: int, group_id: str, changes: list[MemberChange]
) -> bool:
    """Run member changes in order; return True when any membership changed."""
    changed = 0
    for change in changes:
        ids = [member_id for member_id, _type in change.ids]
        if change.kind == "add":
            changed += members.add(db, tenant_id, group_id, ids)
        elif change.kind == "remove":
            changed += members.remove(db, group_id, ids)
        elif change.kind == "remove_all":
            changed += members.remove_all(db, group_id)
        elif change.kind == "replace_all":
            changed += members.remove_all(db, group_id)
            changed += members.add(db, tenant_id, group_id, ids)
        elif change.kind == "remove_matching":
            changed += _remove_matching(db, tenant_id, group_id, change)
    return changed > 0


def _remove_matching(db: Db, tenant_id: int, group_id: str, change: MemberChange) -> int:
    """Remove the members a general value filter selects (``members[type eq "Group"]``)."""
    attribute = GROUP_SCHEMA.attribute("members")
    if attribute is None or change.filter is None:  # pragma: no cover - schema invariant
        raise InvalidValue("members filter cannot be applied")
    current = members.members_of(db, [group_id])[group_id]
    doomed = [m["value"] for m in current if element_matches(attribute, m, change.filter)]
    return members.remove(db, group_id, doomed)


def _load_derived(db: Db, kind: Kind, loaded: list[StoredResource], wanted: Wanted) -> None:
    """Fill in the members or groups that the answer needs and the read did not bring."""
    if kind is GROUPS and wanted.members:
        missing = [resource for resource in loaded if resource.members is None]
        by_group = members.members_of(db, [resource.id for resource in missing])
        for resource in missing:
            resource.members = by_group[resource.id]
    elif kind is USERS and wanted.groups:
        missing = [resource for resource in loaded if resource.groups is None]
        by_user = members.groups_of(db, [resource.id for resource in missing])
        for resource in missing:
            resource.groups = by_user[resource.id]
