"""The ingest core without a broker: Kafka unreachable, so accepted readings land in the
spool, where the test reads them back exactly as the drainer would send them."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from sensors.gateway.auth import Credential
from sensors.gateway.core import GatewayMetrics, IngestCore
from sensors.gateway.forward import Forwarder
from sensors.gateway.spool import Spool
from sensors.registry import SensorRegistry
from streams import metrics

SENSORS = {
    "sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 23.6},
        {"id": "R2", "type": "radar", "lat": 51.6, "lon": 23.7},
        {"id": "T1", "type": "thermal", "lat": 51.5, "lon": 23.6},
        {"id": "A1", "type": "ais", "lat": 51.5, "lon": 23.6},
    ]
}
EVERYONE = Credential("test-all", None)


def unreachable():  # the Kafka link factory when the broker is down
    raise ConnectionRefusedError("kafka down")


def _core(tmp_path, **kw) -> IngestCore:
    fwd = Forwarder(Spool.open(tmp_path / "spool"), unreachable, retry_s=60.0)
    return IngestCore(SensorRegistry.from_dict(SENSORS), fwd, **kw)


def _spooled(core: IngestCore) -> list:
    return [r for r, _ in core.forwarder.spool.peek(10_000)]


def _radar(sid: str = "R1", **kw) -> dict:
    return {"sensor_id": sid, "t": time.time(), "range_m": 1200.0, "bearing_deg": 45.0, **kw}


def test_mixed_batch_accepts_good_explains_bad_and_dead_letters(tmp_path) -> None:
    core = _core(tmp_path)
    batch = [
        _radar(),
        _radar(bearing_deg=400.0),
        _radar("T1"),
        _radar("R9"),
        "junk",
        _radar("R2"),
        {"sensor_id": "R1", "t": time.time(), "range_m": 5.0},
    ]
    result = core.ingest("radar", batch, EVERYONE)
    assert result.accepted == [0, 5]
    assert result.spooled == 2  # Kafka is down: both accepted readings are on disk
    got = {(r["index"], r["field"], r["reason"]) for r in result.rejected}
    assert got == {
        (1, "bearing_deg", "out_of_range"),
        (2, "sensor_id", "wrong_sensor_type"),
        (3, "sensor_id", "unknown_sensor"),
        (4, "reading", "wrong_type"),
        (6, "bearing_deg", "missing"),
    }
    records = _spooled(core)
    readings = [r for r in records if r.topic == "readings.radar"]
    assert [(r.key, r.value["sensor_id"]) for r in readings] == [("R1", "R1"), ("R2", "R2")]
    dead = [r.value for r in records if r.topic == "deadletter"]
    assert [d["index"] for d in dead] == [1, 2, 3, 4, 6]
    for d in dead:
        assert {"source", "reason", "raw", "t", "field", "message", "index"} <= set(d)
        assert d["source"] == "gateway/http"
    assert dead[0]["sensor_id"] == "R1" and '"bearing_deg": 400.0' in dead[0]["raw"]
    assert all(r.key == "readings.radar" for r in records if r.topic == "deadletter")


def test_token_bound_to_sensors_refuses_others_per_record(tmp_path) -> None:
    core = _core(tmp_path)
    cred = Credential("post3", frozenset({"R1"}))
    result = core.ingest("radar", [_radar("R1"), _radar("R2")], cred)
    assert result.accepted == [0]
    assert result.rejected == [
        {
            "index": 1,
            "field": "sensor_id",
            "reason": "not_authorised",
            "message": "this credential may not report for sensor 'R2'",
        }
    ]


def test_one_kafka_record_per_sensor_keeps_order(tmp_path) -> None:
    core = _core(tmp_path)
    batch = [
        _radar("R1", range_m=float(i)) if i % 2 == 0 else _radar("R2", range_m=float(i))
        for i in range(6)
    ]
    result = core.ingest("radar", batch, EVERYONE)
    assert len(result.accepted) == 6 and result.spooled == 6
    records = _spooled(core)
    assert [r.key for r in records] == ["R1", "R2"]
    assert [x["range_m"] for x in records[0].value] == [0.0, 2.0, 4.0]
    assert [x["range_m"] for x in records[1].value] == [1.0, 3.0, 5.0]


def test_ais_lines_need_framed_sentences(tmp_path, shared_data) -> None:
    core = _core(tmp_path)
    good = (shared_data / "ais/libais/tagblock.nmea").read_text().splitlines()[1]
    lines = [
        good,
        "foobar",
        "$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6D",
        "!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*24",
    ]
    readings = [{"sensor_id": "A1", "station_id": "A1", "t": time.time(), "nmea": x} for x in lines]
    result = core.ingest("ais", readings, EVERYONE)
    assert result.accepted == [0]
    assert [(r["index"], r["reason"]) for r in result.rejected] == [
        (1, "not_ais"),
        (2, "not_ais"),
        (3, "checksum"),
    ]


def test_counters_per_sensor_type_and_reason(tmp_path) -> None:
    m = GatewayMetrics(
        accepted=metrics.READINGS_ACCEPTED,
        rejected=metrics.READINGS_REJECTED,
        spooled=metrics.READINGS_SPOOLED,
        latency=metrics.INGEST_LATENCY,
    )
    core = _core(tmp_path, metrics=m)

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    def counts() -> tuple[float, float, float]:
        return (
            value("borderfusion_readings_accepted_total", sensor_id="R2", sensor_type="radar"),
            value(
                "borderfusion_readings_rejected_total",
                sensor_id="unknown",
                sensor_type="radar",
                reason="unknown_sensor",
            ),
            value("borderfusion_readings_spooled_total", sensor_id="R2", sensor_type="radar"),
        )

    before = counts()
    core.ingest("radar", [_radar("R2"), _radar("R2"), _radar("ZZ")], EVERYONE)
    after = counts()
    assert [a - b for a, b in zip(after, before, strict=True)] == [2.0, 1.0, 2.0]


def test_unknown_kind_is_a_programming_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="sonar"):
        _core(tmp_path).ingest("sonar", [], EVERYONE)
