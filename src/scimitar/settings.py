"""Runtime settings, read once from the environment (``SCIMITAR_*``) with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass

from scimitar.db.engine import database_url

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_BULK_OPS = 1000
DEFAULT_MAX_RESULTS = 1000


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """What the server needs to know; every field has an environment variable."""

    database_url: str
    # Largest request body accepted, in bytes (413 above it). Bulk advertises the same.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Bulk limits advertised in /ServiceProviderConfig (RFC 7644 §3.7.4).
    max_bulk_operations: int = DEFAULT_MAX_BULK_OPS
    # Largest page a list or search returns (RFC 7643 §5 filter.maxResults).
    max_results: int = DEFAULT_MAX_RESULTS

    @classmethod
    def from_env(cls, database: str | None = None) -> Settings:
        """Build settings from ``SCIMITAR_*`` variables; ``database`` overrides the URL."""
        return cls(
            database_url=database_url(database),
            max_body_bytes=_int_env("SCIMITAR_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            max_bulk_operations=_int_env("SCIMITAR_MAX_BULK_OPERATIONS", DEFAULT_MAX_BULK_OPS),
            max_results=_int_env("SCIMITAR_MAX_RESULTS", DEFAULT_MAX_RESULTS),
        )
