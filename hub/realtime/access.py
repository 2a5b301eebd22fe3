"""Who may join which stream: the policy module first, then per-kind rules (chat rooms).

Returns None to allow, or an error code the client sees in its subscribe acknowledgement.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hub import policy

if TYPE_CHECKING:
    from hub.app import Hub

StreamCheck = Callable[[policy.Viewer, str], Awaitable[str | None]]

# Streams are short ASCII names: kind, colon, identifier (`chat:lobby`, `user:<uuid>`).
STREAM_RE = re.compile(r"^[a-z]+(:[A-Za-z0-9_.-]{1,100})?$")
# Rooms that carry only ephemeral emits (no log, no sequence): joined without replay.
EPHEMERAL_ROOMS = frozenset({"browse"})


def valid_stream(stream: object) -> bool:
    return isinstance(stream, str) and len(stream) <= 200 and bool(STREAM_RE.match(stream))


async def check_join(
    hub: Hub, checks: dict[str, StreamCheck], viewer: policy.Viewer, stream: str
) -> str | None:
    if not valid_stream(stream):
        return "invalid"
    if stream in EPHEMERAL_ROOMS:
        return None if viewer.is_authenticated else "forbidden"
    if not policy.can_join_stream(viewer, stream):
        return "forbidden"
    kind = stream.partition(":")[0]
    extra = checks.get(kind)
    if extra is not None:
        return await extra(viewer, stream)
    return None


def chat_room_check(hub: Hub) -> StreamCheck:
    """`chat:<slug>`: the room exists and is active, staff rooms for staff, minimum level."""

    async def check(viewer: policy.Viewer, stream: str) -> str | None:
        slug = stream.partition(":")[2]
        async with hub.pool.acquire() as conn:
            room = await conn.fetchrow(
                "SELECT min_group_level, staff_only, is_active FROM chat_rooms WHERE slug = $1",
                slug,
            )
        if room is None or not room["is_active"]:
            return "not_found"
        if room["staff_only"] and not viewer.is_moderator:
            return "forbidden"
        if viewer.level < room["min_group_level"] and not viewer.is_moderator:
            return "forbidden"
        return None

    return check


ERROR_MESSAGES = {
    "invalid": "That is not a stream name.",
    "forbidden": "You may not follow this stream.",
    "not_found": "There is no such stream.",
    "too_many": "Too many streams on one connection.",
}
