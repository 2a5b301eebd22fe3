"""Everything a person does with an account: one function each, one transaction each.

Routes (hub/pages/accounts.py, admin.py, api_accounts.py) stay thin and call these. They
raise hub.accounts.errors.AccountError (and its subclasses) with a message and the field
it is about; both the pages and the API turn that into a 4xx.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub import db, policy
from hub.accounts import mailer, passwords, queries, ratelimit, totp
from hub.accounts.errors import AccountError, Conflict, Forbidden, NotFound, RateLimited
from hub.moderation import audit
from hub.realtime import kick
from hub.tracker import invalidate

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(days=30)
PENDING_LOGIN_SECONDS = 300
PENDING_LOGIN_PREFIX = "hub:pending-login:"
PASSWORD_RESET_LIFETIME = timedelta(hours=1)
INVITE_DEFAULT_DAYS = 7
INVITE_MAX_DAYS = 90
API_TOKEN_PREFIX = "hubt_"  # noqa: S105 - a prefix, not a secret

USERNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
SCOPE_RE = re.compile(r"^[a-z][a-z_]*(:[a-z_]+)?$")
NOTIFICATION_KIND_RE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_passkey() -> str:
    return secrets.token_hex(16)


# ------------------------------------------------------------------ accounts


def validate_new_account(username: str, email: str, password: str) -> tuple[str, str]:
    username = username.strip()
    email = email.strip()
    if not USERNAME_RE.match(username):
        raise AccountError(
            "must be 3 to 32 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
            field="username",
        )
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise AccountError("is not an email address", field="email")
    problem = passwords.password_problem(password, username=username, email=email)
    if problem:
        raise AccountError(problem, field="password")
    return username, email


async def create_user(
    conn: asyncpg.Connection,
    *,
    username: str,
    email: str,
    password: str,
    group_slug: str = "member",
    invited_by: UUID | None = None,
) -> UUID:
    """A users row with statistics and privacy rows, inside the caller's transaction."""
    username, email = validate_new_account(username, email, password)
    group = await queries.group_by_slug(conn, group_slug)
    if group is None:
        raise AccountError(f"no group {group_slug!r}", field="group")
    taken = await queries.username_or_email_taken(conn, username, email)
    if taken == "username":
        raise Conflict("is already taken", field="username")
    if taken == "email":
        raise Conflict("already has an account", field="email")
    password_hash = await passwords.hash_password_async(password)
    try:
        return await queries.insert_user(
            conn,
            username=username,
            email=email,
            password_hash=password_hash,
            passkey=new_passkey(),
            group_id=group["id"],
            invited_by=invited_by,
        )
    except asyncpg.UniqueViolationError as exc:
        # Lost a race with a concurrent registration of the same name or address.
        field = "email" if "email" in (exc.constraint_name or "") else "username"
        raise Conflict("is already taken", field=field) from exc


async def create_user_cli(
    hub: Hub, username: str, email: str, password: str, group: str = "member"
) -> UUID:
    async with db.transaction(hub.pool) as conn:
        return await create_user(
            conn, username=username, email=email, password=password, group_slug=group
        )


async def register(
    hub: Hub,
    *,
    username: str,
    email: str,
    password: str,
    invite_code: str | None = None,
    ip: str | None = None,
) -> UUID:
    """Open or invite-only registration (Settings.registration); records the invite tree."""
    subject = ip or "unknown"
    await ratelimit.check(hub.redis, ratelimit.REGISTRATION_PER_IP, subject)
    invite_code = (invite_code or "").strip() or None
    if hub.settings.registration == "invite" and not invite_code:
        raise AccountError("an invite code is required to register", field="invite_code")
    async with db.transaction(hub.pool) as conn:
        inviter: UUID | None = None
        invite = None
        if invite_code:
            invite = await queries.invite_by_code(conn, invite_code)
            if invite is None or invite["revoked_at"] is not None:
                raise AccountError("is not a valid invite code", field="invite_code")
            if invite["used_at"] is not None:
                raise AccountError("has already been used", field="invite_code")
            if invite["expires_at"] <= datetime.now(UTC):
                raise AccountError("has expired", field="invite_code")
            if invite["email"] and invite["email"].lower() != email.strip().lower():
                raise AccountError("this invite is for another email address", field="email")
            inviter = invite["inviter_id"]
        user_id = await create_user(
            conn, username=username, email=email, password=password, invited_by=inviter
        )
        if invite is not None:
            await queries.mark_invite_used(conn, invite["id"], user_id)
    await ratelimit.hit(hub.redis, ratelimit.REGISTRATION_PER_IP, subject)
    return user_id


