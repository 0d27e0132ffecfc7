"""Border crossing: a track moved from one side of the border to the other, firmly.

"Firmly" is the point. A track's position carries noise of 10–30 m at radar range, so a boat
waiting on the centreline of a border river, or a person standing at a green border, flips
sides scan after scan; the previous rule (any step that cut the line) raised a crossing for
each flip, on both sides of every rendezvous. Now each track remembers its last *firm* side —
the last update at least ``margin_m`` from the border — and the position it had there; a
crossing is reported when the track is firmly on the other side, at the point where the
segment from that remembered position to the current one meets the border (so the alert
still sits on the line, and a checkpoint on that segment still makes it legal). The price is
latency: the alert comes once the target is ``margin_m`` past the line (≈ 3 s for a boat,
≈ 8 s for a walker at the default 10 m).

Sides are taken only from updates whose status is in ``statuses`` (confirmed, coasting): a
tentative track is often a clutter plot or a lone seismic event that the next plot hundreds
of metres away, across the line, then "confirms" — that jump is no crossing. A target that
crosses in the few seconds before its track is confirmed is therefore not reported (it is
born on the far side, as far as the rule knows). Direction comes from our territory polygon
(inbound = onto our side).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fusion.rules.base import Batch, Context, Hit, Rule, sensor_bonus


class BorderCrossing(Rule):
    name = "border_crossing"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "high",
        "score": 0.8,
        "directions": ["inbound", "outbound", "unknown"],
        "statuses": ["confirmed", "coasting"],
        "tentative_factor": 0.6,  # score multiplier for tracks not yet confirmed
        "margin_m": 10.0,  # this far past the line before a side counts (noise hysteresis)
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        self.state = {"side": {}}  # track -> [side (+1 ours / -1 far), t, lat, lon]

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        if not ctx.zones.borders or len(batch) == 0:
            return []
        sides: dict[str, list[float]] = self.state.setdefault("side", {})
        d = batch.prox.signed_distance_m
        margin = float(self.cfg["margin_m"])
        with np.errstate(invalid="ignore"):
            firm = np.where(d >= margin, 1, np.where(d <= -margin, -1, 0))
        allowed = self.status_mask(batch)
        flipped: list[int] = []
        for i in np.flatnonzero((firm != 0) & allowed).tolist():
            tid = batch.ids[i]
            prev = sides.get(tid)
            if prev is not None and int(prev[0]) != int(firm[i]):
                flipped.append(i)
                continue  # the stored point is updated after the crossing query
            sides[tid] = [int(firm[i]), float(batch.t[i]), float(batch.lat[i]), float(batch.lon[i])]
        if not flipped:
            return []
        idx = np.array(flipped)
        start = np.array([sides[batch.ids[i]][2:4] for i in flipped], dtype=float)
        cr = ctx.zones.crossings(start[:, 0], start[:, 1], batch.lat[idx], batch.lon[idx])
        hits = []
        borders = ctx.zones.borders
        for k, i in enumerate(flipped):
            u = batch.updates[i]
            sides[u.track_id] = [
                int(firm[i]),
                float(batch.t[i]),
                float(batch.lat[i]),
                float(batch.lon[i]),
            ]
            if not cr.crossed[k] or cr.exempt[k]:
                continue
            if str(cr.direction[k]) not in self.cfg["directions"]:
                continue
            border = borders[int(cr.border[k])]
            lat, lon = float(cr.lat[k]), float(cr.lon[k])
            btype = border.props.get("border_type", "")
            head = (
                f"{ctx.subject(u, bool(batch.water[i]))} crossed the {btype} border "
                f"{cr.direction[k]}"
            ).replace("  ", " ")
            score = self.cfg["score"] + sensor_bonus(batch.kinds[i])
            if u.status == "tentative":
                score *= self.cfg["tentative_factor"]
            h = self.hit(
                batch,
                i,
                border.id,
                ctx.sentence(head, lat, lon, u.t, u.sources),
                score,
                direction=str(cr.direction[k]),
                border_type=btype,
            )
            h.lat, h.lon = lat, lon
            hits.append(h)
        return hits
