"""Resume from the event log: what a reconnecting socket missed, and trimming the log.

A client sends the last sequence it saw per stream. The server has already joined it to
the stream's room, so anything committed from now on reaches it live; this module reads
what was committed before, up to the stream's head at the time of reading. The client
drops what it already has by sequence, so the overlap between replay and live is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass
class Replay:
    """The answer for one stream: events to send in order, or a resync."""

    stream: str
    head: int  # the stream's last sequence when read; 0 for a stream with no events yet
    events: list[dict[str, Any]] = field(default_factory=list)
    resync: bool = False


async def stream_heads(conn: asyncpg.Connection, streams: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT stream, last_seq FROM event_streams WHERE stream = ANY($1::text[])", streams
    )
    heads = {stream: 0 for stream in streams}
    heads.update({r["stream"]: int(r["last_seq"]) for r in rows})
    return heads


async def replay(conn: asyncpg.Connection, stream: str, last_seq: int | None, head: int) -> Replay:
    """Events of `stream` after `last_seq` up to `head`, or a resync when they are gone.

    `last_seq` None means a fresh subscription: nothing to replay, the client starts at head.
    A client ahead of the head (the log was reset) or behind the oldest kept event cannot
    be patched up event by event: it is told to resync and reload that stream's state.
    """
    if last_seq is None or last_seq == head:
        return Replay(stream, head)
    if last_seq > head or last_seq < 0:
        return Replay(stream, head, resync=True)
    rows = await conn.fetch(
        """SELECT seq, kind, payload FROM events
            WHERE stream = $1 AND seq > $2 AND seq <= $3
            ORDER BY seq""",
        stream,
        last_seq,
        head,
    )
    if not rows or int(rows[0]["seq"]) != last_seq + 1:
        return Replay(stream, head, resync=True)
    events = [
        {"stream": stream, "seq": int(r["seq"]), "kind": r["kind"], "payload": r["payload"]}
        for r in rows
    ]
    return Replay(stream, head, events)


async def trim_event_log(pool: asyncpg.Pool, keep: int) -> int:
    """Keep the last `keep` events of every stream; returns how many rows went.

    The worker runs this periodically (settings.event_log_keep). A client further behind
    than `keep` events gets `resync` instead of a replay.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    async with pool.acquire() as conn:
        status: str = await conn.execute(
            """DELETE FROM events e
                USING event_streams s
                WHERE e.stream = s.stream AND e.seq <= s.last_seq - $1""",
            keep,
        )
    return int(status.rsplit(" ", 1)[-1])
