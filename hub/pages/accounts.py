"""Account pages: register, log in (with the 2FA step), log out, profiles, settings.

Routes only parse forms, call hub.accounts.actions and render or redirect. A refusal
(AccountError) is shown next to the field it names, with what the person typed kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from quart import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from hub.accounts import actions, auth, passwords
from hub.accounts.errors import AccountError, RateLimited
from hub.community import notifications
from hub.pages import formatting
from hub.pages.web import current_hub, render_error, viewer
from hub.policy import Access, allow

bp = Blueprint("accounts", __name__)
formatting.register(bp)

# The pending-login token between the password and the code steps; a cookie keeps it
# out of the page, and the narrow path keeps it off every other request.
PENDING_COOKIE = "hub_login_pending"
PENDING_PATH = "/login"

FIELD_LABELS = {
    "login": "Username or email",
    "username": "Username",
    "email": "Email",
    "password": "Password",
    "password_confirm": "Password again",
    "invite_code": "Invite code",
    "code": "Code",
    "name": "Name",
    "scopes": "Scopes",
    "paranoia": "Paranoia level",
    "current_password": "Current password",
    "token": "Reset link",
}

PARANOIA_LEVELS = (
    (0, "show everything"),
    (1, "hide when I am online"),
    (2, "also hide my recent activity"),
    (3, "also hide my transfer statistics"),
    (4, "also hide my uploads and snatches"),
    (5, "hide my whole profile"),
)

PRIVACY_FLAGS = (
    ("hide_stats", "Upload and download statistics"),
    ("hide_uploads", "The list and count of my uploads"),
    ("hide_snatches", "The list and count of my snatches"),
    ("hide_activity", "My recent activity"),
    ("hide_online", "When I was last online"),
    ("hide_profile", "My whole profile"),
)


# ------------------------------------------------------------------ helpers


def error_text(exc: AccountError, field: str | None = None) -> str:
    """Actions say "is already taken"; the page says "Username is already taken."."""
    message = exc.message.rstrip(".")
    if isinstance(exc, RateLimited):
        minutes = max(1, round(exc.retry_after / 60))
        return f"{message.rstrip('.')} (about {minutes} minute{'s' if minutes != 1 else ''})."
    if field and message.split(" ", 1)[0] in {"is", "has", "must", "already", "breaks", "cannot"}:
        return f"{FIELD_LABELS.get(field, field.replace('_', ' ').capitalize())} {message}."
    return message[:1].upper() + message[1:] + "."


def errors_for(exc: AccountError, fields: tuple[str, ...]) -> dict[str, str]:
    """Put the message on its field when the form has it, else at the top of the form."""
    if exc.field in fields:
        return {exc.field: error_text(exc, exc.field)}
    return {"form": error_text(exc, exc.field)}


def page_status(exc: AccountError) -> int:
    """A refused form is a 400 page; 401/403 belong to the policy, not to a typo."""
    return exc.status if exc.status in (404, 409, 429) else 400


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: a login link must not bounce people to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _go(location: str) -> Any:
    """A redirect to set cookies on (Quart's redirect is typed as werkzeug's Response)."""
    return redirect(location)


def _redirect_after_login(target: str | None) -> Any:
    return _go(safe_next(target) or url_for("home.index"))


def _me() -> UUID:
    user_id = viewer().user_id
    assert user_id is not None  # every caller is behind @allow(Access.MEMBER)
    return user_id


# ------------------------------------------------------------------ register


@bp.get("/register")
@allow(Access.PUBLIC)
async def register_page() -> Any:
    if viewer().is_authenticated:
        return redirect(url_for("home.index"))
    form = {"invite_code": request.args.get("invite", "")}
    return await _render_register(form, {})


async def _render_register(form: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    settings = current_hub().settings
    return (
        await render_template(
            "accounts/register.html",
            form=form,
            errors=errors,
            invite_only=settings.registration == "invite",
            min_password=passwords.MIN_LENGTH,
        ),
        status,
    )


@bp.post("/register")
@allow(Access.PUBLIC)
async def register() -> Any:
    hub = current_hub()
    raw = await request.form
    form = {k: raw.get(k, "") for k in ("username", "email", "invite_code")}
    password = raw.get("password", "")
    if password != raw.get("password_confirm", ""):
        errors = {"password_confirm": "The two passwords are not the same."}
        return await _render_register(form, errors, 400)
    meta = auth.request_meta(hub)
    try:
        user_id = await actions.register(
            hub,
            username=form["username"],
            email=form["email"],
            password=password,
            invite_code=form["invite_code"] or None,
            ip=meta["ip"],
        )
    except AccountError as exc:
        fields = ("username", "email", "password", "invite_code")
        return await _render_register(form, errors_for(exc, fields), page_status(exc))
    _session_id, token = await actions.start_session(hub, user_id, **meta)
    await flash(f"Welcome to {hub.settings.site_name}, {form['username'].strip()}!", "success")
    response = _go(url_for("home.index"))
    auth.set_session_cookie(response, hub, token)
    return response


# ------------------------------------------------------------------ login


async def _render_login(
    form: dict[str, Any],
    errors: dict[str, str],
    target: str | None,
    exc: AccountError | None = None,
) -> Any:
    page = await render_template("accounts/login.html", form=form, errors=errors, next=target)
    return page, (page_status(exc) if exc else 200)


@bp.get("/login")
@allow(Access.PUBLIC)
async def login_page() -> Any:
    if viewer().is_authenticated:
        return _redirect_after_login(request.args.get("next"))
    return await _render_login({}, {}, safe_next(request.args.get("next")))


@bp.post("/login")
@allow(Access.PUBLIC)
async def login() -> Any:
    hub = current_hub()
    raw = await request.form
    form = {"login": raw.get("login", "")}
    target = safe_next(raw.get("next"))
    try:
        result = await actions.login(
            hub, login=form["login"], password=raw.get("password", ""), **auth.request_meta(hub)
        )
    except AccountError as exc:
        return await _render_login(form, errors_for(exc, ("login", "password")), target, exc)
    if result.needs_2fa:
        assert result.pending_token is not None
        response = _go(url_for("accounts.login_2fa_page", next=target or None))
        response.set_cookie(
            PENDING_COOKIE,
            result.pending_token,
            max_age=result.pending_expires_in,
            httponly=True,
            samesite="Lax",
            secure=hub.settings.cookie_secure,
            path=PENDING_PATH,
        )
        return response
    assert result.session_token is not None
    response = _redirect_after_login(target)
    auth.set_session_cookie(response, hub, result.session_token)
    return response


@bp.get("/login/2fa")
@allow(Access.PUBLIC)
async def login_2fa_page() -> Any:
    target = safe_next(request.args.get("next"))
    if PENDING_COOKIE not in request.cookies:
        return await _render_login({}, {"form": "Log in with your password first."}, target)
    return await render_template(
        "accounts/login_2fa.html", errors={}, next=target
    )


@bp.post("/login/2fa")
@allow(Access.PUBLIC)
async def login_2fa() -> Any:
    hub = current_hub()
    raw = await request.form
    target = safe_next(raw.get("next"))
    pending = request.cookies.get(PENDING_COOKIE, "")
    if not pending:
        errors = {"form": "That login step expired. Log in with your password again."}
        return await _render_login({}, errors, target, AccountError("expired"))
    try:
        result = await actions.login_second_factor(
            hub, pending_token=pending, code=raw.get("code", ""), **auth.request_meta(hub)
        )
    except AccountError as exc:
        if exc.field == "pending_token":
            page, status = await _render_login({}, {"form": error_text(exc)}, target, exc)
            response = await make_response(page, status)
            response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH)
            return response
        return (
            await render_template(
                "accounts/login_2fa.html", errors=errors_for(exc, ("code",)), next=target
            ),
            page_status(exc),
        )
    assert result.session_token is not None
    response = _redirect_after_login(target)
    response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH)
    auth.set_session_cookie(response, hub, result.session_token)
    return response


@bp.post("/logout")
@allow(Access.PUBLIC)
async def logout() -> Any:
    session_id = viewer().session_id
    if session_id is not None:
        await actions.logout(current_hub(), session_id)
    await flash("You are logged out.", "success")
    response = _go(url_for("home.index"))
    auth.clear_session_cookie(response)
    return response


# ------------------------------------------------------------------ password reset


@bp.get("/forgot-password")
@allow(Access.PUBLIC)
async def forgot_password_page() -> Any:
    return await render_template("accounts/forgot_password.html", form={}, errors={}, sent=False)


@bp.post("/forgot-password")
@allow(Access.PUBLIC)
async def forgot_password() -> Any:
    hub = current_hub()
    form = {"email": (await request.form).get("email", "")}
    try:
        await actions.request_password_reset(hub, email=form["email"], ip=auth.client_ip(hub))
    except AccountError as exc:
        page = await render_template(
            "accounts/forgot_password.html",
            form=form,
            errors=errors_for(exc, ("email",)),
            sent=False,
        )
        return page, page_status(exc)
    # The same answer whether or not the address has an account.
    return await render_template("accounts/forgot_password.html", form=form, errors={}, sent=True)


@bp.get("/reset-password")
@allow(Access.PUBLIC)
async def reset_password_page() -> Any:
    token = request.args.get("token", "")
    return await render_template("accounts/reset_password.html", token=token, errors={})


@bp.post("/reset-password")
@allow(Access.PUBLIC)
async def reset_password() -> Any:
    raw = await request.form
    token = raw.get("token", "")
    password = raw.get("password", "")
    if password != raw.get("password_confirm", ""):
        errors = {"password_confirm": "The two passwords are not the same."}
        page = await render_template("accounts/reset_password.html", token=token, errors=errors)
        return page, 400
    try:
        await actions.confirm_password_reset(current_hub(), token=token, new_password=password)
    except AccountError as exc:
        errors = errors_for(exc, ("password",))
        page = await render_template("accounts/reset_password.html", token=token, errors=errors)
        return page, page_status(exc)
    await flash("Your password is changed and every session is logged out. Log in again.",
                "success")
    return redirect(url_for("accounts.login_page"))


# ------------------------------------------------------------------ profile


@bp.get("/users/<username>")
@allow(Access.MEMBER)
async def profile_page(username: str) -> Any:
    who = viewer()
    profile = await actions.profile_for(current_hub(), who, username)
    if profile is None:
        return await render_error(404, f"There is no member called “{username}”.")
    return await render_template(
        "accounts/profile.html",
        profile=profile,
        is_self=profile.get("is_self", False),
        staff_view=who.is_moderator and not profile.get("is_self", False),
    )


# ------------------------------------------------------------------ settings


def token_scopes() -> list[str]:
    """Scopes an API token can carry: those the app's routes accept, read from @allow."""
    from quart import current_app

    from hub.pages import policy_for_endpoint

    scopes = {
        rule.token_scope
        for endpoint in current_app.view_functions
        if (rule := policy_for_endpoint(current_app, endpoint)) is not None and rule.token_scope
    }
    return sorted(scopes)


