"""JSON API for accounts under /api/v1: registration, login with the 2FA step, sessions,
privacy, passkey, 2FA, API tokens, invites, password reset, and the admin's groups/users.

Thin: each route validates its body (quart-schema dataclasses, so /openapi.json documents
it), calls one action, and answers JSON. Refusals from actions (AccountError) become
{"error", "field"} with their status; 429s carry Retry-After.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from quart import Blueprint, Response, g, jsonify, request
from quart_schema import document_response, validate_request

from hub.accounts import actions, auth
from hub.accounts.errors import AccountError, RateLimited
from hub.pages import web
from hub.policy import Access, allow

bp = Blueprint("api_accounts", __name__, url_prefix="/api/v1")

# API token scopes for the routes scripts may use; the rest need a browser session.
READ_ACCOUNT = "account:read"
WRITE_ACCOUNT = "account:write"
READ_USERS = "users:read"


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def ok(payload: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(jsonable(payload)), status


def _me() -> Any:
    who = web.viewer()
    assert who.user_id is not None
    return who


# ------------------------------------------------------------------ errors (app-wide)


@bp.app_errorhandler(AccountError)
async def account_error(error: AccountError) -> Any:
    """Refusals from account actions, for the API and for pages that let them through."""
    if web.wants_json():
        body: dict[str, Any] = {"error": error.message}
        if error.field:
            body["field"] = error.field
            body["error"] = f"{error.field}: {error.message}"
        response = jsonify(body)
        response.status_code = error.status
    else:
        text = (
            f"{error.field.replace('_', ' ').capitalize()} {error.message}."
            if error.field
            else error.message
        )
        rendered, status = await web.render_error(error.status, text)
        response = Response(rendered, status=status, content_type="text/html; charset=utf-8")
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
        if web.wants_json():
            response.set_data(
                json.dumps({"error": error.message, "retry_after": error.retry_after})
            )
    return response


@bp.after_app_request
async def explain_refused_credentials(response: Response) -> Response:
    """A 401 says why the sent credentials failed (revoked, banned...), and a dead session
    cookie is cleared so the browser stops sending it."""
    problem = auth.auth_problem()
    if problem and response.status_code == 401 and response.mimetype == "application/json":
        body = await response.get_json()
        if isinstance(body, dict):
            body["reason"] = problem
            response.set_data(json.dumps(body))
    if g.get("clear_session_cookie") and "hub_session" not in response.headers.get(
        "Set-Cookie", ""
    ):
        auth.clear_session_cookie(response)
    return response


# ------------------------------------------------------------ answer shapes (for /openapi.json)


@dataclass
class ErrorAnswer:
    error: str
    field: str | None = None
    reason: str | None = None
    retry_after: int | None = None


@dataclass
class LoginAnswer:
    status: str = field(metadata={"description": '"ok" or "2fa_required"'})
    user_id: str | None = None
    session_id: str | None = None
    session_token: str | None = None
    pending_token: str | None = None
    expires_in: int | None = None


@dataclass
class MeAnswer:
    id: str
    username: str
    email: str
    group: str
    group_name: str
    passkey: str
    announce_url: str
    two_factor: bool
    backup_codes_left: int
    rights: list[str]
    session_id: str | None
    uploaded: int
    downloaded: int
    ratio: float | None
    created_at: str
    passkey_changed_at: str | None = None
    invited_by: str | None = None


@dataclass
class SessionAnswer:
    id: str
    device_fingerprint: str | None
    user_agent: str | None
    ip: str | None
    created_at: str
    last_seen_at: str
    expires_at: str
    current: bool


@dataclass
class SessionsAnswer:
    sessions: list[SessionAnswer]


@dataclass
class PrivacyAnswer:
    paranoia: int
    hide_stats: bool
    hide_uploads: bool
    hide_snatches: bool
    hide_activity: bool
    hide_online: bool
    hide_profile: bool
    notification_prefs: dict[str, bool]


@dataclass
class PasskeyAnswer:
    passkey: str
    announce_url: str


@dataclass
class EnrolAnswer:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass
class BackupCodesAnswer:
    enabled: bool
    backup_codes: list[str]


@dataclass
class TokenCreatedAnswer:
    id: str
    token: str
    scopes: list[str]


# ------------------------------------------------------------------ auth


@bp.get("/auth/csrf")
@allow(Access.PUBLIC)
async def csrf() -> Any:
    """The CSRF token (also set as the hub_csrf cookie) for cookie-authenticated writes."""
    return ok({"csrf_token": web.csrf_token()})


@dataclass
class RegisterBody:
    username: str
    email: str
    password: str
    invite_code: str | None = None


@bp.post("/auth/register")
@allow(Access.PUBLIC)
@document_response(LoginAnswer, 201)
@document_response(ErrorAnswer, 400)
@document_response(ErrorAnswer, 429)
@validate_request(RegisterBody)
async def register(data: RegisterBody) -> Any:
    """Create an account (open or invite-only registration) and sign it in."""
    hub = web.current_hub()
    meta = auth.request_meta(hub)
    user_id = await actions.register(
        hub,
        username=data.username,
        email=data.email,
        password=data.password,
        invite_code=data.invite_code,
        ip=meta["ip"],
    )
    session_id, token = await actions.start_session(hub, user_id, **meta)
    response, status = ok(
        {"user_id": user_id, "username": data.username.strip(), "session_id": session_id}, 201
    )
    auth.set_session_cookie(response, hub, token)
    return response, status


@dataclass
class LoginBody:
    login: str = field(metadata={"description": "username or email"})
    password: str
    issue_token: bool = False


def _session_answer(result: actions.LoginResult, issue_token: bool) -> Any:
    hub = web.current_hub()
    body: dict[str, Any] = {
        "status": "ok",
        "user_id": result.user_id,
        "session_id": result.session_id,
    }
    if issue_token:
        body["session_token"] = result.session_token
    response, status = ok(body)
    assert result.session_token is not None
    auth.set_session_cookie(response, hub, result.session_token)
    return response, status


@bp.post("/auth/login")
@allow(Access.PUBLIC)
@document_response(LoginAnswer, 200)
@document_response(ErrorAnswer, 400)
@document_response(ErrorAnswer, 401)
@document_response(ErrorAnswer, 429)
@validate_request(LoginBody)
async def login(data: LoginBody) -> Any:
    """Password step. With 2FA on, answers {"status": "2fa_required", "pending_token"}."""
    hub = web.current_hub()
    result = await actions.login(
        hub, login=data.login, password=data.password, **auth.request_meta(hub)
    )
    if result.needs_2fa:
        return ok(
            {
                "status": "2fa_required",
                "pending_token": result.pending_token,
                "expires_in": result.pending_expires_in,
            }
        )
    return _session_answer(result, data.issue_token)


@dataclass
class SecondFactorBody:
    pending_token: str
    code: str = field(metadata={"description": "6-digit TOTP code or a backup code"})
    issue_token: bool = False


@bp.post("/auth/login/2fa")
@allow(Access.PUBLIC)
@document_response(LoginAnswer, 200)
@document_response(ErrorAnswer, 400)
@document_response(ErrorAnswer, 401)
@document_response(ErrorAnswer, 429)
@validate_request(SecondFactorBody)
async def login_2fa(data: SecondFactorBody) -> Any:
    hub = web.current_hub()
    result = await actions.login_second_factor(
        hub, pending_token=data.pending_token, code=data.code, **auth.request_meta(hub)
    )
    return _session_answer(result, data.issue_token)


@bp.post("/auth/logout")
@allow(Access.MEMBER)
async def logout() -> Any:
    hub = web.current_hub()
    who = web.viewer()
    if who.session_id is not None:
        await actions.logout(hub, who.session_id)
    response, status = ok({"status": "logged out"})
    auth.clear_session_cookie(response)
    return response, status


@dataclass
class ResetRequestBody:
    email: str


@bp.post("/auth/password-reset")
@allow(Access.PUBLIC)
@validate_request(ResetRequestBody)
async def password_reset_request(data: ResetRequestBody) -> Any:
    """Always 202: the answer does not reveal whether the address has an account."""
    hub = web.current_hub()
    await actions.request_password_reset(hub, email=data.email, ip=auth.client_ip(hub))
    return ok({"status": "if the address has an account, a reset link is on its way"}, 202)


@dataclass
class ResetConfirmBody:
    token: str
    password: str


@bp.post("/auth/password-reset/confirm")
@allow(Access.PUBLIC)
@validate_request(ResetConfirmBody)
async def password_reset_confirm(data: ResetConfirmBody) -> Any:
    hub = web.current_hub()
    await actions.confirm_password_reset(hub, token=data.token, new_password=data.password)
    return ok({"status": "password changed; sign in with the new password"})


# ------------------------------------------------------------------ me


@bp.get("/me")
@allow(Access.MEMBER, token_scope=READ_ACCOUNT)
@document_response(MeAnswer, 200)
@document_response(ErrorAnswer, 401)
async def me() -> Any:
    who = _me()
    summary = await actions.account_summary(web.current_hub(), who.user_id)
    summary["rights"] = sorted(who.rights)
    summary["session_id"] = who.session_id
    return ok(summary)


@dataclass
class PasswordChangeBody:
    current_password: str
    new_password: str


@bp.post("/me/password")
@allow(Access.MEMBER)
@validate_request(PasswordChangeBody)
async def change_password(data: PasswordChangeBody) -> Any:
    """Change the password; every other session ends."""
    who = _me()
    await actions.change_password(
        web.current_hub(),
        who.user_id,
        current_password=data.current_password,
        new_password=data.new_password,
        keep_session=who.session_id,
    )
    return ok({"status": "password changed"})


@bp.get("/me/sessions")
@allow(Access.MEMBER, token_scope=READ_ACCOUNT)
@document_response(SessionsAnswer, 200)
async def sessions() -> Any:
    who = _me()
    rows = await actions.list_sessions(web.current_hub(), who.user_id)
    for row in rows:
        row["current"] = row["id"] == who.session_id
    return ok({"sessions": rows})


@bp.delete("/me/sessions/<uuid:session_id>")
@allow(Access.MEMBER)
async def revoke_session(session_id: UUID) -> Any:
    await actions.revoke_session(web.current_hub(), _me().user_id, session_id)
    return ok({"status": "revoked"})


@bp.delete("/me/sessions/others")
@allow(Access.MEMBER)
async def revoke_other_sessions() -> Any:
    who = _me()
    count = await actions.revoke_other_sessions(web.current_hub(), who.user_id, who.session_id)
    return ok({"status": "revoked", "revoked": count})


@bp.get("/me/privacy")
@allow(Access.MEMBER, token_scope=READ_ACCOUNT)
@document_response(PrivacyAnswer, 200)
async def privacy() -> Any:
    return ok(await actions.get_privacy(web.current_hub(), _me().user_id))


@dataclass
class PrivacyBody:
    paranoia: int | None = None
    hide_stats: bool | None = None
    hide_uploads: bool | None = None
    hide_snatches: bool | None = None
    hide_activity: bool | None = None
    hide_online: bool | None = None
    hide_profile: bool | None = None
    notification_prefs: dict[str, bool] | None = None


@bp.put("/me/privacy")
@allow(Access.MEMBER, token_scope=WRITE_ACCOUNT)
@document_response(PrivacyAnswer, 200)
@document_response(ErrorAnswer, 400)
@validate_request(PrivacyBody)
async def update_privacy(data: PrivacyBody) -> Any:
    changes = {k: v for k, v in vars(data).items() if v is not None}
    return ok(await actions.update_privacy(web.current_hub(), _me().user_id, changes))


@bp.post("/me/passkey")
@allow(Access.MEMBER)
@document_response(PasskeyAnswer, 200)
async def rotate_passkey() -> Any:
    hub = web.current_hub()
    passkey = await actions.rotate_passkey(hub, _me().user_id, ip=auth.client_ip(hub))
    return ok({"passkey": passkey, "announce_url": hub.settings.announce_url(passkey)})


@bp.get("/me/2fa")
@allow(Access.MEMBER, token_scope=READ_ACCOUNT)
async def two_factor_status() -> Any:
    hub = web.current_hub()
    who = _me()
    return ok(
        {
            "enabled": await actions.has_totp(hub, who.user_id),
            "backup_codes_left": await actions.backup_codes_left(hub, who.user_id),
        }
    )


@bp.post("/me/2fa/enrol")
@allow(Access.MEMBER)
@document_response(EnrolAnswer, 200)
async def two_factor_enrol() -> Any:
    """A new secret with its otpauth:// URI and a QR code (SVG); confirm with a code."""
    enrolment = await actions.begin_totp(web.current_hub(), _me().user_id)
    return ok(
        {
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": enrolment.qr_svg,
        }
    )


