"""Reports and the moderators' dashboard: filing, claiming, assigning, resolving once."""

from __future__ import annotations

import pytest

from hub.community import chat
from hub.moderation import dashboard, reports
from tests.community.helpers import last_seq, stream_events, viewer_of
from tests.factories import csrf_headers, login, make_moderator, make_user


async def _report_user(hub, reporter, target_username, reason="spams the lobby"):
    return await reports.create_report(
        hub, reporter, target_type="user", target_id=target_username, reason=reason
    )


async def test_report_enters_the_queue_for_investigation_and_appears_live(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await make_user(hub)
    before = await last_seq(hub, "modqueue")
    report = await _report_user(hub, alice, bob.username)
    assert report.target_id == str(bob.id)
    assert report.status == "pending"
    added = [e for e in await stream_events(hub, "modqueue", before) if e["kind"] == "item_added"]
    item = next(e["payload"] for e in added if e["payload"]["item_id"] == report.id)
    assert item["item_type"] == "report"
    assert item["queue_type"] == "investigation"
    assert item["id"] == report.queue_item_id
    listed = {i["id"]: i for i in await dashboard.open_items(hub)}
    shown = listed[report.queue_item_id]
    assert shown["report"]["target_label"] == bob.username
    assert shown["report"]["target_url"] == f"/users/{bob.username}"
    assert shown["report"]["reason"] == "spams the lobby"
    assert shown["decisions"] == ["resolved", "dismissed"]


async def test_a_chat_message_can_be_reported(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await viewer_of(hub, await make_user(hub))
    message = await chat.send_message(hub, bob, "lobby", "buy cheap ratio")
    report = await reports.create_report(
        hub, alice, target_type="chat_message", target_id=str(message.id), reason="spam"
    )
    listed = {i["id"]: i for i in await dashboard.open_items(hub)}
    assert listed[report.queue_item_id]["report"]["target_label"] == "buy cheap ratio"


async def test_bad_reports_are_refused_with_the_field(hub):
    alice_user = await make_user(hub)
    alice = await viewer_of(hub, alice_user)
    with pytest.raises(reports.ReportError) as nobody:
        await _report_user(hub, alice, "no_such_member_here")
    assert nobody.value.status == 404 and nobody.value.field == "target_id"
    with pytest.raises(reports.ReportError) as kind:
        await reports.create_report(hub, alice, target_type="planet", target_id="1", reason="x")
    assert kind.value.field == "target_type"
    with pytest.raises(reports.ReportError) as empty:
        await _report_user(hub, alice, (await make_user(hub)).username, reason="  ")
    assert empty.value.field == "reason"
    with pytest.raises(reports.ReportError):
        await _report_user(hub, alice, alice_user.username)


async def test_the_same_member_cannot_report_the_same_thing_twice_while_open(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await make_user(hub)
    await _report_user(hub, alice, bob.username)
    with pytest.raises(reports.ReportError) as again:
        await _report_user(hub, alice, bob.username)
    assert again.value.status == 409


async def test_claim_shows_who_took_it_and_a_second_claim_is_refused(hub):
    alice = await viewer_of(hub, await make_user(hub))
    report = await _report_user(hub, alice, (await make_user(hub)).username)
    mod1 = await viewer_of(hub, await make_moderator(hub))
    mod2 = await viewer_of(hub, await make_moderator(hub))
    before = await last_seq(hub, "modqueue")
    claimed = await dashboard.claim(hub, mod1, report.queue_item_id)
    assert claimed["status"] == "in_progress"
    assert claimed["assigned_to"] == mod1.username
    events = await stream_events(hub, "modqueue", before)
    assert [e["kind"] for e in events] == ["item_claimed"]
    with pytest.raises(dashboard.DashboardError) as second:
        await dashboard.claim(hub, mod2, report.queue_item_id)
    assert second.value.status == 409
    async with hub.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM reports WHERE id = $1", report.id)
    assert status == "investigating"


async def test_assigning_notifies_the_other_moderator(hub):
    alice = await viewer_of(hub, await make_user(hub))
    report = await _report_user(hub, alice, (await make_user(hub)).username)
    mod1 = await viewer_of(hub, await make_moderator(hub))
    mod2_user = await make_moderator(hub)
    item = await dashboard.assign(hub, mod1, report.queue_item_id, mod2_user.username)
    assert item["assigned_to"] == mod2_user.username
    events = await stream_events(hub, f"user:{mod2_user.id}")
    assert events[-1]["kind"] == "notification"
    assert events[-1]["payload"]["kind"] == "modqueue_assigned"
    assert mod1.username in events[-1]["payload"]["text"]
    with pytest.raises(dashboard.DashboardError) as member:
        await dashboard.assign(hub, mod1, report.queue_item_id, alice.username)
    assert member.value.status == 400


async def test_resolving_removes_the_item_once_and_closes_the_report(hub):
    alice = await viewer_of(hub, await make_user(hub))
    report = await _report_user(hub, alice, (await make_user(hub)).username)
    mod1 = await viewer_of(hub, await make_moderator(hub))
    mod2 = await viewer_of(hub, await make_moderator(hub))
    before = await last_seq(hub, "modqueue")
    await dashboard.resolve(hub, mod1, report.queue_item_id, "dismissed", "not spam")
    events = await stream_events(hub, "modqueue", before)
    assert [e["kind"] for e in events] == ["item_resolved"]
    assert report.queue_item_id not in {i["id"] for i in await dashboard.open_items(hub)}
    with pytest.raises(dashboard.DashboardError) as twice:
        await dashboard.resolve(hub, mod2, report.queue_item_id, "resolved")
    assert twice.value.status == 409
    async with hub.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, resolution_note, resolved_by FROM reports WHERE id = $1", report.id
        )
    assert dict(row) == {
        "status": "dismissed",
        "resolution_note": "not spam",
        "resolved_by": mod1.user_id,
    }
    told = (await stream_events(hub, f"user:{alice.user_id}"))[-1]["payload"]
    assert told["kind"] == "report_closed"
    assert "took no action" in told["text"]
    assert "not spam" not in told["text"]


async def test_members_file_reports_over_http_and_only_moderators_see_the_queue(hub, http):
    alice = await make_user(hub)
    bob = await make_user(hub)
    await login(http, alice)
    async with http.post(
        "/api/v1/reports",
        json={"target_type": "user", "target_id": bob.username, "reason": "rude"},
        headers=csrf_headers(http),
    ) as response:
        body = await response.json()
    assert response.status == 201, body
    assert body["report"]["target_id"] == str(bob.id)
    async with http.get("/api/v1/moderation/queue") as response:
        assert response.status == 403
    async with http.get("/moderation", allow_redirects=False) as response:
        assert response.status == 403


async def test_moderator_sees_the_report_on_the_dashboard(hub, http):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await make_user(hub)
    report = await _report_user(hub, alice, bob.username, reason="posts <script>x</script>")
    await login(http, await make_moderator(hub))
    async with http.get("/moderation") as response:
        html = await response.text()
    assert response.status == 200
    assert f'data-queue-id="{report.queue_item_id}"' in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    async with http.post(
        f"/api/v1/moderation/queue/{report.queue_item_id}/resolve",
        json={"decision": "approve"},
        headers=csrf_headers(http),
    ) as response:
        refused = await response.json()
    assert response.status == 400 and refused["field"] == "decision"
    async with http.post(
        f"/api/v1/moderation/queue/{report.queue_item_id}/resolve",
        json={"decision": "resolved", "reason": "warned"},
        headers=csrf_headers(http),
    ) as response:
        assert response.status == 200


async def test_a_member_cannot_flood_the_queue_with_reports(hub):
    from hub import db
    from hub.community import chat_queries as q

    alice = await viewer_of(hub, await make_user(hub))
    bob = await make_user(hub)
    async with db.transaction(hub.pool) as conn:
        room = await q.select_room_by_slug(conn, "lobby")
        ids = [
            (await q.insert_message(conn, room.id, bob.id, f"m{n}")).id
            for n in range(reports.REPORTS_PER_HOUR * 2 + 1)
        ]
    with pytest.raises(reports.ReportError) as flood:
        for message_id in ids:
            await reports.create_report(
                hub, alice, target_type="chat_message", target_id=str(message_id), reason="spam"
            )
    assert flood.value.status == 429


async def test_two_moderators_resolving_at_once_succeed_exactly_once(hub):
    import asyncio

    alice = await viewer_of(hub, await make_user(hub))
    report = await _report_user(hub, alice, (await make_user(hub)).username)
    mods = [await viewer_of(hub, await make_moderator(hub)) for _ in range(2)]
    results = await asyncio.gather(
        *(dashboard.resolve(hub, m, report.queue_item_id, "resolved", "ok") for m in mods),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1, results
    assert isinstance(failures[0], dashboard.DashboardError) and failures[0].status == 409
    told = [
        e
        for e in await stream_events(hub, f"user:{alice.user_id}")
        if e["payload"]["kind"] == "report_closed"
    ]
    assert len(told) == 1
