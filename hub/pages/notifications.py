"""Notifications: the list page, the bell's count, and the API to mark them read.

Marking read writes a `notifications_read` event on the member's `user:<id>` stream, so the
bell in every other open tab follows (frontend/src/notifications.ts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quart import Blueprint, jsonify, redirect, render_template, request, url_for
from quart_schema import validate_querystring, validate_request

from hub.community import notifications
from hub.pages.web import current_hub, viewer
from hub.policy import Access, allow

# API token scopes these routes accept.
NOTIFICATIONS_SCOPE = "notifications"

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
async def _bell() -> dict[str, Any]:
    """The unread count for the bell in the top bar of every page."""
    who = viewer()
    if not who.is_authenticated or who.user_id is None:
        return {}
    try:
        count = await notifications.get_unread_count(current_hub(), who.user_id)
    except Exception:  # the bell must never break a page (e.g. an error page while the DB is down)
        return {}
    return {"notifications_unread": count}


@dataclass
class ListQuery:
    before: int | None = None
    limit: int = 30
    unread: bool = False


@dataclass
class ReadBody:
    ids: list[int] = field(default_factory=list)


def _user_id() -> Any:
    who = viewer()
    assert who.user_id is not None  # the route's policy guarantees a member
    return who.user_id


@bp.get("/notifications")
@allow(Access.MEMBER)
async def list_page() -> Any:
    before = request.args.get("before", type=int)
    unread_only = request.args.get("unread") == "1"
    page = await notifications.list_for(
        current_hub(), _user_id(), before=before, limit=30, unread_only=unread_only
    )
    return await render_template(
        "notifications/list.html", page=page, unread_only=unread_only, before=before
    )


@bp.post("/notifications/read")
@allow(Access.MEMBER)
async def mark_read_form() -> Any:
    """Without JavaScript: mark one (`id`) or all read, then back to the list."""
    form = await request.form
    raw = form.get("id", "")
    if raw.isdigit():
        await notifications.mark_read(current_hub(), _user_id(), [int(raw)])
    else:
        await notifications.mark_all_read(current_hub(), _user_id())
    return redirect(url_for("notifications.list_page"))


@bp.get("/api/v1/notifications")
@allow(Access.MEMBER, token_scope=NOTIFICATIONS_SCOPE)
@validate_querystring(ListQuery)
async def api_list(query_args: ListQuery) -> Any:
    page = await notifications.list_for(
        current_hub(),
        _user_id(),
        before=query_args.before,
        limit=query_args.limit,
        unread_only=query_args.unread,
    )
    return jsonify(page.to_dict())


@bp.get("/api/v1/notifications/unread_count")
@allow(Access.MEMBER, token_scope=NOTIFICATIONS_SCOPE)
async def api_unread_count() -> Any:
    return jsonify(unread=await notifications.get_unread_count(current_hub(), _user_id()))


@bp.post("/api/v1/notifications/read")
@allow(Access.MEMBER, token_scope=NOTIFICATIONS_SCOPE)
@validate_request(ReadBody)
async def api_mark_read(data: ReadBody) -> Any:
    unread = await notifications.mark_read(current_hub(), _user_id(), data.ids[:500])
    return jsonify(unread=unread)


@bp.post("/api/v1/notifications/read_all")
@allow(Access.MEMBER, token_scope=NOTIFICATIONS_SCOPE)
async def api_mark_all_read() -> Any:
    changed = await notifications.mark_all_read(current_hub(), _user_id())
    return jsonify(marked=changed, unread=0)
