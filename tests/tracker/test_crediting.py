"""Crediting: deltas against the last announce, restarts, torrent flags, dual stack, and the
rows the flusher leaves in Postgres."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub import db
from tests.tracker.conftest import (
    Client,
    Member,
    Torrent,
    flush,
    make_member,
    make_torrent,
    peer_id,
)

GIB = 1 << 30


async def stats(hub: Any, member: Member) -> tuple[int, int]:
    async with hub.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT uploaded, downloaded FROM user_statistics WHERE user_id = $1", member.id)
    return (row["uploaded"], row["downloaded"]) if row else (0, 0)


async def history(hub: Any, member: Member, torrent: Torrent) -> Any:
    async with hub.pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT * FROM torrent_history WHERE user_id = $1 AND torrent_id = $2",
            member.id, torrent.id)


async def transfer(client: Client, member: Member, torrent: Torrent, up: int, down: int) -> None:
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=torrent.size)
    await client.announce(member, torrent, pid, uploaded=up, downloaded=down,
                          left=torrent.size - down)


async def test_deltas_are_credited_once_per_step(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=torrent.size)
    await client.announce(member, torrent, pid, uploaded=100, downloaded=1000,
                          left=torrent.size - 1000)
    await client.announce(member, torrent, pid, uploaded=300, downloaded=5000,
                          left=torrent.size - 5000)
    await flush(hub)
    assert await stats(hub, member) == (300, 5000)
    row = await history(hub, member, torrent)
    assert (row["uploaded"], row["downloaded"]) == (300, 5000)
    assert (row["credited_uploaded"], row["credited_downloaded"]) == (300, 5000)
    assert row["is_active"] and not row["is_seeder"]


async def test_client_restart_credits_nothing_for_that_step(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=torrent.size)
    await client.announce(member, torrent, pid, uploaded=500, downloaded=800, left=1)
    # totals went down: the client restarted; this step counts 0, the next counts from here
    await client.announce(member, torrent, pid, uploaded=50, downloaded=60, left=1)
    await client.announce(member, torrent, pid, uploaded=70, downloaded=100, left=1)
    await flush(hub)
    assert await stats(hub, member) == (520, 840)


async def test_freeleech_credits_upload_but_not_download(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB, is_freeleech=True)
    await transfer(client, member, torrent, 100, 4000)
    await flush(hub)
    assert await stats(hub, member) == (100, 0)
    row = await history(hub, member, torrent)
    assert row["downloaded"] == 4000 and row["credited_downloaded"] == 0


async def test_expired_freeleech_counts_download_again(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    torrent = await make_torrent(hub, size=10 * GIB, is_freeleech=True, freeleech_until=past)
    await transfer(client, member, torrent, 0, 4000)
    await flush(hub)
    assert await stats(hub, member) == (0, 4000)


async def test_neutral_leech_credits_neither_way(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB, is_neutral_leech=True)
    await transfer(client, member, torrent, 700, 4000)
    await flush(hub)
    assert await stats(hub, member) == (0, 0)
    row = await history(hub, member, torrent)
    assert (row["uploaded"], row["downloaded"]) == (700, 4000)


async def test_double_upload_credits_twice_the_upload(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB, is_double_upload=True)
    await transfer(client, member, torrent, 700, 4000)
    await flush(hub)
    assert await stats(hub, member) == (1400, 4000)


async def test_site_wide_freeleech_window_applies_to_every_torrent(
    hub: Any, client: Client
) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB)
    async with db.transaction(hub.pool) as conn:
        window_id = await conn.fetchval(
            """INSERT INTO site_freeleech (starts_at, ends_at, reason)
               VALUES (now() - interval '1 minute', now() + interval '1 hour', 'test')
               RETURNING id""")
    await hub.tracker.apply_invalidation('{"kind": "site_freeleech"}')
    try:
        await transfer(client, member, torrent, 100, 4000)
        await flush(hub)
        assert await stats(hub, member) == (100, 0)
    finally:
        async with db.transaction(hub.pool) as conn:
            await conn.execute("DELETE FROM site_freeleech WHERE id = $1", window_id)
        await hub.tracker.apply_invalidation('{"kind": "site_freeleech"}')


async def test_announcing_faster_than_min_interval_is_answered_not_credited_twice(
    hub: Any, client: Client
) -> None:
    tracker = hub.tracker.tracker
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=torrent.size)
    tracker._min_interval = 300
    try:
        reply = await client.announce(member, torrent, pid, uploaded=100, downloaded=200, left=5)
        assert reply.failure is None and "too often" in (reply.warning or "")
        reply = await client.announce(member, torrent, pid, uploaded=100, downloaded=200, left=5)
        assert "too often" in (reply.warning or "")
    finally:
        tracker._min_interval = 0
    await client.announce(member, torrent, pid, uploaded=100, downloaded=200, left=5)
    await flush(hub)
    assert await stats(hub, member) == (100, 200)


async def test_dual_stack_client_is_one_peer_credited_once(
    hub: Any, client: Client, client6: Client
) -> None:
    member, other = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, size=10 * GIB)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=torrent.size, port=45001)
    await client6.announce(member, torrent, pid, event="started", left=torrent.size, port=45001)
    await client.announce(member, torrent, pid, uploaded=10, downloaded=1000, left=9, port=45001)
    await client6.announce(member, torrent, pid, uploaded=10, downloaded=1000, left=9, port=45001)
    reply = await client.announce(other, torrent, peer_id(), event="started", left=0)
    assert reply.data[b"incomplete"] == 1
    assert reply.peers() == [("127.0.0.1", 45001)]
    assert reply.peers6() == [("::1", 45001)]
    await flush(hub)
    assert await stats(hub, member) == (10, 1000)
    async with hub.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT host(ip) AS ip, host(ipv6) AS ipv6 FROM peers WHERE user_id = $1", member.id)
    assert (row["ip"], row["ipv6"]) == ("127.0.0.1", "::1")


async def test_ipv6_peers_are_returned_in_peers6(hub: Any, client: Client, client6: Client) -> None:
    seeder, leecher = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub)
    reply = await client6.announce(seeder, torrent, peer_id(), event="started", left=0, port=46001)
    assert reply.failure is None and reply.keys_sorted_and_canonical()
    reply = await client.announce(leecher, torrent, peer_id(), event="started", port=46002)
    assert reply.peers() == [] and reply.peers6() == [("::1", 46001)]
    reply = await client6.announce(leecher, torrent, peer_id(), event="started", port=46003)
    assert reply.peers6() == [("::1", 46001)]


async def test_flush_writes_peers_history_statistics_and_announce_log(
    hub: Any, client: Client
) -> None:
    seeder, leecher = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, size=5000)
    spid, lpid = peer_id(), peer_id()
    await client.announce(seeder, torrent, spid, event="started", left=0)
    await client.announce(leecher, torrent, lpid, event="started", left=5000)
    await client.announce(seeder, torrent, spid, uploaded=5000, left=0)
    await client.announce(leecher, torrent, lpid, event="completed", downloaded=5000, left=0)
    await flush(hub)
    async with hub.pool.acquire() as conn:
        peers = await conn.fetch("SELECT * FROM peers WHERE torrent_id = $1", torrent.id)
        ts = await conn.fetchrow("SELECT * FROM torrent_statistics WHERE torrent_id = $1",
                                 torrent.id)
        log = await conn.fetchval("SELECT count(*) FROM announces WHERE torrent_id = $1",
                                  torrent.id)
        snatched = await conn.fetchval(
            "SELECT torrents_snatched FROM user_statistics WHERE user_id = $1", leecher.id)
        seeding = await conn.fetchval(
            "SELECT seeding_count FROM user_statistics WHERE user_id = $1", leecher.id)
    assert len(peers) == 2 and all(p["is_seeder"] for p in peers)
    assert (ts["seeders"], ts["leechers"], ts["times_completed"]) == (2, 0, 1)
    assert (ts["total_uploaded"], ts["total_downloaded"]) == (5000, 5000)
    assert log == 4 and snatched == 1 and seeding == 1
    await client.announce(leecher, torrent, lpid, event="stopped", downloaded=5000, left=0)
    await flush(hub)
    async with hub.pool.acquire() as conn:
        left = await conn.fetchval("SELECT count(*) FROM peers WHERE torrent_id = $1", torrent.id)
        active = await conn.fetchval(
            "SELECT is_active FROM torrent_history WHERE user_id = $1 AND torrent_id = $2",
            leecher.id, torrent.id)
    assert left == 1 and active is False


async def test_seed_time_accrues_for_hit_and_run(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=5000)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=0)
    peer = hub.tracker.tracker.swarms[torrent.id].peers[pid]
    peer.last -= 600  # as if the last announce were ten minutes ago
    await client.announce(member, torrent, pid, left=0)
    await flush(hub)
    row = await history(hub, member, torrent)
    assert 600 <= row["seed_time_seconds"] <= 605
