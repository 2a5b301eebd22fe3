"""Hit-and-run check: a member who completed a download must seed it for a while.

A `torrent_history` row is a hit-and-run when the download completed more than `hnr_days`
ago, the member's seed time on it is below `hnr_min_seed_hours`, they are not seeding it
right now, they are not its uploader, and their group is not immune (`is_immune_hnr`).
Each one is flagged, earns a warning (points, expiry), a notification and an audit entry,
in one transaction per batch. A flagged row is never judged again.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import asyncpg

from hub import db
from hub.community import notifications
from hub.moderation import audit
from hub.tasks.runner import JobContext, JobResult

_BATCH = 500


async def check_hit_and_runs(ctx: JobContext) -> JobResult:
    s = ctx.settings
    grace = timedelta(days=s.hnr_days)
    required = s.hnr_min_seed_hours * 3600
    flagged = 0
    while True:
        async with db.transaction(ctx.pool) as conn:
            rows = await conn.fetch(
                """SELECT h.user_id, h.torrent_id, h.seed_time_seconds, t.name
                     FROM torrent_history h
                     JOIN users u ON u.id = h.user_id
                     JOIN user_groups g ON g.id = u.group_id
                     JOIN torrents t ON t.id = h.torrent_id
                    WHERE h.completed_at IS NOT NULL AND NOT h.is_hit_and_run
                      AND h.completed_at < now() - $1::interval
                      AND h.seed_time_seconds < $2
                      AND NOT g.is_immune_hnr
                      AND NOT (h.is_active AND h.is_seeder)
                      AND t.uploader_id IS DISTINCT FROM h.user_id
                    ORDER BY h.completed_at
                    LIMIT $3
                    FOR UPDATE OF h SKIP LOCKED""",
                grace,
                required,
                _BATCH,
            )
            for row in rows:
                await _flag(conn, ctx, row["user_id"], row["torrent_id"], row["name"],
                            int(row["seed_time_seconds"]), required)
        flagged += len(rows)
        if len(rows) < _BATCH:
            break
    return {"flagged": flagged}


async def _flag(
    conn: asyncpg.Connection,
    ctx: JobContext,
    user_id: UUID,
    torrent_id: int,
    name: str,
    seeded: int,
    required: int,
) -> None:
    s = ctx.settings
    await conn.execute(
        """UPDATE torrent_history SET is_hit_and_run = true, hnr_warned_at = now()
            WHERE user_id = $1 AND torrent_id = $2""",
        user_id,
        torrent_id,
    )
    reason = (
        f"Hit and run on “{name}”: seeded {seeded / 3600:.1f} h of the "
        f"{required // 3600} h required within {s.hnr_days} days of completing it."
    )
    warning_id = await conn.fetchval(
        """INSERT INTO warnings (user_id, issued_by, points, reason, expires_at)
           VALUES ($1, NULL, $2, $3, now() + $4::interval) RETURNING id""",
        user_id,
        s.hnr_warning_points,
        reason,
        timedelta(days=s.hnr_warning_days),
    )
    details = {
        "torrent_id": torrent_id,
        "warning_id": warning_id,
        "seed_time_seconds": seeded,
        "required_seconds": required,
    }
    await audit.record(conn, None, "user.hit_and_run", "user", user_id, details)
    await notifications.notify(
        conn, user_id, "hit_and_run",
        {"torrent_id": torrent_id, "torrent_name": name, "warning_id": warning_id,
         "reason": reason},
    )
