"""Torrent uploads on the moderators' dashboard: approve or reject once, the uploader told."""

from __future__ import annotations

import uuid

import pytest

from hub.moderation import dashboard
from hub.torrents import actions as torrents
from tests.community.helpers import last_seq, stream_events, viewer_of
from tests.factories import make_moderator, make_user
from tests.torrents.builders import v1_torrent


async def _pending_upload(hub):
    uploader = await make_user(hub)
    async with hub.pool.acquire() as conn:
        category = await conn.fetchval("SELECT id FROM torrent_categories WHERE slug = 'other'")
    name = f"dash-{uuid.uuid4().hex[:8]}"
    torrent_id = await torrents.upload_torrent(
        hub, await viewer_of(hub, uploader), v1_torrent(), name=name, category_id=category
    )
    listed = {
        i["item_id"]: i for i in await dashboard.open_items(hub) if i["item_type"] == "torrent"
    }
    return uploader, torrent_id, listed[torrent_id]


async def test_upload_shows_on_the_dashboard_and_approval_removes_it_once(hub):
    uploader, _torrent_id, item = await _pending_upload(hub)
    assert item["decisions"] == ["approve", "reject", "postpone"]
    mod1 = await viewer_of(hub, await make_moderator(hub))
    mod2 = await viewer_of(hub, await make_moderator(hub))
    before = await last_seq(hub, "modqueue")
    await dashboard.resolve(hub, mod1, item["id"], "approve")
    resolved = [
        e for e in await stream_events(hub, "modqueue", before) if e["kind"] == "item_resolved"
    ]
    assert [e["payload"]["id"] for e in resolved] == [item["id"]]
    with pytest.raises(dashboard.DashboardError) as late:
        await dashboard.resolve(hub, mod2, item["id"], "reject", "dupe")
    assert late.value.status == 409
    notes = await stream_events(hub, f"user:{uploader.id}")
    assert notes[-1]["payload"]["kind"] == "torrent_approved"


async def test_rejecting_needs_a_reason_which_the_uploader_reads(hub):
    uploader, _torrent_id, item = await _pending_upload(hub)
    mod = await viewer_of(hub, await make_moderator(hub))
    with pytest.raises(dashboard.DashboardError) as no_reason:
        await dashboard.resolve(hub, mod, item["id"], "reject", "  ")
    assert no_reason.value.field == "reason"
    await dashboard.resolve(hub, mod, item["id"], "reject", "wrong category")
    note = (await stream_events(hub, f"user:{uploader.id}"))[-1]["payload"]
    assert note["kind"] == "torrent_rejected"
    assert "wrong category" in note["text"]


async def test_members_cannot_work_the_queue(hub):
    _uploader, _torrent_id, item = await _pending_upload(hub)
    member = await viewer_of(hub, await make_user(hub))
    for act in (
        dashboard.claim(hub, member, item["id"]),
        dashboard.resolve(hub, member, item["id"], "approve"),
    ):
        with pytest.raises(dashboard.DashboardError) as refused:
            await act
        assert refused.value.status == 403
