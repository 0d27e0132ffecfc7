"""End-to-end benchmark: broker + N workers + a load generator at a target reading rate.

Starts a broker (embedded Tansu, or Apache Kafka in KRaft mode), writes a synthetic long-border
deployment sized for the rate (``benchmarks/loadgen.py``), creates the topics, starts
``borderfusion worker`` subprocesses (ingest + fusion + alerts) and streams readings with
event time = now for ``--duration`` seconds. A collector reads the downstream topics with
``assign()`` + ``seek`` (works on both brokers) and measures:

* achieved input rate, observations / track updates / alerts produced;
* loss: observations expected from the readings sent vs produced (halo copies excluded) plus
  readings dead-lettered; and what was still missing when the load stopped (lag);
* latency per hop from Kafka record timestamps (producer CreateTime): reading event time →
  observation record (ingest), → track record (fusion, incl. the reorder window and time
  bucket), → alert record (rules), and sensor → alert as read by the benchmark;
* CPU per process (% of one core) and RSS over time (``/proc``), optional py-spy profile.

Writes ``benchmarks/results/e2e_<name>.{json,md}`` and prints the table.

    .venv/bin/python benchmarks/e2e_bench.py --broker tansu --rate 10000 --duration 60
    .venv/bin/python benchmarks/e2e_bench.py --broker kafka --workers 2 --rate 10000
    .venv/bin/python benchmarks/e2e_bench.py --soak-minutes 30 --rate 10000   # RSS soak
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from loadgen import Border, Mix  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
T_RE = re.compile(rb'"t":(-?[0-9.]+)')
STATUS_RE = re.compile(rb'"status":"([a-z_]+)"')
SRC_RE = re.compile(rb'"src":\["([^"]+)",([0-9]+),([0-9]+)\]')
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- processes


def _tree(pid: int) -> list[int]:
    """pid and its descendants (the Kafka script execs into java; be safe anyway)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError):
                    todo += [
                        int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()
                    ]
    return out


