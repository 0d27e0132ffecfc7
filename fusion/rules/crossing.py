"""Border crossing: a track's last step (previous → current position) crossed a border line.

Direction comes from our territory polygon (inbound = onto our side); a crossing whose
crossing point is inside a checkpoint is legal and exempt. The alert sits at the crossing
point, on the crossed border's zone id.
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
        "statuses": ["tentative", "confirmed", "coasting"],
        "tentative_factor": 0.6,  # score multiplier for tracks not yet confirmed
    }

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        cr = batch.crossings
        mask = (
            cr.crossed
            & ~cr.exempt
            & self.status_mask(batch)
            & np.isin(cr.direction, list(self.cfg["directions"]))
        )
        hits = []
        borders = ctx.zones.borders
        for i in np.flatnonzero(mask).tolist():
            u = batch.updates[i]
            border = borders[int(cr.border[i])]
            lat, lon = float(cr.lat[i]), float(cr.lon[i])
            btype = border.props.get("border_type", "")
            head = (
                f"{ctx.subject(u, bool(batch.water[i]))} crossed the {btype} border "
                f"{cr.direction[i]}"
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
                direction=str(cr.direction[i]),
                border_type=btype,
            )
            h.lat, h.lon = lat, lon
            hits.append(h)
        return hits
