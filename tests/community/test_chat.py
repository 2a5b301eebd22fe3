"""Chat rules: sending, limits, mutes, edits and deletions, mentions, rooms, history."""

from __future__ import annotations

import pytest

from hub import db
from hub.community import chat
from hub.community import chat_queries as q
from hub.pages.chat import render_body
from tests.community.helpers import last_seq, stream_events, viewer_of
from tests.factories import make_moderator, make_user


async def test_message_is_stored_and_logged_on_the_rooms_stream(hub):
    alice = await viewer_of(hub, await make_user(hub))
    before = await last_seq(hub, "chat:lobby")
    message = await chat.send_message(hub, alice, "lobby", "  hello there  ")
    assert message.body == "hello there"
    assert message.username == alice.username
    logged = [e for e in await stream_events(hub, "chat:lobby", before) if e["kind"] == "message"]
    assert any(e["payload"]["id"] == message.id for e in logged)
    payload = next(e["payload"] for e in logged if e["payload"]["id"] == message.id)
    assert payload["body"] == "hello there"
    assert payload["user_id"] == str(alice.user_id)


async def test_too_long_message_is_refused_naming_the_limit(hub):
    alice = await viewer_of(hub, await make_user(hub))
    limit = hub.settings.chat_message_max
    with pytest.raises(chat.ChatError) as refused:
        await chat.send_message(hub, alice, "lobby", "x" * (limit + 1))
    assert refused.value.code == "too_long"
    assert str(limit) in refused.value.message


async def test_empty_message_is_refused(hub):
    alice = await viewer_of(hub, await make_user(hub))
    with pytest.raises(chat.ChatError) as refused:
        await chat.send_message(hub, alice, "lobby", "   ")
    assert refused.value.code == "empty"


async def test_sending_too_fast_is_refused_with_the_wait(hub):
    alice = await viewer_of(hub, await make_user(hub))
    with pytest.raises(chat.ChatError) as refused:
        for n in range(chat.RATE_LIMIT_MESSAGES * 2 + 1):
            await chat.send_message(hub, alice, "lobby", f"spam {n}")
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1
    assert "too fast" in refused.value.message


async def test_muted_member_cannot_send_until_the_mute_is_lifted(hub):
    mod = await viewer_of(hub, await make_moderator(hub))
    bob_user = await make_user(hub)
    bob = await viewer_of(hub, bob_user)
    mute = await chat.mute_member(hub, mod, bob.username, room_slug="lobby", seconds=600)
    assert mute["expires_at"] is not None
    with pytest.raises(chat.ChatError) as refused:
        await chat.send_message(hub, bob, "lobby", "can I talk?")
    assert refused.value.code == "muted"
    assert "until" in refused.value.message
    assert await chat.unmute_member(hub, mod, bob.username, room_slug="lobby") == 1
    await chat.send_message(hub, bob, "lobby", "thanks")
    events = await stream_events(hub, f"user:{bob_user.id}")
    assert [e["kind"] for e in events][-2:] == ["chat_muted", "chat_unmuted"]


