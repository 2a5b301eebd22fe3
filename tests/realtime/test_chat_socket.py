"""Chat over the socket: acknowledgements, limits, and delivery to the room."""

from __future__ import annotations

from typing import Any

from hub.community import chat
from tests.realtime.conftest import member
from tests.realtime.liveclient import LiveClient


async def _client(url: str, who: Any, room: str = "chat:lobby") -> LiveClient:
    client = LiveClient(cookie=who.token)
    await client.connect(url)
    ack = await client.subscribe({room: None})
    assert ack["streams"][room]["ok"], ack
    return client


async def _call(client: LiveClient, event: str, data: Any) -> dict[str, Any]:
    ack: dict[str, Any] = await client.sio.call(event, data, timeout=10)
    return ack


async def test_message_is_acknowledged_and_reaches_everyone_in_the_room(server, hub):
    alice, bob = await member(hub), await member(hub)
    a = await _client(server.base_url, alice)
    b = await _client(server.base_url, bob)
    try:
        ack = await _call(a, "chat:send", {"room": "lobby", "body": "hello <b>bob</b>"})
        assert ack["ok"] is True, ack
        sent = ack["message"]
        assert sent["body"] == "hello <b>bob</b>"
        assert sent["username"] == alice.user.username

        def arrived() -> bool:
            return any(
                e["kind"] == "message" and e["payload"]["id"] == sent["id"]
                for e in b.delivered["chat:lobby"]
            )

        await b.wait_for(arrived)
    finally:
        await a.close()
        await b.close()


async def test_refusals_come_back_in_the_ack_with_a_reason(server, hub):
    alice = await member(hub)
    a = await _client(server.base_url, alice)
    try:
        too_long = await _call(
            a, "chat:send", {"room": "lobby", "body": "x" * (hub.settings.chat_message_max + 1)}
        )
        assert too_long["ok"] is False
        assert too_long["error"] == "too_long"
        assert str(hub.settings.chat_message_max) in too_long["message"]

        nowhere = await _call(a, "chat:send", {"room": "no-such-room", "body": "hi"})
        assert nowhere["error"] == "not_found"

        staff = await _call(a, "chat:send", {"room": "staff", "body": "hi"})
        assert staff["error"] == "forbidden"

        acks = [
            await _call(a, "chat:send", {"room": "lobby", "body": f"n{n}"})
            for n in range(chat.RATE_LIMIT_MESSAGES * 2 + 1)
        ]
        limited = [x for x in acks if not x["ok"]]
        assert limited, acks
        assert limited[0]["error"] == "rate_limited"
        assert limited[0]["retry_after"] >= 1
        assert "too fast" in limited[0]["message"]
    finally:
        await a.close()


async def test_own_message_is_deleted_for_everyone(server, hub):
    alice, bob = await member(hub), await member(hub)
    a = await _client(server.base_url, alice)
    b = await _client(server.base_url, bob)
    try:
        sent = (await _call(a, "chat:send", {"room": "lobby", "body": "oops"}))["message"]
        stolen = await _call(b, "chat:delete", {"id": sent["id"]})
        assert stolen["ok"] is False and stolen["error"] == "forbidden"
        edited = await _call(a, "chat:edit", {"id": sent["id"], "body": "oops, fixed"})
        assert edited["ok"] and edited["message"]["edited_at"]
        gone = await _call(a, "chat:delete", {"id": sent["id"]})
        assert gone["ok"] and gone["message"]["deleted"]

        def seen() -> list[str]:
            return [
                e["kind"] for e in b.delivered["chat:lobby"] if e["payload"].get("id") == sent["id"]
            ]

        await b.wait_for(lambda: "message_deleted" in seen())
        assert seen() == ["message", "message_edited", "message_deleted"]
    finally:
        await a.close()
        await b.close()


async def test_moderator_mutes_a_member_over_the_socket(server, hub):
    mod, bob = await member(hub, "moderator"), await member(hub)
    m = await _client(server.base_url, mod)
    b = await _client(server.base_url, bob)
    try:
        ack = await _call(
            m, "chat:mute", {"username": bob.user.username, "room": "lobby", "seconds": 60}
        )
        assert ack["ok"], ack
        refused = await _call(b, "chat:send", {"room": "lobby", "body": "hello?"})
        assert refused["error"] == "muted"
        not_mod = await _call(b, "chat:mute", {"username": mod.user.username, "seconds": 60})
        assert not_mod["error"] == "forbidden"
    finally:
        await m.close()
        await b.close()


async def test_message_sent_through_one_process_reaches_a_member_on_the_other(
    server, hub, second_web
):
    alice, bob = await member(hub), await member(hub)
    a = await _client(second_web.url, alice)
    b = await _client(server.base_url, bob)
    try:
        ack = await _call(a, "chat:send", {"room": "lobby", "body": "across processes"})
        assert ack["ok"], ack
        message_id = ack["message"]["id"]
        await b.wait_for(
            lambda: any(e["payload"].get("id") == message_id for e in b.delivered["chat:lobby"])
        )
    finally:
        await a.close()
        await b.close()
