"""In Chromium: a member uploads, a moderator approves (the member's open page follows it
live), and the member downloads the .torrent with their passkey in it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import bencodepy
import pytest
from playwright.async_api import Browser, Page, expect

from tests.factories import make_moderator, make_user
from tests.torrents.builders import v1_torrent


async def log_in(page: Page, server: Any, username: str, password: str) -> None:
    await page.goto(server.url("/login"))
    await page.fill("#f-login", username)
    await page.fill("#f-password", password)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("nav.mainnav")).to_contain_text(username)


@pytest.mark.browser
async def test_member_uploads_moderator_approves_member_downloads_with_passkey(
    server: Any, hub: Any, browser: Browser, tmp_path: Path, settings: Any
) -> None:
    member = await make_user(hub)
    moderator = await make_moderator(hub)
    title = f"Browser upload {uuid.uuid4().hex[:8]}"
    torrent_file = tmp_path / "upload.torrent"
    torrent_file.write_bytes(v1_torrent())
    broken = tmp_path / "broken.torrent"
    broken.write_bytes(b"d4:infod4:name")

    member_ctx = await browser.new_context(accept_downloads=True)
    page = await member_ctx.new_page()
    await log_in(page, server, member.username, member.password)

    # A broken file is refused with a message saying why, and nothing is stored.
    await page.goto(server.url("/torrents/upload"))
    await page.set_input_files("#f-file", str(broken))
    await page.select_option("#f-category", label="Other")
    await page.click("#upload-form button[type=submit]")
    await expect(page.locator("#upload-error")).to_contain_text("broken bencoding")

    await page.set_input_files("#f-file", str(torrent_file))
    await page.fill("#f-name", title)
    await page.select_option("#f-category", label="Other")
    await page.fill("#f-tags", "browser-test")
    await page.fill("#f-description", "Made **by** a browser")
    await page.click("#upload-form button[type=submit]")
    await expect(page.locator("h1")).to_have_text(title)
    await expect(page.locator("#moderation-status")).to_have_text("Pending")
    torrent_url = page.url

    mod_ctx = await browser.new_context()
    mod_page = await mod_ctx.new_page()
    await log_in(mod_page, server, moderator.username, moderator.password)
    await mod_page.goto(torrent_url)
    await expect(mod_page.locator("h1")).to_have_text(title)
    await mod_page.click("#approve-form button[type=submit]")
    await expect(mod_page.locator("#moderation-status")).to_have_text("Approved")
    await mod_ctx.close()

    # The member's open page follows the torrent's stream: the approval shows without reload.
    await expect(page.locator("#moderation-status")).to_have_text("Approved", timeout=10_000)
    await expect(page.locator("#live-moderation")).to_contain_text("Approved just now")

    await page.goto(server.url("/torrents?q=" + title.split()[-1]))
    await expect(page.locator("#torrent-list")).to_contain_text(title)
    await page.click(f"#torrent-list a:has-text('{title}')")
    await expect(page.locator("#moderation-status")).to_have_text("Approved")
    async with page.expect_download() as info:
        await page.click("#download-link")
    download = await info.value
    saved = tmp_path / "downloaded.torrent"
    await download.save_as(saved)
    top = bencodepy.decode(saved.read_bytes())
    assert top[b"announce"].decode() == settings.announce_url(member.passkey)
    assert member.passkey in top[b"announce"].decode()
    assert top[b"info"][b"private"] == 1
    await member_ctx.close()
