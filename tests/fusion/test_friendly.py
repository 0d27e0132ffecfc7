"""Own-force association (blue-force tracking): which sensor tracks are our patrols."""

from __future__ import annotations

import json

from fusion.friendly import EXEMPT_RULES, OwnForce, OwnForceConfig, drop_own_force
from fusion.rules import Hit
from fusion.types import Observation, TrackUpdate
from tests.fusion.test_rules_scene import ll

T0 = 1_700_000_000.0


def report(unit: str, t: float, e: float, n: float, sigma: float = 5.0) -> Observation:
    lat, lon = ll(e, n)
    return Observation(f"{unit}@{t}", "TAK1", "friendly", T0 + t, lat, lon,
                       [[sigma**2, 0.0], [0.0, sigma**2]], {"unit_id": unit})


def update(tid: str, t: float, e: float, n: float, ve: float = 0.0, vn: float = 0.0,
           var: float = 100.0, status: str = "confirmed") -> TrackUpdate:
    lat, lon = ll(e, n)
    return TrackUpdate(tid, T0 + t, lat, lon, ve, vn, [[var, 0.0], [0.0, var]], status, ["R1"])


def drive(own: OwnForce, seconds: int, track: callable, unit: callable | None,  # type: ignore[valid-type]
          tid: str = "s-T1", every: int = 5, start: int = 0) -> list[str | None]:
    """1 Hz track updates, a unit report every ``every`` s; the ``friendly`` of each update."""
    marks = []
    for t in range(start, start + seconds):
        if unit is not None and t % every == 0:
            own.report([report("BFT-V3", t, *unit(t))])
        e, n, ve, vn = track(t)
        u = update(tid, t, e, n, ve, vn)
        own.mark([u])
        marks.append(u.friendly)
    return marks


def vehicle(t: float) -> tuple[float, float, float, float]:
    return -3000.0 + 10.0 * t, -2500.0, 10.0, 0.0


def test_a_patrol_next_to_its_track_becomes_own_force_after_a_run_of_reports() -> None:
    own = OwnForce(50.0, 30.0)
    # the device reports 8 m off the track's position, the vehicle moves 10 m/s
    marks = drive(own, 40, vehicle, lambda t: (vehicle(t)[0] + 6.0, -2495.0))
    first = marks.index("BFT-V3")
    assert first == 10  # the third report (t = 0, 5, 10), never on the first coincidence
    assert all(m == "BFT-V3" for m in marks[first:])


def test_the_track_is_carried_back_to_the_report_time() -> None:
    """Between reports a 20 m/s vehicle is up to 80 m from its last report: the track's
    velocity carries it back to the report's time. Without it (a track claiming to stand
    still) the same positions never form a run."""

    def fast(t: float) -> tuple[float, float, float, float]:
        return -3000.0 + 20.0 * t, -2500.0, 20.0, 0.0

    own = OwnForce(50.0, 30.0)
    assert drive(own, 40, fast, lambda t: fast(t)[:2])[-1] == "BFT-V3"
    own = OwnForce(50.0, 30.0)
    still = drive(own, 40, lambda t: (*fast(t)[:2], 0.0, 0.0), lambda t: fast(t)[:2])
    assert set(still) == {None}


def test_an_intruder_passing_a_patrol_is_not_own_force() -> None:
    """Passing near (70 m off a parked patrol, on foot) or through it (a car at 12 m/s, in
    the ~50 m gate for about 8 s: fewer than 3 reports) leaves the intruder an ordinary
    track."""
    parked = lambda t: (0.0, -2500.0)  # noqa: E731
    own = OwnForce(50.0, 30.0)
    walker = drive(own, 150, lambda t: (70.0, -2600.0 + 1.5 * t, 0.0, 1.5), parked)
    assert set(walker) == {None}
    own = OwnForce(50.0, 30.0)
    car = drive(own, 60, lambda t: (-300.0 + 12.0 * t, -2500.0, 12.0, 0.0), parked)
    assert set(car) == {None}


def test_a_broken_run_starts_again_and_a_track_leaving_its_unit_is_released() -> None:
    own = OwnForce(50.0, 30.0)
    marks = drive(own, 40, vehicle, lambda t: vehicle(t)[:2])
    assert marks[-1] == "BFT-V3"
    # the track is 200 m off its unit from now on: three reports outside the gate release it
    marks = drive(own, 20, lambda t: (vehicle(t)[0], -2300.0, 10.0, 0.0),
                  lambda t: vehicle(t)[:2], start=40)
    assert marks[0] == "BFT-V3"  # the first update off-gate is against a report still in it
    assert marks[-1] is None and "s-T1" not in own.pairs


def test_a_silent_unit_is_forgotten_and_its_tracks_unbound() -> None:
    own = OwnForce(50.0, 30.0, OwnForceConfig(max_age_s=30.0))
    drive(own, 20, vehicle, lambda t: vehicle(t)[:2])
    marks = drive(own, 60, vehicle, None, start=20)  # the device is switched off
    assert marks[0] == "BFT-V3" and marks[-1] is None
    assert own.units == {} and own.pairs == {}


def test_deleted_tracks_drop_their_run_and_the_state_round_trips_as_json() -> None:
    own = OwnForce(50.0, 30.0)
    drive(own, 20, vehicle, lambda t: vehicle(t)[:2])
    copy = OwnForce(50.0, 30.0)
    copy.restore(json.loads(json.dumps(own.snapshot())))
    a, b = update("s-T1", 20, *vehicle(20)), update("s-T1", 20, *vehicle(20))
    own.mark([a])
    copy.mark([b])
    assert a.friendly == b.friendly == "BFT-V3"
    own.mark([update("s-T1", 21, *vehicle(21), status="deleted")])
    assert own.pairs == {}


def test_drop_own_force_keeps_ends_of_situations_and_other_rules() -> None:
    ours, other = update("s-T1", 0, 0, 0), update("s-T2", 0, 0, 0)
    ours.friendly = "BFT-V3"

    def hit(rule: str, tracks: list[str], active: bool = True) -> Hit:
        return Hit(rule, tracks[0], None, T0, 0, 0, "high", 0.9, "", track_ids=tracks,
                   active=active)

    hits = [hit("restricted_entry", ["s-T1"]), hit("restricted_entry", ["s-T1"], active=False),
            hit("rendezvous", ["s-T2", "s-T1"]), hit("border_crossing", ["s-T2"]),
            hit("ais_jump", ["s-T1"])]
    kept = drop_own_force(hits, [ours, other])
    assert [(h.rule, h.active) for h in kept] == [
        ("restricted_entry", False), ("border_crossing", True), ("ais_jump", True)]
    assert {"restricted_entry", "border_crossing", "approach", "loitering",
            "rendezvous"} <= EXEMPT_RULES
