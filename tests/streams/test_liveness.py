"""The worker's own liveness verdict (``/healthz``): stalled only when records wait and
nothing moves, or the group never settles — never for an idle or a slow-but-moving worker."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from streams.liveness import ProgressWatch


def test_records_waiting_with_no_progress_for_stall_s_is_a_stall() -> None:
    w = ProgressWatch(stall_s=60)
    for now in (0.0, 10.0, 50.0):
        w.observe({"readings.radar/0": (100, 180)}, rebalancing=False, now=now)
        assert w.stalled(now) == []
    w.observe({"readings.radar/0": (100, 240)}, rebalancing=False, now=61.0)
    (reason,) = w.stalled(61.0)
    assert "readings.radar/0" in reason and "60 s" in reason


def test_a_worker_that_moves_or_has_nothing_waiting_is_never_stalled() -> None:
    w = ProgressWatch(stall_s=30)
    for i in range(20):  # behind by thousands of records, but the committed offset moves
        now = 10.0 * i
        w.observe({"observations/1": (1000 * i, 1000 * i + 5000)}, False, now)
        assert w.stalled(now) == []
    w2 = ProgressWatch(stall_s=30)
    for i in range(20):  # idle: committed == end (or above it after a broker lost its log)
        w2.observe({"tracks/0": (42, 42), "tracks/1": (90, 7)}, False, 10.0 * i)
        assert w2.stalled(10.0 * i) == []
    assert w2.summary() == {"partitions": 2, "waiting": 0, "waiting_on": {}}


def test_the_clock_starts_again_when_records_stop_waiting_or_progress_resumes() -> None:
    w = ProgressWatch(stall_s=30)
    w.observe({"p/0": (5, 9)}, False, 0.0)
    w.observe({"p/0": (9, 9)}, False, 20.0)  # caught up
    w.observe({"p/0": (9, 12)}, False, 25.0)  # new records: waiting since 25 s, not 0 s
    assert w.stalled(40.0) == [] and w.stalled(55.0) != []
    w.observe({"p/0": (10, 12)}, False, 56.0)  # one record done: progress
    assert w.stalled(80.0) == []


def test_endless_rebalancing_is_a_stall_and_settling_clears_it() -> None:
    """A rebalance (with table recovery, minutes on a big state) gets 5 × stall_s, and its
    paused partitions do not count as records waiting."""
    w = ProgressWatch(stall_s=30)
    w.observe({"p/0": (1, 500)}, rebalancing=False, now=0.0)
    w.observe({"p/0": (1, 900)}, rebalancing=True, now=10.0)
    w.observe({"p/0": (1, 900)}, rebalancing=True, now=140.0)
    assert w.stalled(140.0) == [] and w.summary()["waiting"] == 0
    assert w.stalled(161.0) == ["rebalancing (or recovering tables) for 151 s"]
    w.observe({"p/0": (2, 900)}, rebalancing=False, now=162.0)
    assert w.stalled(180.0) == []


def test_stall_s_zero_turns_the_check_off() -> None:
    w = ProgressWatch(stall_s=0)
    w.observe({"p/0": (1, 9)}, rebalancing=True, now=0.0)
    assert w.stalled(1e6) == []


def test_healthz_answers_503_with_the_reasons_when_stalled(tmp_path: Path) -> None:
    from streams.app import create_app
    from streams.settings import Settings
    from streams.web.views import _health_response

    sensors = tmp_path / "sensors.yaml"
    sensors.write_text(
        yaml.safe_dump({"sensors": [{"id": "A1", "type": "ais", "lat": 51.5, "lon": 30.5}]})
    )
    settings = Settings(app_id="liveness-test", sensors_file=sensors, data_dir=tmp_path)
    handle = create_app(settings, roles=("ingest",))
    watch = handle.state["progress"]
    assert isinstance(watch, ProgressWatch) and watch.stall_s == 120.0
    ok = _health_response(handle, {})
    assert ok.status == 200 and json.loads(ok.body)["status"] == "ok"
    watch.observe({"readings.ais/3": (7, 8)}, False, -1e9)  # waiting since long ago
    bad = _health_response(handle, {})
    body = json.loads(bad.body)
    assert bad.status == 503 and body["status"] == "stalled"
    assert "readings.ais/3" in body["stalled"][0] and body["progress"]["waiting"] == 1
