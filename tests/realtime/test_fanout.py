"""Fan-out write paths: the same frame straight to each websocket, or the socket's queue."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import aiohttp

from tests.realtime.conftest import append, member
from tests.realtime.liveclient import LiveClient


def _torrent_stream() -> str:
    return f"torrent:{random.randint(10**9, 10**12)}"


async def test_events_to_a_room_are_written_straight_to_each_websocket_in_order(
    server: Any, hub: Any
) -> None:
    alice, bob = await member(hub), await member(hub)
    stream = _torrent_stream()
    clients = [LiveClient(token=alice.token), LiveClient(token=bob.token)]
    for client in clients:
        await client.connect(server.base_url)
        await client.subscribe({stream: None})
    sio = hub.sio
    for client in clients:
        eio_sid = sio.manager.eio_sid_from_sid(client.sio.get_sid(), "/")
        # Hypercorn, HTTP/1.1, no compression: the fan-out may write frames directly.
        assert sio.eio.sockets[eio_sid].hub_route is not None
    await append(hub, stream, 30)
    for client in clients:
        await client.wait_for(lambda c=client: len(c.raw_seqs(stream)) >= 30)
        assert client.raw_seqs(stream) == list(range(1, 31))


async def test_compressed_websocket_gets_every_event_through_its_queue(
    server: Any, hub: Any
) -> None:
    """Browsers negotiate permessage-deflate: each member's frame differs, so no shared frame."""
    carol = await member(hub)
    stream = _torrent_stream()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            server.url("/socket.io/?EIO=4&transport=websocket"), compress=15
        )
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40" + json.dumps({"token": carol.token}))
        assert (await ws.receive_str()).startswith("40")
        sid = next(
            s for s, conn in hub.sio.connections.items() if conn.viewer.user_id == carol.id
        )
        eio_sid = hub.sio.manager.eio_sid_from_sid(sid, "/")
        assert hub.sio.eio.sockets[eio_sid].hub_route is None
        await ws.send_str("420" + json.dumps(["subscribe", {"streams": {stream: None}}]))
        seqs: list[int] = []

        async def read() -> None:
            async for msg in ws:
                data = msg.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith("42"):
                    name, event = json.loads(data[2:])
                    if name == "event" and event["stream"] == stream:
                        seqs.append(event["seq"])
                        if len(seqs) == 20:
                            return

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        await append(hub, stream, 20)
        await asyncio.wait_for(reader, 10)
        assert seqs == list(range(1, 21))
        await ws.close()