@dataclass
class CodeBody:
    code: str


@bp.post("/me/2fa/confirm")
@allow(Access.MEMBER)
@document_response(BackupCodesAnswer, 200)
@document_response(ErrorAnswer, 400)
@validate_request(CodeBody)
async def two_factor_confirm(data: CodeBody) -> Any:
    """Turns 2FA on; the ten backup codes are in this answer and never again."""
    codes = await actions.confirm_totp(web.current_hub(), _me().user_id, data.code)
    return ok({"enabled": True, "backup_codes": codes})


@dataclass
class DisableTwoFactorBody:
    password: str
    code: str


@bp.post("/me/2fa/disable")
@allow(Access.MEMBER)
@validate_request(DisableTwoFactorBody)
async def two_factor_disable(data: DisableTwoFactorBody) -> Any:
    await actions.disable_totp(
        web.current_hub(), _me().user_id, password=data.password, code=data.code
    )
    return ok({"enabled": False})


@bp.get("/me/tokens")
@allow(Access.MEMBER)
async def tokens() -> Any:
    return ok({"tokens": await actions.list_api_tokens(web.current_hub(), _me().user_id)})


@dataclass
class TokenBody:
    name: str
    scopes: list[str]
    expires_in_days: int | None = None


@bp.post("/me/tokens")
@allow(Access.MEMBER)
@document_response(TokenCreatedAnswer, 201)
@document_response(ErrorAnswer, 400)
@validate_request(TokenBody)
async def create_token(data: TokenBody) -> Any:
    """The token value is in this answer only; send it as `Authorization: Bearer <token>`."""
    token_id, token = await actions.create_api_token(
        web.current_hub(),
        _me().user_id,
        name=data.name,
        scopes=data.scopes,
        expires_in_days=data.expires_in_days,
    )
    return ok({"id": token_id, "token": token, "scopes": data.scopes}, 201)


