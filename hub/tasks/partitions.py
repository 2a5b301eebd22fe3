"""Time-partitioned tables: create partitions ahead, and archive old ones.

"Archive" means what the seed's cleanup list asks for, and nothing is dropped before its
summary or copy is written in the same transaction:
- announces (monthly): aggregated per user, torrent and month into `announces_monthly`
  (count, completions, bytes; no IPs), then the old partitions are dropped;
- peer_history (monthly): aggregated per torrent, user and day into `peer_history_daily`,
  then the old daily partitions (or TimescaleDB chunks) are dropped;
- audit_logs (quarterly): copied row for row into `audit_logs_archive`, then the old
  partitions are dropped. The audit trail is never summarised away.
The SQL helpers `hub_ensure_partitions` and `hub_drop_partitions_before` come from
migration 0003.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub import db
from hub.tasks.runner import JobContext, JobResult
from hub.tasks.schedule import utcnow


def month_start(moment: datetime, months_back: int = 0) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def day_start(moment: datetime, days_back: int = 0) -> datetime:
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return day - timedelta(days=days_back)


async def ensure_partitions(ctx: JobContext) -> JobResult:
    s = ctx.settings
    async with ctx.pool.acquire() as conn:
        created = {
            "announces": await conn.fetchval(
                "SELECT hub_ensure_partitions('announces', 'month', $1)", s.partitions_ahead_months
            ),
            "audit_logs": await conn.fetchval(
                "SELECT hub_ensure_partitions('audit_logs', 'month', $1)", s.partitions_ahead_months
            ),
            "peer_history": await conn.fetchval(
                "SELECT hub_ensure_partitions('peer_history', 'day', $1)", s.partitions_ahead_days
            ),
        }
    return {"partitions_created": created}


async def archive_announces(ctx: JobContext, now: datetime | None = None) -> JobResult:
    cutoff = month_start(now or utcnow(), ctx.settings.announces_keep_months)
    async with db.transaction(ctx.pool) as conn:
        summarised = await conn.execute(
            """INSERT INTO announces_monthly AS m (month, user_id, torrent_id, announces,
                          completed, uploaded, downloaded, first_at, last_at)
               SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date,
                      user_id, torrent_id, count(*),
                      count(*) FILTER (WHERE event = 'completed'),
                      sum(uploaded_delta), sum(downloaded_delta),
                      min(created_at), max(created_at)
                 FROM announces WHERE created_at < $1
                GROUP BY 1, 2, 3
               ON CONFLICT (user_id, torrent_id, month) DO UPDATE SET
                   announces = m.announces + EXCLUDED.announces,
                   completed = m.completed + EXCLUDED.completed,
                   uploaded = m.uploaded + EXCLUDED.uploaded,
                   downloaded = m.downloaded + EXCLUDED.downloaded,
                   first_at = least(m.first_at, EXCLUDED.first_at),
                   last_at = greatest(m.last_at, EXCLUDED.last_at)""",
            cutoff,
        )
        dropped = await conn.fetch(
            "SELECT hub_drop_partitions_before('announces', $1) AS name", cutoff
        )
    return {
        "cutoff": cutoff.isoformat(),
        "summary_rows": int(summarised.rsplit(" ", 1)[-1]),
        "partitions_dropped": [r["name"] for r in dropped],
    }


async def aggregate_peer_history(ctx: JobContext, now: datetime | None = None) -> JobResult:
    cutoff = day_start(now or utcnow(), ctx.settings.peer_history_keep_days)
    async with db.transaction(ctx.pool) as conn:
        # A day already summarised (from rows that sat in the DEFAULT partition) is merged
        # with weighted averages, so re-running never skews it.
        summarised = await conn.execute(
            """INSERT INTO peer_history_daily AS d (day, torrent_id, user_id, samples,
                          seeders_avg, seeders_max, leechers_avg, leechers_max,
                          uploaded, downloaded)
               SELECT (time AT TIME ZONE 'UTC')::date, torrent_id, user_id, count(*),
                      round(avg(seeders), 2), max(seeders), round(avg(leechers), 2), max(leechers),
                      sum(uploaded), sum(downloaded)
                 FROM peer_history WHERE time < $1
                GROUP BY 1, 2, 3
               ON CONFLICT (torrent_id, user_id, day) DO UPDATE SET
                   seeders_avg = round((d.seeders_avg * d.samples
                                        + EXCLUDED.seeders_avg * EXCLUDED.samples)
                                       / (d.samples + EXCLUDED.samples), 2),
                   leechers_avg = round((d.leechers_avg * d.samples
                                         + EXCLUDED.leechers_avg * EXCLUDED.samples)
                                        / (d.samples + EXCLUDED.samples), 2),
                   samples = d.samples + EXCLUDED.samples,
                   seeders_max = greatest(d.seeders_max, EXCLUDED.seeders_max),
                   leechers_max = greatest(d.leechers_max, EXCLUDED.leechers_max),
                   uploaded = d.uploaded + EXCLUDED.uploaded,
                   downloaded = d.downloaded + EXCLUDED.downloaded""",
            cutoff,
        )
        dropped = await conn.fetch(
            "SELECT hub_drop_partitions_before('peer_history', $1) AS name", cutoff
        )
    return {
        "cutoff": cutoff.isoformat(),
        "summary_rows": int(summarised.rsplit(" ", 1)[-1]),
        "partitions_dropped": [r["name"] for r in dropped],
    }


async def archive_audit_logs(ctx: JobContext, now: datetime | None = None) -> JobResult:
    cutoff = month_start(now or utcnow(), ctx.settings.audit_keep_months)
    async with db.transaction(ctx.pool) as conn:
        copied = await conn.execute(
            """INSERT INTO audit_logs_archive (id, user_id, action, target_type, target_id,
                                               details, ip, created_at)
               SELECT id, user_id, action, target_type, target_id, details, ip, created_at
                 FROM audit_logs WHERE created_at < $1
               ON CONFLICT (id, created_at) DO NOTHING""",
            cutoff,
        )
        dropped = await conn.fetch(
            "SELECT hub_drop_partitions_before('audit_logs', $1) AS name", cutoff
        )
    return {
        "cutoff": cutoff.isoformat(),
        "rows_archived": int(copied.rsplit(" ", 1)[-1]),
        "partitions_dropped": [r["name"] for r in dropped],
    }