async def test_members_cannot_mute(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await make_user(hub)
    with pytest.raises(chat.ChatError) as refused:
        await chat.mute_member(hub, alice, bob.username, room_slug="lobby", seconds=60)
    assert refused.value.status == 403


async def test_member_edits_own_message_but_not_anothers(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await viewer_of(hub, await make_user(hub))
    message = await chat.send_message(hub, alice, "lobby", "helo")
    before = await last_seq(hub, "chat:lobby")
    edited = await chat.edit_message(hub, alice, message.id, "hello")
    assert edited.body == "hello" and edited.edited_at is not None
    kinds = [e["kind"] for e in await stream_events(hub, "chat:lobby", before)]
    assert "message_edited" in kinds
    with pytest.raises(chat.ChatError) as refused:
        await chat.edit_message(hub, bob, message.id, "hijacked")
    assert refused.value.status == 403


async def test_edit_and_delete_close_after_the_window(hub):
    alice = await viewer_of(hub, await make_user(hub))
    message = await chat.send_message(hub, alice, "lobby", "old news")
    async with hub.pool.acquire() as conn:
        await conn.execute(
            "UPDATE chat_messages SET created_at = now() - make_interval(secs => $2) WHERE id = $1",
            message.id,
            hub.settings.chat_edit_window_seconds + 5,
        )
    with pytest.raises(chat.ChatError) as refused:
        await chat.edit_message(hub, alice, message.id, "new news")
    assert refused.value.code == "too_late"
    with pytest.raises(chat.ChatError):
        await chat.delete_message(hub, alice, message.id)


async def test_moderator_deletes_any_message_and_it_is_audited(hub):
    alice = await viewer_of(hub, await make_user(hub))
    mod = await viewer_of(hub, await make_moderator(hub))
    message = await chat.send_message(hub, alice, "lobby", "something rude")
    before = await last_seq(hub, "chat:lobby")
    deleted = await chat.delete_message(hub, mod, message.id)
    assert deleted.to_dict()["deleted"] is True
    assert deleted.to_dict()["body"] == ""
    events = await stream_events(hub, "chat:lobby", before)
    assert {"id": message.id, "room_id": message.room_id, "by_moderator": True} in [
        e["payload"] for e in events if e["kind"] == "message_deleted"
    ]
    async with hub.pool.acquire() as conn:
        audited = await conn.fetchval(
            """SELECT count(*) FROM audit_logs WHERE action = 'chat_delete_message'
                  AND target_id = $1""",
            str(message.id),
        )
    assert audited == 1
    with pytest.raises(chat.ChatError) as again:
        await chat.delete_message(hub, mod, message.id)
    assert again.value.code == "deleted"


async def test_mention_notifies_the_named_member_once_and_not_the_author(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob_user = await make_user(hub)
    message = await chat.send_message(
        hub,
        alice,
        "lobby",
        f"hey @{bob_user.username}, and @{bob_user.username.upper()}. me: @{alice.username}",
    )
    async with hub.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT user_id, payload FROM notifications WHERE kind = 'chat_mention' "
            "AND payload->>'message_id' = $1",
            str(message.id),
        )
    assert [r["user_id"] for r in rows] == [bob_user.id]
    assert rows[0]["payload"]["from"] == alice.username
    assert rows[0]["payload"]["room"] == "lobby"
    events = await stream_events(hub, f"user:{bob_user.id}")
    assert events[-1]["kind"] == "notification"
    assert events[-1]["payload"]["unread"] == 1


async def test_mention_in_the_staff_room_does_not_reach_a_member(hub):
    mod = await viewer_of(hub, await make_moderator(hub))
    bob = await make_user(hub)
    await chat.send_message(hub, mod, "staff", f"@{bob.username} is trouble")
    async with hub.pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1", bob.id)
    assert count == 0


async def test_member_cannot_read_or_post_in_the_staff_room(hub):
    alice = await viewer_of(hub, await make_user(hub))
    assert "staff" not in [r.slug for r in await chat.rooms_for(hub, alice)]
    with pytest.raises(chat.ChatError) as refused:
        await chat.history(hub, alice, "staff")
    assert refused.value.status == 403
    with pytest.raises(chat.ChatError):
        await chat.send_message(hub, alice, "staff", "let me in")
    assert not await chat.may_join_stream(hub, alice, "chat:staff")
    assert await chat.may_join_stream(hub, alice, "chat:lobby")


async def test_history_pages_back_with_before(hub):
    alice_user = await make_user(hub)
    alice = await viewer_of(hub, alice_user)
    async with db.transaction(hub.pool) as conn:
        room = await q.select_room_by_slug(conn, "lobby")
        assert room is not None
        ids = [
            (await q.insert_message(conn, room.id, alice_user.id, f"line {n}")).id for n in range(5)
        ]
    first = await chat.history(hub, alice, "lobby", limit=2)
    assert [m.id for m in first.messages] == ids[-2:]
    assert first.has_more
    older = await chat.history(hub, alice, "lobby", before=ids[-2], limit=2)
    assert [m.id for m in older.messages] == ids[1:3]
    assert first.seq >= 0


def test_rendering_escapes_html_and_links_only_web_addresses():
    html = str(
        render_body(
            "<img src=x onerror=alert(1)> see https://example.org/a?b=1&c=2."
            " @bob_1 javascript:alert(1)"
        )
    )
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" '
        'target="_blank">' in html
    )
    assert "</a>." in html
    assert '<span class="mention" data-username="bob_1">@bob_1</span>' in html
    assert 'href="javascript' not in html


def test_mentions_are_found_once_and_email_addresses_are_not_mentions():
    assert chat.mentioned_usernames("@Ann and @ann, mail x@y.org, @bob.") == ["Ann", "bob"]


async def test_an_edit_notifies_only_members_newly_mentioned(hub):
    alice = await viewer_of(hub, await make_user(hub))
    bob = await make_user(hub)
    carol = await make_user(hub)
    message = await chat.send_message(hub, alice, "lobby", f"hi @{bob.username}")
    await chat.edit_message(hub, alice, message.id, f"hi @{bob.username} and @{carol.username}")
    async with hub.pool.acquire() as conn:
        counts = {
            user.username: await conn.fetchval(
                "SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'chat_mention'",
                user.id,
            )
            for user in (bob, carol)
        }
    assert counts == {bob.username: 1, carol.username: 1}
