"""Reports: a member flags a torrent, a member, a post or a chat message for staff.

Filing one writes the `reports` row and a `moderation_queue` item (queue_type
`investigation`) in one transaction, so it appears live on every moderator's dashboard.
Claiming, assigning and resolving go through the queue (hub/moderation/dashboard.py keeps
the report's own status in step).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub import db
from hub.community import notifications
from hub.errors import Refusal
from hub.policy import Viewer

if TYPE_CHECKING:
    from hub.app import Hub

# What a member can report, and the table that must hold the target.
TARGET_TABLES = {
    "torrent": "torrents",
    "user": "users",
    "forum_post": "forum_posts",
    "forum_topic": "forum_topics",
    "comment": "comments",
    "request": "torrent_requests",
    "collection": "torrent_collections",
    "chat_message": "chat_messages",
}
REASON_MAX = 5000
RESOLUTIONS = ("resolved", "dismissed")
# Reports a member may file per hour (Redis counter), so the queue cannot be flooded.
REPORTS_PER_HOUR = 20


def _describe_closed(p: dict[str, Any]) -> tuple[str, str | None]:
    what = str(p.get("target_type", "item")).replace("_", " ")
    if p.get("status") == "dismissed":
        return f"Staff looked at your report about a {what} and took no action.", None
    return f"Staff acted on your report about a {what}. Thank you.", None


notifications.register_kind("report_closed", "Staff handled my report", _describe_closed)


class ReportError(Refusal):
    pass


@dataclass(frozen=True)
class Report:
    id: int
    reporter_id: UUID | None
    report_type: str
    target_type: str
    target_id: str
    reason: str
    status: str
    assigned_to: UUID | None
    created_at: datetime
    queue_item_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reporter_id": str(self.reporter_id) if self.reporter_id else None,
            "report_type": self.report_type,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "reason": self.reason,
            "status": self.status,
            "assigned_to": str(self.assigned_to) if self.assigned_to else None,
            "created_at": self.created_at.isoformat(),
            "queue_item_id": self.queue_item_id,
        }


async def _resolve_target(conn: asyncpg.Connection, target_type: str, target_id: str) -> str:
    """The canonical id of an existing target (members by username or id); else ReportError."""
    table = TARGET_TABLES.get(target_type)
    if table is None:
        raise ReportError(
            f"Reports are about one of: {', '.join(TARGET_TABLES)}.", field="target_type"
        )
    target_id = target_id.strip()
    found: Any = None
    if target_type == "user":
        try:
            found = await conn.fetchval("SELECT id FROM users WHERE id = $1", UUID(target_id))
        except ValueError:
            found = await conn.fetchval(
                "SELECT id FROM users WHERE username = $1::citext", target_id
            )
    elif target_id.isdigit() and len(target_id) < 19:
        # table comes from TARGET_TABLES above, never from the request
        found = await conn.fetchval(
            f"SELECT id FROM {table} WHERE id = $1",  # noqa: S608
            int(target_id),
        )
    if found is None:
        raise ReportError(
            f"There is no {target_type.replace('_', ' ')} {target_id!r}.",
            field="target_id",
            status=404,
        )
    return str(found)


async def _check_rate(hub: Hub, user_id: UUID) -> None:
    key = f"hub:reports:rate:{user_id}:{int(time.time()) // 3600}"
    pipe = hub.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 3700)
    count, _ = await pipe.execute()
    if int(count) > REPORTS_PER_HOUR:
        raise ReportError(
            f"You have sent {REPORTS_PER_HOUR} reports this hour; try again later.", status=429
        )


async def create_report(
    hub: Hub,
    viewer: Viewer,
    *,
    target_type: str,
    target_id: str,
    reason: str,
    report_type: str | None = None,
) -> Report:
    from hub.moderation import queue

    if viewer.user_id is None:
        raise ReportError("Log in to report.", status=401)
    reason = (reason or "").strip()
    if not reason:
        raise ReportError("Say what is wrong.", field="reason")
    if len(reason) > REASON_MAX:
        raise ReportError(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    await _check_rate(hub, viewer.user_id)
    kind = (report_type or target_type).strip().lower()
    if not kind.replace("_", "").isalnum() or not kind[:1].isalpha() or len(kind) > 32:
        raise ReportError("Unknown report type.", field="report_type")
    async with db.transaction(hub.pool) as conn:
        canonical = await _resolve_target(conn, target_type, str(target_id))
        if target_type == "user" and canonical == str(viewer.user_id):
            raise ReportError("You cannot report yourself.", field="target_id")
        duplicate = await conn.fetchval(
            """SELECT id FROM reports WHERE reporter_id = $1 AND target_type = $2
                  AND target_id = $3 AND status IN ('pending', 'investigating')""",
            viewer.user_id,
            target_type,
            canonical,
        )
        if duplicate:
            raise ReportError("You already reported this; staff are looking at it.", status=409)
        row = await conn.fetchrow(
            """INSERT INTO reports (reporter_id, report_type, target_type, target_id, reason)
               VALUES ($1, $2, $3, $4, $5)
               RETURNING id, reporter_id, report_type, target_type, target_id, reason, status,
                         assigned_to, created_at""",
            viewer.user_id,
            kind,
            target_type,
            canonical,
            reason,
        )
        item_id = await queue.enqueue(
            conn,
            item_type="report",
            item_id=row["id"],
            queue_type="investigation",
            submitted_by=viewer.user_id,
        )
    return Report(**row, queue_item_id=_item_id(item_id))


def _item_id(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(getattr(value, "id", 0)) or None


async def get_report(conn: asyncpg.Connection, report_id: int) -> Report | None:
    row = await conn.fetchrow(
        """SELECT id, reporter_id, report_type, target_type, target_id, reason, status,
                  assigned_to, created_at FROM reports WHERE id = $1""",
        report_id,
    )
    return Report(**row) if row else None


async def mark_investigating(conn: asyncpg.Connection, report_id: int, assigned_to: UUID) -> None:
    """Called in the claim/assign transaction of the queue item."""
    await conn.execute(
        """UPDATE reports SET status = 'investigating', assigned_to = $2
            WHERE id = $1 AND status IN ('pending', 'investigating')""",
        report_id,
        assigned_to,
    )


async def close_report(
    conn: asyncpg.Connection,
    report_id: int,
    moderator_id: UUID,
    status: str,
    action_taken: str | None,
    note: str | None,
) -> bool:
    """Called in the resolve transaction of the queue item; False if already closed."""
    if status not in RESOLUTIONS:
        raise ReportError("Resolve as resolved or dismissed.", field="resolution")
    row = await conn.fetchrow(
        """UPDATE reports SET status = $3, resolved_by = $2, resolved_at = now(),
                  action_taken = $4, resolution_note = $5
            WHERE id = $1 AND status IN ('pending', 'investigating')
            RETURNING reporter_id, target_type""",
        report_id,
        moderator_id,
        status,
        action_taken,
        note,
    )
    if row is None:
        return False
    if row["reporter_id"] is not None:
        # The reporter learns it was handled; the moderator's note stays with the staff.
        await notifications.notify(
            conn,
            row["reporter_id"],
            "report_closed",
            {"report_id": report_id, "status": status, "target_type": row["target_type"]},
        )
    return True


async def summaries(conn: asyncpg.Connection, report_ids: list[int]) -> dict[int, dict[str, Any]]:
    """A line per report for the dashboard: who reported what, and why."""
    if not report_ids:
        return {}
    rows = await conn.fetch(
        """SELECT r.id, r.report_type, r.target_type, r.target_id, r.reason, r.status,
                  u.username::text AS reporter,
                  CASE r.target_type
                    WHEN 'torrent' THEN (SELECT name FROM torrents t
                                          WHERE r.target_id ~ '^[0-9]{1,18}$'
                                            AND t.id = r.target_id::bigint)
                    WHEN 'user' THEN (SELECT username::text FROM users x
                                       WHERE x.id::text = r.target_id)
                    WHEN 'chat_message' THEN (SELECT left(body, 120) FROM chat_messages c
                                               WHERE r.target_id ~ '^[0-9]{1,18}$'
                                                 AND c.id = r.target_id::bigint)
                    WHEN 'forum_post' THEN (SELECT left(body, 120) FROM forum_posts p
                                             WHERE r.target_id ~ '^[0-9]{1,18}$'
                                               AND p.id = r.target_id::bigint)
                  END AS target_label
             FROM reports r LEFT JOIN users u ON u.id = r.reporter_id
            WHERE r.id = ANY($1::bigint[])""",
        report_ids,
    )
    return {r["id"]: dict(r) for r in rows}
