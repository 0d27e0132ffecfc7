"""Border crossing and approach rules on the hand-made scene."""

from __future__ import annotations

from fusion.alerts import AlertEngine
from fusion.geofence import Zones
from tests.fusion.test_rules_scene import SENSORS, T0, feed, ll, only, scene, scene_fc, upd, walk


def _engine(*names: str, **kw) -> AlertEngine:
    return AlertEngine(scene(), only(*names, **kw), SENSORS)


def test_crossing_fires_once_with_direction_and_place() -> None:
    eng = _engine("border_crossing")
    out = feed(
        eng, walk("T1", (-1000, 400), (0, -2), 60, sources=["R1", "C2"], classification="person")
    )
    assert len(out) == 1
    a = out[0]
    assert (a.rule, a.zone_id, a.track_ids, a.status) == (
        "border_crossing",
        "B-green",
        ["T1"],
        "open",
    )
    assert a.evidence["details"]["direction"] == "inbound"
    assert a.severity == "high"
    # the alert sits at the crossing point: on the line, at east -1000
    e, n = eng.zones.to_en(a.lat, a.lon)
    e_ref, n_ref = eng.zones.to_en(*ll(-1000, 0))
    assert abs(e[0] - e_ref[0]) < 1 and abs(n[0] - n_ref[0]) < 1
    assert "crossed the green border inbound" in a.summary
    assert "radar R1" in a.summary and "camera C2" in a.summary
    assert a.evidence["sensors"] == ["C2", "R1"]
    assert a.score == 0.9  # 0.8 + one extra sensor kind


def test_crossing_through_checkpoint_or_parallel_is_silent() -> None:
    eng = _engine("border_crossing")
    out = feed(eng, walk("CP", (0, 400), (0, -2), 60), walk("PAR", (-3000, -30), (2, 0), 60))
    assert out == []


def test_outbound_filtered_by_config() -> None:
    eng = _engine("border_crossing", border_crossing={"directions": ["inbound"]})
    assert feed(eng, walk("T1", (-1000, -200), (0, 2), 60)) == []


def test_approach_fires_under_threshold_only_when_heading_for_border() -> None:
    # confirm_updates 1: the threshold alone (the two-update confirmation: test_rules_approach)
    eng = _engine("approach", approach={"threshold_s": 60, "confirm_updates": 1})
    # 1000 m out on the far side at 5 m/s south: 200 s to go, under 60 s from k=28 (t=140 s)
    out = feed(eng, walk("IN", (-1500, 1000), (0, -5), 34, dt=5.0))
    assert {a.rule for a in out} == {"approach"}
    first = out[0]
    assert first.t_first - 1_700_000_000 == 140.0
    assert first.evidence["details"]["direction"] == "inbound"
    assert first.evidence["details"]["time_to_border_s"] <= 60
    # moving parallel 100 m from the border or away from it: never
    eng2 = _engine("approach", approach={"threshold_s": 60})
    assert (
        feed(eng2, walk("PAR", (-3000, 100), (5, 0), 60), walk("AWAY", (-1500, 200), (0, 3), 60))
        == []
    )


def test_approach_needs_a_confirmed_track() -> None:
    eng = _engine("approach")
    assert feed(eng, walk("TEN", (-1500, 300), (0, -5), 10, status="tentative")) == []


def _first_crossing_t(cov: float, vel_n: float = -1.0, **cfg: float) -> float | None:
    """A walker crossing north → south at 1 m/s (east -1000), position σ² = ``cov``."""
    eng = _engine("border_crossing", border_crossing=cfg) if cfg else _engine("border_crossing")
    ups = walk("W", (-1000, 40.5), (0, vel_n), 80, dt=1.0)
    for u in ups:
        u.cov = [[cov, 0.0], [0.0, cov]]
    out = [a for a in feed(eng, ups) if a.rule == "border_crossing"]
    assert len({a.alert_id for a in out}) <= 1
    return out[0].t_first - ups[0].t if out else None


