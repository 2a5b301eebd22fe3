"""The account and admin pages as a browser without JavaScript uses them: forms and redirects."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from typing import Any

import aiohttp
import pyotp

from hub.accounts import actions, mailer
from hub.accounts.auth import viewer_for_session_token
from tests.factories import TestUser, cookie, csrf, make_admin, make_user

DEFAULT_HEADERS = {"Accept": "text/html"}


async def form_post(
    http: aiohttp.ClientSession, path: str, data: dict[str, Any] | list[tuple[str, str]]
) -> tuple[int, str, str]:
    """POST a form like a browser: CSRF field included, redirects not followed.

    Returns (status, Location header, body).
    """
    if not csrf(http):
        async with http.get("/login", headers=DEFAULT_HEADERS):
            pass
    fields = list(data.items()) if isinstance(data, dict) else list(data)
    fields.append(("csrf_token", csrf(http)))
    async with http.post(
        path, data=fields, allow_redirects=False, headers=DEFAULT_HEADERS
    ) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def page(http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
    async with http.get(path, headers=DEFAULT_HEADERS) as response:
        return response.status, await response.text()


async def form_login(http: aiohttp.ClientSession, user: TestUser) -> None:
    status, _location, body = await form_post(
        http, "/login", {"login": user.username, "password": user.password}
    )
    assert status == 302, body
    assert cookie(http, "hub_session")


def new_name() -> str:
    return f"p_{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------ register and login


async def test_front_page_invites_visitors_and_guides_members(hub, http):
    status, body = await page(http, "/")
    assert status == 200 and "Create an account" in body
    user = await make_user(hub)
    await form_login(http, user)
    status, body = await page(http, "/")
    assert status == 200 and f"Welcome back, {user.username}" in body
    assert "/settings#two-factor" in body


async def test_visitor_registers_and_is_logged_in(hub, http):
    name = new_name()
    status, location, _ = await form_post(
        http,
        "/register",
        {
            "username": name,
            "email": f"{name}@example.test",
            "password": "a long enough password",
            "password_confirm": "a long enough password",
        },
    )
    assert status == 302 and location.endswith("/")
    status, body = await page(http, "/settings")
    assert status == 200
    assert name in body


async def test_failed_registration_keeps_the_input_and_names_the_field(hub, http):
    taken = await make_user(hub)
    status, _, body = await form_post(
        http,
        "/register",
        {
            "username": taken.username,
            "email": "someone-new@example.test",
            "password": "a long enough password",
            "password_confirm": "a long enough password",
        },
    )
    assert status == 409
    assert "Username is already taken." in body
    assert 'value="someone-new@example.test"' in body
    assert "a long enough password" not in body  # passwords are never echoed


async def test_invite_only_registration_asks_for_a_code_and_records_the_inviter(hub, http):
    inviter = await make_user(hub, "power_user")
    _sid, token = await actions.start_session(hub, inviter.id, ip=None, user_agent="test")
    who = await viewer_for_session_token(hub, token)
    _invite_id, code = await actions.create_invite(hub, who)
    name = new_name()
    fields = {
        "username": name,
        "email": f"{name}@example.test",
        "password": "a long enough password",
        "password_confirm": "a long enough password",
    }
    open_settings = hub.settings
    hub.settings = dataclasses.replace(open_settings, registration="invite")
    try:
        status, body = await page(http, f"/register?invite={code}")
        assert status == 200 and f'value="{code}"' in body and "by invitation" in body
        status, _, body = await form_post(http, "/register", fields)
        assert status == 400 and "An invite code is required to register." in body
        status, location, _ = await form_post(http, "/register", {**fields, "invite_code": code})
        assert status == 302, location
    finally:
        hub.settings = open_settings
    tree = await actions.invite_tree(hub, inviter.id)
    assert [m["username"] for m in tree] == [name]


async def test_registration_refuses_two_different_passwords(hub, http):
    name = new_name()
    status, _, body = await form_post(
        http,
        "/register",
        {
            "username": name,
            "email": f"{name}@example.test",
            "password": "a long enough password",
            "password_confirm": "another long password",
        },
    )
    assert status == 400
    assert "The two passwords are not the same." in body
    assert f'value="{name}"' in body


async def test_wrong_password_is_shown_on_the_login_page(hub, http):
    user = await make_user(hub)
    status, _, body = await form_post(
        http, "/login", {"login": user.username, "password": "not the password"}
    )
    assert status == 400
    assert "Wrong username or password." in body
    assert f'value="{user.username}"' in body
    assert not cookie(http, "hub_session")


async def test_login_returns_to_the_page_asked_for_but_never_to_another_site(hub, http):
    user = await make_user(hub)
    status, location, _ = await form_post(
        http,
        "/login",
        {"login": user.username, "password": user.password, "next": "/settings#sessions"},
    )
    assert status == 302 and location == "/settings#sessions"
    other = aiohttp.ClientSession(
        base_url=str(http._base_url), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    async with other:
        status, location, _ = await form_post(
            other,
            "/login",
            {"login": user.username, "password": user.password, "next": "//evil.example/"},
        )
    assert status == 302 and location == "/"


async def test_anonymous_visitor_is_sent_to_login_from_settings(hub, http):
    async with http.get("/settings", headers=DEFAULT_HEADERS, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"].startswith("/login?next=")


async def test_form_without_csrf_token_is_refused(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    async with http.post(
        "/settings/passkey/rotate", data={}, allow_redirects=False, headers=DEFAULT_HEADERS
    ) as response:
        assert response.status == 403
    async with hub.pool.acquire() as conn:
        passkey = await conn.fetchval("SELECT passkey FROM users WHERE id = $1", user.id)
    assert passkey == user.passkey


async def enable_2fa(hub: Any, user: TestUser) -> tuple[pyotp.TOTP, list[str]]:
    """2FA on through the actions; returns the authenticator and the backup codes."""
    enrolment = await actions.begin_totp(hub, user.id)
    totp = pyotp.TOTP(enrolment.secret)
    codes = await actions.confirm_totp(hub, user.id, totp.now())
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    # The step used to confirm cannot be replayed; the next step is within the drift window.
    return totp.at(time.time() + 30)


async def test_member_with_2fa_gives_a_code_after_the_password(hub, http):
    user = await make_user(hub)
    totp, _codes = await enable_2fa(hub, user)
    status, location, _ = await form_post(
        http, "/login", {"login": user.username, "password": user.password}
    )
    assert status == 302 and location.startswith("/login/2fa")
    assert not cookie(http, "hub_session")
    status, body = await page(http, "/login/2fa")
    assert status == 200 and "Two-factor check" in body

    status, _, body = await form_post(http, "/login/2fa", {"code": "000000"})
    assert status == 400 and "Wrong code." in body
    status, location, _ = await form_post(http, "/login/2fa", {"code": next_code(totp)})
    assert status == 302 and location == "/"
    assert cookie(http, "hub_session")


async def test_logout_ends_the_session(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, _location, _ = await form_post(http, "/logout", {})
    assert status == 302
    async with http.get("/settings", headers=DEFAULT_HEADERS, allow_redirects=False) as response:
        assert response.status == 302


async def test_forgotten_password_is_reset_through_the_mailed_link(hub, http):
    user = await make_user(hub)
    status, _, body = await form_post(http, "/forgot-password", {"email": user.email})
    assert status == 200 and "a link to choose a new" in body
    outbox = [json.loads(m) for m in await hub.redis.lrange(mailer.OUTBOX, 0, 50)]
    link = next(m["link"] for m in outbox if m["to"] == user.email)
    path = link[link.index("/reset-password"):]
    status, body = await page(http, path)
    assert status == 200 and 'name="token"' in body
    token = path.split("token=", 1)[1]
    new = "a brand new password"
    status, location, _ = await form_post(
        http, "/reset-password", {"token": token, "password": new, "password_confirm": new}
    )
    assert status == 302 and location.startswith("/login")
    status, _, body = await form_post(
        http, "/reset-password", {"token": token, "password": new, "password_confirm": new}
    )
    assert status == 400 and "This reset link is invalid, used or expired." in body
    user.password = new
    await form_login(http, user)


async def test_unknown_address_gets_the_same_answer_as_a_known_one(hub, http):
    status, _, body = await form_post(
        http, "/forgot-password", {"email": f"{new_name()}@example.test"}
    )
    assert status == 200 and "a link to choose a new" in body


# ------------------------------------------------------------------ settings


async def test_settings_lists_sessions_and_revokes_another_device(hub, http, server):
    user = await make_user(hub)
    await form_login(http, user)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as phone:
        await form_login(phone, user)
        sessions = await actions.list_sessions(hub, user.id)
        assert len(sessions) == 2
        status, body = await page(http, "/settings")
        assert status == 200
        assert "this session" in body
        assert body.count("/revoke\"") == 1  # only the other session has a Revoke button
        other = re.search(r'/settings/sessions/([0-9a-f-]{36})/revoke', body)
        assert other is not None
        status, location, _ = await form_post(http, other.group(0), {})
        assert status == 302 and location.endswith("#sessions")
        async with phone.get(
            "/settings", headers=DEFAULT_HEADERS, allow_redirects=False
        ) as response:
            assert response.status == 302  # the phone is logged out at once
    status, _ = await page(http, "/settings")
    assert status == 200


async def test_changing_the_password_needs_the_current_one(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    new = "another good password"
    status, _, body = await form_post(
        http,
        "/settings/password",
        {"current_password": "not it", "password": new, "password_confirm": new},
    )
    assert status == 400 and "Current password is wrong." in body
    status, location, _ = await form_post(
        http,
        "/settings/password",
        {"current_password": user.password, "password": new, "password_confirm": new},
    )
    assert status == 302 and location.endswith("#password")
    status, _ = await page(http, "/settings")
    assert status == 200  # this session stays
    result = await actions.login(
        hub, login=user.username, password=new, ip=None, user_agent="test"
    )
    assert result.session_id is not None


async def test_log_out_all_other_sessions_keeps_only_this_one(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    for _ in range(2):
        await actions.start_session(hub, user.id, ip="192.0.2.7", user_agent="Transmission/4.0")
    status, body = await page(http, "/settings")
    assert "192.0.2.7" in body and "Log out all other sessions" in body
    status, _location, _ = await form_post(http, "/settings/sessions/revoke-others", {})
    assert status == 302
    sessions = await actions.list_sessions(hub, user.id)
    assert len(sessions) == 1
    status, body = await page(http, "/settings")
    assert status == 200 and "Logged out 2 other sessions." in body


async def test_rotating_the_passkey_shows_the_new_one_and_is_audited(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, body = await page(http, "/settings")
    assert user.passkey in body
    status, location, _ = await form_post(http, "/settings/passkey/rotate", {})
    assert status == 302 and location.endswith("#passkey")
    async with hub.pool.acquire() as conn:
        new = await conn.fetchval("SELECT passkey FROM users WHERE id = $1", user.id)
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_logs WHERE user_id = $1 AND action = 'passkey.rotate'",
            user.id,
        )
    assert new != user.passkey and audited == 1
    status, body = await page(http, "/settings")
    assert new in body and user.passkey not in body


async def test_enrolling_2fa_shows_qr_secret_and_backup_codes_once(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, _, body = await form_post(http, "/settings/2fa/enrol", {})
    assert status == 200
    assert "<svg" in body
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', body)
    assert secret is not None
    status, _, wrong = await form_post(http, "/settings/2fa/confirm", {"code": "123456"})
    assert status == 400 and "Wrong code" in wrong
    assert secret.group(1) in wrong  # the same key again, not a new one
    code = pyotp.TOTP(secret.group(1)).now()
    status, _, body = await form_post(http, "/settings/2fa/confirm", {"code": code})
    assert status == 200
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", body)
    assert len(codes) == 10
    assert await actions.has_totp(hub, user.id)
    status, settings_body = await page(http, "/settings")
    assert "Disable two-factor" in settings_body
    assert codes[0] not in settings_body


async def test_disabling_2fa_needs_the_password_and_a_code(hub, http):
    user = await make_user(hub)
    totp, backup_codes = await enable_2fa(hub, user)
    async with aiohttp.ClientSession(
        base_url=str(http._base_url), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as browser:
        await form_post(browser, "/login", {"login": user.username, "password": user.password})
        await form_post(browser, "/login/2fa", {"code": next_code(totp)})
        status, _, body = await form_post(
            browser, "/settings/2fa/disable", {"password": "wrong password", "code": totp.now()}
        )
        assert status == 400 and "Password is wrong." in body
        assert await actions.has_totp(hub, user.id)
        status, location, _ = await form_post(
            browser,
            "/settings/2fa/disable",
            # Both TOTP steps near now are used up by the login: a backup code does it.
            {"password": user.password, "code": backup_codes[0]},
        )
        assert status == 302, location
    assert not await actions.has_totp(hub, user.id)


async def test_privacy_and_notification_preferences_are_saved(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, _, _ = await form_post(
        http, "/settings/privacy", {"paranoia": "2", "hide_snatches": "1"}
    )
    assert status == 302
    privacy = await actions.get_privacy(hub, user.id)
    assert privacy["paranoia"] == 2 and privacy["hide_snatches"] and not privacy["hide_stats"]
    status, _, _ = await form_post(http, "/settings/notifications", [])
    assert status == 302
    prefs = (await actions.get_privacy(hub, user.id))["notification_prefs"]
    assert all(value is False for value in prefs.values())


async def test_api_token_is_shown_once_and_works(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, body = await page(http, "/settings")
    scope = re.search(r'name="scopes" value="([a-z_]+:[a-z_]+)"', body)
    assert scope is not None, "the settings page offers the scopes routes accept"
    status, _, body = await form_post(
        http, "/settings/tokens", [("name", "seedbox script"), ("scopes", scope.group(1))]
    )
    assert status == 200
    token = re.search(r'id="new-token-value">(hubt_[\w-]+)<', body)
    assert token is not None
    status, again = await page(http, "/settings")
    assert token.group(1) not in again and "seedbox script" in again
    tokens = await actions.list_api_tokens(hub, user.id)
    assert [t["scopes"] for t in tokens] == [[scope.group(1)]]


async def test_token_without_a_scope_is_refused_with_the_name_kept(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, _, body = await form_post(http, "/settings/tokens", {"name": "nothing at all"})
    assert status == 400
    assert "Choose at least one scope." in body and 'value="nothing at all"' in body


async def test_member_who_can_invite_creates_an_invite(hub, http):
    user = await make_user(hub, "power_user")
    await form_login(http, user)
    status, _, body = await form_post(http, "/settings/invites", {"email": ""})
    assert status == 200
    code = re.search(r'id="new-invite-code">([\w-]+)<', body)
    assert code is not None
    invites = await actions.list_invites(hub, user.id)
    assert [i["code"] for i in invites] == [code.group(1)]


async def test_member_without_the_invite_right_sees_no_invites(hub, http):
    user = await make_user(hub)
    await form_login(http, user)
    status, body = await page(http, "/settings")
    assert 'id="invites"' not in body
    status, _, _ = await form_post(http, "/settings/invites", {"email": ""})
    assert status == 403


# ------------------------------------------------------------------ profiles


async def test_profile_hides_statistics_from_members_but_not_from_staff(hub, http, server):
    owner = await make_user(hub)
    await actions.update_privacy(hub, owner.id, {"hide_stats": True})
    member = await make_user(hub)
    await form_login(http, member)
    status, body = await page(http, f"/users/{owner.username}")
    assert status == 200
    assert "keeps their statistics private" in body and 'id="profile-stats"' not in body
    admin = await make_admin(hub)
    async with aiohttp.ClientSession(
        base_url=server.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as staff:
        await form_login(staff, admin)
        status, body = await page(staff, f"/users/{owner.username}")
    assert 'id="profile-stats"' in body and "Ratio" in body and "∞" in body
    assert "Staff view" in body


async def test_profile_of_nobody_is_a_404(hub, http):
    await form_login(http, await make_user(hub))
    status, body = await page(http, "/users/no_such_member_here")
    assert status == 404 and "no member called" in body


# ------------------------------------------------------------------ admin


async def test_members_cannot_open_the_admin_page(hub, http):
    await form_login(http, await make_user(hub))
    status, _ = await page(http, "/admin")
    assert status == 403


async def test_admin_finds_bans_and_unbans_a_member(hub, http):
    admin = await make_admin(hub)
    target = await make_user(hub)
    await form_login(http, admin)
    status, body = await page(http, f"/admin?q={target.username}")
    assert status == 200 and target.username in body and "Groups" in body
    path = f"/admin/users/{target.id}"
    status, body = await page(http, path)
    assert status == 200 and target.email in body
    status, _, _ = await form_post(http, f"{path}/ban", {"reason": ""})
    status, body = await page(http, path)
    assert "Say why." in body
    status, location, _ = await form_post(http, f"{path}/ban", {"reason": "ratio cheating"})
    assert status == 302 and location == path
    status, body = await page(http, path)
    assert "banned" in body and "Unban" in body
    assert "user.ban" in body and "ratio cheating" in body  # the audit trail is on the page
    assert body.count('id="audit"') == 1
    assert f"<title>Manage {target.username} ·" in body  # the title is text, not the table
    await form_post(http, f"{path}/unban", {})
    async with hub.pool.acquire() as conn:
        actions_logged = await conn.fetch(
            "SELECT action FROM audit_logs WHERE target_id = $1 ORDER BY id", str(target.id)
        )
    assert [r["action"] for r in actions_logged] == ["user.ban", "user.unban"]


async def test_admin_moves_a_member_to_another_group_and_resets_2fa(hub, http):
    admin = await make_admin(hub)
    target = await make_user(hub)
    await enable_2fa(hub, target)
    await form_login(http, admin)
    path = f"/admin/users/{target.id}"
    status, _location, _ = await form_post(http, f"{path}/group", {"group": "power_user"})
    assert status == 302
    status, _location, _ = await form_post(http, f"{path}/reset-2fa", {})
    assert status == 302
    assert not await actions.has_totp(hub, target.id)
    status, body = await page(http, path)
    assert "Power User" in body


async def test_admin_edits_a_groups_rights(hub, http):
    admin = await make_admin(hub)
    await form_login(http, admin)
    status, body = await page(http, "/admin/groups/3")  # Leech
    assert status == 200 and "Leech" in body
    rights = [("rights", r) for r in ("upload", "chat", "post_forums", "request")]
    status, location, _ = await form_post(http, "/admin/groups/3", [*rights, ("min_ratio", "0")])
    assert status == 302 and location.endswith("#groups")
    groups = {g["id"]: g for g in await actions.list_groups(hub)}
    assert groups[3]["can_request"] and not groups[3]["can_download"]
    status, _, body = await form_post(
        http, "/admin/groups/3", [("rights", "upload_unmoderated"), ("min_ratio", "0")]
    )
    assert status == 400 and "breaks a rule" in body
    await form_post(
        http, "/admin/groups/3", [*[r for r in rights if r[1] != "request"], ("min_ratio", "0")]
    )