# ------------------------------------------------------------------ sessions


def device_fingerprint(user_agent: str | None) -> str | None:
    """A short, stable label for "the same browser": a hash of its user agent."""
    if not user_agent:
        return None
    return hashlib.sha256(user_agent.encode()).hexdigest()[:16]


async def start_session(
    hub: Hub, user_id: UUID, *, ip: str | None, user_agent: str | None
) -> tuple[UUID, str]:
    """A new user_sessions row; returns its id and the raw token for the cookie.

    Only sha256(token) is stored: a leaked database cannot be replayed as cookies.
    """
    token = secrets.token_urlsafe(32)
    async with db.transaction(hub.pool) as conn:
        session_id = await queries.insert_session(
            conn,
            user_id=user_id,
            token_hash=token_hash(token),
            ip=ip,
            user_agent=(user_agent or "")[:1024] or None,
            device_fingerprint=device_fingerprint(user_agent),
            expires_at=datetime.now(UTC) + SESSION_LIFETIME,
        )
        await queries.touch_login(conn, user_id, ip)
    return session_id, token


@dataclass(frozen=True)
class LoginResult:
    """Either a session (token for the cookie) or a pending second-factor step."""

    user_id: UUID
    session_id: UUID | None = None
    session_token: str | None = None
    pending_token: str | None = None
    pending_expires_in: int = 0

    @property
    def needs_2fa(self) -> bool:
        return self.pending_token is not None


# A real hash to verify against when the account does not exist, so a wrong username
# costs the same time as a wrong password (no account enumeration by timing).
_DUMMY_HASH = passwords.hash_password(secrets.token_hex(16))


async def login(
    hub: Hub, *, login: str, password: str, ip: str | None, user_agent: str | None
) -> LoginResult:
    """Password first; a member with 2FA gets a short-lived pending token instead of a session."""
    login = login.strip()
    ip_subject = ip or "unknown"
    await ratelimit.check(hub.redis, ratelimit.LOGIN_PER_IP, ip_subject)
    async with hub.pool.acquire() as conn:
        user = await queries.user_by_login(conn, login)
    # Count per account by id, so alternating username and email buys no extra guesses;
    # unknown names are counted by what was typed.
    account_subject = str(user["id"]) if user else login
    await ratelimit.check(hub.redis, ratelimit.LOGIN_PER_ACCOUNT, account_subject)
    # The hash is checked with no pool connection held: it takes tens of milliseconds.
    ok = await passwords.verify_password_async(
        user["password_hash"] if user else _DUMMY_HASH, password
    )
    if user is None or not ok:
        await ratelimit.hit(hub.redis, ratelimit.LOGIN_PER_IP, ip_subject)
        await ratelimit.hit(hub.redis, ratelimit.LOGIN_PER_ACCOUNT, account_subject)
        raise AccountError("wrong username or password", field="password", status=401)
    if user["is_banned"] or user["group_slug"] == "banned":
        raise Forbidden("this account is banned", field="login")
    if user["is_disabled"]:
        raise Forbidden("this account is disabled", field="login")
    if passwords.needs_rehash(user["password_hash"]):
        new_hash = await passwords.hash_password_async(password)
        async with hub.pool.acquire() as conn:
            await queries.set_password_hash(conn, user["id"], new_hash)
    async with hub.pool.acquire() as conn:
        two_factor = await queries.get_2fa(conn, user["id"])
    await ratelimit.clear(hub.redis, ratelimit.LOGIN_PER_ACCOUNT, account_subject)
    if two_factor is not None and two_factor["confirmed_at"] is not None:
        pending = secrets.token_urlsafe(32)
        await hub.redis.set(
            PENDING_LOGIN_PREFIX + token_hash(pending).hex(),
            json.dumps({"user_id": str(user["id"])}),
            ex=PENDING_LOGIN_SECONDS,
        )
        return LoginResult(
            user["id"], pending_token=pending, pending_expires_in=PENDING_LOGIN_SECONDS
        )
    session_id, token = await start_session(hub, user["id"], ip=ip, user_agent=user_agent)
    return LoginResult(user["id"], session_id=session_id, session_token=token)