def test_well_tracked_crossing_is_firm_one_sigma_past_the_line() -> None:
    # crosses at t 40.5 s; σ 5 m: firm 5 m past (t 46 s, 5.5 m), not at the fixed 10 m (t 51 s)
    assert _first_crossing_t(25.0) == 46.0
    assert _first_crossing_t(25.0, sigma_margin=0.0) == 51.0
    # σ 7 m: 7 m past (t 48 s, 7.5 m)
    assert _first_crossing_t(49.0) == 48.0


def test_noisy_track_needs_more_than_the_fixed_margin() -> None:
    # σ 20 m (a boat 4 km from the radar): 12 m (max_margin_m), not 10 m, past the line
    assert _first_crossing_t(400.0) == 53.0
    assert _first_crossing_t(400.0, max_margin_m=15.0) == 56.0


def test_early_margin_needs_motion_deeper_into_the_far_side() -> None:
    """The same positions with a velocity along the line: the fixed 10 m margin applies."""
    eng = _engine("border_crossing")
    ups = walk("S", (-1000, 40.5), (0, -1), 80, dt=1.0)
    for u in ups:
        u.vel_e, u.vel_n = 1.0, 0.0  # the filter says it moves along the border
    out = feed(eng, ups)
    assert [a.t_first - ups[0].t for a in out][:1] == [51.0]


def test_track_first_seen_near_the_line_still_reports_its_crossing() -> None:
    """A track handed over from the neighbour sector 6.5 m before the line (σ 5 m)."""
    ups = walk("H", (-1000, 6.5), (0, -1), 30, dt=1.0)
    out = feed(_engine("border_crossing"), ups)
    # a young track (12 updates): the second firm plot over the line, 1 s after the first
    assert [(a.t_first - ups[0].t, a.evidence["details"]["direction"]) for a in out][:1] == [
        (13.0, "inbound")
    ]
    first = feed(_engine("border_crossing", border_crossing={"confirm_updates": 1}), ups)
    assert [a.t_first - ups[0].t for a in first][:1] == [12.0]
    # with the fixed 10 m margin it never had a firm side before the line: no crossing
    fixed = _engine("border_crossing", border_crossing={"sigma_margin": 0.0})
    assert feed(fixed, walk("H", (-1000, 6.5), (0, -1), 30, dt=1.0)) == []


# a young track (fewer than 30 measured updates here) needs a second plot over the line
THIN = {"confirm_updates": 2, "young_updates": 30}
FIRST = {"confirm_updates": 1}  # the first firm plot over the line counts


def _path(tid: str, ns: list[float], t0: float = T0, statuses: list[str] | None = None) -> list:
    """One update a second at east -1000, north ``ns`` (our side is south, n < 0)."""
    st = statuses or ["confirmed"] * len(ns)
    return [
        upd(tid, t0 + k, -1000, n, status=s) for k, (n, s) in enumerate(zip(ns, st, strict=True))
    ]


def _crossings(cfg: dict, *tracks: list) -> list[tuple[float, str]]:
    out = feed(_engine("border_crossing", border_crossing=cfg), *tracks)
    firsts = {a.alert_id: a for a in reversed(out)}
    return sorted((a.t_first - T0, a.evidence["details"]["direction"]) for a in firsts.values())


def test_one_plot_over_the_line_on_a_young_track_is_no_crossing() -> None:
    """A clutter plot 60 m over the line joins a 5-update track for one scan, then it is back."""
    ns = [-60.0] * 5 + [60.0] + [-60.0] * 5
    assert _crossings(THIN, _path("C", ns)) == []
    # the same plot on the first-plot rule: a false crossing out (back a second later,
    # within crossing_return_s: an update of the same alert, not a second one)
    assert _crossings(FIRST, _path("C", ns)) == [(5.0, "outbound")]


