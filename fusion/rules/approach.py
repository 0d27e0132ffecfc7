"""Approach: a confirmed track heading for the border will reach it within a threshold.

Time to border is the distance to the nearest border point over the velocity component
toward it (``Zones.border_proximity``), computed for the whole batch at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fusion.rules.base import Batch, Context, Hit, Rule, sensor_bonus


class Approach(Rule):
    name = "approach"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "medium",
        "score": 0.6,
        "threshold_s": 120.0,  # predicted time to border under this → alert
        "min_speed_mps": 0.5,  # closing speed below this is drift, not an approach
        "max_distance_m": 5000.0,
        "directions": ["inbound", "outbound"],  # inbound = from the far side toward us
        "statuses": ["confirmed"],
    }

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        p = batch.prox
        d = p.signed_distance_m
        direction = np.where(d < 0, "inbound", "outbound")
        with np.errstate(invalid="ignore"):
            mask = (
                self.status_mask(batch)
                & (p.closing_speed_mps >= self.cfg["min_speed_mps"])
                & (p.time_to_border_s <= self.cfg["threshold_s"])
                & (np.abs(d) <= self.cfg["max_distance_m"])
                & (np.abs(d) > 0)
                & np.isin(direction, list(self.cfg["directions"]))
                & ~batch.crossings.crossed
            )
        hits = []
        for i in np.flatnonzero(mask).tolist():
            u = batch.updates[i]
            border = ctx.zones.borders[int(p.border[i])]
            ttb = float(p.time_to_border_s[i])
            head = (
                f"{ctx.subject(u, bool(batch.water[i]))} is {abs(d[i]):.0f} m from the "
                f"{border.props.get('border_type', '')} border, heading for it "
                f"({direction[i]}), about {ttb:.0f} s to reach it,"
            )
            # closer in time → higher score
            score = self.cfg["score"] + 0.3 * (1.0 - ttb / self.cfg["threshold_s"])
            hits.append(
                self.hit(
                    batch,
                    i,
                    border.id,
                    ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                    score + sensor_bonus(batch.kinds[i]),
                    time_to_border_s=round(ttb, 1),
                    distance_m=round(float(abs(d[i])), 1),
                    direction=str(direction[i]),
                )
            )
        return hits
