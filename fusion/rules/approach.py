"""Approach: a confirmed track heading for the border will reach it within a threshold.

A track's velocity estimate is noisy (several m/s for a walker at radar range, more while a
new track settles), and its filtered positions wander by one to two position σ for tens of
seconds: a boat standing 30 m off the line, a patrol on the strip, "closes" 20–40 m now and
then. So the approach must be borne out by the track's history, measured against the
track's own position uncertainty (``σ`` along the border normal, from its covariance):

- over some span of its history — ``min_window_s`` (10 s), doubling up to ``window_s``
  (60 s) — the distance to the border, on one side of the line, shrinks (least-squares
  slope) at ``min_speed_mps`` or more, and its lower bound stays above zero: ``z`` standard
  errors, where the standard error is at least ``hypot(σ_start, σ_end) / span``. Filtered positions are correlated in time, so averaging
  many updates does not shrink their error; only the distance actually closed counts, and it
  must exceed ``z`` times the two positions' combined σ. A fast vehicle qualifies on a short
  span (it closes 50 m in 10 s), a walker or a slow boat on a longer one, a new track's
  settling (σ 15–35 m) and a wobble of one or two σ never;
- the fitted closing rate is at least ``min_heading_cos`` of the fitted ground speed
  (heading for the line, not along it), and the filter's velocity still closes (> 0) now;
- the rate that gives the time to border is the slowest closing over *every* span the
  history covers (whatever its heading): a wander of 3σ in 20 s shows no closing over the
  minute around it, a walker or a vehicle closes at the same rate over all spans, and a
  boat that veers over the line after running along it still closes over the longer spans;
- over the last ``course_s`` (on this side of the line) the net course closes on the line by
  at least ``min_course_cos`` of the net displacement, unless the track is within
  ``course_near_m`` of the line: a patrol far out on the strip wobbles for 30 s at a time
  toward the line, a boat running along the river that veers over it closes for 20–30 s only;
- the time to border at the measured rate is under ``threshold_s`` (75 s: the rate is an
  estimate, 20–35 % high for walkers on radar, and a warning is meant for the next two
  minutes; at 90 s a walker was warned 121 s ahead and the alert stayed open past the
  scorer's 120 s, at 75 s 95–100 s ahead).

The history, and ``confirm_updates`` below, take one update per ``sample_s`` (1 s, a radar
scan) of event time, the newest: the tracker sends one update per track per fusion call, so
a thermal plot and the radar plot 0.12 s later are two updates with 0.1 s buckets and one
with 0.25 s; counting updates made the fit's samples, and the confirmation, depend on the
bucket (docs/rules.md, "Seventh round").

An alert opens only once the approach has held on ``confirm_updates`` (2) consecutive
updates of the track: a track is tested on every update, and one plot that pulls the
filtered position 2–3 σ toward the line for a single update (a settling track's first
seconds, a plot from another target or from clutter) is not borne out by the next plot,
while a real approach is. An open alert is refreshed on every update that holds.

Approaches to a checkpoint (the nearest border point within ``checkpoint_m`` of one) are
legal traffic and never alert. Tracks classified as one of ``exclude_classes`` (animals)
never alert. The alert resolves once the track has not approached for ``clear_s``
(stopped, turned back or along the line); approaching again later is a new alert.
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
        "threshold_s": 75.0,  # time to border at the measured closing rate under this → alert
        "min_speed_mps": 0.3,  # closing slower than this is drift, not an approach
        "max_distance_m": 5000.0,
        "window_s": 60.0,  # the longest history span the closing is measured over ...
        "min_window_s": 10.0,  # ... and the shortest (spans double from it up to window_s)
        "min_samples": 3,  # ... each seen in at least this many updates
        "z": 2.75,  # closing rate's lower bound (z standard errors) must stay above 0
        "min_heading_cos": 0.2,  # fitted closing rate / fitted ground speed
        "checkpoint_m": 100.0,  # heading for a border point this near a checkpoint: legal
        "course_s": 120.0,  # net course over this much history (on this side) ...
        "min_course_cos": 0.5,  # ... must close at least this × its net displacement ...
        "course_near_m": 50.0,  # ... unless the track is this near the line
        "clear_s": 30.0,  # no approach for this long resolves the alert (null: never)
        "confirm_updates": 2,  # consecutive updates the approach must hold to open an alert
        # history and ``confirm_updates`` count one update per this much event time (the
        # last in it: a radar scan's), not every update the tracker sends (0: every one)
        "sample_s": 1.0,
        "directions": ["inbound", "outbound"],  # inbound = from the far side toward us
        "statuses": ["confirmed"],
        "exclude_classes": ["animal"],
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # track -> [[t, signed distance, e, n, sigma along the normal], ...] over window_s;
        # track -> {zone: [t of the last approach hit, lat, lon]} while an alert may be open;
        # track -> consecutive updates on which the approach held (while it holds)
        self.state = {"dist": {}, "last": {}, "course": {}, "held": {}}

    def _spans(self) -> list[float]:
        lo, hi = float(self.cfg["min_window_s"]), float(self.cfg["window_s"])
        out = []
        s = max(lo, 1.0)
        while s < hi:
            out.append(s)
            s *= 2.0
        return [*out, hi]

    def _fit(self, a: np.ndarray, span: float, ordered: bool = False) -> tuple[float, float, float]:
        """(closing rate, its lower bound, raw closing rate) over the last ``span`` s of ``a``.

        (nan, nan, nan) without enough history. The closing rate is 0 with a lower bound of
        -inf when the history is not an approach (receding, running along the line); the raw
        rate is the slope whatever the heading (0 when the span has both sides of the line).
        ``ordered``: ``a``'s times ascend, so the span is a suffix (a view, not a copy).
        Means are ``add.reduce / n``, which is what ``ndarray.mean`` computes, without its
        Python wrapper: this runs for every candidate row and span (a hot path).
        """
        if ordered:
            a = a[int(np.searchsorted(a[:, 0], a[-1, 0] - span, side="left")) :]
        else:
            a = a[a[:, 0] >= a[-1, 0] - span]
        n = len(a)
        dt = float(a[-1, 0] - a[0, 0])
        if n < int(self.cfg["min_samples"]) or dt < 0.8 * span:
            return np.nan, np.nan, np.nan
        d = a[:, 1]
        if not (np.all(d > 0) or np.all(d < 0)):
            return 0.0, -np.inf, 0.0  # on the line or both sides: not an approach to it
        add = np.add.reduce
        t = a[:, 0]
        tt = t - add(t) / n
        stt = float(tt @ tt)
        y = np.abs(d)
        ym = add(y) / n
        slope = float(tt @ (y - ym) / stt)
        resid = y - ym - slope * tt
        se = float(np.sqrt(resid @ resid / max(n - 2, 1) / stt))
        # the distance closed must exceed the two end positions' combined uncertainty
        se = max(se, float(np.hypot(a[0, 4], a[-1, 4])) / dt)
        # fitted ground speed: a course along the line closes slowly for its speed
        e, nn = a[:, 2], a[:, 3]
        ve = float(tt @ (e - add(e) / n) / stt)
        vn = float(tt @ (nn - add(nn) / n) / stt)
        if -slope <= 0 or -slope < float(self.cfg["min_heading_cos"]) * float(np.hypot(ve, vn)):
            return 0.0, -np.inf, -slope  # enough history, but not closing on the line
        return -slope, -slope - float(self.cfg["z"]) * se, -slope

    def _rate(self, a: np.ndarray, dist: float = 0.0) -> float:
        """Closing rate borne out by history ``a``, or nan.

        Some span must qualify (closing, heading for the line, lower bound above zero); the
        rate is then the slowest raw closing over every span the history covers, so a short
        span's 3σ wander is not an approach when the minute around it shows none.

        ``dist`` (the row's distance to the line): as soon as one span closes too slowly
        for the time to border to come under ``threshold_s``, the answer is nan — no alert,
        as the full answer would give — without fitting the other spans. The covered spans
        are fitted longest first (usually the slowest). Most rows are far from the line:
        this is the rule's hot path."""
        qualified, slowest = False, np.inf
        t = a[:, 0]
        ordered = bool(np.all(t[1:] >= t[:-1]))
        spans = self._spans()
        thr = self.cfg["threshold_s"]
        give_up = dist * (1.0 - 1e-9) / float(thr) if thr and dist > 0 else 0.0
        if ordered:  # spans covered (as _fit decides), up to the first that is not
            covered, m = [], int(self.cfg["min_samples"])
            for span in spans:
                k = int(np.searchsorted(t, t[-1] - span, side="left"))
                if len(t) - k < m or float(t[-1] - t[k]) < 0.8 * span:
                    break
                covered.append(span)
            spans = covered[::-1]
        for span in spans:
            r, lo, raw = self._fit(a, span, ordered)
            if np.isnan(r):
                break  # no longer span is covered either
            slowest = min(slowest, raw)
            if slowest <= 0 or slowest < give_up:
                return np.nan  # the slowest can only fall further: no alert either way
            qualified |= lo > 0 and r >= float(self.cfg["min_speed_mps"])
        return slowest if qualified and slowest > 0 else np.nan

    def _measured(self, batch: Batch, candidate: np.ndarray) -> np.ndarray:
        """Per row: closing rate borne out by the history (nan if not).

        Every row's history is kept; the fit runs only for ``candidate`` rows."""
        hist: dict[str, list[list[float]]] = self.state.setdefault("dist", {})
        w = float(self.cfg["window_s"])
        d = batch.prox.signed_distance_m
        p = batch.prox
        rate = np.full(len(batch), np.nan)
        for i, tid in enumerate(batch.ids):
            if not np.isfinite(d[i]):
                continue
            t = float(batch.t[i])
            sig = _sigma_along(
                batch.updates[i].cov, p.near_e[i] - batch.e[i], p.near_n[i] - batch.n[i]
            )
            h = hist.setdefault(tid, [])
            row = [t, float(d[i]), float(batch.e[i]), float(batch.n[i]), sig]
            if h and self._slot(h[-1][0]) == self._slot(t):
                h[-1] = row  # the slot's newest state stands for it
            else:
                h.append(row)
            k = 0
            while t - h[k][0] > w:
                k += 1
            if k:
                del h[:k]  # one move, not one per dropped entry
            on_course = self._on_course(tid, t, float(d[i]), float(batch.e[i]), float(batch.n[i]))
            if candidate[i] and on_course:
                rate[i] = self._rate(np.asarray(h), abs(float(d[i])))
        return rate

    def _on_course(self, tid: str, t: float, d: float, e: float, n: float) -> bool:
        """False when the last ``course_s`` of the track ran along the line, not at it.

        A patrol walking the strip 150 m from the border wobbles ±15 m on radar, and for
        30 s at a time that looks like closing at walking pace; over two minutes its net
        course is along the line. Sampled every 5 s; a younger track passes.
        """
        span = float(self.cfg["course_s"] or 0.0)
        if span <= 0:
            return True
        course: dict[str, list[list[float]]] = self.state.setdefault("course", {})
        c = course.setdefault(tid, [])
        if c and (c[-1][1] > 0) != (d > 0):
            c.clear()  # it crossed: the course that matters starts on this side
        if not c or t - c[-1][0] >= 5.0:
            c.append([t, d, e, n])
        while t - c[0][0] > span:
            c.pop(0)
        if t - c[0][0] < 0.8 * span or abs(d) <= float(self.cfg["course_near_m"] or 0.0):
            return True
        t0, d0, e0, n0 = c[0]
        closed = abs(d0) - abs(d)
        return closed >= float(self.cfg["min_course_cos"]) * float(np.hypot(e - e0, n - n0))

    def _at_checkpoint(self, batch: Batch, ctx: Context) -> np.ndarray:
        m = float(self.cfg["checkpoint_m"])
        if m < 0 or not ctx.zones.checkpoints:
            return np.zeros(len(batch), dtype=bool)
        return ctx.zones.near_checkpoint_en(batch.prox.near_e, batch.prox.near_n, m)

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        p = batch.prox
        d = p.signed_distance_m
        direction = np.where(d < 0, "inbound", "outbound")
        cls_ok = self.class_mask(batch)
        dirs = set(self.cfg["directions"])
        with np.errstate(invalid="ignore"):
            candidate = (
                self.status_mask(batch)
                & cls_ok
                & (p.closing_speed_mps > 0)  # the filter's velocity still closes now
                & (np.abs(d) <= self.cfg["max_distance_m"])
                & (np.abs(d) > 0)
                & np.where(d < 0, "inbound" in dirs, "outbound" in dirs)
                & ~batch.crossings.crossed
            )
        if candidate.any():
            candidate &= ~self._at_checkpoint(batch, ctx)
        rate = self._measured(batch, candidate)
        with np.errstate(divide="ignore", invalid="ignore"):
            measured_ttb = np.where(rate > 0, np.abs(d) / rate, np.inf)
            mask = candidate & (measured_ttb <= self.cfg["threshold_s"])
        last: dict[str, dict[str, list[float]]] = self.state.setdefault("last", {})
        held = self._held(batch, mask)
        need = int(self.cfg["confirm_updates"] or 1)
        hits = []
        for i in np.flatnonzero(mask).tolist():
            u = batch.updates[i]
            border = ctx.zones.borders[int(p.border[i])]
            if held[u.track_id] < need and border.id not in last.get(u.track_id, {}):
                continue  # not yet borne out by a second update, and no alert open
            ttb = float(measured_ttb[i])
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
            last.setdefault(u.track_id, {})[border.id] = [float(u.t), u.lat, u.lon]
        hits.extend(self._cleared(batch, ctx, mask))
        return hits

    def _slot(self, t: float) -> float:
        s = float(self.cfg["sample_s"] or 0.0)
        return float(np.floor(t / s)) if s > 0 else t

    def _held(self, batch: Batch, mask: np.ndarray) -> dict[str, int]:
        """Count, per track, the consecutive slots (``sample_s``) on which the approach held.

        A slot's verdict is its newest update's, so a thermal plot and a radar plot 0.1 s
        apart are one step whether the tracker sent them as one update (0.25 s buckets) or
        two (0.1 s). ``held`` keeps per track [slot, held slots before it, holds now]; a
        track updated in this batch without an approach starts again from 0; tracks not in
        the batch keep their count (consecutive in the track's own slots)."""
        held: dict[str, Any] = self.state.setdefault("held", {})
        out: dict[str, int] = {}
        on = set(batch.ids[i] for i in np.flatnonzero(mask).tolist())
        for i, tid in enumerate(batch.ids):
            v = tid in on
            entry = held.get(tid)
            if entry is None and not v:
                continue
            slot = self._slot(float(batch.t[i]))
            if not isinstance(entry, list):  # new (or an older snapshot's plain count)
                entry = [slot, int(entry or 0) - (1 if entry else 0), True]
            if entry[0] != slot:
                entry = [slot, entry[1] + 1 if entry[2] else 0, v]
            entry[2] = v
            if v or entry[1] > 0:
                held[tid] = entry
            else:
                held.pop(tid, None)
        for tid, entry in held.items():
            if isinstance(entry, list):
                out[tid] = entry[1] + 1 if entry[2] else 0
        return out

    def _cleared(self, batch: Batch, ctx: Context, mask: np.ndarray) -> list[Hit]:
        """Resolve hits for tracks that have not approached their border for ``clear_s``."""
        clear = self.cfg["clear_s"]
        last: dict[str, dict[str, list[float]]] = self.state["last"]
        if clear is None:
            last.clear()
            return []
        out = []
        for i in np.flatnonzero(~mask).tolist():
            u = batch.updates[i]
            zones = last.get(u.track_id)
            if not zones:
                continue
            for zid, (t_hit, _, _) in list(zones.items()):
                if u.t - t_hit < float(clear):
                    continue
                del zones[zid]
                head = f"{ctx.subject(u, bool(batch.water[i]))} no longer heading for the border"
                h = self.hit(batch, i, zid, ctx.sentence(head, u.lat, u.lon, u.t, u.sources), 0.0)
                h.active = False
                out.append(h)
            if not zones:
                last.pop(u.track_id, None)
        return out


def _sigma_along(cov: list[list[float]], ue: float, un: float) -> float:
    """The track's position standard deviation along (ue, un) — toward the border."""
    norm2 = ue * ue + un * un
    if len(cov) < 2 or norm2 <= 0:
        return 0.0
    var = (ue * ue * cov[0][0] + 2 * ue * un * cov[0][1] + un * un * cov[1][1]) / norm2
    return float(np.sqrt(max(var, 0.0)))
