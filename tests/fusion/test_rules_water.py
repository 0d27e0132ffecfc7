"""Dark vessel and rendezvous rules on the river (east 2000..5000 m)."""

from __future__ import annotations

from fusion.alerts import AlertEngine
from tests.fusion.test_rules_scene import SENSORS, T0, feed, only, scene, upd, walk


def test_dark_vessel_after_min_confirmed_time() -> None:
    cfg = only("dark_vessel", dark_vessel={"min_confirmed_s": 20, "warmup_s": 0})
    eng = AlertEngine(scene(), cfg, SENSORS)
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
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"warmup_s": 0}), SENSORS)
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
    lit = walk("V1", (3000, -2000), (0, 3), 4, sources=["R1", "A1"], mmsi=211000004)
    silent = walk("V1", (3000, -1940), (0, 3), 30, t0=lit[-1].t + 5, sources=["R1"], mmsi=211000004)
    out = feed(eng, lit + silent)
    assert [a.rule for a in out][:1] == ["dark_vessel"]
    # at speed (6 kn, class B every 30 s): silent after ais_timeout_s, not at once
    assert 65 <= out[0].t_first - lit[-1].t <= 70


def test_no_dark_vessel_before_the_rule_has_listened_for_ais() -> None:
    """Start-up: an AIS boat's first report may be 30-60 s away; a track that never had AIS
    is not dark before ``warmup_s`` (65 s) after the rule's first update."""
    eng = AlertEngine(scene(), only("dark_vessel"), SENSORS)
    out = feed(eng, walk("D1", (3000, -2000), (0, 3), 20, sources=["R1"]))
    assert out and out[0].t_first - T0 == 65.0
    # a boat whose report comes 40 s in is never called dark
    eng = AlertEngine(scene(), only("dark_vessel"), SENSORS)
    quiet = walk("B1", (3000, -2000), (0, 3), 8, sources=["R1"])
    lit = walk("B1", (3000, -1880), (0, 3), 12, t0=T0 + 40, sources=["R1", "A1"], mmsi=211000005)
    assert feed(eng, quiet + lit) == []


def test_a_report_at_rest_waits_for_the_three_minute_cycle() -> None:
    """Class B at ≤ 2 kn reports every 3 min (ITU-R M.1371): a boat heard at rest by its
    own AIS track, then paired with a radar track that speeds off, is not dark after 65 s;
    it is once ``slow_ais_timeout_s`` (200 s) passes without a report."""
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"warmup_s": 0}), SENSORS)
    report = [upd("AIS-M", T0, 3000, -2000, 0, 0, sources=["A1"], mmsi=211000006)]
    radar = walk("T7", (3000, -2000), (3, 0), 50, t0=T0 + 5, sources=["R1"], mmsi=211000006)
    out = feed(eng, report, radar)
    assert out and out[0].rule == "dark_vessel"
    assert out[0].t_first - T0 == 205.0  # first radar update past 200 s
    # the same report at speed: dark 65 s after it
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"warmup_s": 0}), SENSORS)
    report = [upd("AIS-M", T0, 3000, -2000, 3, 0, sources=["A1"], mmsi=211000006)]
    out = feed(eng, report, radar)
    assert out and out[0].t_first - T0 == 70.0


def test_dark_vessel_at_the_landing_is_one_alert() -> None:
    """A ferry at the bank for up to a minute, its track off the water polygon: the alert
    stays open (``land_clear_s``); a track that stays on land longer resolves it."""
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"warmup_s": 0}), SENSORS)
    ups = walk("D1", (2050, -2000), (0, 0), 8, sources=["R1"])  # on the water
    t = ups[-1].t
    ups += [upd("D1", t + 5 * k, 1990.0, -2000.0) for k in range(1, 11)]  # 50 s ashore
    ups += [upd("D1", t + 50 + 5 * k, 2050.0, -2000.0) for k in range(1, 6)]  # back afloat
    out = feed(eng, ups)
    assert len({a.alert_id for a in out}) == 1 and out[-1].status == "open"
    t = ups[-1].t
    ashore = [upd("D1", t + 5 * k, 1990.0, -2000.0) for k in range(1, 16)]  # 75 s ashore
    out = feed(eng, ashore)
    assert out and out[-1].status == "resolved" and "left the water" in out[-1].summary
    assert out[-1].t_last - t >= 60


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
    # both tracks' updates of the scan: one hit per updated track of the pair, so the
    # evidence is the same whether their updates share a call or not (docs/rules.md)
    assert first.evidence["obs_ids"] == ["A-o12", "B-o12"]
    assert first.evidence["sensors"] == ["A1", "R1"] and first.mmsi == 211000004


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
    # close for minutes, but under way together (one boat split into two tracks, or two
    # boats in company): neither holds station, so no meeting
    eng = AlertEngine(scene(), cfg, SENSORS)
    assert (
        feed(eng, walk("G", (3000, -3000), (0, 3), 30), walk("H", (3040, -3000), (0, 3), 30)) == []
    )
    # close only briefly: two boats passing each other at 4 m/s each
    eng = AlertEngine(scene(), cfg, SENSORS)
    assert (
        feed(eng, walk("E", (3000, -1200), (0, 4), 20), walk("F", (3040, -800), (0, -4), 20)) == []
    )


def test_a_vessel_heard_every_ten_seconds_is_dark_sooner() -> None:
    """Class A under way reports every 10 s, so AIS never leaves its track's sources: once
    that has held for ``steady_s`` (25 s), silence is ``steady_ais_timeout_s`` (30 s) after
    the station leaves the sources, not the class B 65 s."""
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"warmup_s": 0}), SENSORS)
    lit = walk("V2", (3000, -2000), (0, 3), 10, sources=["R1", "A1"], mmsi=211000007)  # 45 s
    silent = walk("V2", (3000, -1850), (0, 3), 30, t0=lit[-1].t + 5, sources=["R1"], mmsi=211000007)
    out = feed(eng, lit + silent)
    assert out and 30 <= out[0].t_first - lit[-1].t <= 35
    # a class B at speed: AIS in the sources 10 s, then 20 s without (30 s period)
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel={"warmup_s": 0}), SENSORS)
    ups = []
    for k in range(12):  # 60 s, a report every 30 s
        src = ["R1", "A1"] if k % 6 in (0, 1) else ["R1"]
        ups.append(upd("V3", T0 + 5 * k, 3000, -2000 + 15 * k, 0, 3, sources=src, mmsi=211000008))
    silent = walk("V3", (3000, -1820), (0, 3), 30, t0=T0 + 60, sources=["R1"], mmsi=211000008)
    out = feed(eng, ups + silent)
    assert out and out[0].t_first - (T0 + 35) >= 65  # last AIS-fed update at +35 s
