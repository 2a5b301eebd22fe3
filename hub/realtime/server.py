"""The Socket.IO server of the live hub: authentication, subscribe/resume, ephemeral state.

One `HubServer` per process, mounted by hub/app.py as `socketio.ASGIApp` (websocket
transport only). Its client manager is swapped for the Redis one in `start()`, because the
Redis URL is only known once `Hub.start` has (maybe) started the embedded Valkey. The
protocol is written down for client authors in docs/realtime.md.

Other live features add their socket handlers from their own modules: list the module in
`HANDLER_MODULES`; `create_sio` calls its `register(sio, hub)`.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import socketio

from hub import policy
from hub.realtime import access, events, gctune, presence, resume, swarm_relay
from hub.realtime.kick import CHANNEL as KICK_CHANNEL
from hub.realtime.listeners import ChannelListener
from hub.realtime.manager import HubRedisManager, speed_up_socket
from hub.tracker import invalidate

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

# Modules that add socket handlers; each exposes `register(sio: HubServer, hub: Hub)`.
HANDLER_MODULES: tuple[str, ...] = ("hub.realtime.chat_socket",)

SESSION_COOKIE = "hub_session"
# API tokens reach the live hub only with this scope; session tokens always may.
LIVE_TOKEN_SCOPE = "live"  # noqa: S105 (a scope name, not a secret)
MAX_STREAMS_PER_SOCKET = 200
MAX_STREAMS_PER_SUBSCRIBE = 100
MAX_COUNTS_PER_REQUEST = 200
# How long a kick is remembered, to close the gap between checking credentials at connect
# and joining the kick rooms.
KICK_MEMORY_SECONDS = 60.0

Ack = dict[str, Any]


def error(code: str, message: str, **extra: Any) -> Ack:
    """The acknowledgement of a refused request (the same shape for every handler)."""
    return {"ok": False, "error": code, "message": message, **extra}


@dataclass
class LiveConnection:
    sid: str
    viewer: policy.Viewer
    # What the socket connected with, to check again when the member's rights change.
    environ: dict[str, Any] = field(default_factory=dict, repr=False)
    auth: Any = field(default=None, repr=False)
    streams: set[str] = field(default_factory=set)
    # key -> (tokens left, time of last refill)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)


class HubServer(socketio.AsyncServer):
    """`socketio.AsyncServer` plus the hub's per-socket state and helpers for handlers."""

    def __init__(self, hub: Hub, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hub = hub
        self.connections: dict[str, LiveConnection] = {}
        self.stream_checks: dict[str, access.StreamCheck] = {"chat": access.chat_room_check(hub)}
        self.presence: presence.Presence | None = None
        self.relay = swarm_relay.SwarmRelay(self._emit_local)
        self._listener: ChannelListener | None = None
        self._recent_kicks: dict[str, float] = {}
        self.live_started = False

    # -- helpers for handler modules -------------------------------------------------------

    def viewer(self, sid: str) -> policy.Viewer:
        conn = self.connections.get(sid)
        return conn.viewer if conn is not None else policy.ANONYMOUS

    def rate_limit(self, sid: str, key: str, per_second: float, burst: float) -> float | None:
        """Token bucket per socket and key: None if allowed, else seconds until it would be."""
        conn = self.connections.get(sid)
        if conn is None:
            return None
        now = time.monotonic()
        tokens, last = conn.buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * per_second)
        if tokens < 1.0:
            conn.buckets[key] = (tokens, now)
            return round((1.0 - tokens) / per_second, 2)
        conn.buckets[key] = (tokens - 1.0, now)
        return None

    async def is_subscribed(self, sid: str, stream: str) -> bool:
        conn = self.connections.get(sid)
        return conn is not None and stream in conn.streams

    async def _emit_local(self, event: str, room: str, data: Any) -> None:
        await self.emit(event, data, room=room, ignore_queue=True)

    # -- lifecycle -------------------------------------------------------------------------

    async def start_live(self) -> None:
        """Swap in the Redis manager and start the listeners (inside Hub.start)."""
        hub = self.hub
        manager = HubRedisManager(hub.redis_url, on_resubscribed=self._ask_to_resume)
        manager.set_server(self)
        self.manager = manager
        # Initialise now rather than on the first connection (python-socketio's default),
        # so this process relays emits from the others before any socket arrives.
        manager.initialize()
        self.manager_initialized = True
        self.presence = presence.Presence(hub.redis, self._broadcast_presence)
        self.presence.start()
        self._listener = ChannelListener(
            hub.redis_url,
            {
                KICK_CHANNEL: self._on_kick,
                swarm_relay.CHANNEL: self.relay.on_message,
                invalidate.CHANNEL: self._on_user_changed,
            },
        )
        self._listener.start()
        self.live_started = True
        # Everything is imported and wired by now: what exists is start-up state.
        gctune.tune_for_many_sockets()

    async def stop_live(self) -> None:
        if not self.live_started:
            return
        self.live_started = False
        if self._listener is not None:
            await self._listener.stop()
        await self.relay.stop()
        if self.presence is not None:
            await self.presence.stop()
        if isinstance(self.manager, HubRedisManager):
            await self.manager.close()

    async def _ask_to_resume(self) -> None:
        await self.emit("catchup", {}, ignore_queue=True)

    async def _broadcast_presence(self, stream: str, users: list[dict[str, str]]) -> None:
        await self.emit("presence", {"stream": stream, "users": users}, room=stream)

    # -- kicks -----------------------------------------------------------------------------

    async def _on_kick(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        reason = str(data.get("reason") or "signed out")
        rooms = []
        if data.get("session_id"):
            rooms.append(f"session:{data['session_id']}")
        if data.get("user_id"):
            rooms.append(f"member:{data['user_id']}")
        now = time.monotonic()
        self._recent_kicks = {k: t for k, t in self._recent_kicks.items() if t > now}
        for room in rooms:
            self._recent_kicks[room] = now + KICK_MEMORY_SECONDS
            for sid, _eio_sid in list(self.manager.get_participants("/", room)):
                await self.emit("kicked", {"reason": reason}, to=sid, ignore_queue=True)
                await self.disconnect(sid, ignore_queue=True)

    async def _on_user_changed(self, data: Any) -> None:
        """A member's group, rights or standing changed: check their sockets here again.

        Credentials that no longer pass end the socket; streams the member may no longer
        follow are left, with `unsubscribed` telling the client which and why.
        """
        if not isinstance(data, dict) or data.get("kind") != "user":
            return
        room = f"member:{data.get('id')}"
        for sid, _eio_sid in list(self.manager.get_participants("/", room)):
            conn = self.connections.get(sid)
            if conn is None:
                continue
            try:
                viewer = await authenticate(self.hub, conn.environ, conn.auth)
            except socketio.exceptions.ConnectionRefusedError as refused:
                reason = str(refused.error_args.get("message", "signed out"))
                await self.emit("kicked", {"reason": reason}, to=sid, ignore_queue=True)
                await self.disconnect(sid, ignore_queue=True)
                continue
            conn.viewer = viewer
            for stream in sorted(conn.streams):
                code = await access.check_join(self.hub, self.stream_checks, viewer, stream)
                if code is None:
                    continue
                conn.streams.discard(stream)
                await self.leave_room(sid, stream)
                if presence.tracked(stream) and self.presence is not None:
                    await self.presence.leave(stream, sid)
                await self.emit(
                    "unsubscribed",
                    {"stream": stream, "error": code, "message": access.ERROR_MESSAGES[code]},
                    to=sid,
                    ignore_queue=True,
                )

    def _was_kicked(self, rooms: list[str]) -> bool:
        now = time.monotonic()
        return any(self._recent_kicks.get(room, 0.0) > now for room in rooms)


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None


async def authenticate(hub: Hub, environ: dict[str, Any], auth: Any) -> policy.Viewer:
    """The member behind a connection, or ConnectionRefusedError with a reason to show.

    `auth.token` (an API token with the `live` scope, or a session token) wins over the
    `hub_session` cookie, as a Bearer token does for HTTP.
    """
    from hub.accounts import actions as accounts_actions
    from hub.accounts import auth as accounts_auth

    refuse = socketio.exceptions.ConnectionRefusedError
    token = auth.get("token") if isinstance(auth, dict) else None
    if token is not None and (not isinstance(token, str) or len(token) > 512):
        raise refuse("The token must be a string.", {"code": "token_invalid"})
    viewer: policy.Viewer | None
    reason: str | None
    if token:
        if token.startswith(accounts_actions.API_TOKEN_PREFIX):
            viewer, reason = await accounts_auth.resolve_api_token(hub, token)
            if viewer is not None and LIVE_TOKEN_SCOPE not in viewer.token_scopes:
                raise refuse(
                    f"This API token lacks the '{LIVE_TOKEN_SCOPE}' scope.",
                    {"code": "token_scope"},
                )
        else:
            viewer, reason = await accounts_auth.resolve_session_token(hub, token)
        if viewer is None:
            message = reason or "this token is not valid (expired, revoked or mistyped)"
            raise refuse(_sentence(message), {"code": "token_invalid"})
    else:
        cookie = _cookie(environ, SESSION_COOKIE)
        if cookie is None:
            raise refuse("Sign in to get live updates.", {"code": "unauthenticated"})
        viewer, reason = await accounts_auth.resolve_session_token(hub, cookie)
        if viewer is None:
            message = reason or "your session has ended; sign in again"
            raise refuse(_sentence(message), {"code": "session_invalid"})
    if not viewer.is_authenticated:
        raise refuse("This account is disabled.", {"code": "account_disabled"})
    return viewer


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _kick_rooms(viewer: policy.Viewer) -> list[str]:
    rooms = [f"member:{viewer.user_id}"]
    if viewer.session_id is not None:
        rooms.append(f"session:{viewer.session_id}")
    return rooms


def _origin_checker(hub: Hub) -> Any:
    site = urlsplit(hub.settings.base_url)
    site_origin = f"{site.scheme}://{site.netloc}"

    def allowed(origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if not origin:
            return True
        return origin == site_origin or origin in _handshake_origins(hub, environ or {})

    return allowed


def _handshake_origins(hub: Hub, environ: dict[str, Any]) -> set[str]:
    """The origins this handshake was addressed to, as far as we may believe it.

    This connection's own scheme and Host; behind a trusted proxy (the accounts rule,
    `is_trusted_proxy`) also the scheme and host the proxy says the browser used. engineio
    copies X-Forwarded-Proto into `wsgi.url_scheme` whoever sent it, so the scheme is read
    from the ASGI scope instead.
    """
    from hub.accounts import auth as accounts_auth

    scope = environ.get("asgi.scope") or {}
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = environ.get("HTTP_HOST")
    origins = {f"{scheme}://{host}"} if host else set()
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if accounts_auth.is_trusted_proxy(hub, peer):
        proto = _last_value(environ.get("HTTP_X_FORWARDED_PROTO")) or scheme
        forwarded_host = _last_value(environ.get("HTTP_X_FORWARDED_HOST")) or host
        if proto in ("http", "https") and forwarded_host:
            origins.add(f"{proto}://{forwarded_host}")
    return origins


def _last_value(header: str | None) -> str | None:
    """The last entry of a comma-joined header: the one the trusted peer itself wrote (as
    client_ip takes X-Forwarded-For's last hop); earlier entries may come from the browser."""
    if not header:
        return None
    return header.split(",")[-1].strip() or None


def create_sio(hub: Hub) -> HubServer:
    sio = HubServer(
        hub,
        async_mode="asgi",
        transports=["websocket"],
        # Browsers send Origin on the websocket handshake: only the site's own pages may
        # connect (no cross-site websocket hijacking). Non-browser clients send none.
        cors_allowed_origins=_origin_checker(hub),
        ping_interval=25,
        ping_timeout=20,
        max_http_buffer_size=64 * 1024,
    )
    _register_core(sio, hub)
    for name in HANDLER_MODULES:
        importlib.import_module(name).register(sio, hub)
    return sio


def _register_core(sio: HubServer, hub: Hub) -> None:
    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            viewer = await authenticate(hub, environ, auth)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception as exc:
            # The database is unreachable or similar: say so, and let the client retry.
            log.exception("live connect failed")
            raise socketio.exceptions.ConnectionRefusedError(
                "Live updates are unavailable right now; retrying.", {"code": "unavailable"}
            ) from exc
        rooms = _kick_rooms(viewer)
        for room in rooms:
            await sio.enter_room(sid, room)
        if sio._was_kicked(rooms):
            raise socketio.exceptions.ConnectionRefusedError(
                "Your session has ended; sign in again.", {"code": "session_invalid"}
            )
        sio.connections[sid] = LiveConnection(sid, viewer, environ, auth)
        speed_up_socket(sio, sid)

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        conn = sio.connections.pop(sid, None)
        if conn is None or sio.presence is None:
            return
        for stream in conn.streams:
            if presence.tracked(stream):
                await sio.presence.leave(stream, sid)

    @sio.event
    async def subscribe(sid: str, data: Any) -> Ack:
        conn = sio.connections.get(sid)
        if conn is None:
            return error("unauthenticated", "Not connected.")
        wait = sio.rate_limit(sid, "subscribe", per_second=2, burst=10)
        if wait is not None:
            return error("rate_limited", "Too many subscribe requests.", retry_after=wait)
        streams = data.get("streams") if isinstance(data, dict) else None
        if not isinstance(streams, dict) or not streams:
            return error("invalid", "Send {streams: {name: last_seq or null}}.", field="streams")
        if len(streams) > MAX_STREAMS_PER_SUBSCRIBE:
            return error(
                "invalid", f"At most {MAX_STREAMS_PER_SUBSCRIBE} streams at once.", field="streams"
            )
        results: dict[str, Ack] = {}
        wanted: dict[str, int | None] = {}
        for stream, last in streams.items():
            if last is not None and (
                isinstance(last, bool) or not isinstance(last, int) or last < 0
            ):
                results[stream] = error("invalid", "last_seq must be a whole number or null.")
                continue
            reason = await access.check_join(hub, sio.stream_checks, conn.viewer, stream)
            if reason is None and stream not in conn.streams and (
                len(conn.streams) >= MAX_STREAMS_PER_SOCKET
            ):
                reason = "too_many"
            if reason is not None:
                results[stream] = error(reason, access.ERROR_MESSAGES[reason])
                continue
            # Join first: from here on every emit reaches this socket, so the replay below
            # and the live events overlap instead of leaving a hole between them.
            await sio.enter_room(sid, stream)
            is_new = stream not in conn.streams
            conn.streams.add(stream)
            wanted[stream] = last
            if is_new and presence.tracked(stream) and sio.presence is not None:
                await sio.presence.join(
                    stream, sid, str(conn.viewer.user_id), conn.viewer.username
                )
        logged = [s for s in wanted if s not in access.EPHEMERAL_ROOMS]
        try:
            await _replay(sio, hub, sid, wanted, logged, results)
        except Exception:
            log.exception("replay failed")
            return error("unavailable", "The event log is unreachable; try again shortly.")
        for stream in wanted:
            if stream in access.EPHEMERAL_ROOMS:
                results[stream] = {"ok": True, "last_seq": None}
        await _send_current_state(sio, hub, sid, list(wanted))
        return {"ok": True, "streams": results}

    @sio.event
    async def unsubscribe(sid: str, data: Any) -> Ack:
        conn = sio.connections.get(sid)
        if conn is None:
            return error("unauthenticated", "Not connected.")
        streams = data.get("streams") if isinstance(data, dict) else None
        if not isinstance(streams, list):
            return error("invalid", "Send {streams: [name, ...]}.", field="streams")
        for stream in streams:
            if not isinstance(stream, str) or stream not in conn.streams:
                continue
            conn.streams.discard(stream)
            await sio.leave_room(sid, stream)
            if presence.tracked(stream) and sio.presence is not None:
                await sio.presence.leave(stream, sid)
        return {"ok": True}

    @sio.event
    async def typing(sid: str, data: Any) -> Ack:
        conn = sio.connections.get(sid)
        if conn is None:
            return error("unauthenticated", "Not connected.")
        stream = data.get("stream") if isinstance(data, dict) else None
        if not isinstance(stream, str) or not presence.tracked(stream):
            return error("invalid", "Typing is shared in chat streams only.", field="stream")
        if stream not in conn.streams:
            return error("forbidden", "Subscribe to the stream first.", field="stream")
        wait = sio.rate_limit(sid, "typing", per_second=1, burst=3)
        if wait is not None:
            return error("rate_limited", "Typing updates are limited.", retry_after=wait)
        await sio.emit(
            "typing",
            {
                "stream": stream,
                "user_id": str(conn.viewer.user_id),
                "username": conn.viewer.username,
                "typing": bool(data.get("typing", True)),
            },
            room=stream,
            skip_sid=sid,
        )
        return {"ok": True}

    @sio.event
    async def counts(sid: str, data: Any) -> Ack:
        if sid not in sio.connections:
            return error("unauthenticated", "Not connected.")
        ids = data.get("torrent_ids") if isinstance(data, dict) else None
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_COUNTS_PER_REQUEST
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            return error(
                "invalid",
                f"Send {{torrent_ids: [id, ...]}} with at most {MAX_COUNTS_PER_REQUEST} ids.",
                field="torrent_ids",
            )
        wait = sio.rate_limit(sid, "counts", per_second=2, burst=10)
        if wait is not None:
            return error("rate_limited", "Too many count requests.", retry_after=wait)
        return {"ok": True, "counts": await swarm_relay.latest(hub.redis, ids)}


async def _replay(
    sio: HubServer,
    hub: Hub,
    sid: str,
    wanted: dict[str, int | None],
    logged: list[str],
    results: dict[str, Ack],
) -> None:
    """Send each stream's missed events (or `resync`) to `sid`, in order, before the ack."""
    if not logged:
        return
    async with hub.pool.acquire() as db_conn:
        heads = await resume.stream_heads(db_conn, logged)
        for stream in logged:
            answer = await resume.replay(db_conn, stream, wanted[stream], heads[stream])
            if answer.resync:
                await sio.emit(
                    "resync",
                    {"stream": stream, "last_seq": answer.head},
                    to=sid,
                    ignore_queue=True,
                )
            for event in answer.events:
                await sio.emit("event", event, to=sid, ignore_queue=True)
            results[stream] = {"ok": True, "last_seq": answer.head}


async def _send_current_state(sio: HubServer, hub: Hub, sid: str, streams: list[str]) -> None:
    """Ephemeral state is sent whole on (re)subscribe: presence and the latest counts."""
    torrent_ids = []
    for stream in streams:
        kind, _, ident = stream.partition(":")
        if kind == "torrent" and ident.isdigit():
            torrent_ids.append(int(ident))
        elif presence.tracked(stream) and sio.presence is not None:
            try:
                users = await sio.presence.users(stream)
            except Exception:
                log.warning("presence unavailable for %s", stream)
                continue
            await sio.emit(
                "presence", {"stream": stream, "users": users}, to=sid, ignore_queue=True
            )
    if torrent_ids:
        try:
            latest = await swarm_relay.latest(hub.redis, torrent_ids)
        except Exception:
            log.warning("swarm counts unavailable")
            return
        for counts in latest.values():
            await sio.emit("counts", counts, to=sid, ignore_queue=True)


async def start(hub: Hub) -> None:
    """Called by Hub.start once the Redis URL is known."""
    sio = getattr(hub, "sio", None)
    if isinstance(sio, HubServer):
        await sio.start_live()
        events.set_emitter(sio)
    else:
        # A process without the web role still announces events to the web processes.
        events.set_emitter(socketio.AsyncRedisManager(hub.redis_url, write_only=True))


async def stop(hub: Hub) -> None:
    sio = getattr(hub, "sio", None)
    if isinstance(sio, HubServer):
        await sio.stop_live()
        if events.current_emitter() is sio:
            events.set_emitter(None)
    elif isinstance(events.current_emitter(), socketio.AsyncRedisManager):
        events.set_emitter(None)

