"""In Chromium: a member reading the browse list is told when a torrent goes live."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from hub.torrents import actions
from tests.browser.test_upload_moderate_download import log_in
from tests.factories import login, make_moderator, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, upload, viewer_of


@pytest.mark.browser
async def test_browse_list_announces_a_newly_approved_torrent(
    server: Any, hub: Any, browser: Browser, http: Any
) -> None:
    reader = await make_user(hub)
    context = await browser.new_context()
    page = await context.new_page()
    await log_in(page, server, reader.username, reader.password)
    await page.goto(server.url("/torrents"))
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    await login(http, await make_user(hub))
    _status, body = await upload(http, v1_torrent(), await category_id(hub))
    await actions.approve_torrent(hub, await viewer_of(hub, await make_moderator(hub)), body["id"])

    await expect(page.locator("#new-torrents")).to_be_visible(timeout=10_000)
    await expect(page.locator("#new-torrents")).to_contain_text("1 new torrent")
    await context.close()
