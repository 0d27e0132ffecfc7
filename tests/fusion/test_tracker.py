"""SectorTracker end to end on small generated scenes (hand-checkable)."""

from __future__ import annotations

import json

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.tracker import SectorTracker, TrackerConfig
from fusion.types import Observation

LAT0, LON0 = 51.5, 23.6
FRAME = LocalFrame(LAT0, LON0)


def _obs(i, t, e, n, sigma=5.0, sensor="R1", kind="radar", **attrs) -> Observation:
    lat, lon = FRAME.to_latlon(e, n)
    v = sigma**2
    return Observation(
        f"o{i}", sensor, kind, float(t), float(lat), float(lon), [[v, 0.0], [0.0, v]], dict(attrs)
    )


def _scene(seed: int = 0, n_targets: int = 5, scans: int = 20) -> list[list[Observation]]:
    rng = np.random.default_rng(seed)
    x = np.c_[rng.uniform(-2000, 2000, (n_targets, 2)), rng.normal(0, 2, (n_targets, 2))]
    out, k = [], 0
    for s in range(scans):
        x[:, :2] += x[:, 2:]
        batch = []
        det = rng.random(n_targets) < 0.9
        z = x[det, :2] + rng.normal(0, 5, (int(det.sum()), 2))
        z = np.vstack([z, rng.uniform(-3000, 3000, (2, 2))])
        for e, n in z:
            batch.append(_obs(k, s, e, n))
            k += 1
        out.append(batch)
    return out


def _run(tr: SectorTracker, scans) -> list[list[dict]]:
    return [[u.to_dict() for u in tr.process(b)] for b in scans]


def test_tracks_confirm_and_follow_targets() -> None:
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.05))
    _run(tr, _scene())
    live = tr.live_tracks()
    assert len(live) == 5
    assert all(u.status == "confirmed" and u.track_id.startswith("S1-T") for u in live)
    assert all(abs(u.vel_e) < 10 and abs(u.vel_n) < 10 for u in live)


def test_replay_gives_identical_ids_and_states() -> None:
    a = _run(SectorTracker("S1", LAT0, LON0), _scene(seed=4))
    b = _run(SectorTracker("S1", LAT0, LON0), _scene(seed=4))
    assert a == b
    assert any(u["status"] == "confirmed" for u in a[-1])


def test_snapshot_restore_continues_identically() -> None:
    scans = _scene(seed=7, scans=30)
    whole = SectorTracker("S1", LAT0, LON0)
    ref = _run(whole, scans)
    first = SectorTracker("S1", LAT0, LON0)
    _run(first, scans[:12])
    state = json.loads(json.dumps(first.snapshot()))  # through JSON, as a Faust table would
    second = SectorTracker.restore(state)
    assert _run(second, scans[12:]) == ref[12:]
    assert second.snapshot() == whole.snapshot()


def test_superseded_observations_are_absorbed_not_applied() -> None:
    """Out of sequence inside the gate of a track updated after it: absorbed (neither
    applied nor late); older than the tracker time by more than ``oosm_max_lag_s``: late."""
    tr = SectorTracker("S1", LAT0, LON0)
    tr.process([_obs(0, 10.0, 0, 0), _obs(1, 11.0, 1, 1)])
    before = tr.snapshot()
    out = tr.process([_obs(2, 5.0, 0, 0), _obs(3, 10.5, 0, 0)])
    assert out == [] and [o.obs_id for o in tr.late] == ["o2"] and tr.n_late == 1
    assert tr.absorbed == ["o3"] and tr.n_absorbed == 1
    after = tr.snapshot()
    assert after["tracks"] == before["tracks"] and after["counter"] == before["counter"]


def _two_targets() -> SectorTracker:
    """Target A at (0, 0) seen up to t=3, target B at (1000, 0) up to t=1: tracker time 3."""
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(confirm_m=2, confirm_n=3))
    k = 0
    for t in range(4):
        batch = [_obs(k, t, 0.0, 0.0)]
        if t <= 1:
            batch.append(_obs(k + 1, t + 0.1, 1000.0, 0.0))
        tr.process(batch)
        k += 2
    assert tr.time == 3.0 and len(tr.tracks) == 2
    return tr


