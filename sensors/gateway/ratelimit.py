"""Per-credential token buckets: one misbehaving sender cannot starve the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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
