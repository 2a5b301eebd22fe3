"""Live seeder/leecher counts: from the tracker's Redis channel to the sockets watching.

The tracker publishes `{"torrent_id", "seeders", "leechers", "completed"}` objects (one,
or a list of them per flush) on `hub:swarm-counts`, at most once a second per torrent, and
keeps the latest value of each
torrent in the hash `hub:swarm`. A torrent's page hears its own torrent at once (room
`torrent:<id>`); browse pages share one `browse` room that gets a batch at most once per
`BATCH_SECONDS`, holding only the latest value per torrent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

CHANNEL = "hub:swarm-counts"
HASH = "hub:swarm"
BROWSE_ROOM = "browse"
BATCH_SECONDS = 1.0
FIELDS = ("seeders", "leechers", "completed")

Emit = Callable[[str, str, Any], Awaitable[None]]  # (event, room, data), this process only


def normalise(data: dict[str, Any]) -> dict[str, int] | None:
    try:
        counts = {"torrent_id": int(data["torrent_id"])}
        for name in FIELDS:
            counts[name] = max(0, int(data.get(name, 0)))
    except (KeyError, TypeError, ValueError):
        return None
    return counts


class SwarmRelay:
    def __init__(self, emit_local: Emit) -> None:
        self.emit_local = emit_local
        self._pending: dict[int, dict[str, int]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def on_message(self, data: Any) -> None:
        for item in data if isinstance(data, list) else [data]:
            counts = normalise(item) if isinstance(item, dict) else None
            if counts is None:
                continue
            await self.emit_local("counts", f"torrent:{counts['torrent_id']}", counts)
            self._pending[counts["torrent_id"]] = counts
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(BATCH_SECONDS)
        batch, self._pending = self._pending, {}
        if batch:
            await self.emit_local("counts_batch", BROWSE_ROOM, {"counts": list(batch.values())})

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)


async def latest(redis: aioredis.Redis, torrent_ids: list[int]) -> dict[str, dict[str, int]]:
    """The latest counts the tracker recorded, by torrent id (as a string key)."""
    if not torrent_ids:
        return {}
    raw = await redis.hmget(HASH, [str(t) for t in torrent_ids])
    out: dict[str, dict[str, int]] = {}
    for tid, value in zip(torrent_ids, raw, strict=True):
        if value is None:
            continue
        try:
            counts = normalise(json.loads(value))
        except ValueError:
            counts = None
        if counts is not None:
            out[str(tid)] = counts
    return out
