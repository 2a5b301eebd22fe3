"""search_index_queue: what changed and needs (re)indexing, written in the change's
transaction and consumed by the indexer job (hub/search/indexer.py)."""

from __future__ import annotations

import asyncpg

ENTITY_TYPES = ("torrent", "user", "forum_post", "forum_topic", "request", "collection")
OPERATIONS = ("index", "delete")


async def enqueue(
    conn: asyncpg.Connection, entity_type: str, entity_id: object, operation: str = "index"
) -> None:
    """Queue one entity for the search backend, inside the caller's transaction."""
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"unknown search entity type {entity_type!r}")
    if operation not in OPERATIONS:
        raise ValueError(f"unknown search operation {operation!r}")
    await conn.execute(
        """INSERT INTO search_index_queue (entity_type, entity_id, operation)
           VALUES ($1, $2, $3)""",
        entity_type,
        str(entity_id),
        operation,
    )
