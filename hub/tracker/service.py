"""The tracker role: the raw ASGI handler for /announce and /scrape, plus the background
loops that keep its memory in step with Postgres and Redis.

Loops: flush the accumulator every `flush_interval_seconds`; apply invalidation messages;
publish changed swarm counts (at most once a second per torrent); expire silent peers;
write `peer_history` snapshots; refresh the site-wide freeleech windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub.tracker import flusher, invalidate
from hub.tracker.accumulator import Batch
from hub.tracker.announce import Tracker
from hub.tracker.cache import Caches
from hub.tracker.swarm import Peer, Swarm

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

SWARM_COUNTS_CHANNEL = "hub:swarm-counts"
SWARM_HASH = "hub:swarm"
SNAPSHOT_SECONDS = 300.0
SITE_WINDOW_REFRESH_SECONDS = 60.0
FULL_RELOAD_SECONDS = 900.0
MISS_RETRY_SECONDS = 10.0

_TEXT = [(b"content-type", b"text/plain")]


class TrackerService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.settings = hub.settings
        self.tracker = Tracker(hub.settings, Caches())
        self._tasks: list[asyncio.Task[None]] = []
        self._conns: dict[str, asyncpg.Connection] = {}
        self._flush_lock = asyncio.Lock()
        # Batches whose fate is unknown (the connection died around COMMIT and the check
        # failed too): retried under the same id, which tracker_flushes makes idempotent.
        # Credits and the announce log are written side by side on two connections.
        self._unsure: list[tuple[str, UUID, Batch]] = []
        self._snapshot_bytes: dict[int, list[int]] = {}
        self._trusted = self._parse_trusted(hub.settings.trusted_proxies)
        # Test hook: awaited inside the flush transaction just before COMMIT.
        self.before_commit: Callable[[], Awaitable[None]] | None = None
        self.flushes = 0
        self._missed = asyncio.Event()
        self._subscribed = asyncio.Event()
        self.tracker.on_miss = self._missed.set
        self._recent_misses: dict[str | bytes, float] = {}
        self.flush_failures = 0

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        # Subscribe before loading, so a change committed during the load is not missed.
        self._tasks.append(asyncio.create_task(self._listen()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._subscribed.wait()
        async with self.hub.pool.acquire() as conn:
            await self.tracker.caches.load_all(conn)
            await self._reload_swarms(conn)
        # The caches and swarms just loaded live as long as the process: out of the
        # collector's sight, a full collection no longer walks them. A flush builds a few
        # hundred thousand tuples, which triggered full collections costing 0.5 s of the
        # flusher's CPU per 100,000 deltas.
        gc.freeze()
        loops: list[tuple[Callable[[], Awaitable[None]], float]] = [
            (self.flush, self.settings.flush_interval_seconds),
            (self.publish_counts, 1.0),
            (self._expire, max(1.0, min(60.0, self.settings.peer_expiry_seconds / 4))),
            (self.snapshot, SNAPSHOT_SECONDS),
            (self._refresh_site_windows, SITE_WINDOW_REFRESH_SECONDS),
            (self._reload_all, FULL_RELOAD_SECONDS),
        ]
        for func, every in loops:
            self._tasks.append(asyncio.create_task(self._every(func, every)))
        self._tasks.append(asyncio.create_task(self._resolve_misses()))

    async def stop(self) -> None:
        # Under the flush lock, so a flush in progress finishes (or fails and merges back)
        # before its loop is cancelled: a cancelled flush would lose the batch it holds.
        async with self._flush_lock:
            for task in self._tasks:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for _ in range(3):
            await self.flush()
            if not self.tracker.accumulator.pending() and not self._unsure:
                break
        with contextlib.suppress(Exception):
            await self.publish_counts()
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                await conn.close()
        self._conns.clear()

    async def _every(self, func: Callable[[], Awaitable[None]], seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await func()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tracker loop %s failed", getattr(func, "__name__", func))

    # --- ASGI ----------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        agent = b""
        forwarded = b""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                agent = value
            elif name == b"x-forwarded-for":
                forwarded = value
        client = scope.get("client")
        body = self.answer(scope["path"], scope["query_string"], client[0] if client else "",
                           agent, forwarded)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_TEXT, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    def answer(self, path: str, query: bytes, ip: str, agent: bytes, forwarded: bytes) -> bytes:
        """The reply to one request, whatever server carried it (ASGI here, RSGI in serve)."""
        if self._trusted and forwarded and self._is_trusted(ip):
            ip = forwarded.rsplit(b",", 1)[-1].strip().decode("latin-1")
        if path.startswith("/announce/"):
            return self.tracker.announce(path[10:], query, ip, agent)
        if path.startswith("/scrape/"):
            return self.tracker.scrape(path[8:], query)
        return self.tracker.failure("not found")

    @property
    def trusts_proxies(self) -> bool:
        return bool(self._trusted)

    @staticmethod
    def _parse_trusted(entries: tuple[str, ...]) -> list[Any]:
        return [ipaddress.ip_network(e, strict=False) for e in entries]

    def _is_trusted(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self._trusted)

    # --- flushing ------------------------------------------------------------------------
    async def _connection(self, which: str) -> asyncpg.Connection:
        conn = self._conns.get(which)
        if conn is None or conn.is_closed():
            conn = self._conns[which] = await asyncpg.connect(self.hub.database_url)
        return conn

    @property
    def flusher_pid(self) -> int | None:
        """The Postgres backend the credit transaction runs on (tests terminate it)."""
        conn = self._conns.get("credits")
        if conn is None or conn.is_closed():
            return None
        return int(conn.get_server_pid())

    async def flush(self) -> None:
        async with self._flush_lock:
            unsure, self._unsure = self._unsure, []
            for kind, batch_id, batch in unsure:
                await self._write(kind, batch_id, batch)
            if self._unsure:
                return  # Postgres is still unreachable: keep accumulating in memory
            taken = self.tracker.accumulator.take()
            credits, log = Batch(), Batch()
            credits.deltas, log.announces = taken.deltas, taken.announces
            jobs = []
            copied = asyncio.Event()
            if credits.deltas:
                jobs.append(self._write("credits", uuid.uuid4(), credits, copied=copied))
            else:
                copied.set()
            if log.announces:
                jobs.append(self._write("log", uuid.uuid4(), log, after=copied))
            await asyncio.gather(*jobs)

    async def _write(self, kind: str, batch_id: UUID, batch: Batch,
                     copied: asyncio.Event | None = None,
                     after: asyncio.Event | None = None) -> bool:
        try:
            conn = await self._connection(kind)
            if kind == "log":
                if after is not None:
                    await after.wait()  # the credits' rows are in Postgres: see write_credits
                await flusher.write_log(conn, batch, batch_id)
                return True
            result = await flusher.write_credits(
                conn, batch, batch_id, self._user_counts, self._torrent_counts,
                self.before_commit, copied,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "tracker_flushes_pkey":
                return True  # an earlier attempt of this very batch committed
            return await self._failed(kind, batch_id, batch, exc)
        except Exception as exc:
            return await self._failed(kind, batch_id, batch, exc)
        self.flushes += 1
        tracker = self.tracker
        for torrent_id, completed in result.completed.items():
            entry = tracker.caches.torrents.get(torrent_id)
            if entry is not None and entry.completed != completed:
                entry.completed = completed
                tracker.dirty.add(torrent_id)
        for (_u, torrent_id, _p), d in batch.deltas.items():
            acc = self._snapshot_bytes.get(torrent_id)
            if acc is None:
                self._snapshot_bytes[torrent_id] = [d.up, d.down]
            else:
                acc[0] += d.up
                acc[1] += d.down
        return True

    async def _failed(self, kind: str, batch_id: UUID, batch: Batch, exc: Exception) -> bool:
        self.flush_failures += 1
        log.warning("tracker %s flush of %d rows failed: %r", kind, len(batch), exc)
        conn = self._conns.pop(kind, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()
        try:
            async with self.hub.pool.acquire() as check:
                if await flusher.batch_landed(check, batch_id):
                    return True
                if isinstance(exc, asyncpg.ForeignKeyViolationError):
                    dropped = await flusher.prune_orphans(check, batch)
                    log.warning("dropped %d tracker rows of deleted users or torrents", dropped)
        except Exception:
            log.exception("cannot tell whether tracker batch %s committed; will retry it", batch_id)
            self._unsure.append((kind, batch_id, batch))
            return False
        self.tracker.accumulator.merge_back(batch)
        return False

    def _user_counts(self, user_id: UUID) -> flusher.UserCounts:
        entry = self.tracker.caches.users.get(user_id)
        if entry is None:
            return flusher.UserCounts(0, 0)
        return flusher.UserCounts(entry.seeding, entry.leeching)

    def _torrent_counts(self, torrent_id: int) -> flusher.TorrentCounts:
        swarm = self.tracker.swarms.get(torrent_id)
        if swarm is None:
            return flusher.TorrentCounts(0, 0)
        return flusher.TorrentCounts(swarm.seeders, swarm.leechers)

    # --- swarm persistence -------------------------------------------------------------
    async def _reload_swarms(self, conn: asyncpg.Connection) -> None:
        expiry = self.settings.peer_expiry_seconds
        await conn.execute(
            "DELETE FROM peers WHERE last_announce_at < now() - make_interval(secs => $1)",
            float(expiry),
        )
        rows = await conn.fetch(
            """SELECT torrent_id, user_id, peer_id, host(ip) AS ip, host(ipv6) AS ipv6, port,
                      uploaded, downloaded, left_bytes, user_agent,
                      extract(epoch FROM last_announce_at)::bigint AS last
                 FROM peers"""
        )
        caches = self.tracker.caches


        for r in rows:
            user = caches.users.get(r["user_id"])
            if user is None or r["torrent_id"] not in caches.torrents:
                continue
            peer = Peer(user, r["uploaded"], r["downloaded"], r["left_bytes"], r["last"])
            port = r["port"].to_bytes(2, "big")
            if r["ip"]:
                peer.addr4 = socket.inet_pton(socket.AF_INET, r["ip"]) + port
            if r["ipv6"]:
                peer.addr6 = socket.inet_pton(socket.AF_INET6, r["ipv6"]) + port
            swarm = self.tracker.swarms.get(r["torrent_id"])
            if swarm is None:
                swarm = self.tracker.swarms[r["torrent_id"]] = Swarm()
            swarm.add(bytes(r["peer_id"]), peer)
        log.info("tracker reloaded %d peers", len(rows))

    async def _expire(self) -> None:
        self.tracker.expire()

    # --- peer_history ------------------------------------------------------------------
    async def snapshot(self) -> None:
        """One torrent-level row per active torrent: counts now, bytes since the last one."""
        moved, self._snapshot_bytes = self._snapshot_bytes, {}
        ids = sorted(set(self.tracker.swarms) | set(moved))
        if not ids:
            return
        seeders, leechers, ups, downs = [], [], [], []
        for torrent_id in ids:
            swarm = self.tracker.swarms.get(torrent_id)
            seeders.append(swarm.seeders if swarm else 0)
            leechers.append(swarm.leechers if swarm else 0)
            up, down = moved.get(torrent_id, (0, 0))
            ups.append(up)
            downs.append(down)
        try:
            async with self.hub.pool.acquire() as conn:
                await conn.execute(
                    """INSERT INTO peer_history (time, torrent_id, user_id, seeders, leechers,
                                                 uploaded, downloaded)
                       SELECT date_trunc('second', now()), d.t, NULL, d.s, d.l, d.up, d.down
                         FROM unnest($1::bigint[], $2::int[], $3::int[], $4::bigint[],
                                     $5::bigint[]) AS d(t, s, l, up, down)
                         JOIN torrents t ON t.id = d.t
                       ON CONFLICT DO NOTHING""",
                    ids, seeders, leechers, ups, downs,
                )
        except Exception:
            for torrent_id, (up, down) in moved.items():
                acc = self._snapshot_bytes.setdefault(torrent_id, [0, 0])
                acc[0] += up
                acc[1] += down
            raise

    # --- live counts ---------------------------------------------------------------------
    async def publish_counts(self) -> None:
        tracker = self.tracker
        if not tracker.dirty:
            return
        dirty, tracker.dirty = tracker.dirty, set()
        items = []
        for torrent_id in sorted(dirty):
            entry = tracker.caches.torrents.get(torrent_id)
            swarm = tracker.swarms.get(torrent_id)
            items.append({
                "torrent_id": torrent_id,
                "seeders": swarm.seeders if swarm else 0,
                "leechers": swarm.leechers if swarm else 0,
                "completed": entry.completed if entry else 0,
            })
        try:
            pipe = self.hub.redis.pipeline(transaction=False)
            pipe.hset(SWARM_HASH, mapping={str(i["torrent_id"]): json.dumps(i) for i in items})
            pipe.publish(SWARM_COUNTS_CHANNEL, json.dumps(items))
            await pipe.execute()
        except Exception:
            tracker.dirty |= dirty
            raise

    # --- cache freshness -----------------------------------------------------------------
    async def _listen(self) -> None:
        resubscribing = False  # start() loads everything once this subscription is up
        while True:
            pubsub = self.hub.redis.pubsub()
            try:
                await pubsub.subscribe(invalidate.CHANNEL)
                if resubscribing:
                    await self._reload_all()  # anything changed while we were not listening
                resubscribing = True
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.apply_invalidation(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tracker invalidation listener failed; resubscribing")
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def apply_invalidation(self, raw: bytes | str) -> None:
        try:
            message = json.loads(raw)
            kind = message.get("kind")
            async with self.hub.pool.acquire() as conn:
                if kind == "user":
                    await self.tracker.caches.reload_user(conn, UUID(str(message["id"])))
                elif kind == "torrent":
                    await self.tracker.caches.reload_torrent(conn, int(message["id"]))
                elif kind == "site_freeleech":
                    await self.tracker.caches.load_site_windows(conn)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed tracker invalidation %r", raw)

    async def _resolve_misses(self) -> None:
        """Look up unknown passkeys and info_hashes in batches, each key at most every
        MISS_RETRY_SECONDS, so a flood of junk keys costs one query per batch."""
        tracker = self.tracker
        while True:
            await self._missed.wait()
            await asyncio.sleep(0.05)  # gather a batch
            self._missed.clear()
            now = time.monotonic()
            recent = self._recent_misses
            if len(recent) > 50_000:
                recent.clear()
            passkeys = [k for k in tracker.missed_passkeys if recent.get(k, 0) < now]
            hashes = [h for h in tracker.missed_hashes if recent.get(h, 0) < now]
            tracker.missed_passkeys.clear()
            tracker.missed_hashes.clear()
            keys: list[str | bytes] = [*passkeys, *hashes]
            for key in keys:
                recent[key] = now + MISS_RETRY_SECONDS
            if not passkeys and not hashes:
                continue
            try:
                async with self.hub.pool.acquire() as conn:
                    await tracker.caches.lookup(conn, passkeys, hashes)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tracker cache lookup failed")

    async def _reload_all(self) -> None:
        async with self.hub.pool.acquire() as conn:
            await self.tracker.caches.load_all(conn)

    async def _refresh_site_windows(self) -> None:
        async with self.hub.pool.acquire() as conn:
            await self.tracker.caches.load_site_windows(conn)


