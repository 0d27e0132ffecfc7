"""GOSPA and continuity on hand-checkable cases."""

from __future__ import annotations

import numpy as np

from fusion.metrics import assign_ids, continuity, gospa, sparse_gospa


def test_gospa_perfect_and_empty() -> None:
    x = np.array([[0.0, 0.0], [100.0, 0.0]])
    assert gospa(x, x).distance == 0.0
    # two missed targets: sqrt(2 * c^2 / 2) = c
    g = gospa(x, np.empty((0, 2)), c=10.0)
    assert np.isclose(g.distance, 10.0) and g.missed == 2 and g.false == 0


def test_gospa_hand_case() -> None:
    truth = np.array([[0.0, 0.0], [50.0, 0.0]])
    tracks = np.array([[3.0, 4.0], [500.0, 0.0]])  # one at 5 m, one false, one missed
    g = gospa(truth, tracks, c=10.0, p=2.0, alpha=2.0)
    assert g.missed == 1 and g.false == 1 and np.isclose(g.localisation, 25.0)
    assert np.isclose(g.distance, np.sqrt(25.0 + 100.0 / 2 * 2))


def test_sparse_gospa_equals_dense() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 2000, (300, 2))
    tracks = np.vstack([truth[:250] + rng.normal(0, 20, (250, 2)), rng.uniform(0, 2000, (30, 2))])
    a, b = gospa(truth, tracks, c=100.0), sparse_gospa(truth, tracks, c=100.0)
    assert np.isclose(a.distance, b.distance) and (a.missed, a.false) == (b.missed, b.false)


def test_continuity_counts_switch_and_fragment() -> None:
    scans = [{"A": "T1"}, {"A": "T1"}, {"A": None}, {"A": "T1"}, {"A": "T2"}]
    c = continuity(scans)
    assert c.id_switches == 1 and c.fragmentations == 1 and c.mean_tracks_per_target == 2.0


def test_assign_ids_pairs_within_cutoff() -> None:
    out = assign_ids(
        np.array([[0.0, 0.0], [1000.0, 0.0]]), ["A", "B"], np.array([[2.0, 0.0]]), ["T9"], c=100.0
    )
    assert out == {"A": "T9", "B": None}
