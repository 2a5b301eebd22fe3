"""Notifications: preferences, the unread count, marking read, and the pages and API."""

from __future__ import annotations

from hub import db
from hub.community import notifications
from tests.community.helpers import stream_events
from tests.factories import csrf_headers, login, make_user


async def _notify(hub, user_id, kind="chat_mention", payload=None):
    payload = payload or {
        "room": "lobby",
        "room_name": "Lobby",
        "message_id": 1,
        "from": "ann",
        "excerpt": "hi",
    }
    async with db.transaction(hub.pool) as conn:
        return await notifications.notify(conn, user_id, kind, payload)


async def test_notification_is_stored_and_sent_on_the_members_stream_with_the_count(hub):
    user = await make_user(hub)
    first = await _notify(hub, user.id)
    second = await _notify(hub, user.id)
    assert first and second and second > first
    events = await stream_events(hub, f"user:{user.id}")
    assert [e["payload"]["unread"] for e in events] == [1, 2]
    assert events[-1]["payload"]["text"].startswith("ann mentioned you in Lobby")
    assert events[-1]["payload"]["url"] == "/chat/lobby#m1"


async def test_a_kind_turned_off_in_the_preferences_is_not_sent(hub):
    user = await make_user(hub)
    async with hub.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO user_privacy (user_id, notification_prefs) VALUES ($1, $2)
               ON CONFLICT (user_id)
               DO UPDATE SET notification_prefs = EXCLUDED.notification_prefs""",
            user.id,
            {"chat_mention": False},
        )
    assert await _notify(hub, user.id) is None
    assert await _notify(hub, user.id, "torrent_approved", {"torrent_id": 5, "name": "x"})
    assert await notifications.get_unread_count(hub, user.id) == 1


async def test_marking_read_tells_the_other_tabs_the_new_count(hub):
    user = await make_user(hub)
    ids = [await _notify(hub, user.id) for _ in range(3)]
    assert await notifications.mark_read(hub, user.id, [ids[0]]) == 2
    events = await stream_events(hub, f"user:{user.id}")
    assert events[-1]["kind"] == "notifications_read"
    assert events[-1]["payload"] == {"ids": [ids[0]], "all": False, "unread": 2}
    assert await notifications.mark_all_read(hub, user.id) == 2
    events = await stream_events(hub, f"user:{user.id}")
    assert events[-1]["payload"] == {"ids": [], "all": True, "unread": 0}
    # Nothing left to mark: no event, nothing changes.
    assert await notifications.mark_all_read(hub, user.id) == 0
    assert len(await stream_events(hub, f"user:{user.id}")) == len(events)


async def test_a_member_cannot_mark_anothers_notifications(hub):
    owner = await make_user(hub)
    other = await make_user(hub)
    note = await _notify(hub, owner.id)
    await notifications.mark_read(hub, other.id, [note])
    assert await notifications.get_unread_count(hub, owner.id) == 1


async def test_list_pages_back_newest_first(hub):
    user = await make_user(hub)
    ids = [await _notify(hub, user.id) for _ in range(5)]
    page = await notifications.list_for(hub, user.id, limit=2)
    assert [n.id for n in page.items] == ids[::-1][:2]
    assert page.has_more and page.unread == 5
    older = await notifications.list_for(hub, user.id, before=page.items[-1].id, limit=10)
    assert [n.id for n in older.items] == ids[::-1][2:]
    assert not older.has_more


async def test_bell_shows_the_unread_count_and_the_api_marks_them_read(hub, http):
    user = await make_user(hub)
    await login(http, user)
    for _ in range(2):
        await _notify(hub, user.id)
    async with http.get("/notifications") as response:
        html = await response.text()
    assert response.status == 200
    assert 'id="notification-bell"' in html
    assert 'data-count="2"' in html
    assert "ann mentioned you in Lobby" in html
    async with http.get("/api/v1/notifications") as response:
        body = await response.json()
    assert body["unread"] == 2 and len(body["notifications"]) == 2
    first = body["notifications"][0]["id"]
    async with http.post(
        "/api/v1/notifications/read", json={"ids": [first]}, headers=csrf_headers(http)
    ) as response:
        assert (await response.json()) == {"unread": 1}
    async with http.post("/api/v1/notifications/read_all", headers=csrf_headers(http)) as response:
        assert (await response.json())["unread"] == 0
    async with http.get("/api/v1/notifications/unread_count") as response:
        assert (await response.json()) == {"unread": 0}


async def test_notifications_need_a_login(http):
    async with http.get("/api/v1/notifications") as response:
        assert response.status == 401
