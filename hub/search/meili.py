"""Meilisearch backend, through the official `meilisearch` client (selected when
HUB_MEILISEARCH_URL is set).

Not exercised against a Meilisearch server in this repository's tests (none runs here):
the document building it relies on (hub/search/documents.py) is tested on Postgres, and
the calls below follow the client's documented API. See docs/operations.md.

The official client is synchronous, so each call runs in a thread. Writes return as soon
as Meilisearch has queued its task; Meilisearch applies tasks in order per index, so an
`index` followed by a `delete` of the same document ends deleted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import meilisearch

from hub.search import documents
from hub.search.backend import (
    Page,
    PostHit,
    Reader,
    TorrentHit,
    TorrentQuery,
    UserHit,
    clamp,
)

# Index settings (docs: https://www.meilisearch.com/docs/reference/api/settings).
INDEX_SETTINGS: dict[str, dict[str, Any]] = {
    "torrent_index": {
        "searchableAttributes": ["name", "tags", "description"],
        "filterableAttributes": ["id", "category_ids", "is_freeleech"],
        "sortableAttributes": ["created_at", "size", "seeders", "snatches"],
        "displayedAttributes": ["id", "name", "size", "category_id", "created_at",
                                "seeders", "leechers"],
        "typoTolerance": {"enabled": True},
    },
    "user_index": {
        "searchableAttributes": ["username"],
        "filterableAttributes": ["id", "group_id"],
        "displayedAttributes": ["id", "username", "group_id"],
    },
    "forum_index": {
        "searchableAttributes": ["topic_title", "body"],
        "filterableAttributes": ["id", "forum_id", "topic_id", "min_read_level", "staff_only"],
        "sortableAttributes": ["created_at"],
        "displayedAttributes": ["id", "topic_id", "topic_title", "forum_id", "author_id",
                                "body", "created_at"],
    },
}


def _in(attribute: str, values: Sequence[object]) -> str:
    """A Meilisearch filter `attribute IN [...]`, values quoted as JSON strings or numbers."""
    return f"{attribute} IN [{', '.join(json.dumps(v) for v in values)}]"


def _time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _typed_ids(entity_type: str, ids: Sequence[str]) -> list[object]:
    # Users are keyed by uuid strings; everything else by integer ids.
    return list(ids) if entity_type == "user" else [int(i) for i in ids]


class MeiliSearch:
    name = "meilisearch"

    def __init__(self, pool: asyncpg.Pool, url: str, api_key: str | None = None) -> None:
        self.pool = pool
        self.client = meilisearch.Client(url, api_key, timeout=10)

    async def setup(self) -> None:
        def apply() -> None:
            for uid, body in INDEX_SETTINGS.items():
                self.client.create_index(uid, {"primaryKey": "id"})
                self.client.index(uid).update_settings(body)

        await asyncio.to_thread(apply)

    async def index(self, entity_type: str, ids: Sequence[str]) -> int:
        async with self.pool.acquire() as conn:
            found = await documents.load(conn, entity_type, ids)
        if found is None:
            return 0  # no Meilisearch index for this type (requests, collections)
        idx = self.client.index(found.index)

        def push() -> None:
            if found.docs:
                idx.add_documents(found.docs, primary_key="id")
            if found.gone:
                # By filter: deleting by a list of ids is deprecated in the client.
                idx.delete_documents(filter=_in("id", _typed_ids(entity_type, found.gone)))

        await asyncio.to_thread(push)
        return len(found.docs) + len(found.gone)

    async def delete(self, entity_type: str, ids: Sequence[str]) -> int:
        uid = documents.INDEXES.get(entity_type)
        if uid is None or not ids:
            return 0
        if entity_type == "forum_topic":
            # The posts of a topic, not the topic id itself, are the documents.
            where = _in("topic_id", [int(i) for i in ids])
        else:
            where = _in("id", _typed_ids(entity_type, ids))
        await asyncio.to_thread(self.client.index(uid).delete_documents, filter=where)
        return len(ids)

    async def _search(self, uid: str, text: str, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(
            self.client.index(uid).search, text, {**params, "showRankingScore": True}
        )
        return result

    async def search_torrents(self, query: TorrentQuery) -> Page[TorrentHit]:
        limit, offset = clamp(query.limit, query.offset)
        filters = []
        if query.category_id is not None:
            filters.append(f"category_ids = {int(query.category_id)}")
        if query.freeleech_only:
            filters.append("is_freeleech = true")
        result = await self._search(
            "torrent_index", query.text,
            {"limit": limit, "offset": offset, "filter": filters},
        )
        hits = [
            TorrentHit(h["id"], h["name"], h["size"], h["category_id"], _time(h["created_at"]),
                       h.get("seeders", 0), h.get("leechers", 0), h.get("_rankingScore", 0.0))
            for h in result["hits"]
        ]
        return Page(hits, result.get("estimatedTotalHits", len(hits)), limit, offset, self.name)

    async def search_users(self, text: str, limit: int = 25, offset: int = 0) -> Page[UserHit]:
        limit, offset = clamp(limit, offset)
        result = await self._search("user_index", text, {"limit": limit, "offset": offset})
        hits = [
            UserHit(UUID(h["id"]), h["username"], h["group_id"], h.get("_rankingScore", 0.0))
            for h in result["hits"]
        ]
        return Page(hits, result.get("estimatedTotalHits", len(hits)), limit, offset, self.name)

    async def search_posts(
        self, text: str, reader: Reader, limit: int = 25, offset: int = 0
    ) -> Page[PostHit]:
        limit, offset = clamp(limit, offset)
        filters = [f"min_read_level <= {int(reader.level)}"]
        if not reader.is_staff:
            filters.append("staff_only = false")
        result = await self._search(
            "forum_index", text,
            {"limit": limit, "offset": offset, "filter": filters,
             "attributesToCrop": ["body"], "cropLength": 30},
        )
        hits = []
        for h in result["hits"]:
            formatted = h.get("_formatted") or {}
            hits.append(PostHit(
                h["id"], h["topic_id"], h["topic_title"], h["forum_id"],
                UUID(h["author_id"]) if h.get("author_id") else None,
                formatted.get("body") or h["body"][:200], _time(h["created_at"]),
                h.get("_rankingScore", 0.0),
            ))
        return Page(hits, result.get("estimatedTotalHits", len(hits)), limit, offset, self.name)