@bp.delete("/me/tokens/<uuid:token_id>")
@allow(Access.MEMBER)
async def revoke_token(token_id: UUID) -> Any:
    await actions.revoke_api_token(web.current_hub(), _me().user_id, token_id)
    return ok({"status": "revoked"})


# ------------------------------------------------------------------ profiles and invites


@bp.get("/users/<username>")
@allow(Access.MEMBER, token_scope=READ_USERS)
async def profile(username: str) -> Any:
    found = await actions.profile_for(web.current_hub(), web.viewer(), username)
    if found is None:
        raise web.ApiError(404, "no such member", field="username")
    return ok(found)


@bp.get("/invites")
@allow(Access.MEMBER, right="invite")
async def invites() -> Any:
    hub = web.current_hub()
    who = _me()
    return ok(
        {
            "invites": await actions.list_invites(hub, who.user_id),
            "tree": await actions.invite_tree(hub, who.user_id),
        }
    )


@dataclass
class InviteBody:
    email: str | None = None
    days: int = actions.INVITE_DEFAULT_DAYS


@bp.post("/invites")
@allow(Access.MEMBER, right="invite")
@validate_request(InviteBody)
async def create_invite(data: InviteBody) -> Any:
    hub = web.current_hub()
    invite_id, code = await actions.create_invite(
        hub, web.viewer(), email=data.email, days=data.days
    )
    return ok(
        {
            "id": invite_id,
            "code": code,
            "link": f"{hub.settings.base_url.rstrip('/')}/register?invite={code}",
        },
        201,
    )


