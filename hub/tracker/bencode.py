"""The few bencoded shapes the tracker answers with, written straight to bytes.

Keys are written in sorted byte order because BEP 3 requires it and strict clients (and our
tests, which decode and re-encode) reject anything else.
"""

from __future__ import annotations


def integer(value: int) -> bytes:
    return b"i%de" % value


def string(value: bytes) -> bytes:
    return b"%d:%s" % (len(value), value)


def failure(reason: str, interval: int) -> bytes:
    raw = reason.encode()
    return b"d14:failure reason%d:%s8:intervali%de12:min intervali%dee" % (
        len(raw), raw, interval, interval,
    )


def announce(
    complete: int,
    downloaded: int,
    incomplete: int,
    interval: int,
    min_interval: int,
    peers: bytes,
    peers6: bytes,
    warning: str | None = None,
) -> bytes:
    body = (
        b"d8:completei%de10:downloadedi%de10:incompletei%de8:intervali%de"
        b"12:min intervali%de5:peers%d:%s6:peers6%d:%s"
        % (complete, downloaded, incomplete, interval, min_interval,
           len(peers), peers, len(peers6), peers6)
    )
    if warning:
        raw = warning.encode()
        body += b"15:warning message%d:%s" % (len(raw), raw)
    return body + b"e"


def scrape(files: dict[bytes, tuple[int, int, int]], interval: int) -> bytes:
    parts = [b"d5:filesd"]
    for info_hash in sorted(files):
        complete, downloaded, incomplete = files[info_hash]
        parts.append(
            b"20:%sd8:completei%de10:downloadedi%de10:incompletei%dee"
            % (info_hash, complete, downloaded, incomplete)
        )
    parts.append(b"e5:flagsd20:min_request_intervali%deee" % interval)
    return b"".join(parts)
