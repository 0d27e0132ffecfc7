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
    assert out[0].t_first == T0 + 7  # first update 10 m past the line (margin_m)
    e, n = scene().to_en(out[0].lat, out[0].lon)
    _, n_line = scene().to_en(*ll(-1000, 0))
    assert abs(n[0] - n_line[0]) < 1.0  # placed where the step meets the border


def test_crossing_back_is_a_second_alert() -> None:
    """A ferry goes over and comes back: two crossings, two alerts (the first one resolved)."""
    ns = [40.0, 20.0, -20.0, -40.0, -40.0, -20.0, 20.0, 40.0]
    out = feed(_engine("border_crossing"), _dither("F", 3000, ns))
    ids = list(dict.fromkeys(a.alert_id for a in out))
    assert len(ids) == 2
    firsts = [next(a for a in out if a.alert_id == i) for i in ids]
    assert [a.evidence["details"]["direction"] for a in firsts] == ["inbound", "outbound"]
    assert [a.status for a in out if a.alert_id == ids[0]][-1] == "resolved"


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
