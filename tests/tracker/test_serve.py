"""`hub tracker` on the server it ships with: a real announce, a failure and a scrape through
Granian in its own process, against the same Postgres and Redis as the rest of the suite."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio

from hub.tracker.serve import DEFAULT_SERVER
from tests.conftest import free_port, project_root
from tests.tracker.conftest import Client, make_member, make_torrent, peer_id


@pytest_asyncio.fixture
async def standalone(hub: Any, settings: Any) -> AsyncIterator[str]:
    port = free_port()
    env = {**os.environ, "HUB_DATABASE_URL": settings.database_url,
           "HUB_REDIS_URL": settings.redis_url, "HUB_VAR_DIR": str(settings.var_dir),
           "HUB_SECRET_KEY": settings.secret_key, "HUB_ANNOUNCE_MIN_INTERVAL": "0"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.tracker.serve", "--server", DEFAULT_SERVER,
        "--port", str(port),
        env=env, cwd=project_root(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                assert proc.returncode is None, "tracker process exited"
                try:
                    async with session.get(f"http://127.0.0.1:{port}/scrape/x") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        async with asyncio.timeout(20):
            await proc.wait()


async def test_shipped_server_answers_announce_failure_and_scrape(
    hub: Any, standalone: str
) -> None:
    # created before the standalone tracker loaded its caches? not necessarily: it looks
    # unknown passkeys up on a miss, so retry once after the first refusal
    seeder, leecher = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, seeder)
    async with aiohttp.ClientSession() as session:
        client = Client(session, standalone)
        for _ in range(50):
            first = await client.announce(seeder, torrent, peer_id(), event="started", left=0,
                                          port=43001)
            if first.failure is None:
                break
            await asyncio.sleep(0.1)
        assert first.failure is None and first.keys_sorted_and_canonical()
        for _ in range(50):
            reply = await client.announce(leecher, torrent, peer_id(), event="started")
            if reply.failure is None:
                break
            await asyncio.sleep(0.1)
        assert reply.peers() == [("127.0.0.1", 43001)]
        bad = await client.announce(leecher, torrent, peer_id(), port=80)
        assert "port 80" in (bad.failure or "")
        scrape = await client.scrape(leecher, torrent.info_hash)
        assert scrape.data[b"files"][torrent.info_hash][b"complete"] == 1
        async with session.get(f"{standalone}/other") as resp:
            assert resp.status == 404