def test_out_of_sequence_observation_updates_a_track_it_is_not_older_than() -> None:
    tr = _two_targets()
    b = int(np.flatnonzero(tr.tracks.x[:, 0] > 500)[0])
    num = int(tr.tracks.num[b])
    out = tr.process([_obs(99, 2.1, 1001.0, 0.0)])  # behind the tracker, ahead of track B
    assert tr.late == [] and tr.absorbed == []
    mine = [u for u in out if u.track_id == tr.track_id(num)]
    assert mine and mine[0].obs_ids == ["o99"] and mine[0].t == 2.1
    assert float(tr.tracks.t[tr.tracks.index_of(np.array([num]))][0]) == 2.1
    assert tr.time == 3.0  # the tracker time does not move back
    assert len(tr.tracks) == 2  # no new track


def test_out_of_sequence_observation_far_from_every_track_starts_one() -> None:
    tr = _two_targets()
    out = tr.process([_obs(99, 2.5, 3000.0, 3000.0)])
    assert tr.late == [] and tr.absorbed == []
    assert [u.obs_ids for u in out if u.status == "tentative"] == [["o99"]]
    assert len(tr.tracks) == 3 and float(tr.tracks.t[-1]) == 2.5


def test_superseded_observation_credits_its_sensor_without_a_miss() -> None:
    """A camera whose readings arrive after the radar's: its plot is absorbed, yet the
    track still lists the camera among its sources, and nothing counts as a miss."""
    tr = _two_targets()
    a = int(np.flatnonzero(tr.tracks.x[:, 0] < 500)[0])
    num = int(tr.tracks.num[a])
    misses, opps = int(tr.tracks.misses[a]), int(tr.tracks.opps[a])
    tr.process([_obs(99, 2.9, 0.5, 0.0, sensor="C1", kind="thermal")])
    assert tr.absorbed == ["o99"] and tr.late == []
    row = tr.tracks.index_of(np.array([num]))[0]
    assert int(tr.tracks.misses[row]) == misses and int(tr.tracks.opps[row]) == opps
    out = tr.process([_obs(100, 4.0, 0.0, 0.0)])
    mine = [u for u in out if u.track_id == tr.track_id(num)]
    assert mine and sorted(mine[0].sources) == ["C1", "R1"]


def test_late_ais_report_on_a_newer_track_keeps_the_station_as_source() -> None:
    """A vessel's AIS report arriving after the radar's newer plot: its paired sensor track
    is not moved, but still lists the AIS station (else a lagging AIS topic would make a
    reporting vessel look dark once its last applied report leaves ``sources_window_s``)."""
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(confirm_m=2, confirm_n=3))
    mmsi = 211000001
    tr.process([_obs(0, 0.0, 0.0, 0.0)])
    tr.process([_obs(1, 0.5, 0.0, 0.0, 10.0, "AIS1", "ais", mmsi=mmsi)])
    k = 2
    for t in range(1, 21):
        tr.process([_obs(k, float(t), 0.0, 0.0)])
        k += 1
        if t == 2:
            tr.override_correlation(tr.live_tracks()[0].track_id, mmsi)
    num = int(tr.tracks.num[0])
    before = (tr.tracks.x.copy(), float(tr.tracks.t[0]))
    tr.process([_obs(k, 19.5, 0.0, 0.0, 10.0, "AIS1", "ais", mmsi=mmsi)])  # behind t=20
    assert tr.late == [] and float(tr.tracks.t[0]) == before[1] == 20.0
    assert np.array_equal(tr.tracks.x, before[0])
    out = tr.process([_obs(k + 1, 21.0, 0.0, 0.0)])
    mine = [u for u in out if u.track_id == tr.track_id(num)]
    assert mine and mine[0].mmsi == mmsi and "AIS1" in mine[0].sources


def test_time_based_deletion_with_many_small_calls() -> None:
    """``_maintain`` runs once per ``batch_window_s`` of the event-time grid: 20 calls a
    second still delete a silent track once ``max_coast_s`` has passed (within a window)."""
    cfg = TrackerConfig(confirm_m=2, confirm_n=3, max_coast_s=3.0, max_misses=1000)
    tr = SectorTracker("S1", LAT0, LON0, cfg)
    deleted_at = None
    k = 0
    for step in range(120):
        t = round(step * 0.05, 2)
        batch = [_obs(k, t, 2000.0, 0.0, sensor="R2")]
        if t <= 1.0:
            batch.append(_obs(k + 1, t, 0.0, 0.0))
        k += 2
        for u in tr.process(batch):
            if u.status == "deleted" and deleted_at is None:
                deleted_at = t
    assert deleted_at is not None and 4.0 < deleted_at <= 5.0 + 1e-9


