"""Truth definitions that changed for alert quality (issue 5): observable rendezvous
crossings and approach events on both sides of the border."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from sensors.simulate import build_scenario
from sensors.simulate.truth import APPROACH_M, APPROACH_MIN_M


@pytest.fixture(scope="module")
def scen():
    return build_scenario(seed=2, layout="river")


def test_rendezvous_boats_meet_well_clear_of_the_line(scen) -> None:
    """Both rendezvous boats wait ≥ 25 m from the border: a sensor with 10-20 m of noise can
    tell the one that crossed from the one that did not."""
    border = scen.layout.border
    rdv = next(r for r in scen.truth if r.get("event") == "rendezvous")
    for tid in (rdv["target"], rdv["other"]):
        tg = next(t for t in scen.targets if t.id == tid)
        k = np.arange(np.ceil(tg.path.t_start), np.floor(tg.path.t_end))
        e, n = tg.path.at(k)
        slow = np.hypot(*tg.path.velocity(k)) < 0.5
        d = shapely.distance(border, shapely.points(e[slow], n[slow]))
        assert d.size and np.median(d) >= 25.0


def test_approach_events_on_both_sides_with_direction(scen) -> None:
    ev = [r for r in scen.truth if r.get("event") == "approach"]
    assert {r["direction"] for r in ev} == {"inbound", "outbound"}
    assert all(APPROACH_MIN_M <= r["distance_m"] < APPROACH_M for r in ev)
    roles = {t.id: t.role for t in scen.targets}
    assert {roles[r["target"]] for r in ev} == {"threat"}


def test_crossings_by_ferry_are_preceded_by_an_approach_event(scen) -> None:
    """The truth of 'approach before crossing': each crossing of a target that came from
    more than APPROACH_M away has an approach event of that target in the 120 s before."""
    ev = [r for r in scen.truth if r.get("kind") == "event"]
    for c in (r for r in ev if r["event"] == "crossing"):
        before = [
            r
            for r in ev
            if r["event"] == "approach"
            and r["target"] == c["target"]
            and c["t"] - 120 <= r["t"] <= c["t"]
        ]
        assert before, c
