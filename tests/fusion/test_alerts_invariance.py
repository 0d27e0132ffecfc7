"""The alert engine answers the same whatever the size of its calls (issue 9, round 8).

Fusion releases track updates in event-time buckets, one alert-engine call per bucket and
sector; the bucket is a latency setting (0.25 s, 0.1 s), so rules must depend on the
updates' event times, not on when or how often they are called. And the engine's per-call
shortcuts (points built once, crossings queried only where a border is in reach, one status
mask per batch, a plain copy per published alert) must give the answers of the long way.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from fusion.alerts import AlertEngine
from fusion.rules import default_rules_config
from fusion.types import Alert, TrackUpdate
from tests.fusion.test_rules_scene import SENSORS, T0, only, scene, upd, walk


def _calls(engine: AlertEngine, calls: list[list[TrackUpdate]]) -> dict[str, Alert]:
    """Newest record per alert id after feeding ``calls`` one engine call each."""
    out: dict[str, Alert] = {}
    for ups in calls:
        for a in engine.process(ups, max(u.t for u in ups)):
            out[a.alert_id] = a
    return out


def _drifting_pair(steps: int = 71) -> list[TrackUpdate]:
    """A dark boat drifting 0.8 m/s beside an anchored AIS boat, both updated every 1 s.

    The dark boat's filter reads 4 m/s (a standing boat's radar velocity is noise): carried
    forward 0.95 s it seems 3.8 m further than any plot of it."""
    ups = []
    for k in range(steps):
        t = T0 + k
        ups.append(upd("A", t, 3000.0 + 0.8 * k, -1000.0, 4.0, 0.0, sources=["R1"]))
        ups.append(upd("B", t, 3000.0, -950.0, sources=["R1", "A1"], mmsi=211000009))
    return ups


def test_rendezvous_is_judged_at_its_tracks_updates_not_at_other_calls() -> None:
    """river seed 2, X1: a call 0.95 s after the pair's last update (other tracks of the
    sector) carried the drifting boat past ``max_drift_m`` and restarted its 60 s, a call
    before the alert was due; its next plot was still within the drift. With 0.25 s
    buckets that call did not exist and the rendezvous was reported."""
    cfg = only("rendezvous", rendezvous={"distance_m": 100, "duration_s": 60})
    pair = _drifting_pair()
    alone = _calls(AlertEngine(scene(), cfg, SENSORS), [[u] for u in pair])
    # the same updates, with a call in between for a track on land (another target)
    busy: list[list[TrackUpdate]] = []
    for k, u in enumerate(pair):
        busy.append([u])
        if k % 2:
            busy.append([upd("L", u.t + 0.95, 1000.0, -1000.0)])
    crowded = _calls(AlertEngine(scene(), cfg, SENSORS), busy)
    assert [a.rule for a in alone.values()] == ["rendezvous"]
    assert alone[next(iter(alone))].t_first == T0 + 60.0
    assert {k: a.to_dict() for k, a in crowded.items()} == {
        k: a.to_dict() for k, a in alone.items()
    }


def test_a_pair_that_moves_off_is_judged_at_its_update() -> None:
    """The drift bound still restarts a pair that moves: judged at the update that shows it."""
    cfg = only("rendezvous", rendezvous={"distance_m": 100, "duration_s": 60})
    eng = AlertEngine(scene(), cfg, SENSORS)
    ups = [
        upd("A", T0 + k, 3000.0 + (2.0 * k if k > 30 else 0.0), -1000.0, sources=["R1"])
        for k in range(70)
    ]
    ups += [
        upd("B", T0 + k, 3000.0, -950.0, sources=["R1", "A1"], mmsi=211000009) for k in range(70)
    ]
    assert _calls(eng, [[u] for u in sorted(ups, key=lambda u: (u.t, u.track_id))]) == {}
    # 2 m/s from 30 s: 50 m drift reached at 55 s, restarted there; 60 s not up by 69 s


def _scene_updates() -> list[TrackUpdate]:
    """A crossing walker, a boat standing off the line, a depot intruder, two boats meeting.

    (Never exactly on the line: a point on it is on either side by the last bit of its
    conversion to metres, which depends on how many points are converted together.)"""
    tracks = [
        walk("W", (-1000, 61), (0, -2), 60, dt=1.0, sources=["R1", "C2"], classification="person"),
        walk("V", (-2500, -1950), (0, -1.5), 60, dt=1.0, classification="vehicle"),
        walk("A", (3000, -1000), (0, 0), 90, dt=1.0, sources=["R1"]),
        walk("B", (3050, -1000), (0, 0), 90, dt=1.0, sources=["R1", "A1"], mmsi=211000004),
        walk("S", (2500, -200), (0, 1.0), 90, dt=1.0, sources=["R1"], classification="boat"),
    ]
    ups = [u for tr in tracks for u in tr]
    return sorted(ups, key=lambda u: (u.t, u.track_id))


def test_same_updates_same_alerts_however_they_are_grouped_into_calls() -> None:
    ups = _scene_updates()
    one_each = _calls(AlertEngine(scene(), default_rules_config(), SENSORS), [[u] for u in ups])
    by_bucket: dict[int, list[TrackUpdate]] = {}
    for u in ups:
        by_bucket.setdefault(int((u.t - T0) // 2.5), []).append(u)  # 2.5 s "buckets"
    grouped = _calls(
        AlertEngine(scene(), default_rules_config(), SENSORS), list(by_bucket.values())
    )
    assert {a.rule for a in one_each.values()} >= {
        "border_crossing",
        "restricted_entry",
        "rendezvous",
    }
    assert {k: a.to_dict() for k, a in grouped.items()} == {
        k: a.to_dict() for k, a in one_each.items()
    }


def test_crossings_within_reach_of_a_border_are_the_full_answer() -> None:
    """``crossings_en`` with the end points' border distance queries only segments that can
    reach a border; the answer is the full query's, row for row."""
    z = scene()
    rng = np.random.default_rng(3)
    e1 = rng.uniform(-5000, 5000, 400)
    n1 = rng.normal(0, 60, 400)
    e0 = e1 + rng.normal(0, 40, 400)
    n0 = n1 + rng.normal(0, 40, 400)
    n0[:20] = n1[:20]  # (some that did not move)
    e0[:20] = e1[:20]
    full = z.crossings_en(e0, n0, e1, n1)
    prox = z.border_proximity_en(e1, n1)
    fast = z.crossings_en(e0, n0, e1, n1, prox.signed_distance_m)
    assert 20 < full.crossed.sum() < 380  # both kinds are in the test
    for name in ("crossed", "exempt", "border", "direction", "checkpoint"):
        assert np.array_equal(getattr(fast, name), getattr(full, name)), name
    assert np.array_equal(fast.lat, full.lat, equal_nan=True)
    assert np.array_equal(fast.lon, full.lon, equal_nan=True)
    # and the lat/lon route agrees with the metres route
    lat0, lon0 = z.to_latlon(e0, n0)
    lat1, lon1 = z.to_latlon(e1, n1)
    assert np.array_equal(z.crossings(lat0, lon0, lat1, lon1).crossed, full.crossed) or (
        abs(int(z.crossings(lat0, lon0, lat1, lon1).crossed.sum()) - int(full.crossed.sum())) <= 1
    )


