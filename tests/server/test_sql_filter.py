"""SCIM filters and sortBy compiled to SQL, run on real SQLite and PostgreSQL.

Every filter is checked twice: against the ids written down here, and against the
in-memory evaluator (``scim.evaluate``) applied to the same resources as the server
would show them (``representation.to_scim``), so the two implementations cannot
drift apart. The ``engine`` fixture runs each test on both backends (``database_url``,
tests/conftest.py), set up as ``create_app`` sets up its own.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, delete, select
from sqlalchemy.exc import OperationalError

from scimitar.db.engine import make_engine
from scimitar.scim.ast import AttrPath
from scimitar.scim.errors import InvalidFilter, InvalidValue
from scimitar.scim.evaluate import resource_matches
from scimitar.scim.filter import parse_filter
from scimitar.scim.resources import (
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_SCHEMA,
    ENTERPRISE_USER_URN,
    GROUP,
    USER,
    USER_SCHEMA,
)
from scimitar.scim.schema import Attribute, ResourceType, Schema
from scimitar.server.representation import to_scim
from scimitar.server.store.connections import transaction
from scimitar.server.store.members import groups_of, members_of
from scimitar.server.store.resources import StoredResource
from scimitar.server.store.sql_filter import compile_filter, sort_key
from scimitar.server.store.sql_json import (
    CASEFOLD_FUNCTION,
    install_casefold,
    install_sqlite_functions,
)
from scimitar.server.tables import group_members, groups, tenants, users

# A test-only extension with the attribute types the core schemas keep out of the
# document (dateTime, integer, decimal, boolean, multi-valued simple).
CUSTOM_URN = "urn:example:params:scim:schemas:extension:test:2.0:User"
CUSTOM_SCHEMA = Schema(
    CUSTOM_URN,
    "Test",
    "Attributes of every type",
    (
        Attribute("hireDate", type="dateTime"),
        Attribute("level", type="integer"),
        Attribute("score", type="decimal"),
        Attribute("remote", type="boolean"),
        Attribute("tags", multi_valued=True),
    ),
)
TEST_USER = ResourceType(
    "User",
    "/Users",
    "User Account",
    USER_SCHEMA,
    ((ENTERPRISE_USER_SCHEMA, False), (CUSTOM_SCHEMA, False)),
    COMMON_ATTRIBUTES,
)


def _at(month: int, day: int = 1, year: int = 2020, ms: int = 0) -> datetime:
    return datetime(year, month, day, tzinfo=UTC).replace(microsecond=ms * 1000)


# name -> (document, created); ids are made per run. "<jsmith>" in a document or a
# filter is replaced by that user's id ("<JSMITH>": the id in upper case).
USERS: dict[str, tuple[dict[str, Any], datetime]] = {
    "bjensen": (
        {
            "userName": "bjensen",
            "externalId": "ext-1",
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "active": True,
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. B J"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": True},
                {"value": "babs@jensen.org", "type": "home"},
            ],
            "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
            ENTERPRISE_USER_URN: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "<jsmith>", "displayName": "John Smith"},
            },
            CUSTOM_URN: {
                "hireDate": "2015-03-01T09:00:00.000000Z",
                "level": 3,
                "score": 4.5,
                "remote": True,
                "tags": ["Alpha", "beta"],
            },
        },
        _at(1),
    ),
    "jsmith": (
        {
            "userName": "JSmith",
            "externalId": "ext-2",
            "displayName": "John Smith",
            "title": "Boss",
            "active": True,
            "name": {"givenName": "John", "familyName": "Smith"},
            "emails": [{"value": "John@Example.com", "type": "work"}],
            "roles": [{"value": "User", "primary": True}],
            ENTERPRISE_USER_URN: {"employeeNumber": "1", "costCenter": "4130"},
            CUSTOM_URN: {
                "hireDate": "2010-01-01T00:00:00.000000Z",
                "level": 10,
                "score": 3,
                "remote": False,
                "tags": ["gamma"],
            },
        },
        _at(2),
    ),
    "elodie": (
        {
            "userName": "Élodie",
            "displayName": "ÉLODIE DUPRÉ",
            "title": "École",
            "active": False,
            "name": {"givenName": "Élodie", "familyName": "Dupré"},
            "emails": [{"value": "elodie@exemple.fr", "type": "home", "primary": False}],
            CUSTOM_URN: {"level": -2, "tags": ["ÉTÉ"]},
        },
        _at(3),
    ),
    "percent": (
        {"userName": "100%_user", "title": "100% _under_ score", CUSTOM_URN: {"score": 0.5}},
        _at(4),
    ),
    "quote": (
        {
            "userName": 'quote"back\\slash',
            "externalId": "EXT-1",
            "displayName": "Q",
            "title": 'say "hi" \\ bye',
            "active": True,
        },
        _at(5),
    ),
    "bare": ({"userName": "bare"}, _at(6)),
    "empty": (
        {
            "userName": "empty",
            "title": "",
            "active": False,
            "emails": [{"type": "work"}],
            CUSTOM_URN: {"remote": False},
        },
        _at(7),
    ),
    "multi": (
        {
            "userName": "multi",
            "displayName": "Multi Valued",
            "emails": [
                {"value": "a@x.com", "type": "work"},
                {"value": "b@y.com", "type": "home", "primary": True},
            ],
            "ims": [{"value": "aim1", "type": "aim"}],
            "x509Certificates": [{"value": "TUlJQ0lq"}],
            "addresses": [
                {"type": "work", "locality": "Paris", "country": "FR", "primary": True},
                {"type": "home", "locality": "London"},
            ],
            "photos": [{"value": "https://photos.example.com/Profile.jpg", "type": "photo"}],
            "entitlements": [{"value": "Admin"}],
            ENTERPRISE_USER_URN: {"manager": {"value": "<bjensen>"}},
            CUSTOM_URN: {"tags": ["alpha"]},
        },
        _at(8),
    ),
    "strasse": ({"userName": "Straße", "displayName": "Straße Weg"}, _at(9)),
}
LAST_MODIFIED = {"bjensen": datetime(2021, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)}

# name -> (document, member names)
GROUPS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "admins": (
        {"displayName": "Admins", "externalId": "g-ext-1"},
        ["bjensen", "jsmith", "tourguides"],
    ),
    "tourguides": ({"displayName": "Tour Guides"}, ["bjensen", "elodie"]),
    "empty_group": ({"displayName": "Empty"}, []),
    "unicode": ({"displayName": "Ünïcode Grüppe"}, ["multi", "strasse", "percent"]),
}
# Another tenant with look-alikes, which must never show up in tenant A's answers.
OTHER_USERS = {"bjensen": {"userName": "bjensen", "title": "Tour Guide"}}
OTHER_GROUPS = {"admins": ({"displayName": "Admins"}, ["bjensen"])}

ALL_USERS = frozenset(USERS)


def everyone_but(*names: str) -> frozenset[str]:
    return ALL_USERS - set(names)


@dataclass
class Tenant:
    id: int
    ids: dict[str, str]  # name -> id

    def name_of(self, resource_id: str) -> str:
        return next(name for name, known in self.ids.items() if known == resource_id)


@dataclass
class Data:
    engine: Engine
    a: Tenant
    b: Tenant
    user_resources: dict[str, dict[str, Any]]  # name -> SCIM JSON, for the evaluator
    group_resources: dict[str, dict[str, Any]]

    def fill(self, template: str) -> str:
        """Replace ``<name>`` by tenant A's id of ``name`` (``<NAME>``: upper-cased id)."""

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            found = self.a.ids[name.lower()]
            return found.upper() if name.isupper() else found

        return re.sub(r"<(\w+)>", one, template)


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"<(\w+)>", lambda m: ids[m.group(1)], value)
    if isinstance(value, list):
        return [_substitute(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, ids) for key, item in value.items()}
    return value