SCOPE_HINTS = {
    "read": "read",
    "write": "change",
}


def _scope_label(scope: str) -> str:
    """"account:read" -> "read account"; a bare scope ("chat") needs no gloss."""
    area, _, verb = scope.partition(":")
    if verb in SCOPE_HINTS:
        return f"{SCOPE_HINTS[verb]} {area.replace('_', ' ')}"
    return ""


async def render_settings(status: int = 200, **extra: Any) -> Any:
    """The settings page; POST handlers pass errors, kept input and one-time values."""
    hub = current_hub()
    who = viewer()
    user_id = _me()
    account = await actions.account_summary(hub, user_id)
    sessions = await actions.list_sessions(hub, user_id)
    for s in sessions:
        s["device"] = formatting.device_label(s.get("user_agent"))
    privacy = await actions.get_privacy(hub, user_id)
    can_invite = who.has("invite")
    context: dict[str, Any] = {
        "account": account,
        "now": datetime.now(UTC),
        "announce_url": account["announce_url"],
        "totp_enabled": account["two_factor"],
        "sessions": sessions,
        "privacy": privacy,
        "paranoia_levels": PARANOIA_LEVELS,
        "privacy_flags": PRIVACY_FLAGS,
        "notification_kinds": sorted(notifications.KINDS.items(), key=lambda kv: kv[1]),
        "notification_prefs": privacy.get("notification_prefs") or {},
        "tokens": await actions.list_api_tokens(hub, user_id),
        "scopes": [(s, _scope_label(s)) for s in token_scopes()],
        "can_invite": can_invite,
        "invites": await actions.list_invites(hub, user_id) if can_invite else [],
        "errors_2fa": {},
        "errors_password": {},
        "errors_token": {},
        "errors_invite": {},
        "token_form": {},
        "invite_form": {},
        "new_token": None,
        "new_invite": None,
    }
    context.update(extra)
    return await render_template("accounts/settings.html", **context), status


