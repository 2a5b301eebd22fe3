"""Who is asking: the session cookie or a Bearer token, resolved to a Viewer.

The session row decides on every request (no signed cookie that outlives a revocation):
a revoked, expired, banned or disabled session resolves to the anonymous visitor at once.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
from quart import Response, g, request

from hub import policy
from hub.accounts import actions, queries

if TYPE_CHECKING:
    from hub.app import Hub

SESSION_COOKIE = "hub_session"
# last_seen_at is for the sessions list, not an audit trail: one write a minute is plenty.
LAST_SEEN_EVERY = timedelta(seconds=60)


def _viewer_from_row(
    row: asyncpg.Record,
    *,
    session_id: UUID | None = None,
    token_id: UUID | None = None,
    scopes: frozenset[str] = frozenset(),
) -> policy.Viewer:
    return policy.Viewer(
        user_id=row["user_id"],
        username=row["username"],
        group_id=row["group_id"],
        group_slug=row["group_slug"],
        level=row["level"],
        rights=queries.rights_of(row),
        session_id=session_id,
        token_id=token_id,
        token_scopes=scopes,
        is_banned=bool(row["is_banned"] or row["is_disabled"] or row["group_slug"] == "banned"),
    )


def _blocked_reason(row: asyncpg.Record) -> str | None:
    if row["is_banned"] or row["group_slug"] == "banned":
        return "this account is banned"
    if row["is_disabled"]:
        return "this account is disabled"
    return None


async def viewer_for_session_token(
    hub: Hub, token: str, *, ip: str | None = None
) -> policy.Viewer | None:
    """The member behind a session token, or None (unknown, revoked, expired, blocked)."""
    viewer, _reason = await _resolve_session(hub, token, ip)
    return viewer if viewer is not None and viewer.is_authenticated else None


async def _resolve_session(
    hub: Hub, token: str, ip: str | None
) -> tuple[policy.Viewer | None, str | None]:
    async with hub.pool.acquire() as conn:
        hashed = actions.token_hash(token)
        row = await queries.viewer_by_session_hash(conn, hashed)
        if row is None:
            return None, await queries.why_session_refused(conn, hashed)
        reason = _blocked_reason(row)
        if reason:
            return None, reason
        if datetime.now(UTC) - row["session_seen"] > LAST_SEEN_EVERY:
            await queries.touch_session(conn, row["session_id"], ip)
    return _viewer_from_row(row, session_id=row["session_id"]), None


async def _resolve_api_token(hub: Hub, token: str) -> tuple[policy.Viewer | None, str | None]:
    async with hub.pool.acquire() as conn:
        row = await queries.viewer_by_api_token_hash(conn, actions.token_hash(token))
        if row is None:
            return None, None
        reason = _blocked_reason(row)
        if reason:
            return None, reason
        last = row["last_used_at"]
        if last is None or datetime.now(UTC) - last > LAST_SEEN_EVERY:
            await queries.touch_api_token(conn, row["token_id"])
    return (
        _viewer_from_row(row, token_id=row["token_id"], scopes=frozenset(row["scopes"])),
        None,
    )


async def resolve_session_token(
    hub: Hub, token: str, *, ip: str | None = None
) -> tuple[policy.Viewer | None, str | None]:
    """(viewer, None) for a live session token, else (None, why it was refused or None)."""
    return await _resolve_session(hub, token, ip)


async def resolve_api_token(hub: Hub, token: str) -> tuple[policy.Viewer | None, str | None]:
    """(viewer, None) for a live API token (scopes in viewer.token_scopes), else (None, why)."""
    return await _resolve_api_token(hub, token)


async def session_is_active(hub: Hub, session_id: UUID) -> bool:
    """For the live hub: is this socket's session still good (not revoked, not banned)?"""
    async with hub.pool.acquire() as conn:
        return await queries.session_is_active(conn, session_id)


def is_trusted_proxy(hub: Hub, remote: str | None) -> bool:
    """May the peer at `remote` speak for the client (X-Forwarded-* headers)?

    The one rule for every entry point (pages, the live hub's websocket handshake).
    """
    if not remote:
        return False
    return remote in hub.settings.trusted_proxies


def client_ip(hub: Hub) -> str | None:
    """The caller's address; X-Forwarded-For is believed only from a trusted proxy."""
    remote = request.remote_addr or None
    if is_trusted_proxy(hub, remote):
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            remote = hops[-1]
    if remote:
        try:
            return str(ipaddress.ip_address(remote))
        except ValueError:
            return None
    return None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def viewer_for_request(hub: Hub) -> policy.Viewer:
    """Bearer token (API token or session token) first, then the `hub_session` cookie.

    When credentials were sent but refused, `g.auth_problem` says why (expired, banned...)
    so the API can answer with a clear reason.
    """
    token = bearer_token()
    viewer: policy.Viewer | None = None
    reason: str | None = None
    ip = client_ip(hub)
    if token is not None:
        if token.startswith(actions.API_TOKEN_PREFIX):
            viewer, reason = await _resolve_api_token(hub, token)
        else:
            viewer, reason = await _resolve_session(hub, token, ip)
        if viewer is None:
            g.auth_problem = reason or "invalid or revoked token"
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            viewer, reason = await _resolve_session(hub, cookie, ip)
            if viewer is None:
                g.auth_problem = reason or "session expired or revoked; sign in again"
                g.clear_session_cookie = True
    return viewer or policy.ANONYMOUS


def auth_problem() -> str | None:
    return g.get("auth_problem")


def set_session_cookie(response: Response, hub: Hub, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(actions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=hub.settings.cookie_secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def request_meta(hub: Hub) -> dict[str, Any]:
    """ip and user_agent for actions.login / start_session."""
    return {"ip": client_ip(hub), "user_agent": request.headers.get("User-Agent")}