def _insert_tenant(
    engine: Engine,
    user_docs: dict[str, dict[str, Any]],
    group_docs: dict[str, tuple[dict[str, Any], list[str]]],
) -> Tenant:
    ids = {name: str(uuid.uuid4()) for name in [*user_docs, *group_docs]}
    with engine.begin() as conn:
        tenant_id = conn.execute(
            tenants.insert()
            .values(name=f"sql-filter-{uuid.uuid4().hex[:10]}", created=_at(1))
            .returning(tenants.c.id)
        ).scalar_one()
        for name, doc in user_docs.items():
            doc = _substitute(doc, ids)
            created = USERS[name][1] if name in USERS else _at(1)
            conn.execute(
                users.insert().values(
                    id=ids[name],
                    tenant_id=tenant_id,
                    user_name=doc["userName"],
                    user_name_key=doc["userName"].casefold(),
                    external_id=doc.get("externalId"),
                    display_name=doc.get("displayName"),
                    active=doc.get("active"),
                    doc=doc,
                    version=1,
                    created=created,
                    last_modified=LAST_MODIFIED.get(name, created),
                )
            )
        for name, (doc, _members) in group_docs.items():
            conn.execute(
                groups.insert().values(
                    id=ids[name],
                    tenant_id=tenant_id,
                    display_name=doc["displayName"],
                    display_name_key=doc["displayName"].casefold(),
                    external_id=doc.get("externalId"),
                    doc=doc,
                    version=1,
                    created=_at(1),
                    last_modified=_at(1),
                )
            )
        for name, (_doc, members) in group_docs.items():
            for member in members:
                conn.execute(
                    group_members.insert().values(
                        group_id=ids[name],
                        member_id=ids[member],
                        member_type="Group" if member in group_docs else "User",
                        tenant_id=tenant_id,
                    )
                )
    return Tenant(tenant_id, ids)


