"""Drop open sockets at once when a session is revoked or a member is banned.

Actions call these inside their transaction; after commit a message goes out on a Redis
channel, and every web process disconnects the matching sockets it holds
(hub/realtime/server.py listens).
"""

from __future__ import annotations

import json
from uuid import UUID

import redis.asyncio as aioredis

from hub import db

CHANNEL = "hub:kick"


def session_revoked(redis: aioredis.Redis, session_id: UUID) -> None:
    _after_commit(redis, {"session_id": str(session_id), "reason": "session revoked"})


def user_blocked(redis: aioredis.Redis, user_id: UUID, reason: str = "account disabled") -> None:
    _after_commit(redis, {"user_id": str(user_id), "reason": reason})


def _after_commit(redis: aioredis.Redis, message: dict[str, str]) -> None:
    payload = json.dumps(message)

    async def send() -> None:
        await redis.publish(CHANNEL, payload)

    db.after_commit(send)
