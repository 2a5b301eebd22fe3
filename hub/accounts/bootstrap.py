"""The first administrator, created on the first start of the web role.

Its password comes from HUB_ADMIN_PASSWORD or is generated, and is printed once to
stdout: there is no other way to learn a generated one.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING
from uuid import UUID

from hub import db
from hub.accounts import actions

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"
# Any constant works; it serialises two web processes starting at once.
BOOTSTRAP_LOCK_KEY = 0x6875625F61646D  # "hub_adm"


async def ensure_first_admin(hub: Hub) -> UUID | None:
    """Create `admin` if no account can administer; returns its id when created."""
    password = hub.settings.admin_password or secrets.token_urlsafe(12)
    async with db.transaction(hub.pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", BOOTSTRAP_LOCK_KEY)
        exists = await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM users u JOIN user_groups g ON g.id = u.group_id
                               WHERE g.can_administer AND NOT u.is_banned)"""
        )
        if exists:
            return None
        username = ADMIN_USERNAME
        if await conn.fetchval("SELECT 1 FROM users WHERE username = $1", username):
            username = f"{ADMIN_USERNAME}_{secrets.token_hex(3)}"  # the name was taken
        host = hub.settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        user_id = await actions.create_user(
            conn,
            username=username,
            email=f"{username}@{host or 'localhost'}",
            password=password,
            group_slug="sysop",
        )
    source = "from HUB_ADMIN_PASSWORD" if hub.settings.admin_password else "generated, shown once"
    print(
        f"\n  First administrator created: log in at {hub.settings.base_url}/login\n"
        f"    username: {username}\n    password: {password}   ({source})\n",
        flush=True,
    )
    log.info("created the first administrator %r", username)
    return user_id
