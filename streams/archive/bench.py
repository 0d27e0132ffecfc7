"""Archive figures for docs/archive.md: write throughput, verify and read-back speed.

.venv/bin/python -m streams.archive.bench SCENARIO_DIR [--repeat 10] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sensors.recorded import RecordedLine, iter_recorded
from streams.archive.query import iter_window
from streams.archive.store import ArchiveRecord, ArchiveStore, verify_archive
from streams.topics import READINGS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    lines = [
        x for x in iter_recorded(args.scenario / "readings.jsonl") if isinstance(x, RecordedLine)
    ] * args.repeat
    recs = [
        ArchiveRecord.from_kafka(
            x.topic,
            i % 4,
            i // 4,
            (x.value["t"] + i * 1e-3) * 1000,
            x.value["sensor_id"].encode(),
            json.dumps(x.value),
        )
        for i, x in enumerate(lines)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        with ArchiveStore(root) as store:
            for k in range(0, len(recs), args.batch):
                store.append(recs[k : k + args.batch])
            store.seal()
        write_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in root.rglob("*.seg.jsonl.gz"))
        rep = verify_archive(root)
        t0 = time.perf_counter()
        n = sum(1 for _ in iter_window(root, READINGS))
        read_s = time.perf_counter() - t0
    raw = sum(len(r.value) for r in recs)
    print(
        json.dumps(
            {
                "records": len(recs),
                "batch": args.batch,
                "write_rec_per_s": round(len(recs) / write_s),
                "raw_mb": round(raw / 1e6, 2),
                "archived_mb": round(size / 1e6, 2),
                "verify_s": round(rep.seconds, 3),
                "verify_mb_per_s": round(rep.bytes / 1e6 / max(rep.seconds, 1e-9)),
                "read_rec_per_s": round(n / read_s),
                "ok": rep.ok,
            }
        )
    )


if __name__ == "__main__":
    main()
