"""Memory-soak diagnostic (issue #9; docs/performance.md "Memory soak"), never imported by
the project: with ``PYTHONPATH=benchmarks/soak_hook`` and ``BF_TM_OUT=<file>`` in the
environment of ``e2e_bench.py`` (its workers inherit it), each ``borderfusion worker``
process traces Python allocations and every 30 s appends one JSON line to ``BF_TM_OUT``:
RSS, traced (live Python) memory and its peak since the last line, and the 15 allocation
sites that grew most since the snapshot taken 180 s after start. RSS far above traced
memory, with traced memory flat, means allocator high water, not live objects.
"""

import json
import os
import sys
import threading
import time
import tracemalloc


def _run() -> None:
    time.sleep(2)  # sys.argv is set by then
    if "worker" not in sys.argv or "streams" not in " ".join(sys.argv) + str(sys.modules):
        return
    out = os.environ["BF_TM_OUT"]
    tracemalloc.start(int(os.environ.get("BF_TM_FRAMES", "1")))
    t0, base = time.time(), None
    while True:
        time.sleep(30)
        rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        cur, peak = tracemalloc.get_traced_memory()
        row = {"t": round(time.time() - t0), "rss_mb": round(rss / 1e6, 1),
               "traced_mb": round(cur / 1e6, 1), "traced_peak_mb": round(peak / 1e6, 1)}
        if time.time() - t0 >= 180:
            snap = tracemalloc.take_snapshot()
            if base is None:
                base = snap
            else:
                row["top"] = [(str(s.traceback[0]), round(s.size_diff / 1e3), s.count_diff)
                              for s in snap.compare_to(base, "lineno")[:15]]
        tracemalloc.reset_peak()
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


if os.environ.get("BF_TM_OUT"):
    threading.Thread(target=_run, daemon=True, name="bf-soak-tracemalloc").start()
