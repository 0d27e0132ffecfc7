"""Dark vessel and rendezvous rules on the river (east 2000..5000 m)."""

from __future__ import annotations

from fusion.alerts import AlertEngine
from tests.fusion.test_rules_scene import SENSORS, feed, only, scene, upd, walk


def test_dark_vessel_after_min_confirmed_time() -> None:
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"min_confirmed_s": 20}), SENSORS)
    out = feed(eng, walk("D1", (3000, -2000), (0, 1), 10, sources=["R1"], classification="boat"))
    assert len(out) == 1
    a = out[0]
    assert (a.rule, a.zone_id, a.severity) == ("dark_vessel", "W1", "high")
    assert a.t_first - 1_700_000_000 == 20.0
    assert a.summary.startswith("Boat without AIS on River")
    assert a.evidence["obs_ids"] == ["D1-o4"]


def test_no_dark_vessel_with_ais_on_land_or_too_young() -> None:
    eng = AlertEngine(scene(), only("dark_vessel"), SENSORS)
    out = feed(
        eng,
        walk("AIS", (3000, -2000), (0, 1), 12, sources=["R1", "A1"], mmsi=211000001),
        walk("MM", (3500, -2000), (0, 1), 12, sources=["R1"], mmsi=211000002),
        walk("LAND", (1500, -2000), (0, 1), 12, sources=["R1"]),  # 500 m west of the river
        walk("YOUNG", (4000, -2000), (0, 1), 4, sources=["R1"]),  # confirmed only 15 s
    )
    assert out == []


def test_dark_vessel_resolves_when_ais_correlates() -> None:
    eng = AlertEngine(scene(), only("dark_vessel"), SENSORS)
    dark = walk("D1", (3000, -2000), (0, 1), 8, sources=["R1"])
    lit = walk(
        "D1", (3000, -1960), (0, 1), 5, t0=1_700_000_040, sources=["R1", "A1"], mmsi=211000003
    )
    out = feed(eng, dark + lit)
    # resolved once AIS has been on the track for clear_s (15 s), not at the first report
    assert [a.status for a in out] == ["open", "resolved"]
    assert out[-1].t_last >= 1_700_000_040 + 15
    assert "AIS now correlated" in out[-1].summary


def test_dark_vessel_is_one_alert_while_it_flickers_on_and_off_the_water() -> None:
    """A boat at the bank: its track wanders on and off the water polygon every few seconds
    (position noise). One alert, not one per return to the water."""
    eng = AlertEngine(scene(), only("dark_vessel"), SENSORS)
    ups = walk("D1", (2010, -2000), (0, 0), 8, sources=["R1"])  # on the water
    t = ups[-1].t
    # on the water (2010 m east) three updates in four, 10 m off it the fourth
    ups += [upd("D1", t + 2 * k, 2010.0 if k % 4 else 1990.0, -2000.0) for k in range(1, 40)]
    out = feed(eng, ups)
    assert len({a.alert_id for a in out}) == 1
    assert out[-1].status == "open"


def test_dark_vessel_when_ais_falls_silent() -> None:
    """The tracker keeps the MMSI after the transponder goes off: still dark after the timeout."""
    eng = AlertEngine(scene(), only("dark_vessel"), SENSORS)
    lit = walk("V1", (3000, -2000), (0, 1), 4, sources=["R1", "A1"], mmsi=211000004)
    silent = walk("V1", (3000, -1980), (0, 1), 30, t0=lit[-1].t + 5, sources=["R1"], mmsi=211000004)
    out = feed(eng, lit + silent)
    assert [a.rule for a in out][:1] == ["dark_vessel"]
    assert out[0].t_first - lit[-1].t >= 65


def test_rendezvous_two_tracks_close_for_long_enough() -> None:
    eng = AlertEngine(
        scene(), only("rendezvous", rendezvous={"distance_m": 100, "duration_s": 60}), SENSORS
    )
    a = walk("A", (3000, -1000), (0, 0), 20, sources=["R1"])  # dark, anchored
    b = walk("B", (3050, -1000), (0, 0), 20, sources=["R1", "A1"], mmsi=211000004)
    out = feed(eng, a, b)
    assert out and {x.rule for x in out} == {"rendezvous"}
    assert len({x.alert_id for x in out}) == 1
    first = out[0]
    assert first.track_ids == ["A", "B"] and first.zone_id == "W1"
    assert first.t_first - 1_700_000_000 == 60.0
    assert first.evidence["details"]["separation_m"] == 50.0
    assert first.evidence["obs_ids"] == ["A-o12"]  # the primary (first-id) track's update


def test_rendezvous_near_misses() -> None:
    cfg = only("rendezvous", rendezvous={"distance_m": 100, "duration_s": 60})
    eng = AlertEngine(scene(), cfg, SENSORS)
    # 150 m apart: too far
    assert (
        feed(eng, walk("A", (3000, -1000), (0, 0), 20), walk("B", (3150, -1000), (0, 0), 20)) == []
    )
    # close, but both with AIS
    eng = AlertEngine(scene(), cfg, SENSORS)
    assert (
        feed(
            eng,
            walk("C", (3000, -1000), (0, 0), 20, mmsi=1, sources=["A1"]),
            walk("D", (3050, -1000), (0, 0), 20, mmsi=2, sources=["A1"]),
        )
        == []
    )
    # close only briefly: two boats passing each other at 4 m/s each
    eng = AlertEngine(scene(), cfg, SENSORS)
    assert (
        feed(eng, walk("E", (3000, -1200), (0, 4), 20), walk("F", (3040, -800), (0, -4), 20)) == []
    )
