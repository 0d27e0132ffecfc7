"""Is this worker still making progress? The answer ``/healthz`` gives a liveness probe.

A worker that answers HTTP is not necessarily working: after a broker outage a Faust worker
can stay up with its consumer stuck in a group join, or with records waiting on a partition
it owns and nothing consumed. A probe that only checks the event loop never restarts it,
and the border picture silently freezes. So the worker watches its own consumer positions
(the same committed/end offsets ``borderfusion_consumer_lag`` exports, every 10 s) and calls
itself *stalled* when, for ``stall_s``:

- a partition it owns has records waiting (end offset above the committed one) and its
  committed offset has not moved, or
- it has been rebalancing for ``REBALANCE_FACTOR`` × ``stall_s`` (the group never
  settles). A rebalance includes Faust's table recovery, which reads changelogs before the
  worker consumes anything and can take minutes on a large state: it gets the longer bound,
  and its paused stream partitions do not count as waiting.

An idle worker (nothing waiting) or one that is behind but catching up is never stalled.
``stall_s`` is ``BORDERFUSION_STALL_S`` (0 turns the check off); the Helm chart's liveness
probe (period × failure threshold) comes on top of it before Kubernetes restarts the pod.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

REBALANCE_FACTOR = 5.0


@dataclass
class ProgressWatch:
    stall_s: float = 120.0
    # partition -> (committed offset, end offset, time it was first seen at that committed
    # offset with records waiting); only partitions with records waiting are kept
    waiting: dict[Hashable, tuple[int, int, float]] = field(default_factory=dict)
    rebalancing_since: float | None = None
    owned: int = 0  # partitions seen at the last look

    def summary(self) -> dict[str, object]:
        """What ``/healthz`` shows: partitions owned, those with records waiting, and the
        first few of them with their committed and end offsets."""
        first = sorted(self.waiting.items(), key=lambda kv: str(kv[0]))[:5]
        return {
            "partitions": self.owned,
            "waiting": len(self.waiting),
            "waiting_on": {str(tp): [c, e] for tp, (c, e, _) in first},
        }

    def observe(
        self, positions: Mapping[Hashable, tuple[int, int]], rebalancing: bool, now: float
    ) -> None:
        """Take one look at the owned partitions: ``positions`` maps each to (committed
        offset, end offset); ``now`` is a monotonic clock."""
        self.owned = len(positions)
        if rebalancing:
            if self.rebalancing_since is None:
                self.rebalancing_since = now
            self.waiting = {}  # paused for the rebalance / table recovery: not stuck
            return
        self.rebalancing_since = None
        waiting: dict[Hashable, tuple[int, int, float]] = {}
        for tp, (committed, end) in positions.items():
            if end <= committed:
                continue
            seen = self.waiting.get(tp)
            since = seen[2] if seen is not None and seen[0] == committed else now
            waiting[tp] = (committed, end, since)
        self.waiting = waiting

    def stalled(self, now: float) -> list[str]:
        """Why the worker counts as stalled now (empty: it does not)."""
        if self.stall_s <= 0:
            return []
        out = []
        since = self.rebalancing_since
        if since is not None and now - since >= REBALANCE_FACTOR * self.stall_s:
            out.append(f"rebalancing (or recovering tables) for {now - since:.0f} s")
        stuck = sorted(str(tp) for tp, (*_, t0) in self.waiting.items() if now - t0 >= self.stall_s)
        if stuck:
            out.append(
                f"no progress for over {self.stall_s:.0f} s with records waiting on "
                + ", ".join(stuck[:5])
                + (f" and {len(stuck) - 5} more" if len(stuck) > 5 else "")
            )
        return out
