"""Track-to-track correlation of AIS tracks (one per MMSI) with radar/thermal tracks.

Every evaluation predicts both sets to a common time, finds nearby pairs with a k-d tree and
scores each pair with the squared Mahalanobis distance of the 4-D state difference
(S = P_ais + P_track; cross-covariance ignored). A pair's scores over a sliding window are
summed and tested against the chi-square bound with 4·w degrees of freedom, so one lucky
coincidence does not correlate and a look-alike vessel that merely passes close by fails.
Passing pairs are assigned one-to-one (GNN on the mean score). An operator may force or
break a pairing; that decision wins over the test until changed.

Two rules keep a pairing from jumping between nearby boats (measured: one class B vessel
reporting every 3 min was handed between three radar tracks within a minute):

- *Stale AIS says nothing.* An AIS track without a report for ``max_age_s`` is predicted so
  far that its covariance swallows every track within hundreds of metres: it adds no
  samples and starts no pairing, and its current pairing holds until it reports again.
- *Hysteresis.* A pairing that still passes its test is kept; only AIS tracks and sensor
  tracks left unpaired go to the GNN. A better-scoring neighbour does not steal it.

Two more keep a held pairing from outliving the vessel it was made for (measured: two boats
passing close swapped radar tracks while one class B MMSI was stale; when that vessel
reported again, its own track was held by the other boat's MMSI, silent since it switched
AIS off, so the vessel stayed AIS-only or re-paired with the track that had left it):

- *A gap forgets.* Scores from before an AIS track went stale are dropped when it reports
  again: its pairing is re-judged on what it reports now, not on minutes-old agreement.
  Until ``min_samples`` new scores are in, the pairing is held (too little to judge).
- *Fresh evidence beats a stale hold.* A reporting vessel whose full window (``window``
  scores, all since its report) passes on a track held by a stale MMSI takes that track;
  the stale MMSI is released (it pairs again once it reports and passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.stats import chi2

from fusion.association.gnn import gnn_assign

FloatArray = NDArray[np.float64]


@dataclass
class CorrelationConfig:
    """Sliding-window chi-square test settings."""

    window: int = 6
    min_samples: int = 3
    probability: float = 0.99
    radius_m: float = 1500.0
    interval_s: float = 1.0
    max_age_s: float = 35.0  # AIS older than this (class B period: 30 s) scores nothing


@lru_cache(maxsize=256)
def _chi2_bound(probability: float, dof: int) -> float:
    """χ² quantile, cached: ``scipy.stats`` spends ~0.1 ms per call in argument checks."""
    return float(chi2.ppf(probability, dof))


def state_distance2(xa: FloatArray, pa: FloatArray, xb: FloatArray, pb: FloatArray) -> FloatArray:
    """Squared Mahalanobis distance of state differences, rows paired (k, 4)/(k, 4, 4)."""
    d = xa - xb
    s = pa + pb
    return np.einsum("ki,ki->k", d, np.linalg.solve(s, d[..., None])[..., 0])


class AisCorrelator:
    """Holds the window of scores per (mmsi, track number) and the current correlations."""

    def __init__(self, config: CorrelationConfig | None = None) -> None:
        self.config = config or CorrelationConfig()
        self.history: dict[tuple[int, int], list[float]] = {}
        self.assigned: dict[int, int] = {}  # mmsi -> track number
        self.forced: dict[int, int] = {}  # track number -> mmsi (operator)
        self.broken: set[tuple[int, int]] = set()  # (track number, mmsi) (operator)
        self.stale: set[int] = set()  # MMSIs stale at the last evaluation
        self.last_eval = -np.inf

    def force(self, track_num: int, mmsi: int) -> None:
        """Operator: this track is this vessel."""
        self.forced = {k: v for k, v in self.forced.items() if v != mmsi}
        self.forced[track_num] = mmsi
        self.broken.discard((track_num, mmsi))
        self._apply_overrides()

    def unlink(self, track_num: int) -> int | None:
        """Operator: this track is not the vessel it is correlated with (returns that MMSI)."""
        self.forced.pop(track_num, None)
        old = next((m for m, n in self.assigned.items() if n == track_num), None)
        if old is not None:
            self.broken.add((track_num, old))
            del self.assigned[old]
        return old

    def drop(self, mmsi: int) -> None:
        """The vessel's own report disagrees with its paired track: unpair (not an operator
        break: the test may pair them again on consistent data)."""
        num = self.assigned.pop(mmsi, None)
        if num is not None and self.forced.get(num) == mmsi:
            self.assigned[mmsi] = num  # the operator's word wins
            return
        self.history = {k: v for k, v in self.history.items() if k[0] != mmsi}

    def _apply_overrides(self) -> None:
        forced_mmsi = set(self.forced.values())
        forced_tracks = set(self.forced)
        self.assigned = {
            m: n
            for m, n in self.assigned.items()
            if m not in forced_mmsi and n not in forced_tracks and (n, m) not in self.broken
        }
        self.assigned.update({m: n for n, m in self.forced.items()})

    def evaluate(
        self,
        ais_mmsi: NDArray[np.int64],
        ais_x: FloatArray,
        ais_p: FloatArray,
        trk_num: NDArray[np.int64],
        trk_x: FloatArray,
        trk_p: FloatArray,
        ais_age: FloatArray | None = None,
    ) -> dict[int, int]:
        """Update the windows with states predicted to one common time; return mmsi -> track.

        ``ais_age``: seconds since each AIS track's last report (None: all fresh).
        """
        cfg = self.config
        alive_trk = set(trk_num.tolist())
        self.forced = {n: m for n, m in self.forced.items() if n in alive_trk}
        if len(ais_mmsi) == 0 or len(trk_num) == 0:
            self.history = {}
            self.assigned = {m: n for n, m in self.forced.items()}
            return dict(self.assigned)
        fresh = (
            np.ones(len(ais_mmsi), bool)
            if ais_age is None
            else np.asarray(ais_age, float) <= cfg.max_age_s
        )
        stale = set(ais_mmsi[~fresh].tolist())
        back = self.stale - stale  # reporting again after a gap: forget the old scores
        self.stale = stale
        k = min(4, len(trk_num))
        dist, idx = cKDTree(trk_x[:, :2]).query(
            ais_x[:, :2], k=k, distance_upper_bound=cfg.radius_m
        )
        dist, idx = dist.reshape(len(ais_mmsi), k), idx.reshape(len(ais_mmsi), k)
        ok = np.isfinite(dist) & fresh[:, None]
        ai = np.broadcast_to(np.arange(len(ais_mmsi))[:, None], ok.shape)[ok]
        ti = idx[ok]
        d2 = state_distance2(ais_x[ai], ais_p[ai], trk_x[ti], trk_p[ti])
        # (loops below run once a second over every nearby pair: locals, no repeated lookups)
        old, window = self.history, cfg.window
        history: dict[tuple[int, int], list[float]] = (
            {k: v for k, v in old.items() if k[0] in stale and k[1] in alive_trk}
            if stale
            else {}
        )
        if back:
            old = {k: v for k, v in old.items() if k[0] not in back}
        get = old.get
        pairs = zip(ais_mmsi[ai].tolist(), trk_num[ti].tolist(), strict=True)
        for key, v in zip(pairs, d2.tolist(), strict=True):
            history[key] = [*get(key, ()), v][-window:]
        self.history = history
        forced_mmsi, forced_trk = set(self.forced.values()), set(self.forced)
        broken, min_samples, prob = self.broken, cfg.min_samples, cfg.probability
        passing: dict[tuple[int, int], float] = {}
        for key, vals in history.items():
            m, n = key
            k_vals = len(vals)
            if k_vals < min_samples or m in stale or (n, m) in broken:
                continue
            if m in forced_mmsi or n in forced_trk:
                continue
            total = sum(vals)
            if total <= _chi2_bound(prob, 4 * k_vals):
                passing[key] = total / k_vals
        alive_ais = set(ais_mmsi.tolist())
        kept = {
            m: n
            for m, n in self.assigned.items()
            if m in alive_ais
            and n in alive_trk
            and m not in forced_mmsi
            and n not in forced_trk
            and (n, m) not in self.broken
            and (
                m in stale
                or (m, n) in passing
                or 0 < len(history.get((m, n), ())) < min_samples  # nearby, too new to judge
            )
        }
        held = {n: m for m, n in kept.items() if m in stale}  # track -> its stale MMSI
        self.assigned = {m: n for n, m in self.forced.items()}
        self.assigned.update(kept)
        taken_m, taken_n = set(kept), set(kept.values())
        pa, pt, cost = [], [], []
        for (m, n), c in passing.items():
            if m in taken_m:
                continue
            if n in taken_n and (n not in held or len(history[(m, n)]) < window):
                continue  # a held track goes only to a full window of fresh evidence
            pa.append(m)
            pt.append(n)
            cost.append(c)
        if pa:
            m_u, m_loc = np.unique(np.asarray(pa), return_inverse=True)
            n_u, n_loc = np.unique(np.asarray(pt), return_inverse=True)
            at, ao = gnn_assign(
                m_loc.astype(np.intp),
                n_loc.astype(np.intp),
                np.asarray(cost),
                m_u.size,
                n_u.size,
                miss_cost=1e9,
            )
            won = dict(zip(m_u[at].tolist(), n_u[ao].tolist(), strict=True))
            for n in set(won.values()) & held.keys():
                del self.assigned[held[n]]  # the stale MMSI lets go of the track
            self.assigned.update(won)
        return dict(self.assigned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [[m, n, v] for (m, n), v in sorted(self.history.items())],
            "assigned": sorted([m, n] for m, n in self.assigned.items()),
            "forced": sorted([n, m] for n, m in self.forced.items()),
            "broken": sorted([n, m] for n, m in self.broken),
            "stale": sorted(self.stale),
            "last_eval": None if not np.isfinite(self.last_eval) else float(self.last_eval),
            "config": vars(self.config).copy(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AisCorrelator:
        c = cls(CorrelationConfig(**d["config"]))
        c.history = {(int(m), int(n)): [float(x) for x in v] for m, n, v in d["history"]}
        c.assigned = {int(m): int(n) for m, n in d["assigned"]}
        c.forced = {int(n): int(m) for n, m in d["forced"]}
        c.broken = {(int(n), int(m)) for n, m in d["broken"]}
        c.stale = {int(m) for m in d.get("stale", ())}  # (absent in older snapshots)
        c.last_eval = -np.inf if d["last_eval"] is None else float(d["last_eval"])
        return c
