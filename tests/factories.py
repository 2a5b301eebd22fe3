"""Test data built through the same actions the app uses.

user = await make_user(hub)                 # a member with a random name
mod = await make_moderator(hub)
await login(http, user)                     # real login API; sets hub_session + hub_csrf
await http.post("/api/v1/...", headers={"X-CSRF-Token": csrf(http)}, json=...)
token = await api_token(hub, user, ["account:read"])  # for Authorization: Bearer
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp

from hub import db
from hub.accounts import actions

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class TestUser:
    __test__ = False  # not a pytest test class

    id: UUID
    username: str
    email: str
    password: str
    passkey: str


async def make_user(
    hub: Any,
    group: str = "member",
    *,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    invited_by: UUID | None = None,
) -> TestUser:
    name = username or f"u_{uuid.uuid4().hex[:12]}"
    email = f"{name}@example.test"
    async with db.transaction(hub.pool) as conn:
        user_id = await actions.create_user(
            conn,
            username=name,
            email=email,
            password=password,
            group_slug=group,
            invited_by=invited_by,
        )
        passkey = await conn.fetchval("SELECT passkey FROM users WHERE id = $1", user_id)
    return TestUser(user_id, name, email, password, passkey)


async def make_moderator(hub: Any) -> TestUser:
    return await make_user(hub, "moderator")


async def make_admin(hub: Any) -> TestUser:
    return await make_user(hub, "administrator")


async def login(http: aiohttp.ClientSession, user: TestUser) -> dict[str, Any]:
    """Log the client in through POST /api/v1/auth/login; fetch the CSRF cookie too."""
    await ensure_csrf(http)
    async with http.post(
        "/api/v1/auth/login",
        json={"login": user.username, "password": user.password},
        headers={"X-CSRF-Token": csrf(http)},
    ) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        assert body["status"] == "ok", body
    return body


async def ensure_csrf(http: aiohttp.ClientSession) -> str:
    if not csrf(http):
        async with http.get("/api/v1/auth/csrf") as response:
            assert response.status == 200
    return csrf(http)


def cookie(http: aiohttp.ClientSession, name: str) -> str:
    for morsel in http.cookie_jar:
        if morsel.key == name:
            return morsel.value
    return ""


def csrf(http: aiohttp.ClientSession) -> str:
    """The hub_csrf cookie's value, to send as X-CSRF-Token (or csrf_token in forms)."""
    return cookie(http, "hub_csrf")


def csrf_headers(http: aiohttp.ClientSession) -> dict[str, str]:
    return {"X-CSRF-Token": csrf(http)}


async def api_token(hub: Any, user: TestUser, scopes: list[str]) -> str:
    _token_id, token = await actions.create_api_token(
        hub, user.id, name=f"test {uuid.uuid4().hex[:6]}", scopes=scopes
    )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
