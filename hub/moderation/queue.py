"""The moderation queue: items awaiting staff, and who is working on them.

Every change writes an event on the `modqueue` stream in the caller's transaction, with the
whole item as the dashboard renders it, so a dashboard can apply events without a fetch.
Status changes are optimistic (`UPDATE ... WHERE status = ANY(expected) RETURNING`): when
two moderators act on one item at once, the second finds the status moved and gets
`QueueConflict` instead of silently overwriting the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub import db
from hub.community import notifications
from hub.errors import Refusal
from hub.realtime import events

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.policy import Viewer

STREAM = "modqueue"
OPEN_STATUSES = ("pending", "in_progress", "postponed")


class QueueError(Refusal):
    """A queue action that cannot happen; `status` is the HTTP status a route should use."""


class QueueNotFound(QueueError):
    status = 404


class QueueForbidden(QueueError):
    status = 403


class QueueConflict(QueueError):
    status = 409


@dataclass(frozen=True)
class QueueItem:
    id: int
    item_type: str
    item_id: int
    queue_type: str
    status: str
    priority: int
    title: str
    submitted_by: str | None
    assigned_to: str | None
    assigned_to_id: UUID | None
    resolution: str | None
    created_at: datetime

    def payload(self) -> dict[str, Any]:
        """What the dashboard renders (and what the `modqueue` events carry)."""
        return {
            "id": self.id,
            "item_type": self.item_type,
            "item_id": self.item_id,
            "queue_type": self.queue_type,
            "status": self.status,
            "priority": self.priority,
            "title": self.title,
            "submitted_by": self.submitted_by,
            "assigned_to": self.assigned_to,
            "resolution": self.resolution,
            "created_at": self.created_at.isoformat(),
        }


# Titles come from the item's own table; types without a title show "<type> #<id>".
_SELECT = """
    SELECT q.id, q.item_type, q.item_id, q.queue_type, q.status, q.priority, q.resolution,
           q.created_at, q.assigned_to AS assigned_to_id,
           sb.username::text AS submitted_by, asg.username::text AS assigned_to,
           coalesce(
               CASE WHEN q.item_type = 'torrent'
                    THEN (SELECT t.name FROM torrents t WHERE t.id = q.item_id) END,
               q.item_type || ' #' || q.item_id
           ) AS title
      FROM moderation_queue q
      LEFT JOIN users sb ON sb.id = q.submitted_by
      LEFT JOIN users asg ON asg.id = q.assigned_to
