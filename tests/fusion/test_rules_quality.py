"""Pins for the alert-quality fixes (issue 5): noise hysteresis, fragments, crossings back.

Each test is one cause of false or missed alerts measured on simulated scenarios
(docs/rules.md, "Alert quality"), reduced to a hand-made track on the test scene.
"""

from __future__ import annotations

from fusion.alerts import AlertEngine
from fusion.types import TrackUpdate
from tests.fusion.test_rules_scene import SENSORS, T0, feed, ll, only, scene, upd, walk


def _engine(*names: str, **kw) -> AlertEngine:
    return AlertEngine(scene(), only(*names, **kw), SENSORS)


def _dither(
    tid: str, e: float, ns: list[float], t0: float = T0, dt: float = 1.0, **kw
) -> list[TrackUpdate]:
    return [upd(tid, t0 + k * dt, e, n, **kw) for k, n in enumerate(ns)]


def test_track_dithering_across_the_line_is_no_crossing() -> None:
    """A boat waiting on the line: its noisy position flips sides (±8 m) scan after scan."""
    ns = [30.0, 20.0] + [(-8.0 if k % 2 else 8.0) for k in range(60)]
    assert feed(_engine("border_crossing"), _dither("W", -1000, ns)) == []


def test_crossing_is_reported_once_firmly_over_and_at_the_line() -> None:
    ns = [40.0, 30.0, 20.0, 5.0, -5.0, 4.0, -6.0, -12.0, -20.0, -30.0]
    out = feed(_engine("border_crossing"), _dither("X", -1000, ns))
    assert [a.evidence["details"]["direction"] for a in out] == ["inbound"]
    # a young track: the second update in a row 10 m past the line (margin_m), not the first
    assert out[0].t_first == T0 + 8
    e, n = scene().to_en(out[0].lat, out[0].lon)
    _, n_line = scene().to_en(*ll(-1000, 0))
    assert abs(n[0] - n_line[0]) < 1.0  # placed where the step meets the border


def test_crossing_back_is_a_second_alert() -> None:
    """A ferry goes over, waits a minute and comes back: two crossings, two alerts (the
    first one resolved)."""
    ns = [40.0, 20.0, -20.0] + [-40.0] * 60 + [-20.0, 20.0, 40.0]
    out = feed(_engine("border_crossing"), _dither("F", 3000, ns))
    ids = list(dict.fromkeys(a.alert_id for a in out))
    assert len(ids) == 2
    firsts = [next(a for a in out if a.alert_id == i) for i in ids]
    assert [a.evidence["details"]["direction"] for a in firsts] == ["inbound", "outbound"]
    assert [a.status for a in out if a.alert_id == ids[0]][-1] == "resolved"
    assert all("crossings" not in a.evidence for a in out)


def test_a_quick_return_updates_the_crossing_alert() -> None:
    """A track at the line goes over and is back 8 s later (a noisy or young track's flip,
    or someone stepping over and back): one incident, one alert, which takes the newer
    crossing (where the target is now) and keeps both in ``evidence.crossings``; with
    ``crossing_return_s`` 0 the return is a second alert, as for the ferry."""
    ns = [40.0, 30.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0, 30.0, 40.0]
    out = feed(_engine("border_crossing"), _dither("Q", 3000, ns))
    assert len({a.alert_id for a in out}) == 1
    first, last = out[0], out[-1]
    assert first.evidence["details"]["direction"] == "inbound"
    assert last.evidence["details"]["direction"] == "outbound"
    assert (last.status, last.t_first) == ("open", first.t_first)
    # (a young track: the second plot over the line reports each crossing)
    assert last.evidence["crossings"] == [
        {"t": T0 + 3, "direction": "inbound"},
        {"t": T0 + 11, "direction": "outbound"},
    ]
    assert "outbound" in last.summary and "(8 s after crossing inbound)" in last.summary
    eng = AlertEngine(scene(), {**only("border_crossing"), "engine": {"crossing_return_s": 0}},
                      SENSORS)
    apart = feed(eng, _dither("Q", 3000, ns))
    assert len({a.alert_id for a in apart}) == 2


def test_tentative_jump_across_the_line_is_no_crossing() -> None:
    """A lone seismic event then a radar plot 400 m away over the line: one tentative track."""
    ups = [
        upd("J", T0, -1000, -80, status="tentative"),
        upd("J", T0 + 13, -900, 320, status="tentative"),
    ]
    ups += [upd("J", T0 + 14 + k, -900, 320 + k, status="confirmed") for k in range(10)]
    assert feed(_engine("border_crossing"), ups) == []


