"""``scimitar demo``: both halves of scimitar, end to end, on one machine.

It builds a deterministic sample organisation (1,000 users, 50 groups), serves a
SCIM target tenant with the Clarizen One role policy, adds the "Clarizen One"
gallery app pointing at it, and runs the initial provisioning cycle. This module
is the one place that uses both the server and the engine: they still talk only
over HTTP, as an identity provider and an application would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from random import Random
from typing import Any

import uvicorn
from sqlalchemy import Engine, select

from scimitar.db.engine import write_transaction
from scimitar.directory import store as directory
from scimitar.provisioning import apps
from scimitar.server.app import create_app
from scimitar.server.tables import tenants
from scimitar.server.tenants import create_key, create_tenant
from scimitar.settings import Settings

TENANT = "demo"
APP = "Clarizen One"
USERS = 1000
GROUPS = 50
SEED = 2026

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "John",
    "Radia",
    "Edsger",
    "Hedy",
    "Tim",
    "Katherine",
    "Donald",
    "Sophie",
    "Niklaus",
    "Joan",
    "Guido",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Backus",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Knuth",
    "Wilson",
    "Wirth",
    "Clarke",
    "van Rossum",
]
DEPARTMENTS = [
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Support",
    "Operations",
    "Legal",
    "Research",
]
CITIES = [
    ("Lisbon", "Lisboa", "PT"),
    ("Berlin", "Berlin", "DE"),
    ("Austin", "TX", "US"),
    ("Dublin", "Leinster", "IE"),
    ("Nairobi", "Nairobi", "KE"),
]


@dataclass(frozen=True)
class Organisation:
    users: list[dict[str, Any]]
    groups: list[tuple[dict[str, Any], list[str]]]  # group, member UPNs


def sample_organisation(users: int = USERS, groups: int = GROUPS) -> Organisation:
    """Return the same organisation every time: people, managers, departments, groups."""
    rng = Random(SEED)
    people: list[dict[str, Any]] = []
    for n in range(users):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        nickname = f"{first}.{last}{n}".lower().replace(" ", "")
        city, state, country = rng.choice(CITIES)
        people.append(
            {
                "objectId": f"00000000-0000-4000-8000-{n:012d}",
                "userPrincipalName": f"{nickname}@contoso.example",
                "mail": f"{nickname}@contoso.example",
                "mailNickname": nickname,
                "displayName": f"{first} {last}",
                "givenName": first,
                "surname": last,
                "jobTitle": rng.choice(["Engineer", "Manager", "Analyst", "Designer", "Lead"]),
                "department": DEPARTMENTS[n % len(DEPARTMENTS)],
                "employeeId": f"E{n:05d}",
                "accountEnabled": n % 97 != 13,  # a few disabled accounts: never created
                "preferredLanguage": rng.choice(["en-US", "pt-PT", "de-DE"]),
                "telephoneNumber": f"+1 555 {n:04d}",
                "city": city,
                "state": state,
                "country": country,
                "physicalDeliveryOfficeName": f"{city} office",
            }
        )
    for n, person in enumerate(people):
        if n >= 10:  # the first ten lead; everyone else reports to one of them
            person["manager"] = people[n % 10]["objectId"]
    teams = []
    for g in range(groups):
        department = DEPARTMENTS[g % len(DEPARTMENTS)]
        group = {
            "objectId": f"00000000-0000-4000-9000-{g:012d}",
            "displayName": f"{department} team {g // len(DEPARTMENTS) + 1}",
            "mailNickname": f"team{g}",
            "description": f"A {department} team",
        }
        members = [p["userPrincipalName"] for i, p in enumerate(people) if i % groups == g]
        teams.append((group, members))
    return Organisation(people, teams)


def load_organisation(engine: Engine, app_id: int, organisation: Organisation) -> None:
    """Upsert the organisation and its assignments (unchanged objects stay unchanged).

    Most people are assigned through their team with the User role; a few teams get
    Default Access (skipped as NotEffectivelyEntitled) and the last team is not
    assigned at all (out of scope).
    """
    with write_transaction(engine) as conn:
        ids = {}
        for person in organisation.users:
            ids[person["userPrincipalName"]] = directory.upsert_user(conn, person).object_id
        for g, (group, members) in enumerate(organisation.groups):
            stored = directory.upsert_group(conn, group)
            directory.set_group_members(
                conn, stored.object_id, [("user", ids[upn]) for upn in members]
            )
            if g == len(organisation.groups) - 1:
                continue
            role = "Default Access" if g % 17 == 16 else "User"
            directory.assign(conn, app_id, "group", stored.object_id, role)


def free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port


@contextmanager
def serving(database_url: str, port: int) -> Iterator[str]:
    """Serve the SCIM target (and /healthz) in this process; yield its base URL."""
    config = uvicorn.Config(
        create_app(Settings.from_env(database_url)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="scimitar-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the SCIM server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def prepare(engine: Engine, base_url: str) -> tuple[str, apps.App]:
    """Create (or refresh) the demo tenant, its key, and the Clarizen One app.

    Re-running the demo reuses the tenant and the app: a new key is issued each time
    (only hashes are kept, so the old one cannot be read back) and saved in the app.
    """
    with engine.connect() as conn:
        exists = conn.execute(select(tenants.c.id).where(tenants.c.name == TENANT)).first()
    if exists is None:
        create_tenant(engine, TENANT, "clarizen-one")
    key = create_key(engine, TENANT, frozenset({"integration-user", "lite-admin"})).secret
    tenant_url = f"{base_url}/scim/v2"
    try:
        app = apps.get_app(engine, APP)
    except LookupError:
        app = apps.add_app(engine, APP, "clarizen-one", tenant_url=tenant_url, secret_token=key)
    else:
        app = apps.update_connection(engine, APP, tenant_url=tenant_url, secret_token=key)
    apps.set_status(engine, APP, "on")
    load_organisation(engine, app.id, sample_organisation())
    return key, app
