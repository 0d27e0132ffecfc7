"""Target motion: piecewise-linear paths in local metres, built from waypoints and speeds.

Paths are polylines with knot times, so a position at any time is an interpolation and a
border crossing is an exact line intersection (truth events need that). Realism comes
from densified waypoints with a small random sideways wander, per-leg speeds and dwells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry import LineString

from .layout import RIVER_HALF_WIDTH_M, border_y, river_y


@dataclass(frozen=True)
class Path:
    """Knot times ``t`` (s from the scenario start, non-decreasing) and positions ``e``, ``n``."""

    t: np.ndarray
    e: np.ndarray
    n: np.ndarray

    @property
    def t_start(self) -> float:
        return float(self.t[0])

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    def alive(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        return (times >= self.t[0]) & (times <= self.t[-1])

    def at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions at ``times`` (clamped to the ends; combine with :meth:`alive`)."""
        times = np.asarray(times, dtype=float)
        return np.interp(times, self.t, self.e), np.interp(times, self.t, self.n)

    def velocity(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Velocity of the leg each time falls in (zero while dwelling or outside)."""
        times = np.asarray(times, dtype=float)
        dt = np.diff(self.t)
        with np.errstate(divide="ignore", invalid="ignore"):
            ve = np.where(dt > 0, np.diff(self.e) / dt, 0.0)
            vn = np.where(dt > 0, np.diff(self.n) / dt, 0.0)
        idx = np.clip(np.searchsorted(self.t, times, side="right") - 1, 0, len(dt) - 1)
        inside = self.alive(times) & (times < self.t[-1])
        return np.where(inside, ve[idx], 0.0), np.where(inside, vn[idx], 0.0)

    def line(self) -> LineString:
        return LineString(np.stack([self.e, self.n], axis=1))

    def shifted(self, dt: float) -> Path:
        return Path(self.t + dt, self.e, self.n)

    def time_at_distance(self, dist: np.ndarray | float) -> np.ndarray:
        """First time the path has covered ``dist`` metres along its line."""
        seg = np.hypot(np.diff(self.e), np.diff(self.n))
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        dist = np.asarray(dist, dtype=float)
        i = np.clip(np.searchsorted(cum, dist, side="left"), 1, len(cum) - 1)
        d0, d1 = cum[i - 1], cum[i]
        frac = np.where(d1 > d0, (dist - d0) / np.where(d1 > d0, d1 - d0, 1.0), 0.0)
        return self.t[i - 1] + frac * (self.t[i] - self.t[i - 1])


def route(
    points: Sequence[tuple[float, float]],
    speeds: Sequence[float] | float,
    rng: np.random.Generator,
    dwells: Sequence[float] | None = None,
    jitter_m: float = 0.0,
    step_m: float = 80.0,
    key: int = 0,
    key_time: float = 0.0,
) -> Path:
    """A path through ``points`` at ``speeds`` (m/s per leg), passing ``points[key]`` at
    ``key_time``. Legs are densified every ``step_m`` with a sideways wander of
    ``jitter_m`` (1 σ) so people and boats do not move on rulers; ``dwells[i]`` seconds
    are spent standing at point ``i``."""
    pts = np.asarray(points, dtype=float)
    nleg = len(pts) - 1
    spd = np.broadcast_to(np.asarray(speeds, dtype=float), (nleg,))
    dw = np.zeros(len(pts)) if dwells is None else np.asarray(dwells, dtype=float)
    ts, es, ns = [0.0], [pts[0, 0]], [pts[0, 1]]
    key_t = 0.0
    if dw[0] > 0:
        ts.append(dw[0])
        es.append(pts[0, 0])
        ns.append(pts[0, 1])
    for i in range(nleg):
        a, b = pts[i], pts[i + 1]
        d = b - a
        length = float(np.hypot(*d))
        k = max(1, int(length // step_m))
        frac = np.arange(1, k + 1) / k
        mids = a + frac[:, None] * d
        if jitter_m > 0 and k > 1 and length > 0:
            normal = np.array([-d[1], d[0]]) / length
            off = rng.normal(0.0, jitter_m, k)
            off[-1] = 0.0
            mids = mids + off[:, None] * normal
        prev = np.array([es[-1], ns[-1]])
        seg = np.hypot(*(np.diff(np.vstack([prev, mids]), axis=0).T))
        t_leg = ts[-1] + np.cumsum(seg) / max(float(spd[i]), 1e-3)
        ts.extend(t_leg.tolist())
        es.extend(mids[:, 0].tolist())
        ns.extend(mids[:, 1].tolist())
        if i + 1 == key:
            key_t = ts[-1]
        if dw[i + 1] > 0:
            ts.append(ts[-1] + float(dw[i + 1]))
            es.append(es[-1])
            ns.append(ns[-1])
    return Path(np.asarray(ts) - key_t + key_time, np.asarray(es), np.asarray(ns))


def river_point(x: float, offset_m: float) -> tuple[float, float]:
    """A point ``offset_m`` off the river centreline at east ``x`` (positive: far bank)."""
    slope = 250.0 / 1400.0 * np.cos(x / 1400.0)
    norm = np.hypot(slope, 1.0)
    y = float(river_y(np.asarray(x)))
    return float(x - offset_m * slope / norm), float(y + offset_m / norm)


def along_river(
    x0: float, x1: float, offset_m: float, step_m: float = 150.0
) -> list[tuple[float, float]]:
    """Waypoints following the river from ``x0`` to ``x1`` at a fixed offset."""
    n = max(2, int(abs(x1 - x0) // step_m) + 1)
    offset_m = float(np.clip(offset_m, -RIVER_HALF_WIDTH_M + 5, RIVER_HALF_WIDTH_M - 5))
    return [river_point(float(x), offset_m) for x in np.linspace(x0, x1, n)]


def off_border(kind: str, x: float, offset_m: float) -> tuple[float, float]:
    """A point ``offset_m`` north (positive: far side) of the border at east ``x``."""
    return float(x), float(border_y(kind, x)) + offset_m
