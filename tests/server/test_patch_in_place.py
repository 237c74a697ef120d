"""A user's PATCH of plain attributes as one UPDATE on PostgreSQL (``store/patch_in_place.py``).

Each request runs twice, on the same user in two tenants: once as the server runs
it, once with the one-statement path switched off, so through the general path.
Answers and stored rows must be the same; the one-statement path must have written
where the request allowed it, and stood aside everywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from scimitar.scim.patch import PATCH_OP_URN
from scimitar.scim.resources import ENTERPRISE_USER_URN
from scimitar.server import service
from scimitar.server.store.connections import transaction
from scimitar.server.tables import users
from scimitar.server.tenants import revoke_key
from scimtest import Scim, new_tenant

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

ENT = ENTERPRISE_USER_URN
ENTRA_DATA = Path(__file__).parents[1] / "scim" / "data"
USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
    "userName": "ryan.leenay@example.com",
    "externalId": "6c75de36-30fa-4d2d-a196-6bdcdb6b6539",
    "displayName": "Ryan Leenay",
    "title": "Tour Guide",
    "active": True,
    "name": {"givenName": "Ryan", "familyName": "Leenay"},
    "emails": [{"value": "ryan.leenay@example.com", "type": "work", "primary": True}],
    ENT: {"department": "Tour Operations", "employeeNumber": "701984"},
}


def _request(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


def _entra(name: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((ENTRA_DATA / f"{name}.json").read_text())["request"]
    return request


PLAIN = {
    "entra disable user": _entra("entra-patch-disable-user"),
    "entra disable user, active as a string": _entra("entra-patch-disable-user-legacy"),
    "entra add nickName": _entra("entra-patch-add-single-value-flag"),
    "displayName": _request({"op": "replace", "path": "displayName", "value": "R. Leenay"}),
    "several, one attribute twice": _request(
        {"op": "Replace", "path": "title", "value": "Manager"},
        {"op": "Add", "path": "externalId", "value": "e-2"},
        {"op": "replace", "path": "TITLE", "value": "Director"},
        {"op": "replace", "path": "active", "value": False},
    ),
    "enterprise, by URN": _request(
        {"op": "Replace", "path": f"{ENT}:department", "value": "Sales"},
        {"op": "Add", "path": f"{ENT}:costCenter", "value": "4130"},
    ),
    "enterprise, by the misspelled URN": _request(
        {
            "op": "replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0User:division",
            "value": "Theme Park",
        }
    ),
    "entra name, as without aadOptscim062020": _request(
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
    ),
    "entra several, path-less, as with aadOptscim062020": _request(
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENT}:employeeNumber": "Aklq",
            },
        }
    ),
    "enterprise and core": _request(
        {"op": "replace", "path": "employeeNumber", "value": "42"},
        {"op": "replace", "path": "displayName", "value": "Ryan L."},
    ),
}
GENERAL = {
    "entra userName": _entra("entra-patch-update-user-single-valued"),
    "entra work email": _entra("entra-patch-update-user-multi-valued"),
    "entra manager": _entra("entra-patch-add-manager"),
    "path-less, a multi-valued key": _request(
        {"op": "replace", "value": {"displayName": "R.", "emails": [{"value": "r@example.com"}]}}
    ),
    "remove": _request({"op": "remove", "path": "title"}),
    "a bad value": _request({"op": "replace", "path": "active", "value": "maybe"}),
    "read-only": _request({"op": "replace", "path": "groups", "value": "x"}),
    "unknown path": _request({"op": "replace", "path": "badge", "value": "x"}),
}


class Spy:
    """Counts what the one-statement path did: wrote, or stood aside."""

    def __init__(self) -> None:
        self.written = 0
        self.stood_aside = 0

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def spying(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if result is None:
                self.stood_aside += 1
            else:
                self.written += 1
            return result

        return spying


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    watching = Spy()
    monkeypatch.setattr(service, "patch_in_place", watching.wrap(service.patch_in_place))
    return watching


def _user_in_group(scim: Scim, user: dict[str, Any] = USER) -> str:
    rest = {key: value for key, value in user.items() if key != "userName"}
    created = scim.create_user(user["userName"], **rest)
    scim.create_group("Tour Guides", [created["id"]])
    return str(created["id"])


def _comparable(answer: Any) -> tuple[int, Any]:
    """An answer without what differs between tenants: ids, links and times."""
    try:
        body = answer.json()
    except ValueError:
        return answer.status_code, answer.text
    if isinstance(body, dict):
        body.pop("id", None)
        if "meta" in body:
            body["meta"] = {"version": body["meta"]["version"]}
        if "groups" in body:
            body["groups"] = [group["display"] for group in body["groups"]]
    return answer.status_code, body


def _stored(engine: Engine, user_id: str) -> tuple[Any, ...]:
    columns = (users.c.doc, users.c.display_name, users.c.external_id, users.c.active)
    with transaction(engine, write=False) as db:
        row = db.first(select(*columns, users.c.version).where(users.c.id == user_id))
    assert row is not None
    return tuple(row)


def _both_ways(
    scim: Scim,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    body: Any,
    query: str = "",
    user: dict[str, Any] = USER,
) -> tuple[Any, Any]:
    """PATCH one user as the server does, and its twin in another tenant the general way."""
    tenant, token = new_tenant(engine)
    twin = Scim(scim.client, token, tenant)
    user_id, twin_id = _user_in_group(scim, user), _user_in_group(twin, user)
    answer = scim.patch(f"/Users/{user_id}{query}", body)
    with monkeypatch.context() as general:
        general.setattr(service, "plain_assignments", lambda *_args: None)
        twin_answer = twin.patch(f"/Users/{twin_id}{query}", body)
    assert _comparable(answer) == _comparable(twin_answer)
    assert _stored(engine, user_id) == _stored(engine, twin_id)
    return answer, _stored(engine, user_id)


@pytest.mark.parametrize("body", PLAIN.values(), ids=PLAIN.keys())
def test_a_plain_patch_is_one_statement_and_does_what_the_general_path_does(
    scim: Scim, engine: Engine, monkeypatch: pytest.MonkeyPatch, spy: Spy, body: Any
) -> None:
    answer, (_doc, *_columns, version) = _both_ways(scim, engine, monkeypatch, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["groups"][0]["display"] == "Tour Guides"
    assert version == 2
    assert (spy.written, spy.stood_aside) == (1, 0)


def test_objects_the_user_lacks_are_created(
    scim: Scim, engine: Engine, monkeypatch: pytest.MonkeyPatch, spy: Spy
) -> None:
    bare = {"userName": "bare@example.com"}  # no name, no enterprise extension
    body = _request(
        {"op": "add", "path": "name.familyName", "value": "Leenay"},
        {"op": "add", "path": f"{ENT}:department", "value": "Sales"},
    )
    answer, (doc, *_rest) = _both_ways(scim, engine, monkeypatch, body, user=bare)
    assert answer.status_code == 200
    assert doc["name"] == {"familyName": "Leenay"}
    assert doc[ENT] == {"department": "Sales"}
    assert spy.written == 1


@pytest.mark.parametrize("body", GENERAL.values(), ids=GENERAL.keys())
def test_other_patches_take_the_general_path(
    scim: Scim, engine: Engine, monkeypatch: pytest.MonkeyPatch, spy: Spy, body: Any
) -> None:
    _both_ways(scim, engine, monkeypatch, body)
    assert (spy.written, spy.stood_aside) == (0, 0)


@pytest.mark.parametrize(
    "query", ["?attributes=displayName", "?excludedAttributes=groups", "?attributes=groups"]
)
def test_the_answer_honours_attributes(
    scim: Scim, engine: Engine, monkeypatch: pytest.MonkeyPatch, spy: Spy, query: str
) -> None:
    body = PLAIN["displayName"]
    answer, _stored_row = _both_ways(scim, engine, monkeypatch, body, query)
    assert answer.status_code == 200
    assert ("groups" in answer.json()) == (query == "?attributes=groups")
    assert spy.written == 1


def test_a_patch_that_changes_nothing_bumps_no_version(
    scim: Scim, engine: Engine, monkeypatch: pytest.MonkeyPatch, spy: Spy
) -> None:
    body = _request(
        {"op": "replace", "path": "displayName", "value": USER["displayName"]},
        {"op": "replace", "path": f"{ENT}:department", "value": USER[ENT]["department"]},
    )
    answer, (*_values, version) = _both_ways(scim, engine, monkeypatch, body)
    assert answer.status_code == 200
    assert answer.json()["meta"]["version"] == 'W/"1"'
    assert version == 1
    assert (spy.written, spy.stood_aside) == (0, 1)


def test_an_unknown_user_is_404(scim: Scim, spy: Spy) -> None:
    answer = scim.patch("/Users/no-such-user", PLAIN["displayName"])
    assert answer.status_code == 404
    assert "no-such-user" in answer.json()["detail"]
    assert (spy.written, spy.stood_aside) == (0, 1)


def test_another_tenants_user_is_404_and_unchanged(scim: Scim, engine: Engine, spy: Spy) -> None:
    tenant, token = new_tenant(engine)
    theirs = _user_in_group(Scim(scim.client, token, tenant))
    assert scim.patch(f"/Users/{theirs}", PLAIN["displayName"]).status_code == 404
    assert _stored(engine, theirs)[1] == USER["displayName"]
    assert (spy.written, spy.stood_aside) == (0, 1)


def test_a_key_revoked_after_its_last_use_writes_nothing(
    scim: Scim, engine: Engine, spy: Spy
) -> None:
    user_id = _user_in_group(scim)  # the worker has checked the key fully, and trusts it now
    revoke_key(engine, scim.token)  # the whole key is accepted as its id
    answer = scim.patch(f"/Users/{user_id}", PLAIN["displayName"])
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]
    assert _stored(engine, user_id)[1] == USER["displayName"]
    assert spy.written == 0


def test_if_match_takes_the_general_path(scim: Scim, spy: Spy) -> None:
    user_id = _user_in_group(scim)
    stale = scim.patch(f"/Users/{user_id}", PLAIN["displayName"], headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    fresh = scim.patch(f"/Users/{user_id}", PLAIN["displayName"], headers={"If-Match": 'W/"1"'})
    assert fresh.status_code == 200
    assert fresh.json()["meta"]["version"] == 'W/"2"'
    assert (spy.written, spy.stood_aside) == (0, 0)
