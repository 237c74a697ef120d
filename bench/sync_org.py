"""A deterministic organisation for the sync benchmark, and its 1% change.

The same ``(users, groups)`` always yields the same file: people with every
Entra attribute the Clarizen One mappings read (managers in a ten-wide reporting
tree, a few disabled accounts and guests, names with apostrophes and
diacritics), and groups of three kinds: one per department, one per office, and
project teams. Every user belongs to a department and an office; most to one
team, some to two. That is about three memberships per user, as in a real
tenant, and makes the department and office groups large (hundreds of members).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any

SEED = 20260401
DOMAIN = "contoso.example"
REPORTS_PER_MANAGER = 10
DISABLED_EVERY = 97  # about 1% of accounts are disabled: never created (Entra's rule)
GUEST_EVERY = 50
SECOND_TEAM_EVERY = 5

FIRST = (
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
    "Zoë",
    "José",
    "Chloé",
    "Søren",
    "Aoife",
    "Siobhán",
    "Nikolaj",
    "Priya",
    "Wei",
    "Amara",
    "Mateo",
    "Yuki",
    "Olu",
    "Fatima",
    "Lars",
    "Ingrid",
    "Rafael",
    "Ana",
    "Björn",
    "Leïla",
)
LAST = (
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
    "Johnson",
    "Knuth",
    "Wilson",
    "Wirth",
    "Clarke",
    "O'Brien",
    "O'Neill",
    "Müller",
    "García",
    "Núñez",
    "Åberg",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Haddad",
    "Lindqvist",
    "Fernández",
)
DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Support",
    "Operations",
    "Legal",
    "Research",
    "People",
    "Product",
)
TITLES = ("Engineer", "Senior Engineer", "Analyst", "Designer", "Consultant", "Specialist")
MANAGER_TITLES = ("Manager", "Director", "Lead", "Head of Team")
NEW_TITLES = ("Principal Engineer", "Staff Analyst", "Architect", "Team Lead", "Advisor")
OFFICES = (
    ("Lisbon", "Lisboa", "PT", "1050-001", "Avenida da Liberdade 110", "pt-PT"),
    ("Berlin", "Berlin", "DE", "10115", "Invalidenstraße 42", "de-DE"),
    ("Austin", "TX", "US", "78701", "500 Congress Ave", "en-US"),
    ("Dublin", "Leinster", "IE", "D02 XY45", "1 Grand Canal Quay", "en-IE"),
    ("Nairobi", "Nairobi", "KE", "00100", "Kenyatta Avenue 7", "en-KE"),
    ("Tokyo", "Tokyo", "JP", "100-0005", "1-1 Marunouchi", "ja-JP"),
    ("São Paulo", "SP", "BR", "01310-100", "Avenida Paulista 1000", "pt-BR"),
    ("Toronto", "ON", "CA", "M5H 2N2", "100 King St W", "en-CA"),
    ("Bangalore", "Karnataka", "IN", "560001", "MG Road 12", "en-IN"),
    ("Sydney", "NSW", "AU", "2000", "1 Martin Place", "en-AU"),
)


@dataclass(frozen=True, slots=True)
class Layout:
    """How the groups split into departments, offices and teams."""

    departments: int
    offices: int
    teams: int

    @classmethod
    def for_groups(cls, groups: int) -> Layout:
        if groups < 3:
            raise ValueError("the organisation needs at least 3 groups (department, office, team)")
        departments = max(1, min(len(DEPARTMENTS), groups // 10))
        offices = max(1, min(len(OFFICES), groups // 10))
        return cls(departments, offices, groups - departments - offices)


@dataclass
class Organisation:
    """Users and groups as ``scimitar directory import`` reads them (JSON)."""

    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]  # each with "members": a list of userPrincipalNames

    def document(self) -> dict[str, Any]:
        return {"users": self.users, "groups": self.groups}

    @property
    def memberships(self) -> int:
        return sum(len(group["members"]) for group in self.groups)

    @property
    def enabled_users(self) -> int:
        return sum(1 for user in self.users if user["accountEnabled"])


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in "'-"))


def _user_id(n: int) -> str:
    return f"a1b2c3d4-0000-4000-8000-{n:012d}"


def _group_id(n: int) -> str:
    return f"a1b2c3d4-0000-4000-9000-{n:012d}"


def organisation(users: int, groups: int, seed: int = SEED) -> Organisation:
    """Return the same organisation of ``users`` people and ``groups`` groups every time."""
    layout = Layout.for_groups(groups)
    rng = Random(seed)
    people: list[dict[str, Any]] = []
    for n in range(users):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        nickname = f"{_ascii(first)}.{_ascii(last)}{n}".lower()
        office = OFFICES[rng.randrange(layout.offices)]
        city, state, country, postcode, street, language = office
        manages = n * REPORTS_PER_MANAGER + 1 < users
        person: dict[str, Any] = {
            "objectId": _user_id(n),
            "userPrincipalName": f"{nickname}@{DOMAIN}",
            "mail": f"{nickname}@{DOMAIN}",
            "mailNickname": nickname.replace("'", ""),
            "displayName": f"{first} {last}",
            "givenName": first,
            "surname": last,
            "jobTitle": rng.choice(MANAGER_TITLES if manages else TITLES),
            "department": DEPARTMENTS[n % layout.departments],
            "employeeId": f"E{n:06d}",
            "accountEnabled": n % DISABLED_EVERY != DISABLED_EVERY - 1,
            "preferredLanguage": language,
            "telephoneNumber": f"+1 555 01{n % 100:02d} {n:06d}",
            "mobile": f"+1 555 02{n % 100:02d} {n:06d}",
            "streetAddress": street,
            "city": city,
            "state": state,
            "postalCode": postcode,
            "country": country,
            "physicalDeliveryOfficeName": f"{city} office",
            "userType": "Guest" if n % GUEST_EVERY == GUEST_EVERY - 1 else "Member",
        }
        if n % 4 == 0:
            person["facsimileTelephoneNumber"] = f"+1 555 03{n % 100:02d} {n:06d}"
        if n > 0:  # a reporting tree, ten reports per manager; user 0 leads
            person["manager"] = _user_id((n - 1) // REPORTS_PER_MANAGER)
        people.append(person)
    members: list[list[str]] = [[] for _ in range(groups)]
    for n, person in enumerate(people):
        upn = person["userPrincipalName"]
        members[n % layout.departments].append(upn)
        office_index = next(i for i, o in enumerate(OFFICES) if o[0] == person["city"])
        members[layout.departments + office_index].append(upn)
        first_team = layout.departments + layout.offices
        wanted = 2 if n % SECOND_TEAM_EVERY == 0 else 1
        for team in rng.sample(range(layout.teams), min(wanted, layout.teams)):
            members[first_team + team].append(upn)
    return Organisation(people, [_group(g, layout, members[g]) for g in range(groups)])


def _group(g: int, layout: Layout, members: list[str]) -> dict[str, Any]:
    if g < layout.departments:
        name, nickname = f"Department: {DEPARTMENTS[g]}", f"dept-{g}"
        description = f"Everyone in {DEPARTMENTS[g]}"
    elif g < layout.departments + layout.offices:
        city = OFFICES[g - layout.departments][0]
        name, nickname = f"Office: {city}", f"office-{g}"
        description = f"Everyone based in {city}"
    else:
        team = g - layout.departments - layout.offices + 1
        name, nickname = f"Project team {team:03d}", f"team-{team:03d}"
        description = f"Project team {team}"
    return {
        "objectId": _group_id(g),
        "displayName": name,
        "mailNickname": nickname,
        "description": description,
        "members": members,
    }


@dataclass(frozen=True, slots=True)
class Change:
    """What ``change`` did: users whose attributes changed, memberships moved."""

    users_modified: int
    memberships_moved: int


def change(org: Organisation, fraction: float = 0.01, seed: int = SEED + 1) -> Change:
    """Change ``fraction`` of the organisation in place, as a week of HR changes would.

    That many users get a new ``jobTitle`` (a promotion) and that share of
    memberships moves: a member leaves one project team and joins another. The
    two sets of users are disjoint, so each change is a separate object to sync;
    each mover moves one membership.
    """
    rng = Random(seed)
    users = org.users
    count = max(1, round(len(users) * fraction))
    moves = max(1, round(org.memberships * fraction))
    chosen = rng.sample(range(len(users)), min(len(users), count + moves))
    for n in chosen[:count]:
        current = users[n]["jobTitle"]
        users[n]["jobTitle"] = next(t for t in _cycle(rng, NEW_TITLES) if t != current)
    teams = [g for g in org.groups if g["displayName"].startswith("Project team")]
    if len(teams) < 2:
        return Change(count, 0)
    by_team = {id(team): set(team["members"]) for team in teams}
    moved = 0
    for n in chosen[count:]:
        upn = users[n]["userPrincipalName"]
        left = next((t for t in teams if upn in by_team[id(t)]), None)
        if left is None:
            continue
        joined = rng.choice([t for t in teams if t is not left and upn not in by_team[id(t)]])
        by_team[id(left)].discard(upn)
        by_team[id(joined)].add(upn)
        moved += 1
    for team in teams:  # keep the file's order for members that stayed
        kept = [m for m in team["members"] if m in by_team[id(team)]]
        team["members"] = kept + sorted(by_team[id(team)] - set(kept))
    return Change(count, moved)


def _cycle(rng: Random, options: tuple[str, ...]) -> Iterator[str]:
    while True:
        yield rng.choice(options)
