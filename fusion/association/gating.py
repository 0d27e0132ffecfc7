"""Gating: which (track, observation) pairs deserve a Mahalanobis test at all.

A k-d tree over predicted track positions finds, for every observation, its few nearest
tracks within a radius; only those pairs are tested. Nothing here is N×M.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.stats import chi2

IntArray = NDArray[np.intp]
_DENSE = 4096  # up to this many track × observation pairs, brute force beats building a tree


def chi2_gate(probability: float, dof: int = 2) -> float:
    """Squared-Mahalanobis bound that a true pair passes with ``probability``."""
    return float(chi2.ppf(probability, dof))


def candidate_pairs(
    track_pos: NDArray[np.float64],
    obs_pos: NDArray[np.float64],
    radius: float,
    max_candidates: int = 8,
) -> tuple[IntArray, IntArray]:
    """(track index, observation index) pairs closer than ``radius`` metres.

    Each observation keeps at most ``max_candidates`` nearest tracks: in a crowd a real
    detection's own track is among its nearest, and the cap bounds work per observation.
    """
    n, m = track_pos.shape[0], obs_pos.shape[0]
    if n == 0 or m == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    k = min(max_candidates, n)
    if n * m <= _DENSE:
        return _dense_pairs(track_pos, obs_pos, k, radius)
    # an unbalanced tree (sliding-midpoint splits, no node shrinking) builds ~25 % faster and
    # answers the same (the tree is built for one scan's queries): tracker 0.97x under the
    # 10 000/s backlog, identical updates (docs/performance.md "Session 16")
    dist, idx = cKDTree(track_pos, balanced_tree=False, compact_nodes=False).query(
        obs_pos, k=k, distance_upper_bound=radius
    )
    dist = dist.reshape(m, k)
    idx = idx.reshape(m, k)
    ok = np.isfinite(dist)
    obs_idx = np.broadcast_to(np.arange(m)[:, None], (m, k))[ok]
    return idx[ok].astype(np.intp), obs_idx.astype(np.intp)


def _dense_pairs(
    track_pos: NDArray[np.float64], obs_pos: NDArray[np.float64], k: int, radius: float
) -> tuple[IntArray, IntArray]:
    """The k-d tree's answer for small inputs, as pairs: per observation its (at most ``k``)
    nearest tracks within ``radius``, nearest first, ties to the lower track index.

    A streaming call brings a handful of observations to a few hundred tracks; building a
    tree for that costs more than the m × n distances, and sorting only the pairs within
    the radius (a few per observation) costs less than sorting every row.
    """
    if obs_pos.shape[0] == 1:  # one plot (a geophone's event): sort its row only
        d1 = np.hypot(obs_pos[0, 0] - track_pos[:, 0], obs_pos[0, 1] - track_pos[:, 1])
        ti = np.flatnonzero(d1 <= radius)
        ti = ti[np.argsort(d1[ti], kind="stable")[:k]]  # nearest first, ties to lower index
        return ti.astype(np.intp), np.zeros(ti.size, np.intp)
    d = np.hypot(
        obs_pos[:, None, 0] - track_pos[None, :, 0], obs_pos[:, None, 1] - track_pos[None, :, 1]
    )
    oi, ti = np.nonzero(d <= radius)  # NaN positions never pass
    if oi.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    order = np.lexsort((ti, d[oi, ti], oi))
    oi, ti = oi[order], ti[order]
    rank = np.arange(oi.size) - np.searchsorted(oi, oi)  # position within its observation
    keep = rank < k
    return ti[keep].astype(np.intp), oi[keep].astype(np.intp)
