"""Dead letters under a flood: every refusal explained, but not thousands of times a second.

A refused reading is dead-lettered (DESIGN §3) so an operator can see what was refused and
why. A runaway sensor at 10× its rate, or a stolen token spraying garbage, would turn that
into a second flood: one dead-letter record per refused reading, written to Kafka (and the
archive) at the flood's own rate, by the gateway that was meant to hold it back. So each
(client, sensor, reason, topic, transport) has a budget of dead letters (``per_s``, burst
``burst``): within it every refusal is its own dead letter (``count`` 1, the reading's raw
text); past it refusals are only counted, and the key's next dead letter carries them in
its ``count`` — the next refusal the budget admits, or, if none comes, a summary record
(empty ``raw``) that the next ingest call of any sender writes once the budget has room.
Every refusal is still reported to its sender and counted in the rejection metrics.

Keys are bounded: client names come from the tokens file, sensor labels are registry ids or
``unknown``, reasons and topics are fixed sets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from sensors.gateway.ratelimit import TokenBucket

DEFAULT_PER_S = 5.0


class LetterKey(NamedTuple):
    client: str
    sensor: str  # registry id, or "unknown"
    reason: str
    kind: str  # the readings topic's kind (radar, ais, ...)
    transport: str


class DeadLetterBudget:
    """Which refusals get a dead letter of their own, and how many each one stands for."""

    def __init__(
        self,
        per_s: float = DEFAULT_PER_S,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``per_s`` ≤ 0: no budget, a dead letter for every refusal."""
        self.per_s = per_s
        self.burst = burst if burst is not None else max(4.0 * per_s, 1.0)
        self.clock = clock
        self._buckets: dict[LetterKey, TokenBucket] = {}
        self._held: dict[LetterKey, int] = {}
        self._lock = threading.Lock()

    def admit(self, key: LetterKey) -> int:
        """A refusal of ``key``: the count its dead letter stands for (1 + refusals held
        since the key's last one), or 0 when over budget (held, no dead letter now)."""
        if self.per_s <= 0:
            return 1
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.per_s, self.burst, self.clock)
            if bucket.take() > 0:
                self._held[key] = self._held.get(key, 0) + 1
                return 0
            return 1 + self._held.pop(key, 0)

    def release(self) -> list[tuple[LetterKey, int]]:
        """Held refusals whose key has budget again: ``(key, count)``, one summary each."""
        if not self._held:
            return []
        with self._lock:
            due = [(k, n) for k, n in self._held.items() if self._buckets[k].take() == 0]
            for k, _ in due:
                del self._held[k]
        return due

    @property
    def held(self) -> int:
        """Refusals counted but not yet in any dead letter."""
        return sum(self._held.values())