def cpu_s(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / CLK_TCK
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
    return total / 1e6


# ---------------------------------------------------------------- collector


class Collector(threading.Thread):
    """Reads observations, tracks, alerts and deadletter from the beginning and keeps
    counts and latency samples. Counting is done on raw bytes where it can (obs ids),
    so the collector's own CPU stays small next to the workers'."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        from sensors import kafka_crc

        kafka_crc.install()  # else the collector's pure-Python CRC check takes ~20 % of a core
        self.prefix = prefix
        self.stop_flag = threading.Event()
        self.lock = threading.RLock()
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            # read as promptly as the workers do (kafka-python's 500 ms default is held in
            # full by Tansu and would be counted in sensor → alert)
            fetch_max_wait_ms=50,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        tps = []
        for name in ("observations", "tracks", "alerts", "deadletter"):
            topic = prefix + name
            parts = None
            deadline = time.monotonic() + 30
            while not parts and time.monotonic() < deadline:
                parts = self.consumer.partitions_for_topic(topic)
                if not parts:
                    time.sleep(0.3)
            tps += [TopicPartition(topic, p) for p in sorted(parts or [])]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning()
        self.obs = 0
        self.halo = 0
        self.obs_sectors: Counter[str] = Counter()
        # the readings records (topic, partition, offset) some observation came from: what
        # a shortfall is missing can then be named (``missing_readings``)
        self.sources: set[tuple[bytes, int, int]] = set()
        self.track_updates = 0
        self.track_records = 0
        self.alerts: list[dict[str, Any]] = []
        self.dead: Counter[str] = Counter()
        self.dead_readings = 0
        self.lat_ingest: list[np.ndarray] = []
        self.lat_tracks: list[np.ndarray] = []
        self.lat_tracks_all: list[np.ndarray] = []
        self.tracks_tail: list[dict[str, Any]] = []
        self.slow_tracks: Counter[int] = Counter()  # track records over 1 s, per second
        # no latency sample until the run sets the measurement window: the readiness
        # probes' records (the workers' first, held while they start) are not the load's
        self.window: tuple[float, float] = (float("inf"), float("-inf"))

    def run(self) -> None:
        while not self.stop_flag.is_set():
            batch = self.consumer.poll(timeout_ms=300, max_records=5000)
            now = time.time()
            with self.lock:
                for tp, msgs in batch.items():
                    name = tp.topic[len(self.prefix) :]
                    for m in msgs:
                        self._record(name, m, now)

    def _record(self, name: str, m: Any, now: float) -> None:
        ts = m.timestamp / 1000.0
        v = m.value
        if name == "observations":
            n = v.count(b'"obs_id"')
            h = v.count(b'"halo":true')
            self.obs += n - h
            self.halo += h
            self.obs_sectors[m.key.decode()] += n
            self.sources.update((t, int(p), int(o)) for t, p, o in SRC_RE.findall(v))
            if self.window[0] <= ts <= self.window[1]:
                self.lat_ingest.append(ts - np.array(T_RE.findall(v), dtype=float))
        elif name == "tracks":
            self.track_records += 1
            ts_t = np.array(T_RE.findall(v), dtype=float)
            self.track_updates += len(ts_t)
            if len(ts_t) and self.window[0] <= ts <= self.window[1]:
                self.lat_tracks_all.append(np.array([ts - ts_t.max()]))
                # a deleted track's update carries its last plot's time: its "latency" is
                # the coast time, not a reading's way to the track, so reading → track is
                # taken over the record's other updates (records of deletions only: none)
                status = STATUS_RE.findall(v)
                if len(status) == len(ts_t):
                    live = ts_t[np.array(status) != b"deleted"]
                    if len(live):
                        self.lat_tracks.append(np.array([ts - live.max()]))
                        if ts - live.max() > 1.0:
                            self.slow_tracks[int(ts)] += 1
                            if len(self.tracks_tail) < 30:
                                self._keep_tail(ts, v)
        elif name == "alerts":
            a = json.loads(v)
            self.alerts.append(
                {
                    "rule": a.get("rule"),
                    "status": a.get("status"),
                    "t_last": a.get("t_last"),
                    "ts": ts,
                    "read": now,
                    "id": a.get("alert_id"),
                }
            )
        elif name == "deadletter":
            d = json.loads(v)
            self.dead[f"{d.get('source')}:{d.get('reason')}"] += 1
            if str(d.get("source", "")).startswith("readings"):
                self.dead_readings += 1

    def _keep_tail(self, ts: float, v: bytes) -> None:
        """A sample of the slow track records (over 1 s): what they carried, to tell a
        stalled worker from updates that report an old time by design."""
        ups = json.loads(v)
        ups = ups if isinstance(ups, list) else [ups]
        self.tracks_tail.append(
            {
                "ts": ts,
                "sector": ups[0].get("sector") if ups else None,
                "updates": [
                    {k: u.get(k) for k in ("track_id", "status", "sources", "obs_ids")}
                    | {"age_s": round(ts - float(u.get("t") or 0.0), 3)}
                    for u in ups[:8]
                ],
                "n_updates": len(ups),
            }
        )

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "obs": self.obs,
                "halo": self.halo,
                "track_updates": self.track_updates,
                "alerts": len(self.alerts),
                "dead": sum(self.dead.values()),
            }

    def close(self) -> None:
        self.stop_flag.set()
        self.join(5)
        self.consumer.close()


def _read_all(bootstrap: str, topics: list[str], on_record: Callable[[str, Any], None]) -> int:
    """Every record of ``topics`` from the beginning to the end of what the broker returns
    (not to its end offsets: Tansu's are wrong), in a fresh consumer; returns the count."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, fetch_max_wait_ms=100)
    try:
        consumer.assign([TopicPartition(t, p) for t in topics
                         for p in sorted(consumer.partitions_for_topic(t) or [])])
        consumer.seek_to_beginning()
        n, idle_since = 0, time.monotonic()
        while time.monotonic() - idle_since < 3.0:
            batch = consumer.poll(timeout_ms=300, max_records=5000)
            if batch:
                idle_since = time.monotonic()
            for tp, msgs in batch.items():
                for m in msgs:
                    n += 1
                    on_record(tp.topic, m)
        return n
    finally:
        consumer.close()


def missing_readings(
    bootstrap: str, prefix: str, seen: set[tuple[bytes, int, int]], limit: int = 20
) -> dict[str, Any]:
    """The readings records no observation names as its source, to tell what a shortfall
    is: ``seen`` are the sources the collector read while the run went on; ``observations``
    is read once more here, so a record the collector missed but the topic holds shows as
    ``collector_missed`` (a reading then reached fusion), not as lost."""
    again: set[tuple[bytes, int, int]] = set()

    def on_obs(_topic: str, m: Any) -> None:
        again.update((t, int(p), int(o)) for t, p, o in SRC_RE.findall(m.value))

    _read_all(bootstrap, [prefix + "observations"], on_obs)
    missing: list[dict[str, Any]] = []
    collector_missed = 0

    def on_reading(topic: str, m: Any) -> None:
        nonlocal collector_missed
        key = (topic[len(prefix):].encode(), m.partition, m.offset)
        if key in seen:
            return
        if key in again:
            collector_missed += 1
            return
        value = json.loads(m.value)
        rows = value if isinstance(value, list) else [value]
        missing.append({"topic": topic, "partition": m.partition, "offset": m.offset,
                        "readings": len(rows),
                        "sensor_id": rows[0].get("sensor_id") if rows else None,
                        "t": rows[0].get("t") if rows else None,
                        "broker_ts": m.timestamp / 1000.0})

    records = _read_all(bootstrap, [prefix + f"readings.{k}"
                                    for k in ("radar", "thermal", "seismic", "ais")], on_reading)
    return {"records_read": records, "collector_missed": collector_missed,
            "missing_records": len(missing),
            "missing_readings": sum(m["readings"] for m in missing), "sample": missing[:limit]}


def alert_record_kinds(alerts: list[dict[str, Any]]) -> dict[int, str]:
    """Each alert record as ``new`` (the first record of its id), ``update`` (a later
    record of a live alert: refreshed by newer evidence) or ``closing`` (resolved,
    dismissed, ...), by ``id()`` of the record. Records arrive in partition order and an
    alert id lives on one partition, so the first seen is the first written."""
    seen: set[str] = set()
    out: dict[int, str] = {}
    for a in alerts:
        if a["id"] not in seen:
            seen.add(a["id"])
            out[id(a)] = "new"
        else:
            out[id(a)] = "update" if a["status"] in ("open", "acknowledged") else "closing"
    return out


def pct(values: np.ndarray, q: float) -> float | None:
    return None if len(values) == 0 else round(float(np.percentile(values, q)) * 1000.0, 1)


def lat_stats(values: list[np.ndarray] | np.ndarray) -> dict[str, Any]:
    arr = (
        np.concatenate(values)
        if isinstance(values, list) and values
        else np.asarray(values if not isinstance(values, list) else [], dtype=float)
    )
    return {
        "n": int(len(arr)),
        "p50_ms": pct(arr, 50),
        "p90_ms": pct(arr, 90),
        "p99_ms": pct(arr, 99),
        "max_ms": pct(arr, 100),
    }


# ---------------------------------------------------------------- brokers


@contextlib.contextmanager
def broker(kind: str, workdir: Path) -> Any:
    if kind == "tansu":
        from streams.broker import EmbeddedBroker

        b = EmbeddedBroker(log_file=workdir / "tansu.log").start()
        try:
            yield b.bootstrap, b.proc.pid  # type: ignore[union-attr]
        finally:
            b.stop()
    else:
        from tests.kafka_kraft import start_kraft

        k = start_kraft(workdir=workdir / "kafka")
        try:
            yield k.bootstrap, k.process.pid
        finally:
            k.stop()


# ---------------------------------------------------------------- profile


PROFILE_BUCKETS = [  # (label, substring of a py-spy frame); first match wins, leaf → root
    ("geo-referencing (georef/geodesy)", "georef.py"),
    ("geo-referencing (georef/geodesy)", "geodesy.py"),
    ("validation (schemas)", "schemas.py"),
    ("sector assignment (sectors)", "sectors.py"),
    ("AIS decoding", "sensors/ais/"),
    ("tracker (fusion/)", "fusion/tracker"),
    ("tracker (fusion/)", "fusion/tracking"),
    ("tracker (fusion/)", "fusion/association"),
    ("tracker (fusion/)", "fusion/filters"),
    ("alert rules (fusion/alerts, rules, geofence)", "fusion/alerts"),
    ("alert rules (fusion/alerts, rules, geofence)", "fusion/rules"),
    ("alert rules (fusion/alerts, rules, geofence)", "fusion/geofence"),
    ("Observation/TrackUpdate dicts (fusion/types)", "fusion/types"),
    ("JSON encode/decode", "json/"),
    ("engine glue (streams/engine)", "streams/engine.py"),
    ("agents glue (streams/agents)", "streams/agents.py"),
    ("Kafka client (aiokafka)", "aiokafka/"),
    ("Faust/mode machinery", "faust/"),
    ("Faust/mode machinery", "mode/"),
    ("Prometheus client", "prometheus_client"),
    ("asyncio event loop", "asyncio/"),
]


def py_spy(pid: int, seconds: float, out: Path) -> dict[str, Any]:
    """Sample a worker with py-spy (no code change needed); CPU share by where the leaf-most
    frame of our own code (or the library) sits."""
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        return {"error": "py-spy not installed (.venv/bin/pip install py-spy)"}
    proc = subprocess.run(
        [
            str(exe),
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "50",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not out.exists():
        return {"error": proc.stderr[-500:]}
    buckets: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()  # our functions, including what they call
    idle = total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        if frames and (
            "select" in frames[-1]
            or "epoll" in frames[-1]
            or "_run_once" in frames[-1]
            and "poll" in frames[-1]
        ):
            idle += n
            continue
        for fn in {_own_frame(f) for f in frames} - {None}:
            inclusive[fn] += n  # type: ignore[index]
        label = "other"
        for frame in reversed(frames):
            hit = next((lab for lab, sub in PROFILE_BUCKETS if sub in frame), None)
            if hit:
                label = hit
                break
        buckets[label] += n
    busy = max(total - idle, 1)
    return {
        "samples": total,
        "idle_share": round(idle / max(total, 1), 3),  # py-spy: busy only
        "busy_share_by_area": {k: round(v / busy, 3) for k, v in buckets.most_common()},
        # where the per-batch fixed costs hide: share of busy samples in each of our
        # functions and below it (shares overlap: callers include their callees)
        "busy_share_inclusive": {
            k: round(v / busy, 3) for k, v in inclusive.most_common(30) if v / busy >= 0.01
        },
    }


_OWN = re.compile(r"^(.+?) \((?:.*/)?((?:streams|fusion|sensors)/[^:]+)(?::\d+)?\)$")


def _own_frame(frame: str) -> str | None:
    """``function (path/to/streams/x.py:12)`` → ``streams/x.py:function``; None if the frame
    is not in the project's own packages."""
    m = _OWN.match(frame)
    if m is None or "site-packages" in frame:
        return None
    return f"{m.group(2)}:{m.group(1)}"


# ---------------------------------------------------------------- run


def run(args: argparse.Namespace) -> dict[str, Any]:
    from streams.settings import Settings
    from streams.topics import ensure_topics
    from tests.kafka_utils import start_worker, stop_process

    work = Path(tempfile.mkdtemp(prefix="bf-e2e-"))
    duration = args.soak_minutes * 60.0 if args.soak_minutes else args.duration
    mix = Mix(rate=args.rate, sectors=args.sectors, plots_per_scan=args.plots_per_scan)
    border = Border(mix, args.partitions)
    sensors_file, zones_file = border.write(work / "scenario")
    prefix = f"e2e{uuid.uuid4().hex[:6]}."
    out: dict[str, Any] = {
        "broker": args.broker,
        "workers": args.workers,
        "partitions": args.partitions,
        "target_rate": args.rate,
        "duration_s": duration,
        "reorder_window_s": args.reorder_window,
        "fusion_bucket_s": args.bucket if args.bucket is not None else "default",
        "mix": {
            "radars": mix.n_radars,
            "plots_per_scan": mix.plots_per_scan,
            "cameras": mix.n_radars,
            "thermal_per_camera_s": mix.thermal_per_camera,
            "geophones": mix.n_seismic,
            "vessels": mix.n_vessels,
            "sectors": border.sectors,
        },
    }
    with broker(args.broker, work) as (bootstrap, broker_pid):
        env = {
            "BORDERFUSION_SENSORS_FILE": str(sensors_file),
            "BORDERFUSION_ZONES_FILE": str(zones_file),
            "BORDERFUSION_PARTITIONS": str(args.partitions),
            "BORDERFUSION_DATA_DIR": str(work / "data"),
            "BORDERFUSION_LOG_LEVEL": "WARNING",
            "BORDERFUSION_REORDER_WINDOW_S": str(args.reorder_window),
        }
        if args.bucket is not None:  # else the worker's default (settings.fusion_bucket_s)
            env["BORDERFUSION_FUSION_BUCKET_S"] = str(args.bucket)
        # worker settings given on the command line only (else the worker's defaults)
        for flag, name in (
            ("batch_within", "BATCH_WITHIN_S"),
            ("compression", "KAFKA_COMPRESSION"),
            ("compression_level", "KAFKA_COMPRESSION_LEVEL"),
            ("checkpoint_interval", "CHECKPOINT_INTERVAL_S"),
            ("sensor_idle", "FUSION_SENSOR_IDLE_S"),
            ("fetch_wait", "KAFKA_FETCH_MAX_WAIT_S"),
            ("quiet_flush", "FUSION_QUIET_FLUSH_S"),
            ("alerts_inline", "ALERTS_INLINE"),
            ("gc_threshold", "GC_THRESHOLD"),
        ):
            if getattr(args, flag, None) is not None:
                env[f"BORDERFUSION_{name}"] = str(getattr(args, flag))
                out[flag] = getattr(args, flag)
        ensure_topics(
            Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, partitions=args.partitions)
        )
        workers = [
            start_worker(
                bootstrap, prefix, env, ["ingest", "fusion", "alerts"], work / f"worker{i}.log"
            )
            for i in range(args.workers)
        ]
        collector = Collector(bootstrap, prefix)
        collector.start()
        try:
            t_ready = time.time()
            probes = _wait_ready(bootstrap, prefix, border, collector, timeout_s=180)
            out["startup_s"] = round(time.time() - t_ready, 1)
            time.sleep(3.0)  # let a second worker's rebalance settle
            base = collector.snapshot()
            pids = {"broker": broker_pid, **{f"worker{i}": w.pid for i, w in enumerate(workers)}}
            stats_file = work / "loadgen.json"
            lg = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / "loadgen.py"),
                    "--bootstrap",
                    bootstrap,
                    "--prefix",
                    prefix,
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(duration),
                    "--partitions",
                    str(args.partitions),
                    "--sectors",
                    str(args.sectors),
                    "--plots-per-scan",
                    str(args.plots_per_scan),
                    "--stats",
                    str(stats_file),
                ],
                cwd=ROOT,
            )
            pids["loadgen"] = lg.pid
            t0 = time.time()
            collector.window = (t0 + min(10.0, duration / 6), t0 + duration)
            cpu0 = {k: cpu_s(p) for k, p in pids.items()}
            series: list[dict[str, Any]] = []
            profile: dict[str, Any] = {}
            prof_thread = None
            if args.py_spy:

                def _prof() -> None:
                    time.sleep(min(15.0, duration / 4))
                    profile.update(py_spy(workers[0].pid, args.py_spy, work / "pyspy.txt"))

                prof_thread = threading.Thread(target=_prof, daemon=True)
                prof_thread.start()
            sample_every = 30.0 if duration > 600 else 5.0
            next_sample = t0
            while lg.poll() is None:
                if time.time() >= next_sample:
                    snap = collector.snapshot()
                    series.append(
                        {
                            "t_s": round(time.time() - t0, 1),
                            **{
                                f"rss_mb_{k}": round(rss_mb(p), 1)
                                for k, p in pids.items()
                                if k != "loadgen"
                            },
                            "obs": snap["obs"] - base["obs"],
                            "alerts": snap["alerts"] - base["alerts"],
                        }
                    )
                    next_sample += sample_every
                    if any(w.poll() is not None for w in workers):
                        raise RuntimeError(
                            f"a worker exited during the run; see {work}/worker*.log"
                        )
                time.sleep(0.5)
            t_end = time.time()
            if lg.returncode != 0:
                raise RuntimeError(f"the load generator failed (exit {lg.returncode})")
            cpu1 = {k: cpu_s(p) for k, p in pids.items() if k != "loadgen"}
            load = json.loads(stats_file.read_text())
            cpu1["loadgen"] = cpu0["loadgen"]  # exited: use its own figure below
            expected = load["acked"]["expected_obs"] + probes  # what the broker has
            at_end = collector.snapshot()
            lag_at_end = expected - (at_end["obs"] + collector.dead_readings)
            # drain: wait for the pipeline to catch up (or stall)
            last, last_change, drained = -1, time.time(), None
            while time.time() - t_end < args.drain_timeout:
                snap = collector.snapshot()
                done = snap["obs"] + collector.dead_readings
                if done >= expected:
                    drained = time.time() - t_end
                    break
                if done != last:
                    last, last_change = done, time.time()
                elif time.time() - last_change > 20:
                    break
                time.sleep(0.5)
            time.sleep(args.reorder_window + 3.0)  # the last buckets' tracks and alerts
            # worker CPU over load + drain: the cost per observation, robust to a shared
            # machine (a starved worker processes less, but spends the same CPU per item)
            cpu2 = {k: cpu_s(p) for k, p in pids.items() if k.startswith("worker")}
            if prof_thread:
                prof_thread.join(args.py_spy + 30)
            window = max(t_end - t0, 1e-9)
            with collector.lock:
                snap = collector.snapshot()
                alerts = list(collector.alerts)
                lat_ingest, lat_tracks = list(collector.lat_ingest), list(collector.lat_tracks)
                lat_tracks_all = list(collector.lat_tracks_all)
                dead = dict(collector.dead)
                sectors = dict(collector.obs_sectors)
            in_window = [
                a
                for a in alerts
                if collector.window[0] <= a["ts"] <= t_end and a["t_last"] is not None
            ]
            kinds = alert_record_kinds(alerts)
            processed = snap["obs"] + collector.dead_readings
            if expected > processed:  # name what is missing (dead letters show as missing)
                with collector.lock:
                    sources = set(collector.sources)
                out["missing"] = missing_readings(bootstrap, prefix, sources)
            out.update(
                {
                    "load": {
                        "readings_sent": load["sent"]["readings"],
                        "records_sent": load["sent"]["records"],
                        "readings_acked": load["acked"]["readings"],
                        "send_errors": load["acked"]["errors"],
                        "achieved_rate": round(load["achieved_rate"], 1),
                        "acked_rate": round(load["acked"]["readings"] / load["elapsed_s"], 1),
                        "unflushed_at_end": load.get("unflushed_at_end"),
                        "per_topic": load["per_topic"],
                    },
                    "expected_observations": expected,
                    "observations": snap["obs"],
                    "halo_copies": snap["halo"],
                    "observations_by_sector_record_key": sectors,
                    "deadletters": dead,
                    "lost": max(expected - processed, 0),
                    "loss_ratio": round(max(expected - processed, 0) / max(expected, 1), 6),
                    "lag_at_load_end": max(lag_at_end, 0),
                    "drain_s": None if drained is None else round(drained, 1),
                    "processed_rate": round((at_end["obs"] - base["obs"]) / window, 1),
                    "track_updates": snap["track_updates"] - base["track_updates"],
                    "alerts": len(alerts),
                    "alerts_by_rule": dict(Counter(a["rule"] for a in alerts)),
                    "latency": {
                        "ingest_hop": lat_stats(lat_ingest),
                        "to_tracks": lat_stats(lat_tracks),
                        "to_tracks_all_records": lat_stats(lat_tracks_all),
                        "alert_record": lat_stats(
                            np.array([a["ts"] - a["t_last"] for a in in_window])
                        ),
                        # the reading that made a rule fire → the new alert, read downstream
                        "sensor_to_alert": lat_stats(
                            np.array([a["read"] - a["t_last"] for a in in_window
                                      if kinds[id(a)] == "new"])
                        ),
                        # later readings → the open alert's update in place
                        "sensor_to_alert_update": lat_stats(
                            np.array([a["read"] - a["t_last"] for a in in_window
                                      if kinds[id(a)] == "update"])
                        ),
                        # every alert record, closings included (rounds 1-7 reported
                        # this as sensor → alert): a resolution by track deletion carries
                        # the last plot's time, so its "latency" is the coast time
                        "sensor_to_alert_all_records": lat_stats(
                            np.array([a["read"] - a["t_last"] for a in in_window])
                        ),
                    },
                    "cpu_pct": {
                        k: round(100.0 * (cpu1[k] - cpu0[k]) / window, 1)
                        for k in pids
                        if k != "loadgen"
                    },
                    "worker_cpu_s_total": round(sum(cpu2[k] - cpu0[k] for k in cpu2), 2),
                    "worker_cpu_ms_per_obs": round(
                        1e3
                        * sum(cpu2[k] - cpu0[k] for k in cpu2)
                        / max(snap["obs"] - base["obs"], 1),
                        4,
                    ),
                    "loadgen_max_slice_overrun_s": round(load["max_slice_overrun_s"], 3),
                    "tracks_tail_sample": list(collector.tracks_tail),
                    # when they came: seconds since the load started → slow track records
                    "slow_track_records_by_second": {
                        str(k - int(t0)): n for k, n in sorted(collector.slow_tracks.items())
                    },
                    "rss_series": series,
                    "profile_worker0": profile,
                }
            )
        finally:
            collector.close()
            for w in workers:
                stop_process(w)
    return out


