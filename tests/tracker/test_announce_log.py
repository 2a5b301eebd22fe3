"""The announce log has no foreign keys (migration 0032): erasure and the flusher's key
locks keep it free of rows of deleted members and torrents."""

from __future__ import annotations

import time
import uuid
from typing import Any

from hub.tracker import flusher
from hub.tracker.accumulator import Batch
from tests.tracker.conftest import make_member, make_torrent, peer_id


def _rows(user_id: uuid.UUID, torrent_id: int, count: int) -> Batch:
    batch = Batch()
    now = time.time()
    batch.announces = [
        (user_id, torrent_id, peer_id(), None, 100 * i, 0, 0, 100, 0,
         "10.0.0.1" if i % 2 else "2001:db8::1", 51413, "qBittorrent/4.6.2", now)
        for i in range(count)
    ]
    return batch


async def _logged(conn: Any, column: str, value: Any) -> int:
    return int(await conn.fetchval(
        f"SELECT count(*) FROM announces WHERE {column} = $1", value))


async def test_erasing_a_member_or_a_torrent_erases_its_announce_log(hub: Any) -> None:
    member, other = await make_member(hub), await make_member(hub)
    torrent, kept = await make_torrent(hub), await make_torrent(hub)
    async with hub.pool.acquire() as conn:
        await flusher.write_log(conn, _rows(member.id, kept.id, 3), uuid.uuid4())
        await flusher.write_log(conn, _rows(other.id, torrent.id, 2), uuid.uuid4())
        assert await conn.fetchval(
            "SELECT host(ip) FROM announces WHERE user_id = $1 ORDER BY uploaded LIMIT 1",
            member.id) == "2001:db8::1"
        await conn.execute("DELETE FROM users WHERE id = $1", member.id)
        assert await _logged(conn, "user_id", member.id) == 0
        assert await _logged(conn, "user_id", other.id) == 2
        await conn.execute("DELETE FROM torrents WHERE id = $1", torrent.id)
        assert await _logged(conn, "torrent_id", torrent.id) == 0
        assert await _logged(conn, "torrent_id", kept.id) == 0  # only the erased member's


async def test_a_log_batch_leaves_out_rows_of_members_deleted_before_it_was_written(
    hub: Any
) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub)
    gone = uuid.uuid4()  # never existed, or hard-deleted since the announce
    batch = _rows(member.id, torrent.id, 2)
    batch.announces += _rows(gone, torrent.id, 3).announces
    async with hub.pool.acquire() as conn:
        await flusher.write_log(conn, batch, uuid.uuid4())
        assert await _logged(conn, "torrent_id", torrent.id) == 2
        assert await _logged(conn, "user_id", gone) == 0
