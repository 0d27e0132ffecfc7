"""Class fusion from sensor evidence."""

from __future__ import annotations

import numpy as np

from fusion.classification import fuse, labels, observation_loglik


def test_evidence_accumulates_and_conflicts_resolve_by_weight() -> None:
    ll = np.zeros((1, 5))
    ll = fuse(ll, observation_loglik("seismic", {"seismic_kind": "footstep"}))
    assert labels(ll) == ["person"] or labels(ll) == ["unknown"]
    for _ in range(3):
        ll = fuse(ll, observation_loglik("thermal", {"class": "vehicle", "confidence": 0.9}))
    assert labels(ll) == ["vehicle"]
    assert labels(fuse(np.zeros((1, 5)), observation_loglik("ais", {}))) == ["boat"]
    assert labels(np.zeros((1, 5))) == ["unknown"]
