"""Announce conformance: what a torrent client sees for each rule."""

from __future__ import annotations

from typing import Any

from tests.tracker.conftest import (
    Client,
    flush,
    make_member,
    make_torrent,
    peer_id,
    query,
    update_member,
    update_torrent,
)


async def test_first_announce_gets_sorted_compact_reply_with_counts(
    hub: Any, client: Client
) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    reply = await client.announce(member, torrent, peer_id(), event="started", left=0)
    assert reply.status == 200
    assert reply.failure is None, reply.failure
    assert reply.keys_sorted_and_canonical()
    data = reply.data
    assert list(data) == [b"complete", b"downloaded", b"incomplete", b"interval",
                          b"min interval", b"peers", b"peers6"]
    assert data[b"complete"] == 1 and data[b"incomplete"] == 0
    assert data[b"peers"] == b"" and data[b"peers6"] == b""
    interval = hub.settings.announce_interval
    assert interval <= data[b"interval"] <= interval * 1.1


async def test_second_member_gets_first_members_address(hub: Any, client: Client) -> None:
    seeder, leecher = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, seeder)
    await client.announce(seeder, torrent, peer_id(), event="started", left=0, port=40001)
    reply = await client.announce(leecher, torrent, peer_id(), event="started", port=40002)
    assert reply.peers() == [("127.0.0.1", 40001)]
    assert reply.data[b"complete"] == 1 and reply.data[b"incomplete"] == 1


async def test_seeder_is_not_handed_other_seeders(hub: Any, client: Client) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a)
    await client.announce(a, torrent, peer_id(), event="started", left=0, port=40001)
    reply = await client.announce(b, torrent, peer_id(), event="started", left=0, port=40002)
    assert reply.peers() == []


async def test_member_never_gets_own_other_clients(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    await client.announce(member, torrent, peer_id(), event="started", port=40001)
    reply = await client.announce(member, torrent, peer_id(), event="started", port=40002)
    assert reply.failure is None
    assert reply.peers() == []
    assert reply.data[b"incomplete"] == 2


async def test_numwant_is_honoured_within_the_cap(hub: Any, client: Client) -> None:
    torrent = await make_torrent(hub)
    members = [await make_member(hub) for _ in range(6)]
    for i, m in enumerate(members[:5]):
        await client.announce(m, torrent, peer_id(), event="started", port=41000 + i)
    reply = await client.announce(members[5], torrent, peer_id(), event="started", numwant=3)
    assert len(reply.peers()) == 3
    reply = await client.announce(members[5], torrent, peer_id(), numwant=0)
    assert reply.peers() == []
    reply = await client.announce(members[5], torrent, peer_id(), numwant=10**6)
    assert len(reply.peers()) == 5


async def test_compact_zero_is_still_answered_compact(hub: Any, client: Client) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a)
    await client.announce(a, torrent, peer_id(), event="started", left=0, port=40001)
    reply = await client.announce(b, torrent, peer_id(), event="started", compact=0)
    assert isinstance(reply.data[b"peers"], bytes)
    assert reply.peers() == [("127.0.0.1", 40001)]


async def test_ip_parameters_are_ignored(hub: Any, client: Client) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a)
    await client.announce(a, torrent, peer_id(), event="started", left=0, port=40001,
                          ip="10.9.9.9", ipv4="10.9.9.8", ipv6="fe80::1")
    reply = await client.announce(b, torrent, peer_id(), event="started")
    assert reply.peers() == [("127.0.0.1", 40001)]
    assert reply.peers6() == []


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(hub: Any, client: Client) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a)
    await client.announce(a, torrent, peer_id(), event="started", left=0, port=40001,
                          headers={"X-Forwarded-For": "203.0.113.9"})
    reply = await client.announce(b, torrent, peer_id(), event="started")
    assert reply.peers() == [("127.0.0.1", 40001)]


