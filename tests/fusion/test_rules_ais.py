"""AIS anomaly rules: impossible jump/speed, duplicate MMSI, AIS silence near the border."""

from __future__ import annotations

from fusion.alerts import AlertEngine
from tests.fusion.test_rules_scene import SENSORS, T0, feed, only, scene, upd, walk


def test_jump_between_tracks_of_one_mmsi() -> None:
    eng = AlertEngine(scene(), only("ais_jump"), SENSORS)
    a = walk("V1", (3000, -3000), (0, 2), 5, sources=["A1"], mmsi=211000010)
    # 40 s later the same MMSI appears 3 km away (75 m/s): impossible
    b = [upd("V2", T0 + 60, 3000, 0, 0, 2, sources=["A1"], mmsi=211000010)]
    out = feed(eng, a, b)
    assert len(out) == 1
    d = out[0].evidence["details"]
    assert out[0].rule == "ais_jump" and d["anomaly"] == "jump" and d["previous_track"] == "V1"
    assert abs(d["jump_m"] - 2960) < 2 and d["dt_s"] == 40.0


def test_plausible_moves_and_speeds_are_silent() -> None:
    eng = AlertEngine(scene(), only("ais_jump"), SENSORS)
    ok = walk("V1", (3000, -3000), (0, 10), 30, sources=["A1"], mmsi=211000011)  # 10 m/s
    # a new track of the same MMSI 60 s later, 1000 m on: 16.7 m/s, plausible
    later = [upd("V2", T0 + 205, 3000, -1550, 0, 10, sources=["A1"], mmsi=211000011)]
    assert feed(eng, ok, later) == []


def test_impossible_track_speed() -> None:
    eng = AlertEngine(scene(), only("ais_jump"), SENSORS)
    out = feed(eng, walk("F", (3000, -5000), (0, 40), 3, sources=["A1"], mmsi=211000012))
    assert out and out[0].evidence["details"]["anomaly"] == "speed"


def test_duplicate_mmsi_in_two_places_at_once() -> None:
    eng = AlertEngine(scene(), only("ais_duplicate_mmsi"), SENSORS)
    out = feed(
        eng,
        walk("P", (3000, -3000), (0, 1), 3, sources=["A1"], mmsi=211000013),
        walk("Q", (4000, -1000), (0, 1), 3, sources=["A1"], mmsi=211000013),
    )
    assert out and out[0].rule == "ais_duplicate_mmsi"
    assert sorted(out[0].track_ids) == ["P", "Q"]
    assert len({a.alert_id for a in out}) == 1
    # two tracks of one vessel 50 m apart (a split track) is not a duplicate
    eng = AlertEngine(scene(), only("ais_duplicate_mmsi"), SENSORS)
    assert (
        feed(
            eng,
            walk("P", (3000, -3000), (0, 1), 3, sources=["A1"], mmsi=211000014),
            walk("Q", (3050, -3000), (0, 1), 3, sources=["A1"], mmsi=211000014),
        )
        == []
    )


def test_ais_silence_near_border_only() -> None:
    """A vessel at speed near the border stops transmitting and no sensor sees it either
    (its track coasts): silent after ``silence_s``. The same far from the border: nothing."""
    cfg = only("ais_silence", ais_silence={"silence_s": 60, "near_border_m": 2000})
    for n0, expect in ((-1500, True), (-4500, False)):
        eng = AlertEngine(scene(), cfg, SENSORS)
        fed = walk("S", (3000, n0), (0, 3), 5, sources=["R1", "A1"], mmsi=211000015)
        gone = walk("S", (3000, n0 + 75), (0, 3), 20, t0=T0 + 25, status="coasting", mmsi=211000015)
        out = feed(eng, fed + gone)
        if expect:
            assert out and out[0].rule == "ais_silence"
            assert out[0].t_first - T0 == 80.0  # last AIS at +20 s, silent 60 s
        else:
            assert out == []


def test_ais_silence_leaves_a_vessel_still_seen_on_the_water_to_dark_vessel() -> None:
    """DESIGN §6: a radar/thermal track on water without AIS is a dark vessel. A vessel that
    switches AIS off near the border and is still seen gets that alert, not a second one."""
    cfg = only("ais_silence", "dark_vessel")
    eng = AlertEngine(scene(), cfg, SENSORS)
    fed = walk("S", (3000, -1500), (0, 3), 5, sources=["R1", "A1"], mmsi=211000016)
    dark = walk("S", (3000, -1425), (0, 3), 30, t0=T0 + 25, sources=["R1"], mmsi=211000016)
    # ... and when radar loses it afterwards (coasting), still no silence alert beside it
    lost = walk("S", (3000, -975), (0, 3), 10, t0=T0 + 175, status="coasting", mmsi=211000016)
    out = feed(eng, fed + dark + lost)
    assert {a.rule for a in out} == {"dark_vessel"}
    # with defer_to_dark off it is reported as silence too
    cfg = only("ais_silence", "dark_vessel", ais_silence={"defer_to_dark": False})
    eng = AlertEngine(scene(), cfg, SENSORS)
    assert {a.rule for a in feed(eng, fed + dark)} == {"dark_vessel", "ais_silence"}


def test_ais_silence_after_a_report_at_rest_waits_for_the_slow_cycle() -> None:
    """A class B unit at ≤ 2 kn reports every 3 min: 60 s without a report is no silence."""
    cfg = only("ais_silence")
    eng = AlertEngine(scene(), cfg, SENSORS)
    fed = walk("S", (3000, -1500), (0, 0), 3, sources=["R1", "A1"], mmsi=211000017)
    gone = walk("S", (3000, -1500), (0, 0), 50, t0=T0 + 15, status="coasting", mmsi=211000017)
    out = feed(eng, fed + gone)
    assert out and out[0].rule == "ais_silence"
    assert out[0].t_first - T0 == 210.0  # last AIS at +10 s, silent slow_silence_s (200)
