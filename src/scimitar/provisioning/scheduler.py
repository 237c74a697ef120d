"""Run each app's cycles on its schedule: every 40 minutes by default, as Entra does.

The scheduler lives in every ``scimitar serve`` worker; the database lease taken
by ``run_cycle`` makes sure only one of them runs a given app's cycle. A due app
is one that is on, whose ``next_run`` has come, and that is not in quarantine (a
quarantined app is retried when its quarantine ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from scimitar.db.engine import make_engine, write_transaction
from scimitar.directory import store as directory
from scimitar.provisioning.engine.cycle import Quarantined, run_cycle
from scimitar.provisioning.engine.state import CycleBusy
from scimitar.provisioning.tables import apps, provisioning_state

log = logging.getLogger("scimitar.scheduler")

POLL_ENV = "SCIMITAR_SCHEDULER_POLL_SECONDS"
ENABLED_ENV = "SCIMITAR_SCHEDULER"
DEFAULT_POLL_SECONDS = 30.0
# Purging soft-deleted directory users (after 30 days) needs doing about daily.
PURGE_EVERY = timedelta(hours=6)
CRASH_BACKOFF = timedelta(minutes=5)


def scheduler_enabled() -> bool:
    return os.environ.get(ENABLED_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def poll_seconds() -> float:
    raw = os.environ.get(POLL_ENV, "")
    try:
        return max(0.1, float(raw)) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        raise SystemExit(f"{POLL_ENV} must be a number of seconds, not {raw!r}") from None


def due_apps(engine: Engine, now: datetime) -> list[str]:
    """Names of the apps whose cycle is due now."""
    query = (
        select(apps.c.name)
        .select_from(apps.outerjoin(provisioning_state, provisioning_state.c.app_id == apps.c.id))
        .where(
            apps.c.status == "on",
            or_(provisioning_state.c.next_run.is_(None), provisioning_state.c.next_run <= now),
            or_(
                provisioning_state.c.quarantine_until.is_(None),
                provisioning_state.c.quarantine_until <= now,
            ),
        )
        .order_by(apps.c.id)
    )
    with engine.connect() as conn:
        return [row.name for row in conn.execute(query)]


class Scheduler:
    """Polls for due apps and runs their cycles, one at a time, in a worker thread."""

    def __init__(self, database_url: str, poll: float | None = None) -> None:
        self.database_url = database_url
        self.poll = poll if poll is not None else poll_seconds()
        self.engine = make_engine(database_url)
        self._stop = asyncio.Event()
        self._last_purge: datetime | None = None

    async def run(self) -> None:
        log.info("provisioning scheduler started (polling every %.1f s)", self.poll)
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # keep scheduling: one bad tick must not stop every app
                log.exception("provisioning scheduler tick failed")
            with contextlib.suppress(TimeoutError):  # woken by stop(), or time to poll
                await asyncio.wait_for(self._stop.wait(), timeout=self.poll)
        self.engine.dispose()

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> None:
        """Run every due app's cycle now (blocking)."""
        now = datetime.now(UTC)
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            with write_transaction(self.engine) as conn:
                purged = directory.purge_deleted(conn, now)
            if purged:
                log.info("purged %d object(s) soft-deleted more than 30 days ago", purged)
            self._last_purge = now
        for name in due_apps(self.engine, now):
            if self._stop.is_set():
                return
            self._run_one(name)

    def _back_off(self, name: str) -> None:
        """Wait a while before retrying an app whose cycle crashed, instead of every poll."""
        with write_transaction(self.engine) as conn:
            app_id = conn.execute(select(apps.c.id).where(apps.c.name == name)).scalar()
            conn.execute(
                update(provisioning_state)
                .where(provisioning_state.c.app_id == app_id)
                .values(next_run=datetime.now(UTC) + CRASH_BACKOFF)
            )

    def _run_one(self, name: str) -> None:
        try:
            summary = run_cycle(self.engine, self.database_url, name)
        except (CycleBusy, Quarantined) as reason:
            log.info("cycle of %r not run: %s", name, reason)
            return
        except Exception:
            log.exception("cycle of %r failed", name)
            self._back_off(name)
            return
        log.info(
            "cycle of %r (%s): %s, %d request(s) in %.1f s",
            name,
            summary.type,
            summary.to_json()["counts"],
            summary.requests,
            summary.duration_seconds,
        )
