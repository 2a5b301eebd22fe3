"""Write an accumulated batch to Postgres: the credits in one transaction, the log in another.

The deltas go once by binary COPY into a temp table; each credited table gets set-based
statements reading it (an UPDATE of the rows that exist, a plain INSERT of the ones known
absent, an upsert for the statistics), the announce log goes in by COPY (append-only, the
cheapest path Postgres has), and each batch id goes into `tracker_flushes` in the same
transaction so a commit whose acknowledgement was lost is recognised instead of retried
(see migration 0030).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from socket import AF_INET, AF_INET6, inet_pton
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


_gc_holds = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a flush builds and encodes its rows.

    Building 100,000 row tuples sets off collections of the older generations, which walk
    every object allocated since the tracker's initial load (the accumulator's deltas, new
    peers): 0.3-0.4 s of the flush's Python time measured. Nothing built here is cyclic
    garbage, reference counting frees it all, and collection resumes within the second.
    Counted, because the credits and the log pause it on interleaved coroutines.
    """
    global _gc_holds, _gc_was_enabled
    if _gc_holds == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_holds += 1
    try:
        yield
    finally:
        _gc_holds -= 1
        if _gc_holds == 0 and _gc_was_enabled:
            gc.enable()


def _pairs(deltas: list[tuple[Any, Any]]) -> int:
    """Distinct (user, torrent) pairs of deltas sorted by torrent then user, counted without
    building a set of 100,000 tuples (their allocation set off full garbage collections)."""
    pairs, last_t, last_u = 0, None, None
    for (u, t, _pid), _d in deltas:
        if t != last_t or u != last_u:
            pairs += 1
            last_t, last_u = t, u
    return pairs


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
    copied: asyncio.Event | None = None,
) -> FlushResult:
    """Peers, snatches, history and statistics of a batch: one transaction, all or nothing.

    `copied` is set once the deltas are in Postgres (or the attempt ended): the service starts
    the announce log's Python work then, while this transaction waits on Postgres, instead
    of both building 100,000 rows in the one Python thread at the same time.
    """
    try:
        return await _write_credits(conn, batch, batch_id, user_counts, torrent_counts,
                                    before_commit, copied)
    finally:
        if copied is not None:
            copied.set()


async def _write_credits(
    conn: asyncpg.Connection,
    batch: Batch,
    batch_id: UUID,
    user_counts: Callable[[UUID], UserCounts],
    torrent_counts: Callable[[int], TorrentCounts],
    before_commit: Callable[[], Awaitable[None]] | None,
    copied: asyncio.Event | None,
) -> FlushResult:
    result = FlushResult(rows=len(batch.deltas))
    # One lock order for every tracker process: two flushers never wait on each other in a
    # cycle.
    with _collector_paused():
        deltas = sorted(batch.deltas.items(), key=_delta_order)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tracker_flushes (id, rows) VALUES ($1, $2)", batch_id, len(deltas)
        )
        if deltas:
            with _collector_paused():
                await _copy_deltas(conn, deltas)
            if copied is not None:
                copied.set()
            gone = sum(1 for _k, d in deltas if d.removed)
            await _write_peers(conn, gone, len(deltas) - gone)
            snatched: set[tuple[UUID, int]] = set()
            if any(d.completed_at is not None for _k, d in deltas):
                snatched = await _write_snatches(conn)
            await _write_history(conn, _pairs(deltas), len(deltas))
            await _write_users(conn, sorted({k[0] for k, _d in deltas}, key=_uuid_order),
                               snatched, user_counts)
            result.completed = await _write_torrents(conn, sorted({k[1] for k, _d in deltas}),
                                                     snatched, torrent_counts)
        if before_commit is not None:
            await before_commit()
    return result


