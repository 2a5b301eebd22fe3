"""Settings from `HUB_*` environment variables, read once at start."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def env_list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    site_name: str = "hub"
    base_url: str = "http://127.0.0.1:8000"
    # None means "start the embedded server under var_dir".
    database_url: str | None = None
    redis_url: str | None = None
    meilisearch_url: str | None = None
    meilisearch_key: str | None = None
    var_dir: Path = Path("var")
    secret_key: str = ""
    # 32 bytes, urlsafe base64; derived from secret_key when not set.
    totp_encryption_key: bytes = b""
    registration: str = "invite"  # "open" or "invite"
    admin_password: str | None = None
    cookie_secure: bool = False
    trusted_proxies: tuple[str, ...] = ()
    # Tracker
    announce_interval: int = 1800
    announce_min_interval: int = 300
    announce_numwant_default: int = 50
    announce_numwant_max: int = 100
    scrape_max_hashes: int = 74
    max_peers_per_user_torrent: int = 3
    peer_expiry_seconds: int = 2700
    flush_interval_seconds: float = 3.0
    client_whitelist: tuple[str, ...] = field(default_factory=tuple)
    blacklisted_ports: tuple[int, ...] = (6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889)
    max_torrent_file_bytes: int = 10 * 1024 * 1024
    max_torrent_files: int = 100_000
    torrent_source: str = ""
    # Live hub
    event_log_keep: int = 1000
    chat_message_max: int = 2000
    chat_edit_window_seconds: int = 300

    # Where clients announce; the web role's URL unless the tracker role runs elsewhere.
    tracker_url: str = ""

    @property
    def announce_base(self) -> str:
        return (self.tracker_url or self.base_url).rstrip("/")

    def announce_url(self, passkey: str) -> str:
        return f"{self.announce_base}/announce/{passkey}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        secret = os.environ.get("HUB_SECRET_KEY", "")
        var_dir = Path(os.environ.get("HUB_VAR_DIR", "var"))
        if not secret:
            secret = _persistent_secret(var_dir)
        totp_raw = os.environ.get("HUB_TOTP_ENCRYPTION_KEY")
        totp_key = (
            base64.urlsafe_b64decode(totp_raw)
            if totp_raw
            else hashlib.sha256(b"hub-totp:" + secret.encode()).digest()
        )
        if len(totp_key) != 32:
            raise ValueError("HUB_TOTP_ENCRYPTION_KEY must be 32 bytes, urlsafe base64")
        site_name = os.environ.get("HUB_SITE_NAME", "hub")
        values: dict[str, object] = dict(
            site_name=site_name,
            base_url=os.environ.get("HUB_BASE_URL", "http://127.0.0.1:8000"),
            tracker_url=os.environ.get("HUB_TRACKER_URL", ""),
            database_url=os.environ.get("HUB_DATABASE_URL") or None,
            redis_url=os.environ.get("HUB_REDIS_URL") or None,
            meilisearch_url=os.environ.get("HUB_MEILISEARCH_URL") or None,
            meilisearch_key=os.environ.get("HUB_MEILISEARCH_KEY") or None,
            var_dir=var_dir,
            secret_key=secret,
            totp_encryption_key=totp_key,
            registration=os.environ.get("HUB_REGISTRATION", "invite"),
            admin_password=os.environ.get("HUB_ADMIN_PASSWORD") or None,
            cookie_secure=env_bool("HUB_COOKIE_SECURE", False),
            trusted_proxies=env_list("HUB_TRUSTED_PROXIES"),
            announce_interval=env_int("HUB_ANNOUNCE_INTERVAL", 1800),
            announce_min_interval=env_int("HUB_ANNOUNCE_MIN_INTERVAL", 300),
            client_whitelist=env_list("HUB_CLIENT_WHITELIST"),
            max_torrent_file_bytes=env_int("HUB_MAX_TORRENT_BYTES", 10 * 1024 * 1024),
            torrent_source=os.environ.get("HUB_TORRENT_SOURCE", site_name),
        )
        _read_tunables(cls, values)
        if values["registration"] not in ("open", "invite"):
            raise ValueError("HUB_REGISTRATION must be 'open' or 'invite'")
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _read_tunables(cls: type[Settings], values: dict[str, object]) -> None:
    """Every other field can be set as HUB_<FIELD NAME>, parsed like its default."""
    for f in fields(cls):
        raw = os.environ.get(f"HUB_{f.name.upper()}")
        if raw is None or f.name in values:
            continue
        default: object = f.default
        if default is MISSING and f.default_factory is not MISSING:
            default = f.default_factory()
        if isinstance(default, bool):
            values[f.name] = env_bool(f"HUB_{f.name.upper()}", default)
        elif isinstance(default, int):
            values[f.name] = int(raw)
        elif isinstance(default, float):
            values[f.name] = float(raw)
        elif isinstance(default, tuple):
            parts = [p.strip() for p in raw.split(",") if p.strip()]
            is_ports = f.name.endswith("ports")
            values[f.name] = tuple(int(p) for p in parts) if is_ports else tuple(parts)
        else:
            values[f.name] = raw


def _persistent_secret(var_dir: Path) -> str:
    """A development secret kept under var/, so sessions survive a restart of `hub dev`."""
    import secrets

    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
