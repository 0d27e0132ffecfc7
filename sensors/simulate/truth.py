"""Ground truth (DESIGN §8): 1 Hz positions and the events alert rules should catch.

Crossings and restricted-zone entries are exact: the target's polyline path is
intersected with the border (or zone boundary) and the time read off the path, so a
scorer can measure time-to-alert against the true moment. The other events are defined
here with their thresholds (also in docs/simulator.md); rules may use other thresholds,
so score with a tolerance:

- ``dark_vessel``: a boat on the water not transmitting AIS, at the first second it is
  inside radar or thermal coverage (when it first *could* be seen);
- ``approach``: a threat on either side within ``APPROACH_M`` of the border and closing
  with a predicted time to border under ``APPROACH_TTB_S``, at least ``APPROACH_MIN_M`` off
  the line (``direction`` inbound = from the far side). Both sides, because the
  ``approach`` rule warns of outbound crossings too (a vehicle making for the border from
  our side) and a coordinator wants that warning; the far side alone made every correct
  outbound warning a "false alarm";
- ``loitering``: a threat within ``LOITER_NEAR_M`` of the border that stays inside a
  ``LOITER_BOX_M`` circle for ``LOITER_MIN_S`` — reported when that duration is reached,
  with ``since`` giving the start;
- ``rendezvous``: two boats on the water within ``RDV_M`` of each other, both slower
  than ``RDV_SPEED_MPS``; ``target`` and ``other`` name them.

Animals, patrols and legitimate traffic raise no events; checkpoint crossings are legal
and are not reported as crossings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from . import radar, thermal
from .common import SensorView
from .layout import Layout
from .targets import Target

APPROACH_M = 300.0
APPROACH_GAP_S = 60.0
APPROACH_MIN_M = 10.0  # nearer than this the target is at the line, not approaching it
APPROACH_TTB_S = 120.0
LOITER_NEAR_M = 200.0
LOITER_BOX_M = 50.0
LOITER_MIN_S = 90
RDV_M = 50.0
RDV_SPEED_MPS = 1.0


def _grid(tg: Target, duration: float) -> np.ndarray:
    lo = max(np.ceil(tg.path.t_start), 0.0)
    hi = min(np.floor(tg.path.t_end), np.ceil(duration) - 1.0)
    return np.arange(lo, hi + 1.0) if hi >= lo else np.zeros(0)


class TruthBuilder:
    def __init__(self, layout: Layout, t0: float, duration: float) -> None:
        self.layout = layout
        self.t0 = t0
        self.duration = duration
        self.border = layout.border
        self.records: list[dict[str, Any]] = []

    def _latlon(self, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat, lon = self.layout.frame.to_latlon(e, n)
        return np.round(lat, 7), np.round(lon, 7)

    def event(self, name: str, tg: Target, t: float, e: float, n: float, **extra: Any) -> None:
        if not 0.0 <= t < self.duration:
            return
        lat, lon = self._latlon(np.array(e), np.array(n))
        self.records.append(
            {
                "kind": "event",
                "event": name,
                "target": tg.id,
                "class": tg.cls,
                "t": round(self.t0 + t, 3),
                "lat": float(lat),
                "lon": float(lon),
                **extra,
            }
        )

    def positions(self, tg: Target) -> None:
        k = _grid(tg, self.duration)
        if not len(k):
            return
        lat, lon = self._latlon(*tg.path.at(k))
        for t, a, o in zip(k, lat, lon, strict=True):
            self.records.append(
                {
                    "kind": "position",
                    "target": tg.id,
                    "class": tg.cls,
                    "t": round(self.t0 + float(t), 3),
                    "lat": float(a),
                    "lon": float(o),
                }
            )

    def _boundary_hits(self, tg: Target, line: Any) -> list[tuple[float, float, float, Any]]:
        """(t, e, n, inside_after) where the path meets ``line``, in time order.

        Segment by segment, so a path that comes back the way it went (a ferry) yields
        both passes; ``inside_after`` probes half a metre further along the segment.
        """
        p = tg.path
        x0, y0, x1, y1 = p.e[:-1], p.n[:-1], p.e[1:], p.n[1:]
        length = np.hypot(x1 - x0, y1 - y0)
        idx = np.flatnonzero(length > 0)
        segs = shapely.linestrings(
            np.stack([np.stack([x0[idx], y0[idx]], -1), np.stack([x1[idx], y1[idx]], -1)], 1)
        )
        inter = shapely.intersection(segs, line)
        hits = []
        for j in np.flatnonzero(~shapely.is_empty(inter)):
            i = idx[j]
            for pt in shapely.get_parts(inter[j]):
                if pt.geom_type != "Point":
                    continue
                frac = float(np.hypot(pt.x - x0[i], pt.y - y0[i]) / length[i])
                t = float(p.t[i] + frac * (p.t[i + 1] - p.t[i]))
                probe = min(frac + 0.5 / length[i], 1.0)
                pe = x0[i] + probe * (x1[i] - x0[i])
                pn = y0[i] + probe * (y1[i] - y0[i])
                hits.append((t, pt.x, pt.y, (pe, pn)))
        hits.sort(key=lambda h: h[0])
        return [(t, e, n, ahead) for t, e, n, ahead in hits]

    def crossings(self, tg: Target) -> None:
        checkpoints = [z.geom for z in self.layout.zones_of("checkpoint")]
        for b in self.layout.borders:
            for t, e, n, ahead in self._boundary_hits(tg, b.line):
                if any(cp.contains(shapely.Point(e, n)) for cp in checkpoints):
                    continue
                inbound = bool(shapely.contains_xy(self.layout.territory, *ahead))
                self.event(
                    "crossing",
                    tg,
                    t,
                    e,
                    n,
                    direction="inbound" if inbound else "outbound",
                    zone_id=b.id,
                    border_type=b.border_type,
                )

    def restricted(self, tg: Target) -> None:
        for z in self.layout.zones_of("restricted"):
            for t, e, n, ahead in self._boundary_hits(tg, z.geom.exterior):
                if shapely.contains_xy(z.geom, *ahead):
                    self.event(
                        "restricted_entry",
                        tg,
                        t,
                        e,
                        n,
                        zone_id=z.id,
                        severity=z.props.get("severity"),
                    )

    def dark(self, tg: Target, views: list[tuple[str, SensorView]]) -> None:
        k = _grid(tg, self.duration)
        if tg.cls != "boat" or not len(k):
            return
        e, n = tg.path.at(k)
        seen = np.zeros(len(k), dtype=bool)
        for kind, view in views:
            r, b = view.polar(e, n)
            if kind == "radar":
                seen |= radar.in_coverage(r, view.sensor)
            else:
                seen |= thermal.visible(r, b, view.sensor, tg.cls)
        water = self.layout.water
        on_water = shapely.contains_xy(water, e, n) if not water.is_empty else seen & False
        cond = on_water & seen & ~tg.transmits(k)
        if cond.any():
            i = int(np.argmax(cond))
            self.event(
                "dark_vessel", tg, float(k[i]), float(e[i]), float(n[i]), ais_off=tg.ais is not None
            )

    def approach_and_loiter(self, tg: Target) -> None:
        k = _grid(tg, self.duration)
        if len(k) < 2:
            return
        e, n = tg.path.at(k)
        dist = shapely.distance(self.border, shapely.points(e, n))
        outside = ~shapely.contains_xy(self.layout.territory, e, n)
        closing = np.concatenate([-np.diff(dist), [0.0]])
        with np.errstate(divide="ignore", invalid="ignore"):
            ttb = np.where(closing > 0, dist / closing, np.inf)
        cond = (
            (dist < APPROACH_M)
            & (dist >= APPROACH_MIN_M)
            & (closing > 0.3)
            & (ttb < APPROACH_TTB_S)
        )
        # one event per approach: a new one only after APPROACH_GAP_S without approaching
        # (a ferry approaches, lands, comes back; a walker's wander is one approach)
        last = -np.inf
        for i in np.flatnonzero(cond).tolist():
            fresh = k[i] - last > APPROACH_GAP_S
            last = k[i]
            if not fresh:
                continue
            self.event(
                "approach",
                tg,
                float(k[i]),
                float(e[i]),
                float(n[i]),
                distance_m=round(float(dist[i]), 1),
                direction="inbound" if outside[i] else "outbound",
            )
        near = dist < LOITER_NEAR_M
        w = LOITER_MIN_S
        for i in range(len(k) - w):
            if not near[i : i + w + 1].all():
                continue
            spread = np.hypot(e[i : i + w + 1] - e[i], n[i : i + w + 1] - n[i]).max()
            if spread <= LOITER_BOX_M:
                self.event(
                    "loitering",
                    tg,
                    float(k[i + w]),
                    float(e[i + w]),
                    float(n[i + w]),
                    since=round(self.t0 + float(k[i]), 3),
                )
                break

    def rendezvous(self, boats: list[Target]) -> None:
        water = self.layout.water
        if water.is_empty:
            return
        for i, a in enumerate(boats):
            for b in boats[i + 1 :]:
                lo = max(a.path.t_start, b.path.t_start, 0.0)
                hi = min(a.path.t_end, b.path.t_end, self.duration)
                if hi <= lo:
                    continue
                k = np.arange(np.ceil(lo), np.floor(hi) + 1.0)
                ea, na = a.path.at(k)
                eb, nb = b.path.at(k)
                sa = np.hypot(*a.path.velocity(k))
                sb = np.hypot(*b.path.velocity(k))
                cond = (
                    (np.hypot(ea - eb, na - nb) < RDV_M)
                    & (sa < RDV_SPEED_MPS)
                    & (sb < RDV_SPEED_MPS)
                    & shapely.contains_xy(water, ea, na)
                    & shapely.contains_xy(water, eb, nb)
                )
                if cond.any():
                    j = int(np.argmax(cond))
                    self.event(
                        "rendezvous",
                        a,
                        float(k[j]),
                        float((ea[j] + eb[j]) / 2),
                        float((na[j] + nb[j]) / 2),
                        other=b.id,
                    )


def build_truth(
    layout: Layout, targets: list[Target], t0: float, duration: float
) -> list[dict[str, Any]]:
    """Truth records for ``targets``, sorted by time (positions and events interleaved)."""
    tb = TruthBuilder(layout, t0, duration)
    views = [
        (s["type"], SensorView(layout, s))
        for s in layout.sensors
        if s["type"] in ("radar", "thermal")
    ]
    for tg in targets:
        tb.positions(tg)
        if tg.role in ("animal",):
            continue
        tb.crossings(tg)
        if tg.role == "threat":
            tb.restricted(tg)
            tb.dark(tg, views)
            tb.approach_and_loiter(tg)
    tb.rendezvous([tg for tg in targets if tg.cls == "boat" and tg.role == "threat"])
    tb.records.sort(key=lambda r: r["t"])
    return tb.records
