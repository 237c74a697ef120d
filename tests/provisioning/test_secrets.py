"""Secret tokens at rest: Fernet keys from the environment or a generated key file."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from scimitar.provisioning.secrets import (
    DATA_DIR_ENV,
    KEY_ENV,
    SecretKeyError,
    data_dir,
    decrypt_token,
    encrypt_token,
    key_path,
)

TOKEN = "scimitar_0123456789abcdef_very-secret-token"


@pytest.fixture(autouse=True)
def _no_configured_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_sqlite_key_is_generated_beside_the_database_readable_by_owner_only(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'scimitar.db'}"
    ciphertext = encrypt_token(TOKEN, url)
    key_file = tmp_path / "db" / "secret.key"
    assert key_path(url) == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert TOKEN not in ciphertext
    assert decrypt_token(ciphertext, url) == TOKEN
    # No temporary file is left behind.
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["secret.key"]


def test_data_dir_variable_wins_over_the_database_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    encrypt_token(TOKEN, url)
    assert (tmp_path / "data" / "secret.key").exists()
    assert not (tmp_path / "secret.key").exists()


def test_a_server_database_keeps_its_key_in_the_user_data_folder(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/scimitar"
    assert data_dir(url) == tmp_path / "xdg" / "scimitar"
    assert decrypt_token(encrypt_token(TOKEN, url), url) == TOKEN
    assert (tmp_path / "xdg" / "scimitar" / "secret.key").exists()


def test_the_key_file_is_reused_not_replaced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    first = encrypt_token(TOKEN, url)
    key = (tmp_path / "secret.key").read_bytes()
    second = encrypt_token("another", url)
    assert (tmp_path / "secret.key").read_bytes() == key
    assert decrypt_token(first, url) == TOKEN
    assert decrypt_token(second, url) == "another"


def test_processes_racing_to_create_the_key_agree_on_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(encrypt_token(TOKEN, url))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(decrypt_token(ciphertext, url) == TOKEN for ciphertext in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_environment_key_is_used_and_no_file_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(KEY_ENV, key.decode())
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    ciphertext = encrypt_token(TOKEN, url)
    assert Fernet(key).decrypt(ciphertext.encode()).decode() == TOKEN
    assert not (tmp_path / "secret.key").exists()


def test_a_wrong_key_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    ciphertext = encrypt_token(TOKEN, url)
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(
        SecretKeyError, match="does not match the one the token was saved with"
    ) as e:
        decrypt_token(ciphertext, url)
    assert KEY_ENV in str(e.value)
    assert TOKEN not in str(e.value)


def test_a_missing_key_file_is_not_silently_regenerated_for_decryption(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    ciphertext = encrypt_token(TOKEN, url)
    (tmp_path / "secret.key").unlink()
    with pytest.raises(SecretKeyError, match="no secret key"):
        decrypt_token(ciphertext, url)
    assert not (tmp_path / "secret.key").exists()


def test_rotation_decrypts_with_an_older_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    monkeypatch.setenv(KEY_ENV, old)
    ciphertext = encrypt_token(TOKEN, url)
    monkeypatch.setenv(KEY_ENV, f"{new}, {old}")
    assert decrypt_token(ciphertext, url) == TOKEN
    fresh = encrypt_token(TOKEN, url)
    assert Fernet(new.encode()).decrypt(fresh.encode()).decode() == TOKEN


def test_a_malformed_environment_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(SecretKeyError, match="is not a Fernet key"):
        encrypt_token(TOKEN, f"sqlite:///{tmp_path / 'scimitar.db'}")