def test_malformed_observation_is_rejected() -> None:
    tr = SectorTracker("S1", LAT0, LON0)
    bad = _obs(0, 1.0, 0, 0)
    bad.cov_en = [[float("nan"), 0.0], [0.0, 1.0]]
    assert tr.process([bad]) == [] and tr.invalid == [bad]


def test_multi_sensor_sources_and_classification() -> None:
    """Radar, thermal (class person) and seismic (footsteps) on one walker fuse into one track."""
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(confirm_m=2, confirm_n=3))
    k = 0
    for s in range(10):
        e, n = 100.0 + 1.2 * s, 50.0
        tr.process([_obs(k, s, e, n, 10.0, "R1")])
        tr.process(
            [
                _obs(
                    k + 1,
                    s + 0.3,
                    e + 1.2 * 0.3,
                    n,
                    8.0,
                    "C1",
                    "thermal",
                    **{"class": "person", "confidence": 0.8},
                )
            ]
        )
        if s % 3 == 0:
            tr.process(
                [_obs(k + 2, s + 0.5, e + 0.6, n, 20.0, "G1", "seismic", seismic_kind="footstep")]
            )
        k += 3
    live = tr.live_tracks()
    assert len(live) == 1
    assert set(live[0].sources) == {"R1", "C1", "G1"}
    assert live[0].classification == "person"
    assert abs(live[0].vel_e - 1.2) < 0.3


def test_track_deleted_after_missed_updates() -> None:
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(confirm_m=2, confirm_n=3, max_misses=3))
    for s in range(5):
        tr.process([_obs(s, s, 2.0 * s, 0.0)])
    assert [u.status for u in tr.live_tracks()] == ["confirmed"]
    statuses = []
    for s in range(5, 9):  # the radar keeps scanning elsewhere
        statuses += [
            u.status
            for u in tr.process([_obs(100 + s, s, 5000.0, 5000.0)])
            if u.track_id == "S1-T0"
        ]
    assert statuses == ["deleted"]


def _turning_boat(adaptive: bool) -> list[str]:
    cfg = TrackerConfig(q=0.01, confirm_m=2, confirm_n=3, adaptive=adaptive)
    tr = SectorTracker("S1", LAT0, LON0, cfg)
    rng = np.random.default_rng(1)
    pos, heading = np.zeros(2), 90.0
    for s in range(60):
        if 20 <= s < 35:
            heading -= 6.0  # a 90° turn at 6°/s: 0.8 m/s² lateral acceleration
        vel = 8.0 * np.array([np.sin(np.radians(heading)), np.cos(np.radians(heading))])
        pos = pos + vel
        z = pos + rng.normal(0, 5, 2)
        tr.process([_obs(s, s, z[0], z[1])])
    live = tr.live_tracks()
    assert abs(live[-1].vel_n - 8.0) < 1.0
    return [u.track_id for u in live]


def test_manoeuvre_adaptive_follows_a_turn() -> None:
    """A boat at 8 m/s turns 90°: the adaptive filter keeps its track; a plain NCV with the
    same small q loses it and starts a new one."""
    assert _turning_boat(adaptive=True) == ["S1-T0"]
    assert _turning_boat(adaptive=False) != ["S1-T0"]


def test_tentative_track_survives_misses_with_streak_rule() -> None:
    """Hit, miss, miss, hit: 2-of-first-3 drops the track; '2 hits before 3 misses' keeps it."""
    pattern = [True, False, False, True]
    ids = {}
    for name, cfg in {
        "window": TrackerConfig(confirm_m=2, confirm_n=3, adaptive=False),
        "streak": TrackerConfig(confirm_m=2, confirm_n=0, tentative_max_misses=3, adaptive=False),
    }.items():
        tr = SectorTracker("S1", LAT0, LON0, cfg)
        for s, hit in enumerate(pattern):
            # the radar scans every second; a far plot marks the scan when the walker is missed
            e, n = (2.0 * s, 0.0) if hit else (5000.0 + 900.0 * s, 5000.0)
            tr.process([_obs(s, s, e, n)])
        ids[name] = {u.track_id for u in tr.live_tracks() if abs(u.lat - LAT0) < 0.01}
    assert ids["window"] == set()
    assert ids["streak"] == {"S1-T0"}


