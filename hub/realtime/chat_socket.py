"""Socket handlers for chat: send, edit, delete, mute.

Each returns an acknowledgement: `{"ok": true, "message": {...}}` or
`{"ok": false, "error": "<code>", "message": "<human text>", "field"?, "retry_after"?}`.
The change itself reaches everyone (the sender too) as an `event` on `chat:<slug>`; the
ack only tells the sender how it went. Typing and presence are the core's (`typing`,
`presence`), see docs/realtime.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.community import chat
from hub.policy import Viewer

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)


def _fail(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "ok": False,
        "error": code,
        "message": message,
        **{k: v for k, v in extra.items() if v is not None},
    }


def _from_error(error: chat.ChatError) -> dict[str, Any]:
    return _fail(error.code, error.message, field=error.field, retry_after=error.retry_after)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def register(sio: Any, hub: Hub) -> None:
    def viewer_of(sid: str) -> Viewer | None:
        who: Viewer | None = sio.viewer(sid)
        if who is None or not who.is_authenticated:
            return None
        return who

    async def guarded(sid: str, data: Any, action: Any) -> dict[str, Any]:
        who = viewer_of(sid)
        if who is None:
            return _fail("unauthenticated", "Log in to chat.")
        if not isinstance(data, dict):
            return _fail("invalid", "Send an object.")
        try:
            result: dict[str, Any] = await action(who, data)
            return result
        except chat.ChatError as error:
            return _from_error(error)
        except Exception:
            log.exception("chat handler failed")
            return _fail("server_error", "Something went wrong on our side; try again.")

    @sio.on("chat:send")
    async def send(sid: str, data: Any) -> dict[str, Any]:
        async def act(who: Viewer, d: dict[str, Any]) -> dict[str, Any]:
            room = d.get("room")
            if not isinstance(room, str) or not room:
                return _fail("invalid", "Say which room.", field="room")
            message = await chat.send_message(hub, who, room, d.get("body"))
            return {"ok": True, "message": message.to_dict()}

        return await guarded(sid, data, act)

    @sio.on("chat:edit")
    async def edit(sid: str, data: Any) -> dict[str, Any]:
        async def act(who: Viewer, d: dict[str, Any]) -> dict[str, Any]:
            message_id = _int(d.get("id"))
            if message_id is None:
                return _fail("invalid", "Say which message.", field="id")
            message = await chat.edit_message(hub, who, message_id, d.get("body"))
            return {"ok": True, "message": message.to_dict()}

        return await guarded(sid, data, act)

    @sio.on("chat:delete")
    async def delete(sid: str, data: Any) -> dict[str, Any]:
        async def act(who: Viewer, d: dict[str, Any]) -> dict[str, Any]:
            message_id = _int(d.get("id"))
            if message_id is None:
                return _fail("invalid", "Say which message.", field="id")
            message = await chat.delete_message(hub, who, message_id)
            return {"ok": True, "message": message.to_dict()}

        return await guarded(sid, data, act)

    @sio.on("chat:mute")
    async def mute(sid: str, data: Any) -> dict[str, Any]:
        async def act(who: Viewer, d: dict[str, Any]) -> dict[str, Any]:
            username = d.get("username")
            if not isinstance(username, str) or not username.strip():
                return _fail("invalid", "Say whom to mute.", field="username")
            seconds = d.get("seconds", 600)
            if seconds is not None and _int(seconds) is None:
                return _fail("invalid", "The duration is a number of seconds.", field="seconds")
            room = d.get("room")
            reason = d.get("reason")
            result = await chat.mute_member(
                hub,
                who,
                username.strip().lstrip("@"),
                room_slug=room if isinstance(room, str) and room else None,
                seconds=_int(seconds) if seconds is not None else None,
                reason=reason if isinstance(reason, str) and reason.strip() else None,
            )
            return {"ok": True, "mute": result}

        return await guarded(sid, data, act)
