"""Split gated pairs into independent groups (connected components of the gate graph)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IntArray = NDArray[np.intp]


def cluster_pairs(ti: IntArray, oj: IntArray, n_tracks: int, n_obs: int) -> IntArray:
    """Component label of every pair; pairs sharing a track or an observation share a label.

    The graph is bipartite (tracks are nodes 0..n-1, observations n..n+m-1) and sparse, so
    the cost is linear in the number of gated pairs.
    """
    if ti.size == 0:
        return np.empty(0, dtype=np.intp)
    size = n_tracks + n_obs
    graph = coo_matrix((np.ones(ti.size), (ti, oj + n_tracks)), shape=(size, size)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels[ti].astype(np.intp)