@bp.delete("/invites/<uuid:invite_id>")
@allow(Access.MEMBER, right="invite")
async def revoke_invite(invite_id: UUID) -> Any:
    await actions.revoke_invite(web.current_hub(), _me().user_id, invite_id)
    return ok({"status": "revoked"})


# ------------------------------------------------------------------ admin


@bp.get("/admin/groups")
@allow(Access.ADMIN)
async def admin_groups() -> Any:
    return ok({"groups": await actions.list_groups(web.current_hub())})


@dataclass
class GroupBody:
    name: str | None = None
    level: int | None = None
    is_staff: bool | None = None
    can_download: bool | None = None
    can_upload: bool | None = None
    can_upload_unmoderated: bool | None = None
    can_moderate: bool | None = None
    can_administer: bool | None = None
    can_invite: bool | None = None
    can_chat: bool | None = None
    can_post_forums: bool | None = None
    can_request: bool | None = None
    is_immune_hnr: bool | None = None
    min_ratio: float | None = None
    max_download_slots: int | None = None
    color: str | None = None
    description: str | None = None


@bp.patch("/admin/groups/<int:group_id>")
@allow(Access.ADMIN)
@validate_request(GroupBody)
async def admin_update_group(group_id: int, data: GroupBody) -> Any:
    hub = web.current_hub()
    changes = {k: v for k, v in vars(data).items() if v is not None}
    if "min_ratio" in changes:
        changes["min_ratio"] = Decimal(str(changes["min_ratio"]))
    group = await actions.update_group(hub, web.viewer(), group_id, changes, ip=auth.client_ip(hub))
    return ok(group)