def _scim_json(engine: Engine, tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return tenant A's users and groups exactly as the server would show them."""
    with engine.connect() as conn:
        user_rows = conn.execute(select(users).where(users.c.tenant_id == tenant.id)).all()
        group_rows = conn.execute(select(groups).where(groups.c.tenant_id == tenant.id)).all()
    with transaction(engine, write=False) as db:
        user_groups = groups_of(db, [row.id for row in user_rows])
        group_members_ = members_of(db, [row.id for row in group_rows])

    def shown(resource_type: ResourceType, row: Any, **extra: Any) -> dict[str, Any]:
        stored = StoredResource(
            row.id,
            row.doc,
            row.version,
            row.created.replace(tzinfo=UTC),
            row.last_modified.replace(tzinfo=UTC),
            **extra,
        )
        return to_scim(resource_type, stored, "http://testserver/scim/v2")

    return (
        {tenant.name_of(r.id): shown(TEST_USER, r, groups=user_groups[r.id]) for r in user_rows},
        {tenant.name_of(r.id): shown(GROUP, r, members=group_members_[r.id]) for r in group_rows},
    )


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine set up as ``create_app`` sets its own: with the SQLite case fold."""
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        install_casefold(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def data(engine: Engine) -> Iterator[Data]:
    a = _insert_tenant(engine, {name: doc for name, (doc, _) in USERS.items()}, GROUPS)
    b = _insert_tenant(engine, OTHER_USERS, OTHER_GROUPS)
    user_resources, group_resources = _scim_json(engine, a)
    yield Data(engine, a, b, user_resources, group_resources)
    with engine.begin() as conn:
        conn.execute(delete(tenants).where(tenants.c.id.in_([a.id, b.id])))


def _matching(
    data: Data, resource_type: ResourceType, table: Table, filter_text: str, tenant: Tenant
) -> set[str]:
    node = parse_filter(data.fill(filter_text))
    where = compile_filter(resource_type, table, node, data.engine.dialect.name)
    with data.engine.connect() as conn:
        rows = conn.execute(select(table.c.id).where(table.c.tenant_id == tenant.id, where))
        return {tenant.name_of(row.id) for row in rows}


def _evaluated(
    data: Data, resource_type: ResourceType, resources: dict[str, Any], filter_text: str
) -> set[str]:
    node = parse_filter(data.fill(filter_text))
    return {name for name, body in resources.items() if resource_matches(resource_type, body, node)}


USER_CASES: list[tuple[str, frozenset[str]]] = [
    # userName: the folded, indexed key column
    ('userName eq "bjensen"', frozenset({"bjensen"})),
    ('userName eq "BJENSEN"', frozenset({"bjensen"})),
    ('USERNAME Eq "jsmith"', frozenset({"jsmith"})),
    ('userName eq "élodie"', frozenset({"elodie"})),
    ('userName eq "STRASSE"', frozenset({"strasse"})),
    ('userName ne "bjensen"', everyone_but("bjensen")),
    ('userName sw "J"', frozenset({"jsmith"})),
    ('userName sw "100%"', frozenset({"percent"})),
    ('userName sw "100_"', frozenset()),
    ('userName co "%"', frozenset({"percent"})),
    ('userName co "_"', frozenset({"percent"})),
    ('userName co "\\\\"', frozenset({"quote"})),
    ('userName co "\\""', frozenset({"quote"})),
    ('userName ew "USER"', frozenset({"percent"})),
    ('userName co "ß"', frozenset({"strasse"})),
    ('userName gt "m"', frozenset({"elodie", "quote", "multi", "strasse"})),
    ('userName le "bare"', frozenset({"percent", "bare"})),
    ("userName pr", ALL_USERS),
    ('userName sw ""', ALL_USERS),
    # externalId and id: caseExact
    ('externalId eq "ext-1"', frozenset({"bjensen"})),
    ('externalId eq "EXT-1"', frozenset({"quote"})),
    ('externalId sw "EXT"', frozenset({"quote"})),
    ('externalId sw "ext"', frozenset({"bjensen", "jsmith"})),
    ('externalId co "xt-"', frozenset({"bjensen", "jsmith"})),
    ('externalId ew "-1"', frozenset({"bjensen", "quote"})),
    ("externalId pr", frozenset({"bjensen", "jsmith", "quote"})),
    ('externalId ne "ext-1"', everyone_but("bjensen")),
    ('id eq "<bjensen>"', frozenset({"bjensen"})),
    ('id eq "<BJENSEN>"', frozenset()),
    ('id eq "<bjensen>" or id eq "<multi>"', frozenset({"bjensen", "multi"})),
    # displayName: a column without a folded copy
    ('displayName eq "babs jensen"', frozenset({"bjensen"})),
    ('displayName eq "élodie dupré"', frozenset({"elodie"})),
    ('displayName co "DUPR"', frozenset({"elodie"})),
    ("displayName pr", frozenset({"bjensen", "jsmith", "elodie", "quote", "multi", "strasse"})),
    ("not (displayName pr)", frozenset({"percent", "bare", "empty"})),
    ("displayName eq null", frozenset({"percent", "bare", "empty"})),
    ("displayName ne null", everyone_but("percent", "bare", "empty")),
    # active: a nullable boolean column
    ("active eq true", frozenset({"bjensen", "jsmith", "quote"})),
    ("active eq false", frozenset({"elodie", "empty"})),
    ("active ne true", everyone_but("bjensen", "jsmith", "quote")),
    ('active eq "True"', frozenset({"bjensen", "jsmith", "quote"})),
    ("active pr", frozenset({"bjensen", "jsmith", "quote", "elodie", "empty"})),
    # title: a string in the document
    ('title eq "tour guide"', frozenset({"bjensen"})),
    ('title eq "ÉCOLE"', frozenset({"elodie"})),
    ('title co "%"', frozenset({"percent"})),
    ('title co "_under_"', frozenset({"percent"})),
    ('title co "0_"', frozenset()),
    ('title co "\\"hi\\""', frozenset({"quote"})),
    ('title ew "\\\\ bye"', frozenset({"quote"})),
    ('title ne "boss"', everyone_but("jsmith")),
    ("title pr", frozenset({"bjensen", "jsmith", "elodie", "percent", "quote"})),
    ('title eq ""', frozenset({"empty"})),
    ('title sw ""', frozenset({"bjensen", "jsmith", "elodie", "percent", "quote", "empty"})),
    ('title gt "s"', frozenset({"bjensen", "elodie", "quote"})),
    ('title lt "b"', frozenset({"percent", "empty"})),
    ('title eq "x\'); DROP TABLE users; --"', frozenset()),
    # name: a single complex attribute
    ('name.givenName eq "barbara"', frozenset({"bjensen"})),
    ('name.familyName sw "DUP"', frozenset({"elodie"})),
    ("name pr", frozenset({"bjensen", "jsmith", "elodie"})),
    ('name[givenName eq "John" and familyName eq "Smith"]', frozenset({"jsmith"})),
    ('name[givenName eq "John" and familyName eq "Jensen"]', frozenset()),
    # emails: a multi-valued complex attribute
    ("emails pr", frozenset({"bjensen", "jsmith", "elodie", "empty", "multi"})),
    ('emails eq "john@example.com"', frozenset({"jsmith"})),
    ('emails.value ew "@example.com"', frozenset({"bjensen", "jsmith"})),
    ('emails co "example"', frozenset({"bjensen", "jsmith"})),
    ('emails[type eq "work" and value co "@example.com"]', frozenset({"bjensen", "jsmith"})),
    ('emails[type eq "work"].value eq "a@x.com"', frozenset({"multi"})),
    ('emails[type eq "home" and value eq "a@x.com"]', frozenset()),
    ('emails.type eq "home" and emails.value eq "a@x.com"', frozenset({"multi"})),
    ("emails[primary eq true]", frozenset({"bjensen", "multi"})),
    ("emails.primary eq false", frozenset({"elodie"})),
    (
        "emails[not (primary eq true)]",
        frozenset({"bjensen", "jsmith", "elodie", "empty", "multi"}),
    ),
    ('emails.value ne "john@example.com"', everyone_but("jsmith")),
    ("emails.value pr", frozenset({"bjensen", "jsmith", "elodie", "multi"})),
    ("emails.type eq null", frozenset({"percent", "quote", "bare", "strasse"})),
    (
        'emails[type eq "work" or primary eq true]',
        frozenset({"bjensen", "jsmith", "empty", "multi"}),
    ),
    ("emails.display pr", frozenset()),
    ('not (emails[type eq "work"])', frozenset({"elodie", "percent", "quote", "bare", "strasse"})),
    # the other multi-valued attributes
    ('phoneNumbers[type eq "work" and value sw "555"]', frozenset({"bjensen"})),
    ('ims.value eq "AIM1"', frozenset({"multi"})),
    ('photos.value ew "profile.jpg"', frozenset({"multi"})),
    ('addresses[type eq "work" and locality eq "paris"]', frozenset({"multi"})),
    ('addresses.country eq "fr"', frozenset({"multi"})),
    ('addresses[locality eq "London" and primary eq true]', frozenset()),
    ('x509Certificates.value eq "TUlJQ0lq"', frozenset({"multi"})),
    ('x509Certificates.value eq "tuljq0lq"', frozenset()),
    ('roles[primary eq "True"]', frozenset({"jsmith"})),
    ('entitlements eq "admin"', frozenset({"multi"})),
    # groups: derived from group_members
    ('groups.value eq "<admins>"', frozenset({"bjensen", "jsmith"})),
    ('groups.value eq "<ADMINS>"', frozenset({"bjensen", "jsmith"})),
    ('groups[display eq "tour guides"]', frozenset({"bjensen", "elodie"})),
    ('groups.display sw "Ün"', frozenset({"multi", "strasse", "percent"})),
    ("groups pr", frozenset({"bjensen", "jsmith", "elodie", "multi", "strasse", "percent"})),
    ("not (groups pr)", frozenset({"quote", "bare", "empty"})),
    ('groups.type eq "direct"', everyone_but("quote", "bare", "empty")),
    ('groups.value ne "<admins>"', everyone_but("jsmith")),
    ('groups[value eq "<admins>" and display eq "admins"]', frozenset({"bjensen", "jsmith"})),
    # the enterprise extension, with and without its URN
    (f'{ENTERPRISE_USER_URN}:employeeNumber eq "701984"', frozenset({"bjensen"})),
    ('employeeNumber eq "1"', frozenset({"jsmith"})),
    (f'{ENTERPRISE_USER_URN}:manager.value eq "<jsmith>"', frozenset({"bjensen"})),
    ("manager.value pr", frozenset({"bjensen", "multi"})),
    (f'{ENTERPRISE_USER_URN}:department co "tour"', frozenset({"bjensen"})),
    ('costCenter ne "4130"', everyone_but("jsmith")),
    ('manager.displayName eq "john smith"', frozenset({"bjensen"})),
    (f"{ENTERPRISE_USER_URN}:manager pr", frozenset({"bjensen", "multi"})),
    # a single complex value with a "value" compares through it (Entra's manager query)
    ('manager eq "<jsmith>"', frozenset({"bjensen"})),
    (f'{ENTERPRISE_USER_URN}:manager eq "<bjensen>"', frozenset({"multi"})),
    ('manager ne "<jsmith>"', everyone_but("bjensen")),
    ('manager sw "zz"', frozenset()),
    ('id eq "<bjensen>" and manager eq "<jsmith>"', frozenset({"bjensen"})),
    # dateTime, integer, decimal, boolean and multi-valued strings in the document
    ('hireDate gt "2012-01-01T00:00:00Z"', frozenset({"bjensen"})),
    ('hireDate lt "2015-03-01T10:00:00+02:00"', frozenset({"jsmith"})),
    ('hireDate eq "2015-03-01T09:00:00Z"', frozenset({"bjensen"})),
    ("hireDate pr", frozenset({"bjensen", "jsmith"})),
    ("level gt 2", frozenset({"bjensen", "jsmith"})),
    ("level le -2", frozenset({"elodie"})),
    ("level eq 10", frozenset({"jsmith"})),
    ("level ne 3", everyone_but("bjensen")),
    ("not (level gt 2)", everyone_but("bjensen", "jsmith")),
    ("score ge 3", frozenset({"bjensen", "jsmith"})),
    ("score lt 1", frozenset({"percent"})),
    ("score eq 3.0", frozenset({"jsmith"})),
    ("remote eq true", frozenset({"bjensen"})),
    ("remote eq false", frozenset({"jsmith", "empty"})),
    ("remote ne true", everyone_but("bjensen")),
    ('tags eq "ALPHA"', frozenset({"bjensen", "multi"})),
    ('tags[value sw "b"]', frozenset({"bjensen"})),
    ('tags co "é"', frozenset({"elodie"})),
    ("tags pr", frozenset({"bjensen", "jsmith", "elodie", "multi"})),
    ('tags ne "gamma"', everyone_but("jsmith")),
    # meta and schemas
    (
        'meta.created gt "2020-03-15T00:00:00Z"',
        frozenset({"percent", "quote", "bare", "empty", "multi", "strasse"}),
    ),
    ('meta.lastModified ge "2021-06-01T12:00:00.5Z"', frozenset({"bjensen"})),
    ('meta.lastModified gt "2021-06-01T12:00:00.5Z"', frozenset()),
    ('meta.created eq "2020-01-01T01:00:00+01:00"', frozenset({"bjensen"})),
    ('meta[created lt "2020-02-15T00:00:00Z"]', frozenset({"bjensen", "jsmith"})),
    ('meta.resourceType eq "User"', ALL_USERS),
    ('meta.resourceType eq "Group"', frozenset()),
    ("meta pr", ALL_USERS),
    (f'schemas eq "{ENTERPRISE_USER_URN}"', frozenset({"bjensen", "jsmith", "multi"})),
    ('schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"', ALL_USERS),
    ('schemas eq "urn:nothing"', frozenset()),
    ("schemas pr", ALL_USERS),
    # precedence: not > and > or (RFC 7644 §3.4.2.2)
    (
        'title pr and active eq true or userName eq "bare"',
        frozenset({"bjensen", "jsmith", "quote", "bare"}),
    ),
    (
        'title pr and (active eq true or userName eq "bare")',
        frozenset({"bjensen", "jsmith", "quote"}),
    ),
    (
        'not (title eq "boss") and not (active eq false)',
        frozenset({"bjensen", "percent", "quote", "bare", "multi", "strasse"}),
    ),
    ('not (not (userName eq "bare"))', frozenset({"bare"})),
    (
        'userName eq "bjensen" or userName eq "jsmith" or userName eq "multi"',
        frozenset({"bjensen", "jsmith", "multi"}),
    ),
]


@pytest.mark.parametrize(("filter_text", "expected"), USER_CASES, ids=[c[0] for c in USER_CASES])
def test_user_filter(data: Data, filter_text: str, expected: frozenset[str]) -> None:
    found = _matching(data, TEST_USER, users, filter_text, data.a)
    assert found == expected
    assert _evaluated(data, TEST_USER, data.user_resources, filter_text) == expected


GROUP_CASES: list[tuple[str, frozenset[str]]] = [
    ('displayName eq "admins"', frozenset({"admins"})),
    ('displayName eq "ÜNÏCODE GRÜPPE"', frozenset({"unicode"})),
    ('displayName sw "tour"', frozenset({"tourguides"})),
    ('displayName co "ü"', frozenset({"unicode"})),
    ('displayName ne "empty"', frozenset({"admins", "tourguides", "unicode"})),
    ('externalId eq "g-ext-1"', frozenset({"admins"})),
    ("members pr", frozenset({"admins", "tourguides", "unicode"})),
    ("not (members pr)", frozenset({"empty_group"})),
    ('members[value eq "<bjensen>"]', frozenset({"admins", "tourguides"})),
    ('members.value eq "<BJENSEN>"', frozenset({"admins", "tourguides"})),
    ('members eq "<elodie>"', frozenset({"tourguides"})),
    ('members[type eq "Group"]', frozenset({"admins"})),
    ('members.type eq "user"', frozenset({"admins", "tourguides", "unicode"})),
    ('members.display eq "tour guides"', frozenset({"admins"})),
    ('members.display co "élodie"', frozenset({"tourguides"})),
    ('members.display eq "100%_USER"', frozenset({"unicode"})),
    ('members[type eq "User" and display sw "John"]', frozenset({"admins"})),
    # Entra ID's membership probe: GET /Groups?filter=id eq "g" and members[value eq "u"]
    ('id eq "<admins>" and members[value eq "<jsmith>"]', frozenset({"admins"})),
    ('id eq "<tourguides>" and members[value eq "<jsmith>"]', frozenset()),
    ('members.value ne "<bjensen>"', frozenset({"admins", "tourguides", "empty_group", "unicode"})),
    ('meta.resourceType eq "Group"', frozenset({"admins", "tourguides", "empty_group", "unicode"})),
    (
        'schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group"',
        frozenset({"admins", "tourguides", "empty_group", "unicode"}),
    ),
]


@pytest.mark.parametrize(("filter_text", "expected"), GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_group_filter(data: Data, filter_text: str, expected: frozenset[str]) -> None:
    found = _matching(data, GROUP, groups, filter_text, data.a)
    assert found == expected
    assert _evaluated(data, GROUP, data.group_resources, filter_text) == expected


INVALID_FILTERS = [
    ('nickName2 eq "x"', "nickName2"),
    ('name eq "x"', "name"),
    ('addresses eq "x"', "addresses"),
    ('active eq "yes"', "active"),
    ("active gt true", "active"),
    ('emails.primary co "t"', "emails.primary"),
    ("title eq 5", "title"),
    ('level eq "3"', "level"),
    ('level co "1"', "level"),
    ('hireDate eq "not a date"', "hireDate"),
    ('hireDate co "2015"', "hireDate"),
    ('x509Certificates.value gt "A"', "x509Certificates.value"),
    ('x509Certificates.value co "J"', "x509Certificates.value"),
    ("title gt null", "title"),
    ('title[value eq "x"]', "title"),
    ('emails[nope eq "x"]', "nope"),
    ('urn:example:unknown:2.0:User:foo eq "x"', "foo"),
]


@pytest.mark.parametrize(
    ("filter_text", "named"), INVALID_FILTERS, ids=[c[0] for c in INVALID_FILTERS]
)
def test_invalid_filter_is_rejected_by_sql_and_evaluator_alike(
    engine: Engine, filter_text: str, named: str
) -> None:
    node = parse_filter(filter_text)
    with pytest.raises(InvalidFilter) as raised:
        compile_filter(TEST_USER, users, node, engine.dialect.name)
    assert named in raised.value.detail
    with pytest.raises(InvalidFilter):
        resource_matches(TEST_USER, {"userName": "x"}, node)


@pytest.mark.parametrize(
    "filter_text",
    [
        'meta.version eq "W/\\"1\\""',
        'meta.location sw "http"',
        'groups.$ref sw "http"',
        f"{CUSTOM_URN}:level eq 1",  # no such attribute in the real User resource type
    ],
)
def test_filters_on_values_computed_when_shown_are_rejected(
    engine: Engine, filter_text: str
) -> None:
    with pytest.raises(InvalidFilter, match="cannot"):
        compile_filter(USER, users, parse_filter(filter_text), engine.dialect.name)


def test_entra_enterprise_urn_alias_is_understood(data: Data) -> None:
    # Entra ID also spells the enterprise URN without the ':' before "User".
    alias = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"
    assert _matching(data, USER, users, f'{alias}:employeeNumber eq "1"', data.a) == {"jsmith"}


def test_tenant_clause_keeps_other_tenants_out(data: Data) -> None:
    assert _matching(data, USER, users, 'userName eq "bjensen"', data.a) == {"bjensen"}
    assert _matching(data, USER, users, 'userName eq "bjensen"', data.b) == {"bjensen"}
    assert data.a.ids["bjensen"] != data.b.ids["bjensen"]
    assert _matching(data, USER, users, 'title eq "Tour Guide"', data.b) == {"bjensen"}
    assert _matching(data, GROUP, groups, 'displayName eq "Admins"', data.b) == {"admins"}
    other = data.b.ids["bjensen"]
    assert _matching(data, GROUP, groups, f'members[value eq "{other}"]', data.a) == set()


def test_values_are_bound_parameters(engine: Engine) -> None:
    hostile = "x'); DROP TABLE users; --"
    node = parse_filter(f'title eq "{hostile}" or userName sw "{hostile}"')
    where = compile_filter(USER, users, node, engine.dialect.name)
    compiled = select(users.c.id).where(where).compile(engine)
    assert "DROP" not in str(compiled).upper()
    bound = [str(value).casefold() for value in compiled.params.values()]
    assert sum(hostile.casefold() in value for value in bound) == 2


@pytest.fixture(scope="module")
def big_tenant(engine: Engine) -> Iterator[int]:
    """A tenant of 3,000 users, enough for PostgreSQL's planner to prefer an index."""
    with engine.begin() as conn:
        tenant_id = conn.execute(
            tenants.insert()
            .values(name=f"sql-filter-big-{uuid.uuid4().hex[:10]}", created=_at(1))
            .returning(tenants.c.id)
        ).scalar_one()
        rows = [
            {
                "id": str(uuid.uuid4()),
                "tenant_id": tenant_id,
                "user_name": f"user{i}@example.com",
                "user_name_key": f"user{i}@example.com",
                "external_id": f"ext{i}",
                "doc": {"userName": f"user{i}@example.com", "externalId": f"ext{i}"},
                "version": 1,
                "created": _at(1),
                "last_modified": _at(1),
            }
            for i in range(3000)
        ]
        conn.execute(users.insert(), rows)
        conn.exec_driver_sql("ANALYZE")
    yield tenant_id
    with engine.begin() as conn:
        conn.execute(delete(tenants).where(tenants.c.id == tenant_id))


def test_user_name_eq_uses_the_unique_index(engine: Engine, big_tenant: int) -> None:
    node = parse_filter('userName eq "USER1500@example.com"')
    query = select(users.c.user_name).where(
        users.c.tenant_id == big_tenant, compile_filter(USER, users, node, engine.dialect.name)
    )
    compiled = query.compile(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
            ).all()
            # One SEARCH on both columns, through the UNIQUE constraint's autoindex.
            (detail,) = [row[-1] for row in plan]
            found = re.fullmatch(
                r"SEARCH users USING (?:COVERING )?INDEX (\w+) "
                r"\(tenant_id=\? AND user_name_key=\?\)",
                detail,
            )
            assert found is not None, detail
            columns = conn.exec_driver_sql(f"PRAGMA index_info({found.group(1)})").all()
            assert [column[2] for column in columns] == ["tenant_id", "user_name_key"]
        else:
            plan = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
            details = "\n".join(row[0] for row in plan)
            # Both columns are index conditions of the unique index: no scan, no filter.
            assert re.search(r"Index Scan (using|on) uq_users_tenant_id_user_name_key", details)
            condition = details.split("Index Cond:")[1]
            assert "tenant_id = " in condition, details
            assert "user_name_key)::text = " in condition, details
        assert conn.execute(query).scalars().all() == ["user1500@example.com"]


def test_sqlite_casefold_function_is_unicode_aware() -> None:
    raw = sqlite3.connect(":memory:")
    install_sqlite_functions(raw)
    assert raw.execute(f"SELECT {CASEFOLD_FUNCTION}('ÉCOLE Straße'), lower('É')").fetchone() == (
        "école strasse",
        "É",  # what SQLite's own lower() would have left
    )
    raw.close()


def test_install_casefold_gives_that_engine_the_function(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    install_casefold(engine)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT {CASEFOLD_FUNCTION}('ÀB')").scalar() == "àb"
    # Registered on that engine alone, not on every engine in the process.
    with other.connect() as conn, pytest.raises(OperationalError, match="no such function"):
        conn.exec_driver_sql(f"SELECT {CASEFOLD_FUNCTION}('ÀB')")
    engine.dispose()
    other.dispose()


# -- sortBy ---------------------------------------------------------------------------------


def _sorted(
    data: Data, resource_type: ResourceType, table: Table, path: str, desc: bool
) -> list[str]:
    attr, _, sub = path.rpartition(":")[2].partition(".")
    urn = path.rpartition(":")[0] or None
    key = sort_key(resource_type, table, AttrPath(attr, sub or None, urn), data.engine.dialect.name)
    order = key.desc().nulls_first() if desc else key.asc().nulls_last()
    with data.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.id).where(table.c.tenant_id == data.a.id).order_by(order, table.c.id)
        )
        return [data.a.name_of(row.id) for row in rows]


