"""The torrent pages without a browser: forms, messages and who sees what."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.factories import csrf, login, make_moderator, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, logged_in


def _form(http: aiohttp.ClientSession, data: bytes, cat: int | None, **fields: str) -> Any:
    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf(http))
    form.add_field("file", data, filename="x.torrent", content_type="application/x-bittorrent")
    form.add_field("category_id", "" if cat is None else str(cat))
    for k, v in fields.items():
        form.add_field(k, v)
    return form


async def test_upload_form_redirects_to_the_new_torrent(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    async with http.post(
        "/torrents/upload", data=_form(http, v1_torrent(), await category_id(hub), name="Mine")
    ) as r:
        assert r.status == 200
        assert "/torrents/" in str(r.url)
        page = await r.text()
    assert "Mine" in page and "Pending" in page


async def test_upload_form_shows_the_duplicate_with_a_link_and_keeps_the_fields(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    data = v1_torrent()
    cat = await category_id(hub)
    async with http.post("/torrents/upload", data=_form(http, data, cat)) as r:
        first = str(r.url).rsplit("/", 1)[1]
    async with http.post(
        "/torrents/upload", data=_form(http, data, cat, description="kept text")
    ) as r:
        assert r.status == 409
        page = await r.text()
    assert f'href="/torrents/{first}"' in page
    assert "kept text" in page


async def test_upload_form_without_category_says_so(hub: Any, http: aiohttp.ClientSession) -> None:
    await login(http, await make_user(hub))
    async with http.post("/torrents/upload", data=_form(http, v1_torrent(), None)) as r:
        assert r.status == 400
        assert "choose a category" in await r.text()


async def test_members_do_not_see_moderation_buttons_but_moderators_do(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    await login(http, await make_user(hub))
    async with http.post(
        "/torrents/upload", data=_form(http, v1_torrent(), await category_id(hub))
    ) as r:
        url = str(r.url).replace(server.base_url, "")
        assert 'id="approve-form"' not in await r.text()
    mod = await logged_in(server, await make_moderator(hub))
    try:
        async with mod.get(url) as r:
            page = await r.text()
        assert 'id="approve-form"' in page and 'id="reject-form"' in page
        form = aiohttp.FormData()
        form.add_field("csrf_token", csrf(mod))
        form.add_field("reason", "")
        async with mod.post(url + "/reject", data=form) as r:
            assert "a reason is required" in await r.text()
    finally:
        await mod.close()


async def test_visitors_are_sent_to_log_in(http: aiohttp.ClientSession, hub: Any) -> None:
    async with http.get("/torrents", allow_redirects=False) as r:
        assert r.status in (302, 303)
        assert "/login" in r.headers["Location"]


async def test_openapi_documents_the_upload(http: aiohttp.ClientSession, hub: Any) -> None:
    async with http.get("/openapi.json") as r:
        spec = await r.json()
    body = spec["paths"]["/api/v1/torrents"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
