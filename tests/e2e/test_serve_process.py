"""`scimitar serve` as a real process on a real socket, driven by the real CLI."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.e2e

SCIMITAR = Path(sys.executable).with_name("scimitar")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(database_url: str, *args: str) -> str:
    done = subprocess.run(
        [str(SCIMITAR), *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    database_url: str
    log: Path
    healthy_answers: int = 0

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"scimitar serve exited early:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                server.healthy_answers += 1
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"scimitar serve did not answer /healthz in {START_TIMEOUT}s:\n{server.log_text()}")


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"scimitar serve (pid {process.pid}) ignored SIGTERM")
    return process.returncode


def _assert_stops_gracefully(server: Server) -> None:
    # uvicorn re-raises the signal it shut down on, so a clean stop may read as -SIGTERM.
    assert _stop(server.process) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log_text()


def _start(tmp_path: Path, workers: int, database_url: str | None = None) -> Iterator[Server]:
    port = _free_port()
    database_url = database_url or f"sqlite:///{tmp_path / 'serve.db'}"
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(SCIMITAR),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--database-url",
                database_url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, f"http://127.0.0.1:{port}", database_url, log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from _start(tmp_path, workers=1)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Server]:
    yield from _start(tmp_path, workers=2)


def test_serve_creates_reads_and_honours_revocation(server: Server) -> None:
    # The server migrated the empty database itself; the CLI works on it while it serves.
    _cli(server.database_url, "tenant", "create", "acme", "--role-policy", "clarizen-one")
    key = _cli(server.database_url, "token", "create", "--tenant", "acme").strip()
    key_id = key.split("_")[1]
    auth = {"Authorization": f"Bearer {key}"}

    with httpx.Client(base_url=f"{server.base_url}/scim/v2", headers=auth, timeout=10) as scim:
        created = scim.post(
            "/Users",
            json={"schemas": [USER_SCHEMA], "userName": "ada@example.com", "active": True},
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        fetched = scim.get(f"/Users/{user_id}")
        assert fetched.status_code == 200
        assert fetched.json()["userName"] == "ada@example.com"
        found = scim.get("/Users", params={"filter": 'userName eq "ada@example.com"'})
        assert found.json()["totalResults"] == 1

        assert scim.get("/Users", headers={"Authorization": "Bearer nope"}).status_code == 401
        _cli(server.database_url, "token", "revoke", key_id)
        assert scim.get(f"/Users/{user_id}").status_code == 401

    metrics = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    assert 'route="/scim/v2/Users/{id}"' in metrics
    assert user_id not in metrics

    _assert_stops_gracefully(server)
    log = server.log_text()
    assert key not in log
    assert key.split("_", 2)[2] not in log
    assert "Traceback" not in log


def test_metrics_add_up_across_workers(two_workers: Server) -> None:
    for _ in range(30):
        # A new connection each time, so the kernel spreads them over both workers.
        assert httpx.get(f"{two_workers.base_url}/healthz", timeout=10).status_code == 200
        two_workers.healthy_answers += 1
    line = 'scimitar_http_requests_total{method="GET",route="/healthz",status="200"} '
    for _ in range(5):
        text = httpx.get(f"{two_workers.base_url}/metrics", timeout=10).text
        (sample,) = [s for s in text.splitlines() if s.startswith(line)]
        assert float(sample.removeprefix(line)) == two_workers.healthy_answers
    _assert_stops_gracefully(two_workers)


def _workers(supervisor: int) -> list[int]:
    """The supervisor's worker processes (multiprocessing children, spawned)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # a descriptor closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _tcp_inodes(port: int, state: str) -> set[str]:
    """Inodes of this machine's TCP sockets on local ``port`` in ``state`` (hex, as
    /proc/net/tcp writes it: 0A listening, 01 established)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def _listening_sockets(server: Server, count: int) -> dict[int, str]:
    """Wait until ``count`` workers listen; return each one's listening socket inode."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        listening = _tcp_inodes(server.port, "0A")
        owners = {
            pid: inodes.pop()
            for pid in _workers(server.process.pid)
            if len(inodes := _socket_inodes(pid) & listening) == 1
        }
        if len(owners) == count == len(listening):
            return owners
        time.sleep(0.1)
    pytest.fail(f"{count} workers did not each listen on a socket in {START_TIMEOUT}s")