def test_settled_track_crosses_on_its_first_firm_update() -> None:
    """After young_updates measured updates one firm plot over the line is enough again."""
    ns = [-60.0] * 40 + [60.0, 62.0]
    assert _crossings(THIN, _path("M", ns)) == [(40.0, "outbound")]


def test_a_young_ais_track_crosses_on_its_first_report_over_the_line() -> None:
    """A class B boat heard three times, the third report past the line (and maybe the
    last one this sector gets): an AIS track's positions are the vessel's own, there is no
    filter settling to wait for. A sensor track fed by the same AIS still waits."""
    ns = [-60.0, -50.0, -40.0, 30.0]
    ais = [upd("V", T0 + 60 * k, -1000, n, sources=["A1"], mmsi=273000002)
           for k, n in enumerate(ns)]
    assert _crossings(THIN, ais) == [(180.0, "outbound")]
    fused = [upd("F", T0 + 60 * k, -1000, n, sources=["R1", "A1"], mmsi=273000003)
             for k, n in enumerate(ns)]
    assert _crossings(THIN, fused) == []


def test_young_track_crossing_waits_for_a_second_plot_on_the_line() -> None:
    ns = [40.0, 30.0, 20.0, 5.0, -5.0, 4.0, -6.0, -12.0, -20.0, -30.0]
    assert _crossings(FIRST, _path("Y", ns)) == [(7.0, "inbound")]
    out = feed(_engine("border_crossing", border_crossing=THIN), _path("Y", ns))
    assert [(a.t_first - T0, a.evidence["details"]["direction"]) for a in out] == [(8.0, "inbound")]
    # still placed where the step from the last firm point meets the border
    _, n = scene().to_en(out[0].lat, out[0].lon)
    _, n_line = scene().to_en(*ll(-1000, 0))
    assert abs(n[0] - n_line[0]) < 1.0


def test_coasted_updates_do_not_confirm_a_thin_crossing() -> None:
    ns = [-60.0] * 5 + [60.0, 70.0, 80.0, 90.0]
    st = ["confirmed"] * 6 + ["coasting", "coasting", "confirmed"]
    assert _crossings(THIN, _path("K", ns, statuses=st)) == [(8.0, "outbound")]
    # a plot back at the line in between starts the confirmation over
    ns2 = [-60.0] * 5 + [60.0, 2.0, 60.0]
    assert _crossings(THIN, _path("K2", ns2)) == []


def test_a_sensor_track_unseen_for_long_does_not_cross_along_its_jump() -> None:
    """A settled track lost for 40 s takes a plot 400 m away over the line (a coasted gate is
    that wide; in mixed seed 4 it was a clutter return): where it went meanwhile is unknown,
    so there is no crossing, and its new side starts there. After a gap under ``max_gap_s``
    the same jump is a crossing; so is one between two AIS reports (the vessel itself)."""
    settled = [-60.0] * 35  # past young_updates: its first firm plot over the line counts

    def jump(tid: str, gap: float, **kw: object) -> list:
        back = T0 + 34 + gap
        return _path(tid, settled) + [upd(tid, back + k, -1400, 80.0, **kw) for k in range(5)]

    assert _crossings(THIN, jump("L", 40.0)) == []
    assert _crossings(THIN, jump("S", 10.0)) == [(44.0, "outbound")]
    assert _crossings(THIN, jump("V", 40.0, sources=["A1"], mmsi=273000001)) == [
        (74.0, "outbound")
    ]
    assert _crossings({**THIN, "max_gap_s": 0}, jump("L", 40.0)) == [(74.0, "outbound")]


# ---- first seen inside: an inferred crossing (forest, only a ground sensor sees the target)


def _sensed(tid: str, e: float, n: float, t0: float = T0, confirm_at: int = 2, steps: int = 8,
            classification: str | None = "person", vel: tuple[float, float] = (0.0, -1.0)) -> list:
    """A track born at (e, n), tentative for ``confirm_at`` updates, then confirmed."""
    ups = walk(tid, (e, n), vel, steps, dt=2.0, t0=t0, sources=["G1"],
               classification=classification)
    for u in ups[:confirm_at]:
        u.status = "tentative"
    return ups


