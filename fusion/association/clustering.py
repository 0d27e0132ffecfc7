"""Split gated pairs into independent groups (connected components of the gate graph)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IntArray = NDArray[np.intp]
_SMALL = 256  # below this many pairs, label propagation beats building a sparse graph


def cluster_pairs(ti: IntArray, oj: IntArray, n_tracks: int, n_obs: int) -> IntArray:
    """Component label of every pair; pairs sharing a track or an observation share a label.

    The graph is bipartite (tracks are nodes 0..n-1, observations n..n+m-1) and sparse, so
    the cost is linear in the number of gated pairs.
    """
    if ti.size == 0:
        return np.empty(0, dtype=np.intp)
    if ti.size <= _SMALL:
        return _propagate(ti, oj)
    size = n_tracks + n_obs
    graph = coo_matrix((np.ones(ti.size), (ti, oj + n_tracks)), shape=(size, size)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels[ti].astype(np.intp)


def _propagate(ti: IntArray, oj: IntArray) -> IntArray:
    """Components by min-label propagation over the pairs (few rounds for small groups).

    Labels start as the pair index; each round every track and observation takes the
    smallest label of its pairs and every pair the smaller of its two ends, until stable.
    Returned labels are renumbered 0..k-1 in order of first appearance.
    """
    k = ti.size
    _, t_loc = np.unique(ti, return_inverse=True)
    _, o_loc = np.unique(oj, return_inverse=True)
    lab = np.arange(k)
    big = np.iinfo(np.int64).max
    while True:
        lt = np.full(int(t_loc.max()) + 1, big)
        lo = np.full(int(o_loc.max()) + 1, big)
        np.minimum.at(lt, t_loc, lab)
        np.minimum.at(lo, o_loc, lab)
        new = np.minimum(lt[t_loc], lo[o_loc])
        if np.array_equal(new, lab):
            break
        lab = new
    _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv].astype(np.intp)
