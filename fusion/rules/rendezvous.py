"""Rendezvous: two tracks on water within ``distance_m`` of each other for ``duration_s``,
at least one of them dark (no AIS), both holding station: neither moved more than
``max_drift_m`` from where it was when the time started (else the time starts again).

Boats that meet wait together; boats that pass each other, a ferry crossing the course of a
vessel under way, or one boat split into two tracks while it moves along do not hold
station (measured: 3 of 5 false rendezvous alerts were such passes, issue #5). The drift
bound, not a speed bound, because a standing boat's radar track shows 0.5–1.5 m/s of noise
velocity but stays within a few tens of metres.

Positions of tracks not updated in this batch are carried forward at their last velocity
(up to ``max_age_s``), so tracks reported in different batches still pair up. Close pairs come
from one k-d tree query over all water tracks; a pair's alert belongs to the pair (track key
``A+B``, ids sorted) and carries both track ids.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree

from fusion.rules.base import Batch, Context, Hit, Rule


class Rendezvous(Rule):
    name = "rendezvous"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "high",
        "score": 0.7,
        "distance_m": 100.0,
        "duration_s": 60.0,
        "max_age_s": 10.0,
        "require_dark": True,
        "max_drift_m": 50.0,  # each track stays this near where the time started
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # track -> [t, e, n, ve, vn, dark, water zone, lat, lon];
        # pair key -> [first close t, e/n of the first and of the second track then]
        self.state = {"pos": {}, "pairs": {}}

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        pos: dict[str, list[Any]] = self.state["pos"]
        pairs: dict[str, Any] = self.state["pairs"]
        if len(batch) == 0:
            return []
        now = float(batch.t.max())
        for i in range(len(batch)):
            u = batch.updates[i]
            if batch.water[i] and u.status != "deleted":
                dark = not bool(batch.has_ais[i])
                pos[u.track_id] = [
                    u.t,
                    float(batch.e[i]),
                    float(batch.n[i]),
                    u.vel_e,
                    u.vel_n,
                    dark,
                    batch.water[i][0],
                    u.lat,
                    u.lon,
                ]
            else:
                pos.pop(u.track_id, None)
        for tid in [k for k, v in pos.items() if now - v[0] > self.cfg["max_age_s"]]:
            del pos[tid]
        ids = sorted(pos)
        close: dict[str, list[float]] = {}  # pair key -> e/n of both tracks now
        if len(ids) >= 2:
            arr = np.array([pos[k][:6] for k in ids], dtype=float)
            dt = now - arr[:, 0]
            xy = arr[:, 1:3] + arr[:, 3:5] * dt[:, None]
            for a, b in sorted(cKDTree(xy).query_pairs(self.cfg["distance_m"])):
                if self.cfg["require_dark"] and not (arr[a, 5] or arr[b, 5]):
                    continue
                close[f"{ids[a]}+{ids[b]}"] = [*xy[a].tolist(), *xy[b].tolist()]
        for key in list(pairs):
            if key not in close:
                del pairs[key]
        row = {tid: i for i, tid in enumerate(batch.ids)}
        hits = []
        drift = float(self.cfg["max_drift_m"])
        for key in sorted(close):
            now_xy = close[key]
            ref = pairs.get(key)
            if not isinstance(ref, list) or len(ref) != 5:  # new (or an older snapshot's)
                ref = pairs[key] = [now, *now_xy]
            moved = max(
                math.hypot(now_xy[0] - ref[1], now_xy[1] - ref[2]),
                math.hypot(now_xy[2] - ref[3], now_xy[3] - ref[4]),
            )
            if moved > drift:  # under way, not waiting together: start again from here
                ref = pairs[key] = [now, *now_xy]
            first = ref[0]
            if now - first < self.cfg["duration_s"]:
                continue
            a, b = key.split("+", 1)
            ri = row.get(a, row.get(b))
            if ri is None:
                continue  # neither updated in this batch: refresh on their next update
            pa, pb = pos[a], pos[b]
            sep = math.hypot(pa[1] - pb[1], pa[2] - pb[2])
            zone = ctx.zones.by_id[pa[6]]
            u = batch.updates[ri]
            lat, lon = (pa[7] + pb[7]) / 2.0, (pa[8] + pb[8]) / 2.0
            who = " and ".join(f"{t}{' (dark)' if pos[t][5] else ''}" for t in (a, b))
            head = (
                f"Tracks {who} have been within {sep:.0f} m of each other on {zone.name} "
                f"for {now - first:.0f} s"
            )
            h = self.hit(
                batch,
                ri,
                zone.id,
                ctx.sentence(head, lat, lon, now, u.sources),
                self.cfg["score"],
                separation_m=round(sep, 1),
                together_s=round(now - first, 1),
            )
            h.track_key, h.track_ids, h.lat, h.lon, h.t = key, [a, b], lat, lon, now
            hits.append(h)
        return hits

    def forget(self, track_ids: set[str]) -> None:
        for tid in track_ids:
            self.state["pos"].pop(tid, None)
        for key in list(self.state["pairs"]):
            if set(key.split("+", 1)) & track_ids:
                del self.state["pairs"][key]
