"""Metric label sets stay bounded whatever the input (issue #9: flat memory)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from sensors.registry import SensorRegistry
from streams.metrics import sensor_label


def test_refused_readings_with_invented_sensor_ids_share_one_series(tmp_path) -> None:
    (tmp_path / "sensors.yaml").write_text(
        "sensors:\n  - {id: R1, type: radar, lat: 51.5, lon: 30.5}\n")
    registry = SensorRegistry.load(tmp_path / "sensors.yaml")
    reg = CollectorRegistry()
    rejected = Counter("rejected", "test", ["sensor_id", "sensor_type", "reason"], registry=reg)
    for k in range(500):  # e.g. a misconfigured source sending garbage ids
        rejected.labels(sensor_label(f"junk-{k}", registry), "radar", "unknown_sensor").inc()
    rejected.labels(sensor_label("R1", registry), "radar", "out_of_range").inc()
    rejected.labels(sensor_label(None, registry), "radar", "malformed").inc()
    series = {s.labels["sensor_id"] for m in reg.collect() for s in m.samples
              if s.name == "rejected_total"}
    assert series == {"unknown", "R1"}
    assert reg.get_sample_value("rejected_total", {"sensor_id": "unknown", "sensor_type": "radar",
                                                   "reason": "unknown_sensor"}) == 500
