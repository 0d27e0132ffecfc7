"""``replay --via-kafka``: push a scenario through a broker and the live agents.

The run is isolated — its own topic prefix and app id — so it never touches live topics
or live alert state. Readings are paced by event time (``speed``× real time) so the
ingest agent's topics stay within the reorder window of each other, as live sensors do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fusion.types import Alert
from sensors.recorded import BadLine, iter_recorded
from streams.broker import free_port
from streams.kafka_security import client_options
from streams.replay import ReplayResult, write_alerts
from streams.settings import Settings
from streams.topics import ensure_topics


def _reader(settings: Settings, topic: str) -> Any:
    from kafka import KafkaConsumer, TopicPartition

    from sensors import kafka_crc

    kafka_crc.install()
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        **client_options(settings),
    )
    parts = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
    consumer.seek_to_beginning()
    return consumer


def replay_via_kafka(
    scenario_dir: Path | str,
    out_dir: Path | str,
    settings: Settings,
    rules_file: Path | str | None = None,
    speed: float = 10.0,
    reorder_window_s: float = 10.0,
    idle_s: float = 8.0,
    timeout_s: float = 1800.0,
    progress: Callable[[str], None] | None = None,
) -> ReplayResult:
    from sensors.push import KafkaPusher

    scenario_dir, out_dir = Path(scenario_dir).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"{settings.topic_prefix}replay-{run_id}."
    s = settings.with_overrides(topic_prefix=prefix, app_id=f"{settings.app_id}-replay-{run_id}")
    ensure_topics(s)
    env = {
        **os.environ,
        "BORDERFUSION_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "BORDERFUSION_TOPIC_PREFIX": prefix,
        "BORDERFUSION_APP_ID": s.app_id,
        "BORDERFUSION_PARTITIONS": str(s.partitions),
        "BORDERFUSION_SENSORS_FILE": str(scenario_dir / "sensors.yaml"),
        "BORDERFUSION_DATA_DIR": str(out_dir / ".replay-data"),
        "BORDERFUSION_MAX_READING_AGE_S": "0",
        "BORDERFUSION_REORDER_WINDOW_S": str(reorder_window_s),
        # paced at `speed`× the event-time skew between the readings topics is `speed`× a
        # live one: release on the window alone (the in-process run, in order, releases the
        # same buckets either way), not when the sensors heard from recently have passed
        "BORDERFUSION_FUSION_SENSOR_IDLE_S": "0",
        "BORDERFUSION_FUSION_QUIET_FLUSH_S": "0",
        "BORDERFUSION_BROKER_SESSION_TIMEOUT_S": "6",
        "BORDERFUSION_WEB_PORT": str(free_port()),  # never clash with a live worker's port
    }
    if (scenario_dir / "zones.geojson").exists():
        env["BORDERFUSION_ZONES_FILE"] = str(scenario_dir / "zones.geojson")
    rules = rules_file or (
        scenario_dir / "rules.yaml" if (scenario_dir / "rules.yaml").exists() else None
    )
    if rules:
        env["BORDERFUSION_RULES_FILE"] = str(Path(rules).resolve())
    from streams.broker import _die_with_parent

    log = open(out_dir / "replay-worker.log", "ab")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "worker",
            "--role",
            "ingest",
            "--role",
            "fusion",
            "--role",
            "alerts",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    log.close()
    result = ReplayResult()
    t0 = time.perf_counter()
    try:
        pusher = KafkaPusher(s.kafka_bootstrap, prefix, **client_options(s))
        # the worker must be consuming before the first reading goes out: a backlog on
        # four topics is read round-robin per topic, not in event time, and would put
        # readings of one topic behind the reorder window of another
        wait_until_consuming(s, pusher, worker, timeout_s=min(timeout_s, 120.0))
        if progress:
            progress("worker is consuming; pushing readings")
        for item in iter_recorded(scenario_dir / "readings.jsonl"):
            if isinstance(item, BadLine):
                result.deadletters[item.reason] = result.deadletters.get(item.reason, 0) + 1
        result.readings = push_paced(pusher, scenario_dir / "readings.jsonl", speed)
        pusher.close()
        if progress:
            progress(f"pushed {result.readings} readings; waiting for the pipeline to settle")
        # the worker releases a quiet sector's last buckets after reorder_window_s of wall
        # time (its flush timer): "idle" must outlast that, or the tail is cut off
        tracks, alerts = _collect_until_idle(
            s, worker, max(idle_s, reorder_window_s + 4.0), timeout_s
        )
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    with open(out_dir / "tracks.jsonl", "w") as fh:
        for u in tracks:
            fh.write(json.dumps(u, separators=(",", ":")) + "\n")
    result.track_updates = len(tracks)
    result.alerts = {a["alert_id"]: Alert.from_dict(a) for a in alerts}
    write_alerts(out_dir / "alerts.jsonl", result.alerts.values())
    result.seconds = time.perf_counter() - t0
    return result


PROBE_SENSOR = "bf-replay-probe"


def wait_until_consuming(
    s: Settings, pusher: Any, worker: subprocess.Popen[bytes] | None, timeout_s: float = 120.0
) -> None:
    """Send probe readings (an unknown sensor) until one comes back on ``deadletter``:
    then the worker has its partitions, its tables are recovered and ingest is live."""
    dl = _reader(s, s.topic("deadletter"))
    deadline = time.monotonic() + timeout_s
    next_probe = 0.0
    try:
        while time.monotonic() < deadline:
            if time.monotonic() >= next_probe:
                pusher.send("readings.radar", {"sensor_id": PROBE_SENSOR, "t": 0.0})
                pusher.flush()
                next_probe = time.monotonic() + 5.0
            for msgs in dl.poll(timeout_ms=300).values():
                if any(PROBE_SENSOR.encode() in (m.value or b"") for m in msgs):
                    return
            if worker is not None and worker.poll() is not None:
                raise RuntimeError("the replay worker exited early; see replay-worker.log")
    finally:
        dl.close()
    raise TimeoutError(f"the worker did not start consuming within {timeout_s} s")


def push_paced(pusher: Any, readings: Path, speed: float) -> int:
    """Send the recording's readings at ``speed``× their event-time pace; return the count.

    Pacing keeps the four readings topics within the reorder window of each other at the
    ingest agent, as live sensors are: at speed S the window of W s tolerates W/S s of
    skew between topics in the worker."""
    first_t: float | None = None
    wall0 = time.monotonic()
    sent = 0
    for item in iter_recorded(readings):
        if isinstance(item, BadLine):
            continue
        t = _event_time(item.value)
        if t is not None and speed > 0:
            first_t = t if first_t is None else first_t
            delay = (t - first_t) / speed - (time.monotonic() - wall0)
            if delay > 0:
                pusher.flush()
                time.sleep(delay)
        pusher.send(item.topic, item.value)
        sent += 1
    pusher.flush()
    return sent


def _event_time(value: Any) -> float | None:
    head = value[0] if isinstance(value, list) and value else value
    try:
        return float(head["t"]) if isinstance(head, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _collect_until_idle(
    s: Settings, worker: subprocess.Popen[bytes], idle_s: float, timeout_s: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read tracks and alerts until neither has grown for ``idle_s`` seconds."""
    tracks_c = _reader(s, s.topic("tracks"))
    alerts_c = _reader(s, s.topic("alerts"))
    tracks: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    last_growth = time.monotonic()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            grew = False
            for consumer, sink in ((tracks_c, tracks), (alerts_c, alerts)):
                for msgs in consumer.poll(timeout_ms=300).values():
                    for m in msgs:
                        v = json.loads(m.value)
                        sink.extend(v if isinstance(v, list) else [v])
                        grew = True
            if grew:
                last_growth = time.monotonic()
            elif time.monotonic() - last_growth > idle_s:
                break
            if worker.poll() is not None:
                raise RuntimeError("the replay worker exited early; see replay-worker.log")
    finally:
        tracks_c.close()
        alerts_c.close()
    return tracks, alerts
