"""Real parts for every test: a Postgres, a Redis and the whole app on a real socket.

By default both servers are embedded (started from their wheels in a temporary folder);
HUB_TEST_DATABASE_URL and HUB_TEST_REDIS_URL select existing servers instead, in which
case a fresh database is created for the run and dropped after it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from hub.config import Settings
from hub.embedded import EmbeddedServices


@dataclass
class Backends:
    database_url: str
    redis_url: str
    admin_url: str | None  # server-level URL used to create/drop the test database
    database_name: str | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    var = tmp_path_factory.mktemp("var")
    embedded = EmbeddedServices(var)
    db_url = os.environ.get("HUB_TEST_DATABASE_URL")
    redis_url = os.environ.get("HUB_TEST_REDIS_URL")
    name = None
    admin = None
    if db_url:
        admin = db_url
        name = f"hub_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_create_database(admin, name))
        db_url = _with_database(admin, name)
    else:
        db_url = embedded.start_postgres("hub_test")
    if not redis_url:
        redis_url = embedded.start_valkey()
    else:
        redis_url = redis_url.rstrip("/") + "/" if redis_url.count("/") < 3 else redis_url
        # Rate-limit counters and presence from an earlier run would leak into this one
        # (a shared server keeps them for up to an hour): the run owns this database.
        import redis as sync_redis

        sync_redis.Redis.from_url(redis_url).flushdb()
    yield Backends(db_url, redis_url, admin, name)
    if admin and name:
        asyncio.run(_drop_database(admin, name))
    embedded.stop()


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    scheme, _, rest = base.partition("://")
    host, _, _old = rest.partition("/")
    return f"{scheme}://{host}/{name}" + (f"?{query}" if query else "")


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def settings(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("hubvar")
    port = free_port()
    return Settings.from_env(
        database_url=backends.database_url,
        redis_url=backends.redis_url,
        var_dir=var,
        secret_key="test-secret-" + uuid.uuid4().hex,
        base_url=f"http://127.0.0.1:{port}",
        registration="open",
        announce_min_interval=0,
        flush_interval_seconds=0.5,
    )


@dataclass
class LiveServer:
    app: Any
    base_url: str
    port: int

    @property
    def hub(self) -> Any:
        return self.app.hub

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest_asyncio.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The whole site (web, tracker, worker) under Hypercorn on a free loopback port."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from hub.app import create_app

    app = create_app(settings)
    port = int(settings.base_url.rsplit(":", 1)[1])
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 2
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    live = LiveServer(app, settings.base_url, port)
    for _ in range(200):
        if task.done():
            task.result()
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield live
    stop.set()
    await task


@pytest_asyncio.fixture(scope="session")
async def hub(server: LiveServer) -> Any:
    return server.hub


@pytest_asyncio.fixture
async def http(server: LiveServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A fresh browser-like client with its own cookie jar."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as session:
        yield session


CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, and this machine's
# closed network refuses it; no sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright (which cannot download a browser here)."""
    from playwright.async_api import async_playwright

    if not CHROMIUM.exists():  # noqa: ASYNC240 (one stat, before anything runs)
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
