"""Viewers for action-level tests: the same Viewer the web layer builds for a member."""

from __future__ import annotations

from typing import Any

from hub.accounts.queries import rights_of
from hub.policy import Viewer
from tests.factories import TestUser


async def viewer_of(hub: Any, user: TestUser) -> Viewer:
    async with hub.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT g.* FROM users u JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1""",
            user.id,
        )
    return Viewer(
        user_id=user.id,
        username=user.username,
        group_id=row["id"],
        group_slug=row["slug"],
        level=row["level"],
        rights=rights_of(row),
    )


async def stream_events(hub: Any, stream: str, after: int = 0) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT seq, kind, payload FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq",
            stream,
            after,
        )
    return [dict(r) for r in rows]


async def last_seq(hub: Any, stream: str) -> int:
    async with hub.pool.acquire() as conn:
        seq = await conn.fetchval("SELECT last_seq FROM event_streams WHERE stream = $1", stream)
    return int(seq or 0)
