"""Sector hand-over of alerts: a target's alert follows it into the next sector's engine."""

from __future__ import annotations

from typing import Any

from fusion.alerts import AlertEngine
from fusion.types import Alert, TrackUpdate
from tests.fusion.test_rules_scene import SENSORS, T0, feed, only, scene, walk

NO_WARMUP = {"warmup_s": 0}


def _engines(**engine: Any) -> tuple[AlertEngine, AlertEngine]:
    cfg = only("dark_vessel", dark_vessel=NO_WARMUP)
    cfg["engine"] = engine
    return (AlertEngine(scene(), cfg, SENSORS, id_prefix="sector-1:"),
            AlertEngine(scene(), cfg, SENSORS, id_prefix="sector-2:"))


def _boat(tid: str, k0: int, steps: int) -> list[TrackUpdate]:
    """A dark boat going north at 0.5 m/s on the river, from its step ``k0`` (5 s steps)."""
    return walk(tid, (3000, -3000 + 2.5 * k0), (0, 0.5), steps, t0=T0 + 5 * k0, sources=["R1"])


def _cross_sectors(a: AlertEngine, b: AlertEngine, deliver: bool = True
                   ) -> tuple[list[Alert], list[Alert], list[tuple[str, dict[str, Any]]]]:
    """Sector 1 tracks the boat as D1 for 100 s, then it enters sector 2 (track E7 there)."""
    first = feed(a, _boat("D1", 0, 20))
    offers = a.hand_over([(_boat("D1", 20, 1)[0], "sector-2")])
    if deliver:
        for _to, offer in offers:
            b.receive(offer)
    return first, feed(b, _boat("E7", 20, 30)), offers


def test_the_next_sector_continues_the_alert_under_its_id() -> None:
    a, b = _engines()
    first, second, offers = _cross_sectors(a, b)
    aid = first[0].alert_id
    assert aid.startswith("sector-1:") and [to for to, _ in offers] == ["sector-2"]
    assert not a.open_alerts()  # it left with the boat
    assert {x.alert_id for x in second} == {aid}  # no second alert for the same boat
    last = second[-1]
    assert last.status == "open" and last.track_ids == ["D1", "E7"]
    assert last.t_first == first[0].t_first
    assert b.open_alerts()[0].t_last == T0 + 245  # (records are throttled, the state is not)
    assert last.evidence["handed_over"] == {"from": "sector-1", "t": T0 + 100}


def test_without_the_hand_over_the_next_sector_raises_its_own() -> None:
    a, b = _engines()
    first, second, _ = _cross_sectors(a, b, deliver=False)
    assert second and {x.alert_id for x in second}.isdisjoint({first[0].alert_id})
    assert second[0].alert_id.startswith("sector-2:")


def test_an_offer_nobody_takes_resolves_the_alert() -> None:
    a, b = _engines(handover_window_s=60)
    feed(a, _boat("D1", 0, 20))
    for _to, offer in a.hand_over([(_boat("D1", 20, 1)[0], "sector-2")]):
        b.receive(offer)
    # sector 2's only track is far from where the boat came in: nothing takes the offer
    far = walk("F1", (3600, -2000), (0, 0.5), 30, t0=T0 + 100, sources=["R1"])
    assert not [x for x in feed(b, far[:13]) if x.alert_id.startswith("sector-1:")]  # to +160
    resolved = [x for x in feed(b, far[13:]) if x.alert_id.startswith("sector-1:")]
    assert [x.status for x in resolved] == ["resolved"]
    assert "no track here took it" in resolved[0].evidence["resolved_because"]
    assert b.apply_ack({"alert_id": resolved[0].alert_id, "action": "ack"}) is None  # closed here


def test_acks_follow_the_alert() -> None:
    a, b = _engines()
    aid = feed(a, _boat("D1", 0, 20))[0].alert_id
    assert a.forward_of(aid) is None  # still here
    for _to, offer in a.hand_over([(_boat("D1", 20, 1)[0], "sector-2")]):
        b.receive(offer)
    assert a.forward_of(aid) == "sector-2" and b.forward_of(aid) is None
    acked = b.apply_ack({"alert_id": aid, "action": "ack", "user": "op", "t": T0 + 102})
    assert acked is not None and acked.status == "acknowledged"  # while on its way
    second = feed(b, _boat("E7", 20, 30))
    assert {x.alert_id for x in second} == {aid}
    assert second[-1].status == "acknowledged"


def test_a_dismissed_boat_stays_quiet_in_the_next_sector() -> None:
    a, b = _engines(suppress_after_dismiss_s=200)
    aid = feed(a, _boat("D1", 0, 12))[0].alert_id  # opened at +20 s
    a.apply_ack({"alert_id": aid, "action": "dismiss", "user": "op", "t": T0 + 40})
    feed(a, _boat("D1", 12, 8))
    offers = a.hand_over([(_boat("D1", 20, 1)[0], "sector-2")])
    assert [o["until"] for _to, o in offers] == [T0 + 240]
    for _to, offer in offers:
        b.receive(offer)
    second = feed(b, _boat("E7", 20, 50))  # to +345 s
    assert second, "a new episode once the suppression is over"
    assert min(x.t_first for x in second) >= T0 + 240


def test_hand_over_state_survives_a_restart() -> None:
    a, b = _engines()
    aid = feed(a, _boat("D1", 0, 20))[0].alert_id
    for _to, offer in a.hand_over([(_boat("D1", 20, 1)[0], "sector-2")]):
        b.receive(offer)
    cfg = only("dark_vessel", dark_vessel=NO_WARMUP)
    a2 = AlertEngine.restore(scene(), cfg, a.snapshot(), SENSORS, id_prefix="sector-1:")
    b2 = AlertEngine.restore(scene(), cfg, b.snapshot(), SENSORS, id_prefix="sector-2:")
    assert a2.forward_of(aid) == "sector-2"
    assert {x.alert_id for x in feed(b2, _boat("E7", 20, 30))} == {aid}
    # the neighbour resending the offer after its own restart does not open it twice
    b2.receive(b.snapshot()["offers"][aid])
    assert aid not in b2.offers
