"""Every route of the app, as an anonymous visitor, a member, a moderator and an admin.

The routes are read from the live app's url_map, so routes added later are covered without
touching this file. Each must declare a policy (hub.policy.allow); each answer must match
what the policy says for the role: 401 (or a redirect to the login page) when it asks
"who are you?", 403 when the role is not enough, and neither when the role may pass.
URL parameters are made up per converter; a 404 or 400 for a made-up id means the request
got past the policy, which is all this test checks. A 5xx is a failure too: generic input
must never crash a route.

Writes (POST/PUT/PATCH/DELETE) each run as a fresh throwaway account with its own session,
so a route that logs out, rotates or deletes something cannot spoil the next request.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from hub import db, policy
from hub.accounts import actions
from hub.accounts.auth import viewer_for_session_token
from hub.pages import policy_for_endpoint
from tests.factories import make_user

ROLES = ("anonymous", "member", "moderator", "admin")
ROLE_GROUP = {"member": "member", "moderator": "moderator", "admin": "administrator"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Large enough to be nobody's row, small enough for a smallint column.
MADE_UP_INT = 32767


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    method: str
    url: str


def made_up_value(converter: Any) -> str:
    name = type(converter).__name__
    if name == "UUIDConverter":
        return str(uuid.uuid4())
    if name in ("IntegerConverter", "NumberConverter"):
        return str(MADE_UP_INT)
    if name == "FloatConverter":
        return "1.5"
    if name == "AnyConverter":
        return sorted(converter.items)[0] if hasattr(converter, "items") else "x"
    return f"zz-no-such-{secrets.token_hex(4)}"


def all_routes(app: Any) -> list[Route]:
    routes = []
    for rule in app.url_map.iter_rules():
        if getattr(rule, "websocket", False):
            continue
        values = {arg: made_up_value(rule._converters[arg]) for arg in rule.arguments}
        path = rule.rule
        for arg, value in values.items():
            path = _substitute(path, arg, value)
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            routes.append(Route(rule.endpoint, rule.rule, method, path))
    return routes


def _substitute(path: str, arg: str, value: str) -> str:
    start = 0
    while True:
        i = path.find("<", start)
        if i < 0:
            return path
        j = path.find(">", i)
        inner = path[i + 1 : j]
        if inner.split(":")[-1].split("(")[0] == arg:
            return path[:i] + value + path[j + 1 :]
        start = j + 1


def test_every_route_declares_a_policy(server):
    app = server.app.quart_app
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if policy_for_endpoint(app, rule.endpoint) is None
    ]
    assert not missing, f"routes without @allow(...): {missing}"


async def _clone_user(hub: Any, template_id: uuid.UUID, group: str) -> uuid.UUID:
    """A throwaway account of `group`, reusing a template's password hash (no argon2 cost)."""
    name = f"p_{uuid.uuid4().hex[:12]}"
    async with db.transaction(hub.pool) as conn:
        password_hash = await conn.fetchval(
            "SELECT password_hash FROM users WHERE id = $1", template_id
        )
        group_id = await conn.fetchval("SELECT id FROM user_groups WHERE slug = $1", group)
        user_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO users (username, email, password_hash, passkey, group_id)
               VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            name,
            f"{name}@example.test",
            password_hash,
            actions.new_passkey(),
            group_id,
        )
        await conn.execute("INSERT INTO user_statistics (user_id) VALUES ($1)", user_id)
        await conn.execute("INSERT INTO user_privacy (user_id) VALUES ($1)", user_id)
    return user_id


class Caller:
    """Sends requests as one role, with a session cookie and a matching CSRF token."""

    def __init__(self, hub: Any, role: str, template: Any | None):
        self.hub = hub
        self.role = role
        self.template = template
        self.shared_token: str | None = None
        self.viewer: policy.Viewer = policy.ANONYMOUS

    async def setup(self) -> None:
        if self.template is None:
            return
        self.shared_token = await self._new_session()
        viewer = await viewer_for_session_token(self.hub, self.shared_token)
        assert viewer is not None
        self.viewer = viewer

    async def _new_session(self, fresh_user: bool = False) -> str:
        user_id = self.template.id
        if fresh_user:
            user_id = await _clone_user(self.hub, self.template.id, ROLE_GROUP[self.role])
        _sid, token = await actions.start_session(
            self.hub, user_id, ip="127.0.0.1", user_agent="policy-walker"
        )
        return token

    async def headers(self, method: str) -> dict[str, str]:
        csrf = secrets.token_urlsafe(16)
        cookies = [f"hub_csrf={csrf}"]
        if self.template is not None:
            token = (
                await self._new_session(fresh_user=True) if method in UNSAFE else self.shared_token
            )
            cookies.append(f"hub_session={token}")
        return {"Cookie": "; ".join(cookies), "X-CSRF-Token": csrf}


def outcome_problem(
    rule: policy.RoutePolicy, decision: policy.Decision, status: int, location: str
) -> str | None:
    if status >= 500:
        return f"server error {status}"
    if rule.access is policy.Access.PUBLIC and rule.right is None:
        # The policy never refuses a public route; a 401 or a redirect to the login page
        # is the route's own answer (a wrong password, an expired 2FA step).
        return None
    if decision is policy.Decision.LOGIN:
        if status == 401 or (status in (301, 302, 303, 307) and "login" in location):
            return None
        return f"expected 401 or a redirect to login, got {status} {location}"
    if decision is policy.Decision.DENY:
        return None if status == 403 else f"expected 403, got {status}"
    if status in (401, 403):
        return f"expected to pass the policy, got {status}"
    if status in (301, 302, 303, 307) and "/login" in location:
        return f"redirected to login although allowed ({location})"
    return None


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_answers_each_role_as_its_policy_says(hub, server, role):
    app = server.app.quart_app
    template = None if role == "anonymous" else await make_user(hub, ROLE_GROUP[role])
    caller = Caller(hub, role, template)
    await caller.setup()
    routes = all_routes(app)
    assert len(routes) > 10
    problems: list[str] = []
    async with aiohttp.ClientSession(
        base_url=server.base_url, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        for route in routes:
            rule = policy_for_endpoint(app, route.endpoint)
            if rule is None:
                problems.append(f"{route.method} {route.rule}: no policy")
                continue
            decision = policy.decide(caller.viewer, rule)
            kwargs: dict[str, Any] = {
                "headers": await caller.headers(route.method),
                "allow_redirects": False,
            }
            if route.method in UNSAFE:
                kwargs["json"] = {}
            async with http.request(route.method, route.url, **kwargs) as response:
                status = response.status
                location = response.headers.get("Location", "")
                await response.read()
            problem = outcome_problem(rule, decision, status, location)
            if problem:
                problems.append(
                    f"{route.method} {route.rule} ({route.endpoint}, {rule.access.name}"
                    f"{', right=' + rule.right if rule.right else ''}) as {role}: {problem}"
                )
    assert not problems, "\n".join(problems)


async def test_walker_builds_a_url_for_every_route(server):
    routes = all_routes(server.app.quart_app)
    assert all("<" not in r.url for r in routes)
