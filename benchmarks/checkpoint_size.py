"""Checkpoint size and serialisation time per sector for a busy scenario (docs/streaming.md).

Run: .venv/bin/python benchmarks/checkpoint_size.py [OUT_DIR]
"""

import json
import statistics
import sys
import time
from pathlib import Path

from sensors.recorded import iter_recorded
from sensors.simulate import build_scenario, write_scenario
from streams.engine import Context
from streams.replay import OfflinePipeline

d = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bf-busy-scenario")

if not (d / "readings.jsonl").exists():
    write_scenario(build_scenario(seed=4, duration=300, layout="mixed", density=3.0), d)
ctx = Context.from_scenario(d, max_reading_age_s=0, reorder_window_s=2)
pipe = OfflinePipeline(ctx)
sizes = []
times = []
n = 0
for it in iter_recorded(d / "readings.jsonl"):
    pipe.feed(it.topic, it.value)
    n += 1
    if n % 500 == 0:  # one agent batch
        for sec in list(pipe.fusion.buffers):
            t = time.perf_counter()
            b = json.dumps(pipe.fusion.snapshot(sec), separators=(",", ":"), default=str).encode()
            times.append(time.perf_counter() - t)
            sizes.append(len(b))
            t = time.perf_counter()
            a = json.dumps(pipe.alerts.snapshot(sec), separators=(",", ":"), default=str).encode()
            times.append(time.perf_counter() - t)
            sizes.append(len(a))
print("readings", n, "sectors", len(pipe.fusion.buffers))
fs = sizes[0::2]
fa = sizes[1::2]
ft = times[0::2]
at = times[1::2]
print(
    f"tracker snapshot bytes max {max(fs)} median {statistics.median(fs):.0f}; "
    f"time ms max {1e3 * max(ft):.1f} median {1e3 * statistics.median(ft):.1f}"
)
print(
    f"alert snapshot bytes max {max(fa)} median {statistics.median(fa):.0f}; "
    f"time ms max {1e3 * max(at):.1f} median {1e3 * statistics.median(at):.1f}"
)
sec = max(pipe.fusion.trackers, key=lambda s: len(json.dumps(pipe.fusion.snapshot(s))))
snap = pipe.fusion.snapshot(sec)
print(
    {k: len(json.dumps(v, default=str)) for k, v in snap.items()},
    "tracks",
    len(pipe.fusion.trackers[sec].tracks.status),
)
