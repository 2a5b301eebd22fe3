"""Search: a backend interface (Postgres full-text + pg_trgm by default, Meilisearch when
configured), the indexing queue, and the indexer job that feeds the backend.

    from hub import search
    await search.enqueue(conn, "torrent", torrent_id)          # in the change's transaction
    page = await search.backend(hub).search_torrents(search.TorrentQuery("ubuntu"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.search.backend import (
    Page,
    PostHit,
    Reader,
    SearchBackend,
    TorrentHit,
    TorrentQuery,
    UserHit,
    create_backend,
)
from hub.search.queue import enqueue

if TYPE_CHECKING:
    from hub.app import Hub

_backends: dict[int, SearchBackend] = {}


def backend(hub: Hub) -> SearchBackend:
    """The hub's search backend, built once per hub."""
    found = _backends.get(id(hub))
    if found is None or getattr(found, "pool", None) is not hub.pool:
        found = _backends[id(hub)] = create_backend(hub)
    return found


__all__ = [
    "Page",
    "PostHit",
    "Reader",
    "SearchBackend",
    "TorrentHit",
    "TorrentQuery",
    "UserHit",
    "backend",
    "create_backend",
    "enqueue",
]
