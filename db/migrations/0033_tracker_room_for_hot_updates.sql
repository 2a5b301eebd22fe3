-- 0033: room on each page for the flusher's in-place (HOT) updates of peers and history.
--
-- Every flush rewrites the `peers` row and the `torrent_history` row of each client that
-- announced since the last one. An update stays on its page (HOT: no new entry in any
-- index) only when the page has room for the new row version. At fillfactor 70 and 80
-- (migration 0031) only 44% of the peers updates and 26% of the history updates of a
-- 100,000-delta flush were HOT; the others inserted into every index of their table.
-- At 50 all of them were, and the two UPDATEs went from 0.65 s and 1.0-1.8 s to 0.35 s
-- and 0.45 s (2-core machine, docs/performance.md).
--
-- Cost: pages written from now on are filled half, so the heap of these two tables takes
-- up to twice the space. `peers` holds live peers only (rows of expired peers are deleted)
-- and every one of its rows is rewritten each announce interval; `torrent_history` grows
-- with every member and torrent pair, but its rows are small (about 150 bytes) and the
-- ones of active peers are rewritten at every flush. Existing pages keep their fill until
-- a rewrite (VACUUM FULL, or pg_repack without a lock).
ALTER TABLE peers SET (fillfactor = 50);
ALTER TABLE torrent_history SET (fillfactor = 50);