def _wait_ready(
    bootstrap: str, prefix: str, border: Border, collector: Collector, timeout_s: float
) -> int:
    """Send one seismic event per sector each second until every sector's observation
    has come out: the workers have joined and own their partitions. Returns probes sent."""
    from sensors.push import KafkaPusher

    doc = border.sensors_doc()["sensors"]
    seis = [s for s in doc if s["type"] == "seismic"]
    # the geophone nearest each sector's centre (sectors split the border evenly): a fixed
    # stride missed sectors whenever geophones and sectors did not line up (1 000/s, 16)
    width = border.mix.length_m / border.mix.sectors
    centres = (np.arange(border.mix.sectors) + 0.5) * width
    nearest = np.abs(border.seis_en[:, 0][None, :] - centres[:, None]).argmin(axis=1)
    probes = [seis[i]["id"] for i in dict.fromkeys(nearest.tolist())]
    # wait for the sectors the probes really fall in (the zones' sectors need not match
    # the mix's count): the workers' own sectorizer says which
    from streams.engine import Context

    sensors_file, zones_file = border.write(Path(tempfile.mkdtemp(prefix="bf-probe-")))
    by_id = {s["id"]: s for s in seis}
    homes, _ = Context.from_files(sensors_file, zones_file).sectorizer.assign(
        np.array([by_id[p]["lat"] for p in probes]), np.array([by_id[p]["lon"] for p in probes])
    )
    expected = {str(h) for h in homes}
    sent = 0
    deadline = time.monotonic() + timeout_s
    with KafkaPusher(bootstrap, prefix) as pusher:
        while time.monotonic() < deadline:
            for sid in probes:
                pusher.send(
                    "readings.seismic",
                    {
                        "sensor_id": sid,
                        "t": round(time.time(), 3),
                        "kind": "footstep",
                        "energy": 0.1,
                        "duration_s": 1.0,
                        "confidence": 0.5,
                    },
                )
                sent += 1
            pusher.flush()
            time.sleep(1.0)
            with collector.lock:
                if expected <= set(collector.obs_sectors):
                    return sent
    raise TimeoutError("workers produced no observations for every sector in time")


