-- 0032: the announce log without foreign-key constraints.
--
-- `announces` is an append-only log (hundreds of millions of rows): the tracker COPYs every
-- announce into it. Each of its two foreign keys cost a lookup and a row lock per inserted
-- row, most of the COPY's time (measured on the 2-core machine: see docs/performance.md).
-- The flusher now checks and locks each distinct member and torrent of a batch once
-- (hub/tracker/flusher.py write_log) and leaves out rows of deleted ones.
--
-- The indexes on user_id and torrent_id stay (per-member and per-torrent history, erasure).
-- What ON DELETE CASCADE did, erasing a member's or torrent's IP history with it, is done
-- by the statement triggers below; a member deleted while a flush is writing waits for the
-- flush's key lock, so its trigger also sees the rows that flush wrote.
ALTER TABLE announces DROP CONSTRAINT IF EXISTS announces_user_id_fkey;
ALTER TABLE announces DROP CONSTRAINT IF EXISTS announces_torrent_id_fkey;

CREATE FUNCTION hub_erase_user_announces() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An array, not a join with the transition table: that keeps an index scan per
    -- partition whatever the planner guesses about the transition table's size.
    DELETE FROM announces WHERE user_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END;
$$;

CREATE FUNCTION hub_erase_torrent_announces() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM announces WHERE torrent_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_erase_announces AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hub_erase_user_announces();

CREATE TRIGGER torrents_erase_announces AFTER DELETE ON torrents
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hub_erase_torrent_announces();
