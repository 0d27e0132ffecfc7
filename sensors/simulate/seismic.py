"""Seismic ground sensor (geophone with on-board detector): events, not waveforms.

A moving person, vehicle or animal within ``radius_m`` produces an event every few
seconds (a burst of footsteps, an engine's rumble) with probability ``PD``. Energy falls
with the square of the distance; ``kind`` is ``footstep`` for people, ``vehicle`` for
vehicles and mostly ``unknown`` for animals (four-legged cadence confuses the
classifier). Wind and falling branches add rare ``unknown`` events. The reading has no
position: the registry's sensor position is where the fusion places it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import SimReading
from .layout import Layout
from .targets import Target

CADENCE_S = {"person": 2.5, "vehicle": 3.0, "animal": 3.5}
ENERGY_AT_10M = {"person": 1.0, "vehicle": 25.0, "animal": 0.6}
DURATION_S = {"person": (1.5, 3.0), "vehicle": (2.0, 4.0), "animal": (1.0, 2.5)}
PD = 0.85
MIN_SPEED_MPS = 0.2
FALSE_RATE_HZ = 1.0 / 300.0


def simulate(
    layout: Layout,
    sensor: dict[str, Any],
    targets: list[Target],
    t0: float,
    duration: float,
    rng: np.random.Generator,
) -> list[SimReading]:
    se, sn = layout.sensor_en(sensor)
    radius = float(sensor["radius_m"])
    out: list[SimReading] = []

    def emit(
        t: float, kind: str, energy: float, dur: float, conf: float, origin: str | None
    ) -> None:
        tt = round(t0 + t, 3)
        out.append(
            SimReading(
                tt,
                "readings.seismic",
                {
                    "sensor_id": sensor["id"],
                    "t": tt,
                    "kind": kind,
                    "energy": round(energy, 4),
                    "duration_s": round(dur, 2),
                    "confidence": round(conf, 2),
                },
                origin,
            )
        )

    for tg in targets:
        if tg.cls not in CADENCE_S:
            continue
        cad = CADENCE_S[tg.cls]
        ticks = rng.uniform(0.0, cad) + np.arange(0.0, duration, cad)
        ticks = ticks + rng.uniform(-0.3, 0.3, len(ticks)) * cad
        ticks = ticks[(ticks >= 0.0) & (ticks < duration)]
        e, n = tg.path.at(ticks)
        ve, vn = tg.path.velocity(ticks)
        d = np.hypot(e - se, n - sn)
        hit = (
            tg.path.alive(ticks)
            & (d <= radius)
            & (np.hypot(ve, vn) >= MIN_SPEED_MPS)
            & (rng.random(len(ticks)) < PD)
        )
        k = int(hit.sum())
        if not k:
            continue
        energy = (
            ENERGY_AT_10M[tg.cls]
            * (10.0 / np.maximum(d[hit], 2.0)) ** 2
            * rng.lognormal(0.0, 0.3, k)
        )
        dur = rng.uniform(*DURATION_S[tg.cls], k)
        if tg.cls == "animal":
            kinds = np.where(rng.random(k) < 0.8, "unknown", "footstep")
            conf = rng.uniform(0.2, 0.5, k)
        else:
            kinds = np.full(k, "footstep" if tg.cls == "person" else "vehicle")
            conf = np.clip(0.5 + 0.4 * (1.0 - d[hit] / radius) + rng.normal(0, 0.05, k), 0, 1)
        for i, t in enumerate(ticks[hit]):
            emit(float(t), str(kinds[i]), float(energy[i]), float(dur[i]), float(conf[i]), tg.id)

    nfalse = rng.poisson(FALSE_RATE_HZ * duration)
    for t in np.sort(rng.uniform(0.0, duration, nfalse)):
        emit(
            float(t),
            "unknown",
            float(rng.uniform(0.01, 0.2)),
            float(rng.uniform(0.5, 2.0)),
            float(rng.uniform(0.1, 0.35)),
            None,
        )
    return out
