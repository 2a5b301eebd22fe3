"""Rows the worker and search tests need, written straight to the tables those jobs read.

Members come from tests.factories (the accounts actions); torrents, peers and history are
inserted here because the jobs only read them, whoever wrote them.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from hub.tasks.runner import JobContext
from hub.tasks.schedule import utcnow
from hub.tasks.settings import TaskSettings


def context(
    hub: Any,
    *,
    job_name: str | None = None,
    period_start: datetime | None = None,
    hub_settings: dict[str, Any] | None = None,
    **task_settings: Any,
) -> JobContext:
    """A JobContext for calling a job directly; `hub_settings` overrides hub.settings fields."""
    target = hub
    if hub_settings:
        target = SimpleNamespace(
            settings=replace(hub.settings, **hub_settings), pool=hub.pool, redis=hub.redis,
            database_url=hub.database_url,
        )
    return JobContext(
        target,
        TaskSettings(**task_settings),
        period_start or utcnow(),
        job_name or f"test_{uuid.uuid4().hex[:10]}",
    )


async def make_torrent(
    hub: Any,
    *,
    name: str | None = None,
    description: str = "",
    status: str = "approved",
    size: int = 1024**3,
    uploader_id: UUID | None = None,
    category_slug: str = "software",
    **flags: Any,
) -> int:
    values: dict[str, Any] = {
        "info_hash": os.urandom(20),
        "name": name or f"Test torrent {uuid.uuid4().hex[:8]}",
        "description": description,
        "size": size,
        "torrent_data": b"d4:infod4:name4:testee",
        "moderation_status": status,
        "uploader_id": uploader_id,
        **flags,
    }
    columns = ", ".join(values)
    placeholders = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    torrent_id: int = await hub.pool.fetchval(
        f"""INSERT INTO torrents (category_id, {columns})
            VALUES ((SELECT id FROM torrent_categories WHERE slug = $1), {placeholders})
            RETURNING id""",
        category_slug,
        *values.values(),
    )
    return torrent_id


async def make_peer(
    hub: Any,
    user_id: UUID,
    torrent_id: int,
    *,
    seeder: bool = True,
    seconds_ago: float = 0,
) -> bytes:
    peer_id = b"-qB4650-" + os.urandom(12)
    await hub.pool.execute(
        """INSERT INTO peers (torrent_id, user_id, peer_id, ip, port, left_bytes, is_seeder,
                              last_announce_at)
           VALUES ($1, $2, $3, '127.0.0.1', 51413, $4, $5, now() - make_interval(secs => $6))""",
        torrent_id,
        user_id,
        peer_id,
        0 if seeder else 1000,
        seeder,
        float(seconds_ago),
    )
    return peer_id


def days_ago(days: float) -> datetime:
    from datetime import timedelta

    return datetime.now(UTC) - timedelta(days=days)
