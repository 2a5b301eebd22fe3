"""What every page and API route shares: the viewer, CSRF, headers, errors."""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Any, cast

from quart import Response, current_app, g, jsonify, render_template, request
from quart_schema import RequestSchemaValidationError

from hub import policy
from hub.errors import Refusal

if TYPE_CHECKING:
    from hub.app import Hub

CSRF_COOKIE = "hub_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE = "hub_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class ApiError(Refusal):
    """A 4xx a route raises itself, with the field it is about when there is one."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any):
        super().__init__(message, status=status, field=field, **extra)


def current_hub() -> Hub:
    return cast("Hub", current_app.extensions["hub"])


def viewer() -> policy.Viewer:
    return cast(policy.Viewer, g.get("viewer", policy.ANONYMOUS))


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


async def resolve_viewer() -> policy.Viewer:
    from hub.accounts import auth

    return await auth.viewer_for_request(current_hub())


def csrf_token() -> str:
    """The token forms and scripts send back; the cookie is set on the same response."""
    token = request.cookies.get(CSRF_COOKIE) or g.get("new_csrf_token")
    if not token:
        token = secrets.token_urlsafe(32)
        g.new_csrf_token = token
    return token


async def check_csrf() -> Any:
    """Double-submit check for writes that ride on ambient credentials.

    A request carrying the session cookie, or a browser form post, must echo the CSRF
    cookie in a form field or header. Bearer-token API calls and cookie-less JSON carry
    no ambient authority, so they need none.
    """
    if request.method not in UNSAFE_METHODS:
        return None
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None
    is_form = (request.mimetype or "") in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    )
    if SESSION_COOKIE not in request.cookies and not is_form:
        return None
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and is_form:
        sent = (await request.form).get(CSRF_FIELD, "")
    if expected and sent and hmac.compare_digest(expected, sent):
        return None
    if wants_json():
        return jsonify(error="CSRF token missing or wrong", field=CSRF_FIELD), 403
    return await render_error(403, "This form has expired. Go back, reload the page and try again.")


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    new_token = g.get("new_csrf_token")
    if new_token and CSRF_COOKIE not in request.cookies:
        response.set_cookie(
            CSRF_COOKIE,
            new_token,
            httponly=False,
            samesite="Lax",
            secure=current_hub().settings.cookie_secure,
        )
    return response


async def refusal_response(error: Refusal) -> Any:
    """Any area's refusal that a route let through: JSON for the API, a page for people."""
    if not wants_json():
        return await render_error(error.status, error.message)
    body: dict[str, Any] = {"error": error.message}
    if error.field:
        body["field"] = error.field
    body.update(error.extra)
    return jsonify(body), error.status


def validation_response(error: RequestSchemaValidationError) -> Any:
    """400 naming each bad field: {"error": ..., "fields": {"email": "reason"}}."""
    fields: dict[str, str] = {}
    inner = error.validation_error
    errors = getattr(inner, "errors", None)
    if callable(errors):
        for item in errors():
            loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
            fields[loc] = item.get("msg", "invalid")
    else:
        fields["body"] = str(inner)
    first = next(iter(fields))
    return (
        jsonify(error=f"{first}: {fields[first]}", field=first, fields=fields),
        400,
    )


async def render_error(status: int, message: str) -> Any:
    return await render_template("error.html", status=status, message=message), status


# (endpoint, label, who sees it); links to areas not installed are left out.
NAV_LINKS = (
    ("torrents.browse_page", "Torrents", policy.Access.PUBLIC),
    ("torrents.upload_page", "Upload", policy.Access.MEMBER),
    ("chat.chat_page", "Chat", policy.Access.MEMBER),
    ("notifications.list_page", "Notifications", policy.Access.MEMBER),
    ("moderation.dashboard_page", "Mod queue", policy.Access.MODERATOR),
    ("admin.index_page", "Admin", policy.Access.ADMIN),
    ("accounts.settings_page", "Settings", policy.Access.MEMBER),
)


def nav_links(who: policy.Viewer) -> list[tuple[str, str]]:
    views = current_app.view_functions
    return [(ep, label) for ep, label, access in NAV_LINKS if ep in views and who.access >= access]


def template_context() -> dict[str, Any]:
    hub = current_hub()
    return {
        "viewer": viewer(),
        "site_name": hub.settings.site_name,
        "csrf_token": csrf_token,
        "nav_links": nav_links,
    }
