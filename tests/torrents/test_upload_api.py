"""Uploading through POST /api/v1/torrents: what is stored, and what is refused."""

from __future__ import annotations

from typing import Any

import aiohttp
import bencodepy

from hub.torrents import queries
from tests.factories import login, make_user
from tests.torrents.builders import hybrid_torrent, torrent, v1_info, v1_torrent
from tests.torrents.helpers import category_id, upload


async def test_member_upload_is_pending_and_stored_whole(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    member = await make_user(hub)
    await login(http, member)
    cat = await category_id(hub, "movies-hd")
    data = v1_torrent(files=[(["a.mkv"], 30000), (["subs", "en.srt"], 200)])
    status, body = await upload(
        http, data, cat, tags="1080p, Documentary", description="*hi*", imdb_id="tt0111161"
    )
    assert status == 201, body
    assert body["status"] == "pending"
    assert len(body["info_hash"]) == 40
    async with hub.pool.acquire() as conn:
        t = await queries.select_torrent(conn, body["id"])
        files = await queries.select_files(conn, body["id"])
        tags = await queries.select_tags(conn, body["id"], None, shown_only=True)
        queued = await conn.fetchval(
            "SELECT status FROM moderation_queue WHERE item_type = 'torrent' AND item_id = $1",
            body["id"],
        )
        stats = await conn.fetchval(
            "SELECT count(*) FROM torrent_statistics WHERE torrent_id = $1", body["id"]
        )
        history = await conn.fetch(
            "SELECT action FROM torrent_moderation WHERE torrent_id = $1", body["id"]
        )
    assert t is not None
    assert t.info_hash.hex() == body["info_hash"]
    assert t.size == 30200 and t.file_count == 2
    assert t.imdb_id == "tt0111161"
    assert t.description_html.strip() == "<p><em>hi</em></p>"
    assert [f["path"] for f in files][1].endswith("/subs/en.srt")
    assert sorted(g.name for g in tags) == ["1080p", "documentary"]
    assert queued == "pending"
    assert stats == 1
    assert [h["action"] for h in history] == ["submitted"]
    info = bencodepy.decode(
        await hub.pool.fetchval("SELECT torrent_data FROM torrents WHERE id = $1", body["id"])
    )[b"info"]
    assert info[b"private"] == 1


async def test_broken_file_is_refused_naming_the_file_field(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    info = v1_info()
    info[b"pieces"] = info[b"pieces"][:-3]
    status, body = await upload(http, torrent(info), await category_id(hub))
    assert status == 400
    assert body["field"] == "file"
    assert "multiple of 20" in body["error"]


async def test_missing_category_is_refused_naming_the_field(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    status, body = await upload(http, v1_torrent(), None)
    assert status == 400
    assert body["field"] == "category_id"


async def test_bad_imdb_id_and_bad_tag_are_refused_by_name(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    cat = await category_id(hub)
    status, body = await upload(http, v1_torrent(), cat, imdb_id="12345")
    assert (status, body["field"]) == (400, "imdb_id")
    status, body = await upload(http, v1_torrent(), cat, tags="ok, <script>")
    assert (status, body["field"]) == (400, "tags")


async def test_duplicate_upload_is_refused_with_a_link_to_the_existing_torrent(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    cat = await category_id(hub)
    data = v1_torrent()
    status, first = await upload(http, data, cat)
    assert status == 201
    # Another announce URL changes nothing: the info dictionary is the same torrent.
    again = bencodepy.decode(data)
    again[b"announce"] = b"http://another.example/announce"
    status, body = await upload(http, bencodepy.encode(again), cat)
    assert status == 409
    assert body["existing_id"] == first["id"]
    assert body["existing_url"] == f"/torrents/{first['id']}"


async def test_hybrid_upload_is_reachable_by_both_hashes(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    data, _root = hybrid_torrent()
    status, body = await upload(http, data, await category_id(hub))
    assert status == 201, body
    v2 = bytes.fromhex(body["info_hash_v2"])
    assert len(v2) == 32
    async with hub.pool.acquire() as conn:
        by_v1 = await queries.select_torrent_id_by_hash(
            conn, bytes.fromhex(body["info_hash"]), None
        )
        by_v2 = await queries.select_torrent_by_v2_prefix(conn, v2[:20])
    assert by_v1 == by_v2 == body["id"]
    status, dup = await upload(http, data, await category_id(hub))
    assert status == 409 and dup["existing_id"] == body["id"]


async def test_class_that_skips_review_goes_live_and_is_queued_for_search(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub, "uploader"))
    status, body = await upload(http, v1_torrent(), await category_id(hub))
    assert status == 201
    assert body["status"] == "approved"
    async with hub.pool.acquire() as conn:
        queued = await conn.fetchval(
            "SELECT count(*) FROM moderation_queue WHERE item_type = 'torrent' AND item_id = $1",
            body["id"],
        )
        indexed = await conn.fetchval(
            "SELECT count(*) FROM search_index_queue WHERE entity_type = 'torrent' "
            "AND entity_id = $1",
            str(body["id"]),
        )
    assert queued == 0
    assert indexed >= 1


async def test_class_without_upload_right_is_refused(hub: Any, http: aiohttp.ClientSession) -> None:
    await login(http, await make_user(hub, "validating"))
    status, _body = await upload(http, v1_torrent(), await category_id(hub))
    assert status == 403


async def test_anonymous_visitor_cannot_upload(http: aiohttp.ClientSession, hub: Any) -> None:
    form = aiohttp.FormData()
    form.add_field("file", v1_torrent(), filename="x.torrent")
    async with http.post("/api/v1/torrents", data=form) as r:
        assert r.status in (401, 403)


async def test_api_token_needs_the_write_scope_to_upload(hub: Any, server: Any) -> None:
    from tests.factories import api_token, bearer

    member = await make_user(hub)
    cat = await category_id(hub)
    async with aiohttp.ClientSession(base_url=server.base_url) as client:
        for scopes, expected in ((["torrents:read"], 403), (["torrents:write"], 201)):
            token = await api_token(hub, member, scopes)
            form = aiohttp.FormData()
            form.add_field("file", v1_torrent(), filename="x.torrent")
            form.add_field("category_id", str(cat))
            async with client.post("/api/v1/torrents", data=form, headers=bearer(token)) as r:
                assert r.status == expected, await r.text()