def test_approach_ignores_noise_along_the_line_and_animals() -> None:
    eng = _engine("approach")
    noise = [0.0, 9.0, -7.0, 4.0, 11.0, -9.0, 2.0, -4.0, 8.0, -10.0] * 6
    # a vessel running along our side 30 m from the line, with ±10 m position noise and
    # a noisy velocity that sometimes points at the line
    par = [
        upd("PAR", T0 + k, -3000 + 4 * k, -30 + noise[k], 4.0, 1.0 if k % 3 else 3.0)
        for k in range(60)
    ]
    deer = walk("DEER", (-1500, 300), (0, -2), 60, dt=1.0, classification="animal")
    assert feed(eng, par, deer) == []


def test_restricted_entry_is_one_alert_while_noise_carries_it_in_and_out() -> None:
    eng = _engine("restricted_entry")
    # the depot spans east -3000..-2000; a person standing at its edge, ±15 m of noise
    ups = [upd("P", T0 + k, -2000 + (-15.0 if k % 3 else 15.0), -2500) for k in range(60)]
    out = feed(eng, ups)
    assert len({a.alert_id for a in out}) == 1
    assert out[-1].status == "open"


def test_fragmented_track_joins_the_open_alert() -> None:
    """The tracker loses the intruder and starts a new track: same alert, both track ids."""
    eng = _engine("restricted_entry")
    first = [upd("T1", T0 + k, -2500, -2500 + k) for k in range(10)]
    gone = [upd("T1", T0 + 10, -2500, -2490, status="deleted")]
    second = [upd("T2", T0 + 12 + k, -2490, -2488 + k) for k in range(10)]
    out = feed(eng, first + gone + second)
    assert len({a.alert_id for a in out}) == 1
    assert out[-1].status == "open" and out[-1].track_ids == ["T1", "T2"]
    # ... and the alert survives the first fragment's deletion while the second holds it
    out2 = feed(eng, [upd("T2", T0 + 30, -2490, -2470)])
    assert all(a.status == "open" for a in out2)


def test_a_track_followed_before_the_alert_was_raised_is_a_second_target() -> None:
    """Measured (mixed seed 3): a walker heading into the depot 80 m from an intruder whose
    alert was raised while both tracks were live; he joined it and had no alert of his own."""
    eng = _engine("restricted_entry")
    intruder = [upd("A", T0 + 2 + k, -2450, -2060) for k in range(28)]  # raised at +2 s
    walker = [upd("B", T0 + k, -2380, -1990 - 2 * k) for k in range(30)]  # in at +6 s, 91 m
    out = feed(eng, intruder, walker)
    assert {tuple(x.track_ids) for x in out} == {("A",), ("B",)}
    assert len({x.alert_id for x in out}) == 2
    # a track born after the alert was raised, where it was, is still its fragment
    later = [upd("C", T0 + 40 + k, -2450, -2070) for k in range(5)]
    gone = [upd("A", T0 + 35, -2450, -2060, status="deleted")]
    joined = feed(eng, gone, later)
    assert [x.track_ids for x in joined if "C" in x.track_ids][-1] == ["A", "C"]


def test_distant_track_does_not_join() -> None:
    eng = _engine("restricted_entry")
    a = [upd("A", T0 + k, -2900, -2900) for k in range(5)]
    b = [upd("B", T0 + 5 + k, -2100, -2100) for k in range(5)]  # 1.1 km away
    out = feed(eng, a + b)
    assert len({x.alert_id for x in out}) == 2


def test_alert_records_where_it_was_raised() -> None:
    out = feed(
        _engine("restricted_entry"), [upd("T", T0 + k, -2500, -2500 + 10 * k) for k in range(20)]
    )
    raised = out[0].evidence["raised"]
    assert raised["t"] == T0
    e, n = scene().to_en(raised["lat"], raised["lon"])
    _, n_ref = scene().to_en(*ll(-2500, -2500))
    assert abs(n[0] - n_ref[0]) < 0.5


# --- approach (issue 5, second round) ------------------------------------------------------


def _noisy(
    tid: str, pts: list[tuple[float, float]], var: float, t0: float = T0
) -> list[TrackUpdate]:
    """A track at local points one second apart whose covariance says σ² = ``var`` m²."""
    out = []
    for k, (e, n) in enumerate(pts):
        u = upd(tid, t0 + k, e, n)
        u.cov = [[var, 0.0], [0.0, var]]
        out.append(u)
    return out


