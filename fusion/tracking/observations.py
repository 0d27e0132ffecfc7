"""Observations as columns in the sector frame: the tracker core never touches objects.

``from_observations`` is the one place that loops over ``Observation`` records (parsing is
per record by nature); ``positions`` builds the same arrays directly for callers that
already hold arrays (the offline CLI, the benchmark).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusion.classification import observation_loglik
from fusion.filters.measurement import POLAR, POSITION, MeasurementBatch
from fusion.geodesy import LocalFrame
from fusion.types import CLASSES, Observation

FloatArray = NDArray[np.float64]
KNOTS = 1852.0 / 3600.0


@dataclass
class ObservationArrays:
    """m observations, sorted by time, in the sector frame."""

    t: FloatArray  # (m,)
    pos: FloatArray  # (m, 2) east/north
    cov: FloatArray  # (m, 2, 2) east/north covariance in the sector frame
    sensor: list[str]  # (m,) sensor ids
    kind: list[str]  # (m,)
    obs_id: list[str]  # (m,)
    model: NDArray[np.int8] = field(default_factory=lambda: np.empty(0, np.int8))
    z: FloatArray = field(default_factory=lambda: np.empty((0, 2)))
    r: FloatArray = field(default_factory=lambda: np.empty((0, 2, 2)))
    sensor_pos: FloatArray = field(default_factory=lambda: np.empty((0, 2)))
    cls_ll: FloatArray = field(default_factory=lambda: np.empty((0, len(CLASSES))))
    mmsi: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    vel: FloatArray = field(default_factory=lambda: np.empty((0, 2)))  # AIS sog/cog, NaN if none
    names: list[str | None] = field(default_factory=list)
    source: list[Observation] | None = None

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def measurements(self, rows: slice) -> MeasurementBatch:
        return MeasurementBatch(
            self.pos[rows],
            self.z[rows],
            self.r[rows],
            self.model[rows],
            self.sensor_pos[rows],
            self.t[rows],
        )

    @classmethod
    def positions(
        cls,
        t: FloatArray,
        east: FloatArray,
        north: FloatArray,
        sigma_m: FloatArray,
        sensor: str | list[str] = "S",
        kind: str = "radar",
        obs_ids: list[str] | None = None,
    ) -> ObservationArrays:
        """Position-only detections with circular σ (metres), already in the sector frame."""
        m = int(np.size(t))
        t = np.asarray(t, float).reshape(m)
        pos = np.stack([np.asarray(east, float), np.asarray(north, float)], -1).reshape(m, 2)
        var = np.broadcast_to(np.asarray(sigma_m, float) ** 2, (m,))
        cov = np.zeros((m, 2, 2))
        cov[:, 0, 0] = cov[:, 1, 1] = var
        sensors = [sensor] * m if isinstance(sensor, str) else list(sensor)
        return cls(
            t=t,
            pos=pos,
            cov=cov,
            sensor=sensors,
            kind=[kind] * m,
            obs_id=obs_ids if obs_ids is not None else [f"o{i}" for i in range(m)],
            model=np.zeros(m, np.int8),
            z=pos.copy(),
            r=cov.copy(),
            sensor_pos=np.zeros((m, 2)),
            cls_ll=np.zeros((m, len(CLASSES))),
            mmsi=np.full(m, -1, np.int64),
            vel=np.full((m, 2), np.nan),
            names=[None] * m,
        )


def _polar(attrs: dict[str, Any]) -> tuple[float, float, float, float, float, float] | None:
    """(range, bearing, σ range, σ bearing, sensor lat, sensor lon), or None if unusable.

    Spelled out rather than looped over the keys: it runs once per radar/thermal plot.
    """
    try:
        vals = (
            float(attrs["range_m"]),
            float(attrs["bearing_deg"]),
            float(attrs["sigma_range_m"]),
            float(attrs["sigma_bearing_deg"]),
            float(attrs["sensor_lat"]),
            float(attrs["sensor_lon"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    fin = math.isfinite
    ok = (
        fin(vals[0])
        and fin(vals[1])
        and fin(vals[2])
        and fin(vals[3])
        and fin(vals[4])
        and fin(vals[5])
        and vals[2] > 0
        and vals[3] > 0
    )
    return vals if ok else None


def from_observations(
    obs: Sequence[Observation], frame: LocalFrame, polar_ekf: bool = True
) -> ObservationArrays:
    """Convert (valid, time-sorted) observations to the sector frame.

    ``cov_en`` is in each observation's own local east/north; it is rotated into the sector
    frame. Radar and thermal observations whose ``attrs`` carry ``range_m, bearing_deg,
    sigma_range_m, sigma_bearing_deg, sensor_lat, sensor_lon`` are updated in polar form
    (EKF) when ``polar_ekf``; otherwise every observation is a position measurement.
    """
    m = len(obs)
    lat = np.array([o.lat for o in obs], float)
    lon = np.array([o.lon for o in obs], float)
    e, n, rot = frame.en_and_rotation(lat, lon)  # one to_en shared by both
    pos = np.stack([e, n], -1).reshape(m, 2)
    cov_local = np.array([o.cov_en for o in obs], float).reshape(m, 2, 2)
    rot = rot.reshape(m, 2, 2)
    cov = rot @ cov_local @ np.swapaxes(rot, 1, 2)
    model = np.full(m, POSITION, np.int8)
    z = pos.copy()
    r = cov.copy()
    sensor_pos = np.zeros((m, 2))
    mmsi = np.full(m, -1, np.int64)
    vel = np.full((m, 2), np.nan)
    names: list[str | None] = [None] * m
    cls_ll = np.zeros((m, len(CLASSES)))
    polar_rows: list[int] = []
    polar_vals: list[tuple[float, float, float, float, float, float]] = []
    for i, o in enumerate(obs):
        if o.kind != "radar" or o.attrs.get("on_water"):  # a plain radar plot says nothing
            cls_ll[i] = observation_loglik(o.kind, o.attrs)
        if o.kind == "ais" and o.attrs.get("mmsi") is not None:
            mmsi[i] = int(o.attrs["mmsi"])
            nm = o.attrs.get("name")
            names[i] = str(nm).strip() if nm else None
            sog, cog = o.attrs.get("sog"), o.attrs.get("cog")
            if sog is not None and cog is not None and float(sog) < 102.2 and float(cog) < 360:
                c = math.radians(float(cog))
                vel[i] = (float(sog) * KNOTS * math.sin(c), float(sog) * KNOTS * math.cos(c))
        elif polar_ekf and o.kind in ("radar", "thermal"):
            p = _polar(o.attrs)
            if p is not None:
                polar_rows.append(i)
                polar_vals.append(p)
    if polar_rows:
        # sensor positions and meridian convergence for all polar rows in one call each
        rows = np.asarray(polar_rows)
        rng, brg, sr, sb, slat, slon = np.asarray(polar_vals, float).T
        se, sn, rs = frame.en_and_rotation(slat, slon)
        # bearing is from true north at the sensor: turn it into the sector frame
        rs = rs.reshape(-1, 2, 2)
        conv = np.arctan2(rs[:, 1, 0], rs[:, 0, 0])
        model[rows] = POLAR
        z[rows, 0] = rng
        z[rows, 1] = np.radians(brg) - conv
        r[rows] = 0.0
        r[rows, 0, 0] = sr**2
        r[rows, 1, 1] = np.radians(sb) ** 2
        sensor_pos[rows, 0] = se
        sensor_pos[rows, 1] = sn
    return ObservationArrays(
        t=np.array([o.t for o in obs], float),
        pos=pos,
        cov=cov,
        sensor=[o.sensor_id for o in obs],
        kind=[o.kind for o in obs],
        obs_id=[o.obs_id for o in obs],
        model=model,
        z=z,
        r=r,
        sensor_pos=sensor_pos,
        cls_ll=cls_ll,
        mmsi=mmsi,
        vel=vel,
        names=names,
        source=list(obs),
    )
