"""`hub seed-demo`: a few members, forums and a lively lobby, so a new visitor sees a site.

Idempotent: run it any number of times; what exists is left alone. The categories and chat
rooms come from the migrations (0008); forums have no seed there, so a few are added here.
Later areas extend `seed_demo` with their own data (torrents, requests, ...), each through
its own actions.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub import db
from hub.accounts import actions, auth, queries

if TYPE_CHECKING:
    from hub.app import Hub

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


def demo_password() -> str:
    return os.environ.get("HUB_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


async def seed_demo(hub: Hub) -> dict[str, list[str]]:
    """Create what is missing; returns the names of what was created this time."""
    created: dict[str, list[str]] = {"users": [], "forums": [], "chat": []}
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
        if await _say_in_lobby(hub, member.username, password, member.greeting):
            created["chat"].append(member.username)
    log.info("demo data: %s", created)
    return created


async def _say_in_lobby(hub: Hub, username: str, password: str, text: str) -> bool:
    """Post as the member through the chat action, with a session opened just for it."""
    from hub.community import chat

    result = await actions.login(hub, login=username, password=password, ip=None,
                                 user_agent="hub seed-demo")
    if result.session_token is None or result.session_id is None:
        return False  # 2FA on the account: not ours to bypass
    try:
        who = await auth.viewer_for_session_token(hub, result.session_token)
        if who is None or not who.has("chat"):
            return False
        try:
            await chat.send_message(hub, who, "lobby", text)
        except chat.ChatError as exc:
            log.warning("demo chat message from %s refused: %s", username, exc)
            return False
        return True
    finally:
        await actions.logout(hub, result.session_id)
