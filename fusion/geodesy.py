"""WGS84 ↔ local east/north on a tangent plane at a sector origin.

The map is azimuthal-equidistant-like: exact ENU through ECEF, then the horizontal part is
stretched so its length is the arc length on the osculating sphere at the origin (dropping
"up" alone, an orthographic map, shortens 50 km by half a metre). Distances and bearings
from the origin are then true to centimetres within 50 km (tested against Vincenty). The
inverse puts the point back on the ellipsoid by a short fixed-point iteration on "up", so
a round trip is sub-millimetre. Everything is vectorised over arrays of points.

``to_latlon`` runs on every tracker call's output and every geo-referenced scan, on a
handful of points, where its ~150 small NumPy operations (four iterations through ECEF)
cost more than the arithmetic. Within ``_FIT_HALF_M`` (50 km) of the origin it evaluates
instead a tensor polynomial fitted once per origin to the exact inverse and checked at fit
time against it to ``_FIT_TOL_M`` (a micrometre; in practice a few nanometres at mid
latitudes); points outside, and origins where the check fails (near the poles, across the
antimeridian), take the exact iteration (``to_latlon_exact``). ``to_en`` stays exact: its
~20 operations cost about what a polynomial does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

WGS84_A = 6_378_137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
WGS84_B = WGS84_A * (1.0 - WGS84_F)
WGS84_EP2 = (WGS84_A**2 - WGS84_B**2) / WGS84_B**2

FloatArray = NDArray[np.float64]


def geodetic_to_ecef(lat: ArrayLike, lon: ArrayLike, h: ArrayLike = 0.0) -> FloatArray:
    """Geodetic degrees (and metres above the ellipsoid) to ECEF metres, shape (..., 3)."""
    phi = np.radians(np.asarray(lat, dtype=float))
    lam = np.radians(np.asarray(lon, dtype=float))
    h = np.asarray(h, dtype=float)
    sin_phi = np.sin(phi)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_phi**2)
    x = (n + h) * np.cos(phi) * np.cos(lam)
    y = (n + h) * np.cos(phi) * np.sin(lam)
    z = (n * (1.0 - WGS84_E2) + h) * sin_phi
    if x.shape == y.shape == z.shape:  # the usual case: skip broadcast_arrays' overhead
        out = np.empty(x.shape + (3,))
        out[..., 0], out[..., 1], out[..., 2] = x, y, z
        return out
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF metres (..., 3) to geodetic degrees and height (Bowring, then one refinement)."""
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    p = np.hypot(x, y)
    theta = np.arctan2(z * WGS84_A, p * WGS84_B)
    phi = np.arctan2(
        z + WGS84_EP2 * WGS84_B * np.sin(theta) ** 3,
        p - WGS84_E2 * WGS84_A * np.cos(theta) ** 3,
    )
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(phi) ** 2)
    h = p / np.cos(phi) - n
    phi = np.arctan2(z, p * (1.0 - WGS84_E2 * n / (n + h)))
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(phi) ** 2)
    h = p / np.cos(phi) - n
    return np.degrees(phi), np.degrees(np.arctan2(y, x)), h


