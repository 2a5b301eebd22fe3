"""The live event log: durable events with a per-stream sequence, emitted after commit.

`append()` runs inside the action's transaction, so the event row and the change commit
together; the Socket.IO emit is queued with `db.after_commit`, so nothing reaches a socket
for a change that rolled back. Clients resume from the log by sequence (docs/realtime.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import asyncpg

from hub import db

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

_hub: Hub | None = None
# What `publish` emits through: the web process's Socket.IO server, or a write-only Redis
# manager in processes without the web role (set by hub.realtime.server.start).
_emitter: Any = None


def configure(hub: Hub) -> None:
    global _hub
    _hub = hub


async def shutdown(hub: Hub) -> None:
    global _hub
    if _hub is hub:
        _hub = None


def set_emitter(emitter: Any) -> None:
    global _emitter
    _emitter = emitter


def current_emitter() -> Any:
    return _emitter


async def append(conn: asyncpg.Connection, stream: str, kind: str, payload: dict[str, Any]) -> int:
    """Record an event on `stream` in the caller's transaction; returns its sequence."""
    seq: int = await conn.fetchval(
        """INSERT INTO event_streams (stream, last_seq) VALUES ($1, 1)
           ON CONFLICT (stream) DO UPDATE SET last_seq = event_streams.last_seq + 1
           RETURNING last_seq""",
        stream,
    )
    await conn.execute(
        "INSERT INTO events (stream, seq, kind, payload) VALUES ($1, $2, $3, $4)",
        stream,
        seq,
        kind,
        payload,
    )
    message = {"stream": stream, "seq": seq, "kind": kind, "payload": payload}

    async def emit() -> None:
        await publish(stream, "event", message)

    db.after_commit(emit)
    return seq


async def publish(room: str, event: str, data: Any) -> None:
    """Emit to a Socket.IO room in every web process (through the Redis manager)."""
    emitter = _emitter if _emitter is not None else getattr(_hub, "sio", None)
    if emitter is None:
        return
    try:
        await emitter.emit(event, data, room=room)
    except Exception:
        # The log still holds durable events: clients catch up on reconnect.
        log.exception("emit to %s failed", room)
