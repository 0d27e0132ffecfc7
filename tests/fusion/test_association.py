"""Gating at the chi-square bound; GNN against brute force; clustering; cheap JPDA."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import chi2

from fusion.association import candidate_pairs, chi2_gate, cluster_pairs, gnn_assign, jpda_weights


def test_chi2_gate_bound() -> None:
    g = chi2_gate(0.99)
    assert np.isclose(g, 9.2103, atol=1e-3)
    assert np.isclose(chi2.cdf(g, 2), 0.99)


def test_tracker_gate_admits_exactly_up_to_the_bound() -> None:
    from fusion.tracker import SectorTracker, TrackerConfig
    from fusion.tracking.observations import ObservationArrays

    cfg = TrackerConfig(gate_probability=0.99, init_exclude_gated=False, adaptive=False)
    gate = chi2_gate(0.99)
    for factor, expect_update in [(0.99, True), (1.01, False)]:
        tr = SectorTracker("S", 50.0, 24.0, cfg)
        tr.process_arrays(ObservationArrays.positions(np.array([0.0]), [0.0], [0.0], 10.0))
        # S at t=0 for a new track: P_pos (100) + R (100) = 200 per axis
        d = np.sqrt(factor * gate * 200.0)
        tr.process_arrays(ObservationArrays.positions(np.array([0.0]), [d], [0.0], 10.0))
        assert (len(tr.tracks) == 1) is expect_update
        assert tr.tracks.hits[0] == (2 if expect_update else 1)


def test_candidate_pairs_finds_all_within_radius() -> None:
    rng = np.random.default_rng(0)
    trk = rng.uniform(0, 1000, (200, 2))
    obs = rng.uniform(0, 1000, (150, 2))
    ti, oj = candidate_pairs(trk, obs, 50.0, max_candidates=200)
    d = np.linalg.norm(trk[:, None] - obs[None], axis=-1)
    assert set(zip(ti.tolist(), oj.tolist(), strict=True)) == {
        (int(a), int(b)) for a, b in np.argwhere(d < 50.0)
    }


def _brute(ti, oj, cost, miss):
    pairs = list(zip(ti.tolist(), oj.tolist(), cost.tolist(), strict=True))
    best = (0.0, ())
    tracks = sorted(set(ti.tolist()))
    best_cost = miss * len(tracks)
    for r in range(1, len(pairs) + 1):
        for combo in itertools.combinations(pairs, r):
            ts = [c[0] for c in combo]
            os_ = [c[1] for c in combo]
            if len(set(ts)) < r or len(set(os_)) < r:
                continue
            total = sum(c[2] for c in combo) + miss * (len(tracks) - r)
            if total < best_cost - 1e-12:
                best_cost, best = total, combo
    return best_cost, best


@pytest.mark.parametrize("seed", range(25))
def test_gnn_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 5), rng.integers(1, 5)
    mask = rng.random((n, m)) < 0.6
    ti, oj = np.nonzero(mask)
    cost = rng.uniform(0, 10, ti.size)
    miss = 7.0
    at, ao = gnn_assign(ti.astype(np.intp), oj.astype(np.intp), cost, n, m, miss)
    assert len(set(at.tolist())) == at.size and len(set(ao.tolist())) == ao.size
    lookup = {(a, b): c for a, b, c in zip(ti.tolist(), oj.tolist(), cost.tolist(), strict=True)}
    got = sum(lookup[(a, b)] for a, b in zip(at.tolist(), ao.tolist(), strict=True))
    got += miss * (len(set(ti.tolist())) - at.size)
    want, _ = _brute(ti, oj, cost, miss)
    assert np.isclose(got, want)


def test_clusters_are_independent_groups() -> None:
    ti = np.array([0, 1, 1, 3, 4])
    oj = np.array([0, 0, 1, 2, 2])
    lab = cluster_pairs(ti, oj, 5, 3)
    assert lab[0] == lab[1] == lab[2] and lab[3] == lab[4] and lab[0] != lab[3]


def test_cheap_jpda_weights_sum_to_one_and_favour_the_closer_detection() -> None:
    ti = np.array([0, 0])
    oj = np.array([0, 1])
    beta, beta0 = jpda_weights(
        ti, oj, np.array([0.5, 4.0]), np.array([100.0, 100.0]), 1, 2, pd=0.9, clutter_density=1e-5
    )
    assert np.isclose(beta.sum() + beta0[0], 1.0)
    assert beta[0] > beta[1] > 0


@pytest.mark.parametrize("seed", range(6))
def test_small_input_paths_match_the_tree_and_graph_paths(seed: int) -> None:
    """Brute-force k-nearest and label-propagation components give the same answers."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    from fusion.association.clustering import _propagate
    from fusion.association.gating import _dense_pairs

    rng = np.random.default_rng(seed)
    tracks, obs = rng.uniform(0, 300, (40, 2)), rng.uniform(0, 300, (12, 2))
    dt, do = _dense_pairs(tracks, obs, 5, 60.0)
    ref_d, ref_i = cKDTree(tracks).query(obs, k=5, distance_upper_bound=60.0)
    ok = np.isfinite(ref_d)  # the tree's pairs, row by row, nearest first
    assert dt.size > 0
    assert np.array_equal(dt, ref_i[ok]) and np.array_equal(do, np.nonzero(ok)[0])
    ti, oj = candidate_pairs(tracks, obs, 60.0, 5)
    a = _propagate(ti, oj)
    g = coo_matrix((np.ones(ti.size), (ti, oj + 40)), shape=(52, 52))
    ref = connected_components(g, directed=False)[1][ti]
    # same partition: pairs share a label in one iff they do in the other
    assert np.array_equal(a[:, None] == a[None, :], ref[:, None] == ref[None, :])


