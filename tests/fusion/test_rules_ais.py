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
    cfg = only("ais_silence", ais_silence={"silence_s": 60, "near_border_m": 2000})
    eng = AlertEngine(scene(), cfg, SENSORS)
    fed = walk("S", (3000, -1500), (0, 1), 5, sources=["R1", "A1"], mmsi=211000015)
    dark = walk("S", (3000, -1475), (0, 1), 20, t0=T0 + 25, sources=["R1"], mmsi=211000015)
    out = feed(eng, fed + dark)
    assert out and out[0].rule == "ais_silence"
    assert out[0].t_first - T0 == 80.0  # last AIS at +20 s, silent 60 s
    # the same far from the border: silent
    eng = AlertEngine(scene(), cfg, SENSORS)
    fed = walk("S", (3000, -4500), (0, 1), 5, sources=["R1", "A1"], mmsi=211000015)
    dark = walk("S", (3000, -4475), (0, 1), 20, t0=T0 + 25, sources=["R1"], mmsi=211000015)
    assert feed(eng, fed + dark) == []
