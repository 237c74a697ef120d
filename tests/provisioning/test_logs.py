"""Provisioning logs: written in batches, queried, purged, redacted, and shown three ways."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, event, insert

from scimitar.cli.logs import logs as logs_command
from scimitar.cli.logs import parse_since
from scimitar.db.engine import write_transaction
from scimitar.provisioning.app_settings import AppSettings
from scimitar.provisioning.gallery import gallery_app
from scimitar.provisioning.logs import (
    CSV_COLUMNS,
    REDACTED,
    ErrorCode,
    LogEntry,
    LogWriter,
    ModifiedProperty,
    ProvisionedIdentity,
    ProvisioningStep,
    format_csv,
    format_json,
    format_table,
    is_secret_name,
    modified_properties,
    new_log_id,
    purge_old_logs,
    query_logs,
)
from scimitar.provisioning.tables import apps

# Two days ago on the hour: in the past whatever the clock, within the 30-day retention.
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
T0_TEXT = T0.strftime("%Y-%m-%dT%H:%M:%S")


def _add_app(engine: Engine) -> tuple[int, str]:
    name = f"app-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        row = conn.execute(
            insert(apps).values(
                name=name,
                gallery="generic-scim",
                tenant_url="http://127.0.0.1:9/scim/v2",
                secret_token="encrypted",
                notification_email=None,
                status="off",
                settings=AppSettings.for_gallery(gallery_app("generic-scim")).to_json(),
                config_version=1,
                created=now,
                modified=now,
            )
        )
        app_id = row.inserted_primary_key[0] if row.inserted_primary_key else None
    assert isinstance(app_id, int)
    return app_id, name


@pytest.fixture
def app(engine: Engine) -> tuple[int, str]:
    """A fresh app row (id, name): each test sees only its own log entries."""
    return _add_app(engine)


def user(object_id: str, upn: str, name: str) -> ProvisionedIdentity:
    return ProvisionedIdentity(object_id, name, "user", {"userPrincipalName": upn})


def make_entry(
    *,
    action: str = "create",
    status: str = "success",
    at: datetime = T0,
    source: ProvisionedIdentity | None = None,
    target: ProvisionedIdentity | None = None,
    cycle_id: str = "cycle-1",
    error_code: str | None = None,
    reason: str | None = None,
    object_type: str = "user",
    properties: list[ModifiedProperty] | None = None,
) -> LogEntry:
    return LogEntry(
        cycle_id=cycle_id,
        job_id="clarizen-one.1",
        object_type=object_type,
        action=action,
        status=status,
        source_identity=source or user("oid-alice", "alice@contoso.com", "Alice Adams"),
        target_identity=target,
        error_code=error_code,
        reason=reason,
        activity_date_time=at,
        duration_in_milliseconds=12,
        provisioning_steps=[
            ProvisioningStep("import", "success", "Received User 'alice@contoso.com'"),
            ProvisioningStep("matching", "success", "No match: will create", name="EntrySync"),
            ProvisioningStep("export", status, "Created", {"ReportableIdentifier": "alice"}),
        ],
        modified_properties=properties or [],
    )


def write(engine: Engine, app_id: int, entries: list[LogEntry]) -> None:
    writer = LogWriter(app_id)
    for entry in entries:
        writer.add(entry)
    with write_transaction(engine) as conn:
        assert writer.flush(conn) == len(entries)


def test_entries_read_back_with_every_field(engine: Engine, app: tuple[int, str]) -> None:
    failed = make_entry(
        status="failure",
        error_code=ErrorCode.CONFLICT,
        reason="409: userName already exists",
        target=ProvisionedIdentity("t-1", "alice", "user"),
        properties=[ModifiedProperty.of("displayName", None, "Alice Adams")],
    )
    skipped = make_entry(
        status="skipped",
        error_code=ErrorCode.NOT_EFFECTIVELY_ENTITLED,
        at=T0 + timedelta(seconds=1),
        source=ProvisionedIdentity("oid-grp", "Sales", "group"),
        object_type="group",
    )
    write(engine, app[0], [failed, skipped])

    read = query_logs(engine, app[0])
    assert [entry.to_graph() for entry in read] == [failed.to_graph(), skipped.to_graph()]
    assert read[0].activity_date_time == T0
    assert read[0].activity_date_time.tzinfo is not None
    assert read[1].target_identity is None
    assert read[0].steps[2].details == {"ReportableIdentifier": "alice"}


def test_graph_shape_uses_graphs_names_and_the_flat_aliases() -> None:
    entry = make_entry(
        status="failure",
        error_code=ErrorCode.DUPLICATE_TARGET_ENTRIES,
        reason="2 users have userName alice@contoso.com",
        at=datetime(2026, 11, 28, 11, 15, 3, 250000, tzinfo=timezone(timedelta(hours=1))),
        properties=[ModifiedProperty.of("active", None, True)],
    )
    graph = entry.to_graph()
    assert graph["activityDateTime"] == "2026-11-28T10:15:03.250000Z"
    assert entry.activity_date_time.tzinfo is UTC
    assert graph["provisioningAction"] == graph["action"] == "create"
    assert graph["provisioningStatusInfo"]["status"] == graph["status"] == "failure"
    error = graph["provisioningStatusInfo"]["errorInformation"]
    assert error["errorCode"] == graph["errorCode"] == "DuplicateTargetEntries"
    assert error["reason"] == graph["reason"]
    assert "duplicate" in error["recommendedAction"]
    assert graph["provisioningSteps"] == graph["steps"]
    assert [step["provisioningStepType"] for step in graph["steps"]] == [
        "import",
        "matching",
        "export",
    ]
    # Graph's step "name" is free text; it defaults to the step type.
    assert [step["name"] for step in graph["steps"]] == ["import", "EntrySync", "export"]
    assert graph["sourceIdentity"] == {
        "id": "oid-alice",
        "displayName": "Alice Adams",
        "identityType": "user",
        "details": {"userPrincipalName": "alice@contoso.com"},
    }
    # Graph's modifiedProperty: displayName, oldValue, newValue, values as strings.
    assert graph["modifiedProperties"] == [
        {"displayName": "active", "oldValue": None, "newValue": "true"}
    ]
    assert graph["durationInMilliseconds"] == 12
    assert {"id", "cycleId", "changeId", "jobId", "objectType"} <= graph.keys()


def test_success_has_no_error_information() -> None:
    graph = make_entry().to_graph()
    assert graph["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert graph["errorCode"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("action", "frobnicate"), ("status", "ok"), ("object_type", "device")],
)
def test_values_outside_graphs_enumerations_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=value):
        make_entry(**{field: value})


def test_step_types_are_graphs() -> None:
    with pytest.raises(ValueError, match="step type"):
        ProvisioningStep("export-ish", "success")


@pytest.mark.parametrize(
    "name",
    ["password", "userPassword", "token", "accessToken", "clientSecret", "apiKey", "api_key",
     "PRIVATE_KEY", "secretkey", "key"],
)  # fmt: skip
def test_secret_looking_properties_are_redacted(name: str) -> None:
    prop = ModifiedProperty.of(name, "old-s3cret", "new-s3cret")
    assert (prop.old_value, prop.new_value) == (REDACTED, REDACTED)
    assert "s3cret" not in json.dumps(make_entry(properties=[prop]).to_graph())


@pytest.mark.parametrize(
    "name", ["displayName", "keyboardLayout", "monkey", "turkeyFarm", "employeeNumber", "title"]
)
def test_ordinary_properties_are_kept(name: str) -> None:
    assert not is_secret_name(name)
    prop = ModifiedProperty.of(name, "before", "after")
    assert (prop.old_value, prop.new_value) == ("before", "after")


def test_redaction_keeps_absent_values_absent_and_is_stored(
    engine: Engine, app: tuple[int, str]
) -> None:
    prop = ModifiedProperty("password", None, "hunter2")
    assert prop.old_value is None
    step = ProvisioningStep("export", "success", details={"secretToken": "abc", "id": "7"})
    entry = make_entry(properties=[prop])
    entry.provisioning_steps.append(step)
    write(engine, app[0], [entry])
    (read,) = query_logs(engine, app[0])
    assert read.modified_properties[0].to_graph() == {
        "displayName": "password",
        "oldValue": None,
        "newValue": REDACTED,
    }
    assert read.steps[-1].details == {"secretToken": REDACTED, "id": "7"}


def test_modified_properties_lists_only_changes() -> None:
    changes = modified_properties(
        {"displayName": "Al", "title": "Dev", "active": True, "password": "a"},
        {"displayName": "Alice", "title": "Dev", "department": "R&D", "password": "b"},
    )
    assert [p.to_graph() for p in changes] == [
        {"displayName": "active", "oldValue": "true", "newValue": None},
        {"displayName": "department", "oldValue": None, "newValue": "R&D"},
        {"displayName": "displayName", "oldValue": "Al", "newValue": "Alice"},
        {"displayName": "password", "oldValue": REDACTED, "newValue": REDACTED},
    ]


def test_writer_batches_inserts(engine: Engine, app: tuple[int, str]) -> None:
    writer = LogWriter(app[0], batch_size=3)
    full = [writer.add(make_entry(at=T0 + timedelta(seconds=i))) for i in range(7)]
    # add() says when a full batch waits, so the engine knows when to flush.
    assert full == [False, False, True, True, True, True, True]
    assert len(writer) == 7

    statements: list[str] = []
    with write_transaction(engine) as conn:
        event.listen(conn, "before_execute", lambda *args: statements.append("x"))
        assert writer.flush(conn) == 7
    assert len(statements) == 3  # ceil(7 / 3) INSERTs, not 7
    assert len(writer) == 0
    assert writer.written == 7
    assert len(query_logs(engine, app[0])) == 7


def _flush_then_fail(engine: Engine, writer: LogWriter) -> None:
    with write_transaction(engine) as conn:
        writer.flush(conn)
        raise RuntimeError("the cycle's transaction failed")


def test_rolled_back_flush_writes_nothing(engine: Engine, app: tuple[int, str]) -> None:
    writer = LogWriter(app[0])
    writer.add(make_entry())
    with pytest.raises(RuntimeError, match="cycle"):
        _flush_then_fail(engine, writer)
    assert query_logs(engine, app[0]) == []


def test_entries_come_back_in_time_order(engine: Engine, app: tuple[int, str]) -> None:
    late = make_entry(at=T0 + timedelta(minutes=5), action="update")
    early = make_entry(at=T0, action="create")
    # Stamped with the same instant: ties keep the order in which the entries were
    # made, whatever order a concurrent executor hands them to the writer in.
    same = [make_entry(at=T0 + timedelta(minutes=1), reason=f"tie {i}") for i in range(20)]
    write(engine, app[0], [late, *reversed(same[:10]), early, *same[10:]])
    read = query_logs(engine, app[0])
    assert [entry.action for entry in (read[0], read[-1])] == ["create", "update"]
    assert [entry.reason for entry in read[1:-1]] == [f"tie {i}" for i in range(20)]


def test_log_ids_are_time_ordered_guids() -> None:
    ids = [new_log_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids[:10])


@pytest.fixture
def sample(engine: Engine, app: tuple[int, str]) -> int:
    bob = user("oid-bob", "Bob@Contoso.com", "Bob Brown")
    write(
        engine,
        app[0],
        [
            make_entry(at=T0, target=ProvisionedIdentity("t-alice", "alice")),
            make_entry(
                at=T0 + timedelta(hours=1),
                source=bob,
                status="failure",
                error_code="Conflict",
                reason="409",
            ),
            make_entry(at=T0 + timedelta(hours=2), source=bob, action="update"),
            make_entry(
                at=T0 + timedelta(hours=3),
                action="disable",
                cycle_id="cycle-2",
                target=ProvisionedIdentity("t-alice", "alice"),
            ),
            make_entry(
                at=T0 + timedelta(hours=4),
                action="create",
                status="skipped",
                error_code="NotEffectivelyEntitled",
                source=ProvisionedIdentity("oid-sales", "Sales", "group"),
                object_type="group",
                cycle_id="cycle-2",
            ),
        ],
    )
    return app[0]


def _hours(entries: list[LogEntry]) -> list[int]:
    return [int((e.activity_date_time - T0).total_seconds() // 3600) for e in entries]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [0, 1, 2, 3, 4]),
        ({"status": "failure"}, [1]),
        ({"status": "skipped"}, [4]),
        ({"action": "update"}, [2]),
        ({"action": "create", "status": "success"}, [0]),
        ({"since": T0 + timedelta(hours=2)}, [2, 3, 4]),
        # The same moment in another zone: since is compared in UTC.
        ({"since": (T0 + timedelta(hours=3)).astimezone(timezone(timedelta(hours=-5)))}, [3, 4]),
        ({"cycle_id": "cycle-2"}, [3, 4]),
        ({"user": "bob@contoso.com"}, [1, 2]),  # UPN, any case
        ({"user": "BOB BROWN"}, [1, 2]),  # display name
        ({"user": "oid-alice"}, [0, 3]),  # source object id
        ({"user": "t-alice"}, [0, 3]),  # target id
        ({"user": "Sales"}, [4]),
        ({"user": "nobody@contoso.com"}, []),
        ({"user": "alice@contoso.com", "action": "disable"}, [3]),
        ({"limit": 2}, [3, 4]),  # the latest two, still oldest first
        ({"status": "success", "limit": 1}, [3]),
    ],
)  # fmt: skip
def test_filters(engine: Engine, sample: int, filters: dict[str, Any], expected: list[int]) -> None:
    assert _hours(query_logs(engine, sample, **filters)) == expected


def test_query_sees_only_its_app(engine: Engine, sample: int) -> None:
    other, _ = _add_app(engine)
    write(engine, other, [make_entry()])
    assert len(query_logs(engine, sample)) == 5
    assert len(query_logs(engine, other)) == 1


def test_purge_deletes_what_is_past_retention(engine: Engine, app: tuple[int, str]) -> None:
    now = datetime.now(UTC)
    ages = [45, 31, 29, 1]
    write(engine, app[0], [make_entry(at=now - timedelta(days=d), reason=str(d)) for d in ages])
    with write_transaction(engine) as conn:
        purged = purge_old_logs(conn, now)
    assert purged >= 2  # other tests' old entries may go too; ours certainly do
    assert [e.reason for e in query_logs(engine, app[0])] == ["29", "1"]
    with write_transaction(engine) as conn:
        purge_old_logs(conn, now, retention_days=7)
    assert [e.reason for e in query_logs(engine, app[0])] == ["1"]
    with pytest.raises(ValueError, match="negative"), write_transaction(engine) as conn:
        purge_old_logs(conn, now, retention_days=-1)


def test_json_format_is_a_graph_array() -> None:
    entries = [make_entry(), make_entry(status="failure", error_code="Timeout", reason="slow")]
    parsed = json.loads(format_json(entries))
    assert isinstance(parsed, list)
    assert parsed == [entry.to_graph() for entry in entries]
    assert parsed[1]["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "Timeout"
    assert json.loads(format_json([])) == []


def test_csv_format_round_trips() -> None:
    tricky = 'Conflict, said the app: "userName taken"\nsecond line'
    entries = [
        make_entry(
            status="failure",
            error_code="Conflict",
            reason=tricky,
            target=ProvisionedIdentity("t-9", "al,ice"),
            properties=[ModifiedProperty.of("title", "Dev", 'Lead "A"')],
        ),
        make_entry(action="update"),
    ]
    rows = list(csv.DictReader(io.StringIO(format_csv(entries), newline="")))
    assert len(rows) == 2
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    first, second = rows
    assert first["reason"] == tricky
    assert first["status"] == "failure"
    assert first["errorCode"] == "Conflict"
    assert first["activityDateTime"] == f"{T0_TEXT}.000000Z"
    assert first["durationInMilliseconds"] == "12"
    assert json.loads(first["targetIdentity"])["displayName"] == "al,ice"
    assert json.loads(first["modifiedProperties"]) == [
        {"displayName": "title", "oldValue": "Dev", "newValue": 'Lead "A"'}
    ]
    assert json.loads(first["provisioningSteps"]) == entries[0].to_graph()["provisioningSteps"]
    assert json.loads(first["sourceIdentity"])["details"]["userPrincipalName"] == (
        "alice@contoso.com"
    )
    assert second["targetIdentity"] == ""
    assert second["errorCode"] == ""
    assert second["action"] == "update"
    assert format_csv([]).splitlines() == [",".join(CSV_COLUMNS)]


def test_table_format_is_aligned_one_line_per_entry() -> None:
    entries = [
        make_entry(target=ProvisionedIdentity("t-1", "alice")),
        make_entry(
            action="stagedDelete",
            status="failure",
            error_code="Conflict",
            reason="line one\nline two " + "x" * 300,
            source=user("oid-b", "b@contoso.com", "B"),
        ),
    ]
    lines = format_table(entries).splitlines()
    assert len(lines) == 3
    header, first, second = lines
    assert header.split() == ["TIME", "ACTION", "STATUS", "TYPE", "SOURCE", "TARGET", "ERROR"]
    for column in ("ACTION", "STATUS", "TYPE", "SOURCE"):
        offset = header.index(column)
        assert first[offset - 2 : offset] == "  "
        assert not first[offset].isspace()
        assert not second[offset].isspace()
    assert first.startswith(f"{T0_TEXT}Z  create        success")
    assert first.split()[4:6] == ["alice@contoso.com", "alice"]
    assert "stagedDelete  failure  user" in second
    assert "Conflict: line one line two x" in second
    assert second.endswith("…")
    assert len(second) < 250  # a long reason is cut, not wrapped across the terminal


# --- the command --------------------------------------------------------------------


def cli(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(logs_command, [*args, "--database-url", database_url])


def test_cli_json_with_filters(database_url: str, engine: Engine, sample: int) -> None:
    name = _app_name(engine, sample)
    result = cli(database_url, name, "--status", "failure", "--format", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["sourceIdentity"]["details"]["userPrincipalName"] == "Bob@Contoso.com"
    assert entry["errorCode"] == "Conflict"

    result = cli(database_url, name, "--user", "alice@contoso.com", "--action", "DISABLE")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2  # header + the one disable
    assert "disable" in result.stdout.splitlines()[1]


def test_cli_csv_cycle_and_limit(database_url: str, engine: Engine, sample: int) -> None:
    name = _app_name(engine, sample)
    result = cli(database_url, name, "--cycle", "cycle-2", "--format", "csv", "--limit", "1")
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO(result.stdout, newline=""))
    assert row["objectType"] == "group"
    assert row["errorCode"] == "NotEffectivelyEntitled"


def test_cli_since_a_date(database_url: str, engine: Engine, sample: int) -> None:
    name = _app_name(engine, sample)
    since = (T0 + timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = cli(database_url, name, "--since", since, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [e["action"] for e in json.loads(result.stdout)] == ["disable", "create"]
    result = cli(database_url, name, "--since", "3d", "--format", "json")
    assert len(json.loads(result.stdout)) == 5
    # The sample is two days old: a --since of an hour finds nothing, said on stderr.
    result = cli(database_url, name, "--since", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no provisioning log entries" in result.stderr


def test_cli_unknown_app(database_url: str) -> None:
    result = cli(database_url, "no-such-app")
    assert result.exit_code == 1
    assert "no app named 'no-such-app'" in result.stderr
    assert "Traceback" not in result.output


def test_cli_rejects_a_bad_since(database_url: str, engine: Engine, app: tuple[int, str]) -> None:
    result = cli(database_url, app[1], "--since", "yesterday")
    assert result.exit_code == 2
    assert "neither a duration" in result.stderr


def test_parse_since() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("1h", now) == now - timedelta(hours=1)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("1h30m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-11-27", now) == datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_since("2026-11-27T10:00:00+02:00", now) == datetime(2026, 11, 27, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither"):
        parse_since("1 fortnight", now)


def _app_name(engine: Engine, app_id: int) -> str:
    with engine.connect() as conn:
        name = conn.execute(apps.select().where(apps.c.id == app_id)).one().name
    assert isinstance(name, str)
    return name
