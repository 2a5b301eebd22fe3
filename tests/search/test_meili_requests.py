"""The Meilisearch backend speaks Meilisearch's HTTP API through the official client.

No Meilisearch server runs here: a small recording stub stands in for one, answering the
way the API documents, so these tests check the requests our code makes (index settings,
documents, deletions by filter, search parameters) and how it reads the answers. Whether a
real server ranks and filters as configured is not exercised (docs/operations.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web

from hub.search.backend import Reader, TorrentQuery
from hub.search.meili import INDEX_SETTINGS, MeiliSearch
from tests.conftest import free_port
from tests.tasks.data import make_torrent

TASK = {"taskUid": 1, "indexUid": "x", "status": "enqueued", "type": "stub",
        "enqueuedAt": "2026-01-01T00:00:00.000Z"}


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, str, Any, str]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)

    def bodies(self, method: str, path: str) -> list[Any]:
        return [body for m, p, body, _auth in self.requests if m == method and p == path]


@pytest_asyncio.fixture
async def stub() -> AsyncIterator[Stub]:
    port = free_port()
    state = Stub(f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        state.requests.append(
            (request.method, request.path, body, request.headers.get("Authorization", "")))
        if request.path.endswith("/search"):
            return web.json_response({"hits": state.hits, "estimatedTotalHits": len(state.hits),
                                      "query": body["q"], "limit": body.get("limit", 20),
                                      "offset": body.get("offset", 0), "processingTimeMs": 1})
        return web.json_response(TASK, status=202)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_setup_creates_the_three_indexes_with_their_settings(hub: Any, stub: Stub) -> None:
    await MeiliSearch(hub.pool, stub.url, "master-key").setup()

    created = stub.bodies("POST", "/indexes")
    assert sorted(b["uid"] for b in created) == sorted(INDEX_SETTINGS)
    assert all(b["primaryKey"] == "id" for b in created)
    for uid, settings in INDEX_SETTINGS.items():
        assert stub.bodies("PATCH", f"/indexes/{uid}/settings") == [settings]
    assert all(auth == "Bearer master-key" for *_rest, auth in stub.requests)


async def test_indexing_sends_visible_torrents_and_deletes_hidden_ones_by_filter(
    hub: Any, stub: Stub
) -> None:
    shown = await make_torrent(hub, name="Stubbed torrent")
    hidden = await make_torrent(hub, status="rejected")

    sent = await MeiliSearch(hub.pool, stub.url).index("torrent", [str(shown), str(hidden)])

    assert sent == 2
    [documents] = stub.bodies("POST", "/indexes/torrent_index/documents")
    assert [d["id"] for d in documents] == [shown]
    assert documents[0]["name"] == "Stubbed torrent"
    assert stub.bodies("POST", "/indexes/torrent_index/documents/delete") == [
        {"filter": f"id IN [{hidden}]"}]


async def test_deleting_users_and_topics_uses_the_right_filters(hub: Any, stub: Stub) -> None:
    backend = MeiliSearch(hub.pool, stub.url)
    await backend.delete("user", ["6f1c2f0e-0000-4000-8000-000000000001"])
    await backend.delete("forum_topic", ["7", "9"])

    assert stub.bodies("POST", "/indexes/user_index/documents/delete") == [
        {"filter": 'id IN ["6f1c2f0e-0000-4000-8000-000000000001"]'}]
    assert stub.bodies("POST", "/indexes/forum_index/documents/delete") == [
        {"filter": "topic_id IN [7, 9]"}]


async def test_torrent_search_sends_filters_and_reads_the_hits(hub: Any, stub: Stub) -> None:
    stub.hits = [{"id": 5, "name": "Found", "size": 10, "category_id": 3,
                  "created_at": 1_700_000_000, "seeders": 4, "leechers": 1,
                  "_rankingScore": 0.9}]

    page = await MeiliSearch(hub.pool, stub.url).search_torrents(
        TorrentQuery("found", category_id=3, freeleech_only=True, limit=10, offset=20))

    [body] = stub.bodies("POST", "/indexes/torrent_index/search")
    assert body["q"] == "found" and body["limit"] == 10 and body["offset"] == 20
    assert body["filter"] == ["category_ids = 3", "is_freeleech = true"]
    assert [(h.id, h.name, h.seeders) for h in page.hits] == [(5, "Found", 4)]
    assert page.total == 1 and page.backend == "meilisearch"


async def test_post_search_hides_staff_forums_from_members(hub: Any, stub: Stub) -> None:
    backend = MeiliSearch(hub.pool, stub.url)
    await backend.search_posts("rules", Reader(level=20))
    await backend.search_posts("rules", Reader(level=100, is_staff=True))

    member, staff = stub.bodies("POST", "/indexes/forum_index/search")
    assert member["filter"] == ["min_read_level <= 20", "staff_only = false"]
    assert staff["filter"] == ["min_read_level <= 100"]
