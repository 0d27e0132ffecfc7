"""Approach: a confirmed track heading for the border will reach it within a threshold.

Time to border is the distance to the nearest border point over the velocity component
toward it (``Zones.border_proximity``), computed for the whole batch at once. A track's
velocity estimate is noisy (several m/s on a standing target at radar range), and a
distance of 20–50 m — a legitimate vessel on our half of a border river, a patrol on the
strip — over a noisy 0.5 m/s gives a "time to border" well under the threshold. So the
instantaneous estimate must be borne out by the track's own history: over the last
``window_s`` the distance to the border must have shrunk at ``min_speed_mps`` or more (a
least-squares slope, significantly above zero), on the same side of the line, and the time to border at that measured rate must be under the
threshold as well; and the track must head for the line (closing speed at least
``min_heading_cos`` of its speed), not run along it. Tracks classified as one of ``exclude_classes`` (animals) never alert.
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
        "window_s": 10.0,  # the distance must have shrunk over this much track history
        "min_samples": 3,  # ... seen in at least this many updates
        "min_heading_cos": 0.5,  # closing speed / speed: heading within 60° of the border
        "directions": ["inbound", "outbound"],  # inbound = from the far side toward us
        "statuses": ["confirmed"],
        "exclude_classes": ["animal"],
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        self.state = {"dist": {}}  # track -> [[t, signed distance], ...] over window_s

    def _measured(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """Per row: closing rate over the window (nan without enough history) and TTB.

        The rate is a least-squares slope of |distance| over the track's last ``window_s``
        (at least ``min_samples`` updates spanning 80 % of the window, all on one side), and
        counts only if it stays above zero by two standard errors: tens of metres of position
        noise make a two-point difference over a few seconds look like a sprint.
        """
        hist: dict[str, list[list[float]]] = self.state.setdefault("dist", {})
        w = float(self.cfg["window_s"])
        d = batch.prox.signed_distance_m
        rate = np.full(len(batch), np.nan)
        for i, tid in enumerate(batch.ids):
            if not np.isfinite(d[i]):
                continue
            t = float(batch.t[i])
            h = hist.setdefault(tid, [])
            h.append([t, float(d[i])])
            while t - h[0][0] > w:
                h.pop(0)
            if len(h) < int(self.cfg["min_samples"]) or t - h[0][0] < 0.8 * w:
                continue
            a = np.asarray(h)
            if not (np.all(a[:, 1] > 0) or np.all(a[:, 1] < 0)):
                continue  # on the line or both sides: not an approach to it
            tt = a[:, 0] - a[:, 0].mean()
            y = np.abs(a[:, 1])
            slope = float(tt @ (y - y.mean()) / (tt @ tt))
            resid = y - y.mean() - slope * tt
            se = float(np.sqrt(resid @ resid / max(len(y) - 2, 1) / (tt @ tt)))
            if -slope - 2.0 * se > 0:
                rate[i] = -slope
        with np.errstate(divide="ignore", invalid="ignore"):
            ttb = np.where(rate > 0, np.abs(d) / rate, np.inf)
        return rate, ttb

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        p = batch.prox
        d = p.signed_distance_m
        direction = np.where(d < 0, "inbound", "outbound")
        rate, measured_ttb = self._measured(batch)
        excluded = set(self.cfg["exclude_classes"])
        speed = np.hypot(batch.ve, batch.vn)
        cls_ok = np.array([(u.classification or "unknown") not in excluded for u in batch.updates])
        with np.errstate(invalid="ignore"):
            mask = (
                self.status_mask(batch)
                & cls_ok
                & (p.closing_speed_mps >= self.cfg["min_speed_mps"])
                & (p.closing_speed_mps >= self.cfg["min_heading_cos"] * speed)
                & (p.time_to_border_s <= self.cfg["threshold_s"])
                & (rate >= self.cfg["min_speed_mps"])
                & (measured_ttb <= self.cfg["threshold_s"])
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