def test_person_first_seen_inside_near_the_border_is_a_likely_crossing() -> None:
    """Footsteps 80 m inside with nothing tracked there before: one alert, no direction."""
    out = feed(_engine("border_crossing"), _sensed("G", -3000, -80))
    assert len({a.alert_id for a in out}) == 1
    a = out[0]
    assert (a.rule, a.zone_id, a.track_ids) == ("border_crossing", "B-green", ["G"])
    assert a.t_first == T0 + 4.0  # at confirmation, not at the first (tentative) update
    details = a.evidence["details"]
    assert details["inferred"] == "first_seen_inside" and details["distance_m"] == 84.0
    assert "direction" not in details  # a ground sensor cannot tell which way it goes
    assert "first seen 84 m inside the green border" in a.summary
    assert "direction unknown" in a.summary and "seismic sensor G1" in a.summary
    assert a.score == 0.6


def test_first_seen_inside_needs_a_class_a_new_arrival_and_a_young_confirmation() -> None:
    assert feed(_engine("border_crossing"), _sensed("U", -3000, -80, classification=None)) == []
    assert feed(_engine("border_crossing"), _sensed("A", -3000, -80,
                                                    classification="animal")) == []
    # deeper inside than first_seen_m, or on the far side: nothing to infer
    assert feed(_engine("border_crossing"), _sensed("D", -3000, -400)) == []
    assert feed(_engine("border_crossing"), _sensed("F", -3000, 300, vel=(0.0, 1.0))) == []
    # confirmed 70 s after it was first seen (first_seen_s 60): not a fresh arrival
    assert feed(_engine("border_crossing"), _sensed("L", -3000, -80, confirm_at=36,
                                                    steps=40, vel=(1.0, 0.0))) == []
    # at a sector edge (east 0 splits the scene; a hand-over starts there) or a checkpoint
    assert feed(_engine("border_crossing"), _sensed("E", -50, -80, vel=(-1.0, 0.0))) == []
    assert feed(_engine("border_crossing"), _sensed("K", 150, -80, vel=(0.0, -1.0))) == []
    # first seen already confirmed: followed elsewhere before (a hand-over), not new here
    assert feed(_engine("border_crossing"), _sensed("H", -3000, -80, confirm_at=0)) == []
    # first_seen_m 0 turns it off
    off = _engine("border_crossing", border_crossing={"first_seen_m": 0})
    assert feed(off, _sensed("G", -3000, -80)) == []
    # without a territory polygon no side is "inside": nothing is inferred
    fc = scene_fc()
    fc["features"] = [f for f in fc["features"] if f["properties"]["kind"] != "territory"]
    sideless = AlertEngine(Zones.from_geojson(fc), only("border_crossing"), SENSORS)
    assert feed(sideless, _sensed("G", -3000, -80)) == []


def test_a_track_reborn_where_another_was_lost_is_not_a_new_arrival() -> None:
    """A confirmed walker's track is deleted; 10 s later a new one starts 40 m from it."""
    eng = _engine("border_crossing")
    old = walk("OLD", (-3000, -200), (0, 2), 10, dt=2.0, classification="person")
    gone = upd("OLD", old[-1].t + 0.5, -3000, -164, status="deleted")
    assert feed(eng, old, [gone]) == []
    again = _sensed("NEW", -3000, -125, t0=old[-1].t + 10.0, vel=(0.0, 1.0))
    assert feed(eng, again) == []
    # the same birth over a minute after the last of them (NEW ends at +24 s) is new
    later = _sensed("NEW2", -3000, -100, t0=old[-1].t + 90.0, vel=(0.0, -1.0))
    assert len({a.alert_id for a in feed(eng, later)}) == 1
