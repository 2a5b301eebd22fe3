"""SQL for accounts: users, groups, sessions, 2FA, API tokens, privacy, invites."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.policy import RIGHTS

RIGHT_COLUMNS = ", ".join(f"g.can_{r}" for r in RIGHTS)

# Everything a Viewer needs, joined once per request.
VIEWER_COLUMNS = f"""
    u.id AS user_id, u.username::text AS username, u.is_banned, u.is_disabled,
    g.id AS group_id, g.slug AS group_slug, g.level, {RIGHT_COLUMNS}
"""


def rights_of(row: asyncpg.Record | dict[str, Any]) -> frozenset[str]:
    return frozenset(r for r in RIGHTS if row[f"can_{r}"])


# ---------------------------------------------------------------- groups


async def group_by_slug(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM user_groups WHERE slug = $1", slug)


async def group_by_id(conn: asyncpg.Connection, group_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM user_groups WHERE id = $1", group_id)


async def list_groups(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT g.*, (SELECT count(*) FROM users u WHERE u.group_id = g.id) AS member_count
             FROM user_groups g ORDER BY g.level, g.id"""
    )


# ---------------------------------------------------------------- users


async def insert_user(
    conn: asyncpg.Connection,
    *,
    username: str,
    email: str,
    password_hash: str,
    passkey: str,
    group_id: int,
    invited_by: UUID | None,
) -> UUID:
    user_id: UUID = await conn.fetchval(
        """INSERT INTO users (username, email, password_hash, passkey, group_id, invited_by)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        username,
        email,
        password_hash,
        passkey,
        group_id,
        invited_by,
    )
    await conn.execute("INSERT INTO user_statistics (user_id) VALUES ($1)", user_id)
    await conn.execute("INSERT INTO user_privacy (user_id) VALUES ($1)", user_id)
    return user_id


async def username_or_email_taken(
    conn: asyncpg.Connection, username: str, email: str
) -> str | None:
    row = await conn.fetchrow(
        """SELECT (username = $1::citext) AS same_name, (email = $2::citext) AS same_email
             FROM users WHERE username = $1::citext OR email = $2::citext LIMIT 1""",
        username,
        email,
    )
    if row is None:
        return None
    return "username" if row["same_name"] else "email"


async def user_by_login(conn: asyncpg.Connection, login: str) -> asyncpg.Record | None:
    """A user by username or email (both case-insensitive)."""
    return await conn.fetchrow(
        """SELECT u.*, g.slug AS group_slug
             FROM users u JOIN user_groups g ON g.id = u.group_id
            WHERE u.username = $1::citext OR u.email = $1::citext
            LIMIT 1""",
        login,
    )


async def user_by_id(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.*, g.slug AS group_slug, g.name AS group_name, g.level, g.is_staff
             FROM users u JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1""",
        user_id,
    )


async def user_by_username(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.*, g.slug AS group_slug, g.name AS group_name, g.level, g.is_staff,
                  g.color AS group_color
             FROM users u JOIN user_groups g ON g.id = u.group_id
            WHERE u.username = $1::citext""",
        username,
    )


async def set_password_hash(conn: asyncpg.Connection, user_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def touch_login(conn: asyncpg.Connection, user_id: UUID, ip: str | None) -> None:
    await conn.execute(
        """UPDATE users SET last_seen_at = now(), last_ip = COALESCE($2::inet, last_ip)
            WHERE id = $1""",
        user_id,
        ip,
    )


async def search_users(
    conn: asyncpg.Connection, query: str, limit: int = 50, offset: int = 0
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT u.id, u.username::text AS username, u.email::text AS email, u.is_banned,
                  u.is_disabled, u.created_at, u.last_seen_at, g.slug AS group_slug,
                  g.name AS group_name,
                  (t.confirmed_at IS NOT NULL) AS has_2fa
             FROM users u
             JOIN user_groups g ON g.id = u.group_id
             LEFT JOIN user_2fa t ON t.user_id = u.id
            WHERE $1 = '' OR u.username::text ILIKE '%' || $1 || '%'
                  OR u.email::text ILIKE '%' || $1 || '%'
            ORDER BY u.created_at DESC
            LIMIT $2 OFFSET $3""",
        query,
        limit,
        offset,
    )


# ---------------------------------------------------------------- sessions


async def insert_session(
    conn: asyncpg.Connection,
    *,
    user_id: UUID,
    token_hash: bytes,
    ip: str | None,
    user_agent: str | None,
    device_fingerprint: str | None,
    expires_at: datetime,
) -> UUID:
    session_id: UUID = await conn.fetchval(
        """INSERT INTO user_sessions (user_id, token_hash, ip, user_agent, device_fingerprint,
                                      expires_at)
           VALUES ($1, $2, $3::inet, $4, $5, $6) RETURNING id""",
        user_id,
        token_hash,
        ip,
        user_agent,
        device_fingerprint,
        expires_at,
    )
    return session_id