# ---------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1e6
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem, 1),
        "python": sys.version.split()[0],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| run | broker | workers | target/s | achieved/s | processed obs/s | lost | "
        "lag at end | drain s | ingest hop p50/p99 ms | to tracks p50/p99 ms | "
        "new alert: sensor→alert p50/p99 ms | all alert records p50/p99 ms | alerts | out_of_sequence | CPU % (broker / workers) | "
        "worker CPU ms/obs | RSS MB end |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        lat = r["latency"]
        all_rec = lat.get("sensor_to_alert_all_records", {})
        cpu = r["cpu_pct"]
        rss = r["rss_series"][-1] if r["rss_series"] else {}
        # not drained by --drain-timeout: what is missing is still queued, not known lost
        lost = (
            f"{r['lost']} ({100 * r['loss_ratio']:.2f} %)"
            if r["drain_s"] is not None
            else f"not drained ({r['lost']} left)"
        )
        lines.append(
            f"| {r.get('name', '')} | {r['broker']} | {r['workers']} | {r['target_rate']:.0f} | "
            f"{r['load']['achieved_rate']:.0f} | {r['processed_rate']:.0f} | {lost} | "
            f"{r['lag_at_load_end']} | {r['drain_s']} | "
            f"{lat['ingest_hop']['p50_ms']} / {lat['ingest_hop']['p99_ms']} | "
            f"{lat['to_tracks']['p50_ms']} / {lat['to_tracks']['p99_ms']} | "
            f"{lat['sensor_to_alert']['p50_ms']} / {lat['sensor_to_alert']['p99_ms']} | "
            f"{all_rec.get('p50_ms')} / {all_rec.get('p99_ms')} | "
            f"{r['alerts']} | {r['deadletters'].get('observations:out_of_sequence', 0)} | "
            f"{cpu.get('broker')} / "
            f"{' + '.join(str(v) for k, v in cpu.items() if k.startswith('worker'))} | "
            f"{r.get('worker_cpu_ms_per_obs')} | "
            f"{' + '.join(str(v) for k, v in rss.items() if k.startswith('rss_mb_worker'))} |"
        )
    return "\n".join(lines)


