"""What account actions refuse with; pages and the API turn these into 4xx answers."""

from __future__ import annotations

from hub.errors import Refusal


class AccountError(Refusal):
    """A refusal a person can act on: a message, the field it concerns, an HTTP status."""

    def __init__(self, message: str, field: str | None = None, status: int | None = None):
        super().__init__(message, status=status, field=field)


class NotFound(AccountError):
    status = 404


class Conflict(AccountError):
    status = 409


class Forbidden(AccountError):
    status = 403


class RateLimited(AccountError):
    """Too many attempts; `retry_after` seconds until the window opens again."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
