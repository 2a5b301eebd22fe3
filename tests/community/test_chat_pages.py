"""The chat page and API over HTTP: rendering, the no-JavaScript form, history paging."""

from __future__ import annotations

from hub.community import chat
from tests.community.helpers import viewer_of
from tests.factories import csrf, csrf_headers, login, make_moderator, make_user


async def test_chat_page_renders_history_safely_with_links_and_mentions(hub, http):
    alice = await make_user(hub)
    bob = await make_user(hub)
    await chat.send_message(
        hub,
        await viewer_of(hub, bob),
        "lobby",
        f"<script>alert(1)</script> see https://example.org @{alice.username}",
    )
    await login(http, alice)
    async with http.get("/chat") as response:
        html = await response.text()
    assert response.status == 200
    assert 'data-stream="chat:lobby"' in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.org"' in html
    assert f'<span class="mention" data-username="{alice.username}">' in html


async def test_message_posts_without_javascript_and_errors_are_shown(hub, http):
    alice = await make_user(hub)
    await login(http, alice)
    async with http.post(
        "/chat/lobby", data={"body": "from a plain form", "csrf_token": csrf(http)}
    ) as response:
        html = await response.text()
    assert response.status == 200
    assert "from a plain form" in html
    too_long = "y" * (hub.settings.chat_message_max + 1)
    async with http.post(
        "/chat/lobby", data={"body": too_long, "csrf_token": csrf(http)}
    ) as response:
        html = await response.text()
    assert f"limited to {hub.settings.chat_message_max} characters" in html


async def test_history_api_pages_back_and_the_staff_room_is_closed_to_members(hub, http):
    alice = await make_user(hub)
    await login(http, alice)
    sent = []
    for n in range(3):
        async with http.post(
            "/api/v1/chat/rooms/lobby/messages",
            json={"body": f"page test {n}"},
            headers=csrf_headers(http),
        ) as response:
            assert response.status == 201
            sent.append((await response.json())["message"]["id"])
    async with http.get(f"/api/v1/chat/rooms/lobby/messages?before={sent[-1]}&limit=2") as r:
        page = await r.json()
    assert [m["id"] for m in page["messages"]] == sent[:2]
    assert page["stream"] == "chat:lobby" and page["seq"] >= 3
    async with http.get("/api/v1/chat/rooms/staff/messages") as response:
        assert response.status == 403
    async with http.get("/chat/staff") as response:
        assert response.status == 403
    async with http.get("/api/v1/chat/rooms") as response:
        rooms = [r["slug"] for r in (await response.json())["rooms"]]
    assert "lobby" in rooms and "staff" not in rooms
    async with http.post(
        "/api/v1/chat/rooms/lobby/messages", json={"body": ""}, headers=csrf_headers(http)
    ) as response:
        body = await response.json()
    assert response.status == 400 and body["field"] == "body"


async def test_chat_needs_a_login(http):
    async with http.get("/chat", allow_redirects=False) as response:
        assert response.status in (302, 303)
    async with http.get("/api/v1/chat/rooms/lobby/messages") as response:
        assert response.status == 401


async def test_moderator_sees_who_is_muted_and_unmutes_from_the_room_page(hub, http):
    moderator = await make_moderator(hub)
    noisy = await make_user(hub)
    await chat.mute_member(
        hub, await viewer_of(hub, moderator), noisy.username,
        room_slug="lobby", seconds=600, reason="flooding",
    )
    await login(http, moderator)
    async with http.get("/chat/lobby") as response:
        html = await response.text()
    assert 'id="chat-mutes"' in html
    assert noisy.username in html and "flooding" in html
    async with http.post(
        "/chat/lobby/unmute",
        data={"username": noisy.username, "scope": "room", "csrf_token": csrf(http)},
    ) as response:
        html = await response.text()
    assert f"{noisy.username} can talk again." in html
    sent = await chat.send_message(hub, await viewer_of(hub, noisy), "lobby", "back again")
    assert sent.body == "back again"


async def test_members_see_no_mute_list_and_cannot_unmute(hub, http):
    member = await make_user(hub)
    await login(http, member)
    async with http.get("/chat/lobby") as response:
        assert 'id="chat-mutes"' not in await response.text()
    async with http.post(
        "/chat/lobby/unmute",
        data={"username": member.username, "scope": "room", "csrf_token": csrf(http)},
    ) as response:
        assert response.status == 403
