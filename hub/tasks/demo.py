"""`hub seed-demo`: members, forums, torrents and a lively lobby, so a new visitor sees a site.

Idempotent: run it any number of times; what exists is left alone. The categories and chat
rooms come from the migrations (0008); forums have no seed there, so a few are added here.
Everything a member does goes through the same actions as the web pages (uploads, reviews,
tags, chat), so the demo also fills the event streams, the moderation queue and the
notifications the way real use would. Torrents are keyed by info hash, tags and votes by the
rows they leave, chat messages by their text.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bencodepy

from hub import db
from hub.accounts import actions, auth, queries
from hub.accounts.errors import AccountError

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.policy import Viewer

log = logging.getLogger(__name__)

# Demo accounts only, documented in the README; HUB_DEMO_PASSWORD overrides it.
DEFAULT_DEMO_PASSWORD = "demo-password-123"  # noqa: S105


@dataclass(frozen=True)
class DemoMember:
    username: str
    group: str
    about: str
    uploaded_gib: int
    downloaded_gib: int
    greeting: str


MEMBERS = (
    DemoMember("alice", "power_user", "Seeds everything she downloads.", 310, 120,
               "Morning all! Just finished a 2-week seed of the lossless collection."),
    DemoMember("bob", "member", "New here, learning the ropes.", 4, 9,
               "Hi everyone, first day here. Where do I find the rules?"),
    DemoMember("carol", "uploader", "Uploads documentaries and audiobooks.", 1800, 95,
               "@bob the rules are linked in the forums; welcome aboard!"),
    DemoMember("dave", "moderator", "Staff. Ask me anything about the rules.", 520, 260,
               "Reminder: keep your ratio above 0.4 and seed what you snatch."),
    DemoMember("erin", "elite", "Music lover, mostly FLAC.", 760, 410,
               "Anyone else excited for the new season? Requests are open."),
)

FORUMS = (
    ("announcements", "Announcements", "News from the staff.", 0, 100),
    ("general", "General discussion", "Anything that does not fit elsewhere.", 0, 0),
    ("help", "Help and support", "Questions about the site, clients and ratio.", 0, 0),
    ("requests-talk", "Requests", "Talk about what you would like to see uploaded.", 0, 0),
    ("staff-room", "Staff room", "Staff only.", 100, 100),
)


@dataclass(frozen=True)
class DemoTorrent:
    """A small torrent whose files are deterministic bytes, so its info hash never changes."""

    key: str  # seeds the content; also names the torrent in tests
    uploader: str
    name: str
    category: str  # torrent_categories.slug
    files: tuple[tuple[str, int], ...]  # (path, size in bytes)
    description: str
    tags: tuple[str, ...]
    approve_as: str | None = None  # a moderator who approves it when it is pending


PIECE_LENGTH = 16 * 1024

TORRENTS = (
    DemoTorrent(
        "holmes", "carol", "Adventures of Sherlock Holmes (public domain audiobook)",
        "audiobooks",
        (("01 A Scandal in Bohemia.mp3", 70_000), ("02 The Red-Headed League.mp3", 64_000),
         ("cover.jpg", 9_000)),
        "Twelve stories read by volunteers. **Public domain** recordings, 64 kbps mono.",
        ("audiobook", "public.domain"),
    ),
    DemoTorrent(
        "reef", "carol", "Coral Reef Timelapse Sampler 1080p", "movies-hd",
        (("Reef.Timelapse.1080p.mkv", 120_000), ("Reef.Timelapse.nfo", 1_200)),
        "Four minutes of reef life, CC-BY. Includes the original NFO.",
        ("documentary", "nature"),
    ),
    DemoTorrent(
        "jazz", "carol", "Creative Commons Jazz Sessions Vol. 1 [FLAC]", "music-lossless",
        (("01 Blue Hour.flac", 48_000), ("02 Late Train.flac", 52_000),
         ("03 Night Walk.flac", 45_000), ("folder.jpg", 6_000)),
        "A live trio session released under CC-BY-SA.",
        ("jazz",),
    ),
    DemoTorrent(
        "notes", "bob", "Linux Install Notes (plain text)", "software",
        (("README.txt", 3_000), ("install-notes.txt", 21_000)),
        "My notes from installing a minimal system; hope they help someone.",
        ("linux", "guide"),
        approve_as="dave",
    ),
    DemoTorrent(
        "mixtape", "bob", "Bob's First Mixtape", "music-lossy",
        (("side-a.mp3", 40_000), ("side-b.mp3", 38_000)),
        "Home recordings. Waiting for review.",
        ("mixtape",),
    ),
    DemoTorrent(
        "concert", "alice", "Open Air Concert 2023 (soundboard)", "music-lossless",
        (("concert.flac", 90_000), ("setlist.txt", 800)),
        "Soundboard recording shared with the band's permission.",
        ("live",),
    ),
)

# Tags proposed and voted on after the uploads: (torrent key, member, tag, vote).
# Vote 1 on a tag not on the torrent proposes it; -1 votes an existing tag down.
TAG_VOTES = (
    ("jazz", "erin", "flac", 1),
    ("jazz", "alice", "flac", 1),
    ("reef", "erin", "4k.wanted", 1),
    ("reef", "bob", "4k.wanted", -1),
    ("holmes", "alice", "audiobook", 1),
)

# Said in the lobby once the torrents are up (keyed by text, so said once).
LOBBY_MENTION = ("dave", "@bob your Linux install notes are approved, thanks for sharing!")


def demo_password() -> str:
    return os.environ.get("HUB_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


async def seed_demo(hub: Hub) -> dict[str, list[str]]:
    """Create what is missing; returns the names of what was created this time."""
    created: dict[str, list[str]] = {
        "users": [], "forums": [], "chat": [], "torrents": [], "approved": [], "tags": [],
    }
    password = demo_password()
    new_members: list[DemoMember] = []
    for member in MEMBERS:
        async with db.transaction(hub.pool) as conn:
            if await queries.user_by_username(conn, member.username) is not None:
                continue
            user_id = await actions.create_user(
                conn,
                username=member.username,
                email=f"{member.username}@demo.invalid",
                password=password,
                group_slug=member.group,
            )
            # Demo-only history: a plausible transfer record until demo torrents exist.
            await conn.execute(
                """UPDATE user_statistics SET uploaded = $2, downloaded = $3 WHERE user_id = $1""",
                user_id,
                member.uploaded_gib * 1024**3,
                member.downloaded_gib * 1024**3,
            )
            await conn.execute("UPDATE users SET about = $2 WHERE id = $1", user_id, member.about)
        created["users"].append(member.username)
        new_members.append(member)

    async with db.transaction(hub.pool) as conn:
        for position, (slug, name, description, read_level, post_level) in enumerate(FORUMS):
            inserted = await conn.fetchval(
                """INSERT INTO forums (slug, name, description, position, min_read_level,
                                       min_post_level, min_topic_level, staff_only)
                   VALUES ($1, $2, $3, $4, $5, $6, $6, $5 >= 100)
                   ON CONFLICT (slug) DO NOTHING RETURNING id""",
                slug,
                name,
                description,
                position * 10,
                read_level,
                post_level,
            )
            if inserted is not None:
                created["forums"].append(slug)

    # Lobby greetings from members created just now, so a re-run adds nothing.
    for member in new_members:
        if await _say_in_lobby(hub, member.username, member.greeting):
            created["chat"].append(member.username)
    await _seed_torrents(hub, created)
    author, text = LOBBY_MENTION
    if not await _said_in_lobby(hub, author, text) and await _say_in_lobby(hub, author, text):
        created["chat"].append(author)
    log.info("demo data: %s", created)
    return created


@asynccontextmanager
async def _as_member(hub: Hub, username: str) -> AsyncIterator[Viewer | None]:
    """The member's Viewer through a real login, logged out afterwards; None if refused."""
    result: actions.LoginResult | None = None
    try:
        result = await actions.login(hub, login=username, password=demo_password(), ip=None,
                                     user_agent="hub seed-demo")
    except AccountError as exc:  # the password was changed, the account blocked, ...
        log.warning("demo login as %s refused: %s", username, exc)
    if result is None or result.session_token is None or result.session_id is None:
        yield None  # refused, or 2FA on the account: not ours to bypass
        return
    try:
        yield await auth.viewer_for_session_token(hub, result.session_token)
    finally:
        await actions.logout(hub, result.session_id)


