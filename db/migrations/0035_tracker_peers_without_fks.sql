-- 0035: `peers` without foreign-key constraints.
--
-- When the tracker meets peers it has no row for (its first flush after a start, an empty
-- `peers` after a crash: 0034, new clients), each inserted row cost two foreign-key checks
-- (a lookup and a row lock in `users` and in `torrents`): 200,000 checks for 100,000 new
-- peers, most of the insert's time (measured on the 2-core machine: the insert of 100,000
-- new peers took 1.1-1.6 s with them, 0.45 s without). `peers` is rebuildable current state
-- (the seed's backup plan; UNLOGGED since 0034), like the `announces` log (0032) written
-- only by the tracker.
--
-- What the constraints did is kept: the flusher locks each distinct member and torrent of the
-- rows it inserts once (FOR KEY SHARE, what a key check took per row) and leaves out rows of
-- deleted ones (hub/tracker/flusher.py _write_peers); what ON DELETE CASCADE did is done by
-- the statement triggers below, and a member or torrent deleted during a flush waits for the
-- flush's key lock, so its trigger also sees the rows that flush inserted. The indexes stay:
-- the primary key leads with torrent_id, and peers_user_id_idx serves the member's side.
ALTER TABLE peers DROP CONSTRAINT IF EXISTS peers_torrent_id_fkey;
ALTER TABLE peers DROP CONSTRAINT IF EXISTS peers_user_id_fkey;

CREATE FUNCTION hub_erase_user_peers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM peers WHERE user_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END;
$$;

CREATE FUNCTION hub_erase_torrent_peers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM peers WHERE torrent_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_erase_peers AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hub_erase_user_peers();

CREATE TRIGGER torrents_erase_peers AFTER DELETE ON torrents
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hub_erase_torrent_peers();
