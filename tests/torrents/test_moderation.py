"""Moderating uploads: approve, reject with a reason, postpone, and one winner in a race."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.factories import csrf_headers, login, make_moderator, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, logged_in, upload


async def _pending(hub: Any, http: aiohttp.ClientSession) -> tuple[Any, int]:
    member = await make_user(hub)
    await login(http, member)
    status, body = await upload(http, v1_torrent(), await category_id(hub))
    assert status == 201 and body["status"] == "pending"
    return member, body["id"]


async def _post(
    session: aiohttp.ClientSession, path: str, json: Any = None
) -> tuple[int, dict[str, Any]]:
    async with session.post(path, json=json, headers=csrf_headers(session)) as r:
        return r.status, await r.json()


async def test_two_moderators_approving_at_once_get_one_success_and_one_conflict(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    _member, torrent_id = await _pending(hub, http)
    first = await logged_in(server, await make_moderator(hub))
    second = await logged_in(server, await make_moderator(hub))
    try:
        results = await asyncio.gather(
            _post(first, f"/api/v1/torrents/{torrent_id}/approve"),
            _post(second, f"/api/v1/torrents/{torrent_id}/approve"),
        )
    finally:
        await first.close()
        await second.close()
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    loser = next(body for status, body in results if status == 409)
    assert "already approved" in loser["error"]
    async with hub.pool.acquire() as conn:
        approvals = await conn.fetchval(
            "SELECT count(*) FROM torrent_moderation WHERE torrent_id = $1 AND action = 'approved'",
            torrent_id,
        )
        audits = await conn.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'torrent.approve' AND target_id = $1",
            str(torrent_id),
        )
        queue_status = await conn.fetchval(
            "SELECT status FROM moderation_queue WHERE item_type = 'torrent' AND item_id = $1",
            torrent_id,
        )
        indexed = await conn.fetchval(
            "SELECT count(*) FROM search_index_queue WHERE entity_type = 'torrent' "
            "AND entity_id = $1",
            str(torrent_id),
        )
    assert (approvals, audits, queue_status, indexed) == (1, 1, "resolved", 1)


async def test_approval_writes_events_and_notifies_the_uploader(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    member, torrent_id = await _pending(hub, http)
    mod = await logged_in(server, await make_moderator(hub))
    try:
        status, _ = await _post(mod, f"/api/v1/torrents/{torrent_id}/approve")
    finally:
        await mod.close()
    assert status == 200
    async with hub.pool.acquire() as conn:
        kinds = await conn.fetch(
            "SELECT kind FROM events WHERE stream = $1 ORDER BY seq", f"torrent:{torrent_id}"
        )
        modqueue = await conn.fetch(
            "SELECT kind, payload FROM events WHERE stream = 'modqueue' "
            "AND (payload->>'item_id')::bigint = $1 AND payload->>'item_type' = 'torrent' "
            "ORDER BY seq",
            torrent_id,
        )
        note = await conn.fetchval(
            "SELECT kind FROM notifications WHERE user_id = $1 AND kind = 'torrent_approved'",
            member.id,
        )
    assert [k["kind"] for k in kinds] == ["torrent_created", "moderation"]
    assert [m["kind"] for m in modqueue] == ["item_added", "item_resolved"]
    added = modqueue[0]["payload"]
    assert added["submitted_by"] == member.username and added["title"].startswith("test-")
    assert note == "torrent_approved"


async def test_rejection_needs_a_reason_and_the_uploader_sees_it(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    member, torrent_id = await _pending(hub, http)
    mod = await logged_in(server, await make_moderator(hub))
    try:
        status, body = await _post(mod, f"/api/v1/torrents/{torrent_id}/reject", {"reason": " "})
        assert (status, body["field"]) == (400, "reason")
        status, body = await _post(
            mod, f"/api/v1/torrents/{torrent_id}/reject", {"reason": "Wrong category, sorry"}
        )
        assert status == 200, body
    finally:
        await mod.close()
    async with http.get(f"/torrents/{torrent_id}") as r:
        page = await r.text()
    assert r.status == 200
    assert "Wrong category, sorry" in page
    async with http.get(f"/api/v1/torrents/{torrent_id}") as r:
        detail = await r.json()
    assert detail["status"] == "rejected"
    assert detail["moderation_reason"] == "Wrong category, sorry"
    async with hub.pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM notifications WHERE user_id = $1 AND kind = 'torrent_rejected'",
            member.id,
        )
    assert payload["reason"] == "Wrong category, sorry"


async def test_postponed_torrent_stays_in_the_queue_and_can_still_be_approved(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    _member, torrent_id = await _pending(hub, http)
    mod = await logged_in(server, await make_moderator(hub))
    try:
        status, _ = await _post(mod, f"/api/v1/torrents/{torrent_id}/postpone")
        assert status == 200
        status, body = await _post(mod, f"/api/v1/torrents/{torrent_id}/postpone")
        assert status == 409 and "already postponed" in body["error"]
        async with hub.pool.acquire() as conn:
            queued = await conn.fetchval(
                "SELECT status FROM moderation_queue WHERE item_type = 'torrent' AND item_id = $1",
                torrent_id,
            )
        assert queued == "postponed"
        status, _ = await _post(mod, f"/api/v1/torrents/{torrent_id}/approve")
        assert status == 200
    finally:
        await mod.close()


async def test_members_cannot_moderate(hub: Any, http: aiohttp.ClientSession) -> None:
    _member, torrent_id = await _pending(hub, http)
    status, _ = await _post(http, f"/api/v1/torrents/{torrent_id}/approve")
    assert status == 403


async def test_pending_torrent_is_hidden_from_other_members(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    _member, torrent_id = await _pending(hub, http)
    other = await logged_in(server, await make_user(hub))
    try:
        async with other.get(f"/api/v1/torrents/{torrent_id}") as r:
            assert r.status == 404
        async with other.get(f"/api/v1/torrents/{torrent_id}/download") as r:
            assert r.status == 404
    finally:
        await other.close()
