-- 0003: tracker tables and time-partitioning helpers.
--
-- Partition helpers (used by the migrations below, 0006, and the worker's
-- partition-upkeep / archival jobs):
--
--   hub_ensure_partitions(p_table text, p_interval text DEFAULT 'month', p_ahead int DEFAULT 2)
--       RETURNS integer
--     Creates the range partitions of a table partitioned BY RANGE on one
--     timestamptz column, one per period ('day' | 'week' | 'month', UTC
--     boundaries), from the current period up to p_ahead periods ahead.
--     Idempotent (existing partitions are skipped by name). Rows already in the
--     DEFAULT partition for a new period are moved into the new partition.
--     Partition names: <table>_pYYYY_MM (month), <table>_pYYYY_MM_DD (day),
--     <table>_pIYYY_wIW (week). Returns the number of partitions created.
--     On a TimescaleDB hypertable (or any non-partitioned table) it is a no-op
--     returning 0: TimescaleDB creates chunks itself.
--
--   hub_list_partitions(p_table text)
--       RETURNS TABLE (partition regclass, range_start timestamptz, range_end timestamptz, is_default boolean)
--     The partitions of a range-partitioned table, oldest first (for archival
--     jobs that export a partition before dropping it).
--
--   hub_drop_partitions_before(p_table text, p_before timestamptz)
--       RETURNS SETOF text
--     Drops every partition whose upper bound is <= p_before and deletes rows
--     older than p_before from the DEFAULT partition. Returns the names of the
--     dropped partitions. On a TimescaleDB hypertable it calls drop_chunks().
--
-- Partitioned here: announces (monthly, created_at), peer_history (daily,
-- time; a TimescaleDB hypertable instead when the extension is loadable);
-- audit_logs (monthly, created_at) in 0006.

CREATE OR REPLACE FUNCTION hub_list_partitions(p_table text)
RETURNS TABLE (partition regclass, range_start timestamptz, range_end timestamptz, is_default boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT c.oid::regclass,
           substring(b.bound FROM 'FROM \(''([^'']+)''\)')::timestamptz,
           substring(b.bound FROM 'TO \(''([^'']+)''\)')::timestamptz,
           b.bound = 'DEFAULT'
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
     WHERE i.inhparent = p_table::regclass
     ORDER BY b.bound = 'DEFAULT', 2 NULLS FIRST;
END;
$$;

CREATE OR REPLACE FUNCTION hub_ensure_partitions(p_table text, p_interval text DEFAULT 'month', p_ahead integer DEFAULT 2)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_parent    regclass := p_table::regclass;
    v_schema    text;
    v_rel       text;
    v_kind      "char";
    v_key       text;
    v_unit      text;
    v_step      interval;
    v_fmt       text;
    v_start     timestamp;   -- UTC wall clock
    v_lo_ts     timestamp;
    v_hi_ts     timestamp;
    v_lo        text;
    v_hi        text;
    v_name      text;
    v_default   regclass;
    v_has_rows  boolean;
    v_created   integer := 0;
BEGIN
    IF p_ahead IS NULL OR p_ahead < 0 THEN
        RAISE EXCEPTION 'hub_ensure_partitions: p_ahead must be >= 0';
    END IF;

    SELECT n.nspname, c.relname, c.relkind INTO v_schema, v_rel, v_kind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = v_parent;

    IF v_kind <> 'p' THEN
        RETURN 0;  -- TimescaleDB hypertable or plain table: nothing to do
    END IF;

    SELECT a.attname INTO v_key
      FROM pg_partitioned_table pt
      JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
     WHERE pt.partrelid = v_parent AND pt.partstrat = 'r' AND pt.partnatts = 1;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'hub_ensure_partitions: % is not range-partitioned on one column', p_table;
    END IF;

    CASE lower(trim(p_interval))
        WHEN 'day', 'daily', '1 day' THEN
            v_unit := 'day';   v_step := interval '1 day';   v_fmt := 'YYYY_MM_DD';
        WHEN 'week', 'weekly', '1 week' THEN
            v_unit := 'week';  v_step := interval '1 week';  v_fmt := 'IYYY_"w"IW';
        WHEN 'month', 'monthly', '1 month' THEN
            v_unit := 'month'; v_step := interval '1 month'; v_fmt := 'YYYY_MM';
        ELSE
            RAISE EXCEPTION 'hub_ensure_partitions: unsupported interval %', p_interval;
    END CASE;

    SELECT i.inhrelid::regclass INTO v_default
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = v_parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';

    -- timestamp (without time zone) arithmetic in UTC so DST never shifts a bound
    v_start := date_trunc(v_unit, now() AT TIME ZONE 'UTC');

    FOR i IN 0 .. p_ahead LOOP
        v_lo_ts := v_start + v_step * i;
        v_hi_ts := v_start + v_step * (i + 1);
        v_name  := v_rel || '_p' || to_char(v_lo_ts, v_fmt);
        CONTINUE WHEN to_regclass(format('%I.%I', v_schema, v_name)) IS NOT NULL;

        v_lo := to_char(v_lo_ts, 'YYYY-MM-DD HH24:MI:SS') || '+00';
        v_hi := to_char(v_hi_ts, 'YYYY-MM-DD HH24:MI:SS') || '+00';

        v_has_rows := false;
        IF v_default IS NOT NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= %L::timestamptz AND %I < %L::timestamptz)',
                           v_default, v_key, v_lo, v_key, v_hi)
               INTO v_has_rows;
        END IF;

        IF v_has_rows THEN
            -- move the period's rows out of DEFAULT, then attach
            EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           v_schema, v_name, v_parent);
            EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= %L::timestamptz AND %I < %L::timestamptz RETURNING *) '
                           'INSERT INTO %I.%I SELECT * FROM moved',
                           v_default, v_key, v_lo, v_key, v_hi, v_schema, v_name);
            EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                           v_parent, v_schema, v_name, v_lo, v_hi);
        ELSE
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           v_schema, v_name, v_parent, v_lo, v_hi);
        END IF;
        v_created := v_created + 1;
    END LOOP;

    RETURN v_created;
