"""Notifications: a row for the member and an event on their `user:<id>` stream.

Kinds so far: torrent_approved, torrent_rejected, chat_mention, modqueue_assigned.
A member's `user_privacy.notification_prefs` maps a kind to false to turn it off.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from hub.realtime import events

KINDS = ("torrent_approved", "torrent_rejected", "chat_mention", "modqueue_assigned")


async def notify(
    conn: asyncpg.Connection, user_id: UUID, kind: str, payload: dict[str, Any]
) -> int | None:
    """Notify `user_id` unless they turned `kind` off; returns the notification id."""
    prefs = await conn.fetchval(
        "SELECT notification_prefs FROM user_privacy WHERE user_id = $1", user_id
    )
    if prefs and prefs.get(kind) is False:
        return None
    row = await conn.fetchrow(
        """INSERT INTO notifications (user_id, kind, payload) VALUES ($1, $2, $3)
           RETURNING id, created_at""",
        user_id,
        kind,
        payload,
    )
    unread = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", user_id
    )
    await events.append(
        conn,
        f"user:{user_id}",
        "notification",
        {
            "id": row["id"],
            "kind": kind,
            "payload": payload,
            "created_at": row["created_at"].isoformat(),
            "unread": unread,
        },
    )
    return int(row["id"])
