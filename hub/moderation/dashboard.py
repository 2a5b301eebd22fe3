"""The moderators' dashboard: what it shows and what its buttons do.

The queue itself (rows, states, `modqueue` events) is hub/moderation/queue.py; torrents are
approved or rejected through hub/torrents/actions.py (which resolves their queue entry);
reports are closed here, together with their queue entry, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from uuid import UUID

from hub import db
from hub.errors import Refusal
from hub.moderation import audit, queue, reports
from hub.policy import Viewer

if TYPE_CHECKING:
    from hub.app import Hub

TORRENT_DECISIONS = ("approve", "reject", "postpone")
REPORT_DECISIONS = ("resolved", "dismissed")


class DashboardError(Refusal):
    pass


@dataclass(frozen=True)
class Moderator:
    id: UUID
    username: str


def _require_moderator(viewer: Viewer) -> UUID:
    if not viewer.is_moderator or viewer.user_id is None:
        raise DashboardError("Only moderators work the queue.", status=403)
    return viewer.user_id


def _from_queue_error(error: queue.QueueError) -> DashboardError:
    return DashboardError(error.message, status=error.status)


def decisions_for(item_type: str) -> tuple[str, ...]:
    if item_type == "torrent":
        return TORRENT_DECISIONS
    if item_type == "report":
        return REPORT_DECISIONS
    return ("resolved",)


async def open_items(hub: Hub) -> list[dict[str, Any]]:
    """Open queue items as the dashboard shows them (reports with who reported what)."""
    async with hub.pool.acquire() as conn:
        items = await queue.list_open(conn)
        report_lines = await reports.summaries(
            conn, [i.item_id for i in items if i.item_type == "report"]
        )
    result = []
    for item in items:
        data = item.payload()
        data["decisions"] = list(decisions_for(item.item_type))
        if item.item_type == "report" and item.item_id in report_lines:
            data["report"] = _report_view(report_lines[item.item_id])
        result.append(data)
    return result


def _report_view(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "reporter": line.get("reporter"),
        "target_type": line["target_type"],
        "target_id": line["target_id"],
        "target_label": line.get("target_label"),
        "target_url": _target_url(line),
        "reason": line["reason"],
    }


def _target_url(line: dict[str, Any]) -> str | None:
    """Where a moderator looks at the reported thing, for targets that have a page."""
    if line["target_type"] == "torrent":
        return f"/torrents/{line['target_id']}"
    if line["target_type"] == "user" and line.get("target_label"):
        return f"/users/{quote(str(line['target_label']))}"
    return None


async def moderators(hub: Hub) -> list[Moderator]:
    async with hub.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT u.id, u.username::text AS username
                 FROM users u JOIN user_groups g ON g.id = u.group_id
                WHERE g.can_moderate AND NOT u.is_banned AND NOT u.is_disabled
                ORDER BY u.username LIMIT 200"""
        )
    return [Moderator(r["id"], r["username"]) for r in rows]


async def claim(hub: Hub, viewer: Viewer, queue_id: int) -> dict[str, Any]:
    moderator_id = _require_moderator(viewer)
    try:
        item = await queue.claim(hub, viewer, queue_id)
    except queue.QueueError as error:
        raise _from_queue_error(error) from None
    if item.item_type == "report":
        async with db.transaction(hub.pool) as conn:
            await reports.mark_investigating(conn, item.item_id, moderator_id)
    return item.payload()


async def assign(hub: Hub, viewer: Viewer, queue_id: int, username: str) -> dict[str, Any]:
    _require_moderator(viewer)
    async with hub.pool.acquire() as conn:
        assignee = await conn.fetchval(
            "SELECT id FROM users WHERE username = $1::citext", username.strip().lstrip("@")
        )
    if assignee is None:
        raise DashboardError(f"There is no member '{username}'.", status=404, field="username")
    try:
        item = await queue.assign(hub, viewer, queue_id, assignee)
    except queue.QueueError as error:
        raise _from_queue_error(error) from None
    if item.item_type == "report":
        async with db.transaction(hub.pool) as conn:
            await reports.mark_investigating(conn, item.item_id, assignee)
    return item.payload()


async def resolve(
    hub: Hub,
    viewer: Viewer,
    queue_id: int,
    decision: str,
    reason: str | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """Approve/reject a torrent, close a report, or resolve another item; once only."""
    moderator_id = _require_moderator(viewer)
    reason = (reason or "").strip() or None
    async with hub.pool.acquire() as conn:
        item = await queue.get(conn, queue_id)
    if item is None:
        raise DashboardError("There is no such queue item.", status=404)
    if item.status == "resolved":
        raise DashboardError("Another moderator already resolved this item.", status=409)
    if decision not in decisions_for(item.item_type):
        allowed = ", ".join(decisions_for(item.item_type))
        raise DashboardError(f"Choose one of: {allowed}.", field="decision")
    if item.item_type == "torrent":
        await _decide_torrent(hub, viewer, item.item_id, decision, reason, ip)
    elif item.item_type == "report":
        async with db.transaction(hub.pool) as conn:
            closed = await reports.close_report(
                conn, item.item_id, moderator_id, decision, decision, reason
            )
            done = await queue.resolve_item(conn, "report", item.item_id, moderator_id, decision)
            if not closed or done is None:
                raise DashboardError("Another moderator already resolved this item.", status=409)
            await audit.record(
                conn,
                moderator_id,
                f"report_{decision}",
                "report",
                item.item_id,
                {"note": reason},
                ip,
            )
    else:
        try:
            await queue.resolve(hub, viewer, queue_id, decision)
        except queue.QueueError as error:
            raise _from_queue_error(error) from None
    return {"id": queue_id, "decision": decision}


async def _decide_torrent(
    hub: Hub, viewer: Viewer, torrent_id: int, decision: str, reason: str | None, ip: str | None
) -> None:
    """Through the torrents engineer's actions, which own the torrent's rules and events
    (they resolve or postpone the queue entry in their own transaction)."""
    from hub.torrents import actions

    try:
        if decision == "approve":
            await actions.approve_torrent(hub, viewer, torrent_id)
        elif decision == "reject":
            if not reason:
                raise DashboardError(
                    "Say why the upload is rejected; the uploader sees it.", field="reason"
                )
            await actions.reject_torrent(hub, viewer, torrent_id, reason)
        else:
            await actions.postpone_torrent(hub, viewer, torrent_id, reason)
    except actions.TorrentError as error:
        raise DashboardError(error.message, status=error.status, field=error.field) from None
