"""Tracker test helpers: members and torrents made on the real database, announces over
real HTTP (IPv4 through the session server, IPv6 through a second listener on ::1 that
serves the same tracker), and replies decoded with bencodepy."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import aiohttp
import bencodepy
import pytest_asyncio
from yarl import URL

from hub import db
from hub.tracker import invalidate


@dataclass
class Member:
    id: uuid.UUID
    username: str
    passkey: str


@dataclass
class Torrent:
    id: int
    info_hash: bytes
    size: int


async def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def make_member(hub: Any, group: str = "member", **columns: Any) -> Member:
    """A member inserted directly; tests/factories.make_user does this through accounts."""
    name = "t" + uuid.uuid4().hex[:12]
    passkey = secrets.token_hex(16)
    async with db.transaction(hub.pool) as conn:
        user_id = await conn.fetchval(
            """INSERT INTO users (username, email, password_hash, passkey, group_id)
               VALUES ($1, $2, 'x', $3, (SELECT id FROM user_groups WHERE slug = $4))
               RETURNING id""",
            name, f"{name}@example.test", passkey, group,
        )
        for column, value in columns.items():
            await conn.execute(f"UPDATE users SET {column} = $2 WHERE id = $1", user_id, value)
        invalidate.user_changed(hub.redis, user_id)
    caches = hub.tracker.tracker.caches
    await wait_for(lambda: passkey in caches.users_by_passkey)
    return Member(user_id, name, passkey)


async def update_member(hub: Any, member: Member, **columns: Any) -> None:
    async with db.transaction(hub.pool) as conn:
        for column, value in columns.items():
            await conn.execute(f"UPDATE users SET {column} = $2 WHERE id = $1", member.id, value)
        invalidate.user_changed(hub.redis, member.id)
    entry = hub.tracker.tracker.caches.users[member.id]
    if "is_banned" in columns:
        await wait_for(lambda: entry.refused == columns["is_banned"])
    else:
        await asyncio.sleep(0.3)


async def make_torrent(hub: Any, uploader: Member | None = None, status: str = "approved",
                       size: int = 1 << 30, v2: bool = False, **columns: Any) -> Torrent:
    """A torrent row inserted directly, for tests that need many or odd ones quickly."""
    info_hash = os.urandom(20)
    info_hash_v2 = hashlib.sha256(info_hash).digest() if v2 else None
    async with db.transaction(hub.pool) as conn:
        torrent_id = await conn.fetchval(
            """INSERT INTO torrents (info_hash, info_hash_v2, name, category_id, uploader_id,
                                     size, torrent_data, moderation_status)
               VALUES ($1, $2, $3, (SELECT min(id) FROM torrent_categories), $4, $5, 'd', $6)
               RETURNING id""",
            info_hash, info_hash_v2, "test " + info_hash.hex()[:8],
            uploader.id if uploader else None, size, status,
        )
        for column, value in columns.items():
            await conn.execute(f"UPDATE torrents SET {column} = $2 WHERE id = $1",
                               torrent_id, value)
        invalidate.torrent_changed(hub.redis, torrent_id)
    caches = hub.tracker.tracker.caches
    await wait_for(lambda: info_hash in caches.torrents_by_hash)
    return Torrent(torrent_id, info_hash, size)


async def update_torrent(hub: Any, torrent: Torrent, **columns: Any) -> None:
    async with db.transaction(hub.pool) as conn:
        for column, value in columns.items():
            await conn.execute(f"UPDATE torrents SET {column} = $2 WHERE id = $1",
                               torrent.id, value)
        invalidate.torrent_changed(hub.redis, torrent.id)
    entry = hub.tracker.tracker.caches.torrents[torrent.id]
    key, value = next(iter(columns.items()))
    attr = {"moderation_status": "status", "is_deleted": "deleted",
            "is_freeleech": "freeleech", "is_neutral_leech": "neutral",
            "is_double_upload": "double_upload"}.get(key)
    if attr:
        await wait_for(lambda: getattr(entry, attr) == value)
    else:
        await asyncio.sleep(0.3)


def peer_id(prefix: bytes = b"-qB4620-") -> bytes:
    return prefix + os.urandom(20 - len(prefix))


def query(**params: Any) -> str:
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        raw = value if isinstance(value, bytes) else str(value).encode()
        parts.append(f"{key}={quote_from_bytes(raw, safe='')}")
    return "&".join(parts)


@dataclass
class Reply:
    raw: bytes
    status: int

    @property
    def data(self) -> dict[bytes, Any]:
        decoded = bencodepy.decode(self.raw)
        assert isinstance(decoded, dict)
        return decoded

    @property
    def failure(self) -> str | None:
        value = self.data.get(b"failure reason")
        return value.decode() if value is not None else None

    @property
    def warning(self) -> str | None:
        value = self.data.get(b"warning message")
        return value.decode() if value is not None else None

    def peers(self) -> list[tuple[str, int]]:
        blob = self.data.get(b"peers", b"")
        return [(socket.inet_ntop(socket.AF_INET, blob[i:i + 4]),
                 int.from_bytes(blob[i + 4:i + 6], "big")) for i in range(0, len(blob), 6)]

    def peers6(self) -> list[tuple[str, int]]:
        blob = self.data.get(b"peers6", b"")
        return [(socket.inet_ntop(socket.AF_INET6, blob[i:i + 16]),
                 int.from_bytes(blob[i + 16:i + 18], "big")) for i in range(0, len(blob), 18)]

    def keys_sorted_and_canonical(self) -> bool:
        return bencodepy.encode(bencodepy.decode(self.raw)) == self.raw


class Client:
    """Announces like a torrent client: raw percent-encoded query, a client user agent."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def get(self, path: str, qs: str, headers: dict[str, str] | None = None) -> Reply:
        url = URL(f"{self.base_url}{path}?{qs}", encoded=True)
        hdrs = {"User-Agent": "qBittorrent/4.6.2"}
        hdrs.update(headers or {})
        async with self.session.get(url, headers=hdrs) as resp:
            return Reply(await resp.read(), resp.status)

    async def announce(self, member: Member, torrent: Torrent, pid: bytes, *,
                       uploaded: int = 0, downloaded: int = 0, left: int | None = None,
                       event: str | None = None, port: int = 51413,
                       headers: dict[str, str] | None = None, **extra: Any) -> Reply:
        qs = query(info_hash=extra.pop("info_hash", torrent.info_hash), peer_id=pid, port=port,
                   uploaded=uploaded, downloaded=downloaded,
                   left=torrent.size if left is None else left,
                   event=event, **{"compact": 1, **extra})
        return await self.get(f"/announce/{member.passkey}", qs, headers)

    async def scrape(self, member: Member, *hashes: bytes) -> Reply:
        qs = "&".join(f"info_hash={quote_from_bytes(h, safe='')}" for h in hashes)
        return await self.get(f"/scrape/{member.passkey}", qs)


@pytest_asyncio.fixture
async def client(server: Any) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, server.base_url)


@pytest_asyncio.fixture(scope="session")
async def server6(server: Any) -> AsyncIterator[str]:
    """The session's tracker also listening on [::1], for IPv6 and dual-stack tests."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    tracker = server.hub.tracker

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await tracker(scope, receive, send)

    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    config = Config()
    config.bind = [f"[::1]:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(200):
        try:
            _r, w = await asyncio.open_connection("::1", port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield f"http://[::1]:{port}"
    stop.set()
    await task


@pytest_asyncio.fixture
async def client6(server6: str) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, server6)


async def flush(hub: Any) -> None:
    await hub.tracker.flush()
