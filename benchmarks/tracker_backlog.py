"""Tracker CPU per observation under the 10 000/s backlog, in process (issue 9, round 9).

The live worker at saturation spends ~50 µs of CPU per observation in
``SectorTracker.process`` (docs/performance.md, round 8). This reproduces that load without
a broker, then times only the tracker:

1. *record* (this tree's ``streams``): the loadgen deployment (``--sectors`` sectors) at
   ``--rate`` readings/s of event time, its records delivered as a worker in backlog takes
   them: each readings ``topic:partition`` lags the event time by its own slowly drifting
   delay (a random walk in ``[0, --max-lag]`` s, Kafka order kept within a partition), so
   the topics drift apart by seconds as under the live backlog; ingested with
   ``IngestStage.ingest_many`` in ``--batch-records`` batches, added to ``FusionStage`` as
   JSON, released on the reorder window alone (``now`` = inf, the backlog rule). Every
   ``SectorTracker.process`` call (its sector and observations) is pickled; the late path
   (observations behind the release, ``FusionStage.advance``) is part of that sequence.
2. *measure* (any tree, ``PYTHONPATH``): a fresh tracker per sector replays the recorded
   calls; process CPU time of each ``process`` call is summed (calls before ``--warmup``
   s of event time are run but not timed: the tracks build up first). Prints µs per
   observation and a digest of every update, late and absorbed id (identical output).

    .venv/bin/python benchmarks/tracker_backlog.py                 # this tree
    .venv/bin/python benchmarks/tracker_backlog.py --compare /tmp/bf_before --rounds 3
        # this tree and DIR alternately (same recorded calls), after/before ratio
    .venv/bin/python benchmarks/tracker_backlog.py --profile /tmp/tb.prof   # cProfile
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def record(a: argparse.Namespace, path: Path) -> None:
    """Run ingest + fusion on the backlog load and pickle every tracker call."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from loadgen import BacklogScene

    import fusion.tracker as ft

    work = Path(tempfile.mkdtemp(prefix="bf-tb-"))
    scene = BacklogScene.loadgen(a.rate, a.sectors, work, a.bucket)
    gen, fusion = scene.gen, scene.fusion
    assert gen is not None
    rng = np.random.default_rng(a.seed)
    t0, step = scene.t0, scene.step
    lag: dict[tuple[str, int], float] = {}
    lag_t: dict[tuple[str, int], float] = {}
    last_due: dict[tuple[str, int], float] = {}
    queue: list[tuple[float, int, str, int, str, bytes]] = []  # (due, seq, topic, part, ...)
    seq = 0
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    calls: list[tuple[str, list[Any]]] = []
    orig = ft.SectorTracker.process

    def spy(self: Any, observations: Any) -> Any:
        calls.append((self.sector, list(observations)))
        return orig(self, observations)

    ft.SectorTracker.process = spy  # type: ignore[method-assign]
    k = 0
    horizon = a.seconds + a.max_lag + 3.0
    while k * step < horizon:
        lo, hi = t0 + k * step, t0 + (k + 1) * step
        k += 1
        if k * step <= a.seconds:
            for topic, key, value, *_ in gen.slice(lo, hi):
                part = scene.partition(key)
                tp = (topic, part)
                if tp not in lag:
                    lag[tp], lag_t[tp] = float(rng.uniform(0, a.max_lag)), hi
                while hi - lag_t[tp] >= 0.5:  # the delay drifts every 0.5 s of event time
                    lag[tp] = float(np.clip(lag[tp] + rng.normal(0, a.max_lag / 4), 0, a.max_lag))
                    lag_t[tp] += 0.5
                due = max(hi + lag[tp], last_due.get(tp, -np.inf))  # partition order
                last_due[tp] = due
                queue.append((due, seq, topic, part, key, value))
                seq += 1
        queue.sort()
        ready = [q for q in queue if q[0] <= hi]
        if len(ready) < a.batch_records and k * step < horizon:
            continue
        ready = ready[: a.batch_records]
        queue = queue[len(ready) :]
        records, sources = [], []
        for _, _, topic, part, _, value in ready:
            sources.append([topic, part, offsets[topic, part]])
            offsets[topic, part] += 1
            records.append((topic, value))
        by_sector = scene.observations(records, sources)
        scene.fuse(by_sector)  # the observations hop, as JSON
        for sector in sorted(by_sector):
            fusion.advance(sector)
    for sector in sorted(fusion.buffers):
        fusion.advance(sector, flush=True)
    ft.SectorTracker.process = orig  # type: ignore[method-assign]
    origins = {s: (tr.lat0, tr.lon0) for s, tr in fusion.trackers.items()}
    with path.open("wb") as f:
        pickle.dump({"calls": calls, "origins": origins, "t0": t0}, f, protocol=5)


