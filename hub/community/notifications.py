"""Notifications: a row for the member and an event on their `user:<id>` stream.

Each kind is registered in KINDS (kind -> label shown in the preferences) with a
describer that turns its payload into a line of text and a link; later features add
their kinds with `register_kind`. A member's `user_privacy.notification_prefs` maps a kind
to false to turn it off.

Events on `user:<id>`: `notification` (a new one, with the unread count) and
`notifications_read` (ids marked read, or all, with the new unread count) so every open
tab of the member keeps its bell in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub import db
from hub.realtime import events

if TYPE_CHECKING:
    from hub.app import Hub

Describer = Callable[[dict[str, Any]], tuple[str, str | None]]

# kind -> label; iterate it for the preferences form.
KINDS: dict[str, str] = {}
_DESCRIBERS: dict[str, Describer] = {}


def register_kind(kind: str, label: str, describe: Describer) -> None:
    KINDS[kind] = label
    _DESCRIBERS[kind] = describe


def describe(kind: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    """(text, url or None) for one notification; unknown kinds still read sensibly."""
    describer = _DESCRIBERS.get(kind)
    if describer is None:
        return kind.replace("_", " "), None
    try:
        return describer(payload)
    except (KeyError, TypeError, ValueError):
        return KINDS.get(kind, kind), None


def _torrent_approved(p: dict[str, Any]) -> tuple[str, str | None]:
    return f"Your upload “{p.get('name', 'torrent')}” was approved.", _torrent_url(p)


def _torrent_rejected(p: dict[str, Any]) -> tuple[str, str | None]:
    reason = p.get("reason")
    text = f"Your upload “{p.get('name', 'torrent')}” was rejected"
    return (f"{text}: {reason}" if reason else f"{text}."), _torrent_url(p)


def _torrent_url(p: dict[str, Any]) -> str | None:
    return f"/torrents/{p['torrent_id']}" if p.get("torrent_id") is not None else None


def _chat_mention(p: dict[str, Any]) -> tuple[str, str | None]:
    room = p.get("room_name") or p.get("room", "chat")
    return (
        f"{p.get('from', 'Someone')} mentioned you in {room}: {p.get('excerpt', '')}",
        f"/chat/{p['room']}#m{p.get('message_id', '')}",
    )


def _modqueue_assigned(p: dict[str, Any]) -> tuple[str, str | None]:
    what = p.get("title") or f"{p.get('item_type', 'item')} #{p.get('item_id', '')}"
    by = p.get("assigned_by") or p.get("by")
    return (f"{by} assigned you {what}." if by else f"You were assigned {what}."), "/moderation"


register_kind("torrent_approved", "My upload was approved", _torrent_approved)
register_kind("torrent_rejected", "My upload was rejected", _torrent_rejected)
register_kind("chat_mention", "Someone mentioned me in chat", _chat_mention)
register_kind("modqueue_assigned", "A moderation item was assigned to me", _modqueue_assigned)


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    payload: dict[str, Any]
    read_at: datetime | None
    created_at: datetime

    @property
    def text(self) -> str:
        return describe(self.kind, self.payload)[0]

    @property
    def url(self) -> str | None:
        return describe(self.kind, self.payload)[1]

    def to_dict(self) -> dict[str, Any]:
        text, url = describe(self.kind, self.payload)
        return {
            "id": self.id,
            "kind": self.kind,
            "payload": self.payload,
            "text": text,
            "url": url,
            "read": self.read_at is not None,
            "created_at": self.created_at.isoformat(),
        }


def _stream(user_id: UUID) -> str:
    return f"user:{user_id}"


async def unread_count(conn: asyncpg.Connection, user_id: UUID) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", user_id
    )
    return int(value or 0)


async def notify(
    conn: asyncpg.Connection, user_id: UUID, kind: str, payload: dict[str, Any]
) -> int | None:
    """Notify `user_id` unless they turned `kind` off; returns the notification id.

    Runs in the caller's transaction: the row and its event commit with the change.
    """
    prefs = await conn.fetchval(
        "SELECT notification_prefs FROM user_privacy WHERE user_id = $1", user_id
    )
    if isinstance(prefs, dict) and prefs.get(kind) is False:
        return None
    row = await conn.fetchrow(
        """INSERT INTO notifications (user_id, kind, payload) VALUES ($1, $2, $3)
           RETURNING id, created_at""",
        user_id,
        kind,
        payload,
    )
    item = Notification(row["id"], kind, payload, None, row["created_at"])
    await events.append(
        conn,
        _stream(user_id),
        "notification",
        {**item.to_dict(), "unread": await unread_count(conn, user_id)},
    )
    return int(row["id"])


@dataclass(frozen=True)
class Page:
    items: list[Notification]
    unread: int
    has_more: bool
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "notifications": [n.to_dict() for n in self.items],
            "unread": self.unread,
            "has_more": self.has_more,
            "before": self.items[-1].id if self.items else None,
            "seq": self.seq,
        }


async def list_for(
    hub: Hub,
    user_id: UUID,
    *,
    before: int | None = None,
    limit: int = 30,
    unread_only: bool = False,
) -> Page:
    """Newest first; `before` pages back by id."""
    limit = max(1, min(limit, 100))
    async with (
        hub.pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        rows = await conn.fetch(
            """SELECT id, kind, payload, read_at, created_at FROM notifications
                WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2)
                  AND (NOT $3 OR read_at IS NULL)
                ORDER BY id DESC LIMIT $4""",
            user_id,
            before,
            unread_only,
            limit + 1,
        )
        unread = await unread_count(conn, user_id)
        seq = await conn.fetchval(
            "SELECT last_seq FROM event_streams WHERE stream = $1", _stream(user_id)
        )
    items = [Notification(**r) for r in rows[:limit]]
    return Page(items, unread, len(rows) > limit, int(seq or 0))


async def get_unread_count(hub: Hub, user_id: UUID) -> int:
    async with hub.pool.acquire() as conn:
        return await unread_count(conn, user_id)


async def mark_read(hub: Hub, user_id: UUID, ids: list[int]) -> int:
    """Mark the member's own notifications read; returns the unread count after."""
    async with db.transaction(hub.pool) as conn:
        changed = await conn.fetch(
            """UPDATE notifications SET read_at = now()
                WHERE user_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL
                RETURNING id""",
            user_id,
            ids,
        )
        unread = await unread_count(conn, user_id)
        if changed:
            await events.append(
                conn,
                _stream(user_id),
                "notifications_read",
                {"ids": sorted(r["id"] for r in changed), "all": False, "unread": unread},
            )
    return unread


async def mark_all_read(hub: Hub, user_id: UUID) -> int:
    """Mark everything read; returns how many changed."""
    async with db.transaction(hub.pool) as conn:
        result: str = await conn.execute(
            "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
            user_id,
        )
        changed = int(result.rsplit(" ", 1)[1])
        if changed:
            await events.append(
                conn,
                _stream(user_id),
                "notifications_read",
                {"ids": [], "all": True, "unread": 0},
            )
    return changed