"""


def _item(row: asyncpg.Record) -> QueueItem:
    return QueueItem(
        id=row["id"],
        item_type=row["item_type"],
        item_id=row["item_id"],
        queue_type=row["queue_type"],
        status=row["status"],
        priority=row["priority"],
        title=row["title"],
        submitted_by=row["submitted_by"],
        assigned_to=row["assigned_to"],
        assigned_to_id=row["assigned_to_id"],
        resolution=row["resolution"],
        created_at=row["created_at"],
    )


async def get(conn: asyncpg.Connection, queue_id: int) -> QueueItem | None:
    row = await conn.fetchrow(_SELECT + " WHERE q.id = $1", queue_id)
    return _item(row) if row else None


async def open_item_for(conn: asyncpg.Connection, item_type: str, item_id: int) -> QueueItem | None:
    row = await conn.fetchrow(
        _SELECT + " WHERE q.item_type = $1 AND q.item_id = $2 AND q.status <> 'resolved'",
        item_type,
        item_id,
    )
    return _item(row) if row else None


async def list_open(conn: asyncpg.Connection, *, limit: int = 200) -> list[QueueItem]:
    """Open items, most urgent first: priority, then oldest."""
    rows = await conn.fetch(
        _SELECT
        + " WHERE q.status IN ('pending', 'in_progress', 'postponed')"
        + " ORDER BY q.priority DESC, q.created_at, q.id LIMIT $1",
        limit,
    )
    return [_item(r) for r in rows]


async def enqueue(
    conn: asyncpg.Connection,
    item_type: str,
    item_id: int,
    queue_type: str = "review",
    submitted_by: UUID | None = None,
    priority: int = 0,
) -> QueueItem:
    """Put an item in the queue; an item already open there is returned as it is."""
    queue_id = await conn.fetchval(
        """INSERT INTO moderation_queue (item_type, item_id, queue_type, submitted_by, priority)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (item_type, item_id) WHERE status <> 'resolved' DO NOTHING
           RETURNING id""",
        item_type,
        item_id,
        queue_type,
        submitted_by,
        priority,
    )
    if queue_id is None:
        existing = await open_item_for(conn, item_type, item_id)
        assert existing is not None
        return existing
    item = await get(conn, queue_id)
    assert item is not None
    await events.append(conn, STREAM, "item_added", item.payload())
    return item


async def _transition(
    conn: asyncpg.Connection,
    queue_id: int,
    expected: tuple[str, ...],
    sql_set: str,
    *args: Any,
) -> QueueItem:
    changed = await conn.fetchval(
        f"UPDATE moderation_queue SET {sql_set} "  # noqa: S608 - fragments are constants here
        "WHERE id = $1 AND status = ANY($2::text[]) RETURNING id",
        queue_id,
        list(expected),
        *args,
    )
    if changed is None:
        current = await get(conn, queue_id)
        if current is None:
            raise QueueNotFound("no such queue item")
        who = f" by {current.assigned_to}" if current.assigned_to else ""
        raise QueueConflict(f"this item is already {current.status.replace('_', ' ')}{who}")
    item = await get(conn, queue_id)
    assert item is not None
    return item


async def claim(hub: Hub, moderator: Viewer, queue_id: int) -> QueueItem:
    """The moderator takes an unassigned item; a second claimer gets QueueConflict."""
    if not moderator.is_moderator:
        raise QueueForbidden("only moderators work the queue")
    async with db.transaction(hub.pool) as conn:
        item = await _transition(
            conn,
            queue_id,
            ("pending", "postponed"),
            "status = 'in_progress', assigned_to = $3, claimed_at = now()",
            moderator.user_id,
        )
        await events.append(conn, STREAM, "item_claimed", item.payload())
    return item


async def assign(hub: Hub, moderator: Viewer, queue_id: int, assignee_id: UUID) -> QueueItem:
    """Hand an open item to a moderator (perhaps oneself); the assignee is notified."""
    if not moderator.is_moderator:
        raise QueueForbidden("only moderators work the queue")
    async with db.transaction(hub.pool) as conn:
        is_staff = await conn.fetchval(
            """SELECT g.can_moderate FROM users u JOIN user_groups g ON g.id = u.group_id
                WHERE u.id = $1 AND NOT u.is_banned AND NOT u.is_disabled""",
            assignee_id,
        )
        if not is_staff:
            raise QueueError("items can only be assigned to a moderator")
        item = await _transition(
            conn,
            queue_id,
            OPEN_STATUSES,
            "status = 'in_progress', assigned_to = $3, claimed_at = now()",
            assignee_id,
        )
        await events.append(conn, STREAM, "item_assigned", item.payload())
        if assignee_id != moderator.user_id:
            await notifications.notify(
                conn,
                assignee_id,
                "modqueue_assigned",
                {
                    "queue_id": item.id,
                    "item_type": item.item_type,
                    "item_id": item.item_id,
                    "title": item.title,
                    "assigned_by": moderator.username,
                },
            )
    return item


async def postpone_item(
    conn: asyncpg.Connection, item_type: str, item_id: int, by: UUID | None
) -> QueueItem | None:
    """Mark an item's open entry postponed (it stays open); None when nothing is open."""
    row_id = await conn.fetchval(
        """UPDATE moderation_queue SET status = 'postponed', assigned_to = coalesce(assigned_to, $3)
            WHERE item_type = $1 AND item_id = $2 AND status IN ('pending', 'in_progress')
            RETURNING id""",
        item_type,
        item_id,
        by,
    )
    if row_id is None:
        return None
    item = await get(conn, row_id)
    assert item is not None
    await events.append(conn, STREAM, "item_postponed", item.payload())
    return item


async def resolve_item(
    conn: asyncpg.Connection,
    item_type: str,
    item_id: int,
    resolved_by: UUID | None,
    resolution: str,
) -> QueueItem | None:
    """Close the item's open entry in the caller's transaction.

    Returns None when the item has no open entry (it never needed review, or it was already
    resolved by someone else: callers that must know check their own status first).
    """
    row_id = await conn.fetchval(
        """UPDATE moderation_queue
              SET status = 'resolved', resolved_by = $3, resolution = $4, resolved_at = now()
            WHERE item_type = $1 AND item_id = $2 AND status <> 'resolved'
            RETURNING id""",
        item_type,
        item_id,
        resolved_by,
        resolution,
    )
    if row_id is None:
        return None
    item = await get(conn, row_id)
    assert item is not None
    await events.append(conn, STREAM, "item_resolved", item.payload())
    return item


async def resolve(hub: Hub, moderator: Viewer, queue_id: int, resolution: str) -> QueueItem:
    """Resolve one queue entry by id (items without their own workflow, e.g. reports)."""
    if not moderator.is_moderator:
        raise QueueForbidden("only moderators work the queue")
    if not resolution.strip():
        raise QueueError("a resolution is required")
    async with db.transaction(hub.pool) as conn:
        item = await _transition(
            conn,
            queue_id,
            OPEN_STATUSES,
            "status = 'resolved', resolved_by = $3, resolution = $4, resolved_at = now()",
            moderator.user_id,
            resolution.strip(),
        )
        await events.append(conn, STREAM, "item_resolved", item.payload())
    return item
