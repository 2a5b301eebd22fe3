"""Chat: the rules for rooms, messages, edits, deletions and mutes.

Every change writes its row and its event on the room's stream (`chat:<slug>`, kinds
`message`, `message_edited`, `message_deleted`) in one transaction, so a client that
reconnects replays exactly what it missed. @mentions notify the named members who may read
the room. Socket handlers (hub/realtime/chat_socket.py) and the HTTP API call these.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub import db
from hub.community import chat_queries as q
from hub.community import notifications
from hub.community.chat_queries import Message, Room
from hub.errors import Refusal
from hub.moderation import audit
from hub.policy import Viewer
from hub.realtime import events

if TYPE_CHECKING:
    from hub.app import Hub

# A member may send RATE_LIMIT_MESSAGES messages per RATE_LIMIT_WINDOW seconds (all rooms).
RATE_LIMIT_MESSAGES = 5
RATE_LIMIT_WINDOW = 10
HISTORY_PAGE = 50
HISTORY_PAGE_MAX = 200
MAX_MENTIONS = 10
MUTE_MAX_SECONDS = 366 * 24 * 3600

# A username-like token after "@" that does not end in "." or "-", so "@bob." finds bob.
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,30}[A-Za-z0-9_])?)")


class ChatError(Refusal):
    """A refusal a person can read; `code` is stable for clients, `status` for HTTP."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        extra: dict[str, Any] = {"code": code}
        if retry_after is not None:
            extra["retry_after"] = retry_after
        super().__init__(message, status=status, field=field, **extra)
        self.code = code
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


def can_read(viewer: Viewer, room: Room) -> bool:
    """Members with the chat right, at or above the room's level; staff rooms for staff."""
    if not room.is_active or not viewer.has("chat"):
        return False
    if viewer.is_admin:
        return True
    if room.staff_only and not viewer.is_moderator:
        return False
    return viewer.level >= room.min_group_level


def _may_read_record(user: asyncpg.Record, room: Room) -> bool:
    if not room.is_active or not user["can_chat"]:
        return False
    if room.staff_only and not user["is_staff"]:
        return False
    return bool(user["is_staff"]) or int(user["level"]) >= room.min_group_level


def mentioned_usernames(body: str) -> list[str]:
    seen: dict[str, str] = {}
    for match in MENTION_RE.finditer(body):
        name = match.group(1)
        seen.setdefault(name.lower(), name)
    return list(seen.values())[:MAX_MENTIONS]


def clean_body(hub: Hub, body: Any) -> str:
    if not isinstance(body, str):
        raise ChatError("invalid", "The message must be text.", field="body")
    text = body.strip()
    if not text:
        raise ChatError("empty", "Write something first.", field="body")
    limit = hub.settings.chat_message_max
    if len(text) > limit:
        raise ChatError(
            "too_long",
            f"Messages are limited to {limit} characters; this one has {len(text)}.",
            field="body",
        )
    return text


async def check_rate(hub: Hub, user_id: UUID) -> None:
    """Fixed window per member in Redis; the refusal says how long to wait."""
    window = int(time.time()) // RATE_LIMIT_WINDOW
    key = f"hub:chat:rate:{user_id}:{window}"
    pipe = hub.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, RATE_LIMIT_WINDOW + 1)
    count, _ = await pipe.execute()
    if int(count) > RATE_LIMIT_MESSAGES:
        wait = max(1, (window + 1) * RATE_LIMIT_WINDOW - int(time.time()))
        raise ChatError(
            "rate_limited",
            f"You are sending messages too fast: wait {wait} s "
            f"(at most {RATE_LIMIT_MESSAGES} every {RATE_LIMIT_WINDOW} s).",
            status=429,
            retry_after=wait,
        )


async def _room_for(conn: asyncpg.Connection, viewer: Viewer, slug: str) -> Room:
    room = await q.select_room_by_slug(conn, slug)
    if room is None or not room.is_active:
        raise ChatError("not_found", f"There is no chat room '{slug}'.", status=404)
    if not can_read(viewer, room):
        raise ChatError("forbidden", "You may not use this room.", status=403)
    return room


async def rooms_for(hub: Hub, viewer: Viewer) -> list[Room]:
    async with hub.pool.acquire() as conn:
        rooms = await q.select_rooms(conn)
    return [r for r in rooms if can_read(viewer, r)]


