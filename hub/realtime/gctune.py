"""Garbage-collector settings for a process that holds thousands of websockets.

CPython 3.11's full (generation 2) collection stops the event loop while it walks every
tracked object. A web process with 5,000 sockets holds about a million of them (≈200 per
connection in Hypercorn, engineio and asyncio, plus ≈100,000 from start-up), and the walk
took 600-750 ms on the 2-core bench machine: every member's delivery waits for it, which
was the whole p99 of the paced fan-out rows (bench/realtime.py, docs/performance.md).

Two settings make those walks shorter and rarer:
- start-up objects (modules, functions, classes, routes) live as long as the process:
  `gc.freeze()` moves them out of every later collection;
- a full collection only runs once the objects promoted since the last one exceed a quarter
  of the old ones. Fan-outs allocate bursts of short-lived objects (one writer wake-up per
  member); with the default young threshold of 700 a collection in the middle of a burst
  promotes them, so deliveries alone kept bringing full collections closer. A young
  threshold of 10,000 lets most of them die young while a young collection stays short
  (50,000 was tried: young collections of 25 ms while sockets connect, and a middle one of
  480 ms once 20 of them had filled it).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 10
OLD_THRESHOLD = 10

_tuned = False


def tune_for_many_sockets() -> None:
    """Collect once, freeze what exists (start-up state), raise the young threshold.

    Idempotent: tests start and stop several hubs in one process.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