async def write_log(conn: asyncpg.Connection, batch: Batch, batch_id: UUID) -> None:
    """The raw announce log, by COPY, in its own transaction.

    Nothing is credited from it, so it need not share the credit transaction; written on a
    second connection at the same time, it costs the flush no extra wall time.

    `announces` has no foreign keys (migration 0032): a key check per row was most of the
    COPY's time. Instead each distinct member and torrent of the batch is locked once
    (FOR KEY SHARE, what the foreign key took per row) and rows of ones already deleted are
    left out, so a member erased during the flush waits for this commit and its delete
    trigger then removes these rows too.

    The commit is asynchronous (`synchronous_commit = off`): a Postgres crash within a
    fraction of a second after it can lose this batch of log rows, which the tracker has
    already let go of. Only the log: it credits nothing, and losing a few seconds of it on a
    crash is acceptable. The credit transaction stays synchronous, because a credit the
    tracker believes committed must survive.
    """
    rows = batch.announces
    async with conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit = off")
        await conn.execute(
            "INSERT INTO tracker_flushes (id, rows) VALUES ($1, $2)", batch_id, len(rows)
        )
        if not rows:
            return
        users = sorted({r[0] for r in rows}, key=_uuid_order)
        torrents = sorted({r[1] for r in rows})
        live_users = {r[0] for r in await conn.fetch(
            "SELECT id FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE",
            users)}
        live_torrents = {r[0] for r in await conn.fetch(
            "SELECT id FROM torrents WHERE id = ANY($1::bigint[]) ORDER BY id FOR KEY SHARE",
            torrents)}
        if len(live_users) < len(users) or len(live_torrents) < len(torrents):
            rows = [r for r in rows if r[0] in live_users and r[1] in live_torrents]
        with _collector_paused():
            await conn.copy_records_to_table(
                "announces",
                columns=["user_id", "torrent_id", "peer_id", "event", "uploaded",
                         "downloaded", "left_bytes", "uploaded_delta", "downloaded_delta",
                         "ip", "port", "user_agent", "created_at"],
                records=[(*row[:9], _packed(row[9]), row[10], row[11], _ts(row[12]))
                         for row in rows],
            )


def _packed(ip: str | None) -> bytes | None:
    """The address as 4 or 16 bytes: asyncpg's inet encoder takes those without parsing the
    string in the ipaddress module (7 µs a row, 0.7 s per 100,000)."""
    if not ip:
        return None
    return inet_pton(AF_INET6 if ":" in ip else AF_INET, ip)


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


async def _copy_deltas(conn: asyncpg.Connection, deltas: list[tuple[Any, Any]]) -> None:
    """Every delta of the batch, once, by binary COPY into a session temp table that all the
    credit statements read: peers row by row, history, member and torrent totals summed by
    GROUP BY in Postgres.

    Passing 100,000-element arrays as parameters instead spent over a second in asyncpg's
    per-element container checks; summing in Python cost another 0.7 s. Addresses travel as
    text and become inet in Postgres: asyncpg's inet encoder parses each string with the
    ipaddress module, 0.7 s of Python per 100,000 rows.
    """
    await conn.execute(_DELTA_BATCH)
    await conn.copy_records_to_table(
        "tracker_delta_batch",
        records=[(k[1], k[0], k[2], d.removed, d.ip4, d.ip6, d.port, d.uploaded, d.downloaded,
                  d.left, d.seeder, d.agent, d.last_at, d.completed_at, d.up, d.down,
                  d.cred_up, d.cred_down, d.seed_time, d.leech_time)
                 for k, d in deltas],
    )


_DELTA_BATCH = """
    CREATE TEMP TABLE IF NOT EXISTS tracker_delta_batch (
        t bigint, u uuid, pid bytea, gone bool, ip text, ip6 text, port int, uploaded bigint,
        downloaded bigint, lft bigint, seeder bool, ua text, at float8, done float8,
        up bigint, down bigint, cup bigint, cdown bigint, st bigint, lt bigint
    ) ON COMMIT DELETE ROWS"""


async def _write_peers(conn: asyncpg.Connection, gone: int, live: int) -> None:
    if gone:
        await conn.execute(
            """DELETE FROM peers p USING tracker_delta_batch d
                WHERE d.gone AND p.torrent_id = d.t AND p.user_id = d.u AND p.peer_id = d.pid"""
        )
    if not live:
        return
    # Most peers already have a row: a plain UPDATE is cheaper than INSERT ... ON CONFLICT
    # (no speculative index insertion), and without an index on the changed columns it is a
    # HOT update (migration 0031). Rows it did not find are inserted next.
    status = await conn.execute(
        """UPDATE peers p SET
               ip = coalesce(d.ip::inet, p.ip), ipv6 = coalesce(d.ip6::inet, p.ipv6),
               port = d.port, uploaded = d.uploaded, downloaded = d.downloaded,
               left_bytes = d.lft, is_seeder = d.seeder, user_agent = left(d.ua, 256),
               last_announce_at = to_timestamp(d.at)
             FROM tracker_delta_batch d
            WHERE NOT d.gone AND p.torrent_id = d.t AND p.user_id = d.u AND p.peer_id = d.pid"""
    )
    updated = _count(status)
    if updated == live:
        return  # every row existed: skip the anti-join
    # The rows the UPDATE did not find, known absent (anti-join once, skipped when it found
    # none: the first flush after a start, or after a crash emptied the table), go in by a
    # plain INSERT: no speculative insertion. Only this tracker writes these keys (swarms are
    # sharded by torrent); should another process have inserted one meanwhile, the unique
    # violation fails the flush, which is merged back and retried (the UPDATE then finds it).
    #
    # `peers` has no foreign keys (migration 0035: two key checks per new row were most of
    # the insert). Instead each distinct member and torrent of the new rows is locked once,
    # FOR KEY SHARE as a key check would, and rows of deleted ones are left out; a delete
    # waits for this commit and its trigger then removes what this flush inserted.
    await conn.execute(_PEERS_INSERT.replace("$ABSENT", "" if updated == 0 else _PEERS_ABSENT))


