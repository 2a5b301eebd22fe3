"""Logging in and out, sessions, and what a revoked or banned session can still do."""

from __future__ import annotations

import uuid

from argon2 import PasswordHasher, Type

from hub import db
from hub.accounts import passwords
from hub.accounts.auth import session_is_active, viewer_for_session_token
from tests.factories import csrf_headers, ensure_csrf, login, make_admin, make_user


async def test_member_logs_in_and_sees_themselves(hub, http):
    user = await make_user(hub)
    body = await login(http, user)
    async with http.get("/api/v1/me") as response:
        me = await response.json()
    assert response.status == 200, me
    assert me["username"] == user.username
    assert me["passkey"] == user.passkey
    assert me["session_id"] == body["session_id"]
    assert "download" in me["rights"]


async def test_wrong_password_is_refused_without_saying_which_part(hub, http):
    user = await make_user(hub)
    async with http.post(
        "/api/v1/auth/login", json={"login": user.username, "password": "not it at all"}
    ) as response:
        body = await response.json()
    assert response.status == 401
    assert "wrong username or password" in body["error"]


async def test_login_by_email_is_case_insensitive(hub, http):
    user = await make_user(hub)
    async with http.post(
        "/api/v1/auth/login", json={"login": user.email.upper(), "password": user.password}
    ) as response:
        assert response.status == 200, await response.text()


async def test_password_hash_is_upgraded_when_parameters_change(hub, http):
    user = await make_user(hub)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)
    async with db.transaction(hub.pool) as conn:
        await conn.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", user.id, weak.hash(user.password)
        )
    await login(http, user)
    stored = await db.fetch_val(hub.pool, "SELECT password_hash FROM users WHERE id = $1", user.id)
    assert stored.startswith("$argon2id$")
    assert not passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, user.password)


async def test_revoked_session_stops_working_at_once(hub, http, server):
    import aiohttp

    user = await make_user(hub)
    first = await login(http, user)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as other:
        await login(other, user)
        async with other.delete(
            f"/api/v1/me/sessions/{first['session_id']}", headers=csrf_headers(other)
        ) as response:
            assert response.status == 200, await response.text()
    assert not await session_is_active(hub, uuid.UUID(first["session_id"]))
    async with http.get("/api/v1/me") as response:
        body = await response.json()
    assert response.status == 401
    assert "signed out" in body["reason"]


async def test_revoke_all_other_sessions_keeps_this_one(hub, http, server):
    import aiohttp

    user = await make_user(hub)
    await login(http, user)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as other:
        await login(other, user)
        async with http.get("/api/v1/me/sessions") as response:
            assert len((await response.json())["sessions"]) == 2
        async with http.delete("/api/v1/me/sessions/others", headers=csrf_headers(http)) as r:
            assert (await r.json())["revoked"] == 1
        async with other.get("/api/v1/me") as response:
            assert response.status == 401
    async with http.get("/api/v1/me") as response:
        assert response.status == 200


async def test_sessions_list_shows_device_ip_and_times(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.get("/api/v1/me/sessions") as response:
        (session,) = (await response.json())["sessions"]
    assert session["current"] is True
    assert session["ip"] == "127.0.0.1"
    assert session["device_fingerprint"]
    assert session["created_at"] and session["last_seen_at"]


async def test_logout_ends_the_session(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.post("/api/v1/auth/logout", headers=csrf_headers(http)) as response:
        assert response.status == 200
    async with http.get("/api/v1/me") as response:
        assert response.status == 401


async def test_session_token_works_as_bearer_for_the_live_hub(hub, http):
    user = await make_user(hub)
    await ensure_csrf(http)
    async with http.post(
        "/api/v1/auth/login",
        json={"login": user.username, "password": user.password, "issue_token": True},
    ) as response:
        body = await response.json()
    viewer = await viewer_for_session_token(hub, body["session_token"])
    assert viewer is not None and viewer.user_id == user.id
    assert viewer.session_id == uuid.UUID(body["session_id"])
    assert await viewer_for_session_token(hub, "nonsense") is None
    async with http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {body['session_token']}"}
    ) as response:
        assert response.status == 200


async def test_banned_member_is_anonymous_and_told_why(hub, http, server):
    import aiohttp

    admin = await make_admin(hub)
    user = await make_user(hub)
    await login(http, user)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as staff:
        await login(staff, admin)
        async with staff.post(
            f"/api/v1/admin/users/{user.id}/ban",
            json={"reason": "cheating"},
            headers=csrf_headers(staff),
        ) as response:
            assert response.status == 200, await response.text()
    async with http.get("/api/v1/me") as response:
        assert response.status == 401
        assert (await response.json())["reason"] == "this account is banned"
    async with http.post(
        "/api/v1/auth/login",
        json={"login": user.username, "password": user.password},
        headers=csrf_headers(http),
    ) as response:
        body = await response.json()
    assert response.status == 403
    assert "banned" in body["error"]
    action = await db.fetch_val(
        hub.pool,
        "SELECT action FROM audit_logs WHERE target_id = $1 AND action = 'user.ban'",
        str(user.id),
    )
    assert action == "user.ban"
