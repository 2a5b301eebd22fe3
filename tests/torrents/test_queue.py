"""The moderation queue: claiming, assigning and resolving happen once."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hub import db
from hub.moderation import queue
from tests.factories import login, make_moderator, make_user
from tests.torrents.builders import v1_torrent
from tests.torrents.helpers import category_id, upload, viewer_of


async def _queued(hub: Any, http: aiohttp.ClientSession) -> queue.QueueItem:
    await login(http, await make_user(hub))
    _status, body = await upload(http, v1_torrent(), await category_id(hub))
    async with hub.pool.acquire() as conn:
        item = await queue.open_item_for(conn, "torrent", body["id"])
    assert item is not None
    return item


async def test_two_moderators_claiming_one_item_leaves_one_owner(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    item = await _queued(hub, http)
    a = await viewer_of(hub, await make_moderator(hub))
    b = await viewer_of(hub, await make_moderator(hub))
    results = await asyncio.gather(
        queue.claim(hub, a, item.id), queue.claim(hub, b, item.id), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, queue.QueueItem)]
    losers = [r for r in results if isinstance(r, queue.QueueConflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert winners[0].status == "in_progress"
    assert "already in progress by" in losers[0].message


async def test_assigning_notifies_the_assignee_and_tells_the_dashboard(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    item = await _queued(hub, http)
    boss = await viewer_of(hub, await make_moderator(hub))
    helper = await make_moderator(hub)
    assigned = await queue.assign(hub, boss, item.id, helper.id)
    assert assigned.assigned_to == helper.username
    async with hub.pool.acquire() as conn:
        note = await conn.fetchval(
            "SELECT payload FROM notifications WHERE user_id = $1 AND kind = 'modqueue_assigned'",
            helper.id,
        )
        event = await conn.fetchval(
            "SELECT payload FROM events WHERE stream = 'modqueue' AND kind = 'item_assigned' "
            "AND (payload->>'id')::bigint = $1",
            item.id,
        )
    assert note["queue_id"] == item.id and note["assigned_by"] == boss.username
    assert event["assigned_to"] == helper.username and event["status"] == "in_progress"


async def test_assigning_to_a_member_who_is_not_staff_is_refused(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    item = await _queued(hub, http)
    boss = await viewer_of(hub, await make_moderator(hub))
    with pytest.raises(queue.QueueError):
        await queue.assign(hub, boss, item.id, (await make_user(hub)).id)


async def test_an_item_resolves_only_once(hub: Any, http: aiohttp.ClientSession) -> None:
    item = await _queued(hub, http)
    mod = await viewer_of(hub, await make_moderator(hub))
    await queue.resolve(hub, mod, item.id, "dealt with")
    with pytest.raises(queue.QueueConflict):
        await queue.resolve(hub, mod, item.id, "again")
    async with db.transaction(hub.pool) as conn:
        assert await queue.resolve_item(conn, "torrent", item.item_id, mod.user_id, "x") is None
        open_items = await queue.list_open(conn)
    assert item.id not in [i.id for i in open_items]


async def test_members_cannot_claim(hub: Any, http: aiohttp.ClientSession) -> None:
    item = await _queued(hub, http)
    member = await viewer_of(hub, await make_user(hub))
    with pytest.raises(queue.QueueForbidden):
        await queue.claim(hub, member, item.id)
