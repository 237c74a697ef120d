"""Keep ``password`` values (RFC 7643 §4.1.1) only as salted scrypt hashes.

The attribute is writeOnly and never returned, so the server needs the cleartext
only long enough to hash it. Hashing happens whenever a write changes the value;
a document read back from the database already holds the hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

# scrypt's interactive-login parameters (N=2**14, r=8, p=1): ~16 MiB, tens of ms.
_N, _R, _P = 2**14, 8, 1
_PREFIX = "$scrypt$"


def hash_password(cleartext: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(cleartext.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encoded = base64.b64encode(salt + digest).decode()
    return f"{_PREFIX}{_N}${_R}${_P}${encoded}"


def verify_password(cleartext: str, stored: str) -> bool:
    """Return True when ``cleartext`` matches a hash made by ``hash_password``."""
    try:
        n, r, p, encoded = stored.removeprefix(_PREFIX).split("$")
        raw = base64.b64decode(encoded)
    except ValueError:
        return False
    salt, digest = raw[:16], raw[16:]
    candidate = hashlib.scrypt(
        cleartext.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(digest)
    )
    return hmac.compare_digest(candidate, digest)


def protect(doc: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return ``doc`` with a new ``password`` replaced by its hash.

    A value equal to the previous document's is the stored hash carried over
    unchanged (a PATCH of other attributes), so it is kept as is.
    """
    value = doc.get("password")
    if not isinstance(value, str) or (previous is not None and previous.get("password") == value):
        return doc
    return {**doc, "password": hash_password(value)}
