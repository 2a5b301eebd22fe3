"""User statistics upkeep and ratio enforcement.

Aggregation: `torrents_uploaded` (approved, not deleted uploads) and `torrents_snatched`
(rows in `snatches`) are recounted from their source tables, so a counter that drifted
(a deleted torrent, a failed increment) is put right; only rows that differ are written.
Seeding and leeching counts belong to the tracker, which writes them from its swarms.

Ratio: a member of a group with a `min_ratio` whose ratio is below it, once they have
downloaded `ratio_grace_bytes`, steps down: to Member when the ratio still meets the Member
minimum (a Power User at 0.45), else to Leech (no downloading). A Leech whose ratio is back
at the Member minimum (or who is under the grace download again) returns to Member, unless
a staff member put them there. Both are audited (`user.ratio_demotion` /
`user.ratio_restored`, with the groups and the ratio), notified, and tell the tracker to
reload the member.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from hub import db
from hub.community import notifications
from hub.moderation import audit
from hub.tasks import notices as _notices  # noqa: F401  (registers the notification kinds)
from hub.tasks.runner import JobContext, JobResult
from hub.tracker import invalidate


async def aggregate_user_statistics(ctx: JobContext) -> JobResult:
    async with db.transaction(ctx.pool) as conn:
        status = await conn.execute(
            """WITH up AS (
                   SELECT uploader_id AS user_id, count(*)::int AS n FROM torrents
                    WHERE uploader_id IS NOT NULL AND moderation_status = 'approved'
                      AND NOT is_deleted
                    GROUP BY uploader_id
               ), sn AS (
                   SELECT user_id, count(*)::int AS n FROM snatches GROUP BY user_id
               ), calc AS (
                   SELECT s.user_id, coalesce(up.n, 0) AS uploads, coalesce(sn.n, 0) AS snatches
                     FROM user_statistics s
                     LEFT JOIN up ON up.user_id = s.user_id
                     LEFT JOIN sn ON sn.user_id = s.user_id
               )
               UPDATE user_statistics s
                  SET torrents_uploaded = c.uploads, torrents_snatched = c.snatches,
                      updated_at = now()
                 FROM calc c
                WHERE s.user_id = c.user_id
                  AND (s.torrents_uploaded, s.torrents_snatched)
                      IS DISTINCT FROM (c.uploads, c.snatches)"""
        )
    return {"statistics_corrected": int(status.rsplit(" ", 1)[-1])}


# Audit actions. A Leech is restored automatically only when the ratio job put them there:
# the latest group change on record for them is our demotion, not a moderator's decision.
DEMOTION = "user.ratio_demotion"
RESTORED = "user.ratio_restored"
GROUP_CHANGE = "user.group_change"  # hub/accounts/actions.py, a staff member's change


async def _group_id(conn: asyncpg.Connection, slug: str) -> int:
    value = await conn.fetchval("SELECT id FROM user_groups WHERE slug = $1", slug)
    if value is None:
        raise RuntimeError(f"the {slug!r} group is missing")
    return int(value)


async def enforce_ratio(ctx: JobContext) -> JobResult:
    grace = ctx.settings.ratio_grace_bytes
    demoted = restored = 0
    async with db.transaction(ctx.pool) as conn:
        leech = await _group_id(conn, "leech")
        member = await _group_id(conn, "member")
        member_min = await conn.fetchval("SELECT min_ratio FROM user_groups WHERE id = $1", member)
        # Recovery first, so a member demoted below never bounces back in the same run.
        recovered = await conn.fetch(
            """SELECT u.id, u.group_id, g.slug, $2::numeric AS min_ratio, s.ratio, s.downloaded
                 FROM users u
                 JOIN user_groups g ON g.id = u.group_id
                 JOIN user_statistics s ON s.user_id = u.id
                WHERE u.group_id = $1 AND NOT u.is_banned
                  AND (s.ratio IS NULL OR s.ratio >= $2 OR s.downloaded < $3)
                  AND (SELECT a.action FROM (
                           SELECT action, created_at FROM audit_logs
                            WHERE target_type = 'user' AND target_id = u.id::text
                              AND action = ANY($4::text[])
                           UNION ALL
                           SELECT action, created_at FROM audit_logs_archive
                            WHERE target_type = 'user' AND target_id = u.id::text
                              AND action = ANY($4::text[])) a
                        ORDER BY a.created_at DESC LIMIT 1) = $5
                FOR UPDATE OF u SKIP LOCKED""",
            leech,
            member_min,
            grace,
            [GROUP_CHANGE, DEMOTION, RESTORED],
            DEMOTION,
        )
        for row in recovered:
            await _move(ctx, conn, row, member, "member", RESTORED, "ratio_restored")
            restored += 1
        below = await conn.fetch(
            """SELECT u.id, u.group_id, g.slug, g.min_ratio, s.ratio, s.downloaded
                 FROM users u
                 JOIN user_groups g ON g.id = u.group_id
                 JOIN user_statistics s ON s.user_id = u.id
                WHERE g.min_ratio > 0 AND NOT g.is_staff AND u.group_id NOT IN ($1, $2)
                  AND NOT u.is_banned AND s.downloaded >= $3 AND s.ratio < g.min_ratio
                FOR UPDATE OF u SKIP LOCKED""",
            leech,
            member,
            grace,
        )
        below = list(below) + list(await conn.fetch(
            """SELECT u.id, u.group_id, g.slug, g.min_ratio, s.ratio, s.downloaded
                 FROM users u
                 JOIN user_groups g ON g.id = u.group_id
                 JOIN user_statistics s ON s.user_id = u.id
                WHERE u.group_id = $1 AND NOT u.is_banned
                  AND s.downloaded >= $2 AND s.ratio < g.min_ratio
                FOR UPDATE OF u SKIP LOCKED""",
            member,
            grace,
        ))
        for row in below:
            # A higher class still above the Member minimum steps down to Member; below
            # it, to Leech.
            if row["group_id"] != member and row["ratio"] >= member_min:
                await _move(ctx, conn, row, member, "member", DEMOTION, "ratio_demoted")
            else:
                await _move(ctx, conn, row, leech, "leech", DEMOTION, "ratio_demoted")
            demoted += 1
    return {"demoted": demoted, "restored": restored}


async def _move(
    ctx: JobContext,
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    to_group: int,
    to_slug: str,
    action: str,
    kind: str,
) -> None:
    await conn.execute("UPDATE users SET group_id = $2 WHERE id = $1", row["id"], to_group)
    ratio = None if row["ratio"] is None else str(row["ratio"])
    details: dict[str, Any] = {
        "from_group": row["slug"],
        "to_group": to_slug,
        "ratio": ratio,
        "min_ratio": str(row["min_ratio"]),
        "downloaded": row["downloaded"],
    }
    await audit.record(conn, None, action, "user", row["id"], details)
    await notifications.notify(
        conn, row["id"], kind, {"ratio": ratio, "min_ratio": str(row["min_ratio"])}
    )
    invalidate.user_changed(ctx.hub.redis, row["id"])


PROMOTION = "user.class_promotion"


async def promote_classes(ctx: JobContext) -> JobResult:
    """Promote members up the class ladder (Member -> Power User -> Elite -> Torrent Master).

    The ladder is every group with `promote_min_uploaded` set; each also names a minimum
    ratio, account age and number of uploads. A member of Member or of a ladder group moves
    to the highest ladder group whose thresholds they all meet, when it is above their own.
    Never down (the ratio job does that), and never out of a group staff gave by hand (VIP,
    Uploader, Leech, staff...). Audited as `user.class_promotion`, notified, tracker told.
    """
    promoted = 0
    async with db.transaction(ctx.pool) as conn:
        rows = await conn.fetch(
            """WITH ladder AS (
                   SELECT id, slug, level, promote_min_uploaded, promote_min_ratio,
                          promote_min_age, promote_min_uploads
                     FROM user_groups WHERE promote_min_uploaded IS NOT NULL
               ), candidates AS (
                   SELECT u.id, u.group_id, cur.slug, cur.level, s.ratio, s.uploaded,
                          (SELECT l.id FROM ladder l
                            WHERE s.uploaded >= l.promote_min_uploaded
                              AND (s.ratio IS NULL OR s.ratio >= coalesce(l.promote_min_ratio, 0))
                              AND u.created_at <= now() - coalesce(l.promote_min_age, '0 s')
                              AND s.torrents_uploaded >= coalesce(l.promote_min_uploads, 0)
                            ORDER BY l.level DESC LIMIT 1) AS to_id
                     FROM users u
                     JOIN user_groups cur ON cur.id = u.group_id
                     JOIN user_statistics s ON s.user_id = u.id
                    WHERE (cur.slug = 'member' OR cur.id IN (SELECT id FROM ladder))
                      AND NOT u.is_banned AND NOT u.is_disabled
               )
               SELECT c.id, c.group_id, c.slug, c.ratio, c.uploaded, l.id AS to_id,
                      l.slug AS to_slug
                 FROM candidates c JOIN ladder l ON l.id = c.to_id
                WHERE l.level > c.level"""
        )
        for row in rows:
            locked = await conn.fetchval(
                "SELECT group_id FROM users WHERE id = $1 FOR UPDATE SKIP LOCKED", row["id"]
            )
            if locked != row["group_id"]:
                continue  # changed (or being changed) meanwhile: next run decides
            await conn.execute(
                "UPDATE users SET group_id = $2 WHERE id = $1", row["id"], row["to_id"]
            )
            ratio = None if row["ratio"] is None else str(row["ratio"])
            await audit.record(
                conn, None, PROMOTION, "user", row["id"],
                {"from_group": row["slug"], "to_group": row["to_slug"], "ratio": ratio,
                 "uploaded": row["uploaded"]},
            )
            await notifications.notify(
                conn, row["id"], "class_promoted", {"group": row["to_slug"]}
            )
            invalidate.user_changed(ctx.hub.redis, row["id"])
            promoted += 1
    return {"promoted": promoted}