def _split(names: list[str], head: int) -> tuple[list[str], set[str]]:
    return names[:head], set(names[head:])


def test_sort_by_user_name_is_case_insensitive(data: Data) -> None:
    assert _sorted(data, USER, users, "userName", desc=False) == [
        "percent", "bare", "bjensen", "empty", "jsmith", "multi", "quote", "strasse", "elodie",
    ]  # fmt: skip


def test_sort_puts_missing_values_last_ascending_and_first_descending(data: Data) -> None:
    ascending = _sorted(data, USER, users, "title", desc=False)
    assert _split(ascending, 6) == (
        ["empty", "percent", "jsmith", "quote", "bjensen", "elodie"],
        {"bare", "multi", "strasse"},
    )
    descending = _sorted(data, USER, users, "title", desc=True)
    assert set(descending[:3]) == {"bare", "multi", "strasse"}
    assert descending[3:] == ["elodie", "bjensen", "quote", "jsmith", "percent", "empty"]


def test_sort_by_multi_valued_uses_the_primary_value_else_the_first(data: Data) -> None:
    names = _sorted(data, USER, users, "emails", desc=False)
    # multi's primary is b@y.com (its first is a@x.com); empty's only email has no value.
    assert names[:4] == ["multi", "bjensen", "elodie", "jsmith"]
    assert _sorted(data, USER, users, "emails.value", desc=False)[:4] == names[:4]