async def test_rightmost_forwarded_for_is_used_behind_a_trusted_proxy(
    hub: Any, client: Client
) -> None:
    service = hub.tracker
    saved = service._trusted
    service._trusted = service._parse_trusted(("127.0.0.0/8",))
    try:
        a, b = await make_member(hub), await make_member(hub)
        torrent = await make_torrent(hub, a)
        await client.announce(a, torrent, peer_id(), event="started", left=0, port=40001,
                              headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
        reply = await client.announce(b, torrent, peer_id(), event="started")
        assert reply.peers() == [("203.0.113.9", 40001)]
    finally:
        service._trusted = saved


# --- one failure reason each -------------------------------------------------------------

async def _fail(client: Client, member: Any, torrent: Any, **kw: Any) -> str:
    reply = await client.announce(member, torrent, peer_id(), **kw)
    assert reply.status == 200
    assert reply.keys_sorted_and_canonical()
    assert b"interval" in reply.data
    assert reply.failure is not None, reply.data
    return reply.failure


async def test_unknown_passkey_fails(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    member.passkey = "0" * 32
    assert "unknown passkey" in await _fail(client, member, torrent)


async def test_banned_and_disabled_members_fail(hub: Any, client: Client) -> None:
    banned = await make_member(hub)
    torrent = await make_torrent(hub, banned)
    await update_member(hub, banned, is_banned=True)
    assert "disabled" in await _fail(client, banned, torrent)


async def test_member_without_download_right_may_seed_but_not_leech(
    hub: Any, client: Client
) -> None:
    member = await make_member(hub, group="leech")
    torrent = await make_torrent(hub, member)
    assert "may not download" in await _fail(client, member, torrent, event="started")
    reply = await client.announce(member, torrent, peer_id(), event="started", left=0)
    assert reply.failure is None


async def test_missing_and_malformed_fields_fail_precisely(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    path = f"/announce/{member.passkey}"
    pid = peer_id()
    base = dict(info_hash=torrent.info_hash, peer_id=pid, port=50000, uploaded=0,
                downloaded=0, left=0)
    cases = {
        "missing info_hash": {**base, "info_hash": None},
        "invalid info_hash": {**base, "info_hash": b"short"},
        "missing peer_id": {**base, "peer_id": None},
        "invalid peer_id": {**base, "peer_id": b"x" * 21},
        "missing port": {**base, "port": None},
        "invalid port": {**base, "port": "-5"},
        "invalid uploaded": {**base, "uploaded": "1e9"},
        "missing left": {**base, "left": None},
        "invalid event": {**base, "event": "exploded"},
    }
    for expected, params in cases.items():
        reply = await client.get(path, query(**params))
        assert reply.failure is not None and expected in reply.failure, (expected, reply.data)


async def test_unknown_rejected_and_deleted_torrents_fail_with_reason(
    hub: Any, client: Client
) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    assert "unregistered" in await _fail(client, member, torrent, info_hash=b"\x01" * 20)
    rejected = await make_torrent(hub, member, status="rejected", moderation_reason="bad rip")
    assert await _fail(client, member, rejected) == "torrent rejected: bad rip"
    await update_torrent(hub, torrent, is_deleted=True, deleted_reason="dupe of 12")
    assert await _fail(client, member, torrent) == "torrent deleted: dupe of 12"


async def test_pending_torrent_is_answered_with_a_warning(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member, status="pending")
    reply = await client.announce(member, torrent, peer_id(), event="started", left=0)
    assert reply.failure is None
    assert reply.warning == "torrent is pending moderation"
    assert reply.keys_sorted_and_canonical()


async def test_client_not_on_whitelist_fails(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    reply = await client.announce(member, torrent, peer_id(b"-XX0001-"))
    assert reply.failure is not None and "whitelist" in reply.failure


async def test_browser_user_agent_fails(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}
    assert "browsers" in await _fail(client, member, torrent, headers=ua)


async def test_low_and_blacklisted_ports_fail(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    assert "port 80 is not allowed" in await _fail(client, member, torrent, port=80)
    assert "port 6881 is blacklisted" in await _fail(client, member, torrent, port=6881)


async def test_too_many_clients_on_one_torrent_fails(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    limit = hub.settings.max_peers_per_user_torrent
    for i in range(limit):
        reply = await client.announce(member, torrent, peer_id(), event="started", port=42000 + i)
        assert reply.failure is None
    assert "too many clients" in await _fail(client, member, torrent, event="started")


async def test_peer_id_of_another_member_fails(hub: Any, client: Client) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a)
    pid = peer_id()
    await client.announce(a, torrent, pid, event="started")
    reply = await client.announce(b, torrent, pid, event="started")
    assert reply.failure is not None and "in use" in reply.failure


async def test_full_download_slots_warn_and_hand_out_no_peers(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    entry = hub.tracker.tracker.caches.users[member.id]
    entry.max_slots = 1
    first, second = await make_torrent(hub), await make_torrent(hub)
    assert (await client.announce(member, first, peer_id(), event="started")).failure is None
    reply = await client.announce(member, second, peer_id(), event="started")
    assert reply.failure is None
    assert reply.warning is not None and "download slots" in reply.warning
    assert hub.tracker.tracker.swarms.get(second.id) is None or not (
        hub.tracker.tracker.swarms[second.id].peers)


# --- events ---------------------------------------------------------------------------------

async def test_stopped_removes_the_peer_and_returns_no_peers(hub: Any, client: Client) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a)
    await client.announce(a, torrent, peer_id(), event="started", left=0, port=40001)
    pid = peer_id()
    await client.announce(b, torrent, pid, event="started")
    reply = await client.announce(b, torrent, pid, event="stopped")
    assert reply.failure is None and reply.peers() == []
    assert reply.data[b"incomplete"] == 0 and reply.data[b"complete"] == 1


async def test_stopped_from_unknown_peer_is_a_warning(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, member)
    reply = await client.announce(member, torrent, peer_id(), event="stopped")
    assert reply.failure is None
    assert reply.warning == "stopped from an unknown peer"


async def test_completed_makes_the_peer_a_seeder_and_one_snatch(hub: Any, client: Client) -> None:
    member = await make_member(hub)
    torrent = await make_torrent(hub, size=1000)
    pid = peer_id()
    await client.announce(member, torrent, pid, event="started", left=1000)
    reply = await client.announce(member, torrent, pid, event="completed", left=0, downloaded=1000)
    assert reply.data[b"complete"] == 1 and reply.data[b"incomplete"] == 0
    # a second completed (re-check, re-download) is not a second snatch
    await client.announce(member, torrent, pid, event="completed", left=0, downloaded=1000)
    await flush(hub)
    async with hub.pool.acquire() as conn:
        snatches = await conn.fetchval(
            "SELECT count(*) FROM snatches WHERE user_id = $1 AND torrent_id = $2",
            member.id, torrent.id)
        completed = await conn.fetchval(
            "SELECT times_completed FROM torrent_statistics WHERE torrent_id = $1", torrent.id)
    assert snatches == 1 and completed == 1
    reply = await client.announce(member, torrent, pid, left=0, downloaded=1000)
    assert reply.data[b"downloaded"] == 1


async def test_hybrid_torrent_answers_to_its_truncated_v2_hash_in_the_same_swarm(
    hub: Any, client: Client
) -> None:
    a, b = await make_member(hub), await make_member(hub)
    torrent = await make_torrent(hub, a, v2=True)
    async with hub.pool.acquire() as conn:
        v2 = await conn.fetchval("SELECT info_hash_v2 FROM torrents WHERE id = $1", torrent.id)
    await client.announce(a, torrent, peer_id(), event="started", left=0, port=40011)
    reply = await client.announce(b, torrent, peer_id(), event="started", info_hash=v2[:20])
    assert reply.failure is None
    assert reply.peers() == [("127.0.0.1", 40011)]
    assert reply.data[b"complete"] == 1 and reply.data[b"incomplete"] == 1
