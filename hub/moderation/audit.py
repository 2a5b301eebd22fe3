"""audit_logs: every privileged action, written in the action's own transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def record(
    conn: asyncpg.Connection,
    actor_id: UUID | None,
    action: str,
    target_type: str,
    target_id: object,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_logs (user_id, action, target_type, target_id, details, ip)
           VALUES ($1, $2, $3, $4, $5, $6::inet)""",
        actor_id,
        action,
        target_type,
        str(target_id),
        details or {},
        ip,
    )
