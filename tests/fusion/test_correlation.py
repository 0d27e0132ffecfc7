"""AIS track ↔ radar track correlation: the twin correlates, the look-alike does not."""

from __future__ import annotations

import numpy as np

from fusion.correlation import AisCorrelator, CorrelationConfig
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


# -- AisCorrelator alone: synthetic states, one evaluation per call -------------------------


def _states(pos: list[tuple[float, float]], vel: tuple[float, float] = (3.0, 0.0)):
    x = np.array([[e, n, *vel] for e, n in pos], float)
    p = np.repeat(np.eye(4)[None] * 25.0, len(pos), axis=0)  # 5 m / 5 m/s: S = 50 I
    return x, p


def _eval(
    c: AisCorrelator,
    ais: dict[int, tuple[float, float]],
    age: dict[int, float],
    trk: dict[int, tuple[float, float]],
) -> dict[int, int]:
    xa, pa = _states(list(ais.values()))
    xt, pt = _states(list(trk.values()))
    return c.evaluate(
        np.array(list(ais), np.int64),
        xa,
        pa,
        np.array(list(trk), np.int64),
        xt,
        pt,
        np.array([age[m] for m in ais], float),
    )


def test_a_reporting_vessel_takes_its_track_back_from_a_silent_mmsi() -> None:
    """Two boats' radar tracks swap while one MMSI (2) is silent: the reporting vessel (1)
    lets go of the track that left it and, on a full window of fresh scores, takes the track
    the silent MMSI holds (measured: river seed 2, B4/B5)."""
    c = AisCorrelator(CorrelationConfig())
    here, there = (0.0, 0.0), (0.0, 400.0)
    for _ in range(6):
        got = _eval(c, {1: here, 2: there}, {1: 0.0, 2: 0.0}, {10: here, 20: there})
    assert got == {1: 10, 2: 20}
    # swap: track 20 is now where vessel 1 is, track 10 where the silent vessel 2 was
    states = []
    for _ in range(8):
        states.append(_eval(c, {1: here, 2: there}, {1: 0.0, 2: 90.0}, {10: there, 20: here}))
    assert states[0] == {2: 20}  # 1 released at once (its window fails); 2 still held
    first = next(i for i, s in enumerate(states) if s.get(1) == 20)
    assert first == c.config.window - 1  # a held track needs a full window of fresh scores
    assert states[-1] == {1: 20}  # the silent MMSI let go; it pairs again once it reports


def test_a_silent_mmsi_keeps_its_track_against_a_brief_passer_by() -> None:
    """Fewer than ``window`` fresh scores never take a held track (a vessel passing a
    class B boat at anchor, whose report is minutes apart)."""
    c = AisCorrelator(CorrelationConfig())
    anchor = (0.0, 0.0)
    for _ in range(6):
        _eval(c, {2: anchor}, {2: 0.0}, {20: anchor})
    for _ in range(5):  # vessel 1 passes right over the anchored boat's track for 5 s
        got = _eval(c, {1: anchor, 2: anchor}, {1: 0.0, 2: 120.0}, {20: anchor})
        assert got == {2: 20}


def test_scores_from_before_a_reporting_gap_are_forgotten() -> None:
    """After a gap the pairing is judged on what the vessel reports now: three poor fresh
    scores release it, even though the window still held good ones from before the gap."""
    c = AisCorrelator(CorrelationConfig())
    for _ in range(6):
        _eval(c, {1: (0.0, 0.0)}, {1: 0.0}, {10: (0.0, 0.0)})
    for _ in range(5):
        assert _eval(c, {1: (0.0, 0.0)}, {1: 120.0}, {10: (0.0, 0.0)}) == {1: 10}  # held
    off = (24.5, 0.0)  # d² = 24.5² / 50 = 12 per score: 3 × 12 > χ²(0.99, 12) = 26.2
    got = [_eval(c, {1: off}, {1: 0.0}, {10: (0.0, 0.0)}) for _ in range(3)]
    assert got[:2] == [{1: 10}, {1: 10}]  # too few fresh scores to judge: held
    assert got[2] == {}  # (with the pre-gap scores: [0, 0, 0, 12, 12, 12] = 36 < 43, kept)


def test_correlator_snapshot_keeps_the_stale_set() -> None:
    c = AisCorrelator(CorrelationConfig())
    for _ in range(6):
        _eval(c, {1: (0.0, 0.0)}, {1: 0.0}, {10: (0.0, 0.0)})
    _eval(c, {1: (0.0, 0.0)}, {1: 120.0}, {10: (0.0, 0.0)})
    d = c.to_dict()
    assert AisCorrelator.from_dict(d).stale == {1}
    del d["stale"]  # a snapshot from before this field
    assert AisCorrelator.from_dict(d).stale == set()
