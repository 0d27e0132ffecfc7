"""Rotating ground-surveillance radar: one scan per ``scan_period_s``, plots with noise.

Each scan detects each target in coverage with a class-dependent probability (Pd < 1),
adds Gaussian range and bearing errors with the registry's sigmas, and adds a Poisson
number of false plots spread uniformly over the coverage disc. A plot's time is the
moment the beam passes the target's bearing, as a real rotating antenna reports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import SensorView, SimReading, wrap_deg
from .layout import Layout
from .targets import Target

PD = {"boat": 0.92, "vehicle": 0.9, "person": 0.7, "animal": 0.5}
MIN_RANGE_M = 50.0
CLUTTER_PER_SCAN = 0.3


def scan_times(sensor: dict[str, Any], duration: float, rng: np.random.Generator) -> np.ndarray:
    period = float(sensor["scan_period_s"])
    return rng.uniform(0.0, period) + np.arange(0.0, duration, period)


def in_coverage(range_m: np.ndarray, sensor: dict[str, Any]) -> np.ndarray:
    return (range_m >= MIN_RANGE_M) & (range_m <= float(sensor["max_range_m"]))


def simulate(
    layout: Layout,
    sensor: dict[str, Any],
    targets: list[Target],
    t0: float,
    duration: float,
    rng: np.random.Generator,
) -> list[SimReading]:
    view = SensorView(layout, sensor)
    period = float(sensor["scan_period_s"])
    sr, sb = float(sensor["sigma_range_m"]), float(sensor["sigma_bearing_deg"])
    scans = scan_times(sensor, duration, rng)
    out: list[SimReading] = []

    def emit(times: np.ndarray, rng_m: np.ndarray, brg: np.ndarray, origin: str | None) -> None:
        keep = times < duration
        for t, r, b in zip(times[keep], rng_m[keep], brg[keep], strict=True):
            out.append(
                SimReading(
                    round(t0 + float(t), 3),
                    "readings.radar",
                    {
                        "sensor_id": sensor["id"],
                        "t": round(t0 + float(t), 3),
                        "range_m": round(float(r), 1),
                        "bearing_deg": float(b),
                        "sigma_range_m": sr,
                        "sigma_bearing_deg": sb,
                    },
                    origin,
                )
            )

    for tg in targets:
        alive = tg.path.alive(scans)
        if not alive.any():
            continue
        k = scans[alive]
        _, b0 = view.polar(*tg.path.at(k))
        tp = k + b0 / 360.0 * period  # beam reaches the target's bearing
        live = tg.path.alive(tp)
        tp = tp[live]
        r, b = view.polar(*tg.path.at(tp))
        hit = in_coverage(r, sensor) & (rng.random(len(tp)) < PD[tg.cls])
        n = int(hit.sum())
        emit(
            tp[hit],
            np.maximum(r[hit] + rng.normal(0.0, sr, n), 0.0),
            wrap_deg(b[hit] + rng.normal(0.0, sb, n)),
            tg.id,
        )

    # clutter: Poisson per scan, uniform over the coverage disc
    counts = rng.poisson(CLUTTER_PER_SCAN, len(scans))
    total = int(counts.sum())
    rmax = float(sensor["max_range_m"])
    r = np.sqrt(rng.uniform(MIN_RANGE_M**2, rmax**2, total))
    b = rng.uniform(0.0, 360.0, total)
    times = np.repeat(scans, counts) + b / 360.0 * period
    emit(times, r, wrap_deg(b), None)
    return out