def _back(section: str) -> Any:
    return redirect(url_for("accounts.settings_page") + f"#{section}")


@bp.get("/settings")
@allow(Access.MEMBER)
async def settings_page() -> Any:
    return await render_settings()


@bp.post("/settings/sessions/<uuid:session_id>/revoke")
@allow(Access.MEMBER)
async def revoke_session(session_id: UUID) -> Any:
    try:
        await actions.revoke_session(current_hub(), _me(), session_id)
    except AccountError as exc:
        await flash(error_text(exc), "error")
    else:
        await flash("That session is logged out.", "success")
    return _back("sessions")


@bp.post("/settings/sessions/revoke-others")
@allow(Access.MEMBER)
async def revoke_other_sessions() -> Any:
    count = await actions.revoke_other_sessions(current_hub(), _me(), viewer().session_id)
    noun = "session" if count == 1 else "sessions"
    await flash(f"Logged out {count} other {noun}.", "success")
    return _back("sessions")


@bp.post("/settings/password")
@allow(Access.MEMBER)
async def change_password() -> Any:
    raw = await request.form
    password = raw.get("password", "")
    if password != raw.get("password_confirm", ""):
        errors = {"password_confirm": "The two passwords are not the same."}
        return await render_settings(400, errors_password=errors)
    try:
        await actions.change_password(
            current_hub(),
            _me(),
            current_password=raw.get("current_password", ""),
            new_password=password,
            keep_session=viewer().session_id,
        )
    except AccountError as exc:
        errors = errors_for(exc, ("current_password", "password"))
        return await render_settings(page_status(exc), errors_password=errors)
    await flash("Password changed. Your other sessions are logged out.", "success")
    return _back("password")


