"""The indexer drains search_index_queue: latest operation wins, failures retry later, and
two indexers never take the same row."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from hub import db, search
from hub.search import documents
from hub.search.indexer import process_queue
from hub.search.postgres import PostgresSearch
from hub.tasks.runner import lock_key
from tests.factories import make_user
from tests.tasks.data import make_torrent


class Recording(PostgresSearch):
    """A backend that remembers what it was asked to do."""

    name = "recording"

    def __init__(self, pool: asyncpg.Pool, *, delay: float = 0.0,
                 fail_for: str | None = None) -> None:
        super().__init__(pool)
        self.indexed: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, str]] = []
        self.delay = delay
        self.fail_for = fail_for

    async def index(self, entity_type: str, ids: Sequence[str]) -> int:
        await asyncio.sleep(self.delay)
        if entity_type == self.fail_for:
            raise ConnectionError("search server unreachable")
        self.indexed += [(entity_type, i) for i in ids]
        return len(ids)

    async def delete(self, entity_type: str, ids: Sequence[str]) -> int:
        self.deleted += [(entity_type, i) for i in ids]
        return len(ids)


@asynccontextmanager
async def site_indexer_paused(hub: Any) -> AsyncIterator[None]:
    """Hold the search_index job's advisory lock, so the site's own worker keeps off the
    queue while a test drives it (the same lock that keeps two workers apart)."""
    conn = await asyncpg.connect(hub.database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key("search_index"))
        yield
    finally:
        await conn.close()


async def _enqueue(hub: Any, *items: tuple[str, object, str]) -> None:
    async with db.transaction(hub.pool) as conn:
        for entity_type, entity_id, operation in items:
            await search.enqueue(conn, entity_type, entity_id, operation)


async def _rows(hub: Any, entity_type: str, ids: list[str]) -> list[asyncpg.Record]:
    return list(await hub.pool.fetch(
        """SELECT * FROM search_index_queue WHERE entity_type = $1 AND entity_id = ANY($2)
           ORDER BY id""", entity_type, ids))


async def test_the_latest_operation_per_entity_wins_and_rows_are_marked_processed(
    hub: Any,
) -> None:
    torrent = await make_torrent(hub)
    user = await make_user(hub)
    async with site_indexer_paused(hub):
        await _enqueue(hub, ("torrent", torrent, "index"), ("torrent", torrent, "delete"),
                       ("user", user.id, "index"))
        backend = Recording(hub.pool)
        report = await process_queue(hub.pool, backend)

    assert ("torrent", str(torrent)) in backend.deleted
    assert ("torrent", str(torrent)) not in backend.indexed
    assert ("user", str(user.id)) in backend.indexed
    rows = await _rows(hub, "torrent", [str(torrent)]) + await _rows(hub, "user", [str(user.id)])
    assert len(rows) == 3 and all(r["processed_at"] is not None for r in rows)
    assert report.processed >= 3


async def test_a_failing_backend_leaves_rows_to_retry_with_attempts_and_the_error(
    hub: Any,
) -> None:
    collection = str(uuid.uuid4().int % 10**12)
    async with site_indexer_paused(hub):
        await _enqueue(hub, ("collection", collection, "index"))
        await process_queue(hub.pool, Recording(hub.pool, fail_for="collection"))
        [row] = await _rows(hub, "collection", [collection])
        assert row["processed_at"] is None
        assert row["attempts"] == 1
        assert "search server unreachable" in row["last_error"]
        assert row["run_after"] > await hub.pool.fetchval("SELECT now()")

        # Not retried before its back-off is over...
        await process_queue(hub.pool, Recording(hub.pool))
        [row] = await _rows(hub, "collection", [collection])
        assert row["processed_at"] is None
        # ...and retried once it is.
        await hub.pool.execute(
            "UPDATE search_index_queue SET run_after = now() WHERE id = $1", row["id"])
        await process_queue(hub.pool, Recording(hub.pool))
    [row] = await _rows(hub, "collection", [collection])
    assert row["processed_at"] is not None and row["last_error"] is None


async def test_two_indexers_at_once_never_take_the_same_row(hub: Any) -> None:
    ids = [f"{uuid.uuid4().int % 10**12}" for _ in range(30)]
    async with site_indexer_paused(hub):
        await _enqueue(hub, *(("request", i, "index") for i in ids))
        first = Recording(hub.pool, delay=0.1)
        second = Recording(hub.pool, delay=0.1)
        await asyncio.gather(
            process_queue(hub.pool, first, batch_size=5),
            process_queue(hub.pool, second, batch_size=5),
        )
    ours = set(ids)
    seen = [i for _t, i in first.indexed + second.indexed if i in ours]
    assert sorted(seen) == sorted(ids)  # every row once, none twice
    assert any(i in ours for _t, i in first.indexed)
    assert any(i in ours for _t, i in second.indexed)


async def test_enqueue_refuses_what_no_backend_knows(hub: Any) -> None:
    async with db.transaction(hub.pool) as conn:
        with pytest.raises(ValueError, match="entity type"):
            await search.enqueue(conn, "planet", 1)
        with pytest.raises(ValueError, match="operation"):
            await search.enqueue(conn, "torrent", 1, "explode")


async def test_documents_carry_what_the_index_needs_and_hidden_entities_are_deleted(
    hub: Any,
) -> None:
    shown = await make_torrent(hub, name="Documented torrent", category_slug="movies-hd",
                               description="words")
    hidden = await make_torrent(hub, status="pending")
    async with hub.pool.acquire() as conn:
        docs = await documents.load(conn, "torrent", [str(shown), str(hidden), "999999999"])
        assert await documents.load(conn, "request", ["1"]) is None
    assert docs is not None and docs.index == "torrent_index"
    [doc] = docs.docs
    assert doc["id"] == shown and doc["name"] == "Documented torrent"
    movies = await hub.pool.fetchval("SELECT id FROM torrent_categories WHERE slug = 'movies'")
    assert movies in doc["category_ids"]
    assert isinstance(doc["created_at"], int)
    assert sorted(docs.gone) == sorted([str(hidden), "999999999"])


async def test_meilisearch_is_chosen_when_its_url_is_configured(hub: Any) -> None:
    from hub.search.meili import INDEX_SETTINGS, MeiliSearch

    configured = SimpleNamespace(
        settings=replace(hub.settings, meilisearch_url="http://127.0.0.1:7700"), pool=hub.pool)
    backend = search.create_backend(configured)  # type: ignore[arg-type]
    assert isinstance(backend, MeiliSearch) and backend.name == "meilisearch"
    assert set(INDEX_SETTINGS) == set(documents.INDEXES.values())