def measure(path: Path, warmup: float, profile: str | None = None) -> dict[str, Any]:
    """Replay the recorded calls on fresh trackers of the tree on ``sys.path``."""
    from fusion.tracker import SectorTracker, engine_config
    from streams.settings import Settings

    with path.open("rb") as f:
        rec = pickle.load(f)
    # as FusionStage.tracker_config: the out-of-sequence lag is the late tolerance
    cfg = engine_config({"oosm_max_lag_s": Settings().fusion_late_tolerance_s})
    trackers = {s: SectorTracker(s, la, lo, cfg) for s, (la, lo) in rec["origins"].items()}
    start = rec["t0"] + warmup
    digest = hashlib.sha256()
    cpu, n_obs, n_calls, n_behind, n_upd = 0.0, 0, 0, 0, 0
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    gc.collect()
    gc.disable()  # collections land in whichever call allocates: noise, not tracker cost
    for sector, obs in rec["calls"]:
        tr = trackers[sector]
        timed = max((o.t for o in obs), default=0.0) >= start
        behind = sum(o.t < tr.time for o in obs)
        if prof is not None and timed:
            prof.enable()
        c0 = time.process_time()
        ups = tr.process(obs)
        c1 = time.process_time()
        if prof is not None and timed:
            prof.disable()
        if timed:
            cpu += c1 - c0
            n_obs += len(obs)
            n_calls += 1
            n_behind += behind
            n_upd += len(ups)
        digest.update(json.dumps([u.to_dict() for u in ups]).encode())
        digest.update(json.dumps([[o.obs_id for o in tr.late], tr.absorbed]).encode())
    gc.enable()
    if prof is not None:
        prof.dump_stats(profile)
    return {
        "digest": digest.hexdigest()[:16],
        "cpu_s": cpu,
        "us_per_obs": 1e6 * cpu / max(n_obs, 1),
        "obs": n_obs,
        "calls": n_calls,
        "behind": n_behind,
        "updates": n_upd,
        "tracks": sum(len(t.tracks) for t in trackers.values()),
        "late": sum(t.n_late for t in trackers.values()),
        "absorbed": sum(t.n_absorbed for t in trackers.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=10_000.0)
    ap.add_argument("--sectors", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0, help="event time of load")
    ap.add_argument("--warmup", type=float, default=10.0, help="untimed, s of event time")
    ap.add_argument("--max-lag", type=float, default=4.0, help="topic delay range, s")
    ap.add_argument("--batch-records", type=int, default=500)
    ap.add_argument("--bucket", type=float, help="fusion bucket, s (default: the settings')")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calls", help="recorded calls (pickle); made if missing")
    ap.add_argument("--compare", metavar="DIR", help="tree to compare with (the 'before')")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", metavar="FILE", help="cProfile the timed calls into FILE")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    calls = Path(
        a.calls
        or (
            f"/tmp/bf-tracker-backlog-r{a.rate:.0f}-s{a.sectors}-{a.seconds:.0f}s-lag{a.max_lag}"
            f"-b{a.batch_records}-{a.bucket}-{a.seed}.pkl"
        )
    )
    if a.measure_only:  # the caller's PYTHONPATH picks the tree
        print(json.dumps(measure(calls, a.warmup, a.profile)))
        return
    if not calls.exists():
        t = time.perf_counter()
        record(a, calls)
        print(f"recorded {calls} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    trees = [("before", a.compare), ("after", str(ROOT))] if a.compare else [("this", str(ROOT))]
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(a.rounds if a.compare else 1):
        for label, tree in trees:
            argv = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--measure-only",
                "--calls",
                str(calls),
                "--warmup",
                str(a.warmup),
            ]
            if a.profile:
                argv += ["--profile", a.profile]
            out = subprocess.run(
                argv,
                env={**os.environ, "PYTHONPATH": tree},
                cwd="/",
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            runs[label].append(r)
            print(label, json.dumps(r), flush=True)
    if a.compare:
        same = {r["digest"] for rs in runs.values() for r in rs}
        print(f"identical updates, late and absorbed ids: {len(same) == 1} ({sorted(same)})")
        b = statistics.median(r["us_per_obs"] for r in runs["before"])
        f = statistics.median(r["us_per_obs"] for r in runs["after"])
        print(f"µs CPU per observation: before {b:.1f}, after {f:.1f}, after/before {f / b:.2f}")


if __name__ == "__main__":
    main()
