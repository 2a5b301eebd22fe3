"""Who may do what: the one place that decides.

Every route declares its access with `@policy.allow(...)`; a route without a
declaration is refused (fail closed), and tests/test_policy_routes.py walks every route
of the app for an anonymous visitor, a member, a moderator and an admin. Stream joins on
the live hub and every action that checks a right call `can()` here too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID


class Access(enum.IntEnum):
    """The seed's access patterns, in increasing order of trust."""

    PUBLIC = 0
    MEMBER = 1
    MODERATOR = 2
    ADMIN = 3


# Rights a group can grant; the columns of user_groups named can_<right>.
RIGHTS = (
    "download",
    "upload",
    "upload_unmoderated",
    "moderate",
    "administer",
    "invite",
    "chat",
    "post_forums",
    "request",
)


@dataclass(frozen=True)
class Viewer:
    """The person behind a request or a socket: a member, or the anonymous visitor."""

    user_id: UUID | None = None
    username: str = ""
    group_id: int = 0
    group_slug: str = "anonymous"
    level: int = 0
    rights: frozenset[str] = field(default_factory=frozenset)
    session_id: UUID | None = None
    token_id: UUID | None = None
    token_scopes: frozenset[str] = field(default_factory=frozenset)
    is_banned: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None and not self.is_banned

    @property
    def is_moderator(self) -> bool:
        return self.is_authenticated and ("moderate" in self.rights or self.is_admin)

    @property
    def is_admin(self) -> bool:
        return self.is_authenticated and "administer" in self.rights

    @property
    def access(self) -> Access:
        if self.is_admin:
            return Access.ADMIN
        if self.is_moderator:
            return Access.MODERATOR
        if self.is_authenticated:
            return Access.MEMBER
        return Access.PUBLIC

    def has(self, right: str) -> bool:
        return self.is_authenticated and (right in self.rights or self.is_admin)


ANONYMOUS = Viewer()

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RoutePolicy:
    access: Access
    right: str | None = None
    # Scope an API token needs to reach this route; None means tokens may not use it.
    token_scope: str | None = None


def allow(
    access: Access, *, right: str | None = None, token_scope: str | None = None
) -> Callable[[F], F]:
    """Declare who may reach a route. `right` additionally requires a group right."""
    if right is not None and right not in RIGHTS:
        raise ValueError(f"unknown right {right!r}")

    def mark(view: F) -> F:
        view.hub_policy = RoutePolicy(access, right, token_scope)  # type: ignore[attr-defined]
        return view

    return mark


def route_policy(view: Callable[..., Any] | None) -> RoutePolicy | None:
    return getattr(view, "hub_policy", None)


class Decision(enum.Enum):
    ALLOW = "allow"
    LOGIN = "login"  # 401: who are you?
    DENY = "deny"  # 403: you may not


def decide(viewer: Viewer, rule: RoutePolicy) -> Decision:
    if rule.access is Access.PUBLIC and rule.right is None:
        return Decision.ALLOW
    if not viewer.is_authenticated:
        return Decision.LOGIN
    if viewer.token_id is not None and (
        rule.token_scope is None or rule.token_scope not in viewer.token_scopes
    ):
        return Decision.DENY
    if viewer.access < rule.access:
        return Decision.DENY
    if rule.right is not None and not viewer.has(rule.right):
        return Decision.DENY
    return Decision.ALLOW


def can(viewer: Viewer, right: str) -> bool:
    return viewer.has(right)


def can_join_stream(viewer: Viewer, stream: str) -> bool:
    """Live-hub streams: `user:<id>` is its owner's, `modqueue` is staff's."""
    kind, _, ident = stream.partition(":")
    if kind == "user":
        return viewer.is_authenticated and str(viewer.user_id) == ident
    if kind == "modqueue":
        return viewer.is_moderator
    if kind in ("torrent", "topic", "site"):
        return True
    if kind == "chat":
        # Room-level rules (staff-only rooms, minimum level) are checked by the chat
        # module against chat_rooms; here only members may join any room at all.
        return viewer.is_authenticated and viewer.has("chat")
    return False
