"""The moderators' dashboard and members' reports.

The dashboard lists open queue items; frontend/src/modqueue.ts follows the `modqueue`
stream so items appear, change hands and disappear on every moderator's screen without a
reload. Every button also works as a plain form post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from quart_schema import validate_request

from hub.moderation import dashboard, reports
from hub.pages.web import current_hub, render_error, viewer
from hub.policy import Access, allow

# API token scopes these routes accept.
MODERATE_SCOPE = "moderate"
REPORT_SCOPE = "report"

bp = Blueprint("moderation", __name__)




async def _stream_seq() -> int:
    async with current_hub().pool.acquire() as conn:
        seq = await conn.fetchval("SELECT last_seq FROM event_streams WHERE stream = 'modqueue'")
    return int(seq or 0)


# ------------------------------------------------------------------ dashboard


@bp.get("/moderation")
@allow(Access.MODERATOR)
async def dashboard_page() -> Any:
    hub = current_hub()
    # The seq first: an event between the two reads is replayed and applied idempotently.
    seq = await _stream_seq()
    items = await dashboard.open_items(hub)
    mods = await dashboard.moderators(hub)
    return await render_template("moderation/dashboard.html", items=items, moderators=mods, seq=seq)


@bp.post("/moderation/items/<int:queue_id>")
@allow(Access.MODERATOR)
async def item_form(queue_id: int) -> Any:
    """The no-JavaScript path: one form per action, then back to the dashboard."""
    form = await request.form
    action = form.get("action", "")
    hub, who = current_hub(), viewer()
    try:
        if action == "claim":
            await dashboard.claim(hub, who, queue_id)
        elif action == "assign":
            await dashboard.assign(hub, who, queue_id, form.get("username", ""))
        elif action == "resolve":
            await dashboard.resolve(
                hub,
                who,
                queue_id,
                form.get("decision", ""),
                form.get("reason"),
                ip=request.remote_addr,
            )
        else:
            await flash("Unknown action.", "error")
    except dashboard.DashboardError as error:
        await flash(error.message, "error")
    return redirect(url_for("moderation.dashboard_page"))


@dataclass
class AssignBody:
    username: str


@dataclass
class ResolveBody:
    decision: str
    reason: str | None = None


@bp.get("/api/v1/moderation/queue")
@allow(Access.MODERATOR, token_scope=MODERATE_SCOPE)
async def api_queue() -> Any:
    seq = await _stream_seq()
    return jsonify(items=await dashboard.open_items(current_hub()), seq=seq)


@bp.post("/api/v1/moderation/queue/<int:queue_id>/claim")
@allow(Access.MODERATOR, token_scope=MODERATE_SCOPE)
async def api_claim(queue_id: int) -> Any:
    return jsonify(item=await dashboard.claim(current_hub(), viewer(), queue_id))


@bp.post("/api/v1/moderation/queue/<int:queue_id>/assign")
@allow(Access.MODERATOR, token_scope=MODERATE_SCOPE)
@validate_request(AssignBody)
async def api_assign(queue_id: int, data: AssignBody) -> Any:
    item = await dashboard.assign(current_hub(), viewer(), queue_id, data.username)
    return jsonify(item=item)


@bp.post("/api/v1/moderation/queue/<int:queue_id>/resolve")
@allow(Access.MODERATOR, token_scope=MODERATE_SCOPE)
@validate_request(ResolveBody)
async def api_resolve(queue_id: int, data: ResolveBody) -> Any:
    result = await dashboard.resolve(
        current_hub(),
        viewer(),
        queue_id,
        data.decision,
        data.reason,
        ip=request.remote_addr,
    )
    return jsonify(result)


# ------------------------------------------------------------------ reports


@dataclass
class ReportBody:
    target_type: str
    target_id: str
    reason: str
    report_type: str | None = None


@bp.get("/report")
@allow(Access.MEMBER)
async def report_page() -> Any:
    target_type = request.args.get("type", "")
    target_id = request.args.get("id", "")
    if target_type not in reports.TARGET_TABLES or not target_id:
        return await render_error(400, "Use the Report link next to what you want to report.")
    return await render_template(
        "moderation/report.html", target_type=target_type, target_id=target_id, error=None
    )


@bp.post("/report")
@allow(Access.MEMBER)
async def report_form() -> Any:
    form = await request.form
    target_type = form.get("target_type", "")
    target_id = form.get("target_id", "")
    try:
        await reports.create_report(
            current_hub(),
            viewer(),
            target_type=target_type,
            target_id=target_id,
            reason=form.get("reason", ""),
        )
    except reports.ReportError as error:
        return (
            await render_template(
                "moderation/report.html",
                target_type=target_type,
                target_id=target_id,
                error=error,
                reason=form.get("reason", ""),
            ),
            error.status,
        )
    await flash("Thank you: staff will look at your report.", "success")
    return redirect(url_for("home.index"))


@bp.post("/api/v1/reports")
@allow(Access.MEMBER, token_scope=REPORT_SCOPE)
@validate_request(ReportBody)
async def api_report(data: ReportBody) -> Any:
    report = await reports.create_report(
        current_hub(),
        viewer(),
        target_type=data.target_type,
        target_id=data.target_id,
        reason=data.reason,
        report_type=data.report_type,
    )
    return jsonify(report=report.to_dict()), 201
