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


def _radar(oid: str, t: float, e: float, n: float) -> Observation:
    return _obs(oid, t, e, n, 5.0, "R1", "radar")


def _ais(oid: str, t: float, e: float, n: float, sog: float = 0.0, cog: float = 0.0) -> Observation:
    return _obs(oid, t, e, n, 5.0, "AIS1", "ais", mmsi=111, sog=sog, cog=cog)


def _mmsi_of(tr: SectorTracker) -> dict[int, int | None]:
    """Live radar tracks by rounded north position (50 m bins) -> MMSI."""
    return {
        round(FRAME.to_en(u.lat, u.lon)[1] / 50): u.mmsi
        for u in tr.live_tracks()
        if "-T" in u.track_id
    }


def test_stale_ais_keeps_its_pairing_instead_of_hopping_to_a_neighbour() -> None:
    """A vessel reporting rarely (class B at anchor: every 3 min) must not be handed to the
    dark boat that appears where its last report was, while its own track moves off."""
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05))
    rng = np.random.default_rng(3)
    for s in range(0, 21):  # vessel A at anchor at the origin, reporting
        batch = [_radar(f"ra{s}", s + 0.1, *rng.normal(0, 3, 2))]
        if s % 2 == 0:
            batch.insert(0, _ais(f"a{s}", s, *rng.normal(0, 3, 2)))
        tr.process(batch)
    assert _mmsi_of(tr) == {0: 111}
    for s in range(21, 160):  # AIS silent; from t=60 A leaves east, dark boat B waits north
        a = np.array([max(0.0, s - 60) * 2.0, 0.0])
        batch = [_radar(f"ra{s}", s + 0.1, *(a + rng.normal(0, 3, 2)))]
        if s >= 60:
            batch.append(_radar(f"rb{s}", s + 0.2, *(np.array([0.0, 100.0]) + rng.normal(0, 3, 2))))
        tr.process(batch)
        pairs = _mmsi_of(tr)
        assert pairs.get(2) is None, f"t={s}: the dark boat took the MMSI"
    assert pairs[0] == 111  # held until the vessel reports again


def test_ais_report_outside_the_gate_unpairs_instead_of_dragging_the_track() -> None:
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05))
    _river(tr, scans=30)
    a = _by_pos(tr)["a"]
    assert a.mmsi == 111
    e0, n0 = FRAME.to_en(a.lat, a.lon)
    # the vessel's next report is 400 m off its track (wrong pairing, or a spoofed report)
    tr.process([_ais("far", 30.5, float(e0), float(n0) + 400.0, sog=7.8, cog=83.0)])
    after = {u.track_id: u for u in tr.live_tracks()}[a.track_id]
    e1, n1 = FRAME.to_en(after.lat, after.lon)
    assert after.mmsi is None
    assert abs(float(n1) - float(n0)) < 20.0  # not pulled toward the report


def test_sources_drop_a_sensor_that_stopped_feeding_the_track() -> None:
    """A vessel that switches AIS off keeps its MMSI but loses the AIS station from
    ``sources`` (what the dark-vessel rule reads), once ``sources_window_s`` has passed."""
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05, sources_window_s=10.0))
    _river(tr, scans=30)
    a = _by_pos(tr)["a"]
    assert "AIS1" in a.sources and a.mmsi == 111
    rng = np.random.default_rng(4)
    pos = np.array([4.0, 0.5]) * 30
    for s in range(30, 50):  # radar only
        pos = pos + [4.0, 0.5]
        tr.process([_radar(f"q{s}", s + 0.1, *(pos + rng.normal(0, 5, 2)))])
    now = {u.track_id: u for u in tr.live_tracks()}[a.track_id]
    assert now.sources == ["R1"]
    assert now.mmsi == 111  # the pairing itself stays (the AIS track is only 20 s old)
