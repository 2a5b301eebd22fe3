"""The tracker role: announce and scrape from in-memory swarms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.app import Hub


class TrackerService:
    """Placeholder until the tracker lands: answers every announce with a failure."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b"d14:failure reason19:tracker not running8:intervali1800ee"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
