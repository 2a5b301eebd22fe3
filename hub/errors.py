"""Refusal: why an action cannot happen, in words a person can act on.

Every area's error (AccountError, TorrentError, ChatError, QueueError, ...) is one, so a
single app-wide handler turns any of them into a 4xx: JSON with the field for the API, an
error page for the site. Routes catch them only to say something better on a page.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    status = 400

    def __init__(
        self, message: str, *, status: int | None = None, field: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.field = field
        self.extra = extra
