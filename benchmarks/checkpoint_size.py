"""Checkpoint size and serialisation time per sector for a busy scenario (docs/streaming.md).

Compares, on the same states, the checkpoint as the fusion agent used to write it (buffer via
``Observation.to_dict``, recent ids as an ``{id: t}`` mapping, stdlib ``json``) with the
current one (``FusionStage.snapshot``: buffer as plain dicts, recent ids grouped per time
bucket, written with ``streams.agents.dumps`` = orjson). Prints sizes, times and the ratio.

Run: .venv/bin/python benchmarks/checkpoint_size.py [OUT_DIR]
"""

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sensors.recorded import iter_recorded
from sensors.simulate import build_scenario, write_scenario
from streams.agents import dumps
from streams.engine import Context, FusionStage
from streams.replay import OfflinePipeline


def legacy_snapshot(fusion: FusionStage, sector: str) -> dict[str, Any]:
    """The checkpoint before issue 9 round 2 (for the ratio only)."""
    return {
        "tracker": fusion.tracker(sector).snapshot(),
        "buffer": [o.to_dict() for o in fusion.buffers.get(sector, [])],
        "newest": fusion.newest.get(sector),
        "released": fusion.released.get(sector),
        "recent": fusion.recent.get(sector, {}),
        "emitted": fusion.emitted.get(sector, 0),
    }


def legacy_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


d = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bf-busy-scenario")

if not (d / "readings.jsonl").exists():
    write_scenario(build_scenario(seed=4, duration=300, layout="mixed", density=3.0), d)
ctx = Context.from_scenario(d, max_reading_age_s=0, reorder_window_s=2)
pipe = OfflinePipeline(ctx)
rows: dict[str, list[tuple[int, float]]] = {"legacy": [], "now": [], "alerts": []}
n = 0
for it in iter_recorded(d / "readings.jsonl"):
    pipe.feed(it.topic, it.value)
    n += 1
    if n % 500 == 0:  # one agent batch
        for sec in list(pipe.fusion.buffers):
            t = time.perf_counter()
            b = legacy_dumps(legacy_snapshot(pipe.fusion, sec))
            rows["legacy"].append((len(b), time.perf_counter() - t))
            t = time.perf_counter()
            b = dumps(pipe.fusion.snapshot(sec))
            rows["now"].append((len(b), time.perf_counter() - t))
            t = time.perf_counter()
            a = dumps(pipe.alerts.snapshot(sec))
            rows["alerts"].append((len(a), time.perf_counter() - t))
print("readings", n, "sectors", len(pipe.fusion.buffers))
for name, vals in rows.items():
    sizes, times = [v[0] for v in vals], [v[1] for v in vals]
    print(
        f"{name:7s} bytes median {statistics.median(sizes):.0f} max {max(sizes)}; "
        f"time ms median {1e3 * statistics.median(times):.2f} max {1e3 * max(times):.2f} "
        f"total {sum(times):.3f} s"
    )
tl = sum(v[1] for v in rows["legacy"])
tn = sum(v[1] for v in rows["now"])
sl = sum(v[0] for v in rows["legacy"])
sn = sum(v[0] for v in rows["now"])
print(f"tracker checkpoint, legacy / now: time {tl / tn:.2f}x, bytes {sl / sn:.2f}x")
sec = max(pipe.fusion.trackers, key=lambda s: len(dumps(pipe.fusion.snapshot(s))))
snap = pipe.fusion.snapshot(sec)
print(
    {k: len(dumps(v)) for k, v in snap.items()},
    "tracks",
    len(pipe.fusion.trackers[sec].tracks.status),
)
