-- 0030: one row per committed tracker flush.
--
-- The flusher writes its batch id in the same transaction as the batch. When the connection
-- dies around COMMIT the tracker cannot tell from the error whether the batch landed; it
-- looks the id up here, and merges the batch back for a retry only when it is absent. So a
-- lost acknowledgement never credits a transfer twice. Rows older than a day are pruned by
-- the flusher itself.
CREATE TABLE tracker_flushes (
    id          uuid PRIMARY KEY,
    rows        integer NOT NULL DEFAULT 0 CHECK (rows >= 0),
    flushed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracker_flushes_flushed_at_idx ON tracker_flushes (flushed_at);