@bp.get("/admin/users")
@allow(Access.ADMIN)
async def admin_users() -> Any:
    query = request.args.get("q", "")
    try:
        offset = max(0, int(request.args.get("offset", "0")))
    except ValueError as exc:
        raise web.ApiError(400, "must be a whole number", field="offset") from exc
    return ok({"users": await actions.search_users(web.current_hub(), query, 50, offset)})


@dataclass
class GroupChangeBody:
    group: str


@bp.put("/admin/users/<uuid:user_id>/group")
@allow(Access.ADMIN)
@validate_request(GroupChangeBody)
async def admin_set_group(user_id: UUID, data: GroupChangeBody) -> Any:
    hub = web.current_hub()
    await actions.set_user_group(hub, web.viewer(), user_id, data.group, ip=auth.client_ip(hub))
    return ok({"status": "changed", "group": data.group})


@dataclass
class BanBody:
    reason: str


@bp.post("/admin/users/<uuid:user_id>/ban")
@allow(Access.ADMIN)
@validate_request(BanBody)
async def admin_ban(user_id: UUID, data: BanBody) -> Any:
    hub = web.current_hub()
    await actions.ban_user(hub, web.viewer(), user_id, reason=data.reason, ip=auth.client_ip(hub))
    return ok({"status": "banned"})


@bp.post("/admin/users/<uuid:user_id>/unban")
@allow(Access.ADMIN)
async def admin_unban(user_id: UUID) -> Any:
    hub = web.current_hub()
    await actions.unban_user(hub, web.viewer(), user_id, ip=auth.client_ip(hub))
    return ok({"status": "unbanned"})


@bp.post("/admin/users/<uuid:user_id>/2fa-reset")
@allow(Access.ADMIN)
async def admin_reset_2fa(user_id: UUID) -> Any:
    hub = web.current_hub()
    await actions.admin_reset_2fa(hub, web.viewer(), user_id, ip=auth.client_ip(hub))
    return ok({"status": "two-factor authentication removed"})
