"""Admin pages: the groups and their rights, and user management (group, ban, 2FA reset).

Every write goes through hub.accounts.actions, which checks rank and writes audit_logs.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from quart import Blueprint, flash, redirect, render_template, request, url_for

from hub.accounts import actions, auth
from hub.accounts.errors import AccountError
from hub.pages.accounts import error_text, page_status
from hub.pages.web import current_hub, render_error, viewer
from hub.policy import RIGHTS, Access, allow

bp = Blueprint("admin", __name__, url_prefix="/admin")

RIGHT_LABELS: dict[str, str] = {
    "download": "Download",
    "upload": "Upload",
    "upload_unmoderated": "Upload unreviewed",
    "moderate": "Moderate",
    "administer": "Administer",
    "invite": "Invite",
    "chat": "Chat",
    "post_forums": "Forums",
    "request": "Requests",
}
RIGHT_CHOICES = tuple((r, RIGHT_LABELS.get(r, r)) for r in RIGHTS)


@bp.get("")
@allow(Access.ADMIN)
async def index_page() -> Any:
    hub = current_hub()
    q = request.args.get("q", "").strip()[:100]
    return await render_template(
        "admin/index.html",
        q=q,
        users=await actions.search_users(hub, q, limit=50),
        groups=await actions.list_groups(hub),
        rights=RIGHT_CHOICES,
    )


# ------------------------------------------------------------------ groups


async def _group(group_id: int) -> dict[str, Any] | None:
    groups = await actions.list_groups(current_hub())
    return next((g for g in groups if g["id"] == group_id), None)


async def _render_group(
    group: dict[str, Any], errors: dict[str, str], form: dict[str, Any], status: int = 200
) -> Any:
    return (
        await render_template(
            "admin/group.html", group=group, rights=RIGHT_CHOICES, errors=errors, form=form
        ),
        status,
    )


@bp.get("/groups/<int:group_id>")
@allow(Access.ADMIN)
async def group_page(group_id: int) -> Any:
    group = await _group(group_id)
    if group is None:
        return await render_error(404, "There is no such group.")
    return await _render_group(group, {}, {})


@bp.post("/groups/<int:group_id>")
@allow(Access.ADMIN)
async def update_group(group_id: int) -> Any:
    hub = current_hub()
    group = await _group(group_id)
    if group is None:
        return await render_error(404, "There is no such group.")
    raw = await request.form
    chosen = set(raw.getlist("rights"))
    changes: dict[str, Any] = {f"can_{r}": r in chosen for r in RIGHTS}
    form = {"min_ratio": raw.get("min_ratio", "")}
    try:
        min_ratio = Decimal(form["min_ratio"] or "0")
        if min_ratio < 0 or not min_ratio.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors = {"min_ratio": "Minimum ratio must be a number, 0 or more."}
        return await _render_group({**group, **changes}, errors, form, 400)
    changes["min_ratio"] = min_ratio
    try:
        await actions.update_group(hub, viewer(), group_id, changes, ip=auth.client_ip(hub))
    except AccountError as exc:
        field = exc.field or ""
        message = error_text(exc)
        if field.startswith("can_"):
            label = RIGHT_LABELS.get(field[4:], field)
            message = f"{label}: {exc.message}."
        return await _render_group({**group, **changes}, {"form": message}, form, page_status(exc))
    await flash(f"Saved the rights of {group['name']}.", "success")
    return redirect(url_for("admin.index_page") + "#groups")


# ------------------------------------------------------------------ users


@bp.get("/users/<uuid:user_id>")
@allow(Access.ADMIN)
async def user_page(user_id: UUID) -> Any:
    hub = current_hub()
    user = await actions.user_for_staff(hub, user_id)
    if user is None:
        return await render_error(404, "There is no such user.")
    return await render_template(
        "admin/user.html",
        user=user,
        has_2fa=user["has_2fa"],
        groups=await actions.list_groups(hub),
    )


def _back_to(user_id: UUID) -> Any:
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.post("/users/<uuid:user_id>/group")
@allow(Access.ADMIN)
async def change_group(user_id: UUID) -> Any:
    hub = current_hub()
    slug = (await request.form).get("group", "")
    try:
        await actions.set_user_group(hub, viewer(), user_id, slug, ip=auth.client_ip(hub))
    except AccountError as exc:
        await flash(error_text(exc), "error")
    else:
        await flash("Group changed.", "success")
    return _back_to(user_id)


@bp.post("/users/<uuid:user_id>/ban")
@allow(Access.ADMIN)
async def ban_user(user_id: UUID) -> Any:
    hub = current_hub()
    reason = (await request.form).get("reason", "")
    try:
        await actions.ban_user(hub, viewer(), user_id, reason=reason, ip=auth.client_ip(hub))
    except AccountError as exc:
        await flash(error_text(exc, exc.field), "error")
    else:
        await flash("Banned. Their sessions have ended.", "success")
    return _back_to(user_id)


@bp.post("/users/<uuid:user_id>/unban")
@allow(Access.ADMIN)
async def unban_user(user_id: UUID) -> Any:
    hub = current_hub()
    try:
        await actions.unban_user(hub, viewer(), user_id, ip=auth.client_ip(hub))
    except AccountError as exc:
        await flash(error_text(exc), "error")
    else:
        await flash("The ban is lifted.", "success")
    return _back_to(user_id)


@bp.post("/users/<uuid:user_id>/reset-2fa")
@allow(Access.ADMIN)
async def reset_2fa(user_id: UUID) -> Any:
    hub = current_hub()
    try:
        await actions.admin_reset_2fa(hub, viewer(), user_id, ip=auth.client_ip(hub))
    except AccountError as exc:
        await flash(error_text(exc), "error")
    else:
        await flash("Two-factor authentication removed from the account.", "success")
    return _back_to(user_id)
