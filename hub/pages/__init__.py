"""The Quart side: pages, the JSON API under /api/v1, static files.

Every request passes `_enforce_policy`: the viewer is resolved once, and the route's
declared policy (hub.policy.allow) decides. A route with no declaration is refused.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from quart import Quart, current_app, g, jsonify, redirect, request, url_for
from quart_schema import QuartSchema, RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from hub import policy
from hub.errors import Refusal
from hub.pages import web

if TYPE_CHECKING:
    from hub.app import Hub

# Each module defines `bp`; order only matters for url_map readability.
BLUEPRINT_MODULES = (
    "hub.pages.home",
    "hub.pages.accounts",
    "hub.pages.admin",
    "hub.pages.api_accounts",
    "hub.pages.chat",
    "hub.pages.notifications",
    "hub.pages.moderation",
    "hub.pages.torrents",
    "hub.pages.api_torrents",
)


def create_quart_app(hub: Hub) -> Quart:
    app = Quart(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=hub.settings.secret_key,
        MAX_CONTENT_LENGTH=hub.settings.max_torrent_file_bytes + 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=hub.settings.cookie_secure,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["hub"] = hub
    QuartSchema(
        app,
        info={"title": f"{hub.settings.site_name} API", "version": "1"},
        openapi_path="/openapi.json",
        redoc_ui_path="/api/docs",
        swagger_ui_path=None,
        scalar_ui_path=None,
        convert_casing=False,
    )
    for name in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(name).bp)

    app.before_request(_enforce_policy)
    app.after_request(web.security_headers)
    app.register_error_handler(RequestSchemaValidationError, _validation_error)
    # AccountError keeps its own handler (hub/pages/api_accounts.py), found first by MRO.
    app.register_error_handler(Refusal, web.refusal_response)
    app.context_processor(web.template_context)
    return app


# Routes that Quart and quart-schema add themselves: public, declared here.
FRAMEWORK_ENDPOINTS = {
    "static": policy.RoutePolicy(policy.Access.PUBLIC),
    "openapi": policy.RoutePolicy(policy.Access.PUBLIC),
    "redoc_ui": policy.RoutePolicy(policy.Access.PUBLIC),
}


def policy_for_endpoint(app: Quart, endpoint: str) -> policy.RoutePolicy | None:
    if endpoint in FRAMEWORK_ENDPOINTS:
        return FRAMEWORK_ENDPOINTS[endpoint]
    return policy.route_policy(app.view_functions.get(endpoint))


async def _enforce_policy() -> Any:
    g.viewer = await web.resolve_viewer()
    if request.url_rule is None:
        return None  # 404/405 are Quart's to answer
    rule = policy_for_endpoint(current_app, request.url_rule.endpoint)
    if rule is None:
        return jsonify(error="route has no access policy"), 500
    decision = policy.decide(g.viewer, rule)
    if decision is policy.Decision.ALLOW:
        return await web.check_csrf()
    wants_json = web.wants_json()
    if decision is policy.Decision.LOGIN:
        if wants_json:
            return jsonify(error="authentication required"), 401
        return redirect(url_for("accounts.login_page", next=request.full_path.rstrip("?")))
    if wants_json:
        return jsonify(error="forbidden"), 403
    return await web.render_error(403, "You do not have permission to see this page.")


async def _validation_error(error: RequestSchemaValidationError) -> Any:
    return web.validation_response(error)


__all__ = ["HTTPException", "create_quart_app"]
