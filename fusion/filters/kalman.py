"""The Kalman update step, batched over tracks."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def inv2(s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Closed-form inverse and determinant of a stack of 2×2 matrices (k, 2, 2).

    ``np.linalg.inv`` on thousands of 2×2 blocks spends most of its time in dispatch.
    """
    a, b, c, d = s[:, 0, 0], s[:, 0, 1], s[:, 1, 0], s[:, 1, 1]
    det = a * d - b * c
    inv = np.empty_like(s)
    inv[:, 0, 0] = d / det
    inv[:, 0, 1] = -b / det
    inv[:, 1, 0] = -c / det
    inv[:, 1, 1] = a / det
    return inv, det


def mahalanobis2(y: FloatArray, s_inv: FloatArray) -> FloatArray:
    """Squared Mahalanobis distances y^T S^-1 y for stacks y (k, 2), S^-1 (k, 2, 2)."""
    return np.einsum("ki,kij,kj->k", y, s_inv, y)


def kalman_update(
    x: FloatArray, p: FloatArray, y: FloatArray, h: FloatArray, s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Posterior states and covariances given innovations y, Jacobians H and covariances S.

    Uses the Joseph-free form P - K S K^T, then symmetrises: cheaper than Joseph and, with
    the 2-D measurements here, numerically sound in float64.
    """
    s_inv, _ = inv2(s)
    k_gain = p @ np.swapaxes(h, 1, 2) @ s_inv  # (k, 4, 2)
    x_new = x + np.einsum("kij,kj->ki", k_gain, y)
    p_new = p - k_gain @ s @ np.swapaxes(k_gain, 1, 2)
    p_new = 0.5 * (p_new + np.swapaxes(p_new, 1, 2))
    return x_new, p_new
