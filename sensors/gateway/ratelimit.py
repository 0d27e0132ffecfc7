"""Token buckets: per credential (requests) and per sensor (readings).

Per credential, one misbehaving sender cannot starve the others. That is not enough on its
own: a token bound to several sensors (a border post's radar and cameras) can be used up by
one of them, and a single runaway sensor behind a ``"*"`` token still fills Kafka and the
fusion workers. So the gateway also gives every sensor its own bucket of *readings*, sized
from its nominal rate: a radar's scan period from the registry (``scan_period_s``), a per
type default otherwise, times a configurable multiple. Excess readings of that sensor are
refused one by one (reason ``rate_limited``) while the other sensors' readings in the same
request go through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Nominal readings per second of a sensor of each type, when the registry says nothing
# better. A radar reports up to ~20 plots per scan on a quiet border (the simulator's
# radars send 7-10 per 1 s scan); cameras and ground sensors report events, not frames;
# a shore AIS station hears every ship in range.
NOMINAL_READINGS_PER_S: dict[str, float] = {
    "radar": 20.0,  # per scan: divided by scan_period_s
    "thermal": 10.0,
    "seismic": 10.0,  # waveform frames (1-10 per second) or events
    "ais": 50.0,
    "friendly": 20.0,  # a TAK feed: one report per own unit every few seconds
}
DEFAULT_MULTIPLE = 3.0
DEFAULT_BURST_S = 2.0


class TokenBucket:
    """``rate`` tokens per second, up to ``burst``; :meth:`take` spends one if it can."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, n: float = 1.0) -> float:
        """Spend ``n`` tokens; return 0 on success, else seconds until they would be there."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= n:
                self._tokens -= n
                return 0.0
            return (n - self._tokens) / self.rate


class RateLimiter:
    """Buckets by name, created on first use with the given or default limits."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, name: str, rate: float | None = None, burst: float | None = None) -> float:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = TokenBucket(rate or self.rate, burst or self.burst, self.clock)
                self._buckets[name] = bucket
        return bucket.take()


@dataclass(slots=True)
class SensorRateConfig:
    """How many readings per second each sensor may send through the gateway.

    ``multiple`` × the sensor's nominal rate (``nominal`` by type; a radar's figure is per
    scan and divided by its ``scan_period_s``), with a burst of ``burst_s`` seconds' worth
    (at least ``min_burst``). ``enabled=False`` turns the per-sensor limit off.
    """

    multiple: float = DEFAULT_MULTIPLE
    burst_s: float = DEFAULT_BURST_S
    min_burst: float = 10.0
    nominal: dict[str, float] = field(default_factory=lambda: dict(NOMINAL_READINGS_PER_S))
    enabled: bool = True

    def limits_for(self, sensor: Any) -> tuple[float, float]:
        """``(rate, burst)`` in readings for a registry sensor (``type``, ``param()``)."""
        nominal = self.nominal.get(sensor.type, 10.0)
        if sensor.type == "radar":
            period = sensor.param("scan_period_s") or 1.0
            nominal = nominal / max(float(period), 0.05)
        rate = max(nominal * self.multiple, 0.1)
        return rate, max(rate * self.burst_s, self.min_burst)


class SensorRateLimiter:
    """One reading bucket per registry sensor (ids not in the registry never get here, so
    the number of buckets is bounded by the registry)."""

    def __init__(
        self, config: SensorRateConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or SensorRateConfig()
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def limits(self, sensor: Any) -> tuple[float, float]:
        return self.config.limits_for(sensor)

    def take(self, sensor: Any) -> float:
        """Spend one reading of ``sensor``; 0 if allowed, else seconds until one is."""
        if not self.config.enabled:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(sensor.id)
            if bucket is None:
                rate, burst = self.limits(sensor)
                bucket = self._buckets[sensor.id] = TokenBucket(rate, burst, self.clock)
        return bucket.take()