def test_each_worker_listens_on_a_socket_of_its_own(two_workers: Server) -> None:
    # With one shared socket, a burst of new connections could all land on one worker
    # (32 of 32 seen under wrk) while the other idled. Each worker now listens on its
    # own socket (SO_REUSEPORT) and the kernel spreads connections across them.
    workers = list(_listening_sockets(two_workers, 2))
    # The supervisor keeps no copy (it closes its own within half a second of a
    # worker's start), so a dead worker's socket closes with it.
    deadline = time.monotonic() + START_TIMEOUT
    listening = _tcp_inodes(two_workers.port, "0A")
    while _socket_inodes(two_workers.process.pid) & listening and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _socket_inodes(two_workers.process.pid) & listening

    clients = [httpx.Client(base_url=two_workers.base_url) for _ in range(32)]
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:  # connect in a burst, as wrk does
            statuses = list(pool.map(lambda client: client.get("/healthz").status_code, clients))
        assert statuses == [200] * 32
        accepted = _tcp_inodes(two_workers.port, "01")
        share = sorted(len(_socket_inodes(pid) & accepted) for pid in workers)
    finally:
        for client in clients:
            client.close()
    # A hash of each client's port picks the socket: 16 each on average, fewer than 4
    # on either side about once in 400,000 runs.
    assert sum(share) == 32
    assert share[0] >= 4, share
    _assert_stops_gracefully(two_workers)


def test_a_dead_workers_clients_go_to_the_live_worker(two_workers: Server) -> None:
    # A killed worker's socket must close with it: were another process still holding
    # it open, the kernel would keep sending it a share of new connections that
    # nobody accepts.
    (killed, killed_socket), (survivor, _) = sorted(_listening_sockets(two_workers, 2).items())
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + STOP_TIMEOUT
    while killed_socket in _tcp_inodes(two_workers.port, "0A") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert killed_socket not in _tcp_inodes(two_workers.port, "0A")
    for _ in range(20):  # new connections, each hashed afresh
        assert httpx.get(f"{two_workers.base_url}/healthz", timeout=5).status_code == 200
    # The supervisor replaces the worker, which listens on a socket of its own.
    replaced = _listening_sockets(two_workers, 2)
    assert survivor in replaced
    assert killed not in replaced
    _assert_stops_gracefully(two_workers)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_workers_each_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    yield from _start(tmp_path, workers=2, database_url=url)


# Plain attributes, each set by a PATCH of its own (on PostgreSQL in one UPDATE that
# merges the value into the stored document, ``store/patch_in_place.py``).
PLAIN_VALUES = {
    "displayName": "Race Runner",
    "nickName": "Racer",
    "title": "Sprinter",
    "userType": "Employee",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "Europe/Paris",
    "profileUrl": "https://example.com/race",
    "externalId": "race-1",
    "name.givenName": "Race",
    "name.familyName": "Runner",
    f"{ENTERPRISE_USER_URN}:employeeNumber": "701984",
    f"{ENTERPRISE_USER_URN}:costCenter": "4130",
    f"{ENTERPRISE_USER_URN}:organization": "Universal Studios",
    f"{ENTERPRISE_USER_URN}:division": "Theme Park",
    f"{ENTERPRISE_USER_URN}:department": "Tour Operations",
}


