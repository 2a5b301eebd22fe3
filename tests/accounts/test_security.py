"""CSRF, rate limits on login and password reset, API tokens, the reset flow."""

from __future__ import annotations

import uuid

from hub import db
from hub.accounts import mailer, ratelimit
from tests.factories import api_token, bearer, csrf_headers, login, make_user


async def test_cookie_write_without_csrf_token_is_refused(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.post("/api/v1/me/passkey") as response:
        body = await response.json()
    assert response.status == 403
    assert body["field"] == "csrf_token"
    async with http.post("/api/v1/me/passkey", headers={"X-CSRF-Token": "forged"}) as response:
        assert response.status == 403
    async with http.post("/api/v1/me/passkey", headers=csrf_headers(http)) as response:
        assert response.status == 200


async def test_failed_logins_for_one_account_are_rate_limited(hub, http):
    user = await make_user(hub)
    statuses = []
    for i in range(ratelimit.LOGIN_PER_ACCOUNT.attempts + 1):
        # alternating name and address counts against the same account
        login_as = user.username if i % 2 else user.email
        async with http.post(
            "/api/v1/auth/login", json={"login": login_as, "password": "guess guess"}
        ) as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
            body = await response.json()
    assert statuses[:-1] == [401] * ratelimit.LOGIN_PER_ACCOUNT.attempts
    assert statuses[-1] == 429
    assert int(retry_after) > 60
    assert "Too many failed logins" in body["error"]
    # even the right password waits for the window
    async with http.post(
        "/api/v1/auth/login", json={"login": user.username, "password": user.password}
    ) as response:
        assert response.status == 429
    await ratelimit.clear(hub.redis, ratelimit.LOGIN_PER_ACCOUNT, str(user.id))
    # this test's failures count against 127.0.0.1 too; give them back to the others
    await ratelimit.clear(hub.redis, ratelimit.LOGIN_PER_IP, "127.0.0.1")


async def test_password_reset_by_link(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.post(
        "/api/v1/auth/password-reset", json={"email": user.email}, headers=csrf_headers(http)
    ) as response:
        assert response.status == 202
    (mail,) = await mailer.recent(hub, user.email)
    assert mail["link"].endswith(mail["token"])
    async with http.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": mail["token"], "password": "short"},
        headers=csrf_headers(http),
    ) as response:
        assert (await response.json())["field"] == "password"
    new_password = "a brand new password"
    async with http.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": mail["token"], "password": new_password},
        headers=csrf_headers(http),
    ) as response:
        assert response.status == 200, await response.text()
    # sessions opened with the old password are over
    async with http.get("/api/v1/me") as response:
        assert response.status == 401
    async with http.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": mail["token"], "password": "yet another password"},
    ) as response:
        assert (await response.json())["field"] == "token"  # single use
    user.password = new_password
    await login(http, user)


async def test_password_reset_for_unknown_address_looks_the_same(hub, http):
    address = f"nobody_{uuid.uuid4().hex[:8]}@example.test"
    async with http.post("/api/v1/auth/password-reset", json={"email": address}) as response:
        assert response.status == 202
    assert await mailer.recent(hub, address) == []


async def test_password_reset_requests_are_rate_limited(hub, http):
    user = await make_user(hub)
    statuses = []
    for _ in range(ratelimit.PASSWORD_RESET_PER_ACCOUNT.attempts + 1):
        async with http.post("/api/v1/auth/password-reset", json={"email": user.email}) as r:
            statuses.append(r.status)
    assert statuses[-1] == 429
    assert statuses[0] == 202


async def test_api_token_reaches_only_its_scopes_and_is_hashed(hub, http):
    user = await make_user(hub)
    token = await api_token(hub, user, ["account:read"])
    async with http.get("/api/v1/me", headers=bearer(token)) as response:
        assert response.status == 200
    async with http.get("/api/v1/me/tokens", headers=bearer(token)) as response:
        assert response.status == 403  # managing tokens needs a real session
    async with http.put(
        "/api/v1/me/privacy", json={"paranoia": 2}, headers=bearer(token)
    ) as response:
        assert response.status == 403  # account:write not granted
    stored = await db.fetch_val(
        hub.pool, "SELECT count(*) FROM api_tokens WHERE token_hash = $1", token.encode()
    )
    assert stored == 0
    last_used = await db.fetch_val(
        hub.pool, "SELECT last_used_at FROM api_tokens WHERE user_id = $1", user.id
    )
    assert last_used is not None


async def test_revoked_api_token_stops_working(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.post(
        "/api/v1/me/tokens",
        json={"name": "seedbox", "scopes": ["account:read"]},
        headers=csrf_headers(http),
    ) as response:
        created = await response.json()
        assert response.status == 201, created
    async with http.get("/api/v1/me/tokens") as response:
        listed = (await response.json())["tokens"]
    assert [t["name"] for t in listed] == ["seedbox"]
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    async with http.delete(
        f"/api/v1/me/tokens/{created['id']}", headers=csrf_headers(http)
    ) as response:
        assert response.status == 200
    async with http.get("/api/v1/me", headers=bearer(created["token"])) as response:
        assert response.status == 401


async def test_bad_scope_is_a_400_on_scopes(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.post(
        "/api/v1/me/tokens",
        json={"name": "x", "scopes": ["Not A Scope!"]},
        headers=csrf_headers(http),
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["field"] == "scopes"


async def test_openapi_documents_the_accounts_api(http):
    async with http.get("/openapi.json") as response:
        spec = await response.json()
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/login/2fa",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/me/privacy",
        "/api/v1/me/passkey",
    ):
        assert path in spec["paths"], path
    login_body = spec["paths"]["/api/v1/auth/login"]["post"]["requestBody"]
    assert login_body
