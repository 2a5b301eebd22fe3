"""Torrent pages and profiles link to the report form, for members other than the target."""

from __future__ import annotations

from html import unescape
from typing import Any

import aiohttp

from tests.factories import login, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, logged_in, upload


async def _text(http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
    async with http.get(path) as r:
        return r.status, unescape(await r.text())


async def test_torrent_page_offers_a_report_link_to_other_members_but_not_to_its_uploader(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    uploader = await make_user(hub, "uploader")  # live at once, so others can see it
    await login(http, uploader)
    status, body = await upload(http, v1_torrent(), await category_id(hub))
    assert status == 201, body
    torrent_id = body["id"]
    status, page = await _text(http, f"/torrents/{torrent_id}")
    assert status == 200 and 'id="report-link"' not in page

    other = await logged_in(server, await make_user(hub))
    try:
        status, page = await _text(other, f"/torrents/{torrent_id}")
        assert status == 200
        assert f'href="/report?type=torrent&id={torrent_id}"' in page
        status, form = await _text(other, f"/report?type=torrent&id={torrent_id}")
    finally:
        await other.close()
    assert status == 200
    assert 'name="target_type" value="torrent"' in form
    assert f'name="target_id" value="{torrent_id}"' in form


async def test_profile_offers_a_report_link_to_other_members_but_not_to_its_owner(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    owner = await make_user(hub)
    await login(http, owner)
    status, page = await _text(http, f"/users/{owner.username}")
    assert status == 200 and 'id="report-link"' not in page

    other = await logged_in(server, await make_user(hub))
    try:
        status, page = await _text(other, f"/users/{owner.username}")
        assert status == 200
        assert f'href="/report?type=user&id={owner.username}"' in page
        status, form = await _text(other, f"/report?type=user&id={owner.username}")
    finally:
        await other.close()
    assert status == 200
    assert 'name="target_type" value="user"' in form
    assert f'name="target_id" value="{owner.username}"' in form
