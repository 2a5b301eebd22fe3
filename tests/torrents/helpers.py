"""Shared steps for torrent tests: upload through the API, act as a moderator."""

from __future__ import annotations

from typing import Any

import aiohttp

from hub import policy
from tests.factories import TestUser, csrf_headers, login


async def viewer_of(hub: Any, user: TestUser) -> policy.Viewer:
    """The Viewer the site would build for this member (for calling actions directly)."""
    async with hub.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT u.username::text AS username, g.id AS group_id, g.slug, g.level,
                      g.can_download, g.can_upload, g.can_upload_unmoderated, g.can_moderate,
                      g.can_administer, g.can_invite, g.can_chat, g.can_post_forums,
                      g.can_request
                 FROM users u JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1""",
            user.id,
        )
    rights = frozenset(r for r in policy.RIGHTS if row[f"can_{r}"])
    return policy.Viewer(
        user_id=user.id,
        username=row["username"],
        group_id=row["group_id"],
        group_slug=row["slug"],
        level=row["level"],
        rights=rights,
    )


async def category_id(hub: Any, slug: str = "other") -> int:
    async with hub.pool.acquire() as conn:
        value: int = await conn.fetchval("SELECT id FROM torrent_categories WHERE slug = $1", slug)
    return value


async def upload(
    http: aiohttp.ClientSession, data: bytes, cat: int | None, **fields: Any
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="x.torrent", content_type="application/x-bittorrent")
    if cat is not None:
        form.add_field("category_id", str(cat))
    for key, value in fields.items():
        form.add_field(key, str(value))
    async with http.post("/api/v1/torrents", data=form, headers=csrf_headers(http)) as r:
        return r.status, await r.json()


async def logged_in(server: Any, user: TestUser) -> aiohttp.ClientSession:
    """A second client with its own cookies (close it yourself)."""
    session = aiohttp.ClientSession(
        base_url=server.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    await login(session, user)
    return session