async def viewer_by_session_hash(
    conn: asyncpg.Connection, token_hash: bytes
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {VIEWER_COLUMNS}, s.id AS session_id, s.last_seen_at AS session_seen
              FROM user_sessions s
              JOIN users u ON u.id = s.user_id
              JOIN user_groups g ON g.id = u.group_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()""",  # noqa: S608
        token_hash,
    )


async def why_session_refused(conn: asyncpg.Connection, token_hash: bytes) -> str | None:
    """For a token that did not resolve: banned, revoked, expired, or None if unknown."""
    row = await conn.fetchrow(
        """SELECT s.revoked_at, s.expires_at <= now() AS expired, u.is_banned, u.is_disabled
             FROM user_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = $1""",
        token_hash,
    )
    if row is None:
        return None
    if row["is_banned"]:
        return "this account is banned"
    if row["is_disabled"]:
        return "this account is disabled"
    if row["revoked_at"] is not None:
        return "this session was signed out; sign in again"
    if row["expired"]:
        return "this session has expired; sign in again"
    return None


async def viewer_by_api_token_hash(
    conn: asyncpg.Connection, token_hash: bytes
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {VIEWER_COLUMNS}, t.id AS token_id, t.scopes, t.last_used_at
              FROM api_tokens t
              JOIN users u ON u.id = t.user_id
              JOIN user_groups g ON g.id = u.group_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > now())""",  # noqa: S608
        token_hash,
    )


async def session_is_active(conn: asyncpg.Connection, session_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM user_sessions s JOIN users u ON u.id = s.user_id
                               WHERE s.id = $1 AND s.revoked_at IS NULL
                                 AND s.expires_at > now()
                                 AND NOT u.is_banned AND NOT u.is_disabled)""",
            session_id,
        )
    )


async def touch_session(conn: asyncpg.Connection, session_id: UUID, ip: str | None) -> None:
    await conn.execute(
        "UPDATE user_sessions SET last_seen_at = now(), ip = COALESCE($2::inet, ip) WHERE id = $1",
        session_id,
        ip,
    )


async def touch_api_token(conn: asyncpg.Connection, token_id: UUID) -> None:
    await conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = $1", token_id)


async def list_sessions(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, device_fingerprint, user_agent, host(ip) AS ip, created_at, last_seen_at,
                  expires_at
             FROM user_sessions
            WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
            ORDER BY last_seen_at DESC""",
        user_id,
    )


async def revoke_session(conn: asyncpg.Connection, user_id: UUID, session_id: UUID) -> bool:
    row = await conn.fetchval(
        """UPDATE user_sessions SET revoked_at = now()
            WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id""",
        session_id,
        user_id,
    )
    return row is not None


async def revoke_sessions_except(
    conn: asyncpg.Connection, user_id: UUID, keep: UUID | None
) -> list[UUID]:
    rows = await conn.fetch(
        """UPDATE user_sessions SET revoked_at = now()
            WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2
            RETURNING id""",
        user_id,
        keep,
    )
    return [r["id"] for r in rows]


# ---------------------------------------------------------------- 2FA


