"""The job table: every scheduled job, its period and its function (docs/operations.md).

All times UTC. Daily and longer jobs are spread over the small hours so they do not pile
up; a worker that was down runs each missed job once when it comes back.
"""

from __future__ import annotations

from datetime import timedelta

from hub.tasks import bonus, cleanup, freeleech, hnr, partitions, ratio
from hub.tasks.runner import Job, JobContext, JobResult
from hub.tasks.schedule import Daily, Every, Monthly, Weekly


async def index_search(ctx: JobContext) -> JobResult:
    from hub import search
    from hub.search.indexer import process_queue

    backend = search.backend(ctx.hub)
    marker = "_hub_setup_done"
    if not getattr(backend, marker, False):
        await backend.setup()
        setattr(backend, marker, True)
    s = ctx.settings
    report = await process_queue(
        ctx.pool, backend,
        batch_size=s.index_batch_size,
        max_attempts=s.index_max_attempts,
        keep_processed=timedelta(days=s.index_keep_processed_days),
    )
    return report.as_dict() if report.batches or report.pruned else None


JOBS: list[Job] = [
    Job("search_index", Every(5), index_search,
        "drain search_index_queue into the search backend"),
    Job("freeleech", Every(60), freeleech.freeleech_upkeep,
        "end timed torrent freeleech; tell trackers when site-wide windows change"),
    Job("stale_peers", Every(300), cleanup.expire_stale_peers,
        "delete peers that stopped announcing (older than HUB peer expiry)"),
    Job("event_log_trim", Every(600), cleanup.trim_events,
        "keep the last event_log_keep events per live stream"),
    Job("bonus_earning", Every(3600), bonus.earn_seeding_bonus,
        "pay seeding bonus points for the hour (seed flow 5)"),
    Job("partition_upkeep", Daily(0, 5), partitions.ensure_partitions,
        "create future partitions of announces, audit_logs (monthly), peer_history (daily)"),
    Job("session_expiry", Daily(3, 10), cleanup.expire_sessions,
        "delete sessions and one-time tokens expired or revoked long ago"),
    Job("user_statistics", Daily(3, 30), ratio.aggregate_user_statistics,
        "recount uploads and snatches per member"),
    Job("ratio_enforcement", Daily(3, 45), ratio.enforce_ratio,
        "move members below their group's minimum ratio to Leech, and back"),
    Job("class_promotion", Daily(3, 50), ratio.promote_classes,
        "promote members up the class ladder (Power User, Elite, Torrent Master)"),
    Job("hit_and_run", Daily(4, 15), hnr.check_hit_and_runs,
        "flag and warn completed downloads not seeded long enough"),
    Job("chat_archive", Weekly(0, 4, 30), cleanup.archive_chat,
        "move chat older than the retention window to chat_messages_archive"),
    Job("announces_archive", Monthly(1, 1, 0), partitions.archive_announces,
        "aggregate old announces into announces_monthly, drop their partitions"),
    Job("peer_history_aggregate", Monthly(1, 1, 30), partitions.aggregate_peer_history,
        "aggregate old peer_history into peer_history_daily, drop their partitions"),
    Job("audit_archive", Monthly(1, 2, 0, months=3), partitions.archive_audit_logs,
        "copy old audit_logs to audit_logs_archive, drop their partitions"),
]
