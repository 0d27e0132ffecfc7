"""Own forces (blue-force tracking): which sensor tracks are our own patrols.

Patrols carry TAK/GPS devices whose positions arrive on ``readings.friendly``
(``sensors/friendly.py``). Per sector, :class:`OwnForce` keeps the newest report per unit
and, on every batch of track updates, checks each track against those reports: a track is
*own force* once it has been within the gate of one unit's position for ``run``
consecutive reports of that unit (not one coincidence), and stays so until it is outside
the gate for ``misses`` consecutive reports or the unit falls silent for ``max_age_s``.
Its updates then carry ``friendly = <unit id>``; the alert engine drops the intent rules'
findings on them (:func:`drop_own_force`). Pure NumPy: no Kafka, one vectorised distance
matrix per batch; Python only touches the few (track, unit) pairs that are close.

Limits (docs/friendly.md): a patrol without a device is an ordinary track; an intruder
who walks within the gate of a patrol for ``run`` reports in a row is masked for as long
as he stays there, which is why the gate is capped at ``max_gate_m``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.types import Observation, TrackUpdate

# rules that judge intent: an own patrol does these things on purpose. Silence, AIS
# anomalies and corroboration are about sensors and transponders, not intent.
EXEMPT_RULES = frozenset({"restricted_entry", "border_crossing", "approach", "loitering",
                          "rendezvous", "dark_vessel"})


@dataclass(frozen=True)
class OwnForceConfig:
    max_age_s: float = 30.0  # a unit silent this long is forgotten (and its tracks unbound)
    fresh_s: float = 10.0  # a check compares a track with a report at most this far apart
    gate_sigmas: float = 3.0  # gate = this × the combined 1-σ of track, report and ...
    # ... what neither covariance holds: radar bearing bias, tracker lag on a moving
    # vehicle (measured: a 9 m/s patrol's radar track 25-36 m off its GPS while the
    # track's own σ said 7.5 m)
    disagreement_m: float = 12.0
    min_gate_m: float = 25.0  # ... at least this
    max_gate_m: float = 100.0  # ... at most this: what an intruder must come within
    run: int = 3  # consecutive reports in the gate before a track counts as the unit
    misses: int = 3  # consecutive reports outside the gate before it no longer does


class OwnForce:
    """One sector's own-force picture; ``snapshot``/``restore`` as plain JSON data."""

    def __init__(self, lat0: float, lon0: float, cfg: OwnForceConfig | None = None) -> None:
        self.frame = LocalFrame(lat0, lon0)
        self.cfg = cfg or OwnForceConfig()
        self.units: dict[str, list[float]] = {}  # unit id -> [t, lat, lon, sigma_m]
        # track id -> [unit id, reports in the gate, t of the last one, misses, t of last miss]
        self.pairs: dict[str, list[Any]] = {}

    def report(self, observations: Iterable[Observation]) -> None:
        """Take ``friendly`` observations: the newest report per unit wins."""
        for o in observations:
            uid = str(o.attrs.get("unit_id"))
            cur = self.units.get(uid)
            if cur is None or o.t > cur[0]:
                sigma = float(np.sqrt(max(o.cov_en[0][0], o.cov_en[1][1])))
                self.units[uid] = [o.t, o.lat, o.lon, sigma]

    def mark(self, updates: list[TrackUpdate]) -> None:
        """Set ``friendly`` on the updates of own-force tracks (and advance the runs)."""
        if not updates:
            return
        cfg = self.cfg
        now = max(u.t for u in updates)
        for uid in [k for k, v in self.units.items() if now - v[0] > cfg.max_age_s]:
            del self.units[uid]
        for tid in [k for k, p in self.pairs.items() if p[0] not in self.units]:
            del self.pairs[tid]
        for u in updates:
            if u.status == "deleted":
                self.pairs.pop(u.track_id, None)
        if not self.units:
            return
        uids = list(self.units)
        ut, ulat, ulon, usig = np.array([self.units[k] for k in uids], dtype=float).T
        ue, un = self.frame.to_en(ulat, ulon)
        live = [u for u in updates if u.status != "deleted"]
        if not live:
            return
        t = np.fromiter((u.t for u in live), float, len(live))
        e, n = self.frame.to_en(np.fromiter((u.lat for u in live), float, len(live)),
                                np.fromiter((u.lon for u in live), float, len(live)))
        ve = np.fromiter((u.vel_e for u in live), float, len(live))
        vn = np.fromiter((u.vel_n for u in live), float, len(live))
        var = np.fromiter(((u.cov[0][0] + u.cov[1][1]) / 2 if u.cov else 0.0 for u in live),
                          float, len(live))
        dt = t[:, None] - ut[None, :]  # track time − report time
        fresh = np.abs(dt) <= cfg.fresh_s
        # the track carried back (or on) to the report's time, so a moving vehicle compares
        # with where it was when its device reported
        d = np.hypot(e[:, None] - ve[:, None] * dt - ue[None, :],
                     n[:, None] - vn[:, None] * dt - un[None, :])
        spread = np.maximum(var, 0.0)[:, None] + usig[None, :] ** 2 + cfg.disagreement_m**2
        gate = np.clip(cfg.gate_sigmas * np.sqrt(spread), cfg.min_gate_m, cfg.max_gate_m)
        inside = fresh & (d <= gate)
        score = np.where(inside, d / gate, np.inf)
        bound = np.array([u.track_id in self.pairs for u in live], dtype=bool)
        col = {k: j for j, k in enumerate(uids)}
        for i in np.flatnonzero(inside.any(axis=1) | bound).tolist():
            u = live[i]
            pair: list[Any]
            if inside[i].any():
                j = int(np.argmin(score[i]))
                old = self.pairs.get(u.track_id)
                if old is None or old[0] != uids[j]:
                    pair = self.pairs[u.track_id] = [uids[j], 1, float(ut[j]), 0, 0.0]
                else:
                    pair = old
                    if ut[j] > pair[2]:
                        pair[1], pair[2], pair[3] = pair[1] + 1, float(ut[j]), 0
            else:  # bound, but outside every gate now
                pair = self.pairs[u.track_id]
                j = col[pair[0]]
                if fresh[i, j] and ut[j] > pair[4]:
                    pair[3], pair[4] = pair[3] + 1, float(ut[j])
                    if pair[1] < cfg.run or pair[3] >= cfg.misses:
                        del self.pairs[u.track_id]  # the run is broken / it left the unit
                        continue
            if pair[1] >= cfg.run:
                u.friendly = pair[0]

    def snapshot(self) -> dict[str, Any]:
        return {"units": {k: list(v) for k, v in self.units.items()},
                "pairs": {k: list(v) for k, v in self.pairs.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        self.units = {str(k): [float(x) for x in v] for k, v in (state.get("units") or {}).items()}
        self.pairs = {str(k): [str(v[0]), int(v[1]), float(v[2]), int(v[3]), float(v[4])]
                      for k, v in (state.get("pairs") or {}).items()}


def drop_own_force(hits: list[Any], updates: list[TrackUpdate]) -> list[Any]:
    """The hits worth alerting on: active findings of :data:`EXEMPT_RULES` about an
    own-force track (any track of a rendezvous pair) are dropped; ends of situations stay."""
    own = {u.track_id for u in updates if u.friendly}
    if not own:
        return hits
    return [h for h in hits
            if not (h.active and h.rule in EXEMPT_RULES and own.intersection(h.track_ids))]