async def _say_in_lobby(hub: Hub, username: str, text: str) -> bool:
    """Post as the member through the chat action."""
    from hub.community import chat

    async with _as_member(hub, username) as who:
        if who is None or not who.has("chat"):
            return False
        try:
            await chat.send_message(hub, who, "lobby", text)
        except chat.ChatError as exc:
            log.warning("demo chat message from %s refused: %s", username, exc)
            return False
        return True


async def _said_in_lobby(hub: Hub, username: str, text: str) -> bool:
    async with hub.pool.acquire() as conn:
        found = await conn.fetchval(
            """SELECT 1 FROM chat_messages m JOIN chat_rooms r ON r.id = m.room_id
                 JOIN users u ON u.id = m.user_id
                WHERE r.slug = 'lobby' AND u.username = $1::citext AND m.body = $2
                LIMIT 1""",
            username,
            text,
        )
    return found is not None


# --- torrents -----------------------------------------------------------------------------


def torrent_bytes(t: DemoTorrent) -> bytes:
    """A v1 multi-file .torrent of `t` with the real piece hashes of its deterministic files."""
    payload = b"".join(_file_content(t.key, path, size) for path, size in t.files)
    pieces = b"".join(
        hashlib.sha1(payload[i : i + PIECE_LENGTH]).digest()  # noqa: S324 - BitTorrent v1
        for i in range(0, len(payload), PIECE_LENGTH)
    )
    info = {
        b"name": t.name.encode(),
        b"piece length": PIECE_LENGTH,
        b"pieces": pieces,
        b"files": [{b"length": size, b"path": [path.encode()]} for path, size in t.files],
    }
    return bytes(bencodepy.encode({
        b"comment": b"hub demo data",
        b"created by": b"hub seed-demo",
        b"creation date": 1_700_000_000,
        b"info": info,
    }))


