"""Downloading with one's own passkey; browsing, tags and flags."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import bencodepy

from hub.torrents import actions, metainfo
from tests.factories import csrf_headers, login, make_moderator, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, logged_in, upload, viewer_of


async def _approved(hub: Any, http: aiohttp.ClientSession, **fields: Any) -> tuple[Any, int]:
    member = await make_user(hub)
    await login(http, member)
    cat = fields.pop("cat", None) or await category_id(hub)
    status, body = await upload(http, fields.pop("data", None) or v1_torrent(), cat, **fields)
    assert status == 201, body
    mod = await viewer_of(hub, await make_moderator(hub))
    await actions.approve_torrent(hub, mod, body["id"])
    return member, body["id"]


async def test_download_carries_the_members_own_passkey(
    hub: Any, server: Any, http: aiohttp.ClientSession, settings: Any
) -> None:
    _uploader, torrent_id = await _approved(hub, http)
    member = await make_user(hub)
    session = await logged_in(server, member)
    try:
        async with session.get(f"/api/v1/torrents/{torrent_id}/download") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("application/x-bittorrent")
            data = await r.read()
    finally:
        await session.close()
    top = bencodepy.decode(data)
    assert top[b"announce"].decode() == settings.announce_url(member.passkey)
    stored = await hub.pool.fetchval("SELECT info_hash FROM torrents WHERE id = $1", torrent_id)
    assert metainfo.info_hash_of(data) == stored


async def test_uploader_downloads_own_pending_upload(
    hub: Any, http: aiohttp.ClientSession, settings: Any
) -> None:
    member = await make_user(hub)
    await login(http, member)
    _s, body = await upload(http, v1_torrent(), await category_id(hub))
    async with http.get(f"/torrents/{body['id']}/download") as r:
        assert r.status == 200
        data = await r.read()
    assert member.passkey.encode() in bencodepy.decode(data)[b"announce"]


async def test_class_without_download_right_may_fetch_only_its_own_uploads(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    _uploader, others = await _approved(hub, http)
    leech = await make_user(hub, "leech")
    session = await logged_in(server, leech)
    try:
        status, own = await upload(session, v1_torrent(), await category_id(hub))
        assert status == 201
        async with session.get(f"/api/v1/torrents/{own['id']}/download") as r:
            assert r.status == 200
        async with session.get(f"/api/v1/torrents/{others}/download") as r:
            assert r.status == 403
    finally:
        await session.close()


async def test_browse_filters_by_parent_category_tag_search_and_uploader(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    word = f"zebra{uuid.uuid4().hex[:8]}"
    member, torrent_id = await _approved(
        hub,
        http,
        cat=await category_id(hub, "movies-uhd"),
        tags=f"t{word}",
        description=f"A film about a {word}",
    )
    async with http.get(
        "/api/v1/torrents", params={"category": await category_id(hub, "movies"), "q": word}
    ) as r:
        body = await r.json()
    assert [t["id"] for t in body["items"]] == [torrent_id]
    async with http.get("/api/v1/torrents", params={"tag": f"t{word}"}) as r:
        assert [t["id"] for t in (await r.json())["items"]] == [torrent_id]
    async with http.get("/api/v1/torrents", params={"uploader": member.username}) as r:
        assert [t["id"] for t in (await r.json())["items"]] == [torrent_id]
    async with http.get(
        "/api/v1/torrents", params={"category": await category_id(hub, "music"), "q": word}
    ) as r:
        assert (await r.json())["items"] == []
    async with http.get("/torrents", params={"q": word, "sort": "size"}) as r:
        page = await r.text()
    assert r.status == 200 and f"/torrents/{torrent_id}" in page
    async with http.get("/api/v1/torrents", params={"sort": "bogus"}) as r:
        assert r.status == 400 and (await r.json())["field"] == "sort"


async def test_anonymous_upload_hides_the_uploader_from_other_members(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    uploader, torrent_id = await _approved(hub, http, anonymous="on")
    other = await logged_in(server, await make_user(hub))
    try:
        async with other.get(f"/api/v1/torrents/{torrent_id}") as r:
            assert (await r.json())["uploader"] is None
        async with other.get("/api/v1/torrents", params={"uploader": uploader.username}) as r:
            assert (await r.json())["items"] == []
    finally:
        await other.close()


async def test_tags_proposed_and_voted_down_stop_showing(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    _member, torrent_id = await _approved(hub, http)
    async with http.post(
        f"/api/v1/torrents/{torrent_id}/tags",
        json={"name": "Lossless"},
        headers=csrf_headers(http),
    ) as r:
        assert r.status == 201
        assert (await r.json())["score"] == 1
    voters = [await logged_in(server, await make_user(hub)) for _ in range(2)]
    try:
        for v in voters:
            async with v.post(
                f"/api/v1/torrents/{torrent_id}/tags/lossless/vote",
                json={"vote": -1},
                headers=csrf_headers(v),
            ) as r:
                last = await r.json()
    finally:
        for v in voters:
            await v.close()
    assert last == {"name": "lossless", "score": -1, "my_vote": -1, "shown": False}
    async with http.get("/api/v1/torrents", params={"tag": "lossless"}) as r:
        assert torrent_id not in [t["id"] for t in (await r.json())["items"]]
    # Changing one's vote replaces it rather than adding to it.
    async with http.post(
        f"/api/v1/torrents/{torrent_id}/tags/lossless/vote",
        json={"vote": -1},
        headers=csrf_headers(http),
    ) as r:
        assert (await r.json())["score"] == -3


async def test_moderator_sets_freeleech_and_it_is_audited(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    _member, torrent_id = await _approved(hub, http)
    mod = await logged_in(server, await make_moderator(hub))
    try:
        async with mod.post(
            f"/api/v1/torrents/{torrent_id}/flags",
            json={"freeleech": True, "double_upload": True},
            headers=csrf_headers(mod),
        ) as r:
            assert r.status == 200
    finally:
        await mod.close()
    async with http.post(
        f"/api/v1/torrents/{torrent_id}/flags",
        json={"freeleech": False},
        headers=csrf_headers(http),
    ) as r:
        assert r.status == 403
    async with http.get("/api/v1/torrents", params={"freeleech": "1", "per_page": 100}) as r:
        assert torrent_id in [t["id"] for t in (await r.json())["items"]]
    async with hub.pool.acquire() as conn:
        details = await conn.fetchval(
            "SELECT details FROM audit_logs WHERE action = 'torrent.flags' AND target_id = $1",
            str(torrent_id),
        )
    assert details["after"]["is_freeleech"] is True
    assert details["before"]["is_freeleech"] is False


async def test_description_is_rendered_without_raw_html(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    _member, torrent_id = await _approved(
        hub,
        http,
        description="**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://e.org)",
    )
    async with http.get(f"/torrents/{torrent_id}") as r:
        page = await r.text()
    assert "<strong>bold</strong>" in page
    assert "<script>alert(1)" not in page
    assert 'href="javascript:' not in page
    assert 'rel="nofollow noopener noreferrer"' in page


async def test_members_list_their_own_pending_uploads_but_not_others(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    member = await make_user(hub)
    await login(http, member)
    _s, body = await upload(http, v1_torrent(), await category_id(hub))
    params = {"uploader": member.username, "status": "any"}
    async with http.get("/api/v1/torrents", params=params) as r:
        items = (await r.json())["items"]
    assert [(t["id"], t["status"]) for t in items] == [(body["id"], "pending")]
    async with http.get("/torrents", params=params) as r:
        assert f"/torrents/{body['id']}" in await r.text()
    other = await logged_in(server, await make_user(hub))
    try:
        async with other.get("/api/v1/torrents", params=params) as r:
            assert r.status == 403
    finally:
        await other.close()
    mod = await logged_in(server, await make_moderator(hub))
    try:
        async with mod.get("/api/v1/torrents", params={"status": "pending", "per_page": 100}) as r:
            assert body["id"] in [t["id"] for t in (await r.json())["items"]]
    finally:
        await mod.close()
