"""Registration, open or by invite, the invite tree, and bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid

from hub import db
from hub.accounts import actions, ratelimit
from tests.factories import csrf_headers, login, make_user


@contextlib.contextmanager
def registration_mode(hub, mode: str):
    before = hub.settings
    hub.settings = dataclasses.replace(before, registration=mode)
    try:
        yield
    finally:
        hub.settings = before


def new_name() -> str:
    return f"r_{uuid.uuid4().hex[:12]}"


async def test_open_registration_creates_a_signed_in_member(hub, http):
    name = new_name()
    async with http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.test", "password": "a long password"},
    ) as response:
        body = await response.json()
    assert response.status == 201, body
    async with http.get("/api/v1/me") as response:
        me = await response.json()
    assert me["username"] == name
    assert me["group"] == "member"
    assert len(me["passkey"]) == 32 and int(me["passkey"], 16) >= 0
    async with hub.pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM user_statistics WHERE user_id = $1", me["id"]
        )
        assert await conn.fetchval("SELECT count(*) FROM user_privacy WHERE user_id = $1", me["id"])
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", me["id"])
    assert stored.startswith("$argon2id$")


async def test_bad_body_gets_400_naming_the_field(http):
    async with http.post(
        "/api/v1/auth/register", json={"username": "abc", "email": "x@example.test"}
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["field"] == "password"
    async with http.post(
        "/api/v1/auth/register",
        json={"username": "a", "email": "x@example.test", "password": "long enough"},
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["field"] == "username"
    async with http.post(
        "/api/v1/auth/register",
        json={"username": new_name(), "email": "not-an-address", "password": "long enough"},
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["field"] == "email"


async def test_taken_username_is_a_409_on_username(hub, http):
    user = await make_user(hub)
    async with http.post(
        "/api/v1/auth/register",
        json={
            "username": user.username.upper(),
            "email": f"{new_name()}@example.test",
            "password": "a long password",
        },
    ) as response:
        body = await response.json()
    assert response.status == 409
    assert body["field"] == "username"


async def test_invite_only_registration_needs_a_valid_code(hub, http):
    with registration_mode(hub, "invite"):
        name = new_name()
        async with http.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.test", "password": "a long password"},
        ) as response:
            body = await response.json()
        assert response.status == 400
        assert body["field"] == "invite_code"
        async with http.post(
            "/api/v1/auth/register",
            json={
                "username": name,
                "email": f"{name}@example.test",
                "password": "a long password",
                "invite_code": "no-such-code-here",
            },
        ) as response:
            assert (await response.json())["field"] == "invite_code"


async def test_invited_member_hangs_in_the_inviters_tree(hub, http):
    inviter = await make_user(hub, "power_user")
    await login(http, inviter)
    async with http.post("/api/v1/invites", json={"days": 3}, headers=csrf_headers(http)) as r:
        invite = await r.json()
        assert r.status == 201, invite
    with registration_mode(hub, "invite"):
        name = new_name()
        user_id = await actions.register(
            hub,
            username=name,
            email=f"{name}@example.test",
            password="a long password",
            invite_code=invite["code"],
            ip="192.0.2.10",
        )
        # the same code twice: refused
        try:
            await actions.register(
                hub,
                username=new_name(),
                email=f"{new_name()}@example.test",
                password="a long password",
                invite_code=invite["code"],
                ip="192.0.2.10",
            )
        except actions.AccountError as exc:
            assert exc.field == "invite_code"
            assert "used" in exc.message
        else:
            raise AssertionError("a used invite was accepted")
    invited_by = await db.fetch_val(hub.pool, "SELECT invited_by FROM users WHERE id = $1", user_id)
    assert invited_by == inviter.id
    async with http.get("/api/v1/invites") as response:
        body = await response.json()
    assert [t["username"] for t in body["tree"]] == [name]
    assert body["invites"][0]["used_by_username"] == name


async def test_expired_and_revoked_invites_are_refused(hub, http):
    inviter = await make_user(hub, "power_user")
    await login(http, inviter)
    async with http.post("/api/v1/invites", json={}, headers=csrf_headers(http)) as r:
        revoked = await r.json()
    async with http.delete(f"/api/v1/invites/{revoked['id']}", headers=csrf_headers(http)) as r:
        assert r.status == 200
    async with http.post("/api/v1/invites", json={}, headers=csrf_headers(http)) as r:
        expired = await r.json()
    async with db.transaction(hub.pool) as conn:
        await conn.execute(
            "UPDATE invites SET expires_at = now() - interval '1 minute' WHERE id = $1",
            uuid.UUID(expired["id"]),
        )
    for code, reason in ((revoked["code"], "not a valid"), (expired["code"], "expired")):
        name = new_name()
        try:
            await actions.register(
                hub,
                username=name,
                email=f"{name}@example.test",
                password="a long password",
                invite_code=code,
                ip="192.0.2.11",
            )
        except actions.AccountError as exc:
            assert reason in exc.message
        else:
            raise AssertionError("a dead invite was accepted")


async def test_member_without_the_invite_right_cannot_invite(hub, http):
    user = await make_user(hub)  # plain members have no invite right in the seed
    await login(http, user)
    async with http.post("/api/v1/invites", json={}, headers=csrf_headers(http)) as response:
        assert response.status == 403


async def test_registration_is_rate_limited_per_address(hub):
    subject = "198.51.100.7"
    key = ratelimit.key(ratelimit.REGISTRATION_PER_IP, subject)
    await hub.redis.set(key, ratelimit.REGISTRATION_PER_IP.attempts, ex=60)
    try:
        name = new_name()
        await actions.register(
            hub,
            username=name,
            email=f"{name}@example.test",
            password="a long password",
            ip=subject,
        )
    except actions.RateLimited as exc:
        assert 0 < exc.retry_after <= 60
    else:
        raise AssertionError("registration was not limited")
    finally:
        await hub.redis.delete(key)