_PEERS_ABSENT = """
              AND NOT EXISTS (SELECT 1 FROM peers p
                               WHERE p.torrent_id = d.t AND p.user_id = d.u
                                 AND p.peer_id = d.pid)"""
_PEERS_INSERT = """WITH new AS MATERIALIZED (
                SELECT * FROM tracker_delta_batch d WHERE NOT d.gone$ABSENT),
              live_users AS (SELECT id FROM users WHERE id IN (SELECT u FROM new)
                              ORDER BY id FOR KEY SHARE),
              live_torrents AS (SELECT id FROM torrents WHERE id IN (SELECT t FROM new)
                                 ORDER BY id FOR KEY SHARE)
           INSERT INTO peers (torrent_id, user_id, peer_id, ip, ipv6, port, uploaded,
                              downloaded, left_bytes, is_seeder, user_agent,
                              last_announce_at)
           SELECT t, u, pid, ip::inet, ip6::inet, port, uploaded, downloaded, lft, seeder,
                  left(ua, 256), to_timestamp(at)
             FROM new
            WHERE u IN (SELECT id FROM live_users) AND t IN (SELECT id FROM live_torrents)"""


async def _write_snatches(conn: asyncpg.Connection) -> set[tuple[UUID, int]]:
    rows = await conn.fetch(
        """INSERT INTO snatches (user_id, torrent_id, completed_at, ip)
           SELECT DISTINCT ON (u, t) u, t, to_timestamp(done), coalesce(ip, ip6)::inet
             FROM tracker_delta_batch
            WHERE done IS NOT NULL
            ORDER BY u, t, done
           ON CONFLICT (user_id, torrent_id) DO NOTHING
           RETURNING user_id, torrent_id"""
    )
    return {(r["user_id"], r["torrent_id"]) for r in rows}




# One row per (user, torrent): a member's several clients add up. When no two deltas share a
# pair (the usual case), the rows are read as they are: the GROUP BY cost 0.1 s per 100,000.
_HISTORY_SUMS = """(SELECT u, t, sum(up)::bigint AS up, sum(down)::bigint AS down,
                          sum(cup)::bigint AS cup, sum(cdown)::bigint AS cdown,
                          sum(st)::bigint AS st, sum(lt)::bigint AS lt,
                          bool_or(NOT gone) AS active, bool_or(seeder AND NOT gone) AS seeder,
                          max(at) AS at, min(done) AS done
                     FROM tracker_delta_batch GROUP BY u, t)"""
_HISTORY_ROWS = """(SELECT u, t, up, down, cup, cdown, st, lt, NOT gone AS active,
                          seeder AND NOT gone AS seeder, at, done
                     FROM tracker_delta_batch)"""
_HISTORY_UPDATE = """UPDATE torrent_history h SET
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
             FROM $SOURCE d
            WHERE h.user_id = d.u AND h.torrent_id = d.t"""
# New pairs: locked members and torrents once, rows of deleted ones left out (no foreign keys
# since migration 0036; see _write_peers).
_HISTORY_INSERT = """WITH new AS MATERIALIZED (SELECT * FROM $SOURCE d$ABSENT),
              live_users AS (SELECT id FROM users WHERE id IN (SELECT u FROM new)
                              ORDER BY id FOR KEY SHARE),
              live_torrents AS (SELECT id FROM torrents WHERE id IN (SELECT t FROM new)
                                 ORDER BY id FOR KEY SHARE)
           INSERT INTO torrent_history (user_id, torrent_id, uploaded, downloaded,
                                        credited_uploaded, credited_downloaded,
                                        seed_time_seconds, leech_time_seconds, is_active,
                                        is_seeder, first_announce_at, last_announce_at,
                                        completed_at)
           SELECT u, t, up, down, cup, cdown, st, lt, active, seeder, to_timestamp(at),
                  to_timestamp(at), to_timestamp(done)
             FROM new
            WHERE u IN (SELECT id FROM live_users) AND t IN (SELECT id FROM live_torrents)"""
