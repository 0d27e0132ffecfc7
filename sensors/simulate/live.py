"""Live streaming of simulated readings: pacing (pure, testable) and the endless loop.

``iter_timed`` only computes *when* each reading is due; ``stream`` does the waiting
with an injectable clock, so pacing is tested without Kafka or real sleeps.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .common import SimReading
from .scenario import build_scenario

log = logging.getLogger(__name__)

CHUNK_S = 600.0


def iter_timed(
    readings: Iterable[SimReading], speed: float | str, t_ref: float | None = None
) -> Iterator[tuple[float, SimReading]]:
    """Yield ``(due_s, reading)``: seconds after the start at which to send each reading.

    ``speed`` is the replay rate (1 = real time, 10 = ten times faster); ``"max"`` or
    ``inf`` sends everything at once (due 0). ``t_ref`` is the event time that maps to
    the start (default: the first reading's ``t``). Readings must come sorted by ``t``.
    """
    rate = math.inf if speed == "max" else float(speed)
    if not rate > 0:
        raise ValueError(f"speed must be positive or 'max', got {speed!r}")
    for r in readings:
        if t_ref is None:
            t_ref = r.t
        yield (0.0 if math.isinf(rate) else max(r.t - t_ref, 0.0) / rate), r


def endless(
    seed: int, layout: str, start: float, density: float, chunk_s: float = CHUNK_S
) -> Iterator[SimReading]:
    """Scenarios back to back forever: chunk k uses seed + k and starts k·chunk_s later.

    One chunk is held in memory at a time, so memory stays flat however long it runs.
    Targets do not carry over between chunks (tracks end and start at the seams).
    """
    k = 0
    while True:
        sc = build_scenario(seed + k, chunk_s, layout, start + k * chunk_s, density)
        log.info("simulate chunk %d: seed %d, %d readings", k, seed + k, len(sc.readings))
        yield from sc.readings
        k += 1


def stream(
    timed: Iterable[tuple[float, SimReading]],
    send: Callable[[str, dict[str, Any], str | None], None],
    flush: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each reading when due (keyed by sensor id); flush before every wait."""
    t_start = clock()
    sent = 0
    for due, r in timed:
        wait = t_start + due - clock()
        if wait > 0:
            flush()
            sleep(wait)
        send(r.topic, r.value, r.value.get("sensor_id"))
        sent += 1
    flush()
    return sent
