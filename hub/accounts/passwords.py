"""Password hashing: argon2id, with a rehash when the parameters change.

Hashing is CPU-bound (tens of milliseconds by design), so the async helpers run it in a
thread instead of stalling the event loop that also carries websockets.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's recommended argon2id floor (19 MiB, 2 passes, 1 lane).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)

# Backup codes and other random secrets have ~50+ bits of entropy, so a lighter setting
# keeps "try each of the ten stored hashes" affordable without weakening them.
CODE_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)

MIN_LENGTH = 8
MAX_LENGTH = 1024


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher = HASHER) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = HASHER) -> bool:
    try:
        return hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def hash_password_async(password: str, hasher: PasswordHasher = HASHER) -> str:
    return await asyncio.to_thread(hash_password, password, hasher)


async def verify_password_async(
    stored_hash: str, password: str, hasher: PasswordHasher = HASHER
) -> bool:
    return await asyncio.to_thread(verify_password, stored_hash, password, hasher)


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if username and lowered == username.lower():
        return "must not be the same as the username"
    if email and lowered == email.lower():
        return "must not be the same as the email address"
    return None