def test_snapshot_without_source_times_still_restores() -> None:
    """Snapshots written before ``seen_t`` existed date every contribution at the track's
    last update: the restored tracker lists the same sources and continues."""
    tr = SectorTracker("S1", LAT0, LON0, TrackerConfig(confirm_m=2, confirm_n=3))
    for s in range(6):
        tr.process([_obs(2 * s, s, 10.0 * s, 0.0), _obs(2 * s + 1, s + 0.5, 10.0 * s + 5, 0.0,
                                                        sensor="C1", kind="thermal")])
    state = json.loads(json.dumps(tr.snapshot()))
    assert "seen_t_at_seen" in state["tracks"]  # since round 8: only where seen
    del state["tracks"]["seen_t_at_seen"]
    old = SectorTracker.restore(state)
    assert [set(u.sources) for u in old.live_tracks()] == [{"R1", "C1"}]
    old.process([_obs(99, 6.0, 60.0, 0.0)])
    assert [u.track_id for u in old.live_tracks()] == [u.track_id for u in tr.live_tracks()]


def test_a_tracker_that_never_saw_a_reading_restores() -> None:
    """A sector checkpointed before its first release (no sensors, no tracks) restarts cleanly."""
    empty = SectorTracker("S1", LAT0, LON0)
    state = json.loads(json.dumps(empty.snapshot()))
    restored = SectorTracker.restore(state)
    scans = _scene(seed=3, scans=10)
    assert _run(restored, scans) == _run(SectorTracker("S1", LAT0, LON0), scans)


def _mixed_scene(seed: int = 5, scans: int = 40) -> list[list[Observation]]:
    """Radar and thermal scans of walkers plus AIS vessels that a radar also sees (the
    correlator pairs them: ``mmsi``/``name`` columns and correlator state get exercised)."""
    rng = np.random.default_rng(seed)
    walkers = np.c_[rng.uniform(-1500, 1500, (6, 2)), rng.normal(0, 1.5, (6, 2))]
    boats = np.c_[rng.uniform(-1500, 1500, (3, 2)), rng.normal(0, 3.0, (3, 2))]
    out, k = [], 0
    for s in range(scans):
        batch = []
        for sensor, kind, off, tgt in (("R1", "radar", 0.0, np.r_[walkers, boats]),
                                       ("C1", "thermal", 0.4, walkers)):
            for e, n in tgt[rng.random(len(tgt)) < 0.9, :2] + rng.normal(0, 5, (1, 2)):
                batch.append(_obs(k, s + off, e, n, sensor=sensor, kind=kind))
                k += 1
        if s % 2 == 0:
            for b, (e, n) in enumerate(boats[:, :2]):
                batch.append(_obs(k, s + 0.2, e, n, 10.0, "AIS1", "ais", mmsi=244000000 + b,
                                  name=f"BOAT {b}"))
                k += 1
        out.append(batch)
        walkers[:, :2] += walkers[:, 2:]
        boats[:, :2] += boats[:, 2:]
    return out


def _as_v1(state: dict) -> dict:
    """The snapshot as the plain-list format written before arrays went out as base64."""
    from fusion.tracking.store import TrackStore

    old = {**state, "version": 1}
    for key in ("tracks", "ais"):
        st = TrackStore.from_dict(state[key])
        d = {k: v.tolist() for k, v in st.cols.items()}
        d["seen"] = st.seen.astype(int).tolist()
        d["seen_t"] = st.seen_t.tolist()
        d["n_sensors"] = int(st.seen.shape[1])
        d["names"] = [[k, v] for k, v in sorted(st.names.items())]
        old[key] = d
    return old


def _same_stores(a: SectorTracker, b: SectorTracker) -> None:
    for sa, sb in ((a.tracks, b.tracks), (a.ais, b.ais)):
        assert sa.cols.keys() == sb.cols.keys()
        for k in sa.cols:
            assert sa.cols[k].dtype == sb.cols[k].dtype, k
            np.testing.assert_array_equal(sa.cols[k], sb.cols[k], err_msg=k)
        np.testing.assert_array_equal(sa.seen, sb.seen)
        np.testing.assert_array_equal(sa.seen_t, sb.seen_t)
        assert sa.names == sb.names


def test_checkpoint_every_call_continues_identically() -> None:
    """snapshot -> JSON -> restore before every call (as a worker restarting each batch)
    gives the same updates and the same final state as one tracker that never stopped."""
    scans = _mixed_scene()
    whole = SectorTracker("S1", LAT0, LON0)
    ref = _run(whole, scans)
    assert any(u["mmsi"] is not None and u["track_id"].startswith("S1-T") for b in ref for u in b)
    tr, got = SectorTracker("S1", LAT0, LON0), []
    for batch in scans:
        state = json.loads(json.dumps(tr.snapshot()))
        tr = SectorTracker.restore(state)
        _same_stores(tr, SectorTracker.restore(json.loads(json.dumps(tr.snapshot()))))
        got.append([u.to_dict() for u in tr.process(batch)])
    assert got == ref
    assert tr.snapshot() == whole.snapshot()
    _same_stores(tr, whole)