def test_status_mask_is_the_isin_answer_and_read_only() -> None:
    eng = AlertEngine(scene(), default_rules_config(), SENSORS)
    ups = [
        upd(f"T{i}", T0, 100.0 * i, -500.0, status=s)
        for i, s in enumerate(["confirmed", "tentative", "coasting", "confirmed"])
    ]
    batch = eng._batch(ups)
    mask = batch.status_in(["confirmed", "coasting"])
    assert mask.tolist() == np.isin(batch.status, ["confirmed", "coasting"]).tolist()
    assert batch.status_in(("confirmed", "coasting")) is mask  # asked once per batch
    assert not mask.flags.writeable


def test_published_alert_is_a_copy_of_the_live_one() -> None:
    eng = AlertEngine(scene(), only("restricted_entry"), SENSORS)
    first = eng.process([upd("I", T0, -2500.0, -2500.0, obs=["o1"])], T0)
    assert len(first) == 1
    live = next(iter(eng.live.values()))
    assert first[0].to_dict() == Alert.from_dict(copy.deepcopy(live)).to_dict()
    eng.process([upd("I", T0 + 40, -2500.0, -2400.0, obs=["o2"])], T0 + 40)
    assert live["evidence"]["obs_ids"] == ["o1", "o2"]
    assert first[0].evidence["obs_ids"] == ["o1"]  # the record already sent is unchanged


def _walker(extra: bool) -> list[TrackUpdate]:
    """A walker closing on the line at 1.5 m/s, its radar plot every second at .93 s; with
    ``extra`` also a thermal-fed update at .81 s (one update at 0.25 s buckets, two at 0.1 s)."""
    ups = []
    for k in range(90):
        for dt in (-0.12, 0.0) if extra else (0.0,):
            t = k + 0.93 + dt
            u = upd("P1", T0 + t, -1500.0, 150.0 - 1.5 * t + 2.0 * math.sin(1.7 * k), 0.0, -1.5)
            u.cov = [[36.0, 0.0], [0.0, 36.0]]
            ups.append(u)
    return ups


def test_approach_counts_scans_not_updates() -> None:
    """mixed seed 5, B4: a thermal plot and the radar plot 0.12 s later are two track
    updates at 0.1 s buckets, one at 0.25 s. The approach's history and its two-update
    confirmation take one update per ``sample_s`` (the newest), so the extra update neither
    confirms the approach a scan early nor thickens the fit."""

    def first(extra: bool, **cfg: object) -> float:
        eng = AlertEngine(scene(), only("approach", approach=dict(cfg)), SENSORS)
        out = _calls(eng, [[u] for u in _walker(extra)])
        return min(a.t_first for a in out.values())

    assert abs(first(True) - first(False)) < 0.2  # only the .81 s update's own time
    # counting every update, the extra one confirmed the approach a whole scan earlier
    assert first(False, sample_s=0) - first(True, sample_s=0) > 0.8