def _file_content(key: str, path: str, size: int) -> bytes:
    block = hashlib.sha256(f"{key}/{path}".encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def info_hash(hub: Hub, t: DemoTorrent) -> bytes:
    """The hash the site stores for `t`: the upload adds `private` and the site's source."""
    from hub.torrents import metainfo

    s = hub.settings
    return metainfo.parse(
        torrent_bytes(t), max_bytes=s.max_torrent_file_bytes, max_files=s.max_torrent_files,
        source=s.torrent_source,
    ).info_hash


async def _seed_torrents(hub: Hub, created: dict[str, list[str]]) -> None:
    from hub.torrents import actions as torrents
    from hub.torrents import queries as tq

    ids: dict[str, int] = {}
    for t in TORRENTS:
        digest = info_hash(hub, t)
        async with hub.pool.acquire() as conn:
            existing = await tq.select_torrent_id_by_hash(conn, digest, None)
            category_id = await conn.fetchval(
                "SELECT id FROM torrent_categories WHERE slug = $1", t.category
            )
        if existing is not None:
            ids[t.key] = existing
        else:
            async with _as_member(hub, t.uploader) as who:
                if who is None:
                    continue
                try:
                    ids[t.key] = await torrents.upload_torrent(
                        hub, who, torrent_bytes(t), description=t.description,
                        category_id=category_id, tags=t.tags,
                    )
                except torrents.TorrentError as exc:
                    log.warning("demo torrent %s refused: %s", t.key, exc.message)
                    continue
            created["torrents"].append(t.key)
        if t.approve_as is not None:
            async with hub.pool.acquire() as conn:
                row = await tq.select_torrent(conn, ids[t.key])
            if row is not None and row.moderation_status == "pending":
                async with _as_member(hub, t.approve_as) as moderator:
                    if moderator is not None and moderator.is_moderator:
                        await torrents.approve_torrent(hub, moderator, ids[t.key])
                        created["approved"].append(t.key)

    for key, username, tag, vote in TAG_VOTES:
        if key not in ids:
            continue
        async with hub.pool.acquire() as conn:
            user_id = await conn.fetchval(
                "SELECT id FROM users WHERE username = $1::citext", username
            )
            mine = {g.name: g.my_vote for g in await tq.select_tags(
                conn, ids[key], user_id, shown_only=False
            )}
        if mine.get(tag, 0) == vote:
            continue  # done on an earlier run
        async with _as_member(hub, username) as who:
            if who is None:
                continue
            try:
                if tag in mine:
                    await torrents.vote_tag(hub, who, ids[key], tag, vote)
                else:
                    await torrents.propose_tag(hub, who, ids[key], tag)
            except torrents.TorrentError as exc:
                log.warning("demo tag %s on %s refused: %s", tag, key, exc.message)
                continue
        created["tags"].append(f"{key}:{tag}:{username}")