def _flat(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Two arrays as 1-d arrays of their broadcast shape, and that shape."""
    if a.ndim == 1 and a.shape == b.shape:
        return a, b, a.shape
    shape = np.broadcast_shapes(a.shape, b.shape)
    return np.broadcast_to(a, shape).ravel(), np.broadcast_to(b, shape).ravel(), shape


@dataclass(frozen=True)
class LocalFrame:
    """A tangent plane at (lat0, lon0): ``to_en`` and ``to_latlon`` are mutual inverses."""

    lat0: float
    lon0: float
    _origin: FloatArray = field(init=False, repr=False, compare=False)
    _rot: FloatArray = field(init=False, repr=False, compare=False)
    _radius: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        phi, lam = np.radians(self.lat0), np.radians(self.lon0)
        sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
        rot = np.array(
            [
                [-sl, cl, 0.0],  # east
                [-sp * cl, -sp * sl, cp],  # north
                [cp * cl, cp * sl, sp],  # up
            ]
        )
        object.__setattr__(self, "_origin", geodetic_to_ecef(self.lat0, self.lon0))
        object.__setattr__(self, "_rot", rot)
        # Gaussian mean radius of curvature sqrt(M N) at the origin
        w2 = 1.0 - WGS84_E2 * sp**2
        radius = WGS84_A * np.sqrt(1.0 - WGS84_E2) / w2
        object.__setattr__(self, "_radius", float(radius))

    def to_en(self, lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Degrees to east/north metres on the tangent plane (points on the ellipsoid)."""
        enu = (geodetic_to_ecef(lat, lon) - self._origin) @ self._rot.T
        rho = np.hypot(enu[..., 0], enu[..., 1])
        arc = self._radius * np.arctan2(rho, self._radius + enu[..., 2])
        scale = np.where(rho > 0, arc / np.where(rho > 0, rho, 1.0), 1.0)
        return enu[..., 0] * scale, enu[..., 1] * scale

    def to_latlon(self, east: ArrayLike, north: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """East/north metres back to degrees, on the ellipsoid surface.

        The fitted polynomial within ``_FIT_HALF_M`` of the origin (within ``_FIT_TOL_M`` of
        the exact inverse), the exact iteration elsewhere.
        """
        inv = _inverse_fit(float(self.lat0), float(self.lon0))
        if inv is None:
            return self.to_latlon_exact(east, north)
        e, n, shape = _flat(np.asarray(east, dtype=float), np.asarray(north, dtype=float))
        if inv.covers(e, n):
            lat, lon = inv.evaluate(e, n)
        else:  # some points outside the fitted square (or NaN): those take the iteration
            inside = inv.inside(e, n)
            lat, lon = np.empty(e.shape), np.empty(e.shape)
            if inside.any():
                lat[inside], lon[inside] = inv.evaluate(e[inside], n[inside])
            out = ~inside
            lat[out], lon[out] = self.to_latlon_exact(e[out], n[out])
        return lat.reshape(shape), lon.reshape(shape)

    def to_latlon_exact(self, east: ArrayLike, north: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The exact inverse of ``to_en`` (fixed-point iteration on "up" through ECEF)."""
        e = np.asarray(east, dtype=float)
        n = np.asarray(north, dtype=float)
        arc = np.hypot(e, n)
        safe = np.where(arc > 0, arc, 1.0)
        up = -(arc**2) / (2.0 * WGS84_A)
        for _ in range(4):
            # invert arc = R atan2(rho, R + up) for the plane length rho at this "up"
            rho = (self._radius + up) * np.tan(arc / self._radius)
            scale = np.where(arc > 0, rho / safe, 1.0)
            enu = np.stack(np.broadcast_arrays(e * scale, n * scale, up), axis=-1)
            lat, lon, h = ecef_to_geodetic(self._origin + enu @ self._rot)
            up = up - h
        return lat, lon

    def rotation_en(self, lat: ArrayLike, lon: ArrayLike) -> FloatArray:
        """2×2 rotations from a point's own local east/north axes into this frame's.

        Needed to carry a covariance defined at a sensor (its local east/north) into
        the sector frame; the meridian convergence is small but not zero far away.
        """
        return self.en_and_rotation(lat, lon)[2]

    def en_and_rotation(
        self, lat: ArrayLike, lon: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``to_en`` and ``rotation_en`` of the same points, sharing the ``to_en`` call."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        e0, n0 = self.to_en(lat, lon)
        step = 1e-5
        e1, n1 = self.to_en(lat, lon + step)
        angle = np.arctan2(n1 - n0, e1 - e0)
        c, s = np.cos(angle), np.sin(angle)
        rot = np.empty(np.shape(angle) + (2, 2))
        rot[..., 0, 0], rot[..., 0, 1], rot[..., 1, 0], rot[..., 1, 1] = c, -s, s, c
        return e0, n0, rot


_FIT_HALF_M = 50_000.0  # the polynomials cover ±50 km east and north of the origin
_FIT_DEGREE = 7  # per variable (tensor product): ~nm at 50 km, mid latitudes
_FIT_NODES = 12  # Chebyshev nodes per axis for the least-squares fit
_FIT_TOL_M = 1e-6  # the largest acceptable error against the exact conversion, metres
_FIT_POW_MAX = 16  # up to this many points, one ``**`` beats a cumulative product
_EXPONENTS = np.arange(_FIT_DEGREE + 1.0)


@dataclass(frozen=True)
class _Poly:
    """(a, b) = offset + Σ c_ij u^i v^j with u = x / sx, v = y / sy, |u|, |v| ≤ 1."""

    sx: float
    sy: float
    off_a: float
    off_b: float
    coef: FloatArray  # ((d+1)², 2): row i·(d+1)+j holds the coefficients of u^i v^j
    max_err_m: float  # against the exact conversion, on a grid twice as fine as the nodes

    def covers(self, x: FloatArray, y: FloatArray) -> bool:
        """All points inside the fitted box (False for any NaN)."""
        return bool(x.size) and bool(np.abs(x).max() <= self.sx and np.abs(y).max() <= self.sy)

    def inside(self, x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
        return (np.abs(x) <= self.sx) & (np.abs(y) <= self.sy)

    def evaluate(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """For 1-d arrays inside the box."""
        pu, pv = _powers(x / self.sx), _powers(y / self.sy)
        d1 = _FIT_DEGREE + 1
        out = (pu[:, :, None] * pv[:, None, :]).reshape(x.size, d1 * d1) @ self.coef
        return self.off_a + out[:, 0], self.off_b + out[:, 1]


def _powers(u: FloatArray) -> FloatArray:
    """(m, d+1) columns u^0 … u^d."""
    if u.size <= _FIT_POW_MAX:
        return u[:, None] ** _EXPONENTS
    out = np.empty((u.size, _FIT_DEGREE + 1))
    out[:, 0] = 1.0
    np.cumprod(np.broadcast_to(u[:, None], (u.size, _FIT_DEGREE)), axis=1, out=out[:, 1:])
    return out


def _fit(
    sx: float,
    sy: float,
    off: tuple[float, float],
    exact: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    metres: Callable[[FloatArray, FloatArray, FloatArray, FloatArray], FloatArray],
) -> _Poly:
    """Least squares of ``exact`` on a grid of Chebyshev nodes; the error measured on a finer
    grid that includes the box's edges and corners.

    On a tensor grid the least-squares coefficients are ``P Y Pᵀ`` with ``P`` the
    pseudo-inverse of the 1-d Vandermonde matrix (12 × 8): no large, threaded LAPACK call.
    """
    nodes = np.cos(np.pi * (np.arange(_FIT_NODES) + 0.5) / _FIT_NODES)
    u, v = (g.ravel() for g in np.meshgrid(nodes, nodes, indexing="ij"))
    a, b = exact(u * sx, v * sy)
    pinv = np.linalg.pinv(nodes[:, None] ** _EXPONENTS)
    grid = (_FIT_NODES, _FIT_NODES)
    coef = np.stack(
        [(pinv @ (y - o).reshape(grid) @ pinv.T).ravel() for y, o in ((a, off[0]), (b, off[1]))],
        -1,
    )
    poly = _Poly(sx, sy, off[0], off[1], coef, 0.0)
    check = np.linspace(-1.0, 1.0, 2 * _FIT_NODES + 1)
    cu, cv = (g.ravel() for g in np.meshgrid(check, check, indexing="ij"))
    ref_a, ref_b = exact(cu * sx, cv * sy)
    got_a, got_b = poly.evaluate(cu * sx, cv * sy)
    err = float(np.max(metres(got_a, got_b, ref_a, ref_b)))
    return _Poly(sx, sy, off[0], off[1], coef, err if np.isfinite(err) else np.inf)


@lru_cache(maxsize=4096)
def _inverse_fit(lat0: float, lon0: float) -> _Poly | None:
    """The polynomial inverse for a frame at (lat0, lon0), fitted once per origin.

    Checked against the exact inverse; if it misses ``_FIT_TOL_M`` (high latitudes, or a
    square across the antimeridian, where longitudes wrap) the extent is halved, and after three halvings the frame keeps the exact iteration (None).
    """
    frame = LocalFrame(lat0, lon0)
    m_per_deg = np.radians(1.0) * WGS84_A

    def error_m(lat: FloatArray, lon: FloatArray, rlat: FloatArray, rlon: FloatArray) -> FloatArray:
        return np.hypot(
            (lat - rlat) * m_per_deg, (lon - rlon) * m_per_deg * np.cos(np.radians(rlat))
        )

    half = _FIT_HALF_M
    for _ in range(4):
        inverse = _fit(half, half, (lat0, lon0), frame.to_latlon_exact, error_m)
        if inverse.max_err_m <= _FIT_TOL_M:
            return inverse
        half /= 2.0
    return None


@lru_cache(maxsize=4096)
def frame_at(lat0: float, lon0: float) -> LocalFrame:
    """A cached tangent plane: sensors sit still, so their frames are built once."""
    return LocalFrame(lat0, lon0)


def destination(
    lat: ArrayLike,
    lon: ArrayLike,
    range_m: ArrayLike,
    bearing_deg: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Point at ``range_m`` along true ``bearing_deg`` from (lat, lon), via the local plane.

    Exact to the tangent-plane approximation at the sensor, which for surveillance ranges
    (< 50 km) is far inside sensor noise.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    b = np.radians(np.asarray(bearing_deg, dtype=float))
    r = np.asarray(range_m, dtype=float)
    e, n = r * np.sin(b), r * np.cos(b)
    if lat.ndim == 0:
        return frame_at(float(lat), float(lon)).to_latlon(e, n)
    out_lat = np.empty(np.broadcast(lat, r).shape)
    out_lon = np.empty_like(out_lat)
    lat_b, lon_b, e_b, n_b = np.broadcast_arrays(lat, lon, e, n)
    for key in {(float(a), float(o)) for a, o in zip(lat_b.ravel(), lon_b.ravel(), strict=True)}:
        mask = (lat_b == key[0]) & (lon_b == key[1])
        out_lat[mask], out_lon[mask] = frame_at(*key).to_latlon(e_b[mask], n_b[mask])
    return out_lat, out_lon


def polar_covariance_en(
    range_m: ArrayLike,
    bearing_deg: ArrayLike,
    sigma_range_m: ArrayLike,
    sigma_bearing_deg: ArrayLike,
) -> FloatArray:
    """East/north covariance (…, 2, 2) of a range/bearing measurement (first-order)."""
    r = np.asarray(range_m, dtype=float)
    b = np.radians(np.asarray(bearing_deg, dtype=float))
    sr2 = np.asarray(sigma_range_m, dtype=float) ** 2
    sb2 = np.radians(np.asarray(sigma_bearing_deg, dtype=float)) ** 2
    sin_b, cos_b = np.sin(b), np.cos(b)
    # J = d(e, n)/d(r, b) with e = r sin b, n = r cos b
    j = np.stack([np.stack([sin_b, r * cos_b], -1), np.stack([cos_b, -r * sin_b], -1)], -2)
    d = np.zeros(j.shape)
    d[..., 0, 0] = sr2
    d[..., 1, 1] = sb2
    return j @ d @ np.swapaxes(j, -1, -2)
