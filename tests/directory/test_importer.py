"""Importing JSON and CSV files: upserts, --replace, and bad files rejected whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store
from scimitar.directory.importer import (
    Counts,
    DirectoryImportError,
    import_bytes,
    import_file,
)

DATA = Path(__file__).with_name("data")
BAD = DATA / "bad"
Snapshot = Callable[[], dict[str, Any]]


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(orjson.dumps(content))
    return path


def user(db: Engine, upn: str) -> store.DirectoryUser:
    with read_transaction(db) as conn:
        found = store.find_user(conn, upn)
    assert found is not None, upn
    return found


def group_members(db: Engine, name: str) -> set[tuple[str, str]]:
    with read_transaction(db) as conn:
        found = store.find_group(conn, name)
        assert found is not None, name
        return set(store.members_of(conn, [found.object_id])[found.object_id])


def test_json_import_creates_users_groups_and_nested_memberships(db: Engine) -> None:
    report = import_file(db, DATA / "org.json")
    assert report.users == Counts(created=3)
    assert report.groups == Counts(created=3)
    assert report.members_added == 5
    assert report.change_seq is not None
    grace, alan, ada = (user(db, f"{n}@contoso.com") for n in ("grace", "alan", "ada"))
    assert grace.manager_id == alan.object_id  # named before alan was: resolved anyway
    assert grace.attributes["costCenter"] == "CC-42"  # extras are kept
    assert grace.attributes["skills"] == ["COBOL", "compilers"]
    assert grace.attributes["physicalDeliveryOfficeName"] == "Building 7"
    assert ada.object_id == "0d6a3c8e-5a55-4d5b-9a43-000000000003"
    assert ada.account_enabled is False
    assert {grace.change_seq, alan.change_seq, ada.change_seq} == {report.change_seq}
    with read_transaction(db) as conn:
        research = store.find_group(conn, "Research")
        everyone = store.find_group(conn, "group-0003")
        assert research is not None
        assert everyone is not None
        assert everyone.display_name == "Everyone"
        assert store.flatten_members(conn, everyone.object_id) == {
            grace.object_id,
            alan.object_id,
            ada.object_id,
        }
    assert group_members(db, "Engineering") == {
        ("user", grace.object_id),
        ("group", research.object_id),
    }


def test_reimporting_the_same_file_changes_nothing(db: Engine, snapshot: Callable[[], Any]) -> None:
    import_file(db, DATA / "org.json")
    before = snapshot()
    report = import_file(db, DATA / "org.json")
    assert report.users == Counts(unchanged=3)
    assert report.groups == Counts(unchanged=3)
    assert (report.members_added, report.members_removed) == (0, 0)
    assert report.change_seq is None
    assert snapshot() == before  # not even the change counter moved


def test_csv_import_reads_booleans_quotes_and_extras(db: Engine) -> None:
    report = import_file(db, DATA / "users.csv")
    assert report.users == Counts(created=3)
    lin, mo, kim = (user(db, f"{n}@contoso.com") for n in ("lin", "mo", "kim"))
    assert lin.account_enabled is True
    assert lin.attributes["costCenter"] == "CC-1"
    assert "manager" not in lin.attributes  # an empty cell is no value
    assert mo.account_enabled is False
    assert mo.attributes["displayName"] == "Mo, Jr."
    assert mo.manager_id == lin.object_id
    assert kim.account_enabled is True
    assert kim.attributes["displayName"] == "Kim\r\nwith a break"
    assert kim.manager_id == lin.object_id
    assert "department" not in kim.attributes


def test_csv_with_a_byte_order_mark_and_no_extension(db: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path, "export", "\ufeffuserPrincipalName,jobTitle\r\nx@contoso.com,Chef\r\n".encode()
    )
    import_file(db, path)
    assert user(db, "x@contoso.com").attributes["jobTitle"] == "Chef"


def test_an_update_changes_only_what_the_entry_says(db: Engine, tmp_path: Path) -> None:
    import_file(db, DATA / "org.json")
    grace = user(db, "grace@contoso.com")
    alan = user(db, "alan@contoso.com")
    path = write(
        tmp_path,
        "update.json",
        {
            "users": [
                {"userPrincipalName": "GRACE@contoso.com", "jobTitle": "Admiral", "mobile": None}
            ]
        },
    )
    report = import_file(db, path)
    assert report.users == Counts(updated=1)
    updated = user(db, "grace@contoso.com")
    assert updated.attributes["jobTitle"] == "Admiral"
    assert "mobile" not in updated.attributes
    assert updated.attributes["city"] == "Arlington"  # left out: kept
    assert updated.user_principal_name == "GRACE@contoso.com"
    assert updated.change_seq > grace.change_seq
    assert user(db, "alan@contoso.com").change_seq == alan.change_seq


def test_membership_changes_stamp_the_group_and_the_members(db: Engine, tmp_path: Path) -> None:
    import_file(db, DATA / "org.json")
    with read_transaction(db) as conn:
        watermark = store.current_seq(conn)
    path = write(
        tmp_path,
        "move.json",
        {
            "groups": [
                {"displayName": "Research", "members": ["ada@contoso.com", "grace@contoso.com"]}
            ]
        },
    )
    report = import_file(db, path)
    assert (report.members_added, report.members_removed) == (1, 1)
    assert report.groups == Counts(unchanged=1)
    with read_transaction(db) as conn:
        changes = store.changes_since(conn, watermark, app_id=1)
        research = store.find_group(conn, "Research")
    assert research is not None
    assert changes.group_ids == {research.object_id}
    assert changes.user_ids == {
        user(db, "grace@contoso.com").object_id,
        user(db, "alan@contoso.com").object_id,
    }


def test_a_group_entry_without_members_leaves_them_alone(db: Engine, tmp_path: Path) -> None:
    import_file(db, DATA / "org.json")
    before = group_members(db, "Engineering")
    path = write(
        tmp_path, "rename.json", {"groups": [{"displayName": "engineering", "description": "All"}]}
    )
    assert import_file(db, path).groups == Counts(updated=1)
    assert group_members(db, "Engineering") == before


def test_two_users_can_swap_upns_in_one_import(db: Engine, tmp_path: Path) -> None:
    first = {"objectId": "one", "userPrincipalName": "a@contoso.com"}
    second = {"objectId": "two", "userPrincipalName": "b@contoso.com"}
    import_file(db, write(tmp_path, "a.json", {"users": [first, second]}))
    swapped = [
        {**first, "userPrincipalName": "b@contoso.com"},
        {**second, "userPrincipalName": "a@contoso.com"},
    ]
    report = import_file(db, write(tmp_path, "b.json", {"users": swapped}))
    assert report.users == Counts(updated=2)
    assert user(db, "a@contoso.com").object_id == "two"
    assert user(db, "b@contoso.com").object_id == "one"


def test_replace_soft_deletes_users_and_removes_groups_the_file_lacks(
    db: Engine, tmp_path: Path
) -> None:
    import_file(db, DATA / "org.json")
    ada = user(db, "ada@contoso.com")
    with read_transaction(db) as conn:
        everyone = store.find_group(conn, "Everyone")
    assert everyone is not None
    smaller = {
        "users": [
            {"userPrincipalName": "grace@contoso.com"},
            {"userPrincipalName": "alan@contoso.com"},
        ],
        "groups": [
            {"displayName": "Engineering", "members": ["grace@contoso.com"]},
            {"displayName": "Research", "members": ["alan@contoso.com"]},
        ],
    }
    report = import_file(db, write(tmp_path, "smaller.json", smaller), replace=True)
    assert report.users == Counts(unchanged=2, deleted=1)
    assert report.groups == Counts(unchanged=2, deleted=1)
    assert (report.members_added, report.members_removed) == (0, 2)
    assert user(db, "ada@contoso.com").soft_deleted
    with read_transaction(db) as conn:
        assert store.find_group(conn, "Everyone") is None
        changes = store.changes_since(conn, ada.change_seq, app_id=1)
    assert ("group", everyone.object_id) in {
        (t.object_type, t.object_id) for t in changes.tombstones
    }
    # Importing the full file again brings Ada back from the soft delete.
    report = import_file(db, DATA / "org.json", replace=True)
    assert report.users == Counts(unchanged=2, restored=1)
    assert report.groups == Counts(created=1, unchanged=2)
    assert not user(db, "ada@contoso.com").soft_deleted


def test_without_replace_other_users_stay(db: Engine, tmp_path: Path) -> None:
    import_file(db, DATA / "org.json")
    import_file(
        db, write(tmp_path, "one.json", {"users": [{"userPrincipalName": "new@contoso.com"}]})
    )
    with read_transaction(db) as conn:
        assert len(store.iter_users(conn, include_deleted=False)) == 4


def test_references_may_point_at_users_already_in_the_directory(db: Engine, tmp_path: Path) -> None:
    import_file(db, DATA / "org.json")
    content = {
        "users": [{"userPrincipalName": "new@contoso.com", "manager": "alan@contoso.com"}],
        "groups": [{"displayName": "Mixed", "members": ["new@contoso.com", "grace@contoso.com"]}],
    }
    import_file(db, write(tmp_path, "more.json", content))
    assert user(db, "new@contoso.com").manager_id == user(db, "alan@contoso.com").object_id
    assert len(group_members(db, "Mixed")) == 2


BAD_FILES = [
    ("syntax.json", "line 4: not valid JSON at column 42: trailing comma"),
    ("top-level-key.json", 'group (line 3): unknown key; the file holds "users" and "groups"'),
    ("users-not-a-list.json", "users (line 1): expected a list"),
    ("entry-not-an-object.json", "users[0] (line 3): expected an object"),
    ("missing-upn.json", "users[3].userPrincipalName (line 6): missing"),
    ("bad-boolean.json", "users[3].accountEnabled (line 9): expected true or false"),
    ("duplicate-upn.json", "users[1].userPrincipalName (line 4): repeats users[0]"),
    ("duplicate-object-id.json", "users[1].objectId (line 4): repeats users[0]"),
    ("unknown-manager.json", "users[1].manager (line 4): no user 'ghost@contoso.com'"),
    ("unknown-member.json", "groups[0].members[1] (line 8): no user 'ghost@contoso.com'"),
    ("unknown-member-group.json", "groups[0].members[0] (line 3): no group 'Phantoms'"),
    (
        "bad-member-shape.json",
        'groups[0].members[0] (line 4): expected a userPrincipalName or {"group"',
    ),
    ("self-member.json", "groups[0].members[0] (line 3): a group cannot be a member of itself"),
    ("wrong-type.json", "users[0].employeeId (line 3): expected a string, got 1234"),
    ("not-an-upn.json", "users[0].userPrincipalName (line 3): 'just a name' is not of the form"),
    ("missing-display-name.json", "groups[0].displayName (line 3): missing"),
    ("field-count.csv", "line 3: 2 fields, but the header has 3"),
    ("no-upn-column.csv", "line 1: the header has no userPrincipalName column"),
    ("duplicate-column.csv", "line 1, displayName: column 3 repeats this attribute"),
    ("bad-boolean.csv", "line 3, accountEnabled: expected true or false"),
    ("missing-upn.csv", "line 3, userPrincipalName: missing"),
    ("bad-column-name.csv", "line 1, favourite colour: column 2: an attribute name"),
    ("unterminated-quote.csv", "line 2: not valid CSV"),
    ("empty.csv", "line 1: the file is empty"),
]


@pytest.mark.parametrize(("name", "message"), BAD_FILES, ids=[name for name, _ in BAD_FILES])
def test_a_bad_file_is_rejected_whole_naming_line_and_field(
    db: Engine, snapshot: Snapshot, name: str, message: str
) -> None:
    import_file(db, DATA / "org.json")  # something to (not) change
    before = snapshot()
    with pytest.raises(DirectoryImportError) as caught:
        import_file(db, BAD / name)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{name}: rejected (1 problem), nothing imported:")
    assert snapshot() == before


def test_non_utf8_input_names_the_line_and_byte(db: Engine, snapshot: Snapshot) -> None:
    data = b"userPrincipalName,city\na@contoso.com,Paris\nb@contoso.com," + b"Z\xfcrich\n"
    before = snapshot()
    with pytest.raises(DirectoryImportError, match=r"line 3: byte 0xfc at column 16 is not UTF-8"):
        import_bytes(db, data, name="latin1.csv")
    assert snapshot() == before


def test_an_oversized_value_is_refused(db: Engine, snapshot: Snapshot) -> None:
    big = {"users": [{"userPrincipalName": "a@contoso.com", "notes": "x" * 70_000}]}
    before = snapshot()
    with pytest.raises(
        DirectoryImportError, match=r"users\[0\]\.notes \(line 1\): value is 70000 bytes"
    ):
        import_bytes(db, orjson.dumps(big), name="big.json")
    assert snapshot() == before


def test_a_upn_held_by_a_user_the_file_does_not_update_is_refused(
    db: Engine, tmp_path: Path, snapshot: Snapshot
) -> None:
    import_file(db, DATA / "org.json")
    before = snapshot()
    clash = {"users": [{"objectId": "other", "userPrincipalName": "Alan@contoso.com"}]}
    with pytest.raises(
        DirectoryImportError, match=r"userPrincipalName .*already belongs to another user"
    ):
        import_file(db, write(tmp_path, "clash.json", clash))
    assert snapshot() == before


def test_with_replace_references_must_be_in_the_file(
    db: Engine, tmp_path: Path, snapshot: Snapshot
) -> None:
    import_file(db, DATA / "org.json")
    before = snapshot()
    content = {"users": [{"userPrincipalName": "new@contoso.com", "manager": "alan@contoso.com"}]}
    with pytest.raises(DirectoryImportError, match=r"no user 'alan@contoso\.com' in this file$"):
        import_file(db, write(tmp_path, "partial.json", content), replace=True)
    assert snapshot() == before


def test_every_problem_is_listed_with_a_count(db: Engine, snapshot: Snapshot) -> None:
    rows = "\n".join(f"u{i}@contoso.com,maybe" for i in range(25))
    before = snapshot()
    with pytest.raises(DirectoryImportError) as caught:
        import_bytes(db, f"userPrincipalName,accountEnabled\n{rows}\n".encode(), name="many.csv")
    error = caught.value
    assert len(error.problems) == 25
    assert str(error).startswith("many.csv: rejected (25 problems), nothing imported:")
    assert "line 2, accountEnabled" in str(error)
    assert str(error).endswith("... and 5 more")
    assert snapshot() == before


def test_an_unreadable_file_is_an_import_error(tmp_path: Path, db: Engine) -> None:
    with pytest.raises(DirectoryImportError, match="cannot read the file"):
        import_file(db, tmp_path / "missing.json")


def test_the_store_and_the_importer_agree_on_documents(db: Engine) -> None:
    import_file(db, DATA / "org.json")
    grace = user(db, "grace@contoso.com")
    with write_transaction(db) as conn:
        # The same attributes through the store: nothing to change.
        same = store.upsert_user(
            conn, {"userPrincipalName": "grace@contoso.com", "city": "Arlington"}
        )
    assert same.change_seq == grace.change_seq
