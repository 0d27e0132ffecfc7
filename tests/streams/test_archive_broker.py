"""The ``archive`` role through a real broker and real worker subprocesses (issue 7).

1. A live run (ingest + fusion + alerts + archive in one worker) is archived completely:
   every record of ``readings.*`` and ``alerts`` exactly as it sits on the topic, the
   archive verifies, and a window replay from the archive gives the live alert ids.
2. An archive worker SIGKILLed while readings flow (its open segment then given a torn
   tail) and restarted repairs the segment and keeps every reading exactly once
   (compared by topic/partition/offset and by content).
3. A flipped byte in one segment of that archive makes ``archive verify`` fail naming it.

Kafka's own records, read with ``assign()`` + ``seek`` (no group), are the reference.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sensors.push import KafkaPusher
from streams.archive.query import list_segments
from streams.archive.store import iter_segment, read_chain
from streams.replay_kafka import PROBE_SENSOR, push_paced, wait_until_consuming
from streams.settings import Settings
from streams.topics import ALERTS, READINGS, ensure_topics
from tests.kafka_utils import ROOT, TopicReader, start_worker, stop_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SEED, DURATION = 1, 120.0
WINDOW_S = 10.0  # reorder window; at SPEED× it tolerates WINDOW_S / SPEED s of topic skew
SPEED = 10.0
SEGMENT_S = "4"  # short segments: a run closes several, so verify hashes real segments

Key = tuple[str, int, int]  # (unprefixed topic, partition, offset)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sensors.simulate import build_scenario, write_scenario

    d = tmp_path_factory.mktemp("forest")
    sc = build_scenario(seed=SEED, duration=DURATION, layout="forest")
    write_scenario(sc, d)
    lines = [json.loads(ln) for ln in (d / "readings.jsonl").read_text().splitlines() if ln]
    assert len({ln["topic"] for ln in lines}) >= 3  # several readings topics, interleaved
    return {"dir": d, "start": sc.start, "lines": lines}


def _settings(bootstrap: str, prefix: str) -> Settings:
    s = Settings().with_overrides(kafka_bootstrap=bootstrap, topic_prefix=prefix, partitions=2)
    ensure_topics(s)
    return s


def _env(scen: Path, tmp: Path, archive: Path) -> dict[str, str]:
    return {
        "BORDERFUSION_SENSORS_FILE": str(scen / "sensors.yaml"),
        "BORDERFUSION_ZONES_FILE": str(scen / "zones.geojson"),
        "BORDERFUSION_REORDER_WINDOW_S": str(WINDOW_S),
        "BORDERFUSION_MAX_READING_AGE_S": "0",  # simulated event times are in the past
        "BORDERFUSION_DATA_DIR": str(tmp / "var"),
        "BORDERFUSION_ARCHIVE_DIR": str(archive),
        "BORDERFUSION_ARCHIVE_SEGMENT_S": SEGMENT_S,
    }


def _archived(root: Path) -> list[tuple[Key, str]]:
    """Every archived record (closed and open segments) as ((topic, p, o), value)."""
    out = []
    for seg in list_segments(root):
        for r in iter_segment(seg.path, seg.topic):
            value = r.value if isinstance(r.value, str) else r.value.decode("utf-8", "replace")
            out.append(((r.topic, r.partition, r.offset), value))
    return out


class Topics:
    """All records of some topics from the broker, keyed like the archive."""

    def __init__(self, bootstrap: str, prefix: str, names: tuple[str, ...]) -> None:
        self.readers = {n: TopicReader(bootstrap, prefix + n) for n in names}

    def poll(self) -> dict[Key, str]:
        out = {}
        for name, reader in self.readers.items():
            for m in reader.poll():
                out[(name, m.partition, m.offset)] = m.value.decode()
        return out

    def close(self) -> None:
        for r in self.readers.values():
            r.close()


def _wait_archived(root: Path, topics: Topics, timeout_s: float = 45.0) -> dict[Key, str]:
    """Until the archive holds exactly the broker's records (both stable): the reference."""
    deadline = time.monotonic() + timeout_s
    while True:
        expected = topics.poll()
        got = dict(_archived(root)) if root.exists() else {}
        if expected and got == expected:
            return expected
        if time.monotonic() > deadline:
            missing = sorted(set(expected) - set(got))[:5]
            extra = sorted(set(got) - set(expected))[:5]
            raise AssertionError(
                f"archive has {len(got)} records, broker {len(expected)}; "
                f"missing e.g. {missing}, unexpected e.g. {extra}"
            )
        time.sleep(0.5)