async def get_2fa(
    conn: asyncpg.Connection, user_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    sql = "SELECT * FROM user_2fa WHERE user_id = $1"
    if lock:
        sql += " FOR UPDATE"
    return await conn.fetchrow(sql, user_id)


async def upsert_pending_2fa(
    conn: asyncpg.Connection, user_id: UUID, secret_encrypted: bytes
) -> None:
    await conn.execute(
        """INSERT INTO user_2fa (user_id, secret_encrypted) VALUES ($1, $2)
           ON CONFLICT (user_id) DO UPDATE
              SET secret_encrypted = EXCLUDED.secret_encrypted, confirmed_at = NULL,
                  backup_codes = '{}', last_used_step = NULL, created_at = now()""",
        user_id,
        secret_encrypted,
    )


async def confirm_2fa(
    conn: asyncpg.Connection, user_id: UUID, backup_hashes: list[str], step: int
) -> None:
    await conn.execute(
        """UPDATE user_2fa SET confirmed_at = now(), backup_codes = $2, last_used_step = $3
            WHERE user_id = $1""",
        user_id,
        backup_hashes,
        step,
    )


async def set_2fa_step(conn: asyncpg.Connection, user_id: UUID, step: int) -> None:
    await conn.execute("UPDATE user_2fa SET last_used_step = $2 WHERE user_id = $1", user_id, step)


async def set_backup_codes(conn: asyncpg.Connection, user_id: UUID, hashes: list[str]) -> None:
    await conn.execute("UPDATE user_2fa SET backup_codes = $2 WHERE user_id = $1", user_id, hashes)


async def delete_2fa(conn: asyncpg.Connection, user_id: UUID) -> bool:
    return (await conn.execute("DELETE FROM user_2fa WHERE user_id = $1", user_id)) != "DELETE 0"


# ---------------------------------------------------------------- API tokens


async def insert_api_token(
    conn: asyncpg.Connection,
    *,
    user_id: UUID,
    name: str,
    token_hash: bytes,
    scopes: list[str],
    expires_at: datetime | None,
) -> UUID:
    token_id: UUID = await conn.fetchval(
        """INSERT INTO api_tokens (user_id, name, token_hash, scopes, expires_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        user_id,
        name,
        token_hash,
        scopes,
        expires_at,
    )
    return token_id


async def list_api_tokens(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, name, scopes, created_at, last_used_at, expires_at
             FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL
            ORDER BY created_at DESC""",
        user_id,
    )


async def revoke_api_token(conn: asyncpg.Connection, user_id: UUID, token_id: UUID) -> bool:
    row = await conn.fetchval(
        """UPDATE api_tokens SET revoked_at = now()
            WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id""",
        token_id,
        user_id,
    )
    return row is not None


# ---------------------------------------------------------------- privacy

PRIVACY_FLAGS = (
    "hide_stats",
    "hide_uploads",
    "hide_snatches",
    "hide_activity",
    "hide_online",
    "hide_profile",
)


async def get_privacy(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM user_privacy WHERE user_id = $1", user_id)


async def update_privacy(conn: asyncpg.Connection, user_id: UUID, values: dict[str, Any]) -> None:
    allowed = {"paranoia", "notification_prefs", *PRIVACY_FLAGS}
    cols = [c for c in values if c in allowed]
    if not cols:
        return
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
    await conn.execute(
        f"UPDATE user_privacy SET {assignments} WHERE user_id = $1",  # noqa: S608 - whitelisted
        user_id,
        *[values[c] for c in cols],
    )


# ---------------------------------------------------------------- invites


async def insert_invite(
    conn: asyncpg.Connection,
    *,
    inviter_id: UUID,
    code: str,
    email: str | None,
    expires_at: datetime,
) -> UUID:
    invite_id: UUID = await conn.fetchval(
        """INSERT INTO invites (inviter_id, code, email, expires_at)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        inviter_id,
        code,
        email,
        expires_at,
    )
    return invite_id


async def invite_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM invites WHERE code = $1 FOR UPDATE", code)


async def mark_invite_used(conn: asyncpg.Connection, invite_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "UPDATE invites SET used_by = $2, used_at = now() WHERE id = $1", invite_id, user_id
    )


async def list_invites(conn: asyncpg.Connection, inviter_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT i.id, i.code, i.email::text AS email, i.expires_at, i.used_at, i.revoked_at,
                  i.created_at, u.username::text AS used_by_username
             FROM invites i LEFT JOIN users u ON u.id = i.used_by
            WHERE i.inviter_id = $1 ORDER BY i.created_at DESC""",
        inviter_id,
    )


async def revoke_invite(conn: asyncpg.Connection, inviter_id: UUID, invite_id: UUID) -> bool:
    row = await conn.fetchval(
        """UPDATE invites SET revoked_at = now()
            WHERE id = $1 AND inviter_id = $2 AND used_at IS NULL AND revoked_at IS NULL
            RETURNING id""",
        invite_id,
        inviter_id,
    )
    return row is not None


async def invitees(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    """The invite tree below a member, depth first, with each member's depth."""
    return await conn.fetch(
        """WITH RECURSIVE tree AS (
               SELECT id, username, invited_by, created_at, 1 AS depth,
                      ARRAY[created_at::text || id::text] AS path
                 FROM users WHERE invited_by = $1
               UNION ALL
               SELECT u.id, u.username, u.invited_by, u.created_at, t.depth + 1,
                      t.path || (u.created_at::text || u.id::text)
                 FROM users u JOIN tree t ON u.invited_by = t.id
                WHERE t.depth < 10)
           SELECT id, username::text AS username, invited_by, created_at, depth
             FROM tree ORDER BY path""",
        user_id,
    )


# ---------------------------------------------------------------- account tokens


async def insert_account_token(
    conn: asyncpg.Connection,
    *,
    user_id: UUID,
    purpose: str,
    token_hash: bytes,
    expires_at: datetime,
) -> UUID:
    token_id: UUID = await conn.fetchval(
        """INSERT INTO account_tokens (user_id, purpose, token_hash, expires_at)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        user_id,
        purpose,
        token_hash,
        expires_at,
    )
    return token_id


async def take_account_token(
    conn: asyncpg.Connection, purpose: str, token_hash: bytes
) -> asyncpg.Record | None:
    """Mark a live one-time token used and return it; None if unknown, used or expired."""
    return await conn.fetchrow(
        """UPDATE account_tokens SET used_at = now()
            WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
            RETURNING id, user_id""",
        token_hash,
        purpose,
    )
