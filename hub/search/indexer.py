"""The indexer: drains `search_index_queue` into the search backend.

Rows are taken with `FOR UPDATE SKIP LOCKED`, so several indexers never take the same row
and never wait on each other. Within a batch the last operation queued for an entity wins
(an `index` then a `delete` deletes). When the backend fails for an entity type, its rows
get `attempts + 1`, `last_error` and a back-off (`run_after`, doubling up to an hour); after
`max_attempts` a row stays unprocessed for an operator to look at:

    SELECT * FROM search_index_queue WHERE processed_at IS NULL AND attempts >= 8;
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from hub import db
from hub.search.backend import SearchBackend

log = logging.getLogger(__name__)

MAX_BATCHES_PER_RUN = 50


@dataclass
class IndexReport:
    processed: int = 0
    failed: int = 0
    sent: int = 0
    batches: int = 0
    pruned: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def process_queue(
    pool: asyncpg.Pool,
    backend: SearchBackend,
    *,
    batch_size: int = 200,
    max_attempts: int = 8,
    keep_processed: timedelta = timedelta(days=7),
) -> IndexReport:
    report = IndexReport()
    for _ in range(MAX_BATCHES_PER_RUN):
        if not await _one_batch(pool, backend, batch_size, max_attempts, report):
            break
    async with pool.acquire() as conn:
        status = await conn.execute(
            "DELETE FROM search_index_queue WHERE processed_at < now() - $1::interval",
            keep_processed,
        )
    report.pruned = int(status.rsplit(" ", 1)[-1])
    return report


async def _one_batch(
    pool: asyncpg.Pool,
    backend: SearchBackend,
    batch_size: int,
    max_attempts: int,
    report: IndexReport,
) -> bool:
    async with db.transaction(pool) as conn:
        rows = await conn.fetch(
            """SELECT id, entity_type, entity_id, operation, attempts
                 FROM search_index_queue
                WHERE processed_at IS NULL AND run_after <= now() AND attempts < $1
                ORDER BY id
                LIMIT $2
                FOR UPDATE SKIP LOCKED""",
            max_attempts,
            batch_size,
        )
        if not rows:
            return False
        report.batches += 1
        latest: dict[tuple[str, str], str] = {}
        row_ids: dict[str, list[int]] = defaultdict(list)
        for row in rows:  # ordered by id: later operations overwrite earlier ones
            latest[(row["entity_type"], row["entity_id"])] = row["operation"]
            row_ids[row["entity_type"]].append(row["id"])
        for entity_type, ids in row_ids.items():
            to_index = [e for (t, e), op in latest.items() if t == entity_type and op == "index"]
            to_delete = [e for (t, e), op in latest.items() if t == entity_type and op == "delete"]
            try:
                if to_index:
                    report.sent += await backend.index(entity_type, to_index)
                if to_delete:
                    report.sent += await backend.delete(entity_type, to_delete)
            except Exception as exc:
                log.warning("indexing %d %s rows failed: %s", len(ids), entity_type, exc)
                await conn.execute(
                    """UPDATE search_index_queue
                          SET attempts = attempts + 1, last_error = $2,
                              run_after = now() + make_interval(secs => least(3600,
                                              5 * power(2, attempts)))
                        WHERE id = ANY($1::bigint[])""",
                    ids,
                    f"{type(exc).__name__}: {exc}"[:2000],
                )
                report.failed += len(ids)
                continue
            await conn.execute(
                """UPDATE search_index_queue SET processed_at = now(), last_error = NULL
                    WHERE id = ANY($1::bigint[])""",
                ids,
            )
            report.processed += len(ids)
    return len(rows) == batch_size
