"""Tell every tracker process that a user or torrent changed, after the change commits.

Trackers keep passkeys and torrents in memory (no SQL on the announce path); a message on
this channel makes them reload the one row. Actions call these inside their transaction.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from hub import db

CHANNEL = "hub:tracker-invalidate"


def user_changed(redis: aioredis.Redis, user_id: UUID) -> None:
    _after_commit(redis, {"kind": "user", "id": str(user_id)})


def torrent_changed(redis: aioredis.Redis, torrent_id: int) -> None:
    _after_commit(redis, {"kind": "torrent", "id": torrent_id})


def _after_commit(redis: aioredis.Redis, message: dict[str, Any]) -> None:
    payload = json.dumps(message)

    async def send() -> None:
        await redis.publish(CHANNEL, payload)

    db.after_commit(send)