def test_gnn_fast_path_for_disjoint_pairs() -> None:
    ti, oj = np.array([3, 0, 7]), np.array([1, 2, 0])
    at, ao = gnn_assign(ti, oj, np.array([1.0, 2.0, 50.0]), 8, 3, miss_cost=10.0)
    assert sorted(zip(at.tolist(), ao.tolist(), strict=True)) == [(0, 2), (3, 1)]


def test_dense_pairs_keep_the_k_nearest_within_the_radius_ties_to_the_lower_index() -> None:
    """Brute-force gating as the stable sort of every row did: k nearest, ties by index."""
    from fusion.association.gating import _dense_pairs

    tracks = np.array([[0.0, 10.0], [10.0, 0.0], [0.0, -10.0], [5.0, 0.0], [np.nan, 0.0],
                       [0.0, 40.0], [500.0, 500.0]])
    obs = np.array([[0.0, 0.0], [0.0, 40.0], [1000.0, 1000.0]])
    ti, oj = _dense_pairs(tracks, obs, 3, 30.0)
    # obs 0: track 3 (5 m), then 0, 1, 2 tie at 10 m -> 0 and 1; obs 1: track 5, then 0 (30 m)
    assert ti.tolist() == [3, 0, 1, 5, 0] and oj.tolist() == [0, 0, 0, 1, 1]
    ti, oj = _dense_pairs(tracks, obs, 3, 29.9)
    assert ti.tolist() == [3, 0, 1, 5]


@pytest.mark.parametrize("seed", range(4))
def test_dense_pairs_of_one_plot_match_the_general_path(seed: int) -> None:
    """The one-observation path (a geophone's event) gives the rows' answer exactly: the
    same k nearest, same order, ties (here many: integer positions) to the lower index."""
    from fusion.association.gating import _dense_pairs

    rng = np.random.default_rng(seed)
    tracks = np.round(rng.uniform(0, 60, (300, 2)))
    tracks[rng.integers(0, 300, 20)] = tracks[0]  # exact ties in distance
    tracks[5] = np.nan
    for _ in range(40):
        one = np.round(rng.uniform(0, 60, (1, 2)))
        radius = float(rng.uniform(1, 40))
        ti, oj = _dense_pairs(tracks, one, 8, radius)
        ref_t, ref_o = _dense_pairs(tracks, np.vstack([one, one]), 8, radius)  # general path
        assert ti.tolist() == ref_t[ref_o == 0].tolist()
        assert oj.tolist() == [0] * ti.size
        assert ti.dtype == ref_t.dtype and oj.dtype == ref_o.dtype


def test_gnn_one_observation_or_one_track_takes_the_cheapest_pair_first_of_ties() -> None:
    """A single contested group solved without clustering: the cheapest pair, the first of
    equal costs, pairs at or above the miss cost never taken."""
    ti, oj = np.array([4, 2, 9, 7]), np.array([0, 0, 0, 0])
    at, ao = gnn_assign(ti, oj, np.array([3.0, 1.0, 1.0, 0.5]), 10, 1, miss_cost=0.9)
    assert at.tolist() == [7] and ao.tolist() == [0]
    at, ao = gnn_assign(ti, oj, np.array([3.0, 1.0, 1.0, 5.0]), 10, 1, miss_cost=4.0)
    assert at.tolist() == [2] and ao.tolist() == [0]  # tie 1.0: the first pair
    at, ao = gnn_assign(np.array([3, 3, 3]), np.array([2, 0, 1]), np.array([2.0, 1.5, 1.5]),
                        5, 3, miss_cost=9.0)
    assert at.tolist() == [3] and ao.tolist() == [0]
    at, ao = gnn_assign(ti, oj, np.array([3.0, 1.0, 1.0, 5.0]), 10, 1, miss_cost=0.5)
    assert at.size == 0 and ao.size == 0