def _settle_alerts(reader: TopicReader, quiet_s: float, timeout_s: float = 60.0) -> None:
    """Read until at least one alert arrived and nothing new for ``quiet_s`` (the worker
    releases a quiet sector's last buckets ``WINDOW_S`` of wall time after the last input)."""
    deadline = time.monotonic() + timeout_s
    last, n = time.monotonic(), -1
    while time.monotonic() < deadline:
        count = len(reader.poll())
        if count != n:
            last, n = time.monotonic(), count
        if n > 0 and time.monotonic() - last > quiet_s:
            return
    raise AssertionError(f"alerts did not settle: {len(reader.records)} records")


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _readings_content(values: list[str]) -> Counter[str]:
    """Canonical JSON of each reading value, probes left out (a multiset)."""
    out: Counter[str] = Counter()
    for v in values:
        d = json.loads(v)
        if isinstance(d, dict) and d.get("sensor_id") == PROBE_SENSOR:
            continue
        out[json.dumps(d, sort_keys=True)] += 1
    return out


def _pushed_content(lines: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(ln["value"], sort_keys=True) for ln in lines)


# ------------------------------------------------------------------ 1. live run


def test_live_run_is_archived_verified_and_replays_to_the_live_alert_ids(
    kafka_bootstrap: str, topic_prefix: str, scenario: dict[str, Any], tmp_path: Path
) -> None:
    scen, archive = scenario["dir"], tmp_path / "archive"
    s = _settings(kafka_bootstrap, topic_prefix)
    env = _env(scen, tmp_path, archive)
    worker = start_worker(
        kafka_bootstrap,
        topic_prefix,
        env,
        ["ingest", "fusion", "alerts", "archive"],
        tmp_path / "worker.log",
    )
    pusher = KafkaPusher(kafka_bootstrap, topic_prefix)
    alerts = TopicReader(kafka_bootstrap, topic_prefix + ALERTS)
    topics = Topics(kafka_bootstrap, topic_prefix, (*READINGS, ALERTS))
    try:
        wait_until_consuming(s, pusher, worker, timeout_s=60)
        pushed = push_paced(pusher, scen / "readings.jsonl", SPEED)
        _settle_alerts(alerts, quiet_s=WINDOW_S + 4)
        reference = _wait_archived(archive, topics)
    finally:
        pusher.close()
        topics.close()
        stop_process(worker)
    assert worker.returncode == 0 or worker.returncode == -signal.SIGTERM

    # the archive holds every record of the topics, once, byte for byte
    stored = _archived(archive)
    assert len(stored) == len(reference) and dict(stored) == reference
    readings = [v for (t, _, _), v in stored if t in READINGS]
    assert pushed == len(scenario["lines"])
    assert _readings_content(readings) == _pushed_content(scenario["lines"])
    live_versions = [json.loads(v) for (t, _, _), v in stored if t == ALERTS]
    assert len(live_versions) == len(alerts.records) > 0
    live_ids = {json.loads(r.value)["alert_id"] for r in alerts.records}

    # a clean stop seals the open segments: verify covers every record
    ver = _cli("archive", "--archive", str(archive), "verify", "--json")
    assert ver.returncode == 0, ver.stdout + ver.stderr
    rep = json.loads(ver.stdout)
    assert rep["ok"] and rep["open_segments"] == [] and rep["segments"] >= 3
    chain_records = sum(
        e["records"]
        for t in (*READINGS, ALERTS)
        for e in read_chain(archive / t)[0]
        if e.get("type") == "segment"
    )
    assert chain_records == len(reference)

    # the window replay from the archive gives the ids the live agents produced
    t0, t1 = scenario["start"], scenario["start"] + DURATION
    rep_env = {"BORDERFUSION_REORDER_WINDOW_S": str(WINDOW_S)}
    run = _cli(
        "archive", "--archive", str(archive), "replay", "--from", str(t0 - 1), "--to",
        str(t1 + 1), "--speed", "max", "--sensors", str(scen / "sensors.yaml"), "--zones",
        str(scen / "zones.geojson"), "--out", str(tmp_path / "replayed"), env=rep_env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    replayed = {
        json.loads(ln)["alert_id"]
        for ln in (tmp_path / "replayed" / "alerts.jsonl").read_text().splitlines()
    }
    assert replayed == live_ids


# ------------------------------------------------------------------ 2./3. killed mid-write


def _tear_open_segment(root: Path) -> Path:
    """Append half a gzip member to an open readings segment, as a write cut short by the
    crash would leave it (a SIGKILL rarely lands inside ``write()``, so the test makes
    sure the repair path runs). The torn member claims the partition's next offset: a
    store that kept it would skip (lose) the real record at that offset."""
    for topic in READINGS:
        tdir = root / topic
        closed = max((e["seq"] for e in read_chain(tdir)[0] if "seq" in e), default=0)
        open_segs = [s for s in list_segments(root, [topic]) if s.seq > closed and s.records]
        if not open_segs:
            continue
        seg = open_segs[-1]
        last = list(iter_segment(seg.path, topic))[-1]
        line = json.dumps(
            {"p": last.partition, "o": last.offset + 1, "ts": last.ts, "k": None, "t": None,
             "v": "TORN"}
        )  # fmt: skip
        member = gzip.compress((line + "\n").encode() * 50, mtime=0)
        with open(seg.path, "ab") as fh:
            fh.write(member[: len(member) // 2])
        return seg.path
    raise AssertionError("no open readings segment after the kill")


@pytest.fixture(scope="module")
def killed_run(
    kafka_bootstrap: str, scenario: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """An archive-only worker SIGKILLed while readings flow, restarted, stopped cleanly."""
    tmp = tmp_path_factory.mktemp("killed")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    _settings(kafka_bootstrap, prefix)
    scen, archive = scenario["dir"], tmp / "archive"
    env = _env(scen, tmp, archive)
    lines = (scen / "readings.jsonl").read_text().splitlines()
    head, tail = tmp / "head.jsonl", tmp / "tail.jsonl"
    cut = len(lines) // 10
    head.write_text("\n".join(lines[:cut]) + "\n")
    tail.write_text("\n".join(lines[cut:]) + "\n")

    def worker() -> subprocess.Popen[bytes]:
        return start_worker(kafka_bootstrap, prefix, env, ["archive"], tmp / "worker.log")

    pusher = KafkaPusher(kafka_bootstrap, prefix)
    topics = Topics(kafka_bootstrap, prefix, READINGS)
    proc = worker()
    kills = []
    try:
        push_paced(pusher, head, 0)
        deadline = time.monotonic() + 60
        while not (archive.exists() and _archived(archive)):  # the archiver is consuming
            assert time.monotonic() < deadline, "the archive worker stored nothing in 60 s"
            assert proc.poll() is None, (tmp / "worker.log").read_text()[-2000:]
            time.sleep(0.3)
        flow = threading.Thread(target=push_paced, args=(pusher, tail, SPEED / 1.5))
        flow.start()
        while flow.is_alive() and len(_archived(archive)) < len(lines) * 0.4:
            time.sleep(0.05)
        stored_before = len(_archived(archive))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        kills.append((stored_before, flow.is_alive()))
        torn = _tear_open_segment(archive)
        proc = worker()
        flow.join(60)
        reference = _wait_archived(archive, topics, timeout_s=60)
    finally:
        pusher.close()
        topics.close()
        stop_process(proc)
    log = (tmp / "worker.log").read_text()
    return {
        "archive": archive,
        "reference": reference,
        "kills": kills,
        "torn": torn,
        "log": log,
        "tmp": tmp,
    }


def test_archive_worker_killed_mid_write_keeps_each_reading_exactly_once(
    killed_run: dict[str, Any], scenario: dict[str, Any]
) -> None:
    stored_before, still_flowing = killed_run["kills"][0]
    assert still_flowing and 0 < stored_before < len(scenario["lines"])  # killed mid-stream
    stored = _archived(killed_run["archive"])
    keys = [k for k, _ in stored]
    assert len(keys) == len(set(keys)), "a record is archived twice"
    assert dict(stored) == killed_run["reference"]  # none lost, content byte for byte
    assert _readings_content([v for _, v in stored]) == _pushed_content(scenario["lines"])
    # the restarted worker cut the torn tail off (kept in quarantine) before resuming
    torn = killed_run["torn"]
    assert f"{torn}: cut " in killed_run["log"] and "(torn)" in killed_run["log"]
    quarantined = list((killed_run["archive"] / "quarantine").rglob(f"{torn.name}.*.torn"))
    assert len(quarantined) == 1 and quarantined[0].stat().st_size > 0
    ver = _cli("archive", "--archive", str(killed_run["archive"]), "verify", "--json")
    assert ver.returncode == 0, ver.stdout + ver.stderr
    rep = json.loads(ver.stdout)
    assert rep["ok"] and rep["open_segments"] == [] and rep["segments"] > 0


def test_flipped_byte_in_a_segment_fails_verify_naming_it(
    killed_run: dict[str, Any], tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(killed_run["archive"], archive)
    entries = [e for e in read_chain(archive / "readings.radar")[0] if e.get("type") == "segment"]
    victim = entries[len(entries) // 2]
    path = archive / "readings.radar" / victim["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    ver = _cli("archive", "--archive", str(archive), "verify")
    assert ver.returncode == 1, ver.stdout + ver.stderr
    first = ver.stdout.splitlines()[0]
    assert first.startswith("ARCHIVE NOT INTACT: first problem: altered: ")
    assert f"readings.radar/{victim['path']} (seq {victim['seq']})" in first