async def login_second_factor(
    hub: Hub, *, pending_token: str, code: str, ip: str | None, user_agent: str | None
) -> LoginResult:
    """The TOTP (or backup code) step; wrong codes count against the account."""
    key = PENDING_LOGIN_PREFIX + token_hash(pending_token).hex()
    raw = await hub.redis.get(key)
    if raw is None:
        raise AccountError(
            "this login step has expired; sign in with your password again",
            field="pending_token",
            status=401,
        )
    user_id = UUID(json.loads(raw)["user_id"])
    await ratelimit.check(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
    async with db.transaction(hub.pool) as conn:
        method = await _verify_second_factor(hub, conn, user_id, code)
    if method is None:
        await ratelimit.consume(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
        raise AccountError("wrong code", field="code", status=401)
    await hub.redis.delete(key)
    await ratelimit.clear(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
    session_id, token = await start_session(hub, user_id, ip=ip, user_agent=user_agent)
    return LoginResult(user_id, session_id=session_id, session_token=token)


async def _verify_second_factor(
    hub: Hub, conn: asyncpg.Connection, user_id: UUID, code: str
) -> str | None:
    """ "totp" or "backup" when the code is right (and consumes it), None otherwise.

    The row is locked so a backup code or a TOTP step cannot be used twice by two
    concurrent requests.
    """
    row = await queries.get_2fa(conn, user_id, lock=True)
    if row is None or row["confirmed_at"] is None:
        return None
    code = (code or "").strip()
    if totp.looks_like_backup_code(code):
        wanted = totp.normalise_backup_code(code)
        remaining = list(row["backup_codes"])
        for i, stored in enumerate(remaining):
            if await passwords.verify_password_async(stored, wanted, passwords.CODE_HASHER):
                del remaining[i]
                await queries.set_backup_codes(conn, user_id, remaining)
                return "backup"
        return None
    secret = totp.decrypt(hub.settings.totp_encryption_key, user_id, row["secret_encrypted"])
    step = totp.matching_step(secret, code)
    if step is None:
        return None
    if row["last_used_step"] is not None and step <= row["last_used_step"]:
        return None  # replay of a code already accepted
    await queries.set_2fa_step(conn, user_id, step)
    return "totp"


async def logout(hub: Hub, session_id: UUID) -> None:
    async with db.transaction(hub.pool) as conn:
        await conn.execute(
            "UPDATE user_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            session_id,
        )
        kick.session_revoked(hub.redis, session_id)


async def list_sessions(hub: Hub, user_id: UUID) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        return [dict(r) for r in await queries.list_sessions(conn, user_id)]


async def revoke_session(hub: Hub, user_id: UUID, session_id: UUID) -> None:
    """Ends one of the member's own sessions at once: next request and open sockets."""
    async with db.transaction(hub.pool) as conn:
        if not await queries.revoke_session(conn, user_id, session_id):
            raise NotFound("no such active session", field="session_id")
        kick.session_revoked(hub.redis, session_id)


async def revoke_other_sessions(hub: Hub, user_id: UUID, keep: UUID | None) -> int:
    async with db.transaction(hub.pool) as conn:
        revoked = await queries.revoke_sessions_except(conn, user_id, keep)
        for sid in revoked:
            kick.session_revoked(hub.redis, sid)
    return len(revoked)


# ------------------------------------------------------------------ password reset


async def request_password_reset(hub: Hub, *, email: str, ip: str | None) -> str | None:
    """Send (log) a reset link when the address has an account; returns the raw token.

    The caller answers the same way either way, so the form reveals nothing about which
    addresses have accounts.
    """
    email = email.strip()
    if not EMAIL_RE.match(email):
        raise AccountError("is not an email address", field="email")
    await ratelimit.consume(hub.redis, ratelimit.PASSWORD_RESET_PER_IP, ip or "unknown")
    await ratelimit.consume(hub.redis, ratelimit.PASSWORD_RESET_PER_ACCOUNT, email)
    token = secrets.token_urlsafe(32)
    async with db.transaction(hub.pool) as conn:
        user = await queries.user_by_login(conn, email)
        if user is None or user["email"].lower() != email.lower():
            return None
        await queries.insert_account_token(
            conn,
            user_id=user["id"],
            purpose="password_reset",
            token_hash=token_hash(token),
            expires_at=datetime.now(UTC) + PASSWORD_RESET_LIFETIME,
        )
    link = f"{hub.settings.base_url.rstrip('/')}/reset-password?token={token}"
    await mailer.send(
        hub,
        to=user["email"],
        subject=f"Reset your {hub.settings.site_name} password",
        body=f"Someone asked to reset the password of {user['username']}.\n"
        f"Open this link within an hour to choose a new one:\n{link}\n"
        "If it was not you, ignore this message.",
        data={"kind": "password_reset", "token": token, "link": link},
    )
    return token


async def confirm_password_reset(hub: Hub, *, token: str, new_password: str) -> UUID:
    """Set the new password and end every session: whoever had the old one is out."""
    async with db.transaction(hub.pool) as conn:
        row = await queries.take_account_token(conn, "password_reset", token_hash(token))
        if row is None:
            raise AccountError("this reset link is invalid, used or expired", field="token")
        user = await queries.user_by_id(conn, row["user_id"])
        assert user is not None
        problem = passwords.password_problem(
            new_password, username=user["username"], email=user["email"]
        )
        if problem:
            raise AccountError(problem, field="password")
        await queries.set_password_hash(
            conn, user["id"], await passwords.hash_password_async(new_password)
        )
        for sid in await queries.revoke_sessions_except(conn, user["id"], None):
            kick.session_revoked(hub.redis, sid)
    await ratelimit.clear(hub.redis, ratelimit.LOGIN_PER_ACCOUNT, str(user["id"]))
    return user["id"]


async def change_password(
    hub: Hub, user_id: UUID, *, current_password: str, new_password: str, keep_session: UUID | None
) -> None:
    async with db.transaction(hub.pool) as conn:
        user = await queries.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        if not await passwords.verify_password_async(user["password_hash"], current_password):
            raise AccountError("is wrong", field="current_password")
        problem = passwords.password_problem(
            new_password, username=user["username"], email=user["email"]
        )
        if problem:
            raise AccountError(problem, field="password")
        await queries.set_password_hash(
            conn, user_id, await passwords.hash_password_async(new_password)
        )
        for sid in await queries.revoke_sessions_except(conn, user_id, keep_session):
            kick.session_revoked(hub.redis, sid)


# ------------------------------------------------------------------ TOTP


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


async def begin_totp(hub: Hub, user_id: UUID) -> TotpEnrolment:
    """A fresh secret, stored encrypted and unconfirmed until a code proves the app has it."""
    async with db.transaction(hub.pool) as conn:
        user = await queries.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        existing = await queries.get_2fa(conn, user_id, lock=True)
        if existing is not None and existing["confirmed_at"] is not None:
            raise Conflict("two-factor authentication is already on; disable it first")
        secret = totp.new_secret()
        await queries.upsert_pending_2fa(
            conn, user_id, totp.encrypt(hub.settings.totp_encryption_key, user_id, secret)
        )
    uri = totp.provisioning_uri(secret, user["username"], hub.settings.site_name)
    return TotpEnrolment(secret, uri, totp.qr_svg(uri))


async def confirm_totp(hub: Hub, user_id: UUID, code: str) -> list[str]:
    """Turn 2FA on; returns the ten backup codes, shown once."""
    async with db.transaction(hub.pool) as conn:
        row = await queries.get_2fa(conn, user_id, lock=True)
        if row is None:
            raise AccountError("start the set-up first", field="code", status=409)
        if row["confirmed_at"] is not None:
            raise Conflict("two-factor authentication is already on")
        secret = totp.decrypt(hub.settings.totp_encryption_key, user_id, row["secret_encrypted"])
        step = totp.matching_step(secret, code)
        if step is None:
            await ratelimit.consume(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
            raise AccountError("wrong code; check the time on your device", field="code")
        codes = totp.new_backup_codes()
        hashes = [await passwords.hash_password_async(c, passwords.CODE_HASHER) for c in codes]
        await queries.confirm_2fa(conn, user_id, hashes, step)
    return codes


async def pending_totp(hub: Hub, user_id: UUID) -> TotpEnrolment | None:
    """The enrolment started but not confirmed yet (to show the QR code again), or None."""
    async with hub.pool.acquire() as conn:
        user = await queries.user_by_id(conn, user_id)
        row = await queries.get_2fa(conn, user_id)
    if user is None or row is None or row["confirmed_at"] is not None:
        return None
    secret = totp.decrypt(hub.settings.totp_encryption_key, user_id, row["secret_encrypted"])
    uri = totp.provisioning_uri(secret, user["username"], hub.settings.site_name)
    return TotpEnrolment(secret, uri, totp.qr_svg(uri))


async def has_totp(hub: Hub, user_id: UUID) -> bool:
    async with hub.pool.acquire() as conn:
        row = await queries.get_2fa(conn, user_id)
    return row is not None and row["confirmed_at"] is not None


async def backup_codes_left(hub: Hub, user_id: UUID) -> int:
    async with hub.pool.acquire() as conn:
        row = await queries.get_2fa(conn, user_id)
    return len(row["backup_codes"]) if row and row["confirmed_at"] else 0


async def disable_totp(hub: Hub, user_id: UUID, *, password: str, code: str) -> None:
    """Needs both the password and a current code (or a backup code)."""
    await ratelimit.check(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
    async with db.transaction(hub.pool) as conn:
        user = await queries.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        if not await passwords.verify_password_async(user["password_hash"], password):
            await ratelimit.hit(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
            raise AccountError("is wrong", field="password")
        row = await queries.get_2fa(conn, user_id)
        if row is None or row["confirmed_at"] is None:
            raise Conflict("two-factor authentication is not on")
        if await _verify_second_factor(hub, conn, user_id, code) is None:
            await ratelimit.hit(hub.redis, ratelimit.TWO_FACTOR, str(user_id))
            raise AccountError("wrong code", field="code")
        await queries.delete_2fa(conn, user_id)
        await audit.record(conn, user_id, "2fa.disable", "user", user_id, {})


async def admin_reset_2fa(hub: Hub, actor: policy.Viewer, user_id: UUID, *, ip: str | None) -> None:
    """Staff turn a member's 2FA off (lost phone and codes); audited."""
    async with db.transaction(hub.pool) as conn:
        target = await _target_below(conn, actor, user_id)
        if not await queries.delete_2fa(conn, user_id):
            raise Conflict("this member has no two-factor authentication")
        await audit.record(
            conn, actor.user_id, "2fa.reset", "user", user_id, {"username": target["username"]}, ip
        )


# ------------------------------------------------------------------ passkey


async def rotate_passkey(hub: Hub, user_id: UUID, *, ip: str | None) -> str:
    """New tracker passkey; the old one stops working on every tracker process."""
    passkey = new_passkey()
    async with db.transaction(hub.pool) as conn:
        old = await conn.fetchval("SELECT passkey FROM users WHERE id = $1 FOR UPDATE", user_id)
        if old is None:
            raise NotFound("no such user")
        await conn.execute(
            "UPDATE users SET passkey = $2, passkey_changed_at = now() WHERE id = $1",
            user_id,
            passkey,
        )
        await audit.record(
            conn, user_id, "passkey.rotate", "user", user_id, {"old_prefix": old[:4]}, ip
        )
        invalidate.user_changed(hub.redis, user_id)
    return passkey


# ------------------------------------------------------------------ API tokens


async def create_api_token(
    hub: Hub,
    user_id: UUID,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
) -> tuple[UUID, str]:
    """A personal token for scripts; the value is returned once and only its hash kept."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("must be 1 to 100 characters", field="name")
    clean: list[str] = []
    for scope in scopes:
        if not SCOPE_RE.match(scope):
            raise AccountError(f"{scope!r} is not a scope", field="scopes")
        if scope not in clean:
            clean.append(scope)
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise AccountError("must be between 1 and 3650 days", field="expires_in_days")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    async with db.transaction(hub.pool) as conn:
        token_id = await queries.insert_api_token(
            conn,
            user_id=user_id,
            name=name,
            token_hash=token_hash(token),
            scopes=clean,
            expires_at=expires_at,
        )
    return token_id, token


async def list_api_tokens(hub: Hub, user_id: UUID) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        return [dict(r) for r in await queries.list_api_tokens(conn, user_id)]


async def revoke_api_token(hub: Hub, user_id: UUID, token_id: UUID) -> None:
    async with db.transaction(hub.pool) as conn:
        if not await queries.revoke_api_token(conn, user_id, token_id):
            raise NotFound("no such token", field="token_id")


# ------------------------------------------------------------------ privacy


# What each paranoia level hides on top of the explicit switches.
PARANOIA_HIDES: dict[int, frozenset[str]] = {
    0: frozenset(),
    1: frozenset({"hide_online"}),
    2: frozenset({"hide_online", "hide_activity"}),
    3: frozenset({"hide_online", "hide_activity", "hide_stats"}),
    4: frozenset({"hide_online", "hide_activity", "hide_stats", "hide_uploads", "hide_snatches"}),
    5: frozenset(queries.PRIVACY_FLAGS),
}


async def get_privacy(hub: Hub, user_id: UUID) -> dict[str, Any]:
    async with hub.pool.acquire() as conn:
        row = await queries.get_privacy(conn, user_id)
    if row is None:
        raise NotFound("no such user")
    return {k: row[k] for k in ("paranoia", "notification_prefs", *queries.PRIVACY_FLAGS)}


async def update_privacy(hub: Hub, user_id: UUID, changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "paranoia":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 5:
                raise AccountError("must be a whole number from 0 to 5", field="paranoia")
            values[key] = value
        elif key in queries.PRIVACY_FLAGS:
            if not isinstance(value, bool):
                raise AccountError("must be true or false", field=key)
            values[key] = value
        elif key == "notification_prefs":
            if not isinstance(value, dict):
                raise AccountError("must be an object of kind: true/false", field=key)
            for kind, enabled in value.items():
                if not NOTIFICATION_KIND_RE.match(str(kind)) or not isinstance(enabled, bool):
                    raise AccountError(
                        f"{kind!r} must map a notification kind to true or false", field=key
                    )
            values[key] = value
        else:
            raise AccountError("is not a privacy setting", field=key)
    async with db.transaction(hub.pool) as conn:
        if "notification_prefs" in values:
            current = await queries.get_privacy(conn, user_id)
            merged = dict(current["notification_prefs"] if current else {})
            merged.update(values["notification_prefs"])
            values["notification_prefs"] = merged
        await queries.update_privacy(conn, user_id, values)
    return await get_privacy(hub, user_id)


def hidden_parts(privacy: dict[str, Any]) -> frozenset[str]:
    explicit = {flag for flag in queries.PRIVACY_FLAGS if privacy.get(flag)}
    return frozenset(explicit) | PARANOIA_HIDES.get(int(privacy.get("paranoia", 0)), frozenset())


async def profile_for(hub: Hub, who: policy.Viewer, username: str) -> dict[str, Any] | None:
    """A member's profile as `who` may see it; the owner and staff see through paranoia.

    Hidden parts are None and listed under "hidden", so pages can say "hidden by the
    member" rather than show zeros.
    """
    async with hub.pool.acquire() as conn:
        user = await queries.user_by_username(conn, username)
        if user is None:
            return None
        privacy = await queries.get_privacy(conn, user["id"])
        stats = await conn.fetchrow("SELECT * FROM user_statistics WHERE user_id = $1", user["id"])
    see_all = who.is_moderator or (who.is_authenticated and who.user_id == user["id"])
    hidden = frozenset() if see_all else hidden_parts(dict(privacy) if privacy else {})
    if "hide_profile" in hidden:
        return {
            "id": user["id"],
            "username": user["username"],
            "group": {"slug": user["group_slug"], "name": user["group_name"]},
            "hidden": sorted(hidden),
            "profile_hidden": True,
        }
    profile: dict[str, Any] = {
        "id": user["id"],
        "username": user["username"],
        "group": {
            "slug": user["group_slug"],
            "name": user["group_name"],
            "color": user["group_color"],
        },
        "title": user["title"],
        "avatar_url": user["avatar_url"],
        "about": user["about"],
        "created_at": user["created_at"],
        "is_banned": user["is_banned"],
        "last_seen_at": None if "hide_online" in hidden else user["last_seen_at"],
        "stats": None,
        "hidden": sorted(hidden),
        "profile_hidden": False,
        "is_self": who.is_authenticated and who.user_id == user["id"],
    }
    if "hide_stats" not in hidden and stats is not None:
        profile["stats"] = {
            "uploaded": stats["uploaded"],
            "downloaded": stats["downloaded"],
            "ratio": None if stats["ratio"] is None else float(stats["ratio"]),
            "seedbonus": float(stats["seedbonus"]),
            "seeding": stats["seeding_count"],
            "leeching": stats["leeching_count"],
            "uploads": None if "hide_uploads" in hidden else stats["torrents_uploaded"],
            "snatches": None if "hide_snatches" in hidden else stats["torrents_snatched"],
        }
    if see_all and who.is_moderator:
        profile["email"] = user["email"]
        profile["last_ip"] = str(user["last_ip"]) if user["last_ip"] else None
        profile["invited_by"] = user["invited_by"]
    return profile


# ------------------------------------------------------------------ invites


async def create_invite(
    hub: Hub,
    who: policy.Viewer,
    *,
    email: str | None = None,
    days: int = INVITE_DEFAULT_DAYS,
) -> tuple[UUID, str]:
    if not who.has("invite"):
        raise Forbidden("your group cannot invite")
    if email is not None:
        email = email.strip() or None
    if email is not None and not EMAIL_RE.match(email):
        raise AccountError("is not an email address", field="email")
    if not 1 <= days <= INVITE_MAX_DAYS:
        raise AccountError(f"must be between 1 and {INVITE_MAX_DAYS} days", field="days")
    assert who.user_id is not None
    code = secrets.token_urlsafe(18)
    async with db.transaction(hub.pool) as conn:
        invite_id = await queries.insert_invite(
            conn,
            inviter_id=who.user_id,
            code=code,
            email=email,
            expires_at=datetime.now(UTC) + timedelta(days=days),
        )
    return invite_id, code


async def list_invites(hub: Hub, user_id: UUID) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        return [dict(r) for r in await queries.list_invites(conn, user_id)]


async def revoke_invite(hub: Hub, user_id: UUID, invite_id: UUID) -> None:
    async with db.transaction(hub.pool) as conn:
        if not await queries.revoke_invite(conn, user_id, invite_id):
            raise NotFound("no such unused invite", field="invite_id")


async def invite_tree(hub: Hub, user_id: UUID) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        return [dict(r) for r in await queries.invitees(conn, user_id)]


# ------------------------------------------------------------------ groups and staff actions

GROUP_EDITABLE = (
    "name",
    "level",
    "is_staff",
    *(f"can_{r}" for r in policy.RIGHTS),
    "is_immune_hnr",
    "min_ratio",
    "max_download_slots",
    "color",
    "description",
)


async def list_groups(hub: Hub) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        return [dict(r) for r in await queries.list_groups(conn)]


async def update_group(
    hub: Hub, actor: policy.Viewer, group_id: int, changes: dict[str, Any], *, ip: str | None
) -> dict[str, Any]:
    """Admins edit a group's rights and limits; audited, and trackers reload its members."""
    values = {k: v for k, v in changes.items() if v is not None}
    unknown = [k for k in values if k not in GROUP_EDITABLE]
    if unknown:
        raise AccountError("cannot be changed", field=unknown[0])
    if not values:
        raise AccountError("nothing to change", field="body")
    async with db.transaction(hub.pool) as conn:
        before = await conn.fetchrow("SELECT * FROM user_groups WHERE id = $1 FOR UPDATE", group_id)
        if before is None:
            raise NotFound("no such group", field="group_id")
        if group_id == actor.group_id and values.get("can_administer") is False:
            raise AccountError(
                "you cannot take the administer right from your own group", field="can_administer"
            )
        cols = list(values)
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
        try:
            async with conn.transaction():  # savepoint: a CHECK failure names the field
                after = await conn.fetchrow(
                    f"UPDATE user_groups SET {assignments} WHERE id = $1 RETURNING *",  # noqa: S608
                    group_id,
                    *[values[c] for c in cols],
                )
        except asyncpg.CheckViolationError as exc:
            raise AccountError(
                "breaks a rule of groups (e.g. unmoderated upload needs upload, "
                "administer needs moderate)",
                field=cols[0],
            ) from exc
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("is already used by another group", field=cols[0]) from exc
        assert after is not None
        diff = {
            c: {"from": _jsonable(before[c]), "to": _jsonable(after[c])}
            for c in cols
            if before[c] != after[c]
        }
        await audit.record(
            conn,
            actor.user_id,
            "group.update",
            "group",
            group_id,
            {"slug": after["slug"], "changes": diff},
            ip,
        )
        if any(c.startswith("can_") or c == "min_ratio" for c in diff):
            for row in await conn.fetch("SELECT id FROM users WHERE group_id = $1", group_id):
                invalidate.user_changed(hub.redis, row["id"])
    return dict(after)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


async def _target_below(
    conn: asyncpg.Connection, actor: policy.Viewer, user_id: UUID
) -> asyncpg.Record:
    """The target user, locked; staff may act only on members of a lower level."""
    target = await conn.fetchrow(
        """SELECT u.*, g.level, g.slug AS group_slug FROM users u
             JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1 FOR UPDATE OF u""",
        user_id,
    )
    if target is None:
        raise NotFound("no such user", field="user_id")
    if target["id"] == actor.user_id:
        raise Forbidden("you cannot do this to your own account")
    if target["level"] >= actor.level:
        raise Forbidden("this member's group is at or above yours")
    return target


async def set_user_group(
    hub: Hub, actor: policy.Viewer, user_id: UUID, group_slug: str, *, ip: str | None
) -> None:
    async with db.transaction(hub.pool) as conn:
        target = await _target_below(conn, actor, user_id)
        group = await queries.group_by_slug(conn, group_slug)
        if group is None:
            raise AccountError(f"no group {group_slug!r}", field="group")
        if group["level"] >= actor.level:
            raise Forbidden("you can only assign groups below your own", field="group")
        if group["id"] == target["group_id"]:
            return
        await conn.execute("UPDATE users SET group_id = $2 WHERE id = $1", user_id, group["id"])
        await audit.record(
            conn,
            actor.user_id,
            "user.group_change",
            "user",
            user_id,
            {"username": target["username"], "from": target["group_slug"], "to": group_slug},
            ip,
        )
        if not any(group[f"can_{r}"] for r in ("chat", "download", "post_forums")):
            # A group with no rights at all (Banned): open sockets must not linger.
            kick.user_blocked(hub.redis, user_id, f"moved to {group['name']}")
        invalidate.user_changed(hub.redis, user_id)


async def ban_user(
    hub: Hub, actor: policy.Viewer, user_id: UUID, *, reason: str, ip: str | None
) -> None:
    """Banned at once: sessions end, sockets drop, the tracker refuses the passkey."""
    reason = reason.strip()
    if not reason:
        raise AccountError("say why", field="reason")
    async with db.transaction(hub.pool) as conn:
        target = await _target_below(conn, actor, user_id)
        if target["is_banned"]:
            raise Conflict("this member is already banned")
        await conn.execute("UPDATE users SET is_banned = true WHERE id = $1", user_id)
        # Kicks go out in this order after commit: the member-wide one first, so an open
        # socket is told "account banned" rather than "session revoked".
        kick.user_blocked(hub.redis, user_id, "account banned")
        for sid in await queries.revoke_sessions_except(conn, user_id, None):
            kick.session_revoked(hub.redis, sid)
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
        )
        await audit.record(
            conn,
            actor.user_id,
            "user.ban",
            "user",
            user_id,
            {"username": target["username"], "reason": reason[:1000]},
            ip,
        )
        invalidate.user_changed(hub.redis, user_id)


async def unban_user(hub: Hub, actor: policy.Viewer, user_id: UUID, *, ip: str | None) -> None:
    async with db.transaction(hub.pool) as conn:
        target = await _target_below(conn, actor, user_id)
        if not target["is_banned"]:
            raise Conflict("this member is not banned")
        await conn.execute("UPDATE users SET is_banned = false WHERE id = $1", user_id)
        await audit.record(
            conn,
            actor.user_id,
            "user.unban",
            "user",
            user_id,
            {"username": target["username"]},
            ip,
        )
        invalidate.user_changed(hub.redis, user_id)


async def search_users(
    hub: Hub, query: str = "", limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    async with hub.pool.acquire() as conn:
        return [dict(r) for r in await queries.search_users(conn, query.strip(), limit, offset)]


async def user_for_staff(hub: Hub, user_id: UUID) -> dict[str, Any] | None:
    """Everything the admin user page shows about one account, or None."""
    async with hub.pool.acquire() as conn:
        user = await queries.user_by_id(conn, user_id)
        if user is None:
            return None
        two_factor = await queries.get_2fa(conn, user_id)
        inviter = (
            await conn.fetchval(
                "SELECT username::text FROM users WHERE id = $1", user["invited_by"]
            )
            if user["invited_by"]
            else None
        )
        audit_rows = await conn.fetch(
            """SELECT a.action, a.details, a.created_at, u.username::text AS actor
                 FROM audit_logs a LEFT JOIN users u ON u.id = a.user_id
                WHERE a.target_type = 'user' AND a.target_id = $1
                ORDER BY a.created_at DESC LIMIT 20""",
            str(user_id),
        )
    result = {
        k: user[k]
        for k in (
            "id",
            "username",
            "email",
            "group_id",
            "group_slug",
            "group_name",
            "level",
            "is_banned",
            "is_disabled",
            "invited_by",
            "created_at",
            "last_seen_at",
            "passkey_changed_at",
        )
    }
    result["username"] = str(user["username"])
    result["email"] = str(user["email"])
    result["last_ip"] = str(user["last_ip"]) if user["last_ip"] else None
    result["has_2fa"] = bool(two_factor and two_factor["confirmed_at"])
    result["invited_by_username"] = inviter
    result["audit"] = [dict(r) for r in audit_rows]
    return result


async def account_summary(hub: Hub, user_id: UUID) -> dict[str, Any]:
    """What the settings page and GET /api/v1/me show the member about themselves."""
    async with hub.pool.acquire() as conn:
        user = await queries.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        two_factor = await queries.get_2fa(conn, user_id)
        stats = await conn.fetchrow("SELECT * FROM user_statistics WHERE user_id = $1", user_id)
    return {
        "id": user["id"],
        "username": user["username"],
        "email": user["email"],
        "group": user["group_slug"],
        "group_name": user["group_name"],
        "passkey": user["passkey"],
        "announce_url": hub.settings.announce_url(user["passkey"]),
        "passkey_changed_at": user["passkey_changed_at"],
        "two_factor": bool(two_factor and two_factor["confirmed_at"]),
        "backup_codes_left": len(two_factor["backup_codes"])
        if two_factor and two_factor["confirmed_at"]
        else 0,
        "invited_by": user["invited_by"],
        "created_at": user["created_at"],
        "uploaded": stats["uploaded"] if stats else 0,
        "downloaded": stats["downloaded"] if stats else 0,
        "ratio": float(stats["ratio"]) if stats and stats["ratio"] is not None else None,
    }


__all__ = ["AccountError", "Conflict", "Forbidden", "LoginResult", "NotFound", "RateLimited"]