END;
$$;

CREATE OR REPLACE FUNCTION hub_drop_partitions_before(p_table text, p_before timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    v_parent regclass := p_table::regclass;
    v_kind   "char";
    v_key    text;
    v_name   text;
    r        record;
BEGIN
    SELECT relkind INTO v_kind FROM pg_class WHERE oid = v_parent;

    IF v_kind <> 'p' THEN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
            RETURN QUERY EXECUTE 'SELECT c::text FROM drop_chunks($1, older_than => $2) AS c'
                USING v_parent, p_before;
            RETURN;
        END IF;
        RAISE EXCEPTION 'hub_drop_partitions_before: % is not partitioned', p_table;
    END IF;

    SELECT a.attname INTO v_key
      FROM pg_partitioned_table pt
      JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
     WHERE pt.partrelid = v_parent;

    FOR r IN SELECT * FROM hub_list_partitions(p_table) LOOP
        IF r.is_default THEN
            EXECUTE format('DELETE FROM %s WHERE %I < %L::timestamptz', r.partition, v_key, p_before);
        ELSIF r.range_end IS NOT NULL AND r.range_end <= p_before THEN
            v_name := r.partition::text;   -- before the drop, while the oid still resolves
            EXECUTE format('DROP TABLE %s', r.partition);
            RETURN NEXT v_name;
        END IF;
    END LOOP;
    RETURN;
END;
$$;

-- ---------------------------------------------------------------------------
-- peers: the live swarm, persisted by the tracker flusher and reloaded at start.
-- ---------------------------------------------------------------------------
CREATE TABLE peers (
    torrent_id          bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    peer_id             bytea NOT NULL CHECK (octet_length(peer_id) = 20),
    ip                  inet NULL CHECK (family(ip) = 4),
    ipv6                inet NULL CHECK (family(ipv6) = 6),
    port                integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    uploaded            bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
    downloaded          bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0),
    left_bytes          bigint NOT NULL DEFAULT 0 CHECK (left_bytes >= 0),
    is_seeder           boolean NOT NULL DEFAULT false,
    is_connectable      boolean NULL,
    user_agent          text NULL CHECK (char_length(user_agent) <= 256),
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_announce_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (torrent_id, user_id, peer_id),
    CHECK (ip IS NOT NULL OR ipv6 IS NOT NULL)
);
CREATE INDEX peers_user_id_idx ON peers (user_id);
CREATE INDEX peers_last_announce_at_idx ON peers (last_announce_at);
CREATE INDEX peers_seeders_idx ON peers (torrent_id) WHERE is_seeder;

-- ---------------------------------------------------------------------------
-- announces: raw announce log, partitioned monthly by created_at.
-- FKs cascade so erasing a user or torrent erases its IP history too.
-- ---------------------------------------------------------------------------
CREATE TABLE announces (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    torrent_id          bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    peer_id             bytea NOT NULL CHECK (octet_length(peer_id) = 20),
    -- NULL or '' / 'update' / 'none' / 'empty' = a regular interval announce
    event               text NULL CHECK (event IN ('started', 'stopped', 'completed', 'paused',
                                                   'update', 'none', 'empty', '')),
    uploaded            bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
    downloaded          bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0),
    left_bytes          bigint NOT NULL DEFAULT 0 CHECK (left_bytes >= 0),
    uploaded_delta      bigint NOT NULL DEFAULT 0 CHECK (uploaded_delta >= 0),
    downloaded_delta    bigint NOT NULL DEFAULT 0 CHECK (downloaded_delta >= 0),
    ip                  inet NULL,
    port                integer NULL CHECK (port BETWEEN 1 AND 65535),
    user_agent          text NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE announces_default PARTITION OF announces DEFAULT;
CREATE INDEX announces_user_id_idx ON announces (user_id, created_at);
CREATE INDEX announces_torrent_id_idx ON announces (torrent_id, created_at);
CREATE INDEX announces_created_at_brin ON announces USING brin (created_at);
SELECT hub_ensure_partitions('announces', 'month', 2);

