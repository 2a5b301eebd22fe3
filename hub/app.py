"""One ASGI application: Socket.IO around a router that sends announce/scrape to the
tracker's raw handler and everything else to Quart (see DESIGN.md, "Processes")."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import socketio

from hub import db
from hub.config import Settings
from hub.embedded import EmbeddedServices, start_embedded

log = logging.getLogger(__name__)

Scope = dict[str, Any]

ALL_ROLES = frozenset({"web", "tracker", "worker"})


@dataclass
class Hub:
    """The running site: settings, connections and the role-specific services."""

    settings: Settings
    roles: frozenset[str] = ALL_ROLES
    migrate_on_start: bool = True
    embedded: EmbeddedServices | None = None
    pool: asyncpg.Pool = field(init=False)
    redis: aioredis.Redis = field(init=False)
    sio: socketio.AsyncServer = field(init=False)
    tracker: Any = None
    worker: Any = None
    database_url: str = field(init=False, default="")
    redis_url: str = field(init=False, default="")

    async def start(self) -> None:
        s = self.settings
        if s.database_url is None or s.redis_url is None:
            self.embedded = await asyncio.to_thread(
                start_embedded, s.var_dir, s.database_url, s.redis_url
            )
        self.database_url = s.database_url or (self.embedded and self.embedded.database_url) or ""
        self.redis_url = s.redis_url or (self.embedded and self.embedded.redis_url) or ""
        if self.migrate_on_start:
            await db.migrate(self.database_url)
        self.pool = await db.create_pool(self.database_url)
        self.redis = aioredis.from_url(self.redis_url)

        from hub.realtime import events

        events.configure(self)
        from hub.realtime import server as live

        await live.start(self)
        if "tracker" in self.roles:
            from hub.tracker.service import TrackerService

            self.tracker = TrackerService(self)
            await self.tracker.start()
        if "web" in self.roles:
            from hub.accounts.bootstrap import ensure_first_admin

            await ensure_first_admin(self)
        if "worker" in self.roles:
            from hub.tasks.runner import Worker

            self.worker = Worker(self)
            await self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        if self.tracker is not None:
            await self.tracker.stop()
        from hub.realtime import events
        from hub.realtime import server as live

        await live.stop(self)
        await events.shutdown(self)
        await self.redis.aclose()
        await self.pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


def create_app(
    settings: Settings | None = None, roles: frozenset[str] = ALL_ROLES
) -> socketio.ASGIApp:
    """Build the site's ASGI app; the connections open in the lifespan startup."""
    from hub.pages import create_quart_app
    from hub.realtime.server import create_sio

    hub = Hub(settings or Settings.from_env(), roles)
    quart_app = create_quart_app(hub)
    hub.sio = create_sio(hub)

    async def router(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and hub.tracker is not None:
            path: str = scope["path"]
            if path.startswith("/announce/") or path.startswith("/scrape/"):
                await hub.tracker(scope, receive, send)
                return
        await quart_app(scope, receive, send)  # type: ignore[arg-type]

    async def on_startup() -> None:
        await hub.start()
        await quart_app.startup()

    async def on_shutdown() -> None:
        await quart_app.shutdown()
        await hub.stop()

    app = socketio.ASGIApp(
        hub.sio,
        other_asgi_app=router,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        socketio_path="socket.io",
    )
    app.hub = hub
    app.quart_app = quart_app
    return app