@bp.post("/settings/passkey/rotate")
@allow(Access.MEMBER)
async def rotate_passkey() -> Any:
    hub = current_hub()
    await actions.rotate_passkey(hub, _me(), ip=auth.client_ip(hub))
    await flash(
        "Your passkey was replaced. Download your .torrent files again so your client uses it.",
        "success",
    )
    return _back("passkey")


@bp.post("/settings/2fa/enrol")
@allow(Access.MEMBER)
async def begin_totp() -> Any:
    try:
        enrolment = await actions.begin_totp(current_hub(), _me())
    except AccountError as exc:
        await flash(error_text(exc), "error")
        return _back("two-factor")
    return await render_template("accounts/totp_enrol.html", enrolment=enrolment, errors={})


@bp.post("/settings/2fa/confirm")
@allow(Access.MEMBER)
async def confirm_totp() -> Any:
    hub = current_hub()
    raw = await request.form
    try:
        codes = await actions.confirm_totp(hub, _me(), raw.get("code", ""))
    except AccountError as exc:
        if exc.field != "code":
            await flash(error_text(exc), "error")
            return _back("two-factor")
        enrolment = await actions.pending_totp(hub, _me())
        if enrolment is None:
            return _back("two-factor")
        return (
            await render_template(
                "accounts/totp_enrol.html", enrolment=enrolment, errors=errors_for(exc, ("code",))
            ),
            page_status(exc),
        )
    return await render_template("accounts/totp_backup_codes.html", codes=codes)


