"""Group memberships: direct members, stamping both sides, nesting, cycles, group deletion."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Connection, Engine

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store
from scimitar.directory.model import DirectoryError

APP = 3


def users(conn: Connection, *names: str) -> list[str]:
    return [
        store.upsert_user(conn, {"userPrincipalName": f"{name}@example.com"}).object_id
        for name in names
    ]


def group(conn: Connection, name: str) -> str:
    return store.upsert_group(conn, {"displayName": name}).object_id


def test_set_group_members_replaces_and_stamps_only_what_changed(db: Engine) -> None:
    with write_transaction(db) as conn:
        a, b, c = users(conn, "a", "b", "c")
        team = group(conn, "Team")
        store.set_group_members(conn, team, [("user", a), ("user", b)])
        watermark = store.current_seq(conn)
        store.set_group_members(conn, team, [("user", b), ("user", c)])
    with read_transaction(db) as conn:
        assert sorted(store.members_of(conn, [team])[team]) == sorted([("user", b), ("user", c)])
        changes = store.changes_since(conn, watermark, APP)
    assert changes.group_ids == {team}
    assert changes.user_ids == {a, c}  # removed and added; b stayed and is not stamped


def test_setting_the_same_members_changes_nothing(db: Engine) -> None:
    with write_transaction(db) as conn:
        (a,) = users(conn, "a")
        team = group(conn, "Team")
        store.set_group_members(conn, team, [("user", a)])
        watermark = store.current_seq(conn)
        store.set_group_members(conn, team, [("user", a)])
        assert store.current_seq(conn) == watermark


def test_add_and_remove_one_member(db: Engine) -> None:
    with write_transaction(db) as conn:
        (a,) = users(conn, "a")
        team, parent = group(conn, "Team"), group(conn, "Parent")
        assert store.add_group_member(conn, team, "user", a) is True
        assert store.add_group_member(conn, team, "user", a) is False
        assert store.add_group_member(conn, parent, "group", team) is True
        watermark = store.current_seq(conn)
        assert store.remove_group_member(conn, team, a) is True
        assert store.remove_group_member(conn, team, a) is False
    with read_transaction(db) as conn:
        assert store.members_of(conn, [team, parent]) == {team: [], parent: [("group", team)]}
        assert store.groups_containing(conn, [a, team]) == {a: [], team: [parent]}
        changes = store.changes_since(conn, watermark, APP)
    assert changes.user_ids == {a}
    assert changes.group_ids == {team}


def test_members_must_exist_and_a_group_cannot_contain_itself(db: Engine) -> None:
    with write_transaction(db) as conn:
        team = group(conn, "Team")
    for members, message in [
        ([("user", "ghost")], "ghost"),
        ([("group", team)], "member of itself"),
        ([("device", "x")], "neither"),
    ]:
        with pytest.raises(DirectoryError, match=message), write_transaction(db) as conn:
            store.set_group_members(conn, team, members)


def test_nested_groups_flatten_to_their_users(db: Engine) -> None:
    with write_transaction(db) as conn:
        a, b, c = users(conn, "a", "b", "c")
        top, middle, bottom = group(conn, "Top"), group(conn, "Middle"), group(conn, "Bottom")
        store.set_group_members(conn, top, [("user", a), ("group", middle)])
        store.set_group_members(conn, middle, [("group", bottom)])
        store.set_group_members(conn, bottom, [("user", b), ("user", c)])
    with read_transaction(db) as conn:
        assert store.flatten_members(conn, top) == {a, b, c}
        assert store.flatten_groups(conn, [middle, bottom]) == {middle: {b, c}, bottom: {b, c}}
        # Entra's own rule reads only direct members: the flattening is an opt-in.
        assert sorted(store.members_of(conn, [top])[top]) == sorted(
            [("user", a), ("group", middle)]
        )


def test_a_cycle_of_groups_terminates_and_is_reported(
    db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with write_transaction(db) as conn:
        a, b = users(conn, "a", "b")
        one, two, three = group(conn, "One"), group(conn, "Two"), group(conn, "Three")
        store.set_group_members(conn, one, [("user", a), ("group", two)])
        store.set_group_members(conn, two, [("group", three)])
        store.set_group_members(conn, three, [("user", b), ("group", one)])
    cycles: list[list[str]] = []
    with read_transaction(db) as conn:
        assert store.flatten_members(conn, one, on_cycle=cycles.append) == {a, b}
        assert store.flatten_members(conn, two, on_cycle=cycles.append) == {a, b}
        with caplog.at_level(logging.WARNING, logger="scimitar.directory.members"):
            store.flatten_members(conn, three)
    assert cycles[0] == [one, two, three, one]
    assert cycles[1] == [two, three, one, two]
    assert "nested groups form a cycle" in caplog.text


def test_deleting_a_group_stamps_its_members_and_parents(db: Engine) -> None:
    with write_transaction(db) as conn:
        a, b = users(conn, "a", "b")
        parent, child = group(conn, "Parent"), group(conn, "Child")
        store.set_group_members(conn, parent, [("group", child), ("user", b)])
        store.set_group_members(conn, child, [("user", a)])
        store.assign(conn, APP, "group", child, "User")
        watermark = store.current_seq(conn)
        deleted = store.delete_group(conn, "child")  # by display name, any case
    assert deleted.object_id == child
    with read_transaction(db) as conn:
        assert store.find_group(conn, child) is None
        assert store.members_of(conn, [parent])[parent] == [("user", b)]
        assert store.groups_containing(conn, [a]) == {a: []}
        assert store.assignments_for_app(conn, APP) == []
        changes = store.changes_since(conn, watermark, APP)
    assert changes.user_ids == {a}
    assert changes.group_ids == {parent}
    assert changes.assignment_principals == {("group", child)}
    assert [(t.object_type, t.object_id) for t in changes.tombstones] == [("group", child)]


def test_deleting_an_unknown_group_names_it(db: Engine) -> None:
    with pytest.raises(store.UnknownObject, match="Nope"), write_transaction(db) as conn:
        store.delete_group(conn, "Nope")
