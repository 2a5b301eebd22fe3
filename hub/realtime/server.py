"""The Socket.IO server of the live hub."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socketio

if TYPE_CHECKING:
    from hub.app import Hub


def create_sio(hub: Hub) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        transports=["websocket"],
        cors_allowed_origins=[],
    )
    return sio
