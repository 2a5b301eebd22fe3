-- 0036: `torrent_history` without foreign-key constraints, as `peers` (0035).
--
-- A flush inserts a `torrent_history` row for each member and torrent pair it meets for the
-- first time; each row cost two foreign-key checks (a lookup and a row lock in `users` and
-- in `torrents`). Measured on the 2-core machine, 100,000 new pairs in one flush: the insert
-- took 1.2 s with them, 0.5 s without. The table stays logged (it is the hit-and-run
-- evidence); only the per-row checks go.
--
-- What the constraints guaranteed is kept: only the tracker's flusher inserts rows, and it
-- locks each distinct member and torrent of the rows it inserts once (FOR KEY SHARE, what a
-- key check took per row) and leaves out rows of deleted ones (hub/tracker/flusher.py
-- _write_history); the statement triggers below do what ON DELETE CASCADE did, and a member
-- or torrent deleted during a flush waits for the flush's key lock, so its trigger also sees
-- the rows that flush inserted. Indexes: the primary key leads with user_id, and
-- torrent_history_torrent_id_idx serves the torrent's side.
ALTER TABLE torrent_history DROP CONSTRAINT IF EXISTS torrent_history_user_id_fkey;
ALTER TABLE torrent_history DROP CONSTRAINT IF EXISTS torrent_history_torrent_id_fkey;

CREATE FUNCTION hub_erase_user_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM torrent_history WHERE user_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END;
$$;

CREATE FUNCTION hub_erase_torrent_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM torrent_history WHERE torrent_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_erase_history AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hub_erase_user_history();

CREATE TRIGGER torrents_erase_history AFTER DELETE ON torrents
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hub_erase_torrent_history();
