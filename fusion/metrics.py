"""Tracking quality: GOSPA (Rahmathullah, García-Fernández, Svensson 2017) and continuity.

GOSPA with α = 2 splits into localisation error, missed targets and false tracks, which is
what an operator needs to tell "the tracks wobble" from "the tracker loses people".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


@dataclass(frozen=True)
class Gospa:
    """GOSPA distance and its parts (each part is in distance^p units before the 1/p root)."""

    distance: float
    localisation: float
    missed: int
    false: int


def gospa(
    truth: ArrayLike, tracks: ArrayLike, c: float = 100.0, p: float = 2.0, alpha: float = 2.0
) -> Gospa:
    """GOSPA between two point sets (rows are positions, any dimension).

    d = (min_assignment Σ min(d, c)^p + c^p/α · (#unassigned))^(1/p). For α = 2 the optimal
    assignment only pairs points closer than c, so the terms split into localisation,
    missed (truth unassigned) and false (track unassigned).
    """
    x = np.asarray(truth, float).reshape(-1, np.shape(truth)[-1] if np.ndim(truth) > 1 else 2)
    y = np.asarray(tracks, float).reshape(-1, x.shape[1])
    m, n = x.shape[0], y.shape[0]
    if m == 0 or n == 0:
        total = c**p / alpha * (m + n)
        return Gospa(total ** (1 / p), 0.0, m, n)
    d = np.minimum(cdist(x, y), c) ** p
    rows, cols = linear_sum_assignment(d)
    cost = d[rows, cols]
    if alpha == 2.0:
        real = cost < c**p  # pairs at the cut-off count as a miss plus a false track
        loc = float(cost[real].sum())
        k = int(real.sum())
        missed, false = m - k, n - k
        total = loc + c**p / 2.0 * (missed + false)
    else:
        loc = float(cost.sum())
        missed, false = max(m - n, 0), max(n - m, 0)
        total = loc + c**p / alpha * abs(m - n)
    return Gospa(float(total ** (1 / p)), loc, missed, false)


def sparse_gospa(truth: np.ndarray, tracks: np.ndarray, c: float = 100.0, p: float = 2.0) -> Gospa:
    """GOSPA (α = 2) for thousands of points: pairs closer than c found with a k-d tree.

    With α = 2 only pairs within c can be assigned, so the assignment splits into the
    connected components of the "within c" graph, each solved exactly.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    m, n = len(truth), len(tracks)
    if m == 0 or n == 0:
        return gospa(truth, tracks, c, p, 2.0)
    pairs = cKDTree(truth).sparse_distance_matrix(cKDTree(tracks), c, output_type="coo_matrix")
    ti, tj = pairs.row, pairs.col
    if ti.size == 0:
        return Gospa(float((c**p / 2 * (m + n)) ** (1 / p)), 0.0, m, n)
    g = coo_matrix((np.ones(ti.size), (ti, tj + m)), shape=(m + n, m + n))
    _, lab = connected_components(g, directed=False)
    loc, k = 0.0, 0
    order = np.argsort(lab[ti], kind="stable")
    ti, tj = ti[order], tj[order]
    labs = lab[ti]
    bounds = np.flatnonzero(np.r_[True, labs[1:] != labs[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        xs, xl = np.unique(ti[a:b], return_inverse=True)
        ys, yl = np.unique(tj[a:b], return_inverse=True)
        sub = np.minimum(cdist(truth[xs], tracks[ys]), c) ** p
        r, cc = linear_sum_assignment(sub)
        cost = sub[r, cc]
        real = cost < c**p
        loc += float(cost[real].sum())
        k += int(real.sum())
    missed, false = m - k, n - k
    total = loc + c**p / 2.0 * (missed + false)
    return Gospa(float(total ** (1 / p)), loc, missed, false)


@dataclass(frozen=True)
class Continuity:
    """Track-continuity figures over a run."""

    id_switches: int  # a truth target's assigned track id changed from one scan to the next
    fragmentations: int  # a truth target went from tracked to untracked and back
    mean_tracks_per_target: float  # distinct track ids ever assigned to a target


def continuity(
    assignments: Sequence[dict[str, str | None]],
) -> Continuity:
    """Continuity from per-scan assignments ``{truth_id: track_id or None}`` (e.g. GOSPA pairs).

    A switch counts when a target goes from track A straight to track B (B ≠ A); a
    fragmentation when its track coverage is interrupted and later resumes.
    """
    last: dict[str, str] = {}
    state: dict[str, bool] = {}
    gap: dict[str, bool] = {}
    ids: dict[str, set[str]] = {}
    switches = frags = 0
    for scan in assignments:
        for target, track in scan.items():
            if track is None:
                if state.get(target):
                    gap[target] = True
                state[target] = False
                continue
            ids.setdefault(target, set()).add(track)
            if target in last and last[target] != track:
                switches += 1
            if gap.get(target):
                frags += 1
                gap[target] = False
            last[target] = track
            state[target] = True
    mean = float(np.mean([len(v) for v in ids.values()])) if ids else 0.0
    return Continuity(switches, frags, mean)


def assign_ids(
    truth: np.ndarray,
    truth_ids: Sequence[str],
    tracks: np.ndarray,
    track_ids: Sequence[str],
    c: float = 100.0,
) -> dict[str, str | None]:
    """The GOSPA pairing of one scan as ``{truth_id: track_id or None}`` (for ``continuity``)."""
    out: dict[str, str | None] = {t: None for t in truth_ids}
    if len(truth) == 0 or len(tracks) == 0:
        return out
    d = np.minimum(cdist(truth, tracks), c)
    r, cc = linear_sum_assignment(d)
    for i, j in zip(r.tolist(), cc.tolist(), strict=True):
        if d[i, j] < c:
            out[truth_ids[i]] = track_ids[j]
    return out
