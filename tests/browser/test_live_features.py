"""Two people, two browsers: chat, the notification badge and the moderation queue, live.

Each person gets their own browser context (own cookies, own socket), as two windows of
two different members would.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hub.accounts import actions as accounts
from hub.moderation import reports
from tests.community.helpers import viewer_of
from tests.factories import TestUser, make_moderator, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, logged_in, upload

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000


async def _page_for(browser: Any, server: Any, hub: Any, user: TestUser) -> Any:
    """A browser window signed in as `user` (a real session row and cookie)."""
    _session_id, token = await accounts.start_session(
        hub, user.id, ip="127.0.0.1", user_agent="playwright"
    )
    context = await browser.new_context(base_url=server.base_url)
    await context.add_cookies([{"name": "hub_session", "value": token, "url": server.base_url}])
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


async def _open_live(page: Any, path: str) -> None:
    await page.goto(path)
    await page.wait_for_selector('#live-status[data-state="live"]')


async def test_two_members_chat_and_a_mention_lights_the_badge(browser, server, hub):
    alice = await make_user(hub)
    bob = await make_user(hub)
    a = await _page_for(browser, server, hub, alice)
    b = await _page_for(browser, server, hub, bob)
    await _open_live(a, "/chat/lobby")
    await _open_live(b, "/chat/lobby")
    assert await b.get_attribute("#notification-bell .badge", "data-count") == "0"
    # Who is online: each sees the other in the room's list.
    await a.locator("#chat-online li", has_text=bob.username).wait_for()
    await b.locator("#chat-online li", has_text=alice.username).wait_for()

    text = f"hi @{bob.username} <img src=x onerror=alert(1)> {uuid.uuid4().hex[:6]}"
    await a.fill("#chat-input", text)
    await a.press("#chat-input", "Enter")

    message = b.locator("#chat-log .chat-message", has_text=text[-6:])
    await message.wait_for()
    # Rendered as text: the markup shows literally, no <img> element exists.
    assert "<img src=x onerror=alert(1)>" in (await message.locator(".body").inner_text())
    assert await b.locator("#chat-log img").count() == 0
    mention = message.locator(".mention")
    assert await mention.inner_text() == f"@{bob.username}"
    # The mention reaches Bob's bell without a reload.
    await b.wait_for_selector('#notification-bell .badge[data-count="1"]')
    assert await a.input_value("#chat-input") == ""

    reply = f"hello alice {uuid.uuid4().hex[:6]}"
    await b.fill("#chat-input", reply)
    await a.locator("#chat-typing", has_text=f"{bob.username} is typing").wait_for()
    await b.press("#chat-input", "Enter")
    await a.locator("#chat-log .chat-message", has_text=reply).wait_for()
    # The author's own window shows the message once, even though it came by ack and event.
    assert await a.locator("#chat-log .chat-message", has_text=text[-6:]).count() == 1

    # Reading notifications in one tab clears the badge in the other.
    b2 = await b.context.new_page()
    await _open_live(b2, "/notifications")
    await b2.click("#notifications-read-all button")
    # (a zero badge is hidden, so wait for it in the DOM rather than on screen)
    await b.wait_for_selector('#notification-bell .badge[data-count="0"]', state="attached")
    await b.context.close()
    await a.context.close()


async def test_moderators_see_an_upload_arrive_and_leave_without_reloading(browser, server, hub):
    uploader = await make_user(hub)
    mod1 = await make_moderator(hub)
    mod2 = await make_moderator(hub)
    first = await _page_for(browser, server, hub, mod1)
    await _open_live(first, "/moderation")

    # The member uploads through the site's API with their own session.
    name = f"Live upload {uuid.uuid4().hex[:8]}"
    member = await logged_in(server, uploader)
    try:
        status, body = await upload(member, v1_torrent(), await category_id(hub), name=name)
    finally:
        await member.close()
    assert status == 201, body
    torrent_id = body["id"]

    row = first.locator("#modqueue-items tr[data-item-type='torrent']", has_text=name)
    await row.wait_for()
    assert await row.locator("a").get_attribute("href") == f"/torrents/{torrent_id}"

    second = await _page_for(browser, server, hub, mod2)
    await _open_live(second, "/moderation")
    theirs = second.locator("#modqueue-items tr", has_text=name)
    # A claim shows at once on the other moderator's screen.
    await theirs.locator(".mod-claim button").click()
    await row.locator(".mod-assignee", has_text=mod2.username).wait_for()
    assert await row.locator(".mod-claim button").is_disabled()
    await theirs.locator("button[name='decision'][value='approve']").click()

    await row.wait_for(state="detached")
    await theirs.wait_for(state="detached")

    # A member's report appears too, with who reported what and why.
    reason = f"spam {uuid.uuid4().hex[:6]}"
    await reports.create_report(
        hub,
        await viewer_of(hub, uploader),
        target_type="user",
        target_id=mod2.username,
        reason=reason,
    )
    report_row = first.locator("#modqueue-items tr[data-item-type='report']", has_text=reason)
    await report_row.wait_for()
    assert mod2.username in await report_row.locator(".mod-report").inner_text()
    async with hub.pool.acquire() as conn:
        status = await conn.fetchval(
            "SELECT moderation_status FROM torrents WHERE id = $1", torrent_id
        )
    assert status == "approved"
    await first.context.close()
    await second.context.close()