def test_sort_by_numbers_and_dates_is_not_textual(data: Data) -> None:
    assert _sorted(data, TEST_USER, users, "level", desc=False)[:3] == [
        "elodie", "bjensen", "jsmith",
    ]  # fmt: skip
    assert _sorted(data, TEST_USER, users, "score", desc=True)[-3:] == [
        "bjensen", "jsmith", "percent",
    ]  # fmt: skip
    assert _sorted(data, TEST_USER, users, "hireDate", desc=False)[:2] == ["jsmith", "bjensen"]
    by_created = _sorted(data, USER, users, "meta.created", desc=True)
    assert by_created == sorted(USERS, key=lambda name: USERS[name][1], reverse=True)


def test_sort_by_sub_attribute_and_extension(data: Data) -> None:
    assert _sorted(data, USER, users, "name.familyName", desc=False)[:3] == [
        "elodie", "bjensen", "jsmith",
    ]  # fmt: skip
    employee = f"{ENTERPRISE_USER_URN}:employeeNumber"
    assert _sorted(data, USER, users, employee, desc=False)[:2] == ["jsmith", "bjensen"]
    assert _sorted(data, GROUP, groups, "displayName", desc=False) == [
        "admins", "empty_group", "tourguides", "unicode",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("resource_type", "table", "path"),
    [
        (USER, users, AttrPath("nickName2")),
        (USER, users, AttrPath("name")),
        (USER, users, AttrPath("groups")),
        (USER, users, AttrPath("addresses")),
        (USER, users, AttrPath("meta", "location")),
        (GROUP, groups, AttrPath("members", "value")),
    ],
    ids=["unknown", "complex", "groups", "complex-multi", "meta.location", "members"],
)
def test_unsortable_attributes_are_invalid_values(
    engine: Engine, resource_type: ResourceType, table: Table, path: AttrPath
) -> None:
    with pytest.raises(InvalidValue):
        sort_key(resource_type, table, path, engine.dialect.name)
