"""Outgoing mail without a mail server: log it and keep the last messages in Redis.

The site has no SMTP here; a reset link is written to the log (where the operator sees
it) and to a short Redis list that tests and the admin can read.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

OUTBOX = "hub:outbox"
KEEP = 200


async def send(hub: Hub, *, to: str, subject: str, body: str, data: dict[str, Any]) -> None:
    log.info("mail to %s: %s\n%s", to, subject, body)
    message = json.dumps({"to": to, "subject": subject, "body": body, **data})
    async with hub.redis.pipeline(transaction=True) as pipe:
        pipe.lpush(OUTBOX, message)
        pipe.ltrim(OUTBOX, 0, KEEP - 1)
        pipe.expire(OUTBOX, 24 * 3600)
        await pipe.execute()


async def recent(hub: Hub, to: str | None = None) -> list[dict[str, Any]]:
    items = [json.loads(m) for m in await hub.redis.lrange(OUTBOX, 0, KEEP - 1)]
    return [m for m in items if to is None or m["to"].lower() == to.lower()]
