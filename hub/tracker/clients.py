"""Which BitTorrent clients may announce: a peer_id prefix whitelist and a browser check."""

from __future__ import annotations

# Azureus-style peer_id prefixes of the clients private sites commonly allow. A site narrows
# or widens this with HUB_CLIENT_WHITELIST (comma-separated prefixes).
DEFAULT_CLIENT_PREFIXES: tuple[str, ...] = (
    "-qB",   # qBittorrent
    "-TR",   # Transmission
    "-DE",   # Deluge
    "-lt",   # rTorrent (libtorrent by Rakshasa)
    "-LT",   # libtorrent (Rasterbar) and clients built on it
    "-UT",   # µTorrent
    "-UM",   # µTorrent for Mac
    "-BT",   # BitTorrent
    "-BI",   # BiglyBT
    "-AZ",   # Vuze / Azureus
    "-KT",   # KTorrent
    "-PI",   # PicoTorrent
    "-FL",   # Flud
    "-FD",   # Free Download Manager
    "-WW",   # WebTorrent desktop
    "-TX",   # Tixati (new style)
    "TIX",   # Tixati
)

# Browsers announce Mozilla/...; no torrent client does. A browser hitting the announce URL
# is a leaked passkey or a prefetcher, never a download.
_BROWSER_MARKERS = (b"mozilla/", b"opera/", b"chrome/", b"safari/", b"edg/")


class ClientPolicy:
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        chosen = prefixes or DEFAULT_CLIENT_PREFIXES
        self.prefixes = tuple(p.encode() for p in chosen)

    def allows(self, peer_id: bytes) -> bool:
        return peer_id.startswith(self.prefixes)


_verdicts: dict[bytes, bool] = {}


def is_browser(user_agent: bytes) -> bool:
    # A site sees a few hundred distinct user agents, so remember each verdict.
    verdict = _verdicts.get(user_agent)
    if verdict is None:
        lowered = user_agent.lower()
        verdict = any(marker in lowered for marker in _BROWSER_MARKERS)
        if len(_verdicts) > 10_000:
            _verdicts.clear()
        _verdicts[user_agent] = verdict
    return verdict
