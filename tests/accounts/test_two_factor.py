"""TOTP enrolment, login with the second factor, backup codes, disabling, admin reset."""

from __future__ import annotations

import time

import pyotp

from hub import db
from hub.accounts import actions, ratelimit
from tests.factories import csrf_headers, ensure_csrf, login, make_admin, make_user


async def enable_2fa(http) -> tuple[str, list[str]]:
    async with http.post("/api/v1/me/2fa/enrol", headers=csrf_headers(http)) as response:
        enrolment = await response.json()
        assert response.status == 200, enrolment
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    assert enrolment["qr_svg"].startswith("<svg")
    code = pyotp.TOTP(enrolment["secret"]).now()
    async with http.post(
        "/api/v1/me/2fa/confirm", json={"code": code}, headers=csrf_headers(http)
    ) as response:
        body = await response.json()
        assert response.status == 200, body
    assert len(body["backup_codes"]) == 10
    return enrolment["secret"], body["backup_codes"]


def next_code(secret: str) -> str:
    """A code for the next time step, so it is not a replay of the enrolment's code."""
    return pyotp.TOTP(secret).at(time.time() + 30)


async def password_step(http, user) -> dict:
    await ensure_csrf(http)
    async with http.post(
        "/api/v1/auth/login",
        json={"login": user.username, "password": user.password},
        headers=csrf_headers(http),
    ) as response:
        body = await response.json()
        assert response.status == 200, body
    return body


async def test_login_asks_for_the_code_only_after_the_password(hub, http, server):
    import aiohttp

    user = await make_user(hub)
    await login(http, user)
    secret, _codes = await enable_2fa(http)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as fresh:
        async with fresh.post(
            "/api/v1/auth/login", json={"login": user.username, "password": "wrong password!"}
        ) as response:
            assert response.status == 401
        body = await password_step(fresh, user)
        assert body["status"] == "2fa_required"
        async with fresh.get("/api/v1/me") as response:
            assert response.status == 401  # no session before the second step
        async with fresh.post(
            "/api/v1/auth/login/2fa",
            json={"pending_token": body["pending_token"], "code": next_code(secret)},
        ) as response:
            assert response.status == 200, await response.text()
        async with fresh.get("/api/v1/me") as response:
            assert (await response.json())["two_factor"] is True


async def test_wrong_codes_are_refused_then_rate_limited(hub, http):
    user = await make_user(hub)
    await login(http, user)
    await enable_2fa(http)
    body = await password_step(http, user)
    statuses = []
    for _ in range(ratelimit.TWO_FACTOR.attempts + 1):
        async with http.post(
            "/api/v1/auth/login/2fa",
            json={"pending_token": body["pending_token"], "code": "000000"},
            headers=csrf_headers(http),
        ) as response:
            statuses.append(response.status)
            last = await response.json()
            retry_after = response.headers.get("Retry-After")
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert int(retry_after) > 0
    assert "Too many" in last["error"]


async def test_backup_code_works_once(hub, http, server):
    import aiohttp

    user = await make_user(hub)
    await login(http, user)
    _secret, codes = await enable_2fa(http)
    results = []
    for _ in range(2):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as fresh:
            body = await password_step(fresh, user)
            async with fresh.post(
                "/api/v1/auth/login/2fa",
                json={"pending_token": body["pending_token"], "code": codes[0].upper()},
            ) as response:
                results.append(response.status)
    assert results == [200, 401]
    assert await actions.backup_codes_left(hub, user.id) == 9


async def test_totp_secret_and_backup_codes_are_not_stored_in_plaintext(hub, http):
    user = await make_user(hub)
    await login(http, user)
    secret, codes = await enable_2fa(http)
    row = await db.fetch_val(
        hub.pool, "SELECT row_to_json(t)::text FROM user_2fa t WHERE user_id = $1", user.id
    )
    raw = await db.fetch_val(
        hub.pool, "SELECT secret_encrypted FROM user_2fa WHERE user_id = $1", user.id
    )
    assert secret not in row and secret.encode() not in raw
    assert all(code not in row for code in codes)
    assert row.count("$argon2id$") == 10


async def test_a_totp_code_cannot_be_replayed(hub, http, server):
    import aiohttp

    user = await make_user(hub)
    await login(http, user)
    secret, _ = await enable_2fa(http)
    code = next_code(secret)
    statuses = []
    for _ in range(2):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as fresh:
            body = await password_step(fresh, user)
            async with fresh.post(
                "/api/v1/auth/login/2fa",
                json={"pending_token": body["pending_token"], "code": code},
            ) as response:
                statuses.append(response.status)
    assert statuses == [200, 401]


async def test_disabling_needs_password_and_code(hub, http):
    user = await make_user(hub)
    await login(http, user)
    secret, codes = await enable_2fa(http)
    async with http.post(
        "/api/v1/me/2fa/disable",
        json={"password": "wrong password", "code": next_code(secret)},
        headers=csrf_headers(http),
    ) as response:
        assert response.status == 400
        assert (await response.json())["field"] == "password"
    async with http.post(
        "/api/v1/me/2fa/disable",
        json={"password": user.password, "code": "123456"},
        headers=csrf_headers(http),
    ) as response:
        assert (await response.json())["field"] == "code"
    async with http.post(
        "/api/v1/me/2fa/disable",
        json={"password": user.password, "code": codes[3]},
        headers=csrf_headers(http),
    ) as response:
        assert response.status == 200, await response.text()
    assert not await actions.has_totp(hub, user.id)


async def test_admin_2fa_reset_is_audited(hub, http, server):
    import aiohttp

    user = await make_user(hub)
    await login(http, user)
    await enable_2fa(http)
    admin = await make_admin(hub)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as staff:
        await login(staff, admin)
        async with staff.post(
            f"/api/v1/admin/users/{user.id}/2fa-reset", headers=csrf_headers(staff)
        ) as response:
            assert response.status == 200, await response.text()
    assert not await actions.has_totp(hub, user.id)
    actor = await db.fetch_val(
        hub.pool,
        "SELECT user_id FROM audit_logs WHERE action = '2fa.reset' AND target_id = $1",
        str(user.id),
    )
    assert actor == admin.id