def test_plain_list_snapshot_still_restores() -> None:
    """A version-1 checkpoint (arrays as nested lists) restores to the same tracker."""
    scans = _mixed_scene(seed=9)
    tr = SectorTracker("S1", LAT0, LON0)
    _run(tr, scans[:25])
    state = json.loads(json.dumps(tr.snapshot()))
    assert isinstance(state["tracks"]["P"], str) and len(tr.tracks) and len(tr.ais)
    old = SectorTracker.restore(json.loads(json.dumps(_as_v1(state))))
    _same_stores(old, tr)
    assert old.snapshot() == tr.snapshot()
    assert _run(old, scans[25:]) == _run(tr, scans[25:])


def test_snapshot_config_matches_dataclass_asdict() -> None:
    from dataclasses import asdict

    from fusion.tracker import engine_config

    for cfg in (TrackerConfig(), engine_config()):
        snap = SectorTracker("S1", LAT0, LON0, cfg).snapshot()["config"]
        assert snap == asdict(cfg) and list(snap) == list(asdict(cfg))


def _boat_scans(scans: int, seed: int = 0, pd: float = 1.0, start: int = 0):
    """One boat at 2 m/s east, one radar plot per 1 s scan (σ 5 m)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(start, start + scans):
        if rng.random() < pd:
            e, n = 2.0 * s + rng.normal(0, 5), rng.normal(0, 5)
            out.append([_obs(s, s, e, n)])
        else:
            out.append([])
    return out


def _clone_track(tr: SectorTracker, offset_m: float) -> int:
    """A second confirmed track on the first one's target (as one born beside it after a
    missed gate), last fed by the same radar one scan earlier; returns its number."""
    st = tr.tracks
    assert len(st) == 1
    x = st.x.copy()
    x[0, 1] += offset_m
    num = tr.counter
    tr.counter += 1
    st.append(
        st.seen.copy(),
        num=[num], x=x, P=st.P.copy(), t=st.t - 1.0, status=st.status.copy(), hits=[3],
        opps=[3], misses=[0], qscale=[1.0], cls=st.cls.copy(), mmsi=[-1], last_opp=st.t - 1.0,
    )
    return num


def test_duplicate_track_on_one_target_is_deleted() -> None:
    """Two confirmed tracks sharing one boat's plots (neither misses five in a row) are one
    target: the younger is deleted after ``dup_hold`` checks, the older keeps the boat."""
    cfg = TrackerConfig(q=0.2, adaptive=False, max_misses=50)  # only the duplicate test deletes
    tr = SectorTracker("S1", LAT0, LON0, cfg)
    scans = _boat_scans(40)
    _run(tr, scans[:10])
    (first,) = tr.tracks.num.tolist()
    dup = _clone_track(tr, 12.0)
    deleted = [u for b in scans[10 : 10 + cfg.dup_hold + 2] for u in tr.process(b)
               if u.status == "deleted"]
    assert [u.track_id for u in deleted] == [tr.track_id(dup)]
    assert tr.tracks.num.tolist() == [first] and tr.n_duplicates == 1
    _run(tr, scans[10 + cfg.dup_hold + 2 :])
    assert [u.track_id for u in tr.live_tracks()] == [tr.track_id(first)]
    # without the test the duplicate lives on beside it
    off = SectorTracker("S1", LAT0, LON0, TrackerConfig(q=0.2, adaptive=False, max_misses=50,
                                                        dup_hold=0))
    _run(off, scans[:10])
    _clone_track(off, 12.0)
    _run(off, scans[10:])
    assert len(off.live_tracks()) == 2


def test_duplicate_state_survives_a_checkpoint() -> None:
    """The count of consecutive duplicate checks is tracker state: a restart in the middle
    deletes the duplicate at the same scan as a tracker that never stopped."""
    cfg = TrackerConfig(q=0.2, adaptive=False, max_misses=50)
    scans = _boat_scans(30)
    a = SectorTracker("S1", LAT0, LON0, cfg)
    _run(a, scans[:10])
    _clone_track(a, 12.0)
    b = SectorTracker.restore(json.loads(json.dumps(a.snapshot())))
    ref = _run(a, scans[10:14])
    b = SectorTracker.restore(json.loads(json.dumps(b.snapshot())))
    assert _run(b, scans[10:14]) == ref
    assert int(b.tracks.dup_n.max()) == int(a.tracks.dup_n.max()) == 4
    assert _run(b, scans[14:]) == _run(a, scans[14:])
    assert a.n_duplicates == b.n_duplicates == 1


def test_two_boats_nine_metres_apart_keep_their_tracks() -> None:
    """A rendezvous: two boats 9 m apart, each seen by the radar in the same scans (Pd 0.92).
    Their tracks pass the state test (same place, same velocity) but one scan fed both, so
    they are two targets: neither is deleted, with the boats at rest or one drifting off."""
    for drift in (0.0, 0.5):
        rng = np.random.default_rng(3)
        cfg = TrackerConfig(q=0.2, adaptive=False)
        tr = SectorTracker("S1", LAT0, LON0, cfg)
        k = 0
        for s in range(120):
            batch = []
            for e0, n0, ve in ((0.0, 0.0, 0.0), (0.0, 9.0, drift)):
                if s < 3 or rng.random() < 0.92:
                    batch.append(_obs(k, s, e0 + ve * s + rng.normal(0, 2), n0 + rng.normal(0, 2)))
                    k += 1
            tr.process(batch)
        assert tr.n_duplicates == 0
        assert len(tr.live_tracks()) == 2


def test_old_snapshot_without_duplicate_state_restores() -> None:
    """Checkpoints written before the duplicate test have no ``dup_n``/``dup_of`` columns."""
    tr = SectorTracker("S1", LAT0, LON0)
    _run(tr, _scene(seed=2, scans=8))
    state = json.loads(json.dumps(tr.snapshot()))
    for key in ("dup_n", "dup_of"):
        del state["tracks"][key]
    del state["n_duplicates"], state["dup_last"]
    old = SectorTracker.restore(state)
    assert old.tracks.dup_of.tolist() == [-1] * len(tr.tracks)
    assert len(old.tracks) == len(tr.tracks) > 0


def test_snapshot_without_out_of_sequence_fields_restores() -> None:
    """Checkpoints written before round 7 have no ``n_absorbed``/``maintain_last`` and a
    config without ``oosm_max_lag_s``: they restore and continue like a fresh restore."""
    scans = _scene(seed=5, scans=12)
    tr = SectorTracker("S1", LAT0, LON0)
    _run(tr, scans[:6])
    state = json.loads(json.dumps(tr.snapshot()))
    del state["n_absorbed"], state["maintain_last"], state["config"]["oosm_max_lag_s"]
    old = SectorTracker.restore(state)
    assert old.n_absorbed == 0 and old.config.oosm_max_lag_s == 5.0
    assert _run(old, scans[6:]) == _run(tr, scans[6:])


def test_deletions_of_a_call_keep_their_order_and_state() -> None:
    """Deletion records are built once per call from copies taken at deletion: each keeps
    the state it was deleted with, in deletion order, before the call's other updates,
    also when a sensor first heard later in the same call widens the track columns."""
    cfg = TrackerConfig(confirm_m=4, confirm_n=0, tentative_max_misses=1, adaptive=False)
    tr = SectorTracker("S1", LAT0, LON0, cfg)
    tr.process([_obs(0, 0.0, 0.0, 0.0), _obs(1, 0.0, 900.0, 0.0)])  # two tentative tracks
    tr.process([_obs(2, 1.0, 1.0, 0.0, sensor="R9"), _obs(3, 1.0, 2900.0, 0.0, sensor="R9")])
    before = {u.track_id: u for u in tr.live_tracks(include_tentative=True)}
    assert set(before) == {"S1-T0", "S1-T1", "S1-T2"} and before["S1-T0"].sources == ["R1", "R9"]
    r = int(tr.tracks.index_of(np.array([1]))[0])  # T1 as stored (not predicted)
    ref_t, ref_p = float(tr.tracks.t[r]), tr.tracks.P[r].tolist()
    ref_lat, ref_lon = (float(v) for v in FRAME.to_latlon(*tr.tracks.x[r, :2]))
    # one call: R1 misses T1 (deleted), a thermal camera appears, R1's next scan misses T0
    out = tr.process(
        [
            _obs(4, 2.0, 1.0, 0.0),  # T0 (R1 seen) hit; T1 missed → deleted
            _obs(5, 2.2, 5000.0, 5000.0, sensor="C7", kind="thermal"),  # new sensor column
            _obs(6, 3.5, 4000.0, -4000.0),  # R1 again: T0 missed → deleted
        ]
    )
    deleted = [u for u in out if u.status == "deleted"]
    assert [u.track_id for u in deleted] == ["S1-T1", "S1-T0"]
    assert out[:2] == deleted  # deletions first, in the order they happened
    t1, t0 = deleted
    assert (t1.t, t1.cov, t1.sources, t1.obs_ids) == (ref_t, ref_p, ["R1"], [])
    assert abs(t1.lat - ref_lat) < 1e-12 and abs(t1.lon - ref_lon) < 1e-12
    # T0 was updated by o4 in this call before it was deleted: that state, o4 with it
    assert t0.t == 2.0 and t0.sources == ["R1", "R9"] and t0.obs_ids == ["o4"]
    assert "C7" in tr.sensors and len(tr.sensors) == tr.tracks.seen.shape[1]


class _CheckEveryRow(SectorTracker):
    """The tracker as before round 9: confirmation and pruning test every row each scan."""

    def _confirm_and_prune(self, rows=None) -> None:  # type: ignore[no-untyped-def]
        super()._confirm_and_prune(None)


def _busy_scene(seed: int) -> list[list[Observation]]:
    """Two radars with heavy clutter (tracks born and pruned every scan), a geophone line
    whose events are one-plot scans, and some plots out of order (the late path)."""
    rng = np.random.default_rng(seed)
    x = np.c_[rng.uniform(-1500, 1500, (12, 2)), rng.normal(0, 3, (12, 2))]
    calls, k = [], 0
    for s in range(25):
        batch = []
        for sensor, off in (("R1", 0.0), ("R2", 0.5)):
            t = s + off
            det = rng.random(12) < 0.85
            z = x[det, :2] + x[det, 2:] * off + rng.normal(0, 8, (int(det.sum()), 2))
            z = np.vstack([z, rng.uniform(-2000, 2000, (15, 2))])
            for e, n in z:
                batch.append(_obs(k, t, e, n, sigma=8.0, sensor=sensor))
                k += 1
        for g in range(6):  # geophones: one event each, at their own times
            e, n = x[g, :2] + rng.normal(0, 30, 2)
            batch.append(_obs(k, s + 0.1 * g, e, n, sigma=40.0, sensor=f"S{g}", kind="seismic"))
            k += 1
        if s and s % 4 == 0:  # a few plots of the previous second arrive now
            batch += [_obs(k + i, s - 0.7, *(x[i, :2] - x[i, 2:] * 0.7), sensor="R3")
                      for i in range(3)]
            k += 3
        calls.append(batch)
        x[:, :2] += x[:, 2:]
    return calls


def test_pruning_only_the_changed_rows_gives_the_same_tracks() -> None:
    """Round 9: ``_confirm_and_prune`` tests only the rows a scan changed (and new ones);
    every update, deletion and the final state match testing all rows after each scan."""
    from fusion.tracker import engine_config

    for seed in range(3):
        scene = _busy_scene(seed)
        cfg = engine_config({"announce_hits": 1})  # every deletion reported, clutter's too
        fast = SectorTracker("S", LAT0, LON0, cfg)
        ref = _CheckEveryRow("S", LAT0, LON0, cfg)
        out_fast, out_ref = _run(fast, scene), _run(ref, scene)
        assert out_fast == out_ref
        deleted = sum(u["status"] == "deleted" for c in out_ref for u in c)
        confirmed = sum(u["status"] == "confirmed" for c in out_ref for u in c)
        assert deleted > 50 and confirmed > 50  # the scene does exercise both
        assert json.dumps(fast.snapshot()) == json.dumps(ref.snapshot())


def test_a_one_plot_tentative_track_is_not_reported() -> None:
    """The engine reports a tentative track from its second plot (``announce_hits`` 2): a
    clutter plot that no later scan continues gives neither an update nor a deletion; a
    target's track appears with its second plot and is the same track as with every birth
    reported (``announce_hits`` 1)."""
    from fusion.tracker import engine_config

    scans = [
        [_obs(0, 0.0, 0.0, 0.0), _obs(1, 0.0, 3000.0, 0.0)],  # a boat, and clutter
        [_obs(2, 1.0, 3.0, 0.0)],
        [_obs(3, 2.0, 6.0, 0.0)],
        [_obs(4, 3.0, 9.0, 0.0)],
    ]
    quiet, loud = (SectorTracker("S", LAT0, LON0, engine_config({"announce_hits": k}))
                   for k in (2, 1))
    got = [[(u.track_id, u.status) for u in quiet.process(s)] for s in scans]
    assert got == [[], [("S-T0", "tentative")], [("S-T0", "confirmed")], [("S-T0", "confirmed")]]
    told = [[(u.track_id, u.status) for u in loud.process(s)] for s in scans]
    assert told[0] == [("S-T0", "tentative"), ("S-T1", "tentative")]
    assert ("S-T1", "deleted") in [x for call in told for x in call]  # the clutter's end
    assert json.dumps(quiet.snapshot()["tracks"]) == json.dumps(loud.snapshot()["tracks"])


def test_geophone_events_within_a_second_are_one_scan() -> None:
    """The engine merges consecutive seismic events of different geophones within
    ``batch_window_s`` into one scan (``merged_event_kinds``): a track takes the nearest of
    the events in its gate and credits that geophone, the other event in its gate starts
    nothing (as a second plot of one radar scan), a far event starts its own track seen by
    its own geophone. Event by event (TrackerConfig's default) both near events update it."""
    from fusion.tracker import engine_config

    walk = [[_obs(i, float(i), float(i), 0.0)] for i in range(4)]  # R1: 1 m/s east
    events = [
        _obs(10, 3.2, 4.0, 2.0, 20.0, "G1", "seismic"),
        _obs(11, 3.3, 10.0, -5.0, 20.0, "G2", "seismic"),
        _obs(12, 3.4, 2000.0, 0.0, 20.0, "G3", "seismic"),
    ]
    merged = SectorTracker("S", LAT0, LON0, engine_config({"announce_hits": 1}))
    single = SectorTracker("S", LAT0, LON0, engine_config(
        {"announce_hits": 1, "merged_event_kinds": []}))
    for tr in (merged, single):
        _run(tr, walk)
    seen = {}
    for name, tr in (("merged", merged), ("single", single)):
        updates = {u.track_id: u for u in tr.process(events)}
        st = tr.tracks
        seen[name] = {
            f"S-T{num}": {s for s, on in zip(tr.sensors, st.seen[row], strict=True) if on}
            for row, num in enumerate(st.num.tolist())
        }
        assert updates["S-T0"].status == "confirmed"
    assert seen["merged"] == {"S-T0": {"R1", "G1"}, "S-T1": {"G3"}}
    assert seen["single"] == {"S-T0": {"R1", "G1", "G2"}, "S-T1": {"G3"}}
    # merged or not, the state survives a checkpoint (the config's kinds through JSON)
    again = SectorTracker.restore(json.loads(json.dumps(merged.snapshot())))
    assert again.config.merged_event_kinds == ("seismic",)
    assert json.dumps(again.snapshot()) == json.dumps(merged.snapshot())


def test_a_calls_geophone_events_are_one_scan_after_its_other_scans() -> None:
    """With ``events_after_scans`` (the engine's) a call's geophone events form one scan after
    its radar scan, whatever their times: an event older than the radar plot that then
    updated its track is absorbed by that track (the geophone credited, the state not moved
    back), a far event still starts a track. Without it the radar plot splits the events
    into two scans of their own and the older event updates the track first."""
    from fusion.tracker import engine_config

    walk = [[_obs(i, float(i), float(i), 0.0)] for i in range(4)]  # R1: 1 m/s east
    call = [
        _obs(10, 3.6, 3.6, 0.0, 20.0, "G1", "seismic"),  # the walker, before the plot
        _obs(11, 4.0, 4.0, 0.0),  # R1's plot
        _obs(12, 4.1, 2000.0, 0.0, 20.0, "G3", "seismic"),  # something else, far away
    ]
    got = {}
    for after in (True, False):
        tr = SectorTracker("S", LAT0, LON0, engine_config(
            {"announce_hits": 1, "events_after_scans": after}))
        _run(tr, walk)
        scans = []
        real = tr._sensor_batch

        def counted(obs, start, stop, out_of_sequence=False, real=real, scans=scans):
            scans.append((list(obs.sensor[start:stop]), out_of_sequence))
            return real(obs, start, stop, out_of_sequence)

        tr._sensor_batch = counted  # type: ignore[method-assign]
        updates = {u.track_id: u for u in tr.process(call)}
        seen_g1 = bool(tr.tracks.seen[0, tr.sensors.index("G1")])
        got[after] = (scans, list(tr.absorbed), sorted(updates), seen_g1)
        assert tr.n_absorbed == len(tr.absorbed)  # counted wherever it was absorbed
    assert got[True] == ([(["R1"], False), (["G1", "G3"], True)], ["o10"],
                         ["S-T0", "S-T1"], True)
    assert got[False] == ([(["G1"], False), (["R1"], False), (["G3"], False)], [],
                          ["S-T0", "S-T1"], True)
