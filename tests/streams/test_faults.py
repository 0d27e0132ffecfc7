"""Faults at small scale on a real broker: poison on every topic, a flooding sensor, and a
broker outage behind the gateway's spool — nothing lost, nothing crashes.

(Worker SIGKILL + restart is ``scripts/chaos.py``'s scenario 1 at full scale.)
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaProducer

from sensors.gateway.auth import hash_token
from tests.kafka_utils import (
    ROOT,
    LenientReader,
    SupervisedWorker,
    TopicReader,
    flatten,
    start_worker,
    stop_process,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(240)]

SENSORS = {
    "sensors": [
        {
            "id": "R1",
            "type": "radar",
            "lat": 51.50,
            "lon": 30.50,
            "height_m": 20,
            "max_range_m": 20000,
            "sigma_range_m": 10,
            "sigma_bearing_deg": 0.5,
            "scan_period_s": 1,
        },
        {
            "id": "R2",
            "type": "radar",
            "lat": 51.51,
            "lon": 30.52,
            "height_m": 20,
            "max_range_m": 20000,
            "scan_period_s": 1,
        },
        {
            "id": "T1",
            "type": "thermal",
            "lat": 51.51,
            "lon": 30.52,
            "height_m": 15,
            "heading_deg": 90,
            "fov_deg": 30,
            "max_range_m": 3000,
        },
        {"id": "A1", "type": "ais", "lat": 51.50, "lon": 30.50},
    ]
}


def _updates(values: list[Any]) -> list[dict[str, Any]]:
    return [
        u
        for u in flatten(values)
        if isinstance(u, dict) and "status" in u and isinstance(u.get("t"), (int, float))
    ]


def _registry(tmp_path: Path) -> Path:
    path = tmp_path / "sensors.yaml"
    path.write_text(yaml.safe_dump(SENSORS))
    return path


def _target(now: float, n: int, sid: str = "R1") -> list[dict[str, Any]]:
    """A boat moving east at 5 m/s, 2 km east of R1, one plot per second."""
    return [
        {"sensor_id": sid, "t": now + i, "range_m": 2000.0 + 5.0 * i, "bearing_deg": 90.0, "seq": i}
        for i in range(n)
    ]


# (topic, raw value, expected dead-letter reason(s)) — each tagged so it can be found
def poison_records(now: float) -> list[tuple[str, bytes, set[str]]]:
    big = "x" * 600_000
    r = {"sensor_id": "R1", "t": now, "range_m": 1000.0, "bearing_deg": 10.0}
    obs = {
        "obs_id": "p",
        "sensor_id": "R1",
        "kind": "radar",
        "t": now,
        "lat": 51.5,
        "lon": 30.5,
        "cov_en": [[1, 0], [0, 1]],
        "attrs": {},
        "sector": "g0_0",
    }

    def dumps(v: Any) -> bytes:
        return json.dumps(v).encode()

    return [
        ("readings.radar", b'{"sensor_id":"R1","t":', {"malformed_json"}),
        ("readings.radar", dumps({**r, "range_m": "far"}), {"wrong_type"}),
        ("readings.radar", dumps({**r, "note": big}), {"unknown_field", "too_large"}),
        (
            "readings.radar",
            b'{"sensor_id":"R1","t":%f,"range_m":NaN,"bearing_deg":1}' % now,
            {"not_finite"},
        ),
        (
            "readings.radar",
            b'{"sensor_id":"R1","t":%f,"range_m":Infinity,"bearing_deg":1}' % now,
            {"not_finite", "out_of_range"},
        ),
        ("readings.radar", dumps({**r, "t": now + 86_400}), {"in_future"}),
        ("readings.radar", dumps({**r, "t": 86_400.0}), {"too_old"}),
        ("readings.radar", dumps({**r, "sensor_id": "NOPE"}), {"unknown_sensor"}),
        (
            "readings.thermal",
            dumps({"sensor_id": "T1", "t": now, "bearing_deg": 1, "class": "ufo", "confidence": 2}),
            {"bad_value", "out_of_range"},
        ),
        (
            "readings.seismic",
            dumps({"sensor_id": "S9", "t": now, "rate_hz": 100, "samples": [1, "x"]}),
            {"wrong_type", "unknown_sensor"},
        ),
        (
            "readings.ais",
            dumps({"sensor_id": "A1", "t": now, "nmea": "!AIVDM,1,1,,A,13u?,0*00"}),
            {"checksum", "bad_checksum", "malformed", "not_ais", "bad_payload"},
        ),
        ("readings.ais", b"\xff\xfe\x00garbage", {"malformed_json"}),
        ("observations", b'[{"obs_id":', {"malformed"}),
        ("observations", dumps([{**obs, "lat": "north"}]), {"malformed"}),
        ("observations", dumps([{k: v for k, v in obs.items() if k != "t"}]), {"malformed"}),
        ("tracks", b'[{"track_id":', {"internal_error", "malformed"}),
        ("tracks", dumps([{"track_id": 7}]), {"internal_error", "malformed"}),
        ("alerts.acks", b'{"alert_id":', {"malformed"}),
        ("alerts.acks", dumps({"alert_id": "no-sector-here", "action": "ack"}), {"malformed"}),
        ("alerts.acks", dumps({"action": "ack"}), {"malformed"}),
    ]


def test_poison_on_every_topic_is_deadlettered_and_good_records_flow(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = {
        "BORDERFUSION_SENSORS_FILE": str(_registry(tmp_path)),
        "BORDERFUSION_DATA_DIR": str(tmp_path / "var"),
        # the alerts agent reads `tracks`, as in a deployment with separate alerts workers
        # (with the rules inline in the fusion agent no pipeline agent reads `tracks`)
        "BORDERFUSION_ALERTS_INLINE": "false",
    }
    worker = start_worker(
        kafka_bootstrap, topic_prefix, env, ["ingest", "fusion", "alerts"], tmp_path / "worker.log"
    )
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=1_000_000)
    try:
        now = time.time() - 60
        poison = poison_records(now)
        # interleave: good plots, all the poison, good plots — the worker must not stall
        for g in _target(now, 20)[:10]:
            producer.send(topic_prefix + "readings.radar", key=b"R1", value=json.dumps(g).encode())
        for topic, value, _ in poison:
            producer.send(topic_prefix + topic, key=b"R1", value=value)
        for g in _target(now, 20)[10:]:
            producer.send(topic_prefix + "readings.radar", key=b"R1", value=json.dumps(g).encode())
        producer.flush(30)

        dl = TopicReader(kafka_bootstrap, topic_prefix + "deadletter")
        dead = dl.wait_for(lambda v: len(v) >= len(poison), timeout_s=120)
        tracks = LenientReader(kafka_bootstrap, topic_prefix + "tracks")
        updates = _updates(
            tracks.wait_for(
                lambda v: any(
                    u["status"] == "confirmed" and u["t"] >= now + 15 for u in _updates(v)
                ),
                timeout_s=120,
            )
        )
    finally:
        producer.close()
        stop_process(worker)
        log = (tmp_path / "worker.log").read_text(errors="replace")

    by_source: dict[str, list[str]] = {}
    for d in dead:
        assert d["reason"] and "raw" in d and d["t"] > 0, d
        by_source.setdefault(d["source"], []).append(d["reason"])
    for topic, _, reasons in poison:
        got = by_source.get(topic, [])
        hit = next((r for r in got if r in reasons), None)
        assert hit is not None, f"{topic}: expected one of {reasons}, dead letters {by_source}"
        got.remove(hit)
    confirmed = [u for u in updates if u["status"] == "confirmed"]
    assert confirmed and all(math.isfinite(u["lat"]) and math.isfinite(u["lon"]) for u in updates)
    assert "Traceback" not in log or "ingest failed" not in log  # no crashed agent
    assert worker.returncode in (0, -15, 143), log[-3000:]


# ------------------------------------------------------------------ gateway-level faults


def _gateway(tmp_path: Path, bootstrap: str, prefix: str) -> tuple[subprocess.Popen, str]:
    from streams.broker import _die_with_parent, free_port

    tokens = {
        "tokens": [
            {
                "name": "post",
                "token_sha256": hash_token("tok"),
                "sensors": ["*"],
                "rate_per_s": 1000,
                "burst": 1000,
            }
        ]
    }
    (tmp_path / "tokens.yaml").write_text(yaml.safe_dump(tokens))
    (tmp_path / "tokens.yaml").chmod(0o600)
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "streams.cli",
        "gateway",
        "--port",
        str(port),
        "--tokens",
        str(tmp_path / "tokens.yaml"),
        "--spool",
        str(tmp_path / "spool"),
        "--sensors",
        str(_registry(tmp_path)),
        "--bootstrap",
        bootstrap,
        "--topic-prefix",
        prefix,
    ]
    out = open(tmp_path / "gateway.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
    )
    out.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)
    stop_process(proc)
    raise AssertionError("gateway did not start: " + (tmp_path / "gateway.log").read_text())


def post(url: str, kind: str, readings: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in readings)
    req = urllib.request.Request(
        f"{url}/ingest/{kind}", data=body, method="POST", headers={"Authorization": "Bearer tok"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_flooding_sensor_is_rate_limited_without_starving_others(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    from streams.settings import Settings
    from streams.topics import ensure_topics

    ensure_topics(
        Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=2)
    )
    gw, url = _gateway(tmp_path, kafka_bootstrap, topic_prefix)
    try:
        # default budget: 3 x 20 plots/s per 1 s scan, burst 2 s. R1 floods at 10x that
        # (600 plots/s) for 5 s; R2 sends a normal 10 plots/s in the same requests.
        t0 = time.time()
        sent = {"R1": 0, "R2": 0}
        accepted = {"R1": 0, "R2": 0}
        limited = 0
        for step in range(25):
            batch = [
                {"sensor_id": "R1", "t": t0 + step * 0.2, "range_m": 900.0 + i, "bearing_deg": 5.0}
                for i in range(120)
            ]
            batch += [
                {
                    "sensor_id": "R2",
                    "t": t0 + step * 0.2,
                    "range_m": 500.0 + step,
                    "bearing_deg": 8.0,
                    "seq": step,
                    "sigma_range_m": 1.0 * (i + 1),
                }
                for i in range(2)
            ]
            status, body = post(url, "radar", batch)
            assert status == 200, body
            sent["R1"] += 120
            sent["R2"] += 2
            rejected = {r["index"] for r in body["rejected"]}
            assert {r["reason"] for r in body["rejected"]} <= {"rate_limited"}
            assert not rejected & {120, 121}, "the quiet sensor was refused"
            limited += len(rejected)
            accepted["R1"] += 120 - len(rejected)
            accepted["R2"] += 2
            time.sleep(max(0.0, t0 + (step + 1) * 0.2 - time.time()))
        elapsed = time.time() - t0
        # once the flood's dead-letter budget has room again, the next request (anyone's)
        # writes the summary of the refusals held past it
        time.sleep(0.5)
        status, body = post(url, "radar", [{"sensor_id": "R2", "t": time.time(),
                                            "range_m": 700.0, "bearing_deg": 9.0}])
        assert status == 200 and body["accepted"] == 1, body
        sent["R2"] += 1
        accepted["R2"] += 1
    finally:
        stop_process(gw)
    assert accepted["R2"] == sent["R2"]
    # R1 got roughly its budget: burst + rate x elapsed, far below what it sent
    assert accepted["R1"] <= 120 + 60 * elapsed + 60, accepted
    assert accepted["R1"] >= 60 * elapsed * 0.5, accepted
    dl = TopicReader(kafka_bootstrap, topic_prefix + "deadletter")
    dead = dl.wait_for(lambda v: sum(d["count"] for d in v) >= limited, timeout_s=60)
    flood = [d for d in dead if d["reason"] == "rate_limited" and d["sensor_id"] == "R1"]
    # every refusal accounted for, in a few records (5/s after a burst of 20), not one each
    assert sum(d["count"] for d in flood) == limited == sum(d["count"] for d in dead)
    assert len(flood) <= 20 + 5 * (elapsed + 1) + 1 < limited, (len(flood), limited)
    readings = TopicReader(kafka_bootstrap, topic_prefix + "readings.radar")
    got = flatten(
        readings.wait_for(
            lambda v: len(flatten(v)) >= accepted["R1"] + accepted["R2"], timeout_s=60
        )
    )
    assert sum(r["sensor_id"] == "R2" for r in got) == sent["R2"]


def test_broker_outage_is_spooled_and_delivered_in_order_to_a_live_worker(
    topic_prefix: str, tmp_path: Path, broker_kind: str
) -> None:
    """Stop the broker under load: the gateway spools; on restart the spool drains in
    order and the worker processes it — restarted by its supervisor if it exited or its
    liveness probe says it stalled (``SupervisedWorker``, as Kubernetes would)."""
    from tests.fault_broker import RestartableBroker

    with RestartableBroker(broker_kind, tmp_path / "broker") as broker:
        broker.create_topics(topic_prefix)
        env = {
            "BORDERFUSION_SENSORS_FILE": str(_registry(tmp_path)),
            "BORDERFUSION_DATA_DIR": str(tmp_path / "var"),
            "BORDERFUSION_STALL_S": "30",  # its liveness probe, as the supervisor reads it
        }
        worker = SupervisedWorker(
            broker.bootstrap, topic_prefix, env, ["ingest"], tmp_path / "worker.log"
        )
        gw, url = _gateway(tmp_path, broker.bootstrap, topic_prefix)
        try:
            now = time.time()
            plots = _target(now, 60)
            obs = TopicReader(broker.bootstrap, topic_prefix + "observations")
            for i in range(0, 20, 5):
                status, body = post(url, "radar", plots[i : i + 5])
                assert status == 200 and body["spooled"] == 0, body
            obs.wait_for(lambda v: len(flatten(v)) >= 5, timeout_s=90, tick=worker.check)
            broker.stop()
            spooled = 0
            for i in range(20, 45, 5):  # 5 requests over ~8 s while the broker is gone
                status, body = post(url, "radar", plots[i : i + 5])
                assert status == 200 and body["accepted"] == 5, body
                spooled += body["spooled"]
                time.sleep(1.0)
            assert spooled == 25, "readings sent during the outage were not spooled"
            broker.start()
            broker.create_topics(topic_prefix)  # Tansu forgets them; Kafka keeps them
            for i in range(45, 60, 5):
                status, body = post(url, "radar", plots[i : i + 5])
                assert status == 200 and body["accepted"] == 5, body
            rd = TopicReader(broker.bootstrap, topic_prefix + "readings.radar")
            got = flatten(
                rd.wait_for(
                    lambda v: {r["seq"] for r in flatten(v)} >= set(range(20, 60)),
                    timeout_s=120,
                    tick=worker.check,
                )
            )
            seqs = [r["seq"] for r in got if r["seq"] >= 20]
            assert seqs == list(range(20, 60)), "spool drained out of order or twice"
            obs2 = TopicReader(broker.bootstrap, topic_prefix + "observations")
            try:
                obs2.wait_for(
                    lambda v: (
                        sum(1 for o in flatten(v) if o["sensor_id"] == "R1" and o["t"] >= now + 20)
                        >= 20
                    ),
                    timeout_s=150,
                    tick=worker.check,  # restarted whenever it exits, as by its supervisor
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{worker.report()}") from None
        finally:
            stop_process(gw)
            worker.stop()