async def room_for(hub: Hub, viewer: Viewer, slug: str) -> Room:
    """The room if the viewer may read it; ChatError (404/403) otherwise."""
    async with hub.pool.acquire() as conn:
        return await _room_for(conn, viewer, slug)


async def may_join_stream(hub: Hub, viewer: Viewer, stream: str) -> bool:
    """Room-level check for a `chat:<slug>` stream join (policy.can_join_stream is coarse)."""
    kind, _, slug = stream.partition(":")
    if kind != "chat":
        return False
    async with hub.pool.acquire() as conn:
        room = await q.select_room_by_slug(conn, slug)
    return room is not None and can_read(viewer, room)


@dataclass(frozen=True)
class History:
    room: Room
    messages: list[Message]
    has_more: bool
    # The stream's sequence as of this snapshot: subscribe from here to miss nothing.
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "room": self.room.slug,
            "stream": self.room.stream,
            "messages": [m.to_dict() for m in self.messages],
            "has_more": self.has_more,
            "before": self.messages[0].id if self.messages else None,
            "seq": self.seq,
        }


async def history(
    hub: Hub, viewer: Viewer, slug: str, before: int | None = None, limit: int = HISTORY_PAGE
) -> History:
    limit = max(1, min(limit, HISTORY_PAGE_MAX))
    # One snapshot for the page and the stream's sequence, so nothing falls between.
    async with (
        hub.pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        room = await _room_for(conn, viewer, slug)
        seq = await q.select_stream_seq(conn, room.stream)
        rows = await q.select_history(conn, room.id, before, limit + 1)
    has_more = len(rows) > limit
    return History(room, rows[-limit:] if has_more else rows, has_more, seq)


async def send_message(hub: Hub, viewer: Viewer, slug: str, body: Any) -> Message:
    if viewer.user_id is None:
        raise ChatError("forbidden", "Log in to chat.", status=401)
    text = clean_body(hub, body)
    await check_rate(hub, viewer.user_id)
    async with db.transaction(hub.pool) as conn:
        room = await _room_for(conn, viewer, slug)
        mute = await q.select_active_mute(conn, viewer.user_id, room.id)
        if mute is not None:
            until = mute["expires_at"]
            when = f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""
            raise ChatError("muted", f"You are muted in this room{when}.", status=403)
        message = await q.insert_message(conn, room.id, viewer.user_id, text)
        await events.append(conn, room.stream, "message", message.to_dict())
        await _notify_mentions(conn, room, message, viewer)
    return message


async def _notify_mentions(
    conn: asyncpg.Connection,
    room: Room,
    message: Message,
    author: Viewer,
    already: str = "",
) -> None:
    """Notify members named in the message; on an edit, only those not named before."""
    before = {name.lower() for name in mentioned_usernames(already)}
    names = [n for n in mentioned_usernames(message.body) if n.lower() not in before]
    if not names:
        return
    for user in await q.select_users_by_usernames(conn, names):
        if user["id"] == author.user_id or not _may_read_record(user, room):
            continue
        await notifications.notify(
            conn,
            user["id"],
            "chat_mention",
            {
                "room": room.slug,
                "room_name": room.name,
                "message_id": message.id,
                "from": author.username,
                "excerpt": message.body[:200],
            },
        )


async def _message_for_change(
    conn: asyncpg.Connection, viewer: Viewer, message_id: int
) -> tuple[Room, Message]:
    message = await q.select_message_for_update(conn, message_id)
    room = await q.select_room_by_id(conn, message.room_id) if message else None
    if message is None or room is None or not can_read(viewer, room):
        raise ChatError("not_found", "There is no such message.", status=404)
    if message.deleted_at is not None:
        raise ChatError("deleted", "This message was deleted.", status=409)
    return room, message


def _within_edit_window(hub: Hub, message: Message) -> bool:
    age = time.time() - message.created_at.timestamp()
    return age <= hub.settings.chat_edit_window_seconds


async def edit_message(hub: Hub, viewer: Viewer, message_id: int, body: Any) -> Message:
    text = clean_body(hub, body)
    async with db.transaction(hub.pool) as conn:
        room, message = await _message_for_change(conn, viewer, message_id)
        if message.user_id != viewer.user_id:
            raise ChatError("forbidden", "You can only edit your own messages.", status=403)
        if not _within_edit_window(hub, message):
            minutes = hub.settings.chat_edit_window_seconds // 60
            raise ChatError(
                "too_late", f"Messages can be edited for {minutes} minutes only.", status=403
            )
        changed = await q.update_message_body(conn, message.id, text)
        await events.append(conn, room.stream, "message_edited", changed.to_dict())
        await _notify_mentions(conn, room, changed, viewer, already=message.body)
    return changed


async def delete_message(
    hub: Hub, viewer: Viewer, message_id: int, ip: str | None = None
) -> Message:
    """Your own message within the edit window; moderators delete any (audited)."""
    async with db.transaction(hub.pool) as conn:
        room, message = await _message_for_change(conn, viewer, message_id)
        own = message.user_id == viewer.user_id
        if not viewer.is_moderator:
            if not own:
                raise ChatError("forbidden", "You can only delete your own messages.", status=403)
            if not _within_edit_window(hub, message):
                minutes = hub.settings.chat_edit_window_seconds // 60
                raise ChatError(
                    "too_late", f"Messages can be deleted for {minutes} minutes only.", status=403
                )
        assert viewer.user_id is not None
        deleted = await q.mark_message_deleted(conn, message.id, viewer.user_id)
        await events.append(
            conn,
            room.stream,
            "message_deleted",
            {"id": deleted.id, "room_id": room.id, "by_moderator": not own},
        )
        if not own:
            await audit.record(
                conn,
                viewer.user_id,
                "chat_delete_message",
                "chat_message",
                message.id,
                {"room": room.slug, "author_id": str(message.user_id), "body": message.body},
                ip,
            )
    return deleted


async def mute_member(
    hub: Hub,
    moderator: Viewer,
    username: str,
    *,
    room_slug: str | None,
    seconds: int | None,
    reason: str | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """Silence a member in one room (all rooms when room_slug is None) for `seconds`.

    `seconds` None means until a moderator lifts it.
    """
    if not moderator.is_moderator or moderator.user_id is None:
        raise ChatError("forbidden", "Only moderators can mute members.", status=403)
    if seconds is not None and not 1 <= seconds <= MUTE_MAX_SECONDS:
        raise ChatError(
            "invalid", "The duration must be between 1 second and a year.", field="seconds"
        )
    async with db.transaction(hub.pool) as conn:
        room: Room | None = None
        if room_slug:
            room = await _room_for(conn, moderator, room_slug)
        users = await q.select_users_by_usernames(conn, [username])
        if not users:
            raise ChatError(
                "not_found", f"There is no member '{username}'.", status=404, field="username"
            )
        target = users[0]
        if target["is_staff"]:
            raise ChatError("forbidden", "Staff cannot be muted.", status=403, field="username")
        row = await q.insert_mute(
            conn, target["id"], room.id if room else None, moderator.user_id, seconds, reason
        )
        expires = row["expires_at"].isoformat() if row["expires_at"] else None
        details = {"room": room.slug if room else None, "expires_at": expires, "reason": reason}
        await audit.record(conn, moderator.user_id, "chat_mute", "user", target["id"], details, ip)
        await events.append(conn, f"user:{target['id']}", "chat_muted", details)
    return {"user_id": str(target["id"]), "username": target["username"], **details}


async def mutes_in(hub: Hub, moderator: Viewer, room_slug: str) -> list[dict[str, Any]]:
    """For a moderator's view of a room: who is muted there, where, until when."""
    if not moderator.is_moderator:
        return []
    async with hub.pool.acquire() as conn:
        room = await _room_for(conn, moderator, room_slug)
        return [dict(r) for r in await q.select_mutes_covering(conn, room.id)]


async def unmute_member(
    hub: Hub, moderator: Viewer, username: str, *, room_slug: str | None, ip: str | None = None
) -> int:
    if not moderator.is_moderator or moderator.user_id is None:
        raise ChatError("forbidden", "Only moderators can lift mutes.", status=403)
    async with db.transaction(hub.pool) as conn:
        room = await _room_for(conn, moderator, room_slug) if room_slug else None
        user_id = await q.select_user_id_by_username(conn, username)
        if user_id is None:
            raise ChatError(
                "not_found", f"There is no member '{username}'.", status=404, field="username"
            )
        lifted = await q.lift_mutes(conn, user_id, room.id if room else None, moderator.user_id)
        if lifted:
            details = {"room": room.slug if room else None}
            await audit.record(conn, moderator.user_id, "chat_unmute", "user", user_id, details, ip)
            await events.append(conn, f"user:{user_id}", "chat_unmuted", details)
    return lifted
