"""Write an accumulated batch to Postgres in one transaction.

Each table gets one set-based statement (`INSERT ... SELECT FROM unnest(...) ON CONFLICT ...
DO UPDATE`), the announce log goes in by COPY (append-only, the cheapest path Postgres has),
and the batch id goes into `tracker_flushes` in the same transaction so a commit whose
acknowledgement was lost is recognised instead of retried (see migration 0030).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from hub.tracker.accumulator import Batch

log = logging.getLogger(__name__)

_UTC = dt.UTC


@dataclass
class FlushResult:
    rows: int = 0
    # torrent id -> times_completed after the flush (exact, from Postgres)
    completed: dict[int, int] = field(default_factory=dict)


@dataclass
class UserCounts:
    seeding: int
    leeching: int


@dataclass
class TorrentCounts:
    seeders: int
    leechers: int


# Sort keys built once per row from UUID.bytes: comparing UUID objects runs Python code per
# comparison, which made sorting 100,000 deltas cost most of a second.
def _uuid_order(u: UUID) -> bytes:
    return u.bytes


def _pair_order(k: tuple[UUID, int]) -> tuple[int, bytes]:
    return (k[1], k[0].bytes)


def _delta_order(kv: tuple[Any, Any]) -> tuple[int, bytes, bytes]:
    return (kv[0][1], kv[0][0].bytes, kv[0][2])


def _count(status: str) -> int:
    """Rows a statement touched, from its command tag ("UPDATE 42")."""
    return int(status.rsplit(" ", 1)[-1])


def _ts(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, _UTC)


async def write_credits(
    conn: asyncpg.Connection,
    batch: Batch,
    batch_id: UUID,
    user_counts: Callable[[UUID], UserCounts],
    torrent_counts: Callable[[int], TorrentCounts],
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> FlushResult:
    """Peers, snatches, history and statistics of a batch: one transaction, all or nothing."""
    result = FlushResult(rows=len(batch.deltas))
    # One lock order for every tracker process: two flushers never wait on each other in a
    # cycle.
    deltas = sorted(batch.deltas.items(), key=_delta_order)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tracker_flushes (id, rows) VALUES ($1, $2)", batch_id, len(deltas)
        )
        if deltas:
            await _write_peers(conn, deltas)
            snatched = await _write_snatches(conn, deltas)
            await _write_history(conn, deltas)
            await _write_users(conn, deltas, snatched, user_counts)
            result.completed = await _write_torrents(conn, deltas, snatched, torrent_counts)
        if before_commit is not None:
            await before_commit()
    return result


async def write_log(conn: asyncpg.Connection, batch: Batch, batch_id: UUID) -> None:
    """The raw announce log, by COPY, in its own transaction.

    Nothing is credited from it, so it need not share the credit transaction; written on a
    second connection at the same time, it costs the flush no extra wall time.
    """
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tracker_flushes (id, rows) VALUES ($1, $2)", batch_id,
            len(batch.announces),
        )
        await conn.copy_records_to_table(
            "announces",
            columns=["user_id", "torrent_id", "peer_id", "event", "uploaded", "downloaded",
                     "left_bytes", "uploaded_delta", "downloaded_delta", "ip", "port",
                     "user_agent", "created_at"],
            records=[(*row[:12], _ts(row[12])) for row in batch.announces],
        )


async def write_batch(
    conn: asyncpg.Connection,
    batch: Batch,
    batch_id: UUID,
    user_counts: Callable[[UUID], UserCounts],
    torrent_counts: Callable[[int], TorrentCounts],
) -> FlushResult:
    """Credits then log on one connection (tools and tests; the service uses two)."""
    result = await write_credits(conn, batch, batch_id, user_counts, torrent_counts)
    if batch.announces:
        await write_log(conn, batch, uuid.uuid4())
    return result


async def _write_peers(conn: asyncpg.Connection, deltas: list[tuple[Any, Any]]) -> None:
    gone = [(k, d) for k, d in deltas if d.removed]
    live = [(k, d) for k, d in deltas if not d.removed]
    if gone:
        await conn.execute(
            """DELETE FROM peers p
                USING unnest($1::uuid[], $2::bigint[], $3::bytea[]) AS d(u, t, pid)
                WHERE p.user_id = d.u AND p.torrent_id = d.t AND p.peer_id = d.pid""",
            [k[0] for k, _ in gone], [k[1] for k, _ in gone], [k[2] for k, _ in gone],
        )
    if not live:
        return
    # Rows go in by binary COPY into a session temp table, then one UPDATE and one INSERT
    # read it. Passing 100,000-element arrays as parameters instead spent over a second in
    # asyncpg's per-element container checks (abc isinstance calls) before Postgres saw them.
    await conn.execute(_PEER_BATCH)
    await conn.copy_records_to_table(
        "tracker_peer_batch",
        records=[(k[1], k[0], k[2], d.ip4, d.ip6, d.port, d.uploaded, d.downloaded, d.left,
                  d.seeder, d.agent[:256] if d.agent else None, float(d.last_at))
                 for k, d in live],
    )
    # Most peers already have a row: a plain UPDATE is cheaper than INSERT ... ON CONFLICT
    # (no speculative index insertion), and without an index on the changed columns it is a
    # HOT update (migration 0031). Rows it did not find are inserted next.
    status = await conn.execute(
        """UPDATE peers p SET
               ip = coalesce(d.ip, p.ip), ipv6 = coalesce(d.ip6, p.ipv6),
               port = d.port, uploaded = d.up, downloaded = d.down, left_bytes = d.lft,
               is_seeder = d.seeder, user_agent = d.ua, last_announce_at = to_timestamp(d.at)
             FROM tracker_peer_batch d
            WHERE p.torrent_id = d.t AND p.user_id = d.u AND p.peer_id = d.pid"""
    )
    if _count(status) == len(live):
        return  # every row existed: skip the anti-join
    await conn.execute(
        """INSERT INTO peers (torrent_id, user_id, peer_id, ip, ipv6, port, uploaded,
                              downloaded, left_bytes, is_seeder, user_agent,
                              last_announce_at)
           SELECT t, u, pid, ip, ip6, port, up, down, lft, seeder, ua, to_timestamp(at)
             FROM tracker_peer_batch d
            WHERE NOT EXISTS (SELECT 1 FROM peers p
                               WHERE p.torrent_id = d.t AND p.user_id = d.u
                                 AND p.peer_id = d.pid)
           ON CONFLICT (torrent_id, user_id, peer_id) DO UPDATE SET
               ip = coalesce(EXCLUDED.ip, peers.ip),
               ipv6 = coalesce(EXCLUDED.ipv6, peers.ipv6),
               port = EXCLUDED.port,
               uploaded = EXCLUDED.uploaded,
               downloaded = EXCLUDED.downloaded,
               left_bytes = EXCLUDED.left_bytes,
               is_seeder = EXCLUDED.is_seeder,
               user_agent = EXCLUDED.user_agent,
               last_announce_at = EXCLUDED.last_announce_at"""
    )


_PEER_BATCH = """
    CREATE TEMP TABLE IF NOT EXISTS tracker_peer_batch (
        t bigint, u uuid, pid bytea, ip inet, ip6 inet, port int, up bigint, down bigint,
        lft bigint, seeder bool, ua text, at float8
    ) ON COMMIT DELETE ROWS"""

_HISTORY_BATCH = """
    CREATE TEMP TABLE IF NOT EXISTS tracker_history_batch (
        u uuid, t bigint, up bigint, down bigint, cup bigint, cdown bigint, st bigint,
        lt bigint, active bool, seeder bool, at float8, done float8
    ) ON COMMIT DELETE ROWS"""


async def _write_snatches(
    conn: asyncpg.Connection, deltas: list[tuple[Any, Any]]
) -> set[tuple[UUID, int]]:
    done: dict[tuple[UUID, int], tuple[float, str | None]] = {}
    for (user_id, torrent_id, _pid), d in deltas:
        if d.completed_at is not None and (user_id, torrent_id) not in done:
            done[(user_id, torrent_id)] = (d.completed_at, d.ip4 or d.ip6)
    if not done:
        return set()
    keys = sorted(done, key=_pair_order)
    rows = await conn.fetch(
        """INSERT INTO snatches (user_id, torrent_id, completed_at, ip)
           SELECT u, t, to_timestamp(at), ip::inet
             FROM unnest($1::uuid[], $2::bigint[], $3::float8[], $4::text[]) AS d(u, t, at, ip)
           ON CONFLICT (user_id, torrent_id) DO NOTHING
           RETURNING user_id, torrent_id""",
        [k[0] for k in keys], [k[1] for k in keys],
        [done[k][0] for k in keys], [done[k][1] for k in keys],
    )
    return {(r["user_id"], r["torrent_id"]) for r in rows}


async def _write_history(conn: asyncpg.Connection, deltas: list[tuple[Any, Any]]) -> None:
    # One row per (user, torrent): a member's several clients add up.
    agg: dict[tuple[UUID, int], list[Any]] = {}
    for (user_id, torrent_id, _pid), d in deltas:
        row = agg.get((user_id, torrent_id))
        if row is None:
            agg[(user_id, torrent_id)] = [d.up, d.down, d.cred_up, d.cred_down, d.seed_time,
                                          d.leech_time, not d.removed, d.seeder and not d.removed,
                                          d.last_at, d.completed_at]
        else:
            row[0] += d.up
            row[1] += d.down
            row[2] += d.cred_up
            row[3] += d.cred_down
            row[4] += d.seed_time
            row[5] += d.leech_time
            row[6] = row[6] or not d.removed
            row[7] = row[7] or (d.seeder and not d.removed)
            row[8] = max(row[8], d.last_at)
            row[9] = row[9] or d.completed_at
    keys = sorted(agg, key=_pair_order)
    await conn.execute(_HISTORY_BATCH)
    await conn.copy_records_to_table(
        "tracker_history_batch",
        records=[(k[0], k[1], *agg[k][:8], float(agg[k][8]),
                  float(agg[k][9]) if agg[k][9] is not None else None) for k in keys],
    )
    status = await conn.execute(
        """UPDATE torrent_history h SET
               uploaded = h.uploaded + d.up,
               downloaded = h.downloaded + d.down,
               credited_uploaded = h.credited_uploaded + d.cup,
               credited_downloaded = h.credited_downloaded + d.cdown,
               seed_time_seconds = h.seed_time_seconds + d.st,
               leech_time_seconds = h.leech_time_seconds + d.lt,
               is_active = d.active,
               is_seeder = d.seeder,
               last_announce_at = greatest(h.last_announce_at, to_timestamp(d.at)),
               completed_at = coalesce(h.completed_at, to_timestamp(d.done))
             FROM tracker_history_batch d
            WHERE h.user_id = d.u AND h.torrent_id = d.t"""
    )
    if _count(status) == len(keys):
        return
    await conn.execute(
        """INSERT INTO torrent_history (user_id, torrent_id, uploaded, downloaded,
                                        credited_uploaded, credited_downloaded,
                                        seed_time_seconds, leech_time_seconds, is_active,
                                        is_seeder, first_announce_at, last_announce_at,
                                        completed_at)
           SELECT u, t, up, down, cup, cdown, st, lt, active, seeder, to_timestamp(at),
                  to_timestamp(at), to_timestamp(done)
             FROM tracker_history_batch d
            WHERE NOT EXISTS (SELECT 1 FROM torrent_history h
                               WHERE h.user_id = d.u AND h.torrent_id = d.t)
           ON CONFLICT (user_id, torrent_id) DO UPDATE SET
               uploaded = torrent_history.uploaded + EXCLUDED.uploaded,
               downloaded = torrent_history.downloaded + EXCLUDED.downloaded,
               credited_uploaded = torrent_history.credited_uploaded + EXCLUDED.credited_uploaded,
               credited_downloaded = torrent_history.credited_downloaded
                                     + EXCLUDED.credited_downloaded,
               seed_time_seconds = torrent_history.seed_time_seconds + EXCLUDED.seed_time_seconds,
               leech_time_seconds = torrent_history.leech_time_seconds
                                    + EXCLUDED.leech_time_seconds,
               is_active = EXCLUDED.is_active,
               is_seeder = EXCLUDED.is_seeder,
               last_announce_at = greatest(torrent_history.last_announce_at,
                                           EXCLUDED.last_announce_at),
               completed_at = coalesce(torrent_history.completed_at, EXCLUDED.completed_at)"""
    )


async def _write_users(
    conn: asyncpg.Connection,
    deltas: list[tuple[Any, Any]],
    snatched: set[tuple[UUID, int]],
    user_counts: Callable[[UUID], UserCounts],
) -> None:
    agg: dict[UUID, list[int]] = {}
    for (user_id, _t, _pid), d in deltas:
        row = agg.get(user_id)
        if row is None:
            agg[user_id] = [d.cred_up, d.cred_down, d.seed_time, 0]
        else:
            row[0] += d.cred_up
            row[1] += d.cred_down
            row[2] += d.seed_time
    for user_id, _t in snatched:
        agg[user_id][3] += 1
    users = sorted(agg, key=_uuid_order)
    counts = [user_counts(u) for u in users]
    await conn.execute(
        """INSERT INTO user_statistics (user_id, uploaded, downloaded, seed_time_seconds,
                                        torrents_snatched, seeding_count, leeching_count)
           SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[],
                                $5::int[], $6::int[], $7::int[])
           ON CONFLICT (user_id) DO UPDATE SET
               uploaded = user_statistics.uploaded + EXCLUDED.uploaded,
               downloaded = user_statistics.downloaded + EXCLUDED.downloaded,
               seed_time_seconds = user_statistics.seed_time_seconds
                                   + EXCLUDED.seed_time_seconds,
               torrents_snatched = user_statistics.torrents_snatched
                                   + EXCLUDED.torrents_snatched,
               seeding_count = EXCLUDED.seeding_count,
               leeching_count = EXCLUDED.leeching_count,
               updated_at = now()""",
        users, [agg[u][0] for u in users], [agg[u][1] for u in users],
        [agg[u][2] for u in users], [agg[u][3] for u in users],
        [max(c.seeding, 0) for c in counts], [max(c.leeching, 0) for c in counts],
    )


async def _write_torrents(
    conn: asyncpg.Connection,
    deltas: list[tuple[Any, Any]],
    snatched: set[tuple[UUID, int]],
    torrent_counts: Callable[[int], TorrentCounts],
) -> dict[int, int]:
    agg: dict[int, list[Any]] = {}
    for (_u, torrent_id, _pid), d in deltas:
        row = agg.get(torrent_id)
        if row is None:
            agg[torrent_id] = [d.up, d.down, 0, d.last_at]
        else:
            row[0] += d.up
            row[1] += d.down
            row[3] = max(row[3], d.last_at)
    for _u, torrent_id in snatched:
        agg[torrent_id][2] += 1
    ids = sorted(agg)
    counts = [torrent_counts(t) for t in ids]
    rows = await conn.fetch(
        """INSERT INTO torrent_statistics AS s (torrent_id, seeders, leechers, times_completed,
                                                total_uploaded, total_downloaded,
                                                last_seeder_at, last_announce_at, updated_at)
           SELECT t, seeders, leechers, done, up, down,
                  CASE WHEN seeders > 0 THEN to_timestamp(at) END, to_timestamp(at), now()
             FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[], $5::bigint[],
                         $6::bigint[], $7::float8[])
                  AS d(t, seeders, leechers, done, up, down, at)
           ON CONFLICT (torrent_id) DO UPDATE SET
               seeders = EXCLUDED.seeders,
               leechers = EXCLUDED.leechers,
               times_completed = s.times_completed + EXCLUDED.times_completed,
               total_uploaded = s.total_uploaded + EXCLUDED.total_uploaded,
               total_downloaded = s.total_downloaded + EXCLUDED.total_downloaded,
               last_seeder_at = coalesce(EXCLUDED.last_seeder_at, s.last_seeder_at),
               last_announce_at = greatest(s.last_announce_at, EXCLUDED.last_announce_at),
               updated_at = now()
           RETURNING torrent_id, times_completed""",
        ids, [max(c.seeders, 0) for c in counts], [max(c.leechers, 0) for c in counts],
        [agg[t][2] for t in ids], [agg[t][0] for t in ids], [agg[t][1] for t in ids],
        [agg[t][3] for t in ids],
    )
    return {r["torrent_id"]: r["times_completed"] for r in rows}


async def batch_landed(conn: asyncpg.Connection, batch_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM tracker_flushes WHERE id = $1", batch_id))


async def prune_orphans(conn: asyncpg.Connection, batch: Batch) -> int:
    """Drop entries whose user or torrent no longer exists (a hard delete raced the flush),
    so one vanished row cannot keep a whole batch failing on a foreign key."""
    users = list({k[0] for k in batch.deltas} | {r[0] for r in batch.announces})
    torrents = list({k[1] for k in batch.deltas} | {r[1] for r in batch.announces})
    live_users = {r["id"] for r in await conn.fetch(
        "SELECT id FROM users WHERE id = ANY($1::uuid[])", users)}
    live_torrents = {r["id"] for r in await conn.fetch(
        "SELECT id FROM torrents WHERE id = ANY($1::bigint[])", torrents)}
    before = len(batch)
    batch.deltas = {k: d for k, d in batch.deltas.items()
                    if k[0] in live_users and k[1] in live_torrents}
    batch.announces = [r for r in batch.announces if r[0] in live_users and r[1] in live_torrents]
    return before - len(batch)


def new_batch_id() -> UUID:
    return uuid.uuid4()
