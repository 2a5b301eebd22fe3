"""SQL for chat: rooms, messages, mutes. Small functions taking a connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class Room:
    id: int
    slug: str
    name: str
    description: str
    min_group_level: int
    staff_only: bool
    is_active: bool

    @property
    def stream(self) -> str:
        return f"chat:{self.slug}"


@dataclass(frozen=True)
class Message:
    id: int
    room_id: int
    user_id: UUID | None
    username: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The shape sent to clients (events, acks, history); a deleted body is withheld."""
        deleted = self.deleted_at is not None
        return {
            "id": self.id,
            "room_id": self.room_id,
            "user_id": str(self.user_id) if self.user_id else None,
            "username": self.username,
            "body": "" if deleted else self.body,
            "created_at": self.created_at.isoformat(),
            "edited_at": self.edited_at.isoformat() if self.edited_at else None,
            "deleted": deleted,
        }


# Constant column lists spliced into the SQL below (never user input).
_ROOM_COLUMNS = "id, slug, name, description, min_group_level, staff_only, is_active"
_MESSAGE_SELECT = """
    SELECT m.id, m.room_id, m.user_id, coalesce(u.username::text, '[deleted]') AS username,
           m.body, m.created_at, m.edited_at, m.deleted_at
      FROM chat_messages m LEFT JOIN users u ON u.id = m.user_id
"""


async def select_rooms(conn: asyncpg.Connection) -> list[Room]:
    rows = await conn.fetch(
        f"SELECT {_ROOM_COLUMNS} FROM chat_rooms WHERE is_active ORDER BY position, id"  # noqa: S608
    )
    return [Room(**r) for r in rows]


async def select_room_by_slug(conn: asyncpg.Connection, slug: str) -> Room | None:
    row = await conn.fetchrow(
        f"SELECT {_ROOM_COLUMNS} FROM chat_rooms WHERE slug = $1",  # noqa: S608
        slug,
    )
    return Room(**row) if row else None


async def select_room_by_id(conn: asyncpg.Connection, room_id: int) -> Room | None:
    row = await conn.fetchrow(
        f"SELECT {_ROOM_COLUMNS} FROM chat_rooms WHERE id = $1",  # noqa: S608
        room_id,
    )
    return Room(**row) if row else None


async def insert_message(
    conn: asyncpg.Connection, room_id: int, user_id: UUID, body: str
) -> Message:
    row = await conn.fetchrow(
        """WITH m AS (
               INSERT INTO chat_messages (room_id, user_id, body) VALUES ($1, $2, $3)
               RETURNING id, room_id, user_id, body, created_at, edited_at, deleted_at)
           SELECT m.*, u.username::text AS username FROM m JOIN users u ON u.id = m.user_id""",
        room_id,
        user_id,
        body,
    )
    return Message(**row)


async def select_message_for_update(conn: asyncpg.Connection, message_id: int) -> Message | None:
    row = await conn.fetchrow(_MESSAGE_SELECT + " WHERE m.id = $1 FOR UPDATE OF m", message_id)
    return Message(**row) if row else None


async def update_message_body(conn: asyncpg.Connection, message_id: int, body: str) -> Message:
    await conn.execute(
        "UPDATE chat_messages SET body = $2, edited_at = now() WHERE id = $1", message_id, body
    )
    row = await conn.fetchrow(_MESSAGE_SELECT + " WHERE m.id = $1", message_id)
    return Message(**row)


async def mark_message_deleted(
    conn: asyncpg.Connection, message_id: int, deleted_by: UUID
) -> Message:
    await conn.execute(
        "UPDATE chat_messages SET deleted_at = now(), deleted_by = $2 WHERE id = $1",
        message_id,
        deleted_by,
    )
    row = await conn.fetchrow(_MESSAGE_SELECT + " WHERE m.id = $1", message_id)
    return Message(**row)


async def select_history(
    conn: asyncpg.Connection, room_id: int, before: int | None, limit: int
) -> list[Message]:
    """The `limit` newest messages older than `before`, oldest first."""
    rows = await conn.fetch(
        _MESSAGE_SELECT
        + """ WHERE m.room_id = $1 AND ($2::bigint IS NULL OR m.id < $2)
              ORDER BY m.id DESC LIMIT $3""",
        room_id,
        before,
        limit,
    )
    return [Message(**r) for r in reversed(rows)]


async def select_stream_seq(conn: asyncpg.Connection, stream: str) -> int:
    seq = await conn.fetchval("SELECT last_seq FROM event_streams WHERE stream = $1", stream)
    return int(seq or 0)


async def select_active_mute(
    conn: asyncpg.Connection, user_id: UUID, room_id: int
) -> asyncpg.Record | None:
    """The mute that ends last among those covering this room (or all rooms)."""
    return await conn.fetchrow(
        """SELECT id, room_id, expires_at, reason FROM chat_mutes
            WHERE user_id = $1 AND (room_id IS NULL OR room_id = $2)
              AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            ORDER BY expires_at DESC NULLS FIRST LIMIT 1""",
        user_id,
        room_id,
    )


async def insert_mute(
    conn: asyncpg.Connection,
    user_id: UUID,
    room_id: int | None,
    muted_by: UUID,
    seconds: int | None,
    reason: str | None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO chat_mutes (user_id, room_id, muted_by, reason, expires_at)
           VALUES ($1, $2, $3, $4,
                   CASE WHEN $5::int IS NULL THEN NULL ELSE now() + make_interval(secs => $5) END)
           RETURNING id, expires_at""",
        user_id,
        room_id,
        muted_by,
        reason,
        seconds,
    )


async def select_mutes_covering(conn: asyncpg.Connection, room_id: int) -> list[asyncpg.Record]:
    """Mutes in force in this room: its own and the all-rooms ones."""
    return await conn.fetch(
        """SELECT u.username::text AS username, m.room_id IS NULL AS all_rooms,
                  m.expires_at, m.reason
             FROM chat_mutes m JOIN users u ON u.id = m.user_id
            WHERE (m.room_id IS NULL OR m.room_id = $1) AND m.lifted_at IS NULL
              AND (m.expires_at IS NULL OR m.expires_at > now())
            ORDER BY u.username, m.room_id NULLS FIRST""",
        room_id,
    )


async def lift_mutes(
    conn: asyncpg.Connection, user_id: UUID, room_id: int | None, lifted_by: UUID
) -> int:
    result: str = await conn.execute(
        """UPDATE chat_mutes SET lifted_at = now(), lifted_by = $3
            WHERE user_id = $1 AND room_id IS NOT DISTINCT FROM $2 AND lifted_at IS NULL""",
        user_id,
        room_id,
        lifted_by,
    )
    return int(result.rsplit(" ", 1)[1])


async def select_users_by_usernames(
    conn: asyncpg.Connection, usernames: list[str]
) -> list[asyncpg.Record]:
    """Mentionable members: not banned or disabled, with their group's level and chat right."""
    return await conn.fetch(
        """SELECT u.id, u.username::text AS username, g.level, g.can_chat,
                  g.can_moderate OR g.can_administer AS is_staff
             FROM users u JOIN user_groups g ON g.id = u.group_id
            WHERE u.username = ANY($1::citext[]) AND NOT u.is_banned AND NOT u.is_disabled""",
        usernames,
    )


async def select_user_id_by_username(conn: asyncpg.Connection, username: str) -> UUID | None:
    value: UUID | None = await conn.fetchval(
        "SELECT id FROM users WHERE username = $1::citext", username
    )
    return value
