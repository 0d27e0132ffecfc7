"""Global nearest neighbour: the cheapest one-to-one assignment, solved per group.

Groups where only one assignment is possible (one track or one observation) are solved
vectorised by taking their cheapest pair; only genuinely contested groups go through
``scipy.optimize.linear_sum_assignment``, each as a small dense problem with a "miss"
column per track so leaving a track unassigned is an option priced at ``miss_cost``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from fusion.association.clustering import cluster_pairs

IntArray = NDArray[np.intp]
_BIG = 1e12


def gnn_assign(
    ti: IntArray,
    oj: IntArray,
    cost: NDArray[np.float64],
    n_tracks: int,
    n_obs: int,
    miss_cost: float,
) -> tuple[IntArray, IntArray]:
    """Assigned (track, observation) index arrays minimising total cost; pairs must be gated.

    Every pair's cost should be below ``miss_cost`` (a pair above it is never worth taking).
    """
    keep = cost < miss_cost
    ti, oj, cost = ti[keep], oj[keep], cost[keep]
    if ti.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    if _all_distinct(ti, n_tracks) and _all_distinct(oj, n_obs):
        # no track and no observation in two pairs: every pair is its own group (the usual
        # case for small streaming calls), so all of them are the assignment
        return ti.astype(np.intp), oj.astype(np.intp)
    if _one_value(oj) or _one_value(ti):
        # one observation (a geophone's event) or one track in reach: a single simple
        # group, the cheapest pair (first of equal costs, as the stable sort below) is it
        best = int(np.argmin(cost))
        return ti[best : best + 1].astype(np.intp), oj[best : best + 1].astype(np.intp)
    label = cluster_pairs(ti, oj, n_tracks, n_obs)
    # number of distinct tracks and observations per component (1-D keys: label, index)
    n_lab = int(label.max()) + 1
    trk_first = np.unique(label.astype(np.int64) * (n_tracks + 1) + ti) // (n_tracks + 1)
    obs_first = np.unique(label.astype(np.int64) * (n_obs + 1) + oj) // (n_obs + 1)
    nt = np.bincount(trk_first, minlength=n_lab)
    no = np.bincount(obs_first, minlength=n_lab)
    simple = (nt == 1) | (no == 1)
    # simple groups: the cheapest pair is the optimum
    in_simple = simple[label]
    order = np.lexsort((cost[in_simple], label[in_simple]))
    lab_s = label[in_simple][order]
    first = np.ones(lab_s.size, bool)
    first[1:] = lab_s[1:] != lab_s[:-1]
    out_t = [ti[in_simple][order][first]]
    out_o = [oj[in_simple][order][first]]
    # contested groups: small dense problems
    hard = np.flatnonzero(~simple)
    if hard.size:
        sel = ~in_simple
        h_lab, h_ti, h_oj, h_c = label[sel], ti[sel], oj[sel], cost[sel]
        order = np.argsort(h_lab, kind="stable")
        h_lab, h_ti, h_oj, h_c = h_lab[order], h_ti[order], h_oj[order], h_c[order]
        bounds = np.flatnonzero(np.r_[True, h_lab[1:] != h_lab[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            t_u, t_loc = np.unique(h_ti[a:b], return_inverse=True)
            o_u, o_loc = np.unique(h_oj[a:b], return_inverse=True)
            mat = np.full((t_u.size, o_u.size + t_u.size), _BIG)
            mat[t_loc, o_loc] = h_c[a:b]
            mat[np.arange(t_u.size), o_u.size + np.arange(t_u.size)] = miss_cost
            rows, cols = linear_sum_assignment(mat)
            real = (cols < o_u.size) & (mat[rows, cols] < _BIG)
            out_t.append(t_u[rows[real]])
            out_o.append(o_u[cols[real]])
    return np.concatenate(out_t).astype(np.intp), np.concatenate(out_o).astype(np.intp)


def _one_value(idx: IntArray) -> bool:
    """True if every entry is the same index."""
    return bool(idx[0] == idx.min() == idx.max())


def _all_distinct(idx: IntArray, size: int) -> bool:
    """True if no index repeats (a bincount is cheaper than ``np.unique`` for this)."""
    return idx.size <= 1 or int(np.bincount(idx, minlength=1).max()) <= 1
