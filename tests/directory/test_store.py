"""The directory store on SQLite and PostgreSQL: users, deletes, assignments, the change feed."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store
from scimitar.directory.model import USER_ATTRIBUTES, AttributeProblem, DirectoryError

APP = 7
OTHER_APP = 8


def upsert(db: Engine, **attributes: object) -> store.DirectoryUser:
    with write_transaction(db) as conn:
        return store.upsert_user(conn, attributes)


def seq(db: Engine) -> int:
    with read_transaction(db) as conn:
        return store.current_seq(conn)


def test_every_entra_attribute_is_known_with_its_type() -> None:
    assert len(USER_ATTRIBUTES) == 23
    assert USER_ATTRIBUTES["accountEnabled"] == "boolean"
    assert USER_ATTRIBUTES["manager"] == "reference"
    assert {
        kind for name, kind in USER_ATTRIBUTES.items() if name not in ("accountEnabled", "manager")
    } == {"string"}


def test_change_numbers_grow_and_current_seq_reports_the_last(db: Engine) -> None:
    with write_transaction(db) as conn:
        first = store.next_seq(conn)
        second = store.next_seq(conn)
    assert second == first + 1
    assert seq(db) == second


def test_a_rolled_back_transaction_gives_its_number_back(db: Engine) -> None:
    before = seq(db)

    def draw_then_fail() -> None:
        with write_transaction(db) as conn:
            store.next_seq(conn)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        draw_then_fail()
    assert seq(db) == before


def test_a_second_writer_waits_so_numbers_follow_commit_order(db: Engine) -> None:
    drawn: dict[str, tuple[int, float]] = {}
    first_has_drawn = threading.Event()

    def first() -> None:
        with write_transaction(db) as conn:
            number = store.next_seq(conn)
            first_has_drawn.set()
            time.sleep(0.4)  # hold the counter: the second writer must wait for our commit
            drawn["first"] = (number, time.monotonic())

    def second() -> None:
        first_has_drawn.wait(5)
        with write_transaction(db) as conn:
            drawn["second"] = (store.next_seq(conn), time.monotonic())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert drawn["second"][0] == drawn["first"][0] + 1
    assert drawn["second"][1] >= drawn["first"][1]  # drew only after the first committed


def test_a_new_user_gets_an_object_id_and_is_enabled(db: Engine) -> None:
    user = upsert(db, userPrincipalName="Ada@Example.com", displayName="Ada", costCenter="42")
    uuid.UUID(user.object_id)  # a generated GUID, like Entra's
    assert user.user_principal_name == "Ada@Example.com"
    assert user.account_enabled is True
    assert user.manager_id is None
    assert user.deleted_at is None
    assert user.attributes == {
        "objectId": user.object_id,
        "userPrincipalName": "Ada@Example.com",
        "accountEnabled": True,
        "displayName": "Ada",
        "costCenter": "42",  # an extra attribute is kept under its own name
    }


def test_upsert_matches_by_upn_in_any_case_then_by_object_id(db: Engine) -> None:
    ada = upsert(db, userPrincipalName="ada@example.com", jobTitle="Engineer")
    again = upsert(db, userPrincipalName="ADA@EXAMPLE.COM", jobTitle="Lead")
    assert again.object_id == ada.object_id
    assert again.attributes["jobTitle"] == "Lead"
    renamed = upsert(db, objectId=ada.object_id, userPrincipalName="ada.l@example.com")
    assert renamed.object_id == ada.object_id
    assert renamed.user_principal_name == "ada.l@example.com"
    assert renamed.attributes["jobTitle"] == "Lead"  # left out: kept
    with read_transaction(db) as conn:
        assert store.find_user(conn, "ada@example.com") is None
        found = store.find_user(conn, "Ada.L@example.com")
        assert found is not None
        assert found.object_id == ada.object_id


def test_a_given_object_id_is_used_and_attribute_names_take_entra_spelling(db: Engine) -> None:
    user = upsert(db, objectId="u-1", userprincipalname="x@example.com", ACCOUNTENABLED="false")
    assert user.object_id == "u-1"
    assert user.account_enabled is False
    assert user.attributes["userPrincipalName"] == "x@example.com"
    assert user.attributes["accountEnabled"] is False


def test_null_clears_an_attribute_but_not_the_upn_or_account_enabled(db: Engine) -> None:
    upsert(db, userPrincipalName="c@example.com", mobile="+1 555", accountEnabled=False)
    user = upsert(db, userPrincipalName="c@example.com", mobile=None, accountEnabled=None, city="")
    assert "mobile" not in user.attributes
    assert "city" not in user.attributes
    assert user.account_enabled is False


def test_an_unchanged_upsert_keeps_its_change_number(db: Engine) -> None:
    user = upsert(db, userPrincipalName="same@example.com", department="Sales")
    before = seq(db)
    again = upsert(db, userPrincipalName="same@example.com", department="Sales")
    assert again.change_seq == user.change_seq
    assert seq(db) == before  # no number drawn at all
    changed = upsert(db, userPrincipalName="same@example.com", department="Ops")
    assert changed.change_seq > user.change_seq


def test_manager_is_resolved_from_upn_or_object_id(db: Engine) -> None:
    boss = upsert(db, userPrincipalName="boss@example.com")
    by_upn = upsert(db, userPrincipalName="a@example.com", manager="BOSS@example.com")
    by_id = upsert(db, userPrincipalName="b@example.com", manager=boss.object_id)
    for user in (by_upn, by_id):
        assert user.manager_id == boss.object_id
        assert user.attributes["manager"] == boss.object_id
    cleared = upsert(db, userPrincipalName="a@example.com", manager=None)
    assert cleared.manager_id is None
    assert "manager" not in cleared.attributes


def test_an_unknown_manager_is_refused_by_name(db: Engine) -> None:
    with pytest.raises(ValueError, match=r"manager 'ghost@example\.com'"):
        upsert(db, userPrincipalName="a@example.com", manager="ghost@example.com")
    with read_transaction(db) as conn:
        assert store.find_user(conn, "a@example.com") is None


def test_a_user_cannot_manage_themselves(db: Engine) -> None:
    upsert(db, userPrincipalName="me@example.com")
    with pytest.raises(AttributeProblem, match="own manager"):
        upsert(db, userPrincipalName="me@example.com", manager="me@example.com")


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"userPrincipalName": "a@example.com", "accountEnabled": "maybe"}, "accountEnabled"),
        ({"userPrincipalName": "not-an-upn"}, "alias@domain"),
        ({"userPrincipalName": "a@example.com", "jobTitle": 5}, "expected a string"),
        ({"userPrincipalName": "a@example.com", "city": "x" * 70_000}, "the limit is 65536"),
        ({"userPrincipalName": "a@example.com", "city": "a\x00b"}, "NUL"),
        ({"userPrincipalName": "a@example.com", "bad name": "x"}, "attribute name"),
        ({"displayName": "no upn"}, "userPrincipalName"),
    ],
)
def test_bad_attributes_are_refused(
    db: Engine, attributes: dict[str, object], message: str
) -> None:
    with pytest.raises(DirectoryError, match=message):
        upsert(db, **attributes)


def test_renaming_onto_another_users_upn_is_refused(db: Engine) -> None:
    upsert(db, userPrincipalName="taken@example.com")
    other = upsert(db, userPrincipalName="free@example.com")
    with pytest.raises(DirectoryError, match="already belongs"):
        upsert(db, objectId=other.object_id, userPrincipalName="TAKEN@example.com")
    with pytest.raises(DirectoryError, match="already belongs"):
        upsert(db, objectId="new-id", userPrincipalName="taken@example.com")


def test_soft_delete_and_restore_stamp_the_user(db: Engine) -> None:
    user = upsert(db, userPrincipalName="gone@example.com")
    with write_transaction(db) as conn:
        deleted = store.soft_delete_user(conn, "GONE@example.com")
    assert deleted.soft_deleted
    assert deleted.deleted_at is not None
    assert deleted.deleted_at.tzinfo is not None
    assert deleted.change_seq > user.change_seq
    with read_transaction(db) as conn:
        assert [u.object_id for u in store.iter_users(conn)] == [user.object_id]
        assert store.iter_users(conn, include_deleted=False) == []
    with write_transaction(db) as conn:
        again = store.soft_delete_user(conn, "gone@example.com")
    assert again.change_seq == deleted.change_seq  # already deleted: nothing changes
    with write_transaction(db) as conn:
        restored = store.restore_user(conn, "gone@example.com")
    assert not restored.soft_deleted
    assert restored.change_seq > deleted.change_seq


def test_deleting_an_unknown_user_names_it(db: Engine) -> None:
    with (
        pytest.raises(store.UnknownObject, match=r"nobody@example\.com"),
        write_transaction(db) as conn,
    ):
        store.soft_delete_user(conn, "nobody@example.com")


def test_hard_delete_leaves_a_tombstone_and_unlinks_everything(db: Engine) -> None:
    boss = upsert(db, userPrincipalName="boss@example.com")
    report = upsert(db, userPrincipalName="report@example.com", manager=boss.object_id)
    with write_transaction(db) as conn:
        group = store.upsert_group(conn, {"displayName": "Team"})
        store.set_group_members(conn, group.object_id, [("user", boss.object_id)])
        store.assign(conn, APP, "user", boss.object_id, "User")
        watermark = store.current_seq(conn)
        store.hard_delete_user(conn, "boss@example.com")
    with read_transaction(db) as conn:
        assert store.get_user(conn, boss.object_id) is None
        assert store.members_of(conn, [group.object_id]) == {group.object_id: []}
        left = store.get_user(conn, report.object_id)
        assert left is not None
        assert left.manager_id is None
        assert "manager" not in left.attributes
        assert store.assignments_for_app(conn, APP) == []
        changes = store.changes_since(conn, watermark, APP)
    assert [(t.object_type, t.object_id) for t in changes.tombstones] == [("user", boss.object_id)]
    assert changes.user_ids == {report.object_id}  # its manager went away
    assert changes.group_ids == {group.object_id}  # it lost a member
    assert changes.assignment_principals == {("user", boss.object_id)}


def test_purge_removes_users_deleted_more_than_30_days_ago(db: Engine) -> None:
    upsert(db, userPrincipalName="old@example.com")
    upsert(db, userPrincipalName="recent@example.com")
    kept = upsert(db, userPrincipalName="active@example.com")
    now = store.utcnow()
    with write_transaction(db) as conn:
        store.soft_delete_user(conn, "old@example.com", now - timedelta(days=31))
        recent = store.soft_delete_user(conn, "recent@example.com", now - timedelta(days=29))
        watermark = store.current_seq(conn)
        assert store.purge_deleted(conn, now) == 1
    with read_transaction(db) as conn:
        remaining = {u.object_id for u in store.iter_users(conn)}
        tombstones = store.changes_since(conn, watermark, APP).tombstones
    assert remaining == {recent.object_id, kept.object_id}
    assert len(tombstones) == 1
    assert tombstones[0].object_type == "user"
    with write_transaction(db) as conn:
        assert store.purge_deleted(conn, now + timedelta(days=2)) == 1
        assert store.purge_deleted(conn, now + timedelta(days=2)) == 0


def test_assign_unassign_and_revive(db: Engine) -> None:
    user = upsert(db, userPrincipalName="u@example.com")
    with write_transaction(db) as conn:
        first = store.assign(conn, APP, "user", user.object_id, "User")
        same = store.assign(conn, APP, "user", user.object_id, "User")
        store.assign(conn, APP, "user", user.object_id, "Superuser")
    assert same.change_seq == first.change_seq  # already assigned: no change
    with write_transaction(db) as conn:
        assert store.unassign(conn, APP, "user", user.object_id, "User") == 1
        assert store.unassign(conn, APP, "user", user.object_id, "User") == 0
    with read_transaction(db) as conn:
        live = store.assignments_for_app(conn, APP)
        every = store.assignments_for_app(conn, APP, include_deleted=True)
    assert [a.role for a in live] == ["Superuser"]
    unassigned = next(a for a in every if a.role == "User")
    assert unassigned.deleted_at is not None
    assert unassigned.change_seq > first.change_seq
    with write_transaction(db) as conn:
        revived = store.assign(conn, APP, "user", user.object_id, "User")
        assert store.unassign(conn, APP, "user", user.object_id) == 2  # every role
    assert revived.deleted_at is None
    assert revived.change_seq > unassigned.change_seq


def test_assignments_need_a_live_principal(db: Engine) -> None:
    upsert(db, userPrincipalName="d@example.com")
    with write_transaction(db) as conn:
        deleted = store.soft_delete_user(conn, "d@example.com")
    with pytest.raises(DirectoryError, match="restore it first"), write_transaction(db) as conn:
        store.assign(conn, APP, "user", deleted.object_id, "User")
    with pytest.raises(store.UnknownObject), write_transaction(db) as conn:
        store.assign(conn, APP, "group", "no-such-group", "User")
    with pytest.raises(DirectoryError, match="neither"), write_transaction(db) as conn:
        store.assign(conn, APP, "device", deleted.object_id, "User")


def test_changes_since_returns_only_what_changed_after_the_watermark(db: Engine) -> None:
    before = upsert(db, userPrincipalName="before@example.com")
    with write_transaction(db) as conn:
        group = store.upsert_group(conn, {"displayName": "Untouched"})
        watermark = store.current_seq(conn)
    after = upsert(db, userPrincipalName="after@example.com")
    with write_transaction(db) as conn:
        store.assign(conn, APP, "user", before.object_id, "User")
        store.assign(conn, OTHER_APP, "group", group.object_id, "User")
        changed_group = store.upsert_group(conn, {"displayName": "New"})
    with read_transaction(db) as conn:
        changes = store.changes_since(conn, watermark, APP)
        high = store.current_seq(conn)
        nothing = store.changes_since(conn, high, APP)
    assert changes.user_ids == {after.object_id}
    assert changes.group_ids == {changed_group.object_id}
    assert changes.assignment_principals == {("user", before.object_id)}  # not the other app's
    assert changes.tombstones == []
    assert changes.high_water == high
    assert nothing.empty
    assert nothing.high_water == high


def test_a_tombstone_is_superseded_when_the_object_id_comes_back(db: Engine) -> None:
    upsert(db, objectId="phoenix", userPrincipalName="p@example.com")
    watermark = seq(db)
    with write_transaction(db) as conn:
        store.hard_delete_user(conn, "p@example.com")
    with read_transaction(db) as conn:
        gone = store.changes_since(conn, watermark, APP)
    assert [t.object_id for t in gone.tombstones] == ["phoenix"]
    upsert(db, objectId="phoenix", userPrincipalName="p@example.com")
    with read_transaction(db) as conn:
        back = store.changes_since(conn, watermark, APP)
    assert back.user_ids == {"phoenix"}
    assert back.tombstones == []


def test_reads_by_id_skip_unknown_ids(db: Engine) -> None:
    a = upsert(db, userPrincipalName="a@example.com")
    b = upsert(db, userPrincipalName="b@example.com")
    with read_transaction(db) as conn:
        found = store.users_by_ids(conn, [a.object_id, b.object_id, "missing"])
        assert store.get_user(conn, "missing") is None
    assert set(found) == {a.object_id, b.object_id}
    assert found[a.object_id] == a


def test_chunks_split_long_id_lists() -> None:
    assert list(store.chunks(["a", "b", "c", "d", "e"], size=2)) == [["a", "b"], ["c", "d"], ["e"]]
    assert list(store.chunks([])) == []


def test_groups_upsert_by_object_id_then_display_name(db: Engine) -> None:
    with write_transaction(db) as conn:
        group = store.upsert_group(conn, {"displayName": "Sales", "description": "EMEA"})
        same = store.upsert_group(conn, {"displayName": "Sales", "description": "EMEA"})
        cased = store.upsert_group(conn, {"displayName": "SALES"})
        renamed = store.upsert_group(
            conn, {"objectId": group.object_id, "displayName": "Sales EMEA"}
        )
        store.upsert_group(conn, {"displayName": "Other"})
        with pytest.raises(DirectoryError, match="already belongs"):
            store.upsert_group(conn, {"objectId": group.object_id, "displayName": "other"})
        with pytest.raises(DirectoryError, match="set_group_members"):
            store.upsert_group(conn, {"displayName": "X", "members": []})
    assert same.change_seq == group.change_seq
    assert cased.object_id == group.object_id  # matched by name in any case
    assert cased.display_name == "SALES"
    assert renamed.object_id == group.object_id
    assert renamed.display_name == "Sales EMEA"
    assert renamed.attributes["description"] == "EMEA"
    assert renamed.change_seq > group.change_seq