def write(results: list[dict[str, Any]], name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"machine": machine(), "runs": results}
    (RESULTS / f"e2e_{name}.json").write_text(json.dumps(doc, indent=1))
    md = [
        f"# End-to-end benchmark: {name}",
        "",
        f"Machine: {doc['machine']}",
        "",
        table(results),
        "",
    ]
    for r in results:
        series = r["rss_series"]
        if series:
            keys = [k for k in series[0] if k.startswith("rss_mb_")]
            md += [
                f"RSS over time ({r.get('name')}), MB:",
                "",
                "| t s | " + " | ".join(k[7:] for k in keys) + " | obs | alerts |",
                "|---|" + "---|" * (len(keys) + 2),
            ]
            step = max(len(series) // 12, 1)
            for s in series[::step] + ([series[-1]] if len(series) % step != 1 else []):
                md.append(
                    f"| {s['t_s']} | "
                    + " | ".join(str(s[k]) for k in keys)
                    + f" | {s['obs']} | {s['alerts']} |"
                )
            md.append("")
        miss = r.get("missing")
        if miss:
            md += [
                f"Readings no observation came from ({r.get('name')}): "
                f"{miss['missing_records']} of {miss['records_read']} records, "
                f"{miss['missing_readings']} readings (dead-lettered ones included); records "
                f"whose observations the collector missed but the topic holds: "
                f"{miss['collector_missed']}",
                "",
                "| topic | partition | offset | readings | sensor | t | broker ts |",
                "|---|---|---|---|---|---|---|",
            ]
            md += [
                f"| {m['topic']} | {m['partition']} | {m['offset']} | {m['readings']} | "
                f"{m['sensor_id']} | {m['t']} | {m['broker_ts']} |"
                for m in miss["sample"]
            ]
            md.append("")
        prof = r.get("profile_worker0") or {}
        if prof.get("busy_share_by_area"):
            md += [
                f"Worker 0 CPU by area ({r.get('name')}, py-spy, idle share {prof['idle_share']}):",
                "",
                "| area | share of busy samples |",
                "|---|---|",
            ]
            md += [f"| {k} | {100 * v:.1f} % |" for k, v in prof["busy_share_by_area"].items()]
            md.append("")
            if prof.get("busy_share_inclusive"):
                md += [
                    "Own functions, inclusive of their callees (shares overlap):",
                    "",
                    "| function | share of busy samples |",
                    "|---|---|",
                ]
                md += [
                    f"| `{k}` | {100 * v:.1f} % |" for k, v in prof["busy_share_inclusive"].items()
                ]
                md.append("")
    path = RESULTS / f"e2e_{name}.md"
    path.write_text("\n".join(md))
    return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", choices=("tansu", "kafka"), default="tansu")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--partitions", type=int, default=2)
    p.add_argument("--rate", type=float, default=10_000.0, help="readings per second")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument(
        "--soak-minutes",
        type=float,
        default=0.0,
        help="run this many minutes instead of --duration (RSS soak)",
    )
    p.add_argument(
        "--sectors",
        type=int,
        default=16,
        help="sector polygons along the border (default: ~20 km each, the grid default)",
    )
    p.add_argument("--plots-per-scan", type=int, default=80)
    p.add_argument(
        "--reorder-window",
        type=float,
        default=2.0,
        help="BORDERFUSION_REORDER_WINDOW_S of the workers",
    )
    p.add_argument(
        "--bucket",
        type=float,
        default=None,
        help="BORDERFUSION_FUSION_BUCKET_S of the workers (fusion time bucket; default: theirs)",
    )
    p.add_argument(
        "--batch-within",
        type=float,
        help="BORDERFUSION_BATCH_WITHIN_S of the workers (take_events timeout, per hop)",
    )
    p.add_argument(
        "--compression",
        choices=("lz4", "gzip", "snappy", "zstd", "none"),
        help="BORDERFUSION_KAFKA_COMPRESSION of the workers (producer codec)",
    )
    p.add_argument(
        "--compression-level",
        help="BORDERFUSION_KAFKA_COMPRESSION_LEVEL of the workers (lz4/zstd/gzip level; "
        "'' for aiokafka's own: lz4 HC at 9)",
    )
    p.add_argument(
        "--checkpoint-interval",
        type=float,
        help="BORDERFUSION_CHECKPOINT_INTERVAL_S of the workers (fusion/alerts state writes)",
    )
    p.add_argument(
        "--sensor-idle",
        type=float,
        help="BORDERFUSION_FUSION_SENSOR_IDLE_S of the workers (0: reorder window only)",
    )
    p.add_argument(
        "--fetch-wait",
        type=float,
        help="BORDERFUSION_KAFKA_FETCH_MAX_WAIT_S of the workers (consumer fetch wait)",
    )
    p.add_argument(
        "--quiet-flush",
        type=float,
        help="BORDERFUSION_FUSION_QUIET_FLUSH_S of the workers (a sector quiet this long "
        "is released)",
    )
    p.add_argument(
        "--alerts-inline",
        choices=("true", "false"),
        help="BORDERFUSION_ALERTS_INLINE of the workers (true: the rules run in the fusion "
        "agent; false: the alerts agent reads `tracks`, one Kafka hop more)",
    )
    p.add_argument(
        "--gc-threshold",
        type=int,
        help="BORDERFUSION_GC_THRESHOLD of the workers (Python's first GC threshold; 0: "
        "Python's default 700)",
    )
    p.add_argument("--drain-timeout", type=float, default=120.0)
    p.add_argument(
        "--py-spy",
        type=float,
        default=0.0,
        metavar="S",
        help="profile worker 0 for S seconds during the load",
    )
    p.add_argument("--name", help="results file name (default: broker, workers, rate)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    name = args.name or f"{args.broker}_w{args.workers}_{int(args.rate)}"
    res = run(args)
    res["name"] = name
    path = write([res], name)
    print(table([res]))
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
