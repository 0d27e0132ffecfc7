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
track still crosses on its first firm update, and so does an AIS track of its own (no
sensor behind it): its positions are the vessel's reports, and a class B boat on its 3 min
cycle may never send a second one from our sector (hold-out river seed 6: one report
inside, the next past the line and the sector edge).

A sensor track that had no update for ``max_gap_s`` (20 s) before this one forgets its side: a
track coasting that long has a gate hundreds of metres wide, and the plot it then takes may be
anything in it — in mixed seed 4 a confirmed track lost for 40 s took a clutter return 400 m
away over the line and "crossed" along the jump. An update carrying AIS is exempt: a report
names its vessel and places it to metres, so a class B boat on its 3 min cycle that crossed
between two reports did cross (hold-out seed: such a crossing was reported only that way).

Sides are taken only from updates whose status is in ``statuses`` (confirmed, coasting): a
tentative track is often a clutter plot or a lone seismic event that the next plot hundreds
of metres away, across the line, then "confirms" — that jump is no crossing. A target that
crosses in the few seconds before its track is confirmed is therefore not reported (it is
born on the far side, as far as the rule knows). Direction comes from our territory polygon
(inbound = onto our side).

**First seen inside** (an inferred crossing): where no camera or radar sees the line (a forest),
the first sign of an intruder is often a ground sensor's footsteps tens of metres inside — the
crossing itself was never observed, so the rule above cannot report it. A track is reported
as a likely crossing when it is first seen on our side within ``first_seen_m`` of a border,
is new there (tentative when first seen: a track handed over from the neighbour sector
arrives confirmed), is confirmed within ``first_seen_s`` of that, classified as one of ``first_seen_classes``
(people and vehicles: the ground sensors' footstep and engine signatures), and is not the
continuation of something already tracked: no other (non-tentative) track within
``first_seen_clear_m`` in the ``first_seen_s`` before, not within ``first_seen_edge_m`` of a
sector edge (a track handed over from the neighbour starts there), not at a checkpoint. Its
hit carries ``inferred: first_seen_inside`` and no direction: a ground sensor cannot tell
which way the target is going (a vehicle heading out passes the same sensors), and the summary
says so. On the simulated set every such track that was classified at confirmation was a
crossing target; unclassified ground-sensor and radar births (clutter, animals) were not
(docs/rules.md, "Session 14").
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import shapely
from numpy.typing import NDArray

from fusion.rules.base import Batch, Context, FloatArray, Hit, Rule, sensor_bonus

# an AIS track of its own: its positions are the vessel's reports (GNSS, metres), not a
# filter settling on noisy plots, so it crosses on its first firm update however young
AIS_ONLY = frozenset({"ais"})
# a track first seen inside whose nearest border point is this near a checkpoint came
# through it (legal traffic), not over the line
FIRST_SEEN_CHECKPOINT_M = 100.0


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
        "max_gap_s": 20.0,
        # first seen inside (see the module doc; first_seen_m 0: off)
        "first_seen_m": 150.0,
        "first_seen_s": 60.0,
        "first_seen_classes": ["person", "vehicle"],
        "first_seen_clear_m": 150.0,
        "first_seen_edge_m": 100.0,
        "first_seen_score": 0.6,
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # side: track -> [side (+1 ours / -1 far), t, lat, lon] of its last firm update;
        # seen: track -> measured (not coasted) updates so far; pending: track -> firm updates
        # on the new side of a young track, not yet enough to count; born: track -> [t, e, n]
        # of a track first seen inside that may still be reported as first seen there;
        # recent: track -> [t, e, n] of the newest non-tentative update within first_seen_s,
        # near the line (deleted tracks too: a track re-born where one was lost is a fragment)
        self.state = {"side": {}, "seen": {}, "pending": {}, "born": {}, "recent": {}}
        self._pruned_at = float("-inf")  # event time ``recent`` and ``born`` were last pruned

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
        hits = self._first_seen(batch, ctx, allowed)
        rows = np.flatnonzero(allowed if need > 1 else (firm != 0) & allowed)
        plot = batch.status != "coasting"  # a coasted update is a prediction, no evidence
        lost = self._reacquired(batch)
        for i in rows.tolist():
            tid = batch.ids[i]
            if need > 1 and young > 0 and plot[i]:
                seen[tid] = seen.get(tid, 0) + 1
            if firm[i] == 0:  # in the band at the line: a pending confirmation starts over
                if pending:
                    pending.pop(tid, None)
                continue
            if lost[i]:
                sides.pop(tid, None)  # unseen that long: where it went meanwhile is unknown
            prev = sides.get(tid)
            if prev is not None and int(prev[0]) != int(firm[i]):
                if not over[i]:
                    pending.pop(tid, None)
                elif need <= 1 or seen.get(tid, 0) >= young or batch.kinds[i] == AIS_ONLY:
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
            return hits
        idx = np.array(flipped)
        start = np.array([sides[batch.ids[i]][2:4] for i in flipped], dtype=float)
        cr = ctx.zones.crossings(start[:, 0], start[:, 1], batch.lat[idx], batch.lon[idx])
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

    def _reacquired(self, batch: Batch) -> np.ndarray:
        """Rows whose track had no update for ``max_gap_s`` before this one, and whose update
        does not come from AIS: a sensor track coasting that long has a gate hundreds of
        metres wide, and the plot it takes then may be anything in it (a confirmed track lost
        for 40 s took a clutter return 400 m away across the line, then crossed along the
        jump). Where it went meanwhile is unknown, so its side starts again from here. An AIS
        report names its vessel and places it to metres: a class B unit on its 3 min cycle
        crossing between two reports is still a crossing."""
        gap_s = float(self.cfg["max_gap_s"] or 0.0)
        if gap_s <= 0:
            return np.zeros(len(batch), bool)
        with np.errstate(invalid="ignore"):
            lost = batch.t - batch.prev_t > gap_s  # NaN (a first update): False
        for i in np.flatnonzero(lost).tolist():
            lost[i] = "ais" not in batch.kinds[i]
        return lost

    def forget(self, track_ids: set[str]) -> None:
        """As every rule, but a deleted track's newest position stays in ``recent`` until it
        ages out: a track re-born where one was lost is that target, not a new arrival."""
        recent = self.state.get("recent", {})
        kept = {tid: recent[tid] for tid in track_ids if tid in recent}
        super().forget(track_ids)
        recent.update(kept)

    def _first_seen(self, batch: Batch, ctx: Context, allowed: NDArray[np.bool_]) -> list[Hit]:
        """Hits for tracks first seen inside, near the border (see the module doc)."""
        reach = float(self.cfg["first_seen_m"] or 0.0)
        if reach <= 0 or ctx.zones.territory is None:
            return []  # (without a territory polygon no side is "inside")
        span = float(self.cfg["first_seen_s"])
        born: dict[str, list[float]] = self.state.setdefault("born", {})
        recent: dict[str, list[float]] = self.state.setdefault("recent", {})
        d = batch.prox.signed_distance_m
        with np.errstate(invalid="ignore"):
            # a new track is tentative; one first seen here already confirmed was followed
            # elsewhere first (a hand-over from the neighbour sector's halo)
            new = np.flatnonzero(np.isnan(batch.prev_t) & (batch.status == "tentative")
                                 & (d > 0) & (d <= reach))
        for i in new.tolist():
            if self._arrival(batch, ctx, i, recent):
                born[batch.ids[i]] = [float(batch.t[i]), float(batch.e[i]), float(batch.n[i])]
        hits = []
        if born:  # judged once, at the track's first confirmed (or coasting) update
            classes = set(self.cfg["first_seen_classes"])
            for i in [i for i in np.flatnonzero(allowed).tolist() if batch.ids[i] in born]:
                t_born = born.pop(batch.ids[i])[0]
                cls = batch.updates[i].classification or "unknown"
                if batch.t[i] - t_born <= span and cls in classes and d[i] > 0:
                    hits.append(self._first_seen_hit(batch, ctx, i))
        # only tracks that can be within first_seen_clear_m of a birth within reach of the
        # line (the distance to it changes by at most the distance moved): state stays small
        with np.errstate(invalid="ignore"):
            near = np.abs(d) <= reach + float(self.cfg["first_seen_clear_m"])
        rows = np.flatnonzero(allowed & near)
        ids = batch.ids
        recent.update(zip([ids[i] for i in rows.tolist()],
                          np.column_stack([batch.t[rows], batch.e[rows], batch.n[rows]]).tolist(),
                          strict=True))
        t_now = float(batch.t.max())
        if t_now - self._pruned_at > span:  # at most once per span of event time
            self._pruned_at = t_now
            for table in (recent, born):
                for tid in [k for k, v in table.items() if t_now - v[0] > span]:
                    del table[tid]
        return hits

    def _arrival(self, batch: Batch, ctx: Context, i: int,
                 recent: dict[str, list[float]]) -> bool:
        """Whether row ``i`` (a track's first update) is something new arriving there, not a
        fragment of a track already followed, a hand-over or legal traffic."""
        e, n, t = float(batch.e[i]), float(batch.n[i]), float(batch.t[i])
        clear, span = float(self.cfg["first_seen_clear_m"]), float(self.cfg["first_seen_s"])
        for tid, (t0, e0, n0) in recent.items():
            if tid != batch.ids[i] and t - t0 <= span and np.hypot(e - e0, n - n0) < clear:
                return False
        edge = float(self.cfg["first_seen_edge_m"])
        z = ctx.zones
        p = shapely.points(e, n)
        if edge > 0 and any(s.geom.boundary.distance(p) < edge for s in z.of_kind("sector")):
            return False
        return not bool(z.near_checkpoint_en([batch.prox.near_e[i]], [batch.prox.near_n[i]],
                                             FIRST_SEEN_CHECKPOINT_M)[0])

    def _first_seen_hit(self, batch: Batch, ctx: Context, i: int) -> Hit:
        u = batch.updates[i]
        dist = float(batch.prox.signed_distance_m[i])
        border = ctx.zones.borders[int(batch.prox.border[i])]
        btype = border.props.get("border_type", "")
        head = (
            f"{ctx.subject(u, bool(batch.water[i]))} first seen {dist:.0f} m inside the "
            f"{btype} border with no track leading there, likely crossed (not observed; "
            f"direction unknown),"
        ).replace("  ", " ")
        return self.hit(
            batch,
            i,
            border.id,
            ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
            float(self.cfg["first_seen_score"]) + sensor_bonus(batch.kinds[i]),
            inferred="first_seen_inside",
            distance_m=round(dist, 1),
            border_type=btype,
        )

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
