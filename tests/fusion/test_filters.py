"""Batched Kalman filter against the closed form and against a plain per-track loop."""

from __future__ import annotations

import numpy as np

from fusion.filters.kalman import inv2, kalman_update
from fusion.filters.measurement import POLAR, POSITION, MeasurementBatch, innovations
from fusion.filters.motion import ncv_predict, ncv_process_noise, ncv_transition


def _meas(z, r, model=POSITION, sensor=(0.0, 0.0)):
    k = len(z)
    return MeasurementBatch(
        np.asarray(z, float),
        np.asarray(z, float),
        np.asarray(r, float),
        np.full(k, model, np.int8),
        np.tile(sensor, (k, 1)),
        np.zeros(k),
    )


def test_predict_matches_f_p_ft_plus_q() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4, 4))
    p = a @ np.swapaxes(a, 1, 2) + np.eye(4)
    x = rng.normal(size=(5, 4))
    dt = rng.uniform(0, 3, 5)
    xp, pp = ncv_predict(x, p, dt, 0.3)
    f, q = ncv_transition(dt), ncv_process_noise(dt, 0.3)
    assert np.allclose(xp, np.einsum("kij,kj->ki", f, x))
    assert np.allclose(pp, f @ p @ np.swapaxes(f, 1, 2) + q)
    # Q(dt) closed form for one axis: q [[dt^3/3, dt^2/2], [dt^2/2, dt]]
    assert np.isclose(q[0, 0, 0], 0.3 * dt[0] ** 3 / 3) and np.isclose(
        q[0, 0, 2], 0.3 * dt[0] ** 2 / 2
    )


def test_scalar_position_update_closed_form() -> None:
    """Position variance σp², measurement σr²: gain σp²/(σp²+σr²) per axis."""
    x = np.array([[0.0, 0.0, 1.0, -1.0]])
    p = np.diag([100.0, 100.0, 4.0, 4.0])[None]
    y, h, s = innovations(x, p, _meas([[10.0, -20.0]], [np.eye(2) * 25.0]))
    xu, pu = kalman_update(x, p, y, h, s)
    g = 100.0 / 125.0
    assert np.allclose(xu[0, :2], [10.0 * g, -20.0 * g])
    assert np.allclose(xu[0, 2:], [1.0, -1.0])  # no position-velocity correlation → no change
    assert np.allclose(np.diag(pu[0])[:2], 100.0 * (1 - g))


def test_single_target_converges_to_steady_state_of_riccati() -> None:
    """A long NCV run's covariance equals the discrete Riccati fixed point (scipy)."""
    from scipy.linalg import solve_discrete_are

    q, r = 0.05, 25.0
    f = ncv_transition(1.0)[0]
    qm = ncv_process_noise(1.0, q)[0]
    hm = np.zeros((2, 4))
    hm[0, 0] = hm[1, 1] = 1
    pred = solve_discrete_are(f.T, hm.T, qm, np.eye(2) * r)  # steady predicted covariance
    x = np.zeros((1, 4))
    p = np.eye(4)[None] * 1e4
    rng = np.random.default_rng(1)
    for _ in range(200):
        x, p = ncv_predict(x, p, 1.0, q)
        y, h, s = innovations(x, p, _meas(rng.normal(0, 5, (1, 2)), [np.eye(2) * r]))
        x, p = kalman_update(x, p, y, h, s)
    xp, pp = ncv_predict(x, p, 1.0, q)
    assert np.allclose(pp[0], pred, rtol=1e-6)


def test_polar_ekf_jacobian_matches_finite_differences() -> None:
    x = np.array([[3000.0, 4000.0, 2.0, 1.0]])
    p = np.eye(4)[None] * 10.0
    meas = _meas([[5000.0, np.arctan2(3000.0, 4000.0)]], [np.diag([100.0, 1e-6])], POLAR)
    y, h, _ = innovations(x, p, meas)
    assert np.allclose(y, 0.0, atol=1e-9)
    eps = 1e-3
    for i in range(2):
        dx = x.copy()
        dx[0, i] += eps
        y2, _, _ = innovations(dx, p, meas)
        assert np.allclose(-(y2 - y)[0] / eps, h[0, :, i], rtol=1e-4)


def test_inv2_matches_numpy() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(10, 2, 2))
    s = a @ np.swapaxes(a, 1, 2) + np.eye(2)
    inv, det = inv2(s)
    assert np.allclose(inv, np.linalg.inv(s)) and np.allclose(det, np.linalg.det(s))