def test_concurrent_patches_of_one_user_lose_nothing(two_workers_each_backend: Server) -> None:
    # On PostgreSQL a user's PATCH reads without a lock and writes only over the version
    # it read, trying again under a row lock when another request wrote first; a PATCH
    # of plain attributes merges them into the row in one UPDATE. No update may be
    # lost, and none refused, with both kinds racing each other.
    server = two_workers_each_backend
    tenant = f"race-{os.getpid()}-{time.monotonic_ns()}"
    _cli(server.database_url, "tenant", "create", tenant)
    key = _cli(server.database_url, "token", "create", "--tenant", tenant).strip()
    headers = {"Authorization": f"Bearer {key}"}
    patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    emails = [f"race{index}@example.com" for index in range(48)]
    adds = [{"op": "add", "path": "emails", "value": [{"value": v}]} for v in emails]
    plain = [{"op": "replace", "path": p, "value": v} for p, v in PLAIN_VALUES.items()]
    # Interleaved, so that both kinds of PATCH are in flight together.
    operations = [op for pair in itertools.zip_longest(adds, plain) for op in pair if op]
    with httpx.Client(base_url=f"{server.base_url}/scim/v2", headers=headers) as client:
        created = client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "race"})
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]

        def patch(operation: dict[str, Any]) -> int:
            body = {"schemas": [patch_op], "Operations": [operation]}
            return client.patch(f"/Users/{user_id}", json=body).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(patch, operations))
        stored = client.get(f"/Users/{user_id}").json()

    assert answers == [200] * len(operations)
    assert {email["value"] for email in stored.get("emails", [])} == set(emails)
    for path, value in PLAIN_VALUES.items():
        # "urn:…:2.0:User:department", "name.givenName" or "title"
        holder, _, name = path.rpartition(":" if path.startswith("urn:") else ".")
        assert (stored[holder] if holder else stored).get(name) == value, path
    assert stored["meta"]["version"] == f'W/"{1 + len(operations)}"'


@pytest.fixture
def one_postgres_worker(tmp_path: Path, postgres_url: str) -> Iterator[Server]:
    yield from _start(tmp_path, workers=1, database_url=postgres_url)


def _waiting_for_lock(database_url: str) -> int:
    """Return how many of the server's sessions wait for a lock right now."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'scimitar-server'"
            " AND datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
def test_a_write_waiting_on_postgresql_holds_up_no_other_request(
    one_postgres_worker: Server,
) -> None:
    # A user's PATCH and create wait for their commit on the event loop, so the one
    # worker serves other requests meanwhile. A row lock held here makes one PATCH
    # wait as long as the test likes; before, every other request waited with it.
    server = one_postgres_worker
    tenant = f"overlap-{os.getpid()}-{time.monotonic_ns()}"
    _cli(server.database_url, "tenant", "create", tenant)
    key = _cli(server.database_url, "token", "create", "--tenant", tenant).strip()
    headers = {"Authorization": f"Bearer {key}"}
    patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

    def rename(user_id: str, name: str) -> httpx.Response:
        body = {
            "schemas": [patch_op],
            "Operations": [{"op": "replace", "path": "displayName", "value": name}],
        }
        with httpx.Client(base_url=f"{server.base_url}/scim/v2", headers=headers) as own:
            return own.patch(f"/Users/{user_id}", json=body, timeout=30)

    with httpx.Client(base_url=f"{server.base_url}/scim/v2", headers=headers, timeout=5) as client:
        ids = []
        for name in ("held", "free"):
            created = client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": name})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        held, free = ids

        with (
            psycopg.connect(server.database_url) as locker,
            ThreadPoolExecutor(max_workers=1) as pool,
        ):
            locker.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (held,))
            waiting = pool.submit(rename, held, "Held Back")
            deadline = time.monotonic() + 10
            while _waiting_for_lock(server.database_url) == 0:
                assert time.monotonic() < deadline, "the PATCH never reached its write"
                time.sleep(0.05)

            # The same worker answers these while the PATCH above waits.
            assert client.get(f"/Users/{free}").status_code == 200
            assert rename(free, "Not Held").status_code == 200
            created = client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "new"})
            assert created.status_code == 201, created.text
            assert not waiting.done()
            locker.rollback()
            answer = waiting.result(timeout=10)

        assert answer.status_code == 200, answer.text
        assert answer.json()["displayName"] == "Held Back"
        assert client.get(f"/Users/{held}").json()["displayName"] == "Held Back"
        assert client.get(f"/Users/{free}").json()["displayName"] == "Not Held"
    _assert_stops_gracefully(server)
