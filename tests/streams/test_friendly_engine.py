"""Blue-force tracking through the whole engine: radar plots + a TAK feed → alerts.

A patrol vehicle drives through a restricted zone while an intruder walks into it. With
the patrol's device reporting on ``readings.friendly`` only the intruder alerts; without
the feed (the same radar plots) the patrol alerts too, so the test can fail.
"""

from __future__ import annotations

import math

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.sectors import Sectorizer
from fusion.types import TrackUpdate
from sensors.registry import SensorRegistry
from streams.engine import Context
from streams.replay import OfflinePipeline
from tests.fusion.test_rules_scene import ll, scene_fc

T0 = 1_717_212_600.0
RADAR = ll(-2500.0, -4500.0)


def patrol(t: float) -> tuple[float, float]:
    return -3500.0 + 8.0 * t, -2300.0  # east along the depot's north part, 8 m/s


def intruder(t: float) -> tuple[float, float]:
    return -2200.0, -3100.0 + 1.5 * t  # north into the depot (edge at -3000), on foot


def records(with_bft: bool, seconds: int = 130) -> list[tuple[str, object]]:
    rng = np.random.default_rng(7)
    radar = LocalFrame(*RADAR)
    out: list[tuple[str, object]] = []
    for t in range(seconds):
        scan = []
        for e, n in (patrol(t), intruder(t)):
            lat, lon = ll(e, n)
            re_, rn = radar.to_en(lat, lon)
            scan.append({"sensor_id": "RAD", "t": T0 + t,
                         "range_m": round(float(np.hypot(re_, rn)) + rng.normal(0, 8.0), 1),
                         "bearing_deg": round(float(np.degrees(np.arctan2(re_, rn))) % 360
                                              + rng.normal(0, 0.2), 3) % 360})
        out.append(("readings.radar", scan))
        if with_bft and t % 5 == 2:
            lat, lon = ll(*(np.array(patrol(t)) + rng.normal(0, 5.0, 2)))
            out.append(("readings.friendly", {"sensor_id": "TAK1", "t": T0 + t,
                                              "unit_id": "BFT-V3", "lat": lat, "lon": lon,
                                              "sigma_m": 5.0}))
    return out


def run(with_bft: bool) -> tuple[dict[str, list[str]], list[TrackUpdate]]:
    reg = SensorRegistry.from_dict({"sensors": [
        {"id": "RAD", "type": "radar", "lat": RADAR[0], "lon": RADAR[1], "height_m": 10,
         "sigma_range_m": 8.0, "sigma_bearing_deg": 0.2},
        {"id": "TAK1", "type": "friendly", "lat": RADAR[0], "lon": RADAR[1]}]})
    fc = scene_fc()
    ctx = Context(reg, Sectorizer.from_zones(fc, reg.centroid()), zones=fc,
                  max_reading_age_s=0)
    tracks: list[TrackUpdate] = []
    pipe = OfflinePipeline(ctx, on_tracks=lambda _s, ups: tracks.extend(ups))
    for topic, value in records(with_bft):
        pipe.feed(topic, value)
    res = pipe.finish()
    assert not res.deadletters
    by_rule: dict[str, list[str]] = {}
    for a in res.alerts.values():
        by_rule.setdefault(a.rule, []).extend(a.track_ids)
    return by_rule, tracks


def near(tracks: list[TrackUpdate], where, track_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Is ``track_id`` the target following ``where`` (within 60 m on average)?"""
    frame = LocalFrame(*ll(0.0, 0.0))
    d = []
    for u in tracks:
        if u.track_id == track_id:
            e, n = frame.to_en(u.lat, u.lon)
            te, tn = where(u.t - T0)
            d.append(math.hypot(float(e) - te, float(n) - tn))
    return bool(d) and float(np.mean(d)) < 60.0


def test_a_patrol_with_bft_in_a_restricted_zone_raises_nothing_while_an_intruder_does() -> None:
    without, tracks0 = run(with_bft=False)
    assert any(near(tracks0, patrol, t) for t in without.get("restricted_entry", [])), \
        "control: without the feed the patrol itself alerts"
    alerts, tracks = run(with_bft=True)
    restricted = alerts.get("restricted_entry", [])
    assert restricted and all(near(tracks, intruder, t) for t in restricted)
    ours = {u.track_id for u in tracks if u.friendly == "BFT-V3"}
    assert ours and all(near(tracks, patrol, t) for t in ours)
    assert not any(u.friendly for u in tracks if near(tracks, intruder, u.track_id))


def test_the_own_force_picture_is_part_of_the_fusion_checkpoint() -> None:
    import json

    from streams.engine import FusionStage

    reg = SensorRegistry.from_dict({"sensors": [
        {"id": "RAD", "type": "radar", "lat": RADAR[0], "lon": RADAR[1], "height_m": 10},
        {"id": "TAK1", "type": "friendly", "lat": RADAR[0], "lon": RADAR[1]}]})
    fc = scene_fc()
    ctx = Context(reg, Sectorizer.from_zones(fc, reg.centroid()), zones=fc,
                  max_reading_age_s=0)
    pipe = OfflinePipeline(ctx)
    for topic, value in records(True, seconds=40):
        pipe.feed(topic, value)
    pipe.finish()
    (sector,) = pipe.fusion.own
    state = json.loads(json.dumps(pipe.fusion.snapshot(sector)))
    assert state["own_force"]["units"]["BFT-V3"] and state["own_force"]["pairs"]
    again = FusionStage(ctx)
    again.restore(sector, state)
    assert again.own[sector].snapshot() == pipe.fusion.own[sector].snapshot()
