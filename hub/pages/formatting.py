"""Template filters for numbers and times people read: sizes, ratios, "3 hours ago".

Registered app-wide by the accounts blueprint (`register(bp)`), so every page may use
`|human_bytes`, `|ratio_text`, `|human_time` and `|device_label`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from quart import Blueprint

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} {_UNITS[-1]}"  # pragma: no cover - loop always returns


def ratio_text(value: Decimal | float | None) -> str:
    """NULL ratio means nothing downloaded yet: shown as infinity, like trackers do."""
    if value is None:
        return "∞"
    return f"{float(value):.3f}"


def human_time(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "—"
    now = now or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((now - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for size, name in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"),
                       (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            text = f"{count} {name}{'' if count == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "in a moment" if future else "just now"


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))


def device_label(user_agent: str | None) -> str:
    """"Firefox on Linux" from a User-Agent; enough to tell one's own devices apart."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    if "HeadlessChrome" in user_agent:
        browser = "Headless Chrome"
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system or ""
    # Scripts and tools: the product token, e.g. "python-requests/2.31" -> "python-requests".
    match = re.match(r"[\w.+-]+", user_agent)
    return match.group(0)[:40] if match else "Unknown device"


def register(bp: Blueprint) -> None:
    bp.add_app_template_filter(human_bytes, "human_bytes")
    bp.add_app_template_filter(ratio_text, "ratio_text")
    bp.add_app_template_filter(human_time, "human_time")
    bp.add_app_template_filter(device_label, "device_label")
