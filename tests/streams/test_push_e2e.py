"""The first end-to-end path through a real broker: push → ingest agent → observations.

A good reading is validated, geo-referenced with the registry and lands on
``observations`` keyed by its sector; bad lines and bad readings land on ``deadletter``
with reasons, and the run carries on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kafka_utils import ROOT, TopicReader, flatten, start_worker, stop_process

pytestmark = pytest.mark.broker

SENSORS = """\
sensors:
  - {id: R1, type: radar, lat: 51.50, lon: 30.50, height_m: 20, max_range_m: 20000,
     sigma_range_m: 10, sigma_bearing_deg: 0.5, scan_period_s: 1}
  - {id: C1, type: thermal, lat: 51.51, lon: 30.52, height_m: 15, heading_deg: 90,
     fov_deg: 30, max_range_m: 3000, sigma_bearing_deg: 0.3}
  - {id: S1, type: seismic, lat: 51.52, lon: 30.55, height_m: 0, radius_m: 50}
"""


def test_push_reaches_observations_and_bad_input_is_deadlettered(
        kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    (tmp_path / "sensors.yaml").write_text(SENSORS)
    now = time.time()
    lines = [
        {"topic": "readings.radar",
         "value": {"sensor_id": "R1", "t": now, "range_m": 1000.0, "bearing_deg": 90.0}},
        "this line is not JSON",
        {"topic": "readings.radar",
         "value": {"sensor_id": "R1", "t": now, "range_m": "far", "bearing_deg": 45}},
        {"topic": "readings.thermal",
         "value": {"sensor_id": "C1", "t": now + 0.5, "bearing_deg": 92, "range_m": 800,
                   "class": "person", "confidence": 0.8}},
        {"topic": "readings.radar",
         "value": {"sensor_id": "NOPE", "t": now, "range_m": 1000, "bearing_deg": 1}},
    ]
    readings = tmp_path / "readings.jsonl"
    readings.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))

    worker = start_worker(kafka_bootstrap, topic_prefix,
                          {"BORDERFUSION_SENSORS_FILE": str(tmp_path / "sensors.yaml"),
                           "BORDERFUSION_DATA_DIR": str(tmp_path / "var")},
                          ["ingest"], tmp_path / "worker.log")
    try:
        push = subprocess.run(
            [sys.executable, "-m", "streams.cli", "push", str(readings), "--bootstrap",
             kafka_bootstrap, "--topic-prefix", topic_prefix],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert push.returncode == 0, push.stderr
        summary = json.loads(push.stderr.strip().splitlines()[-1])
        assert summary["sent"] == 4 and summary["rejected_by_reason"] == {"malformed_json": 1}
        assert "line 2: not JSON" in push.stderr

        obs_reader = TopicReader(kafka_bootstrap, topic_prefix + "observations")
        dl_reader = TopicReader(kafka_bootstrap, topic_prefix + "deadletter")
        obs = flatten(obs_reader.wait_for(
            lambda v: {o["sensor_id"] for o in flatten(v)} >= {"R1", "C1"}, timeout_s=90))
        dead = dl_reader.wait_for(lambda v: len(v) >= 3, timeout_s=60)
    finally:
        stop_process(worker)

    radar = next(o for o in obs if o["sensor_id"] == "R1" and not o["attrs"].get("halo"))
    # 1000 m due east of the radar: latitude unchanged, longitude + 1000 m / (R cos φ)
    assert radar["lat"] == pytest.approx(51.50, abs=1e-4)
    assert radar["lon"] == pytest.approx(30.50 + 1000 / (6_391_000 * 0.6225) * 57.2958, abs=2e-4)
    assert radar["cov_en"][0][0] == pytest.approx(100.0, rel=0.05)  # σ_range² along east
    record = next(r for r in obs_reader.records
                  if any(o["obs_id"] == radar["obs_id"] for o in json.loads(r.value)))
    assert record.key.decode() == radar["sector"]
    reasons = {(d["source"], d["reason"], d.get("field")) for d in dead}
    assert ("push", "malformed_json", None) in reasons
    assert ("readings.radar", "wrong_type", "range_m") in reasons
    assert ("readings.radar", "unknown_sensor", "sensor_id") in reasons
