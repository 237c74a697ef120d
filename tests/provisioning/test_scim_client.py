"""The engine's SCIM client against real servers: ``scimitar serve`` and scripted misbehaviour."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import orjson
import pytest
from target import (
    Reply,
    ScimitarTarget,
    ScriptedServer,
    free_port,
    self_signed_cert,
    serve_scimitar,
)

from scimitar import __version__
from scimitar.provisioning.scim_client import ScimClient, eq_filter
from scimitar.provisioning.target_errors import (
    INCOMPATIBLE,
    AuthError,
    ConflictError,
    NotFoundError,
    RequestError,
    TlsError,
    TransientError,
    UnreachableError,
    parse_retry_after,
)
from scimitar.scim.ast import AttrPath, Compare
from scimitar.scim.filter import parse_filter

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Fast backoff for tests that exercise retries without Retry-After.
QUICK = {"backoff_base": 0.02, "backoff_cap": 0.05}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScimitarTarget]:
    with serve_scimitar(tmp_path_factory.mktemp("target")) as running:
        yield running


@pytest.fixture(scope="module")
def key(target: ScimitarTarget) -> str:
    """A full-permission key for a tenant of the running target.

    Tests share it (every CLI call starts a process) and keep apart by unique names.
    """
    return target.key(target.tenant("acme"))


@pytest.fixture
def tag() -> str:
    """A suffix that keeps this test's names apart from other tests' in the tenant."""
    return uuid.uuid4().hex[:8]


def user(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, "active": True, **extra}


# -- filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ['o"brien@example.com', "back\\slash", 'both\\"at once', "tab\there", "ünïcødé", 'x" or "1"'],
)
def test_eq_filter_escapes_values_so_they_parse_back_unchanged(value: str) -> None:
    text = eq_filter("userName", value)
    assert parse_filter(text) == Compare(AttrPath("userName"), "eq", value)


def test_eq_filter_renders_a_value_path_as_one_element_with_both() -> None:
    text = eq_filter('emails[type eq "work"].value', 'a"b@example.com')
    assert text == 'emails[type eq "work" and value eq "a\\"b@example.com"]'


def test_eq_filter_names_a_bad_attribute() -> None:
    with pytest.raises(ValueError, match="userName eq"):
        eq_filter('userName eq "x"', "y")
    with pytest.raises(ValueError, match="sub-attribute"):
        eq_filter('emails[type eq "work"]', "y")


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# -- against scimitar serve ------------------------------------------------------------


@pytest.mark.e2e
async def test_user_round_trip_counts_every_request(
    target: ScimitarTarget, key: str, tag: str
) -> None:
    ada = f"ada-{tag}@example.com"
    async with ScimClient(target.scim_url, key) as client:
        created = await client.create(
            "Users", user(ada, displayName="Ada", **{ENTERPRISE: {"department": "R&D"}})
        )
        found = await client.find("Users", eq_filter("userName", ada))
        assert [u["id"] for u in found] == [created["id"]]
        assert await client.find("Users", eq_filter("userName", f"nobody-{tag}")) == []

        patched = await client.patch(
            "Users",
            created["id"],
            [
                {"op": "replace", "path": "displayName", "value": "Ada Lovelace"},
                {"op": "replace", "path": "active", "value": False},
            ],
        )
        fetched = await client.get("Users", created["id"])
        assert fetched["displayName"] == "Ada Lovelace"
        assert fetched["active"] is False
        assert patched is None or patched["displayName"] == "Ada Lovelace"

        replaced = await client.replace("Users", created["id"], user(ada, displayName="A. L."))
        assert replaced is not None
        assert replaced["displayName"] == "A. L."

        await client.delete("Users", created["id"])
        with pytest.raises(NotFoundError) as gone:
            await client.get("Users", created["id"])
        assert (gone.value.status, gone.value.error_code) == (404, "NotFound")
        assert not gone.value.retryable

    assert client.requests_sent == 8
    assert client.requests_by_method == {"POST": 1, "GET": 4, "PATCH": 1, "PUT": 1, "DELETE": 1}
    assert client.retries == 0


@pytest.mark.e2e
async def test_group_lookup_leaves_members_out_and_patch_changes_them(
    target: ScimitarTarget, key: str, tag: str
) -> None:
    name = f"Eng {tag}"
    async with ScimClient(target.scim_url, key) as client:
        ada = await client.create("Users", user(f"ada-{tag}"))
        bob = await client.create("Users", user(f"bob-{tag}"))
        group = await client.create(
            "Groups", {"schemas": [GROUP], "displayName": name, "members": [{"value": ada["id"]}]}
        )
        await client.patch(
            "Groups",
            group["id"],
            [
                {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
                {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
            ],
        )
        (found,) = await client.find("Groups", eq_filter("displayName", name))
        assert found["id"] == group["id"]
        assert "members" not in found
        fetched = await client.get("Groups", group["id"])
        assert [m["value"] for m in fetched["members"]] == [bob["id"]]


@pytest.mark.e2e
async def test_find_matches_values_with_quotes_and_backslashes_exactly(
    target: ScimitarTarget, key: str, tag: str
) -> None:
    awkward = [f'o"brien-{tag}', f"back\\slash-{tag}", f'mixed\\"both-{tag}']
    decoys = [f"obrien-{tag}", f"back\\\\slash-{tag}", f"mixed-{tag}", f'mixed\\"both-{tag}x']
    async with ScimClient(target.scim_url, key, concurrency=4) as client:
        async with anyio.create_task_group() as tasks:
            for name in awkward + decoys:
                tasks.start_soon(client.create, "Users", user(name, externalId=f"ext {name}"))
        for name in awkward:
            (hit,) = await client.find("Users", eq_filter("userName", name))
            assert hit["userName"] == name
            (by_external,) = await client.find("Users", eq_filter("externalId", f"ext {name}"))
            assert by_external["userName"] == name


@pytest.mark.e2e
async def test_matching_on_a_work_email_uses_a_value_path(
    target: ScimitarTarget, key: str, tag: str
) -> None:
    work, home = f"w-{tag}@example.com", f"h-{tag}@example.org"
    async with ScimClient(target.scim_url, key) as client:
        emails = [{"type": "work", "value": work}, {"type": "home", "value": home}]
        created = await client.create("Users", user(f"e-{tag}", emails=emails))
        by_work = eq_filter('emails[type eq "work"].value', work)
        assert [u["id"] for u in await client.find("Users", by_work)] == [created["id"]]
        by_home_as_work = eq_filter('emails[type eq "work"].value', home)
        assert await client.find("Users", by_home_as_work) == []


@pytest.mark.e2e
async def test_a_taken_user_name_is_a_conflict_not_retried(
    target: ScimitarTarget, key: str, tag: str
) -> None:
    async with ScimClient(target.scim_url, key) as client:
        await client.create("Users", user(f"dup-{tag}@example.com"))
        with pytest.raises(ConflictError) as conflict:
            await client.create("Users", user(f"DUP-{tag}@example.com"))
    error = conflict.value
    assert (error.status, error.error_code, error.scim_type) == (409, "Conflict", "uniqueness")
    assert "already used" in error.detail
    assert client.requests_sent == 2


@pytest.mark.e2e
async def test_a_revoked_key_stops_the_cycle_without_retrying(
    target: ScimitarTarget, key: str
) -> None:
    revoked = target.key("acme")
    target.revoke(revoked)
    async with ScimClient(target.scim_url, revoked, **QUICK) as client:
        with pytest.raises(AuthError) as refused:
            await client.find("Users", eq_filter("userName", "x"))
    error = refused.value
    assert (error.status, error.error_code) == (401, "Unauthorized")
    assert (error.stops_cycle, error.retryable) == (True, False)
    assert "revoked" in error.detail
    assert revoked not in str(error)
    assert revoked.split("_", 2)[2] not in str(error)
    assert client.requests_sent == 1


@pytest.mark.e2e
async def test_a_key_without_lite_admin_is_insufficient_rights(
    target: ScimitarTarget, key: str
) -> None:
    lacking = target.key("acme", permissions="integration-user")
    async with ScimClient(target.scim_url, lacking) as client:
        with pytest.raises(AuthError) as forbidden:
            await client.create("Users", user("x@example.com"))
    assert (forbidden.value.status, forbidden.value.error_code) == (403, "InsufficientRights")
    assert "Lite Admin" in forbidden.value.detail


@pytest.mark.e2e
async def test_a_rejected_role_is_a_request_error_naming_it(target: ScimitarTarget) -> None:
    key = target.key(target.tenant("clarizen", role_policy="clarizen-one"))
    async with ScimClient(target.scim_url, key, **QUICK) as client:
        with pytest.raises(RequestError) as rejected:
            await client.create(
                "Users", user("r@example.com", roles=[{"value": "Superuser", "primary": True}])
            )
    assert (rejected.value.status, rejected.value.error_code) == (400, "BadRequest")
    assert "Superuser" in rejected.value.detail
    assert client.requests_sent == 1


# -- against a scripted server ---------------------------------------------------------


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


async def test_requests_look_like_entras() -> None:
    with ScriptedServer() as server:
        server.script(
            Reply(),
            Reply(),
            Reply(status=204, body=b""),
            Reply(status=201, body={"id": "u1", "userName": "a"}),
        )
        async with ScimClient(server.url + "/scim/v2/", "secret-token") as client:
            await client.find("Groups", eq_filter("displayName", "Sales & Marketing"))
            await client.find("Users", eq_filter("userName", "a b"), attributes=["id", "userName"])
            assert await client.patch("Users", "id/with space", [{"op": "replace"}]) is None
            assert (await client.create("Users", user("a")))["id"] == "u1"
    groups, users, patch, post = server.received
    assert groups.path.startswith("/scim/v2/Groups?")
    assert query(groups.path) == {
        "filter": ['displayName eq "Sales & Marketing"'],
        "excludedAttributes": ["members"],
    }
    # Spaces as %20, as Entra sends them, not as '+' (which some servers keep literally).
    assert "userName%20eq%20%22a%20b%22" in users.path
    assert query(users.path)["attributes"] == ["id,userName"]
    assert (patch.method, patch.path) == ("PATCH", "/scim/v2/Users/id%2Fwith%20space")
    assert orjson.loads(patch.body) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace"}],
    }
    assert post.headers["content-type"] == "application/scim+json"
    assert post.headers["authorization"] == "Bearer secret-token"
    assert post.headers["user-agent"] == f"scimitar/{__version__}"


async def test_429_waits_the_retry_after_then_succeeds() -> None:
    with ScriptedServer() as server:
        server.script(
            Reply(status=429, body={"detail": "slow down"}, headers={"Retry-After": "1"}),
            Reply(status=201, body={"id": "u1"}),
        )
        async with ScimClient(server.url, "t") as client:
            started = time.monotonic()
            created = await client.create("Users", user("a"))
            elapsed = time.monotonic() - started
    assert created["id"] == "u1"
    assert [r.method for r in server.received] == ["POST", "POST"]
    assert server.received[1].at - server.received[0].at >= 1.0
    assert elapsed < 3
    assert (client.requests_sent, client.retries) == (2, 1)


async def test_503_with_an_http_date_retry_after_is_honoured() -> None:
    # HTTP dates have whole seconds: three seconds ahead is more than two seconds away.
    when = format_datetime(datetime.fromtimestamp(time.time() + 3, UTC), usegmt=True)
    with ScriptedServer() as server:
        server.script(Reply(status=503, body=b"busy", headers={"Retry-After": when}), Reply())
        async with ScimClient(server.url, "t") as client:
            assert await client.find("Users", eq_filter("userName", "a")) == []
    assert server.received[1].at - server.received[0].at >= 1.5
    assert client.requests_sent == 2


async def test_a_retry_after_beyond_the_cap_is_handed_back_at_once() -> None:
    with ScriptedServer() as server:
        server.script(Reply(status=429, body={"detail": "quota"}, headers={"Retry-After": "3600"}))
        async with ScimClient(server.url, "t", max_retry_after=60) as client:
            started = time.monotonic()
            with pytest.raises(TransientError) as throttled:
                await client.create("Users", user("a"))
    assert time.monotonic() - started < 1
    error = throttled.value
    assert (error.status, error.error_code, error.retry_after) == (429, "TooManyRequests", 3600)
    assert (error.retryable, error.may_have_applied) == (True, False)
    assert client.requests_sent == 1


async def test_one_throttled_request_pauses_the_others() -> None:
    with ScriptedServer() as server:
        server.script(Reply(status=429, headers={"Retry-After": "1"}))
        client = ScimClient(server.url, "t", concurrency=4)
        async with client, anyio.create_task_group() as tasks:
            tasks.start_soon(client.get, "Users", "first")
            await anyio.sleep(0.2)
            tasks.start_soon(client.get, "Users", "second")
    throttled_at = server.received[0].at
    later = [r for r in server.received if r.path.endswith("/second")]
    assert len(later) == 1
    assert later[0].at - throttled_at >= 0.95


async def test_server_errors_on_reads_are_retried_with_backoff() -> None:
    with ScriptedServer() as server:
        server.script(
            Reply(status=500, body={"detail": "oops"}),
            Reply(
                status=502,
                body=b"<html><title>Bad Gateway</title></html>",
                content_type="text/html",
            ),
            Reply(status=504, body=b""),
            Reply(body={"id": "u1"}),
        )
        async with ScimClient(server.url, "t", **QUICK) as client:
            assert (await client.get("Users", "u1"))["id"] == "u1"
    assert (client.requests_sent, client.retries) == (4, 3)


async def test_retries_end_after_max_retries_with_the_last_error() -> None:
    with ScriptedServer(
        default=Reply(status=503, body={"detail": "down for maintenance"})
    ) as server:
        async with ScimClient(server.url, "t", max_retries=2, **QUICK) as client:
            with pytest.raises(TransientError) as failed:
                await client.delete("Users", "u1")
    assert failed.value.error_code == "ServiceUnavailable"
    assert failed.value.detail == "down for maintenance"
    assert len(server.received) == client.requests_sent == 3


async def test_a_post_that_got_a_500_is_not_repeated() -> None:
    with ScriptedServer() as server:
        server.script(Reply(status=500, body={"detail": "db hiccup"}), Reply(status=201, body={}))
        async with ScimClient(server.url, "t", **QUICK) as client:
            with pytest.raises(TransientError) as failed:
                await client.create("Users", user("a"))
    assert failed.value.error_code == "InternalServerError"
    assert failed.value.may_have_applied
    assert len(server.received) == 1


async def test_timeouts_retry_reads_but_not_creates() -> None:
    with ScriptedServer(default=Reply(delay=2)) as server:
        async with ScimClient(server.url, "t", timeout=0.2, max_retries=1, **QUICK) as client:
            with pytest.raises(TransientError) as read:
                await client.find("Users", eq_filter("userName", "a"))
            with pytest.raises(TransientError) as write:
                await client.create("Users", user("a"))
    assert read.value.error_code == write.value.error_code == "Timeout"
    assert "did not answer within 0.2 s" in read.value.detail
    assert write.value.may_have_applied
    assert [r.method for r in server.received] == ["GET", "GET", "POST"]


async def test_a_login_page_is_not_taken_for_scim() -> None:
    page = b"<html><head><title>Sign in</title></head><body>Please log in</body></html>"
    with ScriptedServer(default=Reply(body=page, content_type="text/html")) as server:
        async with ScimClient(server.url, "t", **QUICK) as client:
            with pytest.raises(RequestError) as wrong:
                await client.find("Users", eq_filter("userName", "a"))
    assert wrong.value.error_code == INCOMPATIBLE
    assert "text/html" in str(wrong.value)
    assert "'Sign in'" in str(wrong.value)
    assert "does not look like a SCIM endpoint" in str(wrong.value)
    assert client.requests_sent == 1


async def test_broken_json_and_non_list_answers_are_incompatible() -> None:
    with ScriptedServer() as server:
        server.script(Reply(body=b"{not json", content_type="application/json"), Reply(body={}))
        async with ScimClient(server.url, "t") as client:
            with pytest.raises(RequestError, match="not valid JSON"):
                await client.get("Users", "u1")
            with pytest.raises(RequestError, match="not with a SCIM ListResponse"):
                await client.find("Users", eq_filter("userName", "a"))


async def test_a_redirect_is_reported_not_followed() -> None:
    with ScriptedServer() as server:
        server.script(
            Reply(status=302, body=b"", headers={"Location": "https://sso.example/login"})
        )
        async with ScimClient(server.url, "t") as client:
            with pytest.raises(RequestError, match=r"redirected to https://sso\.example/login"):
                await client.get("Users", "u1")


async def test_an_echoed_token_is_redacted_from_error_details() -> None:
    token = "scimitar_abc_supersecretvalue"
    with ScriptedServer() as server:
        server.script(Reply(status=400, body={"detail": f"bad header Bearer {token}"}))
        async with ScimClient(server.url, token) as client:
            with pytest.raises(RequestError) as bad:
                await client.get("Users", "u1")
    assert token not in str(bad.value)
    assert "[redacted]" in bad.value.detail
    assert token not in repr(client)


async def test_in_flight_requests_never_exceed_the_concurrency() -> None:
    with ScriptedServer(default=Reply(body={"id": "x"}, delay=0.1)) as server:
        client = ScimClient(server.url, "t", concurrency=3)
        async with client, anyio.create_task_group() as tasks:
            for n in range(12):
                tasks.start_soon(client.get, "Users", str(n))
    assert server.max_in_flight == 3
    # Keep-alive: twelve requests over at most three pooled connections.
    assert len({r.client_port for r in server.received}) <= 3
    assert client.requests_sent == 12


async def test_refused_connections_are_retried_and_counted_as_not_sent() -> None:
    port = free_port()
    async with ScimClient(
        f"http://127.0.0.1:{port}/scim/v2", "t", max_retries=2, **QUICK
    ) as client:
        with pytest.raises(UnreachableError) as unreachable:
            await client.create("Users", user("a"))
    error = unreachable.value
    assert (error.host, error.port, error.status) == ("127.0.0.1", port, None)
    assert "refused" in error.detail
    assert error.retryable
    # Nothing reached a server, so even the POST was safe to try again.
    assert (client.requests_sent, client.retries) == (0, 2)


async def test_an_untrusted_certificate_stops_the_cycle(tmp_path: Path) -> None:
    with ScriptedServer(tls=self_signed_cert(tmp_path)) as server:
        async with ScimClient(server.url, "t", **QUICK) as client:
            with pytest.raises(TlsError) as untrusted:
                await client.find("Users", eq_filter("userName", "a"))
    assert (untrusted.value.stops_cycle, untrusted.value.retryable) == (True, False)
    assert "certificate" in untrusted.value.detail
    assert client.retries == 0