@bp.post("/settings/2fa/disable")
@allow(Access.MEMBER)
async def disable_totp() -> Any:
    raw = await request.form
    try:
        await actions.disable_totp(
            current_hub(), _me(), password=raw.get("password", ""), code=raw.get("code", "")
        )
    except AccountError as exc:
        errors = errors_for(exc, ("password", "code"))
        return await render_settings(page_status(exc), errors_2fa=errors)
    await flash("Two-factor authentication is off.", "success")
    return _back("two-factor")


@bp.post("/settings/privacy")
@allow(Access.MEMBER)
async def update_privacy() -> Any:
    raw = await request.form
    changes: dict[str, Any] = {flag: raw.get(flag) == "1" for flag, _label in PRIVACY_FLAGS}
    try:
        changes["paranoia"] = int(raw.get("paranoia", "0"))
    except ValueError:
        await flash("Pick a paranoia level from the list.", "error")
        return _back("privacy")
    try:
        await actions.update_privacy(current_hub(), _me(), changes)
    except AccountError as exc:
        await flash(error_text(exc, exc.field), "error")
    else:
        await flash("Privacy settings saved.", "success")
    return _back("privacy")


@bp.post("/settings/notifications")
@allow(Access.MEMBER)
async def update_notifications() -> Any:
    wanted = set((await request.form).getlist("notify"))
    prefs = {kind: kind in wanted for kind in notifications.KINDS}
    try:
        await actions.update_privacy(current_hub(), _me(), {"notification_prefs": prefs})
    except AccountError as exc:
        await flash(error_text(exc, exc.field), "error")
    else:
        await flash("Notification preferences saved.", "success")
    return _back("notifications")


@bp.post("/settings/tokens")
@allow(Access.MEMBER)
async def create_token() -> Any:
    raw = await request.form
    form = {"name": raw.get("name", ""), "scopes": raw.getlist("scopes")}
    known = set(token_scopes())
    unknown = [s for s in form["scopes"] if s not in known]
    if unknown or not form["scopes"]:
        message = "Choose at least one scope." if not unknown else f"Unknown scope {unknown[0]}."
        return await render_settings(400, errors_token={"scopes": message}, token_form=form)
    try:
        _token_id, token = await actions.create_api_token(
            current_hub(), _me(), name=form["name"], scopes=form["scopes"]
        )
    except AccountError as exc:
        errors = errors_for(exc, ("name", "scopes"))
        return await render_settings(page_status(exc), errors_token=errors, token_form=form)
    return await render_settings(new_token={"name": form["name"].strip(), "token": token})


@bp.post("/settings/tokens/<uuid:token_id>/revoke")
@allow(Access.MEMBER)
async def revoke_token(token_id: UUID) -> Any:
    try:
        await actions.revoke_api_token(current_hub(), _me(), token_id)
    except AccountError as exc:
        await flash(error_text(exc), "error")
    else:
        await flash("Token revoked.", "success")
    return _back("tokens")


@bp.post("/settings/invites")
@allow(Access.MEMBER, right="invite")
async def create_invite() -> Any:
    hub = current_hub()
    raw = await request.form
    form = {"email": raw.get("email", "")}
    try:
        invite_id, code = await actions.create_invite(hub, viewer(), email=form["email"] or None)
    except AccountError as exc:
        errors = errors_for(exc, ("email",))
        return await render_settings(page_status(exc), errors_invite=errors, invite_form=form)
    invites = await actions.list_invites(hub, _me())
    created = next((i for i in invites if i["id"] == invite_id), {"code": code, "expires_at": None})
    return await render_settings(new_invite=created)