-- ---------------------------------------------------------------------------
-- peer_history: time-series snapshots, one row per (time, torrent, user) with
-- that user's seeders/leechers on the torrent and the bytes moved since the
-- previous snapshot; user_id NULL = a torrent-level aggregate row.
-- TimescaleDB hypertable (1-day chunks, compressed segmentby torrent_id,user_id)
-- when the extension is available and preloaded; otherwise declarative daily
-- partitioning with a DEFAULT partition.
-- ---------------------------------------------------------------------------
DO $do$
DECLARE
    v_cols text := $cols$
        time                timestamptz NOT NULL,
        torrent_id          bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
        user_id             uuid NULL REFERENCES users (id) ON DELETE CASCADE,
        seeders             integer NOT NULL DEFAULT 0 CHECK (seeders >= 0),
        leechers            integer NOT NULL DEFAULT 0 CHECK (leechers >= 0),
        uploaded            bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
        downloaded          bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0),
        left_bytes          bigint NULL CHECK (left_bytes >= 0),
        is_seeder           boolean NULL
    $cols$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND coalesce(current_setting('shared_preload_libraries', true), '') LIKE '%timescaledb%' THEN
        EXECUTE 'CREATE EXTENSION IF NOT EXISTS timescaledb';
        EXECUTE format('CREATE TABLE peer_history (%s)', v_cols);
        EXECUTE $x$SELECT create_hypertable('peer_history', 'time', chunk_time_interval => INTERVAL '1 day')$x$;
        EXECUTE $x$ALTER TABLE peer_history SET (timescaledb.compress,
                    timescaledb.compress_segmentby = 'torrent_id,user_id',
                    timescaledb.compress_orderby = 'time DESC')$x$;
        EXECUTE $x$SELECT add_compression_policy('peer_history', INTERVAL '7 days')$x$;
    ELSE
        EXECUTE format('CREATE TABLE peer_history (%s) PARTITION BY RANGE (time)', v_cols);
        EXECUTE 'CREATE TABLE peer_history_default PARTITION OF peer_history DEFAULT';
    END IF;
END;
$do$;
-- unique snapshot per (torrent, user, time); NULL user_id (aggregate row) counts as one value
CREATE UNIQUE INDEX peer_history_torrent_user_time_key
    ON peer_history (torrent_id, user_id, time) NULLS NOT DISTINCT;
CREATE INDEX peer_history_user_id_idx ON peer_history (user_id, time);
CREATE INDEX peer_history_time_idx ON peer_history (time);
SELECT hub_ensure_partitions('peer_history', 'day', 2);

-- ---------------------------------------------------------------------------
-- snatches (added): one row per completed download per user.
-- ---------------------------------------------------------------------------
CREATE TABLE snatches (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    torrent_id      bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    completed_at    timestamptz NOT NULL DEFAULT now(),
    ip              inet NULL,
    UNIQUE (user_id, torrent_id)
);
CREATE INDEX snatches_torrent_id_idx ON snatches (torrent_id, completed_at DESC);
CREATE INDEX snatches_user_completed_idx ON snatches (user_id, completed_at DESC);

-- ---------------------------------------------------------------------------
-- torrent_history (added): per user per torrent transfer totals, for
-- hit-and-run checks and the user's history page.
-- ---------------------------------------------------------------------------
CREATE TABLE torrent_history (
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    torrent_id              bigint NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    uploaded                bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
    downloaded              bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0),
    credited_uploaded       bigint NOT NULL DEFAULT 0 CHECK (credited_uploaded >= 0),
    credited_downloaded     bigint NOT NULL DEFAULT 0 CHECK (credited_downloaded >= 0),
    seed_time_seconds       bigint NOT NULL DEFAULT 0 CHECK (seed_time_seconds >= 0),
    leech_time_seconds      bigint NOT NULL DEFAULT 0 CHECK (leech_time_seconds >= 0),
    is_active               boolean NOT NULL DEFAULT true,
    is_seeder               boolean NOT NULL DEFAULT false,
    first_announce_at       timestamptz NOT NULL DEFAULT now(),
    last_announce_at        timestamptz NOT NULL DEFAULT now(),
    completed_at            timestamptz NULL,
    is_hit_and_run          boolean NOT NULL DEFAULT false,
    hnr_warned_at           timestamptz NULL,
    PRIMARY KEY (user_id, torrent_id)
);
CREATE INDEX torrent_history_torrent_id_idx ON torrent_history (torrent_id);
CREATE INDEX torrent_history_active_idx ON torrent_history (user_id) WHERE is_active;
-- hit-and-run job: completed downloads not yet flagged
CREATE INDEX torrent_history_hnr_check_idx ON torrent_history (completed_at)
    WHERE completed_at IS NOT NULL AND NOT is_hit_and_run;
CREATE INDEX torrent_history_hnr_idx ON torrent_history (user_id) WHERE is_hit_and_run;
