"""Dark vessel: a radar/thermal track on water, confirmed for a while, with no AIS behind it.

"No AIS" means no AIS report on the track for ``ais_timeout_s``: the tracker keeps a
track's MMSI after its transponder falls silent, so "has an MMSI" alone never saw a vessel
that switches AIS off (the go-dark case). The default (65 s) outlasts two lost class B
reports at speed (30 s period); a vessel at anchor reports every 3 min and would need
more. The
alert ends (resolves) once AIS is correlated or the track leaves the water *for*
``clear_s``: a boat at the bank whose noisy position wanders on and off the water polygon,
or a track that picks up one stray AIS report of a vessel passing by, would otherwise be
resolved and re-raised as a new alert every few seconds (measured: 10+ alerts per boat).
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
        "clear_s": 15.0,  # not dark for this long before the alert is resolved
        "ais_timeout_s": 65.0,  # an MMSI with no AIS report for this long no longer counts
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # track -> t confirmed; track -> water zone; track -> t it stopped looking dark
        self.state = {"confirmed_since": {}, "dark": {}, "clear_since": {}, "last_ais": {}}

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        since: dict[str, float] = self.state["confirmed_since"]
        dark: dict[str, str] = self.state["dark"]
        clear: dict[str, float] = self.state.setdefault("clear_since", {})
        last_ais: dict[str, float] = self.state.setdefault("last_ais", {})
        kinds = set(self.cfg["sensor_kinds"])
        excluded = set(self.cfg["exclude_classes"])
        hits = []
        for i in range(len(batch)):
            u = batch.updates[i]
            if u.status == "confirmed":
                since.setdefault(u.track_id, u.t)
            on_water = bool(batch.water[i])
            if "ais" in batch.kinds[i] or (u.mmsi is not None and u.track_id not in last_ais):
                last_ais[u.track_id] = u.t
            ais_live = u.track_id in last_ais and (
                u.t - last_ais[u.track_id] <= self.cfg["ais_timeout_s"]
            )
            is_dark = (
                on_water
                and not ais_live
                and bool(batch.kinds[i] & kinds)
                and (u.classification or "unknown") not in excluded
                and u.status in ("confirmed", "coasting")
            )
            aged = u.track_id in since and u.t - since[u.track_id] >= self.cfg["min_confirmed_s"]
            if is_dark and aged:
                clear.pop(u.track_id, None)
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
                t_clear = clear.setdefault(u.track_id, u.t)
                if u.t - t_clear < self.cfg["clear_s"]:
                    continue  # maybe noise: keep the alert open, say nothing yet
                clear.pop(u.track_id, None)
                zid = dark.pop(u.track_id)
                why = "AIS now correlated" if ais_live else "left the water"
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
