"""Daily and weekly cleanup on real rows: sessions, stale peers, chat, the event log."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hub import db
from hub.realtime import events
from hub.tasks import cleanup, freeleech
from tests.factories import make_user
from tests.tasks.data import context, make_peer, make_torrent


async def _session(hub: Any, user_id: Any, *, expires_days: float, revoked_days: float | None
                   ) -> Any:
    return await hub.pool.fetchval(
        """INSERT INTO user_sessions (user_id, token_hash, expires_at, revoked_at)
           VALUES ($1, $2, now() + make_interval(days => $3),
                   CASE WHEN $4::float8 IS NULL THEN NULL
                        ELSE now() - make_interval(secs => $4::float8 * 86400) END)
           RETURNING id""",
        user_id, uuid.uuid4().bytes + uuid.uuid4().bytes, int(expires_days), revoked_days,
    )


async def test_sessions_expired_or_revoked_long_ago_are_deleted_and_recent_ones_kept(
    hub: Any,
) -> None:
    user = await make_user(hub)
    long_expired = await _session(hub, user.id, expires_days=-40, revoked_days=None)
    long_revoked = await _session(hub, user.id, expires_days=10, revoked_days=35)
    just_revoked = await _session(hub, user.id, expires_days=10, revoked_days=1)
    live = await _session(hub, user.id, expires_days=10, revoked_days=None)

    result = await cleanup.expire_sessions(context(hub, session_retention_days=30))

    left = {r["id"] for r in await hub.pool.fetch(
        "SELECT id FROM user_sessions WHERE user_id = $1", user.id)}
    assert long_expired not in left and long_revoked not in left
    assert {just_revoked, live} <= left
    assert result is not None and result["sessions_deleted"] >= 2


async def test_peers_that_stopped_announcing_are_deleted_and_their_history_goes_inactive(
    hub: Any,
) -> None:
    user = await make_user(hub)
    torrent = await make_torrent(hub)
    other = await make_torrent(hub)
    await make_peer(hub, user.id, torrent, seconds_ago=4000)
    await make_peer(hub, user.id, other, seconds_ago=10)
    await hub.pool.execute(
        """INSERT INTO torrent_history (user_id, torrent_id, is_active, is_seeder)
           VALUES ($1, $2, true, true), ($1, $3, true, true)""",
        user.id, torrent, other,
    )

    await cleanup.expire_stale_peers(context(hub, hub_settings={"peer_expiry_seconds": 2700}))

    peers = await hub.pool.fetch("SELECT torrent_id FROM peers WHERE user_id = $1", user.id)
    assert [p["torrent_id"] for p in peers] == [other]
    active = dict(await hub.pool.fetch(
        "SELECT torrent_id, is_active FROM torrent_history WHERE user_id = $1", user.id))
    assert active == {torrent: False, other: True}


async def _chat(hub: Any, user_id: Any, days_old: float, body: str) -> int:
    return int(await hub.pool.fetchval(
        """INSERT INTO chat_messages (room_id, user_id, body, created_at)
           VALUES ((SELECT id FROM chat_rooms WHERE slug = 'lobby'), $1, $2,
                   now() - make_interval(secs => $3 * 86400))
           RETURNING id""",
        user_id, body, float(days_old),
    ))


async def test_weekly_chat_archival_moves_old_messages_and_keeps_recent_ones(hub: Any) -> None:
    user = await make_user(hub)
    old = await _chat(hub, user.id, 120, "hello from the past")
    recent = await _chat(hub, user.id, 2, "hello from this week")

    result = await cleanup.archive_chat(context(hub, chat_retention_days=90))

    assert await hub.pool.fetchval("SELECT count(*) FROM chat_messages WHERE id = $1", old) == 0
    archived = await hub.pool.fetchrow("SELECT * FROM chat_messages_archive WHERE id = $1", old)
    assert archived["body"] == "hello from the past" and archived["user_id"] == user.id
    assert await hub.pool.fetchval(
        "SELECT count(*) FROM chat_messages WHERE id = $1", recent) == 1
    assert result is not None and result["chat_messages_archived"] >= 1


async def test_chat_archival_in_delete_mode_keeps_no_copy(hub: Any) -> None:
    user = await make_user(hub)
    old = await _chat(hub, user.id, 400, "gone for good")

    await cleanup.archive_chat(context(hub, chat_retention_days=365, chat_archive_mode="delete"))

    assert await hub.pool.fetchval("SELECT count(*) FROM chat_messages WHERE id = $1", old) == 0
    assert await hub.pool.fetchval(
        "SELECT count(*) FROM chat_messages_archive WHERE id = $1", old) == 0


async def test_event_log_trimming_keeps_the_last_events_of_each_stream(hub: Any) -> None:
    stream = f"test:{uuid.uuid4().hex[:8]}"
    for i in range(5):
        async with db.transaction(hub.pool) as conn:
            await events.append(conn, stream, "tick", {"i": i})

    await cleanup.trim_events(context(hub, hub_settings={"event_log_keep": 2}))

    seqs = [r["seq"] for r in await hub.pool.fetch(
        "SELECT seq FROM events WHERE stream = $1 ORDER BY seq", stream)]
    assert seqs == [4, 5]


async def test_timed_freeleech_ends_and_the_tracker_is_told(hub: Any) -> None:
    ended = await make_torrent(hub, is_freeleech=True)
    await hub.pool.execute(
        "UPDATE torrents SET freeleech_until = now() - interval '1 minute' WHERE id = $1", ended)
    running = await make_torrent(hub, is_freeleech=True)
    await hub.pool.execute(
        "UPDATE torrents SET freeleech_until = now() + interval '1 day' WHERE id = $1", running)

    await freeleech.freeleech_upkeep(context(hub))

    flags = dict(await hub.pool.fetch(
        "SELECT id, is_freeleech FROM torrents WHERE id = ANY($1::bigint[])", [ended, running]))
    assert flags == {ended: False, running: True}
    kinds = [r["kind"] for r in await hub.pool.fetch(
        "SELECT kind FROM events WHERE stream = $1", f"torrent:{ended}")]
    assert "freeleech_ended" in kinds


async def test_a_new_site_freeleech_window_is_published_to_trackers(hub: Any) -> None:
    # A window in the future: an active one would change crediting in other tests.
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe("hub:tracker-invalidate")
    await freeleech.freeleech_upkeep(context(hub))  # settle the fingerprint
    window = await hub.pool.fetchval(
        """INSERT INTO site_freeleech (starts_at, ends_at, is_double_upload, reason)
           VALUES (now() + interval '300 days', now() + interval '301 days', true, 'test')
           RETURNING id""")
    try:
        result = await freeleech.freeleech_upkeep(context(hub))
        assert result is not None and result["windows_changed"] is True
        state = json.loads(await hub.redis.get(freeleech.STATE_KEY))
        assert state["freeleech"] is False  # announced ahead, not active yet
        seen = []
        for _ in range(50):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message:
                seen.append(json.loads(message["data"]))
            if {"kind": "site_freeleech"} in seen:
                break
        assert {"kind": "site_freeleech"} in seen
    finally:
        await hub.pool.execute("DELETE FROM site_freeleech WHERE id = $1", window)
        await freeleech.freeleech_upkeep(context(hub))
        await pubsub.unsubscribe()
        await pubsub.aclose()

