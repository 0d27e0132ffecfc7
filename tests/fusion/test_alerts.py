"""Alert lifecycle: dedup, acks, suppression, escalation, deletion, snapshot/restore, ids."""

from __future__ import annotations

import json

from fusion.alerts import AlertEngine, alert_id_for
from fusion.types import Alert
from tests.fusion.test_rules_scene import SENSORS, T0, feed, only, scene, upd, walk

# the engine's tests use the dark-vessel rule as a plain rule that fires 20 s after a track is
# confirmed; its start-up wait for AIS (warmup_s) is the rule's own test (test_rules_water)
NO_WARMUP = {"warmup_s": 0}


def _dark(steps: int = 60, t0: float = T0, tid: str = "D1") -> list:
    return walk(tid, (3000, -3000), (0, 0.5), steps, t0=t0, sources=["R1"])


def test_one_alert_per_rule_track_zone_and_throttled_refresh() -> None:
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    out = feed(eng, _dark(60))  # 300 s of updates every 5 s
    assert len({a.alert_id for a in out}) == 1
    # opened at +20 s, then re-sent at most every emit_interval_s (30 s): 10 records
    assert len(out) == 10
    assert [a.t_last for a in out] == sorted(a.t_last for a in out)
    assert len(eng.open_alerts()) == 1
    assert out[-1].t_first == out[0].t_first and out[-1].t_last == T0 + 290  # last re-send
    assert eng.open_alerts()[0].t_last == T0 + 295  # held state is always current
    assert all(isinstance(a, Alert) and a.status == "open" for a in out)


def test_evidence_grows_and_is_bounded() -> None:
    cfg = only("dark_vessel", dark_vessel=NO_WARMUP)
    cfg["engine"] = {"max_evidence": 5, "emit_interval_s": 0}
    eng = AlertEngine(scene(), cfg, SENSORS)
    out = feed(eng, _dark(20))
    assert out[-1].evidence["obs_ids"] == [f"D1-o{k}" for k in range(15, 20)]
    assert out[-1].evidence["sensors"] == ["R1"]


def test_ids_are_deterministic_and_distinct() -> None:
    a = feed(AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS), _dark(10))
    b = feed(AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS), _dark(10))
    c = feed(
        AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS),
        _dark(10, tid="D2"),
    )
    assert [x.alert_id for x in a] == [x.alert_id for x in b]
    assert a[0].alert_id == alert_id_for("dark_vessel", "D1", "W1", 1)
    assert c[0].alert_id != a[0].alert_id


def test_ack_then_crossing_escalates() -> None:
    eng = AlertEngine(scene(), only("approach", "border_crossing"), SENSORS)
    track = walk("X", (-1000, 500), (0, -5), 30, sources=["R1"])
    out = feed(eng, track[:15])  # approaching, not yet across (n = 500 - 25k)
    appr = [a for a in out if a.rule == "approach"][0]
    acked = eng.apply_ack(
        {
            "alert_id": appr.alert_id,
            "action": "ack",
            "user": "op1",
            "note": "watching",
            "t": T0 + 71,
        }
    )
    assert acked is not None and acked.status == "acknowledged"
    assert acked.evidence["actions"][-1]["user"] == "op1"
    assert eng.apply_ack({"alert_id": appr.alert_id, "action": "ack", "user": "op1"}) is None
    out = feed(eng, track[15:])
    esc = [a for a in out if a.alert_id == appr.alert_id]
    assert esc and esc[0].status == "open" and esc[0].severity == "high"  # medium + 1
    assert esc[0].evidence["escalated"] is True
    assert any(a.rule == "border_crossing" for a in out)


def test_dismiss_suppresses_then_new_episode() -> None:
    cfg = only("dark_vessel", dark_vessel=NO_WARMUP)
    cfg["engine"] = {"suppress_after_dismiss_s": 100}
    eng = AlertEngine(scene(), cfg, SENSORS)
    first = feed(eng, _dark(8))[0]  # opened at +20 s
    gone = eng.apply_ack(
        {
            "alert_id": first.alert_id,
            "action": "dismiss",
            "user": "op",
            "note": "fisherman",
            "t": T0 + 40,
        }
    )
    assert gone is not None and gone.status == "dismissed"
    later = feed(eng, _dark(40, t0=T0 + 40)[1:])  # +45 .. +235 s
    assert later, "should re-open after the suppression"
    assert later[0].t_first >= T0 + 140  # quiet until dismissal + 100 s
    assert later[0].alert_id == alert_id_for("dark_vessel", "D1", "W1", 2)
    assert later[0].alert_id != first.alert_id


