"""Test Connection against real servers: every failure gets a message a person can act on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from target import (
    Reply,
    ScimitarTarget,
    ScriptedServer,
    free_port,
    self_signed_cert,
    serve_scimitar,
)

from scimitar.provisioning import connection
from scimitar.provisioning.connection import ConnectionResult

pytestmark = pytest.mark.anyio

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScimitarTarget]:
    with serve_scimitar(tmp_path_factory.mktemp("target")) as running:
        running.tenant("acme")
        yield running


@pytest.fixture(scope="module")
def key(target: ScimitarTarget) -> str:
    return target.key("acme")


# What a scripted server gets as the key: it checks none.
ANY_KEY = "scimitar_x_0123456789"


async def probe(url: str, token: str = ANY_KEY, **kw: float) -> ConnectionResult:
    return await connection.test_connection(url, token, **kw)


# -- against scimitar serve ------------------------------------------------------------


@pytest.mark.e2e
async def test_a_good_url_and_key_connect(target: ScimitarTarget, key: str) -> None:
    result = await probe(target.scim_url + "/", key)
    assert result.ok, result.message
    assert result.status == 200
    assert result.message.startswith(f"Connected to {target.scim_url}:")


@pytest.mark.e2e
def test_the_cli_can_call_it_without_an_event_loop(target: ScimitarTarget, key: str) -> None:
    result = connection.test_connection_sync(target.scim_url, key, timeout=5)
    assert (result.ok, result.status) == (True, 200)


@pytest.mark.e2e
async def test_a_revoked_key_asks_for_a_new_one(target: ScimitarTarget) -> None:
    revoked = target.key("acme")
    target.revoke(revoked)
    result = await probe(target.scim_url, revoked)
    assert (result.ok, result.status) == (False, 401)
    assert "wrong, expired or revoked" in result.message
    assert "Generate a new API key" in result.message
    # The target's own words come along: scimitar names the revoked key's id.
    assert f"API key {revoked.split('_')[1]} has been revoked" in result.message
    assert revoked.split("_", 2)[2] not in result.message


@pytest.mark.e2e
async def test_a_key_without_admin_permissions_says_so(target: ScimitarTarget) -> None:
    lacking = target.key("acme", permissions="integration-user")
    result = await probe(target.scim_url, lacking)
    assert (result.ok, result.status) == (False, 403)
    assert "admin permissions" in result.message
    assert "Integration User and Lite Admin" in result.message
    assert "lacks the Lite Admin permission" in result.message


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["", "/scim/v1", "/scim"])
async def test_a_wrong_path_points_at_the_tenant_url(
    target: ScimitarTarget, key: str, path: str
) -> None:
    url = target.base_url + path
    result = await probe(url, key)
    assert (result.ok, result.status) == (False, 404)
    assert "the tenant URL is wrong" in result.message
    assert f"({url} does not end in /scim/v2)" in result.message


# -- against scripted servers ----------------------------------------------------------


async def test_the_probe_is_entras_query_for_a_random_guid() -> None:
    with ScriptedServer() as server:
        first = await probe(server.url + "/scim/v2")
        second = await probe(server.url + "/scim/v2")
    assert first.ok
    assert second.ok
    paths = [unquote(r.path) for r in server.received]
    for path in paths:
        assert re.fullmatch(r'/scim/v2/Users\?filter=userName eq "' + GUID.pattern + '"', path)
    assert paths[0] != paths[1]
    assert [r.method for r in server.received] == ["GET", "GET"]


async def test_an_html_page_is_not_a_scim_endpoint() -> None:
    page = b"<html><head><title>Clarizen - Login</title></head><body>...</body></html>"
    with ScriptedServer(default=Reply(body=page, content_type="text/html")) as server:
        result = await probe(server.url + "/scim/v2")
    assert (result.ok, result.status) == (False, 200)
    assert "does not look like a SCIM endpoint" in result.message
    assert "'Clarizen - Login'" in result.message


async def test_json_that_is_not_a_list_response_is_not_a_scim_endpoint() -> None:
    with ScriptedServer(default=Reply(body={"status": "ok"}, content_type="application/json")) as s:
        result = await probe(s.url + "/scim/v2")
    assert not result.ok
    assert "not with a SCIM ListResponse" in result.message


async def test_a_target_that_ignores_filters_fails_the_probe() -> None:
    everyone = {"totalResults": 1, "Resources": [{"id": "1", "userName": "someone"}]}
    with ScriptedServer(default=Reply(body=everyone)) as server:
        result = await probe(server.url + "/scim/v2")
    assert not result.ok
    assert "ignores SCIM filters" in result.message


async def test_a_server_error_names_the_status_and_detail() -> None:
    failing = Reply(status=500, body={"detail": "database is down"})
    with ScriptedServer(default=failing) as server:
        result = await probe(server.url + "/scim/v2")
    assert (result.ok, result.status) == (False, 500)
    assert "500 Internal Server Error: database is down" in result.message
    assert "try again later" in result.message
    # A person is waiting: no retries.
    assert len(server.received) == 1


async def test_throttling_says_when_to_try_again() -> None:
    busy = Reply(status=429, body={"detail": "slow down"}, headers={"Retry-After": "30"})
    with ScriptedServer(default=busy) as server:
        result = await probe(server.url + "/scim/v2")
    assert (result.ok, result.status) == (False, 429)
    assert "try again in 30 s" in result.message


async def test_a_redirect_names_where_it_goes() -> None:
    moved = Reply(status=301, body=b"", headers={"Location": "https://elsewhere.example/scim/v2"})
    with ScriptedServer(default=moved) as server:
        result = await probe(server.url + "/scim/v2")
    assert (result.ok, result.status) == (False, 301)
    assert "redirected to https://elsewhere.example/scim/v2" in result.message


async def test_a_silent_server_times_out() -> None:
    with ScriptedServer(default=Reply(delay=2)) as server:
        result = await probe(server.url + "/scim/v2", timeout=0.2)
    assert (result.ok, result.status) == (False, None)
    assert "did not answer within 0.2 s" in result.message


async def test_nothing_listening_names_the_host_and_port() -> None:
    port = free_port()
    result = await probe(f"http://127.0.0.1:{port}/scim/v2")
    assert not result.ok
    assert f"Cannot reach the tenant URL: 127.0.0.1:{port} refused the connection" in (
        result.message
    )


async def test_an_unknown_host_name_says_dns() -> None:
    # RFC 6761 §6.4: ".invalid" names never resolve.
    result = await probe("https://no-such-tenant.invalid/scim/v2", timeout=5)
    assert not result.ok
    assert "the host name 'no-such-tenant.invalid' does not resolve (DNS)" in result.message


async def test_a_self_signed_certificate_is_named(tmp_path: Path) -> None:
    with ScriptedServer(tls=self_signed_cert(tmp_path)) as server:
        result = await probe(server.url + "/scim/v2")
    assert not result.ok
    assert f"The TLS handshake with 127.0.0.1:{server.port} failed" in result.message
    assert "certificate is not trusted (self-signed certificate)" in result.message
    assert "fix the certificate on the server" in result.message
    assert server.received == []


async def test_https_to_a_plain_http_port_says_so() -> None:
    with ScriptedServer() as server:
        result = await probe(f"https://127.0.0.1:{server.port}/scim/v2")
    assert not result.ok
    assert "does not speak TLS on this port" in result.message
    assert "Check the tenant URL's scheme (https://) and port" in result.message


@pytest.mark.parametrize(
    ("url", "token", "expected"),
    [
        ("servicesapp2.clarizen.com/scim/v2", "k", "is not an http(s) URL"),
        ("ftp://example.com/scim/v2", "k", "is not an http(s) URL"),
        ("https://example.com/scim/v2?x=1", "k", "has a query or fragment"),
        ("https://example.com/scim/v2", "  ", "The secret token is empty"),
    ],
)
async def test_bad_input_is_explained_before_any_request(
    url: str, token: str, expected: str
) -> None:
    result = await connection.test_connection(url, token)
    assert (result.ok, result.status) == (False, None)
    assert expected in result.message
