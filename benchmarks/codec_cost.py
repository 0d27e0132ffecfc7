"""CPU and size of the producer codecs on the worker's own payloads: one second of the
10 000 readings/s loadgen mix as the ``observations`` records the ingest agent writes
(one JSON array per sector), each built into a Kafka record batch by aiokafka.

    .venv/bin/python benchmarks/codec_cost.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from aiokafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402
from loadgen import Border, Generator, Mix  # noqa: E402

from streams.agents import dumps  # noqa: E402
from streams.engine import Context, IngestStage, observation_dict  # noqa: E402

CODECS = {"none": 0, "gzip": 1, "lz4": 3}  # aiokafka's compression type ids


def payloads(seconds: float = 2.0) -> list[bytes]:
    border = Border(Mix(rate=10_000, sectors=16), 2)
    sensors, zones = border.write(Path(tempfile.mkdtemp(prefix="bf-codec-")))
    ingest = IngestStage(Context.from_files(sensors, zones))
    t = time.time()
    records = [(topic, value) for topic, _k, value, *_ in Generator(border).slice(t, t + seconds)]
    by_sector: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for res in ingest.ingest_many(records):
        for o in res.observations:
            by_sector[o.sector].append(observation_dict(o))
    return [dumps(batch) for batch in by_sector.values()]


def main() -> int:
    data = payloads()
    raw = sum(map(len, data))
    print(f"{raw / 1e6:.2f} MB of observation records ({len(data)} records)\n")
    print("| codec | CPU ms per MB | size vs raw |\n|---|---|---|")
    for name, code in CODECS.items():
        best, size = float("inf"), 0
        for _ in range(3):
            t0, size = time.process_time(), 0
            for value in data:
                b = DefaultRecordBatchBuilder(magic=2, compression_type=code, is_transactional=0,
                                              producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                              batch_size=16 * 1024 * 1024)
                b.append(0, timestamp=None, key=b"s", value=value, headers=[])
                size += len(b.build())
            best = min(best, time.process_time() - t0)
        print(f"| {name} | {best * 1e3 / (raw / 1e6):.1f} | {size / raw:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
