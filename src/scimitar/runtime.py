"""What ``scimitar serve`` runs in each worker: the SCIM target and the scheduler.

The server package never imports the engine and the engine never imports the
server (they meet only over HTTP); this module is where the one process that
serves both is put together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from scimitar.provisioning.scheduler import Scheduler, scheduler_enabled
from scimitar.server.app import create_app
from scimitar.server.asgi import App
from scimitar.settings import Settings


def create_app_from_env() -> App:
    """Factory for uvicorn: the SCIM target, plus the provisioning scheduler unless off."""
    settings = Settings.from_env()
    app = create_app(settings)
    if not scheduler_enabled():
        return app
    serve_lifespan = app.lifespan

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        scheduler = Scheduler(settings.database_url)
        async with serve_lifespan():
            task = asyncio.create_task(scheduler.run())
            try:
                yield
            finally:
                scheduler.stop()
                await task

    app.lifespan = lifespan
    return app