def test_resolve_escalate_and_unknown_ids() -> None:
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    a = feed(eng, _dark(8))[0]
    esc = eng.apply_ack({"alert_id": a.alert_id, "action": "escalate", "user": "op", "t": T0})
    assert esc is not None and esc.severity == "critical" and esc.evidence["escalated"]
    res = eng.apply_ack({"alert_id": a.alert_id, "action": "resolve", "user": "op", "t": T0 + 41})
    assert res is not None and res.status == "resolved" and eng.open_alerts() == []
    assert eng.apply_ack({"alert_id": "nope", "action": "ack"}) is None
    assert eng.apply_ack({"alert_id": a.alert_id, "action": "ack"}) is None  # closed already


def test_deleted_track_resolves_its_alerts() -> None:
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    a = feed(eng, _dark(8))[0]
    out = eng.process([upd("D1", T0 + 45, 3000, -2980, status="deleted")], T0 + 45)
    assert [(x.alert_id, x.status) for x in out] == [(a.alert_id, "resolved")]
    assert eng.open_alerts() == []


def test_snapshot_restore_continues_identically() -> None:
    stream = _dark(60) + walk("X", (-1000, 500), (0, -5), 60, sources=["R1"])
    stream.sort(key=lambda u: (u.t, u.track_id))
    whole = AlertEngine(scene(), {}, SENSORS)
    ref = [a.to_dict() for a in feed(whole, stream)]

    half = AlertEngine(scene(), {}, SENSORS)
    cut = T0 + 150
    got = [a.to_dict() for a in feed(half, [u for u in stream if u.t < cut])]
    state = json.loads(json.dumps(half.snapshot()))  # must survive JSON
    resumed = AlertEngine.restore(scene(), {}, state, SENSORS)
    got += [a.to_dict() for a in feed(resumed, [u for u in stream if u.t >= cut])]
    assert got == ref
    assert {a["rule"] for a in ref} >= {"dark_vessel", "approach", "border_crossing"}


def test_reload_rules_keeps_open_alerts() -> None:
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    first = feed(eng, _dark(10))[0]
    eng.reload_rules(only("dark_vessel", "approach", dark_vessel={**NO_WARMUP, "score": 0.9}))
    later = feed(eng, _dark(20, t0=T0 + 50))
    assert later and later[0].alert_id == first.alert_id
    assert later[0].score > first.score  # new score applies to the same alert
    assert len(eng.open_alerts()) == 1


def _tracks_come_and_go(eng: AlertEngine, n: int, prefix: str = "s0-T") -> list[Alert]:
    """``n`` dark sensor tracks one after another, each raising an alert, then deleted."""
    out: list[Alert] = []
    for k in range(n):
        t0 = T0 + 100.0 * k
        out += feed(eng, _dark(8, t0=t0, tid=f"{prefix}{k}"))
        out += eng.process([upd(f"{prefix}{k}", t0 + 45, 3000, -2980, status="deleted")],
                           t0 + 45)
    return out


def test_episode_counters_of_deleted_sensor_tracks_are_bounded(monkeypatch) -> None:
    import fusion.alerts as alerts_mod

    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    out = _tracks_come_and_go(eng, 60)
    assert len({a.alert_id for a in out}) == 60  # every track raised (and closed) one alert
    assert len(eng.episodes) <= 2  # only keys of tracks deleted since the last sweep (60 s)
    # the same alerts, ids included, as without pruning
    monkeypatch.setattr(alerts_mod, "PRUNE_EVERY_S", 1e12)
    ref = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    ref._next_prune = 1e12
    assert [a.to_dict() for a in _tracks_come_and_go(ref, 60)] == [a.to_dict() for a in out]
    assert len(ref.episodes) == 60


def test_reusable_track_ids_keep_their_episode_counters() -> None:
    # AIS tracks are per MMSI ("<sector>-AIS<mmsi>") and come back: a second episode must
    # not reuse the first one's alert id
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    first = _tracks_come_and_go(eng, 1, prefix="s0-AIS")
    eng.process(_dark(1, t0=T0 + 400, tid="zz")[:1], T0 + 400)  # a sweep after deletion
    again = feed(eng, _dark(8, t0=T0 + 500, tid="s0-AIS0"))
    assert again[0].alert_id == alert_id_for("dark_vessel", "s0-AIS0", "W1", 2)
    assert again[0].alert_id != first[0].alert_id


