"""Thermal camera with on-board analytics: detections at a few frames a second.

Each frame detects each target inside the field of view and within a class-dependent
share of ``max_range_m`` (a person is smaller than a boat) with probability ``PD``. The
class is right most of the time, more often close up; otherwise ``unknown``. Range is
either a rangefinder's ``range_m`` or, for cameras without one, the depression angle
below the horizon (DESIGN §4), whose noise turns into a large range error far out.
``object_id`` is the camera's own track: it survives short drop-outs and changes after
a gap longer than ``TRACK_GAP_S``. Rare false detections (warm rocks, birds) are added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import SensorView, SimReading, angle_diff, wrap_deg
from .layout import Layout
from .targets import Target

FRAME_RATE_HZ = 3.0
PD = 0.85
RANGE_SHARE = {"boat": 1.0, "vehicle": 1.0, "person": 0.7, "animal": 0.6}
MIN_RANGE_M = 20.0
SIGMA_RANGE_FRAC = 0.05
SIGMA_DEPRESSION_DEG = 0.03
TRACK_GAP_S = 2.0
FALSE_PER_FRAME = 0.01


def uses_rangefinder(sensor: dict[str, Any]) -> bool:
    """Forest cameras (short mast) carry a laser rangefinder; tall river masts do not."""
    return float(sensor["height_m"]) < 15.0


def visible(r: np.ndarray, b: np.ndarray, sensor: dict[str, Any], cls: str) -> np.ndarray:
    half = float(sensor["fov_deg"]) / 2.0
    rmax = float(sensor["max_range_m"]) * RANGE_SHARE[cls]
    return (
        (r >= MIN_RANGE_M)
        & (r <= rmax)
        & (np.abs(angle_diff(b, float(sensor["heading_deg"]))) <= half)
    )


def simulate(
    layout: Layout,
    sensor: dict[str, Any],
    targets: list[Target],
    t0: float,
    duration: float,
    rng: np.random.Generator,
) -> list[SimReading]:
    view = SensorView(layout, sensor)
    frames = rng.uniform(0.0, 1.0 / FRAME_RATE_HZ) + np.arange(0.0, duration, 1.0 / FRAME_RATE_HZ)
    sb = float(sensor["sigma_bearing_deg"])
    h = float(sensor["height_m"])
    rmax = float(sensor["max_range_m"])
    ranged = uses_rangefinder(sensor)
    # (first time, target order, times, …) per camera track, numbered after sorting
    runs: list[tuple[float, int, str | None, dict[str, np.ndarray]]] = []

    for order, tg in enumerate(targets):
        alive = tg.path.alive(frames)
        if not alive.any():
            continue
        ft = frames[alive]
        r, b = view.polar(*tg.path.at(ft))
        det = visible(r, b, sensor, tg.cls) & (rng.random(len(ft)) < PD)
        if not det.any():
            continue
        ft, r, b = ft[det], r[det], b[det]
        n = len(ft)
        p_right = np.clip(0.97 - 0.4 * r / rmax, 0.5, 0.97)
        right = rng.random(n) < p_right
        conf = np.where(right, rng.uniform(0.6, 0.95, n), rng.uniform(0.25, 0.55, n))
        cols = {
            "t": ft,
            "r": r,
            "b": b,
            "right": right,
            "conf": conf,
            "nb": rng.normal(0.0, sb, n),
            "nr": rng.normal(0.0, 1.0, n),
        }
        split = np.flatnonzero(np.diff(ft) > TRACK_GAP_S) + 1
        for idx in np.split(np.arange(n), split):
            runs.append((float(ft[idx[0]]), order, tg.id, {k: v[idx] for k, v in cols.items()}))
            runs[-1][3]["cls"] = np.array([tg.cls])

    # false detections: single frames, random place in the field of view
    nfalse = rng.poisson(FALSE_PER_FRAME * len(frames))
    ft = np.sort(rng.choice(frames, nfalse, replace=False)) if nfalse else np.array([])
    half = float(sensor["fov_deg"]) / 2.0
    for i, t in enumerate(ft):
        r = np.array([rng.uniform(MIN_RANGE_M, rmax)])
        b = np.array([float(sensor["heading_deg"]) + rng.uniform(-half, half)])
        runs.append(
            (
                float(t),
                len(targets) + i,
                None,
                {
                    "t": np.array([t]),
                    "r": r,
                    "b": b,
                    "right": np.array([False]),
                    "conf": np.array([rng.uniform(0.15, 0.45)]),
                    "nb": np.zeros(1),
                    "nr": np.zeros(1),
                    "cls": np.array(["animal" if rng.random() < 0.3 else "unknown"]),
                },
            )
        )

    runs.sort(key=lambda run: (run[0], run[1]))
    out: list[SimReading] = []
    for num, (_, _, origin, c) in enumerate(runs, start=1):
        object_id = f"{sensor['id']}-{num}"
        cls = str(c["cls"][0])
        bearing = wrap_deg(c["b"] + c["nb"])
        if ranged:
            rng_m = np.round(c["r"] * (1.0 + SIGMA_RANGE_FRAC * c["nr"]), 1)
        else:
            dep = np.degrees(np.arctan2(h, c["r"])) + SIGMA_DEPRESSION_DEG * c["nr"]
            dep = np.round(np.maximum(dep, 0.01), 4)
        for i in range(len(c["t"])):
            t = round(t0 + float(c["t"][i]), 3)
            value: dict[str, Any] = {
                "sensor_id": sensor["id"],
                "t": t,
                "bearing_deg": float(bearing[i]),
            }
            if ranged:
                value["range_m"] = float(rng_m[i])
            else:
                value["depression_deg"] = float(dep[i])
            value["class"] = cls if c["right"][i] or origin is None else "unknown"
            value["confidence"] = round(float(c["conf"][i]), 2)
            value["object_id"] = object_id
            out.append(SimReading(t, "readings.thermal", value, origin))
    return out
