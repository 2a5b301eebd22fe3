"""The live hub on a real socket: who may connect, what they may follow, resume, kicks."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
import socketio

from hub.accounts import actions
from hub.realtime import resume
from tests.factories import api_token
from tests.realtime.conftest import append, member
from tests.realtime.liveclient import LiveClient


def _torrent_stream() -> str:
    return f"torrent:{random.randint(10**9, 10**12)}"


async def test_member_with_a_session_cookie_connects(server: Any, hub: Any) -> None:
    alice = await member(hub)
    client = LiveClient(cookie=alice.token)
    await client.connect(server.base_url)
    try:
        assert client.sio.connected
        assert hub.sio.viewer(client.sio.get_sid()).user_id == alice.id
    finally:
        await client.close()


async def test_connection_without_credentials_is_refused_with_a_reason(server: Any) -> None:
    client = LiveClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.base_url)
    assert client.refusal == {
        "message": "Sign in to get live updates.",
        "data": {"code": "unauthenticated"},
    }


async def test_unknown_token_is_refused_with_a_reason(server: Any) -> None:
    client = LiveClient(token="not-a-real-token")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.base_url)
    assert client.refusal is not None
    assert client.refusal["data"] == {"code": "token_invalid"}
    assert "not valid" in client.refusal["message"]


async def test_api_token_needs_the_live_scope(server: Any, hub: Any) -> None:
    alice = await member(hub)
    narrow = LiveClient(token=await api_token(hub, alice.user, ["account:read"]))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await narrow.connect(server.base_url)
    assert narrow.refusal is not None
    assert narrow.refusal["data"] == {"code": "token_scope"}
    client = LiveClient(token=await api_token(hub, alice.user, ["live"]))
    await client.connect(server.base_url)
    try:
        ack = await client.subscribe({f"user:{alice.id}": None})
        assert ack["streams"][f"user:{alice.id}"]["ok"]
    finally:
        await client.close()


async def test_event_appended_after_subscribing_arrives_once(server: Any, hub: Any) -> None:
    alice = await member(hub)
    stream = f"user:{alice.id}"
    client = LiveClient(token=alice.token)
    await client.connect(server.base_url)
    try:
        ack = await client.subscribe({stream: None})
        assert ack["streams"][stream] == {"ok": True, "last_seq": 0}
        await append(hub, stream, 3)
        await client.wait_for(lambda: len(client.seqs(stream)) == 3)
        assert client.seqs(stream) == [1, 2, 3]
        assert client.raw_seqs(stream) == [1, 2, 3]
    finally:
        await client.close()


async def test_member_cannot_follow_another_members_stream_or_the_modqueue(
    server: Any, hub: Any
) -> None:
    alice, bob = await member(hub), await member(hub)
    client = LiveClient(token=alice.token)
    await client.connect(server.base_url)
    try:
        ack = await client.subscribe(
            {f"user:{bob.id}": None, "modqueue": None, "chat:staff": None, "nonsense": None}
        )
        results = ack["streams"]
        assert results[f"user:{bob.id}"]["error"] == "forbidden"
        assert results["modqueue"]["error"] == "forbidden"
        assert results["chat:staff"]["error"] == "forbidden"
        assert results["nonsense"]["error"] == "forbidden"
        # Refused joins leave the socket outside those rooms: bob's events do not reach it.
        await append(hub, f"user:{bob.id}", 1)
        await asyncio.sleep(0.3)
        assert client.raw_seqs(f"user:{bob.id}") == []
    finally:
        await client.close()


async def test_moderator_follows_the_modqueue_and_the_staff_room(server: Any, hub: Any) -> None:
    mod = await member(hub, "moderator")
    client = LiveClient(token=mod.token)
    await client.connect(server.base_url)
    try:
        ack = await client.subscribe({"modqueue": None, "chat:staff": None})
        assert ack["streams"]["modqueue"]["ok"]
        assert ack["streams"]["chat:staff"]["ok"]
    finally:
        await client.close()


async def test_revoked_session_drops_open_socket_at_once(server: Any, hub: Any) -> None:
    alice = await member(hub)
    client = LiveClient(cookie=alice.token)
    await client.connect(server.base_url)
    client.sio.reconnection = False
    await actions.revoke_session(hub, alice.id, alice.session_id)
    await asyncio.wait_for(client.disconnected.wait(), timeout=3)
    assert client.kicked == {"reason": "session revoked"}
    again = LiveClient(cookie=alice.token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect(server.base_url)
    assert again.refusal is not None
    assert again.refusal["data"] == {"code": "session_invalid"}


async def test_revoked_session_on_the_other_process_is_dropped_too(
    server: Any, hub: Any, second_web: Any
) -> None:
    alice = await member(hub)
    client = LiveClient(cookie=alice.token)
    await client.connect(second_web.url)
    client.sio.reconnection = False
    await actions.revoke_session(hub, alice.id, alice.session_id)
    await asyncio.wait_for(client.disconnected.wait(), timeout=3)
    assert client.kicked == {"reason": "session revoked"}


async def test_event_appended_through_one_process_reaches_a_client_on_the_other(
    server: Any, hub: Any, second_web: Any
) -> None:
    alice = await member(hub)
    stream = f"user:{alice.id}"
    client = LiveClient(token=alice.token)
    await client.connect(second_web.url)
    try:
        await client.subscribe({stream: None})
        await append(hub, stream, 5)
        await client.wait_for(lambda: len(client.seqs(stream)) == 5)
        assert client.raw_seqs(stream) == [1, 2, 3, 4, 5]
    finally:
        await client.close()


async def test_reconnecting_client_gets_the_fifty_it_missed_once_in_order(
    server: Any, hub: Any
) -> None:
    alice = await member(hub)
    streams = [f"user:{alice.id}", _torrent_stream()]
    client = LiveClient(token=alice.token)
    await client.connect(server.base_url)
    try:
        await client.subscribe(dict.fromkeys(streams))
        for stream in streams:
            await append(hub, stream, 2)
        await client.wait_for(lambda: all(len(client.seqs(s)) == 2 for s in streams))
        client.sio.reconnection = False
        await client.sio.disconnect()
        for stream in streams:
            await append(hub, stream, 25)
        client.sio.reconnection = True
        await client.connect(server.base_url)
        await client.wait_for(lambda: all(len(client.seqs(s)) == 27 for s in streams))
        for stream in streams:
            assert client.seqs(stream) == list(range(1, 28))
            # Nothing was sent twice either: the server replays only what is missing.
            assert client.raw_seqs(stream) == list(range(1, 28))
    finally:
        await client.close()


async def test_client_behind_the_trimmed_log_is_told_to_resync(server: Any, hub: Any) -> None:
    alice = await member(hub)
    stream = _torrent_stream()
    keep = hub.settings.event_log_keep
    async with hub.pool.acquire() as conn:
        # The whole history in one statement: the log only cares about sequences.
        await conn.execute(
            "INSERT INTO event_streams (stream, last_seq) VALUES ($1, $2)", stream, keep + 10
        )
        await conn.executemany(
            "INSERT INTO events (stream, seq, kind, payload) VALUES ($1, $2, 'test.tick', $3)",
            [(stream, seq, {"i": seq}) for seq in range(1, keep + 11)],
        )
    removed = await resume.trim_event_log(hub.pool, keep)
    assert removed >= 10
    async with hub.pool.acquire() as conn:
        oldest = await conn.fetchval("SELECT min(seq) FROM events WHERE stream = $1", stream)
    assert oldest == 11
    client = LiveClient(token=alice.token)
    await client.connect(server.base_url)
    try:
        ack = await client.subscribe({stream: 5})
        assert ack["streams"][stream] == {"ok": True, "last_seq": keep + 10}
        assert client.resyncs == [{"stream": stream, "last_seq": keep + 10}]
        assert client.raw_seqs(stream) == []
        other = LiveClient(token=alice.token)
        await other.connect(server.base_url)
        try:
            await other.subscribe({stream: 10})
            await other.wait_for(lambda: len(other.seqs(stream)) == keep)
            assert other.seqs(stream) == list(range(11, keep + 11))
            assert other.resyncs == []
        finally:
            await other.close()
    finally:
        await client.close()


async def test_torrent_page_gets_latest_counts_and_live_changes(server: Any, hub: Any) -> None:
    alice = await member(hub)
    torrent_id = random.randint(10**9, 10**12)
    latest = {"torrent_id": torrent_id, "seeders": 3, "leechers": 1, "completed": 7}
    await hub.redis.hset("hub:swarm", str(torrent_id), json.dumps(latest))
    page, browse = LiveClient(token=alice.token), LiveClient(token=alice.token)
    await page.connect(server.base_url)
    await browse.connect(server.base_url)
    try:
        await page.subscribe({f"torrent:{torrent_id}": None})
        await page.wait_for(lambda: ("counts", latest) in page.ephemeral)
        await browse.subscribe({"browse": None})
        ack = await browse.sio.call("counts", {"torrent_ids": [torrent_id]})
        assert ack == {"ok": True, "counts": {str(torrent_id): latest}}
        changed = dict(latest, seeders=4)
        for seeders in (4, 5):
            # As the tracker sends them: a list per flush.
            await hub.redis.publish(
                "hub:swarm-counts", json.dumps([dict(latest, seeders=seeders)])
            )
        await page.wait_for(lambda: ("counts", dict(latest, seeders=5)) in page.ephemeral)
        assert ("counts", changed) in page.ephemeral
        # The browse room gets one batch holding only the latest value.
        await browse.wait_for(
            lambda: any(e == "counts_batch" for e, _ in browse.ephemeral), within=3
        )
        batches = [d for e, d in browse.ephemeral if e == "counts_batch"]
        assert batches[0] == {"counts": [dict(latest, seeders=5)]}
    finally:
        await page.close()
        await browse.close()


async def test_chat_room_shows_who_is_online_and_who_is_typing(server: Any, hub: Any) -> None:
    alice, bob = await member(hub), await member(hub)
    a, b = LiveClient(token=alice.token), LiveClient(token=bob.token)
    await a.connect(server.base_url)
    await b.connect(server.base_url)
    try:
        await a.subscribe({"chat:lobby": None})
        await b.subscribe({"chat:lobby": None})

        def online(client: LiveClient) -> set[str]:
            lists = [d["users"] for e, d in client.ephemeral if e == "presence"]
            return {u["username"] for u in lists[-1]} if lists else set()

        names = {alice.user.username, bob.user.username}
        await a.wait_for(lambda: names <= online(a))
        ack = await b.sio.call("typing", {"stream": "chat:lobby", "typing": True})
        assert ack == {"ok": True}
        await a.wait_for(
            lambda: any(
                e == "typing" and d["username"] == bob.user.username for e, d in a.ephemeral
            )
        )
        await b.close()
        await a.wait_for(lambda: bob.user.username not in online(a))
    finally:
        await a.close()
        await b.close()


async def test_subscribe_rejects_malformed_requests_precisely(server: Any, hub: Any) -> None:
    alice = await member(hub)
    client = LiveClient(token=alice.token)
    await client.connect(server.base_url)
    try:
        ack = await client.sio.call("subscribe", {"streams": ["user:x"]})
        assert ack["ok"] is False and ack["error"] == "invalid" and ack["field"] == "streams"
        ack = await client.sio.call("subscribe", {"streams": {f"user:{alice.id}": "seven"}})
        assert ack["streams"][f"user:{alice.id}"]["error"] == "invalid"
    finally:
        await client.close()


async def test_demoted_moderator_is_taken_off_the_modqueue_at_once(server: Any, hub: Any) -> None:
    from hub import policy

    mod = await member(hub, "moderator")
    sysop = await member(hub, "sysop")
    actor = policy.Viewer(
        user_id=sysop.id,
        username=sysop.user.username,
        group_slug="sysop",
        level=300,
        rights=frozenset(policy.RIGHTS),
    )
    client = LiveClient(token=mod.token)
    await client.connect(server.base_url)
    ack = await client.subscribe({"modqueue": None, f"user:{mod.id}": None})
    assert ack["streams"]["modqueue"]["ok"]
    await actions.set_user_group(hub, actor, mod.id, "member", ip=None)
    await client.wait_for(lambda: any(e == "unsubscribed" for e, _ in client.ephemeral))
    assert ("unsubscribed", {
        "stream": "modqueue",
        "error": "forbidden",
        "message": "You may not follow this stream.",
    }) in client.ephemeral
    assert client.sio.connected, "still signed in: only the stream is gone"
    assert hub.sio.viewer(client.sio.get_sid()).is_moderator is False
    await append(hub, "modqueue", 1)
    await append(hub, f"user:{mod.id}", 1)
    await client.wait_for(lambda: client.seqs(f"user:{mod.id}") == [1])
    assert client.raw_seqs("modqueue") == []


async def test_pages_of_other_sites_cannot_open_a_socket_with_the_members_cookie(
    server: Any, hub: Any
) -> None:
    alice = await member(hub)
    evil = LiveClient(cookie=alice.token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await evil.connect(server.base_url, headers={"Origin": "https://evil.example"})
    own = LiveClient(cookie=alice.token)
    await own.connect(server.base_url, headers={"Origin": server.base_url})
    assert own.sio.connected


async def test_events_from_a_process_without_the_web_role_reach_sockets(
    server: Any, hub: Any, settings: Any
) -> None:
    """A worker has no Socket.IO server: its events go out through a write-only manager."""
    from hub.app import Hub
    from hub.realtime import events

    alice = await member(hub)
    stream = f"user:{alice.id}"
    client = LiveClient(token=alice.token)
    await client.connect(server.base_url)
    await client.subscribe({stream: None})
    saved_emitter = events.current_emitter()
    worker = Hub(settings, frozenset(), migrate_on_start=False)
    await worker.start()  # events are module-wide: the in-process site is restored below
    try:
        assert isinstance(events.current_emitter(), socketio.AsyncRedisManager)
        await append(worker, stream, 2)
    finally:
        await worker.stop()
        events.configure(hub)
        events.set_emitter(saved_emitter)
    await client.wait_for(lambda: client.seqs(stream) == [1, 2])


async def test_member_banned_by_an_admin_is_dropped_at_once_and_cannot_reconnect(
    server: Any, hub: Any
) -> None:
    from hub.accounts import auth

    admin = await member(hub, "administrator")
    admin_viewer = await auth.viewer_for_session_token(hub, admin.token)
    assert admin_viewer is not None and admin_viewer.is_admin
    alice = await member(hub)
    client = LiveClient(cookie=alice.token)
    await client.connect(server.base_url)
    await client.subscribe({f"user:{alice.id}": None})
    client.sio.reconnection = False
    # A socket opened with an API token has no session: the member-wide kick drops it.
    scripted = LiveClient(token=await api_token(hub, alice.user, ["live"]))
    await scripted.connect(server.base_url)
    scripted.sio.reconnection = False
    await actions.ban_user(hub, admin_viewer, alice.id, reason="ratio cheat", ip=None)
    await asyncio.wait_for(client.disconnected.wait(), timeout=3)
    assert client.kicked == {"reason": "account banned"}
    assert not client.sio.connected
    await asyncio.wait_for(scripted.disconnected.wait(), timeout=3)
    assert scripted.kicked == {"reason": "account banned"}
    again = LiveClient(cookie=alice.token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect(server.base_url)
    assert again.refusal == {
        "message": "This account is banned.",
        "data": {"code": "session_invalid"},
    }


async def test_forged_forwarded_headers_from_an_untrusted_peer_do_not_widen_the_origin_check(
    server: Any, hub: Any
) -> None:
    assert "127.0.0.1" not in hub.settings.trusted_proxies
    alice = await member(hub)
    site = server.base_url  # http://127.0.0.1:<port>
    forged = [
        {"Origin": site.replace("http://", "https://"), "X-Forwarded-Proto": "https"},
        {
            "Origin": "https://evil.example",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
        },
    ]
    for headers in forged:
        client = LiveClient(cookie=alice.token)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(site, headers=headers)
    own = LiveClient(cookie=alice.token)
    await own.connect(site, headers={"Origin": site, "X-Forwarded-Proto": "https"})
    assert own.sio.connected


def test_forwarded_scheme_and_host_count_only_from_a_trusted_proxy(hub: Any) -> None:
    from dataclasses import replace
    from types import SimpleNamespace

    from hub.realtime.server import _origin_checker

    behind_proxy = SimpleNamespace(
        settings=replace(
            hub.settings, base_url="http://127.0.0.1:8000", trusted_proxies=("10.0.0.1",)
        )
    )
    allowed = _origin_checker(behind_proxy)

    def handshake(peer: str, **headers: str) -> dict[str, Any]:
        environ = {"HTTP_HOST": "127.0.0.1:8000"}
        environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        # engineio's own (untrusting) copy of the forwarded scheme:
        environ["wsgi.url_scheme"] = headers.get("x_forwarded_proto", "http")
        return {**environ, "asgi.scope": {"scheme": "ws", "client": (peer, 40000)}}

    forwarded = {"x_forwarded_proto": "https", "x_forwarded_host": "hub.example"}
    assert allowed("https://hub.example", handshake("10.0.0.1", **forwarded))
    assert not allowed("https://hub.example", handshake("10.0.0.2", **forwarded))
    assert not allowed("https://127.0.0.1:8000", handshake("10.0.0.2", **forwarded))
    # The browser's own entry is not believed, only the one the proxy appended.
    appended = {"x_forwarded_proto": "https, http", "x_forwarded_host": "evil.example, hub.example"}
    assert not allowed("https://evil.example", handshake("10.0.0.1", **appended))
    assert allowed("http://hub.example", handshake("10.0.0.1", **appended))
    assert allowed("http://127.0.0.1:8000", handshake("10.0.0.2"))
