"""Geodesy against Vincenty's inverse formula (an independent closed-form reference)."""

from __future__ import annotations

import math

import numpy as np

from fusion.geodesy import LocalFrame, polar_covariance_en

A, F = 6378137.0, 1 / 298.257223563
B = A * (1 - F)


def vincenty_inverse(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Geodesic distance (m) and initial azimuth (deg) on WGS84 (Vincenty 1975)."""
    u1 = math.atan((1 - F) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - F) * math.tan(math.radians(lat2)))
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    for _ in range(200):
        sl, cl = math.sin(lam), math.cos(lam)
        sin_s = math.hypot(
            math.cos(u2) * sl, math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * cl
        )
        cos_s = math.sin(u1) * math.sin(u2) + math.cos(u1) * math.cos(u2) * cl
        sigma = math.atan2(sin_s, cos_s)
        sin_a = math.cos(u1) * math.cos(u2) * sl / sin_s
        cos2a = 1 - sin_a**2
        c2sm = cos_s - 2 * math.sin(u1) * math.sin(u2) / cos2a
        c = F / 16 * cos2a * (4 + F * (4 - 3 * cos2a))
        lam_new = big_l + (1 - c) * F * sin_a * (
            sigma + c * sin_s * (c2sm + c * cos_s * (-1 + 2 * c2sm**2))
        )
        if abs(lam_new - lam) < 1e-13:
            lam = lam_new
            break
        lam = lam_new
    u_sq = cos2a * (A**2 - B**2) / B**2
    k_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    k_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    d_sigma = (
        k_b
        * sin_s
        * (
            c2sm
            + k_b
            / 4
            * (
                cos_s * (-1 + 2 * c2sm**2)
                - k_b / 6 * c2sm * (-3 + 4 * sin_s**2) * (-3 + 4 * c2sm**2)
            )
        )
    )
    dist = B * k_a * (sigma - d_sigma)
    az = math.atan2(
        math.cos(u2) * math.sin(lam),
        math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * math.cos(lam),
    )
    return dist, math.degrees(az) % 360


def test_local_frame_matches_vincenty_within_half_a_metre_at_50_km() -> None:
    rng = np.random.default_rng(3)
    for lat0, lon0 in [(51.5, 23.6), (0.5, 10.0), (64.0, 29.0)]:
        frame = LocalFrame(lat0, lon0)
        lat = lat0 + rng.uniform(-0.45, 0.45, 40)
        lon = lon0 + rng.uniform(-0.7, 0.7, 40)
        e, n = frame.to_en(lat, lon)
        for k in range(lat.size):
            dist, az = vincenty_inverse(lat0, lon0, float(lat[k]), float(lon[k]))
            if dist > 50_000:
                continue
            ref_e = dist * math.sin(math.radians(az))
            ref_n = dist * math.cos(math.radians(az))
            assert math.hypot(e[k] - ref_e, n[k] - ref_n) < 0.5


def test_round_trip_is_sub_millimetre() -> None:
    frame = LocalFrame(51.5, 23.6)
    e = np.linspace(-50_000, 50_000, 21)
    n = np.linspace(40_000, -40_000, 21)
    lat, lon = frame.to_latlon(e, n)
    e2, n2 = frame.to_en(lat, lon)
    assert np.max(np.hypot(e2 - e, n2 - n)) < 1e-3


def test_polar_covariance_carries_through_the_frame() -> None:
    """A covariance defined at a far sensor, rotated into the frame, keeps its eigenvalues
    and points its long axis along the bearing as seen in the sector frame."""
    frame = LocalFrame(51.5, 23.6)
    cov = polar_covariance_en(10_000.0, 90.0, 10.0, 1.0)  # cross-range along north
    rot = frame.rotation_en(51.5, 24.3)  # a sensor ~48 km east
    cov_f = rot @ cov @ rot.T
    assert np.allclose(np.linalg.eigvalsh(cov_f), np.linalg.eigvalsh(cov))
    # meridian convergence: angle between the sensor's north and the frame's north
    e0, n0 = frame.to_en(51.5, 24.3)
    e1, n1 = frame.to_en(51.51, 24.3)
    conv = math.atan2(e1 - e0, n1 - n0)
    major = np.linalg.eigh(cov_f)[1][:, 1]
    assert (
        abs(abs(math.atan2(major[0], major[1])) - abs(conv)) < 1e-3
        or abs(math.pi - abs(math.atan2(major[0], major[1])) - abs(conv)) < 1e-3
    )
    assert abs(conv) > 1e-3  # the test would be vacuous without convergence


def test_fast_inverse_is_within_a_micrometre_of_the_exact_one_over_a_sector() -> None:
    """``to_latlon``'s fitted polynomial against the exact iteration, ±50 km of the origin
    (a 20 km sector, its halo and its sensors' reach sit well inside), several latitudes."""
    from fusion.geodesy import _FIT_HALF_M, _inverse_fit

    rng = np.random.default_rng(11)
    m_per_deg = math.radians(1.0) * A
    for lat0, lon0 in [(51.5, 30.55), (0.5, 10.0), (-33.9, 18.4), (64.0, 29.0), (78.2, 15.6)]:
        frame = LocalFrame(lat0, lon0)
        fit = _inverse_fit(lat0, lon0)
        assert fit is not None and fit.sx == _FIT_HALF_M  # the fast path is in use
        e = np.r_[rng.uniform(-50_000, 50_000, 4000), -50_000, 50_000, 50_000, 0.0, 1.0]
        n = np.r_[rng.uniform(-50_000, 50_000, 4000), -50_000, 50_000, -50_000, 0.0, 0.0]
        lat, lon = frame.to_latlon(e, n)
        ref_lat, ref_lon = frame.to_latlon_exact(e, n)
        err = np.hypot((lat - ref_lat) * m_per_deg,
                       (lon - ref_lon) * m_per_deg * np.cos(np.radians(ref_lat)))
        assert err.max() < 1e-6, (lat0, err.max())
        # and it still inverts to_en to the exact inverse's own round-trip accuracy
        e2, n2 = frame.to_en(lat, lon)
        assert np.max(np.hypot(e2 - e, n2 - n)) < 1e-6


def test_fast_inverse_falls_back_to_the_exact_one_outside_its_square_and_near_a_pole() -> None:
    from fusion.geodesy import _inverse_fit

    frame = LocalFrame(51.5, 30.55)
    e = np.array([10.0, 80_000.0, np.nan, -120_000.0])
    n = np.array([20.0, 0.0, 5.0, 30_000.0])
    lat, lon = frame.to_latlon(e, n)
    ref_lat, ref_lon = frame.to_latlon_exact(e, n)
    assert np.array_equal(lat[1:], ref_lat[1:], equal_nan=True)  # bit for bit: same iteration
    assert np.array_equal(lon[1:], ref_lon[1:], equal_nan=True)
    assert abs(lat[0] - ref_lat[0]) < 1e-12
    # shapes as before: scalars give 0-d arrays, broadcasting works
    la, lo = frame.to_latlon(100.0, 200.0)
    assert la.shape == () and abs(float(la) - float(frame.to_latlon_exact(100.0, 200.0)[0])) < 1e-12
    assert frame.to_latlon(np.zeros((2, 3)), 1.0)[0].shape == (2, 3)
    # near the pole the fit cannot reach a micrometre over 50 km: it shrinks, or is not used
    polar = _inverse_fit(89.9, 0.0)
    assert polar is None or polar.sx < 50_000
    pf = LocalFrame(89.9, 0.0)
    e = np.linspace(-40_000, 40_000, 9)
    assert np.allclose(pf.to_en(*pf.to_latlon(e, e))[0], e, atol=1e-6)


def test_fast_inverse_keeps_longitudes_wrapped_at_the_antimeridian() -> None:
    """A square across ±180° cannot be one polynomial: the fit check shrinks or drops it."""
    rng = np.random.default_rng(5)
    e, n = rng.uniform(-50_000, 50_000, 2000), rng.uniform(-50_000, 50_000, 2000)
    for lon0 in (179.9, 180.0, -179.95):
        frame = LocalFrame(51.5, lon0)
        lat, lon = frame.to_latlon(e, n)
        ref_lat, ref_lon = frame.to_latlon_exact(e, n)
        assert np.all((lon > -180) & (lon <= 180))
        assert np.abs(lon - ref_lon).max() < 1e-12 and np.abs(lat - ref_lat).max() < 1e-12
