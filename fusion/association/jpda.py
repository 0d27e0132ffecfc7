"""Cheap JPDA (Fitzgerald 1990): marginal association weights without hypothesis enumeration.

beta_ij = g_ij / (sum_j g_ij + sum_i g_ij - g_ij + B), where g_ij is the pair likelihood
over the clutter density. Vectorised over gated pairs; good in moderate clutter where
exact JPDA would be exponential.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.intp]


def jpda_weights(
    ti: IntArray,
    oj: IntArray,
    d2: NDArray[np.float64],
    det_s: NDArray[np.float64],
    n_tracks: int,
    n_obs: int,
    pd: float,
    clutter_density: float,
    b: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pair weights beta (k,) and per-track "no detection" weight beta0 (n_tracks,)."""
    g = pd * np.exp(-0.5 * d2) / (2.0 * np.pi * np.sqrt(det_s)) / max(clutter_density, 1e-30)
    bias = (1.0 - pd) if b is None else b
    g_t = np.bincount(ti, weights=g, minlength=n_tracks)
    g_o = np.bincount(oj, weights=g, minlength=n_obs)
    beta = g / (g_t[ti] + g_o[oj] - g + bias)
    sum_beta = np.bincount(ti, weights=beta, minlength=n_tracks)
    # normalise per track so weights with beta0 sum to one
    beta0 = bias / (g_t + bias)
    scale = np.where(sum_beta > 0, (1.0 - beta0) / np.maximum(sum_beta, 1e-300), 0.0)
    return beta * scale[ti], np.asarray(beta0, dtype=np.float64)
