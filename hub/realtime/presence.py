"""Who is online in a room, across every web process, kept in Redis.

Each subscribed socket is one member of a sorted set per stream, scored by when it
expires; the process holding the socket refreshes its entries, so the sockets of a
process that died fall out by themselves. Changes are coalesced: a room's whole list is
broadcast at most once per `COALESCE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

PREFIXES = ("chat:",)
TTL_SECONDS = 90
REFRESH_SECONDS = 30
COALESCE_SECONDS = 0.25


def tracked(stream: str) -> bool:
    return stream.startswith(PREFIXES)


def _key(stream: str) -> str:
    return f"hub:presence:{stream}"


def _member(sid: str, user_id: str, username: str) -> str:
    return json.dumps([sid, user_id, username], separators=(",", ":"))


class Presence:
    def __init__(
        self,
        redis: aioredis.Redis,
        broadcast: Callable[[str, list[dict[str, str]]], Awaitable[None]],
    ) -> None:
        self.redis = redis
        self.broadcast = broadcast
        # stream -> {sid: member}: what this process holds, to refresh and to clean up.
        self.local: dict[str, dict[str, str]] = {}
        self._dirty: set[str] = set()
        self._flush: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def stop(self) -> None:
        for task in (self._refresher, self._flush):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        # Leave the rooms we held so others do not see ghosts until the TTL runs out.
        for stream, members in list(self.local.items()):
            if members:
                try:
                    await self.redis.zrem(_key(stream), *members.values())
                except Exception:
                    log.debug("presence cleanup failed", exc_info=True)
        self.local.clear()

    async def join(self, stream: str, sid: str, user_id: str, username: str) -> None:
        member = _member(sid, user_id, username)
        self.local.setdefault(stream, {})[sid] = member
        try:
            await self.redis.zadd(_key(stream), {member: time.time() + TTL_SECONDS})
        except Exception:
            log.warning("presence join not recorded (redis unavailable)")
        self._changed(stream)

    async def leave(self, stream: str, sid: str) -> None:
        members = self.local.get(stream)
        member = members.pop(sid, None) if members else None
        if members is not None and not members:
            self.local.pop(stream, None)
        if member is None:
            return
        try:
            await self.redis.zrem(_key(stream), member)
        except Exception:
            log.warning("presence leave not recorded (redis unavailable)")
        self._changed(stream)

    async def users(self, stream: str) -> list[dict[str, str]]:
        """Distinct members online in `stream`, by username."""
        key = _key(stream)
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrange(key, 0, -1)
        _removed, raw = await pipe.execute()
        seen: dict[str, dict[str, str]] = {}
        for item in raw:
            _sid, user_id, username = json.loads(item)
            seen[user_id] = {"user_id": user_id, "username": username}
        return sorted(seen.values(), key=lambda u: u["username"].lower())

    def _changed(self, stream: str) -> None:
        self._dirty.add(stream)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        streams, self._dirty = self._dirty, set()
        for stream in streams:
            try:
                await self.broadcast(stream, await self.users(stream))
            except Exception:
                log.warning("presence broadcast for %s failed", stream, exc_info=True)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            expires = time.time() + TTL_SECONDS
            try:
                pipe = self.redis.pipeline(transaction=False)
                for stream, members in self.local.items():
                    if members:
                        pipe.zadd(_key(stream), dict.fromkeys(members.values(), expires))
                await pipe.execute()
            except Exception:
                log.warning("presence refresh failed", exc_info=True)
