"""What other parts of the site hear from accounts: kicks, tracker invalidation, last seen,
the first admin and the command-line user creation."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta

from hub import db
from hub.accounts import actions, auth, bootstrap
from hub.realtime import kick
from hub.tracker import invalidate
from tests.factories import csrf_headers, login, make_admin, make_user


@asynccontextmanager
async def listening(hub, channel: str):
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(channel)
    messages: list[dict] = []

    async def collect(seconds: float = 2.0) -> list[dict]:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if msg is not None:
                messages.append(json.loads(msg["data"]))
        return messages

    try:
        yield collect
    finally:
        await pubsub.unsubscribe(channel)
        await pubsub.aclose()


async def test_revoking_a_session_tells_the_live_hub_to_drop_its_sockets(hub):
    user = await make_user(hub)
    session_id, _token = await actions.start_session(hub, user.id, ip=None, user_agent="x")
    async with listening(hub, kick.CHANNEL) as collect:
        await actions.revoke_session(hub, user.id, session_id)
        messages = await collect(1.0)
    assert {"session_id": str(session_id), "reason": "session revoked"} in messages
    assert not await auth.session_is_active(hub, session_id)


async def test_ban_kicks_the_member_and_reloads_the_tracker(hub):
    admin = await make_admin(hub)
    _sid, token = await actions.start_session(hub, admin.id, ip=None, user_agent="x")
    admin_viewer = await auth.viewer_for_session_token(hub, token)
    user = await make_user(hub)
    async with listening(hub, kick.CHANNEL) as kicks, listening(hub, invalidate.CHANNEL) as inv:
        await actions.ban_user(hub, admin_viewer, user.id, reason="ratio cheat", ip="192.0.2.1")
        kicked = await kicks(1.0)
        invalidated = await inv(0.5)
    assert any(m.get("user_id") == str(user.id) for m in kicked)
    assert {"kind": "user", "id": str(user.id)} in invalidated


async def test_passkey_rotation_reloads_the_tracker(hub):
    user = await make_user(hub)
    async with listening(hub, invalidate.CHANNEL) as collect:
        await actions.rotate_passkey(hub, user.id, ip=None)
        messages = await collect(1.0)
    assert {"kind": "user", "id": str(user.id)} in messages


async def test_session_last_seen_moves_but_at_most_once_a_minute(hub, http):
    user = await make_user(hub)
    body = await login(http, user)
    sid = uuid.UUID(body["session_id"])
    async with db.transaction(hub.pool) as conn:
        await conn.execute(
            "UPDATE user_sessions SET last_seen_at = now() - interval '10 minutes' WHERE id = $1",
            sid,
        )
    async with http.get("/api/v1/me") as response:
        assert response.status == 200
    first = await db.fetch_val(
        hub.pool, "SELECT last_seen_at FROM user_sessions WHERE id = $1", sid
    )
    created = await db.fetch_val(hub.pool, "SELECT now()")
    assert created - first < timedelta(seconds=30)
    async with http.get("/api/v1/me") as response:
        assert response.status == 200
    second = await db.fetch_val(
        hub.pool, "SELECT last_seen_at FROM user_sessions WHERE id = $1", sid
    )
    assert second == first  # throttled: no write on every request


async def test_session_cookie_is_http_only_and_same_site(hub, http):
    user = await make_user(hub)
    await http.get("/api/v1/auth/csrf")
    async with http.post(
        "/api/v1/auth/login",
        json={"login": user.username, "password": user.password},
        headers=csrf_headers(http),
    ) as response:
        cookie = response.cookies["hub_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


async def test_first_admin_exists_after_start_and_is_not_made_twice(hub):
    count = await db.fetch_val(
        hub.pool,
        """SELECT count(*) FROM users u JOIN user_groups g ON g.id = u.group_id
            WHERE g.can_administer AND u.username::text LIKE 'admin%'""",
    )
    assert count >= 1
    assert await bootstrap.ensure_first_admin(hub) is None


async def test_command_line_creates_a_member_in_the_named_group(hub):
    name = f"cli_{uuid.uuid4().hex[:10]}"
    user_id = await actions.create_user_cli(
        hub, name, f"{name}@example.test", "a long password", "uploader"
    )
    slug = await db.fetch_val(
        hub.pool,
        "SELECT g.slug FROM users u JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1",
        user_id,
    )
    assert slug == "uploader"
