-- 0060: the worker's bookkeeping and the archive tables its cleanup jobs fill.
--
-- job_runs: one row per scheduled job (hub/tasks/jobs.py). A worker runs a job
-- under a session advisory lock keyed by the job name, and only when
-- period_start is older than the job's current period, so any number of worker
-- processes run each job once per period (docs/operations.md).
CREATE TABLE job_runs (
    name                text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 100),
    period_start        timestamptz NULL,          -- last period that completed
    last_started_at     timestamptz NULL,
    last_finished_at    timestamptz NULL,
    last_duration_ms    integer NULL CHECK (last_duration_ms >= 0),
    last_result         jsonb NULL,
    last_error          text NULL,                 -- set by a failed run, cleared by a good one
    last_failed_at      timestamptz NULL,
    run_count           bigint NOT NULL DEFAULT 0 CHECK (run_count >= 0),
    failure_count       bigint NOT NULL DEFAULT 0 CHECK (failure_count >= 0),
    worker              text NULL                  -- host:pid of the last process that ran it
);

-- job_periods: claimed inside a job's own transaction by jobs that must never
-- apply twice for one period (bonus earning), even if a worker dies between the
-- job's commit and its job_runs update.
CREATE TABLE job_periods (
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    period_start        timestamptz NOT NULL,
    claimed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, period_start)
);

-- chat_messages_archive: chat older than the retention window, moved weekly.
-- No foreign keys: the archive outlives rooms and accounts by design.
CREATE TABLE chat_messages_archive (
    id                  bigint PRIMARY KEY,
    room_id             integer NOT NULL,
    user_id             uuid NULL,
    body                text NOT NULL,
    created_at          timestamptz NOT NULL,
    edited_at           timestamptz NULL,
    deleted_at          timestamptz NULL,
    deleted_by          uuid NULL,
    archived_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_archive_room_idx ON chat_messages_archive (room_id, id);
CREATE INDEX chat_messages_archive_created_at_idx ON chat_messages_archive USING brin (created_at);

-- announces_monthly: what survives of an announces partition once it is dropped:
-- per user, torrent and month, the count and the bytes credited (no IPs).
CREATE TABLE announces_monthly (
    month               date NOT NULL CHECK (extract(day FROM month) = 1),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    torrent_id          bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    announces           bigint NOT NULL CHECK (announces >= 0),
    completed           integer NOT NULL DEFAULT 0 CHECK (completed >= 0),
    uploaded            bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
    downloaded          bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0),
    first_at            timestamptz NOT NULL,
    last_at             timestamptz NOT NULL,
    PRIMARY KEY (user_id, torrent_id, month)
);
CREATE INDEX announces_monthly_torrent_idx ON announces_monthly (torrent_id, month);
CREATE INDEX announces_monthly_month_idx ON announces_monthly (month);

-- peer_history_daily: peer_history snapshots older than the detail window,
-- aggregated per torrent, user (NULL = torrent-level row) and day.
CREATE TABLE peer_history_daily (
    day                 date NOT NULL,
    torrent_id          bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    user_id             uuid NULL REFERENCES users (id) ON DELETE CASCADE,
    samples             integer NOT NULL CHECK (samples > 0),
    seeders_avg         numeric(12,2) NOT NULL DEFAULT 0,
    seeders_max         integer NOT NULL DEFAULT 0,
    leechers_avg        numeric(12,2) NOT NULL DEFAULT 0,
    leechers_max        integer NOT NULL DEFAULT 0,
    uploaded            bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
    downloaded          bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0)
);
CREATE UNIQUE INDEX peer_history_daily_key ON peer_history_daily (torrent_id, user_id, day) NULLS NOT DISTINCT;
CREATE INDEX peer_history_daily_user_idx ON peer_history_daily (user_id, day);
CREATE INDEX peer_history_daily_day_idx ON peer_history_daily (day);

-- audit_logs_archive: audit rows older than the hot window, moved quarterly.
-- The audit trail is never aggregated away; this table is what an operator
-- exports (pg_dump -t audit_logs_archive) before pruning it by hand, if ever.
CREATE TABLE audit_logs_archive (
    id                  bigint NOT NULL,
    user_id             uuid NULL,
    action              text NOT NULL,
    target_type         text NULL,
    target_id           text NULL,
    details             jsonb NULL,
    ip                  inet NULL,
    created_at          timestamptz NOT NULL,
    archived_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
);
CREATE INDEX audit_logs_archive_user_idx ON audit_logs_archive (user_id, created_at);
CREATE INDEX audit_logs_archive_target_idx ON audit_logs_archive (target_type, target_id);
CREATE INDEX audit_logs_archive_created_at_idx ON audit_logs_archive USING brin (created_at);
