"""The gateway against a real broker: refusals, mixed batches, Kafka outages, restarts."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from sensors.gateway.auth import hash_token
from sensors.gateway.service import Gateway, GatewayConfig
from streams.broker import EmbeddedBroker, free_port
from streams.settings import Settings
from streams.topics import ensure_topics

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

SENSORS = {
    "sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 23.6},
        {"id": "T1", "type": "thermal", "lat": 51.5, "lon": 23.6},
    ]
}
TOKENS = {"tokens": [{"name": "post", "token_sha256": hash_token("tok"), "sensors": ["*"]}]}


def _config(tmp_path: Path, bootstrap: str, prefix: str, spool: str = "spool") -> GatewayConfig:
    (tmp_path / "sensors.yaml").write_text(yaml.safe_dump(SENSORS))
    (tmp_path / "tokens.yaml").write_text(yaml.safe_dump(TOKENS))
    return GatewayConfig(
        bootstrap=bootstrap,
        topic_prefix=prefix,
        spool_dir=tmp_path / spool,
        sensors_file=tmp_path / "sensors.yaml",
        tokens_file=tmp_path / "tokens.yaml",
        port=0,
        send_timeout_s=2.0,
    )


def _topics(bootstrap: str, prefix: str) -> None:
    ensure_topics(Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, partitions=2))


def _post(url: str, readings: list, token: str = "tok") -> tuple[int, dict]:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in readings)
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _consume(bootstrap: str, topic: str, n: int, timeout_s: float = 20.0) -> list:
    """Every value on ``topic`` (arrays flattened), in partition order, until ``n`` seen."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        parts = None
        while not parts and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        assert parts, f"topic {topic} not found"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list = []
        while len(out) < n and time.monotonic() < deadline:
            for _tp, msgs in sorted(consumer.poll(300).items()):
                for m in msgs:
                    value = json.loads(m.value)
                    out.extend(value if isinstance(value, list) else [value])
        return out
    finally:
        consumer.close()


def _radar(seq: int, sid: str = "R1", **kw) -> dict:
    return {
        "sensor_id": sid,
        "t": time.time(),
        "range_m": 100.0 + seq,
        "bearing_deg": 5.0,
        "seq": seq,
        **kw,
    }


def test_bad_token_refused_and_mixed_batch_split(tmp_path, kafka_bootstrap, topic_prefix) -> None:
    _topics(kafka_bootstrap, topic_prefix)
    with Gateway(_config(tmp_path, kafka_bootstrap, topic_prefix)) as gw:
        url = f"{gw.url}/ingest/radar"
        assert _post(url, [_radar(0)], token="stolen?")[0] == 401
        status, body = _post(
            url,
            [
                _radar(1),
                _radar(2, bearing_deg=-3.0),
                _radar(3),
                _radar(4, "T1"),
                {"sensor_id": "R1"},
            ],
        )
        assert status == 200
        assert body["accepted"] == 2 and body["spooled"] == 0  # acked by Kafka
        assert [(r["index"], r["field"], r["reason"]) for r in body["rejected"]] == [
            (1, "bearing_deg", "out_of_range"),
            (3, "sensor_id", "wrong_sensor_type"),
            (4, "t", "missing"),
        ]
    readings = _consume(kafka_bootstrap, topic_prefix + "readings.radar", 2)
    assert [r["seq"] for r in readings] == [1, 3]  # the refused token's reading is absent
    dead = _consume(kafka_bootstrap, topic_prefix + "deadletter", 3)
    assert sorted((d["index"], d["field"], d["reason"]) for d in dead) == [
        (1, "bearing_deg", "out_of_range"),
        (3, "sensor_id", "wrong_sensor_type"),
        (4, "t", "missing"),
    ]
    assert all(d["source"] == "gateway/http" and d["raw"] and d["t"] > 0 for d in dead)


def _port_is_free_reuseaddr(host: str, port: int) -> bool:
    """Like ``streams.broker.port_is_free`` but with SO_REUSEADDR, as Tansu binds: after a
    stop, the old connections' TIME_WAIT entries must not block a restart on that port."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def test_readings_pushed_while_broker_is_down_arrive_in_order(
    tmp_path, topic_prefix, monkeypatch
) -> None:
    monkeypatch.setattr("streams.broker.port_is_free", _port_is_free_reuseaddr)
    port = free_port()
    broker = EmbeddedBroker(port=port).start()
    try:
        _topics(broker.bootstrap, topic_prefix)
        with Gateway(_config(tmp_path, broker.bootstrap, topic_prefix)) as gw:
            url = f"{gw.url}/ingest/radar"
            status, body = _post(url, [_radar(0)])
            assert (status, body["spooled"]) == (200, 0)
            broker.stop(grace_s=0.2)  # Kafka vanishes (killed, not drained)
            seq = 1
            for _ in range(5):  # five requests while the broker is gone
                status, body = _post(url, [_radar(seq + i) for i in range(10)])
                assert status == 200 and body["accepted"] == 10 and body["spooled"] == 10
                seq += 10
            assert gw.spool.depth == 50
            assert gw.health()["kafka"] is False
            broker = EmbeddedBroker(port=port).start()  # Tansu forgets everything...
            _topics(broker.bootstrap, topic_prefix)  # ...so the topics come back first
            assert gw.forwarder.wait_drained(20.0), f"spool still {gw.spool.depth}"
            status, body = _post(url, [_radar(seq)])
            assert (status, body["spooled"]) == (200, 0)
        got = [
            r["seq"]
            for r in _consume(broker.bootstrap, topic_prefix + "readings.radar", 51, timeout_s=15)
        ]
        assert got == list(range(1, 52))  # complete, in order, no duplicates here
    finally:
        broker.stop()


def test_gateway_restart_delivers_its_spool(tmp_path, kafka_bootstrap, topic_prefix) -> None:
    _topics(kafka_bootstrap, topic_prefix)
    nowhere = f"127.0.0.1:{free_port()}"  # no broker listens here
    with Gateway(_config(tmp_path, nowhere, topic_prefix)) as gw:
        status, body = _post(f"{gw.url}/ingest/radar", [_radar(i) for i in range(20)])
        assert status == 200 and body["spooled"] == 20
    with Gateway(_config(tmp_path, kafka_bootstrap, topic_prefix)) as gw2:
        assert gw2.forwarder.wait_drained(20.0)
    got = [r["seq"] for r in _consume(kafka_bootstrap, topic_prefix + "readings.radar", 20)]
    assert got == list(range(20))
