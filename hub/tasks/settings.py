"""The worker's knobs, from `HUB_*` environment variables (listed in README.md).

Kept beside the jobs rather than in hub/config.py: only the worker reads them, and each
one names the job it tunes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hub.config import env_float, env_int, env_list


@dataclass(frozen=True)
class TaskSettings:
    # Which jobs this worker process runs: empty = all of them (comma-separated names).
    jobs: tuple[str, ...] = ()
    # Longest a job loop sleeps before looking at the clock again.
    max_sleep_seconds: float = 60.0
    # After a failed run, wait this long (or the period, if shorter) before retrying.
    retry_seconds: float = 60.0
    # session expiry: expired or revoked sessions are deleted this long after.
    session_retention_days: int = 30
    # chat archival: messages older than this leave chat_messages.
    chat_retention_days: int = 90
    chat_archive_mode: str = "archive"  # "archive" (move) or "delete"
    # announces: months kept in detail before aggregation into announces_monthly.
    announces_keep_months: int = 3
    # peer_history: days kept in detail before aggregation into peer_history_daily.
    peer_history_keep_days: int = 30
    # audit_logs: months kept hot before moving to audit_logs_archive.
    audit_keep_months: int = 12
    # partitions created ahead of time.
    partitions_ahead_months: int = 2
    partitions_ahead_days: int = 7
    # hit-and-run: a completed download must be seeded hnr_min_seed_hours within hnr_days.
    hnr_days: int = 14
    hnr_min_seed_hours: int = 72
    hnr_warning_points: int = 1
    hnr_warning_days: int = 30
    # ratio demotion: members are judged only once they downloaded this much.
    ratio_grace_bytes: int = 5 * 1024**3
    # search indexer
    index_batch_size: int = 200
    index_max_attempts: int = 8
    index_keep_processed_days: int = 7

    @classmethod
    def from_env(cls, **overrides: object) -> TaskSettings:
        jobs = env_list("HUB_WORKER_JOBS")
        mode = os.environ.get("HUB_CHAT_ARCHIVE_MODE", "archive")
        if mode not in ("archive", "delete"):
            raise ValueError("HUB_CHAT_ARCHIVE_MODE must be 'archive' or 'delete'")
        values: dict[str, object] = dict(
            jobs=jobs,
            max_sleep_seconds=env_float("HUB_WORKER_MAX_SLEEP", 60.0),
            retry_seconds=env_float("HUB_WORKER_RETRY_SECONDS", 60.0),
            session_retention_days=env_int("HUB_SESSION_RETENTION_DAYS", 30),
            chat_retention_days=env_int("HUB_CHAT_RETENTION_DAYS", 90),
            chat_archive_mode=mode,
            announces_keep_months=env_int("HUB_ANNOUNCES_KEEP_MONTHS", 3),
            peer_history_keep_days=env_int("HUB_PEER_HISTORY_KEEP_DAYS", 30),
            audit_keep_months=env_int("HUB_AUDIT_KEEP_MONTHS", 12),
            hnr_days=env_int("HUB_HNR_DAYS", 14),
            hnr_min_seed_hours=env_int("HUB_HNR_MIN_SEED_HOURS", 72),
            ratio_grace_bytes=env_int("HUB_RATIO_GRACE_BYTES", 5 * 1024**3),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
