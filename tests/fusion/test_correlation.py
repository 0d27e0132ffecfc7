"""AIS track ↔ radar track correlation: the twin correlates, the look-alike does not."""

from __future__ import annotations

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.tracker import SectorTracker, TrackerConfig
from fusion.types import Observation

LAT0, LON0 = 51.5, 23.6
FRAME = LocalFrame(LAT0, LON0)


def _obs(oid, t, e, n, sigma, sensor, kind, **attrs) -> Observation:
    lat, lon = FRAME.to_latlon(e, n)
    v = sigma**2
    return Observation(oid, sensor, kind, float(t), float(lat), float(lon), [[v, 0], [0, v]], attrs)


def _river(tr: SectorTracker, scans: int = 40, with_ais: bool = True) -> None:
    """Boat A (MMSI 111) with AIS, seen by radar; boat B 150 m away, parallel, no AIS."""
    rng = np.random.default_rng(5)
    a, b = np.array([0.0, 0.0]), np.array([0.0, 150.0])
    va, vb = np.array([4.0, 0.5]), np.array([4.0, 0.5])
    for s in range(scans):
        a, b = a + va, b + vb
        batch = []
        if with_ais and s % 2 == 0:
            z = a + rng.normal(0, 8, 2)
            batch.append(
                _obs(
                    f"a{s}",
                    s,
                    *z,
                    8.0,
                    "AIS1",
                    "ais",
                    mmsi=111,
                    name="RIVER QUEEN",
                    sog=float(np.hypot(*va) / 0.514444),
                    cog=float(np.degrees(np.arctan2(*va)) % 360),
                )
            )
        za, zb = a + rng.normal(0, 10, 2), b + rng.normal(0, 10, 2)
        batch += [
            _obs(f"r{s}a", s + 0.1, *za, 10.0, "R1", "radar"),
            _obs(f"r{s}b", s + 0.1, *zb, 10.0, "R1", "radar"),
        ]
        tr.process(batch)


def _by_pos(tr: SectorTracker) -> dict[str, object]:
    live = [u for u in tr.live_tracks() if "R1" in u.sources]
    north = {round(FRAME.to_en(u.lat, u.lon)[1] / 150): u for u in live}
    return {"a": north[0], "b": north[1]}


def test_ais_track_correlates_with_its_radar_twin_not_the_lookalike() -> None:
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05))
    _river(tr)
    t = _by_pos(tr)
    assert t["a"].mmsi == 111 and t["a"].name == "RIVER QUEEN"
    assert "AIS1" in t["a"].sources and t["a"].classification == "boat"
    assert t["b"].mmsi is None  # the dark vessel stays uncorrelated


def test_without_ais_nothing_correlates() -> None:
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05))
    _river(tr, with_ais=False)
    assert all(u.mmsi is None for u in tr.live_tracks())


def test_operator_override_break_and_force_are_respected() -> None:
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05))
    _river(tr, scans=30)
    t = _by_pos(tr)
    tr.override_correlation(t["a"].track_id, None)  # "that is not the RIVER QUEEN"
    tr.override_correlation(t["b"].track_id, 111)  # "this one is"
    state = tr.snapshot()
    for tracker in (tr, SectorTracker.restore(state)):
        rng = np.random.default_rng(9)
        for s in range(30, 40):  # keep feeding consistent data: the test would re-link a
            a = np.array([4.0, 0.5]) * (s + 1)
            tracker.process(
                [
                    _obs(f"x{s}", s, *(a + rng.normal(0, 8, 2)), 8.0, "AIS1", "ais", mmsi=111),
                    _obs(f"y{s}", s + 0.1, *(a + rng.normal(0, 10, 2)), 10.0, "R1", "radar"),
                    _obs(
                        f"z{s}",
                        s + 0.1,
                        *(a + [0, 150] + rng.normal(0, 10, 2)),
                        10.0,
                        "R1",
                        "radar",
                    ),
                ]
            )
        now = {u.track_id: u for u in tracker.live_tracks()}
        assert now[t["a"].track_id].mmsi is None
        assert now[t["b"].track_id].mmsi == 111
