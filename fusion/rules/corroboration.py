"""Multi-sensor corroboration: a track seen by seismic *and* thermal sensors within a short
window is almost certainly real, so every alert on it gets a higher score.

This rule raises no alert of its own; the engine multiplies nothing and adds ``boost`` to the
score of each hit on a corroborated track and records ``corroborated_by`` in the evidence.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fusion.rules.base import Batch, Context, Rule


class Corroboration(Rule):
    name = "corroboration"
    defaults: ClassVar[dict[str, Any]] = {
        "kinds": ["seismic", "thermal"],  # all of these kinds, each within window_s
        "window_s": 30.0,
        "boost": 0.2,
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        self.state = {"seen": {}}  # track id -> {kind: [t, sensor id]}

    def corroborated(self, batch: Batch, ctx: Context) -> dict[str, list[str]]:
        """Track id → sensors that corroborate it, for the rows of this batch."""
        seen: dict[str, dict[str, list[Any]]] = self.state["seen"]
        need = list(self.cfg["kinds"])
        out: dict[str, list[str]] = {}
        for u in batch.updates:
            if u.status == "coasting":
                continue
            kinds = seen.setdefault(u.track_id, {})
            for s in u.sources:
                k = ctx.kind_of(s)
                if k in need:
                    kinds[k] = [u.t, s]
            if all(k in kinds and u.t - kinds[k][0] <= self.cfg["window_s"] for k in need):
                out[u.track_id] = sorted({kinds[k][1] for k in need})
        return out
