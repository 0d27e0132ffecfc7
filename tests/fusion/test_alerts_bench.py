"""Throughput of AlertEngine.process with all default rules (slow; prints the figure).

Run: .venv/bin/pytest tests/fusion/test_alerts_bench.py -m slow -q -s
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from fusion.alerts import AlertEngine
from fusion.rules import default_rules_config
from tests.fusion.test_rules_scene import SENSORS, T0, scene, upd


@pytest.mark.slow
@pytest.mark.parametrize("n", [100, 1000])
def test_process_throughput(n: int) -> None:
    rng = np.random.default_rng(7)
    e0, n0 = rng.uniform(-5500, 5500, n), rng.uniform(-5500, 5500, n)
    ve, vn = rng.normal(0, 1.5, n), rng.normal(0, 1.5, n)
    eng = AlertEngine(scene(), default_rules_config(), SENSORS)
    times, emitted = [], 0
    for k in range(20):
        t = T0 + 5 * k
        ups = [
            upd(
                f"T{i}",
                t,
                e0[i] + ve[i] * 5 * k,
                n0[i] + vn[i] * 5 * k,
                ve[i],
                vn[i],
                sources=["R1"] if i % 3 else ["R1", "A1"],
                mmsi=None if i % 3 else 200_000_000 + i,
            )
            for i in range(n)
        ]
        start = time.perf_counter()
        emitted += len(eng.process(ups, t))
        times.append(time.perf_counter() - start)
    per_batch = float(np.median(times[5:]))
    print(
        f"\n{n} tracks/batch: {1000 * per_batch:.1f} ms/batch, {n / per_batch:.0f} updates/s, "
        f"{emitted} alert records, {len(eng.open_alerts())} open"
    )
    assert emitted > 0
    assert n / per_batch > 2000  # loose floor on a shared 2-core machine
