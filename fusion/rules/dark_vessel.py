"""Dark vessel: a radar/thermal track on water, confirmed for a while, with no AIS behind it.

"No AIS" means no MMSI correlated to the track and no AIS sensor among its sources. The
alert ends (resolves) once AIS is correlated or the track leaves the water.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fusion.rules.base import Batch, Context, Hit, Rule, sensor_bonus


class DarkVessel(Rule):
    name = "dark_vessel"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "high",
        "score": 0.7,
        "min_confirmed_s": 20.0,  # confirmed this long before it counts
        "sensor_kinds": ["radar", "thermal"],
        "exclude_classes": ["animal", "person", "vehicle"],
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        self.state = {"confirmed_since": {}, "dark": {}}  # track -> t; track -> water zone

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        since: dict[str, float] = self.state["confirmed_since"]
        dark: dict[str, str] = self.state["dark"]
        kinds = set(self.cfg["sensor_kinds"])
        excluded = set(self.cfg["exclude_classes"])
        hits = []
        for i in range(len(batch)):
            u = batch.updates[i]
            if u.status == "confirmed":
                since.setdefault(u.track_id, u.t)
            on_water = bool(batch.water[i])
            is_dark = (
                on_water
                and not batch.has_ais[i]
                and bool(batch.kinds[i] & kinds)
                and (u.classification or "unknown") not in excluded
                and u.status in ("confirmed", "coasting")
            )
            aged = u.track_id in since and u.t - since[u.track_id] >= self.cfg["min_confirmed_s"]
            if is_dark and aged:
                zid = dark.get(u.track_id) or batch.water[i][0]
                dark[u.track_id] = zid
                zone = ctx.zones.by_id[zid]
                head = f"{ctx.subject(u, True)} on {zone.name}"
                hits.append(
                    self.hit(
                        batch,
                        i,
                        zid,
                        ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                        self.cfg["score"] + sensor_bonus(batch.kinds[i]),
                        dark_for_s=round(u.t - since[u.track_id], 1),
                    )
                )
            elif u.track_id in dark and not is_dark:
                zid = dark.pop(u.track_id)
                why = "AIS now correlated" if batch.has_ais[i] else "left the water"
                head = f"{ctx.subject(u)} is no longer dark ({why})"
                h = self.hit(
                    batch, i, zid, ctx.sentence(head, u.lat, u.lon, u.t, u.sources), 0.0, reason=why
                )
                h.active = False
                hits.append(h)
        return hits

    def is_dark(self, track_id: str) -> bool:
        return track_id in self.state["dark"]


def dark_mask(batch: Batch, ctx: Context) -> np.ndarray:
    """Rows that are on water without AIS (no minimum age): used by the rendezvous rule."""
    on_water = np.array([bool(w) for w in batch.water], dtype=bool)
    return on_water & ~batch.has_ais
