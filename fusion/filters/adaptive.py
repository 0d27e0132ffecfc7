"""Manoeuvre-adaptive process noise: a per-track scale on q driven by the innovation test.

A boat that turns or a person who stops produces normalised innovations (NIS) far above
their chi-square expectation; inflating q for that track lets the filter follow within a
scan or two, and the scale decays back once the track behaves. A cheap, vectorised stand-in
for a two-model IMM (same effect on "quiet" vs "manoeuvring" regimes, one state per track).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def adapt_q_scale(
    scale: FloatArray,
    nis: FloatArray,
    threshold: float,
    grow: float = 10.0,
    decay: float = 0.85,
    max_scale: float = 1000.0,
) -> FloatArray:
    """New q scales after updates with normalised innovation squared ``nis`` (same shape)."""
    grown = np.minimum(scale * grow, max_scale)
    relaxed = np.maximum(scale * decay, 1.0)
    return np.where(nis > threshold, grown, relaxed)
