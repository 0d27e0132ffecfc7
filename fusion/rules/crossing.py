"""Border crossing: a track moved from one side of the border to the other, firmly.

"Firmly" is the point. A track's position carries noise of 10–30 m at radar range, so a boat
waiting on the centreline of a border river, or a person standing at a green border, flips
sides scan after scan; the previous rule (any step that cut the line) raised a crossing for
each flip, on both sides of every rendezvous. Now each track remembers its last *firm* side —
the last update at least ``margin_m`` from the border — and the position it had there; a
crossing is reported when the track is firmly on the other side, at the point where the
segment from that remembered position to the current one meets the border (so the alert
still sits on the line, and a checkpoint on that segment still makes it legal). The price is
latency: the alert comes once the target is a margin past the line.

The margin is the track's own position σ across the line (``sigma_margin`` × σ, kept within
``min_margin_m``..``max_margin_m``) rather than one fixed distance: a boat 300 m from the
radar (σ ≈ 5 m) is firmly over 5 m past the line, one 4 km out (σ ≈ 20 m) only 12 m past,
where a fixed 10 m let its noise raise crossings. Below the fixed ``margin_m`` only while the
track moves deeper into that side (at ``early_speed_mps`` or more): a target waiting at the
line keeps the full hysteresis. Measured on the full simulated set (docs/fusion.md, "Crossing
margin"): time-to-alert median 6.1 → 4.4 s, fewer false crossings.

A young track — fewer than ``young_updates`` measured updates, before its NCV estimate has
settled — crosses only on ``confirm_updates`` consecutive firm *measured* updates over the
line (a coasted update is a prediction, not a plot). On the simulated set over half of the
false crossings came from tracks under 15 updates old — a clutter plot joined to a fresh
track, or a new track drifting 2–3 σ across the line and back while its velocity settled —
and one plot over the line was all they had (docs/rules.md, "Sixth round"). A settled
track still crosses on its first firm update.

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
from numpy.typing import NDArray

from fusion.rules.base import Batch, Context, FloatArray, Hit, Rule, sensor_bonus


class BorderCrossing(Rule):
    name = "border_crossing"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "high",
        "score": 0.8,
        "directions": ["inbound", "outbound", "unknown"],
        "statuses": ["confirmed", "coasting"],
        "tentative_factor": 0.6,  # score multiplier for tracks not yet confirmed
        "margin_m": 10.0,  # this far past the line before a side counts (noise hysteresis)
        # ... or ``sigma_margin`` × the track's own σ across the line, within
        # [min_margin_m, max_margin_m]; below margin_m only for a track moving deeper into
        # that side at ``early_speed_mps`` or more (0: the fixed margin_m alone)
        "sigma_margin": 1.0,
        "min_margin_m": 5.0,
        "max_margin_m": 12.0,
        "early_speed_mps": 0.3,
        # a young track (fewer than ``young_updates`` measured updates: its estimate has not
        # settled) crosses only after ``confirm_updates`` consecutive firm measured (not
        # coasted) updates on the new side; 1, or young_updates 0: the first firm one counts
        "confirm_updates": 2,
        "young_updates": 20,
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # side: track -> [side (+1 ours / -1 far), t, lat, lon] of its last firm update;
        # seen: track -> measured (not coasted) updates so far; pending: track -> firm updates
        # on the new side of a young track, not yet enough to count
        self.state = {"side": {}, "seen": {}, "pending": {}}

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        if not ctx.zones.borders or len(batch) == 0:
            return []
        sides: dict[str, list[float]] = self.state.setdefault("side", {})
        d = batch.prox.signed_distance_m
        margin, flip_margin = self.margins(batch)
        with np.errstate(invalid="ignore"):
            firm = np.where(d >= margin, 1, np.where(d <= -margin, -1, 0))
            over = np.abs(d) >= flip_margin  # firm enough to count as the other side
        allowed = self.status_mask(batch)
        need = int(self.cfg["confirm_updates"])
        young = int(self.cfg["young_updates"])
        seen: dict[str, int] = self.state.setdefault("seen", {})
        pending: dict[str, int] = self.state.setdefault("pending", {})
        flipped: list[int] = []
        rows = np.flatnonzero(allowed if need > 1 else (firm != 0) & allowed)
        plot = batch.status != "coasting"  # a coasted update is a prediction, no evidence
        for i in rows.tolist():
            tid = batch.ids[i]
            if need > 1 and young > 0 and plot[i]:
                seen[tid] = seen.get(tid, 0) + 1
            if firm[i] == 0:  # in the band at the line: a pending confirmation starts over
                if pending:
                    pending.pop(tid, None)
                continue
            prev = sides.get(tid)
            if prev is not None and int(prev[0]) != int(firm[i]):
                if not over[i]:
                    pending.pop(tid, None)
                elif need <= 1 or seen.get(tid, 0) >= young:
                    flipped.append(i)
                elif plot[i]:
                    k = pending.get(tid, 0) + 1
                    if k >= need:
                        pending.pop(tid, None)
                        flipped.append(i)
                    else:
                        pending[tid] = k
                continue  # the stored point is updated after the crossing query
            if pending:
                pending.pop(tid, None)
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

    def margins(self, batch: Batch) -> tuple[FloatArray, FloatArray]:
        """Per row: how far past the line a side is firm, and firm enough to flip to.

        The first is ``sigma_margin`` × the row's σ across the line within
        ``min_margin_m``..``max_margin_m`` (``margin_m`` alone when ``sigma_margin`` is 0);
        the second is the same for a track moving deeper into its side at
        ``early_speed_mps`` or more, else at least ``margin_m``: a track waiting at the line
        keeps the full hysteresis before it counts as having crossed.
        """
        base = float(self.cfg["margin_m"])
        k = float(self.cfg["sigma_margin"])
        lo, hi = float(self.cfg["min_margin_m"]), float(self.cfg["max_margin_m"])
        keep = np.full(len(batch), base)
        if k <= 0:
            return keep, keep
        flip = keep.copy()
        with np.errstate(invalid="ignore"):
            rows = np.flatnonzero(np.abs(batch.prox.signed_distance_m) < max(base, hi))
        if rows.size == 0:
            return keep, flip
        m = np.clip(k * across_sigma(batch, rows), lo, hi)
        # closing speed < 0: moving away from the nearest border point, deeper into the side
        away = -batch.prox.closing_speed_mps[rows] >= float(self.cfg["early_speed_mps"])
        keep[rows] = m
        flip[rows] = np.where(away, m, np.maximum(m, base))
        return keep, flip


def across_sigma(batch: Batch, rows: NDArray[np.intp]) -> FloatArray:
    """σ of each row's position across the border (toward its nearest border point)."""
    cov = np.array([np.asarray(batch.updates[i].cov, float)[:2, :2] for i in rows.tolist()])
    ue = batch.prox.near_e[rows] - batch.e[rows]
    un = batch.prox.near_n[rows] - batch.n[rows]
    norm = np.hypot(ue, un)
    iso = np.sqrt(0.5 * (cov[:, 0, 0] + cov[:, 1, 1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        ue, un = ue / norm, un / norm
        var = ue * ue * cov[:, 0, 0] + 2 * ue * un * cov[:, 0, 1] + un * un * cov[:, 1, 1]
    return np.where(norm > 1e-6, np.sqrt(np.maximum(var, 0.0)), iso)
