"""The notification kinds the worker sends, registered with the notifications module."""

from __future__ import annotations

from typing import Any

from hub.community.notifications import register_kind


def _hit_and_run(p: dict[str, Any]) -> tuple[str, str | None]:
    url = f"/torrents/{p['torrent_id']}" if p.get("torrent_id") is not None else None
    return p.get("reason") or f"Hit and run on “{p.get('torrent_name', 'a torrent')}”.", url


def _ratio_demoted(p: dict[str, Any]) -> tuple[str, str | None]:
    return (
        f"Your ratio {p.get('ratio')} fell below {p.get('min_ratio')}: downloading is off "
        "until it recovers (seed to raise it).",
        None,
    )


def _ratio_restored(p: dict[str, Any]) -> tuple[str, str | None]:
    return f"Your ratio recovered to {p.get('ratio')}: downloading is back on.", None


def _class_promoted(p: dict[str, Any]) -> tuple[str, str | None]:
    group = str(p.get("group", "a new class")).replace("_", " ").title()
    return f"Congratulations: you were promoted to {group}.", None


register_kind("class_promoted", "I was promoted to a new class", _class_promoted)
register_kind("hit_and_run", "I got a hit-and-run warning", _hit_and_run)
register_kind("ratio_demoted", "My ratio fell below the minimum", _ratio_demoted)
register_kind("ratio_restored", "My ratio recovered", _ratio_restored)
