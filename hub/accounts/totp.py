"""TOTP secrets: generated with pyotp, encrypted at rest with AES-GCM, shown as a QR code."""

from __future__ import annotations

import io
import secrets
import time

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
# Bound to the ciphertext so a secret copied to another user's row does not decrypt.
AAD_PREFIX = b"hub-totp:"
BACKUP_CODE_COUNT = 10
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o/1/l/i look-alikes
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt(key: bytes, user_id: object, secret: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, secret.encode(), AAD_PREFIX + str(user_id).encode())


def decrypt(key: bytes, user_id: object, blob: bytes) -> str:
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    return AESGCM(key).decrypt(nonce, ciphertext, AAD_PREFIX + str(user_id).encode()).decode()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()


def matching_step(secret: str, code: str | None, *, now: float | None = None) -> int | None:
    """The time step the code belongs to (one step of clock drift either way), or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    at = time.time() if now is None else now
    current = int(at // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_backup_codes() -> list[str]:
    return [
        "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(5))
        + "-"
        + "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(5))
        for _ in range(BACKUP_CODE_COUNT)
    ]


def normalise_backup_code(code: str) -> str:
    cleaned = code.strip().lower().replace(" ", "").replace("-", "")
    return f"{cleaned[:5]}-{cleaned[5:]}" if len(cleaned) == 10 else cleaned


def looks_like_backup_code(code: str) -> bool:
    cleaned = code.strip().replace(" ", "").replace("-", "")
    return len(cleaned) == 10 and not cleaned.isdigit()
