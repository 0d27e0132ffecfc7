"""The web's live picture: alert/track reduction and the SSE resume buffer."""

from __future__ import annotations

import asyncio
import json

from streams.web.live import EventLog, LiveService, LiveState, sse_frame


def alert(
    aid: str, severity: str = "high", status: str = "open", t: float = 100.0, **kw: object
) -> dict[str, object]:
    return {
        "alert_id": aid,
        "rule": kw.pop("rule", "border_crossing"),
        "severity": severity,
        "score": 0.9,
        "status": status,
        "t_first": t,
        "t_last": t,
        "lat": 51.5,
        "lon": 30.5,
        "sector": kw.pop("sector", "sector-1"),
        "zone_id": "border-1",
        "track_ids": ["T1"],
        "summary": "s",
        "evidence": {"sensors": ["R1"], "obs_ids": []},
        **kw,
    }


def track(
    tid: str,
    t: float,
    lat: float = 51.5,
    lon: float = 30.5,
    status: str = "confirmed",
    sources: tuple[str, ...] = ("R1",),
) -> dict[str, object]:
    return {
        "track_id": tid,
        "t": t,
        "lat": lat,
        "lon": lon,
        "vel_e": 1.0,
        "vel_n": 0.0,
        "cov": [[1, 0], [0, 1]],
        "status": status,
        "sources": list(sources),
    }


def test_last_alert_version_wins_and_unchanged_versions_are_not_events() -> None:
    st = LiveState()
    assert st.apply_alert(alert("a1")) is not None
    assert st.apply_alert(alert("a1")) is None  # same content: no change event
    changed = st.apply_alert(alert("a1", status="acknowledged", t=105.0, _key="internal"))
    assert changed is not None and changed["status"] == "acknowledged"
    assert "_key" not in changed
    assert len(st.alerts) == 1 and st.alerts["a1"]["status"] == "acknowledged"


def test_alert_list_sorts_by_severity_then_newest_and_filters() -> None:
    st = LiveState()
    st.apply_alert(alert("low-new", "low", t=300.0))
    st.apply_alert(alert("crit-old", "critical", t=100.0, sector="sector-2"))
    st.apply_alert(alert("high-old", "high", t=150.0, rule="dark_vessel"))
    st.apply_alert(alert("high-new", "high", t=200.0, status="dismissed"))
    assert [a["alert_id"] for a in st.alert_list()] == [
        "crit-old",
        "high-new",
        "high-old",
        "low-new",
    ]
    assert [a["alert_id"] for a in st.alert_list(status={"open"}, severity={"high"})] == [
        "high-old"
    ]
    assert [a["alert_id"] for a in st.alert_list(sector={"sector-2"})] == ["crit-old"]
    assert [a["alert_id"] for a in st.alert_list(rule={"dark_vessel"})] == ["high-old"]
    assert [a["alert_id"] for a in st.alert_list(since=200.0)] == ["high-new", "low-new"]


def test_closed_alerts_are_bounded_open_ones_never_dropped() -> None:
    st = LiveState(max_closed_alerts=3)
    for i in range(10):
        st.apply_alert(alert(f"c{i}", status="resolved", t=float(i)))
    st.apply_alert(alert("open1"))
    assert sorted(st.alerts) == ["c7", "c8", "c9", "open1"]


def test_tracks_keep_a_bounded_trail_and_ignore_late_updates() -> None:
    st = LiveState(trail_len=3)
    for i in range(5):
        st.apply_tracks([track("T1", 10.0 + i, lat=51.0 + i)])
    assert st.apply_tracks([track("T1", 12.5, lat=0.0)]) == []  # older than the latest
    t1 = st.track_list()[0]
    assert [p[0] for p in t1["trail"]] == [12.0, 13.0, 14.0]
    assert t1["lat"] == 55.0


def test_deleted_and_stale_tracks_leave_and_are_reported() -> None:
    st = LiveState(track_ttl_s=60.0)
    st.apply_tracks([track("T1", 0.0), track("T2", 10.0, sources=("R1", "T9"))])
    changed = st.apply_tracks([track("T2", 20.0, status="deleted")])
    assert changed == [{"track_id": "T2", "status": "deleted", "t": 20.0}]
    changed = st.apply_tracks([track("T3", 100.0)])  # T1 last seen 100 s ago > ttl
    assert {c["track_id"]: c["status"] for c in changed} == {"T3": "confirmed", "T1": "deleted"}
    assert [t["track_id"] for t in st.track_list()] == ["T3"]
    assert st.sensor_seen == {"R1": 100.0, "T9": 10.0}


def test_track_bbox_filter() -> None:
    st = LiveState()
    st.apply_tracks([track("in", 1.0, 51.5, 30.5), track("out", 1.0, 52.5, 30.5)])
    assert [t["track_id"] for t in st.track_list((30.0, 51.0, 31.0, 52.0))] == ["in"]


def test_resume_replays_exactly_the_missed_events() -> None:
    log = EventLog(capacity=5)
    for i in range(3):
        log.append("alert", {"n": i})
    first = log.resume(f"{log.epoch}.1")
    assert [e.data["n"] for e in first] == [1, 2]  # type: ignore[union-attr]
    assert log.resume(log.head_id) == []
    assert log.resume(None) is None  # a new browser: snapshot
    assert log.resume("otherepoch.2") is None  # before a restart: snapshot
    assert log.resume(f"{log.epoch}.99") is None  # from the future: snapshot
    assert log.resume(f"{log.epoch}.x") is None
    for i in range(3, 10):
        log.append("alert", {"n": i})
    assert [e.seq for e in log.ring] == [6, 7, 8, 9, 10]
    assert log.resume(f"{log.epoch}.4") is None  # seq 5 fell out of the ring: snapshot
    assert [e.seq for e in log.resume(f"{log.epoch}.5")] == [6, 7, 8, 9, 10]  # type: ignore[union-attr]


def test_a_stuck_subscriber_is_cut_off_not_blocking() -> None:
    async def run() -> None:
        log = EventLog(queue_size=2)
        q = log.subscribe()
        for i in range(3):
            log.append("alert", {"n": i})
        assert log.subscribers == set()
        items = [q.get_nowait() for _ in range(q.qsize())]
        assert items[-1] is None  # end-of-stream sentinel: the browser reconnects + resumes

    asyncio.run(run())


def test_service_coalesces_tracks_and_records_alert_events() -> None:
    svc = LiveService(settings=None, track_flush_s=3600)
    svc.handle_record("tracks", json.dumps([track("T1", 1.0), track("T2", 1.0)]).encode())
    svc.handle_record("tracks", json.dumps([track("T1", 2.0)]).encode())
    svc.handle_record("alerts", json.dumps(alert("a1")).encode())
    svc.handle_record("alerts", json.dumps(alert("a1")).encode())
    assert [e.kind for e in svc.events.ring] == ["alert"]
    svc.flush_tracks(force=True)
    kinds = [e.kind for e in svc.events.ring]
    assert kinds == ["alert", "tracks"]
    batch = svc.events.ring[-1].data
    assert sorted(t["track_id"] for t in batch) == ["T1", "T2"]
    assert next(t for t in batch if t["track_id"] == "T1")["t"] == 2.0


def test_sse_frame_format() -> None:
    frame = sse_frame("ab.3", "alert", {"x": "a\nb"}).decode()
    assert frame == 'id: ab.3\nevent: alert\ndata: {"x":"a\\nb"}\n\n'
