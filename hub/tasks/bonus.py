"""Bonus earning (the seed's flow 5): every hour, active seeders x bonus_rules -> ledger.

One transaction per period: it claims the period in `job_periods` first, so a period is
paid once even if two processes or a crash-and-retry reach it. Each (member, rule) pair
earns one `bonus_transactions` row for the hour, and `user_statistics.seedbonus` moves by
the same total; `balance_after` is the running balance in rule priority order.

A seeder counts when its peer row is a seeder that announced within the peer expiry, on an
approved, not deleted torrent, and the member is neither banned nor disabled. Seeding rule
conditions (JSONB): `min_seed_time_seconds` (the member's seed time on that torrent from
torrent_history), `min_size_bytes`, `max_seeders` (distinct seeding members on the torrent).
Amounts are per seeding torrent per hour, times the rule's multiplier.
"""

from __future__ import annotations

from datetime import timedelta

from hub import db
from hub.tasks.runner import JobContext, JobResult, claim_period

_EARN = """
WITH fresh AS (
    SELECT DISTINCT p.user_id, p.torrent_id
      FROM peers p
      JOIN users u ON u.id = p.user_id AND NOT u.is_banned AND NOT u.is_disabled
      JOIN torrents t ON t.id = p.torrent_id
                     AND t.moderation_status = 'approved' AND NOT t.is_deleted
     WHERE p.is_seeder AND p.last_announce_at >= now() - $2::interval
), swarm AS (
    SELECT torrent_id, count(*) AS seeders FROM fresh GROUP BY torrent_id
), earned AS (
    SELECT f.user_id, r.id AS rule_id, r.slug, r.priority,
           count(*) AS torrents, round(sum(r.amount * r.multiplier), 2) AS amount
      FROM fresh f
      JOIN torrents t ON t.id = f.torrent_id
      JOIN swarm s ON s.torrent_id = f.torrent_id
      LEFT JOIN torrent_history h ON h.user_id = f.user_id AND h.torrent_id = f.torrent_id
      JOIN bonus_rules r
        ON r.rule_type = 'seeding' AND r.is_active
       AND (r.starts_at IS NULL OR r.starts_at <= $1)
       AND (r.ends_at IS NULL OR r.ends_at > $1)
     WHERE coalesce(h.seed_time_seconds, 0)
               >= coalesce((r.conditions ->> 'min_seed_time_seconds')::bigint, 0)
       AND t.size >= coalesce((r.conditions ->> 'min_size_bytes')::bigint, 0)
       AND (r.conditions ->> 'max_seeders' IS NULL
            OR s.seeders <= (r.conditions ->> 'max_seeders')::int)
     GROUP BY f.user_id, r.id, r.slug, r.priority
    HAVING round(sum(r.amount * r.multiplier), 2) > 0
), totals AS (
    SELECT user_id, sum(amount) AS total FROM earned GROUP BY user_id
), credited AS (
    INSERT INTO user_statistics AS us (user_id, seedbonus)
    SELECT user_id, total FROM totals
    ON CONFLICT (user_id) DO UPDATE
        SET seedbonus = us.seedbonus + EXCLUDED.seedbonus, updated_at = now()
    RETURNING user_id, seedbonus
), ledger AS (
    INSERT INTO bonus_transactions (user_id, amount, balance_after, reason, bonus_rule_id,
                                    reference)
    SELECT e.user_id, e.amount,
           c.seedbonus - t.total
               + sum(e.amount) OVER (PARTITION BY e.user_id ORDER BY e.priority, e.rule_id),
           'Seeding bonus: ' || e.torrents || ' torrent' || CASE WHEN e.torrents = 1 THEN ''
                                                                ELSE 's' END
               || ' (' || e.slug || ')',
           e.rule_id,
           jsonb_build_object('period', $3::text, 'rule', e.slug, 'torrents', e.torrents)
      FROM earned e
      JOIN totals t ON t.user_id = e.user_id
      JOIN credited c ON c.user_id = e.user_id
    RETURNING user_id, amount
)
SELECT count(DISTINCT user_id) AS members, count(*) AS entries, coalesce(sum(amount), 0) AS points
  FROM ledger
"""


async def earn_seeding_bonus(ctx: JobContext) -> JobResult:
    expiry = timedelta(seconds=ctx.hub.settings.peer_expiry_seconds)
    async with db.transaction(ctx.pool) as conn:
        if not await claim_period(conn, ctx.job_name, ctx.period_start):
            return {"already_paid": ctx.period_start.isoformat()}
        row = await conn.fetchrow(_EARN, ctx.period_start, expiry, ctx.period_start.isoformat())
    return {
        "period": ctx.period_start.isoformat(),
        "members": row["members"],
        "entries": row["entries"],
        "points": str(row["points"]),
    }
