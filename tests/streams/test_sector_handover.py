"""Sector hand-over in the stages: which tracks left a sector, and acks that follow an alert.

The engine's side (offers, adoption, expiry) is tests/fusion/test_alerts_handover.py; the
whole path through a broker is test_replay_kafka.py (a dark boat crossing sectors).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.alerts import AlertEngine
from fusion.sectors import Sectorizer
from streams.engine import AlertStage, Context, FusionStage
from tests.fusion.test_alerts_handover import _boat, _engines
from tests.fusion.test_rules_scene import (
    ORIGIN,
    SENSORS,
    T0,
    feed,
    only,
    scene,
    scene_fc,
    upd,
)


def _grid_context() -> Context:
    """Sectors on a 1 km grid (no polygons): ``g3_-3`` holds e 3000-4000, n -3000..-2000."""
    sectorizer = Sectorizer(ORIGIN, None, grid_m=1000.0, halo_m=100.0)
    return Context(registry=None, sectorizer=sectorizer)  # type: ignore[arg-type]


def test_the_first_update_outside_the_sector_is_a_departure() -> None:
    stage = FusionStage(_grid_context())
    calls = [
        [upd("A", T0, 3500, -2100), upd("B", T0, 3500, -2500, status="tentative")],
        [upd("A", T0 + 1, 3500, -1990), upd("B", T0 + 1, 3500, -1990, status="tentative")],
        [upd("A", T0 + 2, 3500, -1980)],  # still outside: not a second departure
        [upd("C", T0 + 3, 3500, -2400)],
    ]
    buckets = stage._owned("g3_-3", calls)
    departures = stage.departures["g3_-3"]
    # a call that owned nothing has no bucket: its departure rides with the next bucket
    assert [[u.track_id for u in b] for b in buckets] == [["A", "B"], ["C"]]
    assert [[u.track_id for u in d] for d in departures] == [[], ["A"]]  # B: never confirmed
    assert stage.inside["g3_-3"] == {"C"}
    restored = FusionStage(_grid_context())
    restored.inside["g3_-3"] = set(stage.snapshot("g3_-3").get("inside", []))
    assert restored.inside == stage.inside


def test_a_departure_waiting_for_a_bucket_survives_a_restart() -> None:
    """A call that owned nothing leaves its departure waiting; a checkpoint taken then
    keeps it, so the restored stage hands it on with its next bucket."""
    stage = FusionStage(_grid_context())
    stage._owned("g3_-3", [[upd("A", T0, 3500, -2100)]])
    stage._owned("g3_-3", [[upd("A", T0 + 1, 3500, -1990)]])  # left; nothing owned
    assert stage.departures["g3_-3"] == []
    state = stage.snapshot("g3_-3")
    restored = FusionStage(_grid_context())
    restored.restore("g3_-3", state)
    buckets = restored._owned("g3_-3", [[upd("C", T0 + 2, 3500, -2400)]])
    assert [[u.track_id for u in b] for b in buckets] == [["C"]]
    [[gone]] = restored.departures["g3_-3"]
    assert (gone.track_id, gone.t, gone.lat) == ("A", T0 + 1, state["departing"][0]["lat"])
    assert "departing" not in restored.snapshot("g3_-3")  # handed on: not kept twice


def test_an_ack_for_a_handed_over_alert_reaches_the_sector_holding_it() -> None:
    a, b = _engines()
    stage = AlertStage(_grid_context())
    stage.engines.update({"sector-1": a, "sector-2": b})
    aid = feed(a, _boat("D1", 0, 20))[0].alert_id
    for to, offer in a.hand_over([(_boat("D1", 20, 1)[0], "sector-2")]):
        assert stage.receive(to, {"handover": offer}) == []
    ack: dict[str, Any] = {"alert_id": aid, "action": "ack", "user": "op", "t": T0 + 101}
    changed = stage.apply_ack("sector-1", ack)  # routed by the id's prefix to sector 1
    assert changed is not None and changed.status == "acknowledged"
    assert b.offers[aid]["alert"]["status"] == "acknowledged"
    # in a worker the ack goes to sector 2's partition instead, applied where it lands
    sent: list[tuple[str, dict[str, Any]]] = []
    stage.remote = lambda to, message: sent.append((to, message))
    dismiss = {**ack, "action": "dismiss"}
    assert stage.apply_ack("sector-1", dismiss) is None and sent == [("sector-2", {"ack": dismiss})]
    assert [x.status for x in stage.receive(*sent[0])] == ["dismissed"]


def _scene_stage() -> tuple[AlertStage, AlertEngine]:
    """The rule scene's two sectors (SEC-W, SEC-E: e < 0, e > 0, both to |6 km|), with
    SEC-E's alert state holding only the crossing rule."""
    sectorizer = Sectorizer.from_zones(scene_fc(), (ORIGIN.lat0, ORIGIN.lon0))
    stage = AlertStage(Context(registry=None, sectorizer=sectorizer))  # type: ignore[arg-type]
    engine = AlertEngine(scene(), only("border_crossing"), SENSORS, id_prefix="SEC-E:")
    stage.engines["SEC-E"] = engine
    return stage, engine


def test_a_border_crossed_on_the_way_out_of_the_sector_is_reported_there() -> None:
    """An AIS boat reports every 10 s while closing on the blue border at the sector's east
    edge; its next report, 60 s later, is past the line *and* past the sector: the sector
    that tracked it judges that report before handing the boat on (nobody else can)."""
    boat = [upd("AIS1", T0 + 10 * k, 5300 + 20 * k, -330 + 12 * k, 2.0, 1.2, sources=["A1"],
                mmsi=211000001) for k in range(25)]  # to (5780, -42): a settled track
    stage, _ = _scene_stage()
    raised = [a for u in boat for a in stage.process("SEC-E", [u])]
    assert not raised  # closing on the line, still on our side
    gone = upd("AIS1", T0 + 300, 6100, 120, 5.0, 3.0, sources=["A1"], mmsi=211000001)
    assert stage.ctx.sectorizer.home(*map(np.array, ([gone.lat], [gone.lon]))) == ["outside"]
    crossed = stage.process("SEC-E", [], departed=[gone])
    assert [(a.rule, a.evidence["details"]["direction"]) for a in crossed] == [
        ("border_crossing", "outbound")
    ]
    assert crossed[0].alert_id.startswith("SEC-E:")


def test_a_vessels_report_past_the_halo_also_goes_to_the_sector_that_tracked_it() -> None:
    """Ingest side of the AIS hand-over: ``g3_-3`` had the vessel; its next report is in
    ``g5_-3``, 1.5 km on (beyond the 100 m halo), and goes to both, as a halo copy there."""
    from fusion.types import Observation
    from streams.engine import IngestStage

    stage = IngestStage(_grid_context())

    def report(k: int, e: float) -> list[Observation]:
        lat, lon = ORIGIN.to_latlon_exact(e, -2500.0)
        obs = Observation(f"a{k}", "A1", "ais", T0 + 180 * k, float(lat), float(lon),
                          [[100.0, 0.0], [0.0, 100.0]], {"mmsi": 211000001})
        out = [obs]
        stage._assign_sectors(out)
        return out

    assert [o.sector for o in report(0, 3500.0)] == ["g3_-3"]
    later = report(1, 5500.0)
    assert [(o.sector, o.attrs.get("halo", False)) for o in later] == [
        ("g5_-3", False), ("g3_-3", True)
    ]
    assert [o.sector for o in report(2, 5600.0)] == ["g5_-3"]  # settled there: one copy
