"""The end-to-end benchmark's loss accounting, against a real broker.

``benchmarks/e2e_bench.py`` reports a run's shortfall (readings the broker holds that no
observation came from). When it does, ``missing_readings`` names the records: which were
never turned into observations, and which the benchmark's collector merely failed to read
while the topic holds their observations. A wrong answer here would call a pipeline lossy
that is not, or hide a loss, so it is tested like product code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.jsonio import dumps
from streams.settings import Settings
from streams.topics import ensure_topics

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import e2e_bench  # noqa: E402

pytestmark = pytest.mark.broker


def test_missing_readings_names_what_no_observation_came_from(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix,
                           partitions=2))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    try:
        def reading(topic: str, partition: int, rows: list[dict[str, object]]) -> int:
            meta = producer.send(topic_prefix + topic, dumps(rows), partition=partition)
            return int(meta.get(timeout=30).offset)

        scan = [{"sensor_id": "R1", "t": 100.0 + i, "range_m": 500.0, "bearing_deg": 10.0}
                for i in range(3)]
        radar = [reading("readings.radar", 0, scan) for _ in range(3)]
        ais = reading("readings.ais", 1, [{"sensor_id": "A1", "t": 200.0, "nmea": "!AIVDM"}])
        # observations of radar records 0 and 1 (the pipeline's compact JSON, as orjson
        # writes it) and of the AIS record
        for src in (["readings.radar", 0, radar[0]], ["readings.radar", 0, radar[1]],
                    ["readings.ais", 1, ais]):
            producer.send(topic_prefix + "observations",
                          dumps([{"obs_id": f"o{src[2]}", "t": 1.0, "src": src}]),
                          partition=0).get(timeout=30)
        producer.flush()
    finally:
        producer.close()

    # the collector read radar record 0's and the AIS record's observations, not record 1's
    seen = {(b"readings.radar", 0, radar[0]), (b"readings.ais", 1, ais)}
    found = e2e_bench.missing_readings(kafka_bootstrap, topic_prefix, seen)

    assert found["records_read"] == 4
    assert found["collector_missed"] == 1  # record 1: its observation is in the topic
    assert found["missing_records"] == 1 and found["missing_readings"] == 3
    (missing,) = found["sample"]
    assert (missing["topic"], missing["partition"], missing["offset"]) == (
        topic_prefix + "readings.radar", 0, radar[2])
    assert missing["sensor_id"] == "R1" and missing["t"] == 100.0
