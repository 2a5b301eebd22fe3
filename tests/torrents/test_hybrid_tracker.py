"""A hybrid torrent uploaded here is one swarm, whichever hash a client announces."""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from typing import Any

import aiohttp
import bencodepy

from hub.torrents import actions
from hub.tracker.service import MISS_RETRY_SECONDS
from tests.factories import login, make_moderator, make_user
from tests.torrents.builders import hybrid_torrent
from tests.torrents.helpers import category_id, upload, viewer_of


async def _announce(
    http: aiohttp.ClientSession, passkey: str, info_hash: bytes, peer_id: bytes, port: int
) -> dict[bytes, Any]:
    query = urllib.parse.urlencode(
        {
            "info_hash": info_hash,
            "peer_id": peer_id,
            "port": port,
            "uploaded": 0,
            "downloaded": 0,
            "left": 1000,
            "event": "started",
            "compact": 1,
        }
    )
    async with http.get(f"/announce/{passkey}?{query}") as r:
        assert r.status == 200
        decoded: dict[bytes, Any] = bencodepy.decode(await r.read())
        return decoded


async def test_hybrid_is_announced_by_sha1_and_by_truncated_sha256(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    member = await make_user(hub)
    await login(http, member)
    data, _root = hybrid_torrent()
    status, body = await upload(http, data, await category_id(hub))
    assert status == 201, body
    await actions.approve_torrent(hub, await viewer_of(hub, await make_moderator(hub)), body["id"])
    v1 = bytes.fromhex(body["info_hash"])
    v2 = bytes.fromhex(body["info_hash_v2"])[:20]
    other = await make_user(hub)
    first = await _until_accepted(
        http, member.passkey, v1, b"-qB4650-" + os.urandom(6).hex().encode(), 51413
    )
    assert b"failure reason" not in first, first
    # New members and approvals reach the tracker through Redis, after commit.
    second = await _until_accepted(
        http, other.passkey, v2, b"-lt2010-" + os.urandom(6).hex().encode(), 51414
    )
    assert b"failure reason" not in second, second
    # The second client, announcing the v2 hash, is given the first (v1) as a peer.
    assert len(second[b"peers"]) == 6


async def _until_accepted(
    http: aiohttp.ClientSession, passkey: str, info_hash: bytes, peer_id: bytes, port: int
) -> dict[bytes, Any]:
    # A key the tracker has just looked up and not found is not looked up again for
    # MISS_RETRY_SECONDS (junk keys must not cost a query each), so wait longer than that.
    reply: dict[bytes, Any] = {}
    for _ in range(int((MISS_RETRY_SECONDS + 5) / 0.1)):
        reply = await _announce(http, passkey, info_hash, peer_id, port)
        if b"failure reason" not in reply:
            break
        await asyncio.sleep(0.1)
    return reply
