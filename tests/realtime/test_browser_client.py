"""The browser's live client (frontend/src/live.ts, peercounts.ts) in Chromium."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from playwright.async_api import expect

from hub.accounts import actions
from tests.factories import make_user

pytestmark = pytest.mark.browser


async def _signed_in_page(browser: Any, server: Any, hub: Any) -> Any:
    user = await make_user(hub)
    session_id, token = await actions.start_session(hub, user.id, ip=None, user_agent="pw")
    context = await browser.new_context(base_url=server.base_url)
    await context.add_cookies([{"name": "hub_session", "value": token, "url": server.base_url}])
    page = await context.new_page()
    page.set_default_timeout(15_000)
    page.user = user
    page.session_id = session_id
    return page


async def test_status_shows_live_and_then_why_it_went_offline(
    browser: Any, server: Any, hub: Any
) -> None:
    page = await _signed_in_page(browser, server, hub)
    await page.goto("/")
    await page.wait_for_selector('#live-status[data-state="live"]')
    assert await page.text_content("#live-status") == "live"
    await actions.revoke_session(hub, page.user.id, page.session_id)
    await page.wait_for_selector('#live-status[data-state="offline"]')
    title = await page.get_attribute("#live-status", "title")
    assert title is not None and "session revoked" in title


async def test_peer_counts_on_a_list_page_change_live(browser: Any, server: Any, hub: Any) -> None:
    a, b = random.randint(10**9, 10**12), random.randint(10**9, 10**12)
    latest = {"torrent_id": a, "seeders": 4, "leechers": 2, "completed": 9}
    await hub.redis.hset("hub:swarm", str(a), json.dumps(latest))
    page = await _signed_in_page(browser, server, hub)
    await page.goto("/")
    await page.wait_for_selector('#live-status[data-state="live"]')
    # Count elements as a list page renders them, added after load like a growing list.
    await page.evaluate(
        """([a, b]) => document.body.insertAdjacentHTML("beforeend",
            `<span id="s" data-live-seeders="${a}">0</span>` +
            `<span id="l" data-live-leechers="${a}">0</span>` +
            `<span id="s2" data-live-seeders="${b}">0</span>`)""",
        [a, b],
    )
    # The latest values are fetched on connect...
    await expect(page.locator("#s")).to_have_text("4")
    await expect(page.locator("#l")).to_have_text("2")
    # ...and changes arrive in the browse room's batches.
    await hub.redis.publish(
        "hub:swarm-counts",
        json.dumps([
            {"torrent_id": a, "seeders": 5, "leechers": 1, "completed": 9},
            {"torrent_id": b, "seeders": 12, "leechers": 0, "completed": 1},
        ]),
    )
    await expect(page.locator("#s2")).to_have_text("12")
    await expect(page.locator("#s")).to_have_text("5")
    await expect(page.locator("#l")).to_have_text("1")
