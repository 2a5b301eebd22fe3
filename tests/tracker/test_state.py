"""Scrape, cache invalidation, live counts, expiry, restart and the flush fault test."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from typing import Any

from hub.tracker.service import SWARM_COUNTS_CHANNEL, SWARM_HASH, TrackerService
from tests.tracker.conftest import (
    Client,
    flush,
    make_member,
    make_torrent,
    peer_id,
    query,
    update_member,
    update_torrent,
    wait_for,
)
from tests.tracker.test_crediting import stats


async def test_scrape_counts_visible_torrents_only(hub: Any, client: Client) -> None:
    member, other = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, other)
    pending = await make_torrent(hub, other, status="pending")
    own_pending = await make_torrent(hub, member, status="pending")
    await client.announce(other, torrent, peer_id(), event="started", left=0)
    await client.announce(member, torrent, peer_id(), event="started")
    reply = await client.scrape(member, torrent.info_hash, pending.info_hash,
                                own_pending.info_hash, b"\x02" * 20)
    assert reply.failure is None and reply.keys_sorted_and_canonical()
    files = reply.data[b"files"]
    assert set(files) == {torrent.info_hash, own_pending.info_hash}
    assert files[torrent.info_hash] == {b"complete": 1, b"downloaded": 0, b"incomplete": 1}


async def test_scrape_refuses_full_scrape_and_too_many_hashes(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    reply = await client.get(f"/scrape/{member.passkey}", "")
    assert "full scrape" in (reply.failure or "")
    many = [secrets.token_bytes(20) for _ in range(hub.settings.scrape_max_hashes + 1)]
    reply = await client.scrape(member, *many)
    assert "too many info_hashes" in (reply.failure or "")
    reply = await client.get(f"/scrape/{'f' * 32}", query(info_hash=b"\x00" * 20))
    assert "unknown passkey" in (reply.failure or "")


async def test_rotated_passkey_takes_effect_at_once(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    old = member.passkey
    new = secrets.token_hex(16)
    await update_member(hub, member, passkey=new)
    await wait_for(lambda: new in hub.tracker.tracker.caches.users_by_passkey)
    assert old not in hub.tracker.tracker.caches.users_by_passkey
    member.passkey = new
    assert (await client.announce(member, torrent, peer_id(), left=0)).failure is None
    member.passkey = old
    assert "unknown passkey" in ((await client.announce(member, torrent, peer_id())).failure or "")


async def test_approval_reaches_the_tracker_through_redis(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member, status="pending")
    pid = peer_id()
    assert (await client.announce(member, torrent, pid, left=0)).warning is not None
    await update_torrent(hub, torrent, moderation_status="approved")
    assert (await client.announce(member, torrent, pid, left=0)).warning is None
    await update_member(hub, member, is_banned=True)
    assert "disabled" in ((await client.announce(member, torrent, pid, left=0)).failure or "")


async def test_swarm_count_changes_are_published_and_kept_in_redis(
    hub: Any, client: Client
) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(SWARM_COUNTS_CHANNEL)
    try:
        for port in (47001, 47002):
            await client.announce(member, torrent, peer_id(), event="started", port=port)
        seen = None
        async with asyncio.timeout(5):
            while seen is None:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg:
                    for item in json.loads(msg["data"]):
                        if item["torrent_id"] == torrent.id:
                            seen = item
    finally:
        await pubsub.aclose()
    # both announces fell in one window: one coalesced message with the final counts
    assert seen == {"torrent_id": torrent.id, "seeders": 0, "leechers": 2, "completed": 0}
    stored = json.loads(await hub.redis.hget(SWARM_HASH, str(torrent.id)))
    assert stored == seen


async def test_silent_peers_expire_and_leave_the_peers_table(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=0)
    await flush(hub)
    tracker = hub.tracker.tracker
    tracker.swarms[torrent.id].peers[pid].last -= hub.settings.peer_expiry_seconds + 1
    assert tracker.expire() >= 1
    assert torrent.id not in tracker.swarms
    await flush(hub)
    async with hub.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM peers WHERE torrent_id = $1",
                                   torrent.id) == 0


async def test_peer_history_snapshot_records_counts_and_bytes(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member, size=9000)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=9000)
    await client.announce(member, torrent, pid, downloaded=4000, left=5000)
    await flush(hub)
    await hub.tracker.snapshot()
    async with hub.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT * FROM peer_history WHERE torrent_id = $1 AND user_id IS NULL", torrent.id)
    assert (row["seeders"], row["leechers"], row["downloaded"]) == (0, 1, 4000)


async def test_restarted_tracker_reloads_swarm_and_credits_from_the_saved_totals(
    hub: Any, client: Client
) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member, size=10_000)
    pid = peer_id()
    qs = query(info_hash=torrent.info_hash, peer_id=pid, port=48001, uploaded=0,
               downloaded=0, left=10_000, event="started").encode()
    first = TrackerService(hub)
    await first.start()
    first.tracker.announce(member.passkey, qs, "192.0.2.7", b"qBittorrent/4.6")
    qs = query(info_hash=torrent.info_hash, peer_id=pid, port=48001, uploaded=0,
               downloaded=3000, left=7000).encode()
    first.tracker.announce(member.passkey, qs, "192.0.2.7", b"qBittorrent/4.6")
    await first.stop()  # flushes what it holds
    assert await stats(hub, member) == (0, 3000)

    second = TrackerService(hub)
    await second.start()
    try:
        swarm = second.tracker.swarms[torrent.id]
        assert swarm.leechers == 1 and swarm.peers[pid].downloaded == 3000
        qs = query(info_hash=torrent.info_hash, peer_id=pid, port=48001, uploaded=0,
                   downloaded=4000, left=6000).encode()
        second.tracker.announce(member.passkey, qs, "192.0.2.7", b"qBittorrent/4.6")
    finally:
        await second.stop()
    assert await stats(hub, member) == (0, 4000)


async def test_peers_lost_in_a_crash_set_a_new_baseline_and_credit_nothing_for_that_step(
    hub: Any, client: Client
) -> None:
    """`peers` is UNLOGGED (migration 0034): Postgres empties it after a crash. The tracker
    then reloads no baseline for the peer, so its next announce counts as its first: the
    totals become the new base and that step is credited 0, never the whole totals."""
    async with hub.pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT relpersistence::text FROM pg_class WHERE oid = 'peers'::regclass") == "u"
    member = await make_member(hub)
    torrent = await make_torrent(hub, member, size=10_000)
    pid = peer_id()

    def announce(service: TrackerService, downloaded: int, event: str | None = None) -> None:
        params: dict[str, Any] = dict(info_hash=torrent.info_hash, peer_id=pid, port=48001,
                                      uploaded=0, downloaded=downloaded,
                                      left=10_000 - downloaded)
        if event:
            params["event"] = event
        service.tracker.announce(member.passkey, query(**params).encode(), "192.0.2.8",
                                 b"qBittorrent/4.6")

    first = TrackerService(hub)
    await first.start()
    announce(first, 0, "started")
    announce(first, 3000)
    await first.stop()
    assert await stats(hub, member) == (0, 3000)

    # What the crash recovery does to this peer's row (the whole table, in a real crash;
    # other tests share this database, so only this member's rows here).
    async with hub.pool.acquire() as conn:
        await conn.execute("DELETE FROM peers WHERE user_id = $1", member.id)

    second = TrackerService(hub)
    await second.start()
    try:
        swarm = second.tracker.swarms.get(torrent.id)
        assert swarm is None or pid not in swarm.peers
        announce(second, 5000)  # 2000 more since the crash: no baseline to take it from
        await second.flush()
        assert await stats(hub, member) == (0, 3000)
        announce(second, 6000)
        await second.flush()
        assert await stats(hub, member) == (0, 4000)
    finally:
        await second.stop()


async def test_erasing_a_member_or_a_torrent_erases_its_peers_and_history(
    hub: Any, client: Client
) -> None:
    """`peers` and `torrent_history` have no foreign keys (migrations 0035, 0036): statement
    triggers do the cascade."""
    member, other = await make_member(hub), await make_member(hub)
    torrent, kept = await make_torrent(hub, member), await make_torrent(hub, member)
    for who, what in ((member, kept), (other, torrent), (other, kept)):
        reply = await client.announce(who, what, peer_id(), event="started")
        assert reply.failure is None
    await flush(hub)

    async def rows(column: str, value: Any) -> tuple[int, int]:
        async with hub.pool.acquire() as conn:
            return (
                int(await conn.fetchval(f"SELECT count(*) FROM peers WHERE {column} = $1",
                                        value)),
                int(await conn.fetchval(
                    f"SELECT count(*) FROM torrent_history WHERE {column} = $1", value)),
            )

    assert await rows("user_id", member.id) == (1, 1)
    assert await rows("user_id", other.id) == (2, 2)
    async with hub.pool.acquire() as conn:
        await conn.execute("DELETE FROM users WHERE id = $1", member.id)
    assert await rows("user_id", member.id) == (0, 0)
    assert await rows("torrent_id", kept.id) == (1, 1)
    async with hub.pool.acquire() as conn:
        await conn.execute("DELETE FROM torrents WHERE id = $1", torrent.id)
    assert await rows("torrent_id", torrent.id) == (0, 0)
    assert await rows("user_id", other.id) == (1, 1)


async def test_a_flush_leaves_out_peers_and_history_of_members_deleted_meanwhile(
    hub: Any, client: Client
) -> None:
    """Without foreign keys on these two tables the flusher leaves out their new rows of a
    deleted member itself; the batch still fails once on `user_statistics`' key, drops the
    orphaned deltas and goes out with the next flush."""
    member, gone = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, member)
    for who in (member, gone):
        reply = await client.announce(who, torrent, peer_id(), event="started")
        assert reply.failure is None
    async with hub.pool.acquire() as conn:
        await conn.execute("DELETE FROM users WHERE id = $1", gone.id)
        await flush(hub)
        await flush(hub)
        for table in ("peers", "torrent_history"):
            assert await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE user_id = $1", gone.id) == 0
            assert await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE user_id = $1", member.id) == 1


async def test_killed_flusher_connection_loses_and_doubles_nothing(
    hub: Any, client: Client
) -> None:
    service = hub.tracker
    members = [await make_member(hub) for _ in range(20)]
    torrent = await make_torrent(hub, size=10**9)
    pids = [peer_id() for _ in members]
    await flush(hub)  # start from an empty accumulator and an open flusher connection
    for m, pid in zip(members, pids, strict=True):
        await client.announce(m, torrent, pid, event="started")
        await client.announce(m, torrent, pid, uploaded=111, downloaded=1000)

    killed: list[int] = []

    async def kill_mid_batch() -> None:
        if killed:
            return
        pid = service.flusher_pid
        killed.append(pid)
        async with hub.pool.acquire() as conn:
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.1)

    failures = service.flush_failures
    service.before_commit = kill_mid_batch
    try:
        await flush(hub)
    finally:
        service.before_commit = None
    assert killed and service.flush_failures == failures + 1
    # more traffic for the same peers lands on top of the merged-back batch
    for m, pid in zip(members, pids, strict=True):
        await client.announce(m, torrent, pid, uploaded=222, downloaded=3000)
    await flush(hub)
    for m in members:
        assert await stats(hub, m) == (222, 3000)
    async with hub.pool.acquire() as conn:
        total = await conn.fetchrow(
            "SELECT total_uploaded, total_downloaded FROM torrent_statistics WHERE torrent_id = $1",
            torrent.id)
        logged = await conn.fetchval("SELECT count(*) FROM announces WHERE torrent_id = $1",
                                     torrent.id)
    assert (total["total_uploaded"], total["total_downloaded"]) == (20 * 222, 20 * 3000)
    assert logged == 60


async def test_batch_committed_before_a_lost_acknowledgement_is_not_written_twice(
    hub: Any, client: Client
) -> None:
    service = hub.tracker
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10**9)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started")
    await client.announce(member, torrent, pid, uploaded=5, downloaded=50)
    async with service._flush_lock:
        batch = service.tracker.accumulator.take()
        batch_id = uuid.uuid4()
        batch.announces = []
        assert await service._write("credits", batch_id, batch)
        # the retry finds its id and stops
        assert await service._write("credits", batch_id, batch)
    assert await stats(hub, member) == (5, 50)


async def test_member_created_without_a_message_is_known_from_the_next_announce(
    hub: Any, client: Client
) -> None:
    from tests.factories import make_user

    torrent = await make_torrent(hub)
    user = await make_user(hub)  # accounts creates members without an invalidation message
    first = await client.get(f"/announce/{user.passkey}", query(
        info_hash=torrent.info_hash, peer_id=peer_id(), port=50001, uploaded=0,
        downloaded=0, left=0))
    await wait_for(lambda: user.passkey in hub.tracker.tracker.caches.users_by_passkey)
    second = await client.get(f"/announce/{user.passkey}", query(
        info_hash=torrent.info_hash, peer_id=peer_id(), port=50001, uploaded=0,
        downloaded=0, left=0))
    assert first.failure is not None or second.failure is None
    assert second.failure is None
