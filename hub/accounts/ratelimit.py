"""Fixed-window attempt counters in Redis.

A counter key lives exactly one window (INCR then EXPIRE on first hit), so Redis forgets
old attempts by itself. Login counts only failures: a member who types the right password
is never throttled by their own successful logins, while guessing is.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from hub.accounts.errors import RateLimited

PREFIX = "hub:rl:"


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int
    message: str


LOGIN_PER_IP = Limit(
    "login_ip", 30, 15 * 60, "Too many failed logins from this address. Try again later."
)
LOGIN_PER_ACCOUNT = Limit(
    "login_account", 5, 15 * 60, "Too many failed logins for this account. Try again later."
)
TWO_FACTOR = Limit("2fa", 5, 15 * 60, "Too many wrong two-factor codes. Try again later.")
REGISTRATION_PER_IP = Limit(
    "register_ip", 30, 60 * 60, "Too many accounts created from this address. Try again later."
)
PASSWORD_RESET_PER_IP = Limit(
    "reset_ip", 10, 60 * 60, "Too many password reset requests from this address."
)
PASSWORD_RESET_PER_ACCOUNT = Limit(
    "reset_account", 3, 60 * 60, "Too many password reset requests for this account."
)


def key(limit: Limit, subject: str) -> str:
    return f"{PREFIX}{limit.name}:{subject.lower()}"


async def check(redis: aioredis.Redis, limit: Limit, subject: str) -> None:
    """Refuse when the window is already full, without counting this attempt."""
    k = key(limit, subject)
    count = await redis.get(k)
    if count is not None and int(count) >= limit.attempts:
        ttl = await redis.ttl(k)
        raise RateLimited(limit.message, retry_after=ttl if ttl > 0 else limit.window_seconds)


async def hit(redis: aioredis.Redis, limit: Limit, subject: str) -> int:
    """Count one attempt; returns the count in the current window."""
    k = key(limit, subject)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(k)
        pipe.expire(k, limit.window_seconds, nx=True)
        count, _ = await pipe.execute()
    return int(count)


async def consume(redis: aioredis.Redis, limit: Limit, subject: str) -> None:
    """Count this attempt and refuse it when it goes over the limit."""
    count = await hit(redis, limit, subject)
    if count > limit.attempts:
        ttl = await redis.ttl(key(limit, subject))
        raise RateLimited(limit.message, retry_after=ttl if ttl > 0 else limit.window_seconds)


async def clear(redis: aioredis.Redis, limit: Limit, subject: str) -> None:
    await redis.delete(key(limit, subject))
