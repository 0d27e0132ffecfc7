"""Per-call fixed cost of ``SectorTracker.process`` and of its checkpoint (issue 9).

At low rates the engine calls the tracker with few observations per call (small sectors,
0.25 s buckets), so what every call pays regardless of its size (maintenance, correlation,
output) and the sector checkpoint (``snapshot`` -> JSON -> ``restore``) dominate.

State: N targets (NCV, ~2 m/s) in a square of N·0.5 km², two radars and a thermal camera at
Pd 0.9 plus AIS for a tenth of them, 30 s of 1 s scans: about N confirmed tracks. Then each
timed call feeds k observations of one radar 0.25 s later, always to a tracker restored from
the same snapshot (restore not timed), so before/after see identical states and inputs.

    .venv/bin/python benchmarks/tracker_call_cost.py                 # this tree
    .venv/bin/python benchmarks/tracker_call_cost.py --compare /tmp/bf_before
        # runs this tree and DIR (PYTHONPATH=DIR) alternately, prints after/before ratios and
        # checks that both trees give the same updates and snapshots (lat/lon compared apart:
        # round 6's polynomial inverse moves them by nanometres; the largest move is printed)

Times are process CPU time by default (``--clock wall`` for wall time).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:  # what the worker's checkpoints use (streams.jsonio.dumps)
    import orjson

    dumps, loads = orjson.dumps, orjson.loads
except ImportError:  # pragma: no cover
    dumps, loads = json.dumps, json.loads
SIZES = (50, 150, 300)
CALL_OBS = (5, 20, 50)


def _build(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    from fusion.geodesy import LocalFrame
    from fusion.tracker import SectorTracker, engine_config
    from fusion.types import Observation

    lat0, lon0 = 51.5, 30.55
    frame = LocalFrame(lat0, lon0)
    rng = np.random.default_rng(seed)
    side = np.sqrt(n * 0.5) * 1000.0
    x = np.c_[rng.uniform(0, side, (n, 2)), rng.normal(0, 2.0, (n, 2))]
    n_ais = max(1, n // 10)
    sensors = [("R1", "radar", 0.0), ("R2", "radar", 0.3), ("C1", "thermal", 0.6)]
    k = 0

    def obs(sensor: str, kind: str, t: float, rows: np.ndarray, sigma: float) -> list:
        nonlocal k
        out = []
        pos = x[rows, :2] + x[rows, 2:] * (t - tnow) + rng.normal(0, sigma, (rows.size, 2))
        # the exact inverse where the tree has one (round 6): same inputs in every tree
        lat, lon = getattr(frame, "to_latlon_exact", frame.to_latlon)(pos[:, 0], pos[:, 1])
        for r, la, lo in zip(rows.tolist(), lat.tolist(), lon.tolist(), strict=True):
            attrs = {"mmsi": 200000000 + r, "name": f"V{r}"} if kind == "ais" else {}
            out.append(Observation(f"o{k}", sensor, kind, t, la, lo,
                                   [[sigma**2, 0.0], [0.0, sigma**2]], attrs))
            k += 1
        return out

    tr = SectorTracker("S", lat0, lon0, engine_config())
    tnow = 0.0
    for scan in range(30):
        tnow = float(scan)
        batch = []
        for s, kind, off in sensors:
            rows = np.flatnonzero(rng.random(n) < 0.9)
            batch += obs(s, kind, tnow + off, rows, 8.0)
        if scan % 3 == 0:
            batch += obs("AIS1", "ais", tnow + 0.1, np.arange(n_ais), 10.0)
        tr.process(batch)
        x[:, :2] += x[:, 2:]
    tnow = 30.0
    calls = {f"call{m}": obs("R1", "radar", 30.25, rng.permutation(n)[:m], 8.0)
             for m in CALL_OBS}
    # one second after the last correlation: this call also runs the AIS correlator
    calls["corrcall20"] = obs("R2", "radar", 30.7, rng.permutation(n)[:20], 8.0)
    return tr, calls


def _canonical(snap: dict) -> str:
    """The snapshot with its track arrays as plain lists: comparable across formats."""
    from fusion.tracking.store import TrackStore

    out = {k: v for k, v in snap.items() if k != "version"}
    for key in ("tracks", "ais"):
        st = TrackStore.from_dict(snap[key])
        out[key] = {**{k: [str(v.dtype), v.tolist()] for k, v in st.cols.items()},
                    "seen": st.seen.tolist(), "seen_t": st.seen_t.tolist(),
                    "names": sorted(st.names.items())}
    return json.dumps(out, sort_keys=True)


def measure(repeat: int, clock: str = "cpu") -> dict:
    """Median seconds per call; also a digest of outputs to compare trees.

    ``clock="cpu"`` times with the process CPU clock: on a shared box a call preempted
    half-way is not charged for the wait (wall-clock medians there drift ±50 %).
    """
    from fusion.tracker import SectorTracker

    now = time.process_time if clock == "cpu" else time.perf_counter

    res: dict = {"digest": hashlib.sha256(), "coords": {}}
    for n in SIZES:
        tr, calls = _build(n)
        snap = tr.snapshot()
        wire = dumps(snap)
        state = loads(wire)
        res[f"n{n}_tracks"] = len(tr.tracks)
        res["digest"].update(_canonical(snap).encode())
        for m, batch in calls.items():
            times = []
            for _ in range(repeat):
                t2 = SectorTracker.restore(loads(wire))
                gc.collect()
                t0 = now()
                ups = t2.process(batch)
                times.append(now() - t0)
            # lat/lon apart: the fast inverse (round 6) moves them by nanometres
            res["digest"].update(json.dumps([{**u.to_dict(), "lat": 0, "lon": 0}
                                             for u in ups]).encode())
            res["coords"][f"n{n}_{m}"] = [[u.lat, u.lon] for u in ups]
            res["digest"].update(_canonical(t2.snapshot()).encode())
            res[f"n{n}_{m}_ms"] = 1e3 * statistics.median(times)
        for name, fn in (
            ("snapshot", lambda tr=tr: tr.snapshot()),
            ("snapshot_json", lambda tr=tr: dumps(tr.snapshot())),
            ("restore", lambda state=state: SectorTracker.restore(state)),
            ("json_restore", lambda wire=wire: SectorTracker.restore(loads(wire))),
        ):
            times = []
            for _ in range(repeat):
                t0 = now()
                fn()
                times.append(now() - t0)
            res[f"n{n}_{name}_ms"] = 1e3 * statistics.median(times)
    res["digest"] = res["digest"].hexdigest()[:16]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--compare", metavar="DIR", help="tree to compare with (the 'before')")
    ap.add_argument("--rounds", type=int, default=3, help="alternations with --compare")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="process CPU time (default; robust on a shared box) or wall time")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not a.compare:
        if not a.json:  # with --json the caller's PYTHONPATH picks the tree
            sys.path.insert(0, str(ROOT))
        r = measure(a.repeat, a.clock)
        if not a.json:
            r.pop("coords")
        print(json.dumps(r) if a.json else json.dumps(r, indent=1))
        return
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(a.rounds):
        for label, path in (("before", a.compare), ("after", str(ROOT))):
            env = {**os.environ, "PYTHONPATH": path}
            out = subprocess.run(
                [sys.executable, "-c",
                 "import sys, runpy; sys.argv=['x','--json','--repeat',"
                 f"'{a.repeat}','--clock','{a.clock}']; "
                 f"runpy.run_path({str(Path(__file__).resolve())!r}, "
                 "run_name='__main__')"],
                env=env, capture_output=True, text=True, check=True, cwd="/",
            ).stdout
            runs[label].append(json.loads(out.strip().splitlines()[-1]))
    same = {r["digest"] for r in runs["before"] + runs["after"]}
    print(f"identical outputs (lat/lon apart) and snapshots before/after: {len(same) == 1} "
          f"({sorted(same)})")
    cb, ca = runs["before"][0]["coords"], runs["after"][0]["coords"]
    dlat = max((abs(p[0] - q[0]) for k in cb for p, q in zip(cb[k], ca[k], strict=True)),
               default=0.0)
    dlon = max((abs(p[1] - q[1]) for k in cb for p, q in zip(cb[k], ca[k], strict=True)),
               default=0.0)
    print(f"largest lat/lon difference of the updates: {dlat * 111_320 * 1e3:.2e} mm north, "
          f"{dlon * 111_320 * np.cos(np.radians(51.5)) * 1e3:.2e} mm east")
    print(f"{'metric':28s} {'before ms':>10s} {'after ms':>10s} {'after/before':>12s}")
    for key in runs["before"][0]:
        if not key.endswith("_ms"):
            continue
        b = statistics.median(r[key] for r in runs["before"])
        f = statistics.median(r[key] for r in runs["after"])
        print(f"{key:28s} {b:10.3f} {f:10.3f} {f / b:12.2f}")


if __name__ == "__main__":
    main()
