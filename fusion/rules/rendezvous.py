"""Rendezvous: two tracks on water within ``distance_m`` of each other for ``duration_s``,
at least one of them dark (no AIS), both holding station: neither moved more than
``max_drift_m`` from where it was when the time started (else the time starts again).

Boats that meet wait together; boats that pass each other, a ferry crossing the course of a
vessel under way, or one boat split into two tracks while it moves along do not hold
station (measured: 3 of 5 false rendezvous alerts were such passes, issue #5). The drift
bound, not a speed bound, because a standing boat's radar track shows 0.5–1.5 m/s of noise
velocity but stays within a few tens of metres.

A pair is judged when one of its tracks is updated, at that update's time: the other track's
position is carried forward to it at its last velocity (up to ``max_age_s`` old), so tracks
reported in different batches still pair up. Never at the time of a call in which neither was
updated: that time is the fusion bucket's, not the targets' — a standing boat's noisy
velocity carried forward 0.95 s to a 0.1 s call's time "moved" it 51 m, where its next plot
showed 48 m, and restarted a rendezvous a call before its 60 s were up (docs/rules.md,
"Seventh round"). A pair's alert belongs to the pair (track key ``A+B``, ids sorted) and
carries both track ids.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

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
        fresh = []  # water tracks updated in this batch: their pairs are judged
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
                fresh.append(u.track_id)
            else:
                pos.pop(u.track_id, None)
        for tid in [k for k, v in pos.items() if now - v[0] > self.cfg["max_age_s"]]:
            del pos[tid]
        for key in list(pairs):  # a track gone from the water (or too old) ends its pairs
            a, b = key.split("+", 1)
            if a not in pos or b not in pos:
                del pairs[key]
        fresh = sorted({t for t in fresh if t in pos})
        if not fresh or len(pos) < 2:
            return []
        close = self._close_pairs(fresh)
        judged = set(fresh)
        for key in list(pairs):  # judged now (a fresh track) and no longer close: ends
            if key not in close and not judged.isdisjoint(key.split("+", 1)):
                del pairs[key]
        row = {tid: i for i, tid in enumerate(batch.ids)}
        hits = []
        drift = float(self.cfg["max_drift_m"])
        for key in sorted(close):
            now, now_xy = close[key]
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
            pa, pb = pos[a], pos[b]
            sep = math.hypot(pa[1] - pb[1], pa[2] - pb[2])
            zone = ctx.zones.by_id[pa[6]]
            lat, lon = (pa[7] + pb[7]) / 2.0, (pa[8] + pb[8]) / 2.0
            who = " and ".join(f"{t}{' (dark)' if pos[t][5] else ''}" for t in (a, b))
            head = (
                f"Tracks {who} have been within {sep:.0f} m of each other on {zone.name} "
                f"for {now - first:.0f} s"
            )
            # one hit per track of the pair updated here, each with its own evidence: the
            # same hits whether the two updates came in one call or in two
            for ri in [row[t] for t in (a, b) if t in row]:
                u = batch.updates[ri]
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

    def _close_pairs(self, fresh: list[str]) -> dict[str, tuple[float, list[float]]]:
        """The close pairs with a ``fresh`` track, each with the pair's time (its newer
        track's update) and both positions then.

        One vectorised step per fresh track over all placed tracks (a sector has tens of
        water tracks, a batch a few fresh ones)."""
        pos: dict[str, list[Any]] = self.state["pos"]
        ids = sorted(pos)
        arr = np.array([pos[k][:6] for k in ids], dtype=float)
        t, xy, v, dark = arr[:, 0], arr[:, 1:3], arr[:, 3:5], arr[:, 5] != 0
        r = float(self.cfg["distance_m"])
        need_dark = bool(self.cfg["require_dark"])
        index = {tid: i for i, tid in enumerate(ids)}
        close: dict[str, tuple[float, list[float]]] = {}
        for tid in fresh:
            i = index[tid]
            tp = np.maximum(t[i], t)  # each pair at its newer track's time
            xi = xy[i] + v[i] * (tp - t[i])[:, None]
            xj = xy + v * (tp - t)[:, None]
            ok = np.hypot(xi[:, 0] - xj[:, 0], xi[:, 1] - xj[:, 1]) <= r
            ok[i] = False
            if need_dark:
                ok &= dark | dark[i]
            for j in np.flatnonzero(ok).tolist():
                a, b = (i, j) if i < j else (j, i)
                key = f"{ids[a]}+{ids[b]}"
                if key not in close:
                    pa, pb = (xi[j], xj[j]) if a == i else (xj[j], xi[j])
                    close[key] = (float(tp[j]), [*pa.tolist(), *pb.tolist()])
        return close

    def forget(self, track_ids: set[str]) -> None:
        for tid in track_ids:
            self.state["pos"].pop(tid, None)
        for key in list(self.state["pairs"]):
            if set(key.split("+", 1)) & track_ids:
                del self.state["pairs"][key]
