"""Restricted-zone entry and loitering rules."""

from __future__ import annotations

from fusion.alerts import AlertEngine
from tests.fusion.test_rules_scene import SENSORS, feed, ll, only, scene, walk


def test_restricted_entry_refreshes_then_resolves_on_exit() -> None:
    eng = AlertEngine(scene(), only("restricted_entry"), SENSORS)
    # west → east through the depot square (-3000..-2000) at 10 m/s: inside for 100 s
    out = feed(eng, walk("P1", (-3520, -2500), (10, 0), 40))
    assert [a.status for a in out][0] == "open"
    assert out[-1].status == "resolved"
    assert {a.alert_id for a in out} == {out[0].alert_id}  # one alert, refreshed
    a = out[0]
    assert (a.rule, a.zone_id, a.severity) == ("restricted_entry", "R1", "high")
    assert a.t_first - 1_700_000_000 == 55.0  # first sample inside: east -3520 + 550 m
    assert "entered restricted zone Depot" in a.summary
    assert out[-1].evidence["details"]["dwell_s"] >= 95


def test_restricted_near_miss_is_silent() -> None:
    eng = AlertEngine(scene(), only("restricted_entry"), SENSORS)
    assert feed(eng, walk("P1", (-3500, -1980), (10, 0), 25)) == []  # 20 m north of it


def test_restricted_severity_override() -> None:
    eng = AlertEngine(
        scene(), only("restricted_entry", restricted_entry={"severity": "critical"}), SENSORS
    )
    out = feed(eng, walk("P1", (-2500, -2500), (0, 0), 3))
    assert out[0].severity == "critical"


def test_loitering_fires_after_dwell_with_low_net_displacement() -> None:
    cfg = only("loitering", loitering={"dwell_s": 120, "max_displacement_m": 100})
    eng = AlertEngine(scene(), cfg, SENSORS)
    # pacing ±40 m east-west 150 m south of the border for 200 s
    ups = walk("L1", (-1000, -150), (0, 0), 41)
    for k, u in enumerate(ups):
        e = -1000 + (40 if (k // 4) % 2 else -40)
        u.lat, u.lon = ll(e, -150)
    out = feed(eng, ups)
    assert out and {a.rule for a in out} == {"loitering"}
    assert out[0].t_first - 1_700_000_000 >= 120
    assert out[0].zone_id == "S1"
    assert out[0].evidence["details"]["displacement_m"] <= 100


def test_loitering_not_for_transit_or_far_from_border() -> None:
    cfg = only("loitering", loitering={"dwell_s": 120, "max_displacement_m": 100})
    eng = AlertEngine(scene(), cfg, SENSORS)
    transit = walk("TR", (-5000, -150), (3, 0), 80)  # 3 m/s along the strip: 360 m per 120 s
    far = walk("FAR", (-1000, -1500), (0, 0), 80)  # stationary, 1.5 km from the border
    assert feed(eng, transit, far) == []


def _leaving_walker() -> list:
    """A walker 150 m south of the border heading south at 0.8 m/s (120 m in 150 s), with
    a ±35 m square wave of position noise (period 20 s): 150 s apart, the samples' noise
    is opposite, so end samples read 50 m where the walker moved 120 m."""
    ups = walk("W1", (-1000, -150), (0, -0.8), 41)
    for k, u in enumerate(ups):
        noise = -35.0 if k % 4 in (0, 1) else 35.0
        u.lat, u.lon = ll(-1000, -150 - 0.8 * 5.0 * k + noise)
    return ups


def test_loitering_net_displacement_is_fitted_not_two_noisy_ends() -> None:
    """The fit sees 0.8 m/s × 150 s; two noisy end samples 150 s apart are ~50 m apart."""
    ends = only("loitering", loitering={"fit_displacement": False})
    assert any(
        a.rule == "loitering" for a in feed(AlertEngine(scene(), ends, SENSORS), _leaving_walker())
    )
    fitted = only("loitering")
    assert feed(AlertEngine(scene(), fitted, SENSORS), _leaving_walker()) == []


def test_loitering_fit_still_sees_pacing() -> None:
    """Pacing ±40 m for 200 s: the fitted velocity is ~0, so it is loitering."""
    ups = walk("L1", (-1000, -150), (0, 0), 41)
    for k, u in enumerate(ups):
        u.lat, u.lon = ll(-1000 + (40 if (k // 4) % 2 else -40), -150)
    out = feed(AlertEngine(scene(), only("loitering"), SENSORS), ups)
    assert out and out[0].evidence["details"]["displacement_m"] <= 80


def test_loitering_not_for_animals() -> None:
    still = walk("N1", (-1000, -150), (0, 0), 41, classification="animal")
    assert feed(AlertEngine(scene(), only("loitering"), SENSORS), still) == []
    unknown = walk("U1", (-1000, -150), (0, 0), 41)  # the same, unclassified: loiters
    out = feed(AlertEngine(scene(), only("loitering"), SENSORS), unknown)
    assert out and out[0].rule == "loitering"