_HISTORY_ABSENT = """
            WHERE NOT EXISTS (SELECT 1 FROM torrent_history h
                               WHERE h.user_id = d.u AND h.torrent_id = d.t)"""


async def _write_history(conn: asyncpg.Connection, pairs: int, deltas: int) -> None:
    source = _HISTORY_ROWS if pairs == deltas else _HISTORY_SUMS
    status = await conn.execute(_HISTORY_UPDATE.replace("$SOURCE", source))
    updated = _count(status)
    if updated == pairs:
        return
    # As for peers: the pairs the UPDATE did not find are known absent (the anti-join is
    # skipped when it found none), so a plain INSERT, without ON CONFLICT's speculative
    # insertion (one more WAL record and an index probe per row). A pair inserted by another
    # process meanwhile fails the flush on the primary key; the batch is merged back and
    # retried, crediting nothing twice.
    await conn.execute(_HISTORY_INSERT.replace("$SOURCE", source)
                       .replace("$ABSENT", "" if updated == 0 else _HISTORY_ABSENT))


async def _write_users(
    conn: asyncpg.Connection,
    users: list[UUID],
    snatched: set[tuple[UUID, int]],
    user_counts: Callable[[UUID], UserCounts],
) -> None:
    # Sums come from the temp table; only what Postgres cannot know (live counts from the
    # swarms, new snatches) travels as arrays, one element per member rather than per delta.
    per_user: dict[UUID, int] = {}
    for user_id, _t in snatched:
        per_user[user_id] = per_user.get(user_id, 0) + 1
    counts = [user_counts(u) for u in users]
    await conn.execute(
        """INSERT INTO user_statistics AS s (user_id, uploaded, downloaded, seed_time_seconds,
                                             torrents_snatched, seeding_count, leeching_count)
           SELECT c.u, a.cup, a.cdown, a.st, c.snatched, c.seeding, c.leeching
             FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[])
                  WITH ORDINALITY AS c(u, snatched, seeding, leeching, n)
             JOIN (SELECT u, sum(cup)::bigint AS cup, sum(cdown)::bigint AS cdown,
                          sum(st)::bigint AS st
                     FROM tracker_delta_batch GROUP BY u) a ON a.u = c.u
            ORDER BY c.n
           ON CONFLICT (user_id) DO UPDATE SET
               uploaded = s.uploaded + EXCLUDED.uploaded,
               downloaded = s.downloaded + EXCLUDED.downloaded,
               seed_time_seconds = s.seed_time_seconds + EXCLUDED.seed_time_seconds,
               torrents_snatched = s.torrents_snatched + EXCLUDED.torrents_snatched,
               seeding_count = EXCLUDED.seeding_count,
               leeching_count = EXCLUDED.leeching_count,
               updated_at = now()""",
        users, [per_user.get(u, 0) for u in users],
        [max(c.seeding, 0) for c in counts], [max(c.leeching, 0) for c in counts],
    )


async def _write_torrents(
    conn: asyncpg.Connection,
    ids: list[int],
    snatched: set[tuple[UUID, int]],
    torrent_counts: Callable[[int], TorrentCounts],
) -> dict[int, int]:
    per_torrent: dict[int, int] = {}
    for _u, torrent_id in snatched:
        per_torrent[torrent_id] = per_torrent.get(torrent_id, 0) + 1
    counts = [torrent_counts(t) for t in ids]
    rows = await conn.fetch(
        """INSERT INTO torrent_statistics AS s (torrent_id, seeders, leechers, times_completed,
                                                total_uploaded, total_downloaded,
                                                last_seeder_at, last_announce_at, updated_at)
           SELECT c.t, c.seeders, c.leechers, c.done, a.up, a.down,
                  CASE WHEN c.seeders > 0 THEN to_timestamp(a.at) END, to_timestamp(a.at),
                  now()
             FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[])
                  WITH ORDINALITY AS c(t, done, seeders, leechers, n)
             JOIN (SELECT t, sum(up)::bigint AS up, sum(down)::bigint AS down, max(at) AS at
                     FROM tracker_delta_batch GROUP BY t) a ON a.t = c.t
            ORDER BY c.n
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
        ids, [per_torrent.get(t, 0) for t in ids],
        [max(c.seeders, 0) for c in counts], [max(c.leechers, 0) for c in counts],
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
