"""Encrypt apps' secret tokens at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from ``$SCIMITAR_SECRET_KEY`` when set: one Fernet key, or several
separated by commas to rotate (the first encrypts, any of them decrypts). Otherwise
it is read from ``secret.key`` in the data folder, which is generated on first use:
``$SCIMITAR_DATA_DIR`` if set, else the folder of the SQLite database file, else
``$XDG_DATA_HOME/scimitar`` (``~/.local/share/scimitar``). Keeping the key beside
the SQLite file means a copied folder still decrypts; keeping it out of the
database means a leaked database dump alone reveals no token.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

KEY_ENV = "SCIMITAR_SECRET_KEY"
DATA_DIR_ENV = "SCIMITAR_DATA_DIR"
KEY_FILE = "secret.key"
_GENERATE_HINT = (
    "generate one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class SecretKeyError(Exception):
    """The secret key is missing, malformed, or not the one a token was saved with."""


def data_dir(database_url: str) -> Path:
    """Return the folder that holds ``secret.key`` for this database."""
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    try:
        url = make_url(database_url)
    except ArgumentError:
        url = None
    if url is not None and url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            return Path(database).expanduser().resolve().parent
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "scimitar"


def key_path(database_url: str) -> Path:
    """Return the path of the generated key file for this database."""
    return data_dir(database_url) / KEY_FILE


def _fernet(raw_keys: list[bytes], source: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in raw_keys])
    except ValueError:
        raise SecretKeyError(
            f"{source} is not a Fernet key (32 url-safe base64-encoded bytes); {_GENERATE_HINT}"
        ) from None


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` unless one is there; never leave a partial file.

    The key is written to a private temporary file first and then hard-linked into
    place: ``link`` fails if the name exists, so when two processes race, exactly
    one key wins and both go on to read that one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _file_keys(database_url: str, *, create: bool) -> MultiFernet:
    path = key_path(database_url)
    if not path.exists():
        if not create:
            raise SecretKeyError(
                f"no secret key: {KEY_ENV} is not set and {path} does not exist; "
                f"set {KEY_ENV} to the key the tokens were saved with"
            )
        try:
            _create_key_file(path)
        except OSError as exc:
            raise SecretKeyError(
                f"cannot create the secret key file {path} ({exc.strerror or exc}); "
                f"set {DATA_DIR_ENV} to a writable folder, or set {KEY_ENV}"
            ) from exc
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc}") from exc
    return _fernet([text.encode()], f"the secret key file {path}")


def _keys(database_url: str, *, create: bool) -> MultiFernet:
    configured = os.environ.get(KEY_ENV, "").strip()
    if configured:
        raw = [part.strip().encode() for part in configured.split(",") if part.strip()]
        return _fernet(raw, KEY_ENV)
    return _file_keys(database_url, create=create)


def encrypt_token(token: str, database_url: str) -> str:
    """Return ``token`` encrypted with the current key (generated on first use)."""
    return _keys(database_url, create=True).encrypt(token.encode()).decode("ascii")


def decrypt_token(ciphertext: str, database_url: str) -> str:
    """Return the token ``ciphertext`` holds, or raise ``SecretKeyError``."""
    keys = _keys(database_url, create=False)
    try:
        return keys.decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SecretKeyError(
            "the secret key does not match the one the token was saved with; set "
            f"{KEY_ENV} to that key (or restore {key_path(database_url)}), or save the "
            "token again with `scimitar app set NAME --secret-token TOKEN`"
        ) from None
