"""Chat pages and the chat JSON API.

The page renders the latest history server-side (readable without JavaScript, with a
plain form that posts a message); frontend/src/chat.ts then makes it live over the
socket. History pages back through GET /api/v1/chat/rooms/<slug>/messages?before=<id>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from quart import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from quart_schema import validate_querystring, validate_request

from hub.community import chat
from hub.pages.web import current_hub, render_error, viewer
from hub.policy import Access, allow

# API token scopes these routes accept.
CHAT_SCOPE = "chat"
MODERATE_SCOPE = "moderate"

bp = Blueprint("chat", __name__)

_TOKEN_RE = re.compile(r"(https?://[^\s<>\"']+)|" + chat.MENTION_RE.pattern)


def render_body(body: str) -> Markup:
    """Escape everything; only http(s) links and @mentions become elements.

    The same rules as frontend/src/chat.ts, so a reloaded page looks like the live one.
    """
    parts: list[str] = []
    last = 0
    for match in _TOKEN_RE.finditer(body):
        parts.append(str(escape(body[last : match.start()])))
        url, name = match.group(1), match.group(2)
        if url:
            trail = ""
            while url and url[-1] in ".,;:!?)":
                trail = url[-1] + trail
                url = url[:-1]
            parts.append(
                f'<a href="{escape(url)}" rel="nofollow noopener noreferrer" '
                f'target="_blank">{escape(url)}</a>{escape(trail)}'
            )
        else:
            parts.append(
                f'<span class="mention" data-username="{escape(name)}">@{escape(name)}</span>'
            )
        last = match.end()
    parts.append(str(escape(body[last:])))
    return Markup("".join(parts))  # noqa: S704 - every user fragment above is escaped


# ------------------------------------------------------------------ pages


@bp.get("/chat")
@bp.get("/chat/<slug>")
@allow(Access.MEMBER, right="chat")
async def chat_page(slug: str | None = None) -> Any:
    hub = current_hub()
    who = viewer()
    rooms = await chat.rooms_for(hub, who)
    if slug is None:
        if not rooms:
            return await render_error(404, "There is no chat room you can join.")
        slug = rooms[0].slug
    try:
        page = await chat.history(hub, who, slug)
    except chat.ChatError as error:
        return await render_error(error.status, error.message)
    return await render_template(
        "chat/room.html",
        room=page.room,
        rooms=rooms,
        page=page,
        render_body=render_body,
        edit_window=hub.settings.chat_edit_window_seconds,
        message_max=hub.settings.chat_message_max,
        mutes=await chat.mutes_in(hub, who, slug),
    )


@bp.post("/chat/<slug>")
@allow(Access.MEMBER, right="chat")
async def post_message_form(slug: str) -> Any:
    """The form's fallback without JavaScript: send, then back to the room."""
    form = await request.form
    try:
        await chat.send_message(current_hub(), viewer(), slug, form.get("body", ""))
    except chat.ChatError as error:
        if error.status in (403, 404) and error.code in ("forbidden", "not_found"):
            return await render_error(error.status, error.message)
        await flash(error.message, "error")
    return redirect(url_for("chat.chat_page", slug=slug))


@bp.post("/chat/<slug>/unmute")
@allow(Access.MODERATOR)
async def unmute_form(slug: str) -> Any:
    """The moderator's Unmute button: lifts the mute in this room, or in all rooms."""
    form = await request.form
    username = form.get("username", "")
    try:
        lifted = await chat.unmute_member(
            current_hub(),
            viewer(),
            username,
            room_slug=None if form.get("scope") == "all" else slug,
            ip=request.remote_addr,
        )
    except chat.ChatError as error:
        await flash(error.message, "error")
    else:
        await flash(f"{username} can talk again." if lifted else f"{username} was not muted.",
                    "success" if lifted else "error")
    return redirect(url_for("chat.chat_page", slug=slug))


# ------------------------------------------------------------------ API


@dataclass
class HistoryQuery:
    before: int | None = None
    limit: int = chat.HISTORY_PAGE


@dataclass
class SendBody:
    body: str


@dataclass
class MuteBody:
    username: str
    room: str | None = None
    seconds: int | None = 600
    reason: str | None = None


@bp.get("/api/v1/chat/rooms")
@allow(Access.MEMBER, right="chat", token_scope=CHAT_SCOPE)
async def api_rooms() -> Any:
    rooms = await chat.rooms_for(current_hub(), viewer())
    return jsonify(
        rooms=[
            {"slug": r.slug, "name": r.name, "description": r.description, "stream": r.stream}
            for r in rooms
        ]
    )


@bp.get("/api/v1/chat/rooms/<slug>/messages")
@allow(Access.MEMBER, right="chat", token_scope=CHAT_SCOPE)
@validate_querystring(HistoryQuery)
async def api_history(slug: str, query_args: HistoryQuery) -> Any:
    """Up to `limit` messages older than `before` (a message id), oldest first."""
    page = await chat.history(
        current_hub(), viewer(), slug, query_args.before, query_args.limit
    )
    return jsonify(page.to_dict())


@bp.post("/api/v1/chat/rooms/<slug>/messages")
@allow(Access.MEMBER, right="chat", token_scope=CHAT_SCOPE)
@validate_request(SendBody)
async def api_send(slug: str, data: SendBody) -> Any:
    message = await chat.send_message(current_hub(), viewer(), slug, data.body)
    return jsonify(message=message.to_dict()), 201


@bp.patch("/api/v1/chat/messages/<int:message_id>")
@allow(Access.MEMBER, right="chat", token_scope=CHAT_SCOPE)
@validate_request(SendBody)
async def api_edit(message_id: int, data: SendBody) -> Any:
    message = await chat.edit_message(current_hub(), viewer(), message_id, data.body)
    return jsonify(message=message.to_dict())


@bp.delete("/api/v1/chat/messages/<int:message_id>")
@allow(Access.MEMBER, right="chat", token_scope=CHAT_SCOPE)
async def api_delete(message_id: int) -> Any:
    message = await chat.delete_message(
        current_hub(), viewer(), message_id, ip=request.remote_addr
    )
    return jsonify(message=message.to_dict())


@bp.post("/api/v1/chat/mutes")
@allow(Access.MODERATOR, token_scope=MODERATE_SCOPE)
@validate_request(MuteBody)
async def api_mute(data: MuteBody) -> Any:
    mute = await chat.mute_member(
        current_hub(),
        viewer(),
        data.username,
        room_slug=data.room,
        seconds=data.seconds,
        reason=data.reason,
        ip=request.remote_addr,
    )
    return jsonify(mute=mute), 201


@bp.delete("/api/v1/chat/mutes/<username>")
@allow(Access.MODERATOR, token_scope=MODERATE_SCOPE)
async def api_unmute(username: str) -> Any:
    lifted = await chat.unmute_member(
        current_hub(),
        viewer(),
        username,
        room_slug=request.args.get("room") or None,
        ip=request.remote_addr,
    )
    return jsonify(lifted=lifted)
