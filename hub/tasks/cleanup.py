"""The seed's daily and weekly cleanup: sessions, stale peers, chat, the event log."""

from __future__ import annotations

import logging
from datetime import timedelta

from hub import db
from hub.tasks.runner import JobContext, JobResult

log = logging.getLogger(__name__)

_CHAT_BATCH = 5000


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def expire_sessions(ctx: JobContext) -> JobResult:
    """Delete sessions that expired or were revoked more than the retention window ago.

    A revoked or expired session already stops working at once (the row decides); the rows
    stay a while so the member's settings page can still show recent sign-outs.
    """
    keep = timedelta(days=ctx.settings.session_retention_days)
    async with db.transaction(ctx.pool) as conn:
        sessions = _count(
            await conn.execute(
                """DELETE FROM user_sessions
                    WHERE expires_at < now() - $1::interval
                       OR (revoked_at IS NOT NULL AND revoked_at < now() - $1::interval)""",
                keep,
            )
        )
        tokens = _count(
            await conn.execute(
                """DELETE FROM account_tokens
                    WHERE expires_at < now() - $1::interval
                       OR (used_at IS NOT NULL AND used_at < now() - $1::interval)""",
                keep,
            )
        )
    return {"sessions_deleted": sessions, "account_tokens_deleted": tokens}


async def expire_stale_peers(ctx: JobContext) -> JobResult:
    """Delete persisted peers that stopped announcing; their history rows go inactive.

    The tracker expires the same peers from its memory; this catches rows left by a tracker
    process that is gone (or a shard that moved), so the peers table and the next tracker
    start do not resurrect them.
    """
    expiry = timedelta(seconds=ctx.hub.settings.peer_expiry_seconds)
    async with db.transaction(ctx.pool) as conn:
        gone = await conn.fetch(
            """DELETE FROM peers WHERE last_announce_at < now() - $1::interval
               RETURNING torrent_id, user_id""",
            expiry,
        )
        if gone:
            # A separate statement: a data-modifying CTE's deletions are invisible to the
            # rest of its own statement, so NOT EXISTS would still see the deleted peers.
            await conn.execute(
                """UPDATE torrent_history h SET is_active = false, is_seeder = false
                     FROM unnest($1::bigint[], $2::uuid[]) AS g (torrent_id, user_id)
                    WHERE h.torrent_id = g.torrent_id AND h.user_id = g.user_id AND h.is_active
                      AND NOT EXISTS (SELECT 1 FROM peers p
                                       WHERE p.torrent_id = g.torrent_id
                                         AND p.user_id = g.user_id)""",
                [r["torrent_id"] for r in gone],
                [r["user_id"] for r in gone],
            )
    return {"peers_deleted": len(gone)}


async def archive_chat(ctx: JobContext) -> JobResult:
    """Move (or delete, per HUB_CHAT_ARCHIVE_MODE) chat older than the retention window.

    In batches, each its own transaction, so a large backlog never holds long locks.
    """
    cutoff_age = timedelta(days=ctx.settings.chat_retention_days)
    archive = ctx.settings.chat_archive_mode == "archive"
    total = 0
    while True:
        async with db.transaction(ctx.pool) as conn:
            if archive:
                moved = await conn.fetchval(
                    """WITH doomed AS (
                           SELECT id FROM chat_messages
                            WHERE created_at < now() - $1::interval
                            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
                       ), moved AS (
                           DELETE FROM chat_messages m USING doomed d WHERE m.id = d.id
                           RETURNING m.id, m.room_id, m.user_id, m.body, m.created_at,
                                     m.edited_at, m.deleted_at, m.deleted_by
                       ), kept AS (
                           INSERT INTO chat_messages_archive (id, room_id, user_id, body,
                                       created_at, edited_at, deleted_at, deleted_by)
                           SELECT * FROM moved ON CONFLICT (id) DO NOTHING
                       )
                       SELECT count(*) FROM moved""",
                    cutoff_age,
                    _CHAT_BATCH,
                )
            else:
                moved = _count(
                    await conn.execute(
                        """DELETE FROM chat_messages WHERE id IN (
                               SELECT id FROM chat_messages
                                WHERE created_at < now() - $1::interval
                                ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)""",
                        cutoff_age,
                        _CHAT_BATCH,
                    )
                )
        total += int(moved)
        if moved < _CHAT_BATCH:
            break
    return {"chat_messages_" + ("archived" if archive else "deleted"): total}


async def trim_events(ctx: JobContext) -> JobResult:
    """Keep the last `event_log_keep` events per stream (the live hub's resume window)."""
    try:
        from hub.realtime.resume import trim_event_log
    except ImportError:  # the live hub's trimming is not there: nothing to call
        log.warning("hub.realtime.resume.trim_event_log is missing; event log not trimmed")
        return {"events_deleted": 0, "skipped": True}
    deleted = await trim_event_log(ctx.pool, ctx.hub.settings.event_log_keep)
    return {"events_deleted": deleted}