def test_expired_suppressions_are_dropped() -> None:
    cfg = only("dark_vessel", dark_vessel=NO_WARMUP)
    cfg["engine"] = {"suppress_after_dismiss_s": 100}
    eng = AlertEngine(scene(), cfg, SENSORS)
    for k in range(30):  # one dismissal per track, each track then deleted
        t0 = T0 + 100.0 * k
        a = feed(eng, _dark(8, t0=t0, tid=f"s0-T{k}"))[0]
        eng.apply_ack({"alert_id": a.alert_id, "action": "dismiss", "t": t0 + 40})
        eng.process([upd(f"s0-T{k}", t0 + 45, 3000, -2980, status="deleted")], t0 + 45)
    assert 1 <= len(eng.suppressed) <= 3  # only those not yet past their time (+ margin)


def test_closed_alerts_are_kept_for_their_retention_only() -> None:
    # the closed set rides in every alert-state checkpoint: a count cap alone let it reach MBs
    cfg = only("dark_vessel", dark_vessel=NO_WARMUP)
    cfg["engine"] = {"closed_ttl_s": 500}
    eng = AlertEngine(scene(), cfg, SENSORS)
    out = _tracks_come_and_go(eng, 60)  # one alert per 100 s, each closed by its deletion
    assert len({a.alert_id for a in out}) == 60
    assert 4 <= len(eng.closed) <= 7  # the last 500 s (+ one sweep interval) of closures
    newest = out[-1].alert_id
    assert newest in eng.closed  # a late ack for a recent alert still finds it
    # default retention: 1 h
    kept = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    _tracks_come_and_go(kept, 30)  # 3 000 s of closures
    assert len(kept.closed) == 30


def test_fragments_deleted_in_one_wave_resolve_their_alert_once() -> None:
    """A merged alert closes with its last live fragment, also when both go in one batch."""
    eng = AlertEngine(scene(), only("dark_vessel", dark_vessel=NO_WARMUP), SENSORS)
    first = feed(eng, _dark(8, tid="s0-T1"))[0]  # alert at +20 s, last update +35 s
    joined = feed(eng, walk("s0-T2", (3000, -2980), (0, 0.5), 8, t0=T0 + 40, sources=["R1"]))
    assert joined and {a.alert_id for a in joined} == {first.alert_id}  # one target, one alert
    gone = [upd(t, T0 + 80, 3000, -2960, status="deleted") for t in ("s0-T1", "s0-T2")]
    out = eng.process(gone, T0 + 80)
    assert [(a.alert_id, a.status) for a in out] == [(first.alert_id, "resolved")]
    assert out[0].evidence["resolved_because"] == "track s0-T2 deleted"  # the last fragment
    assert eng.open_alerts() == [] and eng.last_pos == {}


def test_deletions_forget_rule_history_once_per_batch(monkeypatch) -> None:
    """~1 400 deletions per second under load: each rule's ``forget`` runs once per wave
    with every deleted id, not once per track; the history of those tracks is gone."""
    eng = AlertEngine(scene(), only("dark_vessel", "loitering", dark_vessel=NO_WARMUP), SENSORS)
    feed(eng, *(_dark(4, tid=f"s0-T{k}") for k in range(3)))
    calls: list[tuple[str, set[str]]] = []
    for name, rule in eng.rules.items():
        real = rule.forget

        def spy(ids: set[str], name: str = name, real=real) -> None:  # type: ignore[no-untyped-def]
            calls.append((name, set(ids)))
            real(ids)

        monkeypatch.setattr(rule, "forget", spy)
    ids = {f"s0-T{k}" for k in range(3)}
    eng.process([upd(t, T0 + 30, 3000, -2990, status="deleted") for t in sorted(ids)], T0 + 30)
    assert sorted(n for n, _ in calls) == sorted(eng.rules)  # once per rule
    assert all(got == ids for _, got in calls)
    tables = [tb for r in eng.rules.values() for tb in r.state.values() if isinstance(tb, dict)]
    assert not any(t in tb for tb in tables for t in ids)
    assert not ids & set(eng.last_pos)
