"""In Chromium: register, log in, turn on 2FA, log out, and log back in with a TOTP code."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pyotp
import pytest
from playwright.async_api import Page, expect


async def log_in_with_password(page: Page, server: Any, username: str, password: str) -> None:
    await page.goto(server.url("/login"))
    await page.fill("#f-login", username)
    await page.fill("#f-password", password)
    await page.click("#login-form button[type=submit]")


async def log_out(page: Page) -> None:
    await page.click("nav.mainnav form button:has-text('Log out')")
    await expect(page.locator("nav.mainnav")).to_contain_text("Log in")


@pytest.mark.browser
async def test_member_registers_enables_2fa_and_logs_back_in_with_a_code(server, browser):
    username = f"b_{uuid.uuid4().hex[:10]}"
    password = "a browser-typed password"
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # Register: the new member lands on the front page, logged in.
    await page.goto(server.url("/register"))
    await page.fill("#f-username", username)
    await page.fill("#f-email", f"{username}@example.test")
    await page.fill("#f-password", password)
    await page.fill("#f-password_confirm", password)
    await page.click("#register-form button[type=submit]")
    await expect(page.locator("h1")).to_contain_text(f"Welcome back, {username}")
    await log_out(page)

    # Log in with the password alone (no 2FA yet).
    await log_in_with_password(page, server, username, password)
    await expect(page.locator("h1")).to_contain_text(f"Welcome back, {username}")

    # Turn on 2FA: read the key shown on the page, answer with the app's code.
    await page.goto(server.url("/settings"))
    await page.click("#enable-2fa")
    await expect(page.locator(".qr svg")).to_be_visible()
    secret = (await page.text_content("#totp-secret") or "").strip()
    totp = pyotp.TOTP(secret)
    await page.fill("#f-code", totp.now())
    await page.click("#totp-confirm-form button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Two-factor is on")
    await expect(page.locator("#backup-codes li")).to_have_count(10)
    await page.click("text=I have saved them")
    await expect(page.locator("#two-factor")).to_contain_text("enabled")
    await log_out(page)

    # Back in: the password first, then the second factor.
    await log_in_with_password(page, server, username, password)
    await expect(page).to_have_url(server.url("/login/2fa"))
    # The code used to confirm is spent; the next time step is inside the drift window.
    await page.fill("#f-code", totp.at(time.time() + 30))
    await page.click("#login-2fa-form button[type=submit]")
    await expect(page.locator("h1")).to_contain_text(f"Welcome back, {username}")
    await page.goto(server.url("/settings"))
    await expect(page.locator("#two-factor")).to_contain_text("enabled")
    await context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