def test_new_track_settling_is_no_approach() -> None:
    """Measured (forest seed 1): a walker 330 m out at 1.3 m/s, the first 20 s of its radar
    track (σ ≈ 17 m) settle by 40 m toward the line; the old rule read that as 5 m/s."""
    ns = [
        371.8,
        376.8,
        352.8,
        338.7,
        335.9,
        355.7,
        330.5,
        330.0,
        329.6,
        315.9,
        341.9,
        351.3,
        348.4,
        330.3,
        326.0,
        322.9,
        321.5,
        316.8,
        302.7,
        299.2,
    ]
    var_n = [1384, 716, 541, 496, 470, 450, 430, 415, 400, 390] + [380 - 5 * k for k in range(10)]
    ups = _noisy("NEW", [(-1500.0, n) for n in ns], 300.0)
    for u, v in zip(ups, var_n, strict=True):
        u.cov = [[240.0, 0.0], [0.0, float(v)]]  # the track's own north variance, as measured
        u.vel_n = -4.0  # the filter's velocity of a settling track: as noisy as its position
    assert feed(_engine("approach"), ups) == []


def test_patrol_wobbling_along_the_strip_is_no_approach() -> None:
    """A foot patrol 150 m inside walks along the line; its track wobbles ±12 m over 40 s
    (measured on forest seed 2: 163 → 136 m in 20 s, σ 8 m)."""
    import math

    pts = [(-4000 + 1.2 * k, -150 + 12 * math.sin(2 * math.pi * k / 40)) for k in range(300)]
    eng = _engine("approach")
    ups = _noisy("PAT", pts, 64.0)
    for k, u in enumerate(ups):
        u.vel_e, u.vel_n = 1.2, 12 * 2 * math.pi / 40 * math.cos(2 * math.pi * k / 40)
    assert feed(eng, ups) == []


def test_approach_to_a_checkpoint_is_legal() -> None:
    """A vehicle driving up to the checkpoint (±100 m around the origin) is traffic."""
    eng = _engine("approach")
    assert feed(eng, walk("CPV", (0, 1200), (0, -8), 20, dt=5.0)) == []
    eng2 = _engine("approach")  # the same drive 1 km west of it is an approach
    assert {a.rule for a in feed(eng2, walk("OFF", (-1000, 1200), (0, -8), 20, dt=5.0))} == {
        "approach"
    }


def test_approach_resolves_when_the_target_stops_and_a_new_approach_is_a_new_alert() -> None:
    # 182 m at 2 m/s is 91 s out: over the default threshold_s (90), so set the old 120 here
    eng = _engine("approach", approach={"threshold_s": 120})
    go = walk("W", (-1500, 300), (0, -2), 60, dt=1.0)  # 300 → 182 m
    stay = [upd("W", T0 + 60 + k, -1500, 182) for k in range(60)]  # waits a minute
    again = walk("W", (-1500, 182), (0, -2), 40, dt=1.0, t0=T0 + 120)
    out = feed(eng, go + stay + again)
    ids = list(dict.fromkeys(a.alert_id for a in out))
    assert len(ids) == 2
    first = [a for a in out if a.alert_id == ids[0]]
    assert first[-1].status == "resolved" and first[-1].t_last < T0 + 120
    assert next(a for a in out if a.alert_id == ids[1]).t_first >= T0 + 120


def test_second_target_beside_a_live_alert_track_gets_its_own_alert() -> None:
    """Two intruders 20 m apart, each on its own live track: two alerts. The fragment merge
    used to fold the second into the first's alert (a boat waiting 9 m from a dark boat was
    never reported); with ``merge_skip_live_s`` 0 it still does."""
    a = [upd("A", T0 + k, -2500, -2500 + k) for k in range(30)]
    b = [upd("B", T0 + 10 + k, -2500, -2480 + k) for k in range(20)]
    out = feed(_engine("restricted_entry"), a, b)
    assert len({x.alert_id for x in out}) == 2
    assert {tuple(x.track_ids) for x in out} == {("A",), ("B",)}
    old = AlertEngine(scene(), {**only("restricted_entry"), "engine": {"merge_skip_live_s": 0}},
                      SENSORS)
    assert len({x.alert_id for x in feed(old, a, b)}) == 1


def test_track_that_swapped_away_leaves_its_alert_to_the_new_track() -> None:
    """The alert's track leaves with another target (a walker off the boat he landed from)
    and a new track takes up the intruder where it was: the new track joins the alert,
    although the old track is still live, because it is no longer beside the new one."""
    a = [upd("A", T0 + k, -2500, -2500 + (0 if k < 10 else 8 * (k - 10))) for k in range(30)]
    b = [upd("B", T0 + 20 + k, -2500, -2500) for k in range(10)]  # A is 80 m off by then
    out = feed(_engine("restricted_entry"), a, b)
    assert len({x.alert_id for x in out}) == 1
    assert out[-1].track_ids == ["A", "B"]
