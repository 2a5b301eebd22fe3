"""Who is asking: the session cookie or an API token, resolved to a Viewer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import policy

if TYPE_CHECKING:
    from hub.app import Hub


async def viewer_for_request(hub: Hub) -> policy.Viewer:
    # Placeholder until accounts land: everyone is anonymous.
    return policy.ANONYMOUS
