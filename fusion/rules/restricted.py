"""Restricted-zone entry: a track inside a ``restricted`` zone; the alert ends when it leaves.

Severity is the zone's own ``severity`` unless the rule sets one. While the track stays inside
the alert is refreshed with the dwell time; leaving resolves it once the track has stayed out
for ``exit_s`` (a person standing near the fence, whose position noise — tens of metres at
radar range — carries it in and out, is one alert, not one per excursion); re-entering after
that opens a new one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fusion.rules.base import Batch, Context, Hit, Rule, sensor_bonus


class RestrictedEntry(Rule):
    name = "restricted_entry"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": None,  # None: use the zone's severity
        "score": 0.8,
        "statuses": ["confirmed", "coasting"],
        "exit_s": 15.0,  # outside this long before "left the zone" resolves the alert
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # track id -> {zone id: entry time}; track id -> {zone id: first time seen outside}
        self.state = {"inside": {}, "outside": {}}

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        inside: dict[str, dict[str, float]] = self.state["inside"]
        outside: dict[str, dict[str, float]] = self.state.setdefault("outside", {})
        ok = self.status_mask(batch)
        hits = []
        was_in = np.fromiter((t in inside for t in batch.ids), bool, len(batch)) if inside else ok
        for i in np.flatnonzero(ok | was_in).tolist():
            u = batch.updates[i]
            now = set(batch.restricted[i]) if ok[i] else set()
            before = inside.get(u.track_id, {})
            out_since = outside.setdefault(u.track_id, {})
            for zid in now:
                out_since.pop(zid, None)
            gone = set()
            for zid in sorted(set(before) - now):
                if u.t - out_since.setdefault(zid, u.t) < self.cfg["exit_s"]:
                    continue  # perhaps only noise: still counts as inside, no refresh
                gone.add(zid)
                out_since.pop(zid, None)
                zone = ctx.zones.by_id[zid]
                head = f"{ctx.subject(u)} left restricted zone {zone.name}"
                h = self.hit(
                    batch,
                    i,
                    zid,
                    ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                    0.0,
                    dwell_s=round(u.t - before[zid], 1),
                )
                h.active = False
                hits.append(h)
            entered = {z: before.get(z, u.t) for z in now}
            pending = {z: t for z, t in before.items() if z not in now and z not in gone}
            for zid in sorted(now):
                zone = ctx.zones.by_id[zid]
                dwell = u.t - entered[zid]
                verb = "entered" if dwell == 0 else f"is inside ({dwell:.0f} s)"
                head = f"{ctx.subject(u)} {verb} restricted zone {zone.name}"
                hits.append(
                    self.hit(
                        batch,
                        i,
                        zid,
                        ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                        self.cfg["score"] + sensor_bonus(batch.kinds[i]),
                        severity=self.cfg["severity"] or zone.props["severity"],
                        dwell_s=round(dwell, 1),
                    )
                )
            if entered or pending:
                inside[u.track_id] = {**pending, **entered}
            else:
                inside.pop(u.track_id, None)
            if not out_since:
                outside.pop(u.track_id, None)
        return hits
