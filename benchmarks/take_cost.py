"""What the fusion agent spends per observation besides the tracker (issue 9), in process.

The loadgen mix at ``--rate`` readings/s (10 000 by default, 16 sectors; ``--rate 0``: a
simulator scenario instead, ``--layout``/``--seed``/``--density``) is ingested as the ingest
agent does it: batches of ``--batch-records`` readings stamped with their ``[topic, 0,
offset]``, one JSON ``observations`` record per sector and batch (``dumps`` of
``observation_dict``s). The records are written once; then each tree takes them as the
fusion agent does (``streams/agents.py`` ``take`` and ``publish``), timing per step with
the process CPU clock:

* ``loads`` of the record, ``Observation.from_dict`` of its dicts, ``FusionStage.add``;
* per batch, for every sector it touched, ``advance`` without the tracker (its
  ``SectorTracker.process`` calls are timed apart and subtracted), then
  ``track_update_dict`` + ``dumps`` of every bucket it returns (the ``tracks`` record);
* every ``--every`` s of event time a checkpoint of every touched sector
  (``snapshot`` + ``dumps`` + ``pack_state``), as the worker's once-a-second one;
* the cyclic garbage collector apart (``gc.callbacks``), wherever it ran (``--gc-threshold``
  sets its thresholds in the runs).

Release is on the reorder window alone (the wall clock far ahead: a backlog, as in the
10 000/s profile). ``--old DIR`` runs a second tree (a ``git archive`` export) in
alternation with this one, each run in its own process, and checks that both produce the
same track records, late observations and final checkpoints (a digest of their bytes)::

    git archive HEAD | tar -x -C /tmp/bf-old
    .venv/bin/python benchmarks/take_cost.py --old /tmp/bf-old --rounds 3
    .venv/bin/python benchmarks/take_cost.py --rate 0 --duration 120 --batch-records 50
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("loads", "from_dict", "add", "advance - tracker", "out: dict + dumps",
         "checkpoint", "gc", "tracker")


def scene(a: argparse.Namespace, out: Path) -> tuple[Any, list[tuple[str, Any]]]:
    """The deployment written under ``out`` (``sensors.yaml``, ``zones.geojson``) taken as
    in backlog (``loadgen.BacklogScene``) and its ``(topic, value)`` in event-time order: the
    loadgen mix at ``--rate`` readings/s, or with ``--rate 0`` a simulator scenario
    (``--layout``, ``--seed``, ``--density``)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from loadgen import BacklogScene

    if a.rate:
        sc = BacklogScene.loadgen(a.rate, 16, out)
        gen, t0, step = sc.gen, sc.t0, sc.step
        assert gen is not None
        return sc, [(tp, v) for k in range(round(a.duration / step))
                    for tp, _k, v, *_ in gen.slice(t0 + k * step, t0 + (k + 1) * step)]
    from sensors.recorded import iter_recorded
    from sensors.simulate import build_scenario, write_scenario

    write_scenario(build_scenario(seed=a.seed, duration=a.duration, layout=a.layout,
                                  density=a.density), out)
    items = [(it.topic, it.value) for it in iter_recorded(out / "readings.jsonl")]
    return BacklogScene.of_dir(out), items


def make_records(a: argparse.Namespace, out: Path) -> Path:
    """The readings ingested as the ingest agent does, pickled under ``out``: per ingest
    batch a list of ``(sector, observations record bytes)``."""
    sys.path.insert(0, str(ROOT))
    from streams.agents import dumps

    sc, items = scene(a, out)
    offsets: dict[str, int] = defaultdict(lambda: -1)
    batches = []
    for i in range(0, len(items), a.batch_records):
        records, sources = [], []
        for topic, value in items[i : i + a.batch_records]:
            offsets[topic] += 1
            records.append((topic, value))
            sources.append([topic, 0, offsets[topic]])
        by_sector = sc.observations(records, sources)
        batches.append([(s, dumps(b)) for s, b in by_sector.items()])
    path = out / "records.pickle"
    path.write_bytes(pickle.dumps(batches))
    return path


def run_tree(tree: str, scenario: Path, records: Path, every: float,
             gc_threshold: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Take the records with ``tree``'s code (run in a fresh process): CPU s per step."""
    sys.path.insert(0, tree)
    import streams.engine as engine
    from fusion.tracker import SectorTracker
    from fusion.types import Observation
    from streams.agents import dumps, loads, pack_state, track_update_dict

    assert Path(engine.__file__).resolve().is_relative_to(Path(tree).resolve())
    clock = time.process_time
    cpu: dict[str, float] = dict.fromkeys(STEPS, 0.0)
    process = SectorTracker.process

    def timed_process(self: Any, observations: Any) -> Any:
        t0, g0 = clock(), cpu["gc"]
        try:
            return process(self, observations)
        finally:
            cpu["tracker"] += (clock() - t0) - (cpu["gc"] - g0)

    SectorTracker.process = timed_process  # type: ignore[method-assign]
    gc_t0 = [0.0]

    def gc_clock(phase: str, _info: dict[str, Any]) -> None:
        """The cyclic collector's CPU apart: it runs in whichever step allocates past its
        threshold, so it would move between steps from one run to the next."""
        if phase == "start":
            gc_t0[0] = clock()
        else:
            cpu["gc"] += clock() - gc_t0[0]

    gc.callbacks.append(gc_clock)
    if gc_threshold:
        gc.set_threshold(*gc_threshold)
    last = [clock(), 0.0, 0.0]  # at the previous lap: clock, collector, tracker

    def lap(name: str | None) -> None:
        """Charge ``name`` the CPU since the previous lap, less the collector's and the
        tracker's (their own rows); ``None``: start a lap."""
        t, g, tr = clock(), cpu["gc"], cpu["tracker"]
        if name is not None:
            cpu[name] += (t - last[0]) - (g - last[1]) - (tr - last[2])
        last[:] = [clock(), cpu["gc"], cpu["tracker"]]

    ctx = engine.Context.from_scenario(scenario, max_reading_age_s=0)
    fusion = engine.FusionStage(ctx, now=lambda: float("inf"))
    batches = pickle.loads(records.read_bytes())
    digest = hashlib.sha256()
    n_obs = n_late = n_updates = n_ckpt = 0
    next_ckpt = None
    dirty: set[str] = set()
    for batch in batches:
        touched: set[str] = set()
        late: list[Any] = []
        for sector, value in batch:
            lap(None)
            data = loads(value)
            raw = data if isinstance(data, list) else [data]
            lap("loads")
            obs = [Observation.from_dict(o) for o in raw]
            lap("from_dict")
            late += fusion.add(sector, obs, raw=raw)
            lap("add")
            n_obs += len(obs)
            touched.add(sector)
        for sector in sorted(touched):
            lap(None)
            buckets, tr_late = fusion.advance(sector)
            lap("advance - tracker")
            out = [dumps([track_update_dict(u) for u in updates]) for updates in buckets]
            lap("out: dict + dumps")
            late += tr_late
            for value in out:
                digest.update(sector.encode() + b"\0" + value)
            n_updates += sum(map(len, buckets))
        n_late += len(late)
        for o in late:
            digest.update(dumps(engine.observation_dict(o)))
        dirty |= touched
        newest = max(fusion.newest.values())
        if next_ckpt is None:
            next_ckpt = newest + every
        if newest >= next_ckpt:
            next_ckpt = newest + every
            lap(None)
            for sector in sorted(dirty):
                pack_state(dumps(fusion.snapshot(sector)))
            lap("checkpoint")
            n_ckpt += len(dirty)
            dirty.clear()
    for sector in sorted(fusion.trackers):  # the final state, as a checkpoint writes it
        digest.update(dumps(fusion.snapshot(sector)))
    return {"cpu": cpu, "obs": n_obs, "late": n_late, "updates": n_updates,
            "checkpoints": n_ckpt, "digest": digest.hexdigest()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", help="another tree (a git archive export) to alternate with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", type=float, default=10_000,
                   help="loadgen readings/s (0: a simulator scenario instead)")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--duration", type=float, default=10.0, help="s of event time")
    p.add_argument("--layout", default="mixed")
    p.add_argument("--density", type=float, default=3.0)
    p.add_argument("--batch-records", type=int, default=500, help="readings per ingest batch")
    p.add_argument("--every", type=float, default=0.5, help="checkpoint, s of event time")
    p.add_argument("--gc-threshold", help="gc.set_threshold in the runs, e.g. 700,10,100")
    p.add_argument("--worker", nargs=3, metavar=("TREE", "SCENARIO", "RECORDS"),
                   help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        tree, scenario, records = a.worker
        gct = tuple(int(v) for v in a.gc_threshold.split(",")) if a.gc_threshold else None
        print(json.dumps(run_tree(tree, Path(scenario), Path(records), a.every, gct)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="bf-take-"))
    try:
        return compare(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(a: argparse.Namespace, work: Path) -> int:
    """Runs of each tree in turn on the same records; the table of medians."""
    records = make_records(a, work)
    trees = {"old": a.old, "new": str(ROOT)} if a.old else {"new": str(ROOT)}
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(a.rounds):
        for name, tree in trees.items():
            cmd = [sys.executable, __file__, "--every", str(a.every),
                   "--worker", tree, str(work), str(records)]
            if a.gc_threshold:
                cmd[2:2] = ["--gc-threshold", a.gc_threshold]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    first = runs["new"][0]
    load = (f"loadgen {a.rate:.0f}/s" if a.rate else
            f"{a.layout} seed {a.seed} density {a.density}")
    print(f"{load}, {a.duration:.0f} s: "
          f"{first['obs']} observations in {len(pickle.loads(records.read_bytes()))} ingest "
          f"batches of {a.batch_records} readings, {first['updates']} track updates, "
          f"{first['late']} late, {first['checkpoints']} sector checkpoints; "
          f"{a.rounds} runs per tree, median\n")
    names = list(trees)
    head = " | ".join(f"{n} µs/obs" for n in names)
    print(f"| step | {head} |" + (" old / new |" if a.old else ""))
    print("|---" * (len(names) + 1 + bool(a.old)) + "|")
    total = dict.fromkeys(names, 0.0)
    for step in STEPS:
        med = {n: 1e6 * statistics.median(r["cpu"][step] for r in runs[n]) / r0["obs"]
               for n in names for r0 in [runs[n][0]]}
        if step != "tracker":
            for n in names:
                total[n] += med[n]
        cells = " | ".join(f"{med[n]:.2f}" for n in names)
        ratio = f" {med['old'] / med['new']:.2f}x |" if a.old and med["new"] else ""
        print(f"| {step} | {cells} |" + ratio)
    cells = " | ".join(f"**{total[n]:.2f}**" for n in names)
    ratio = f" **{total['old'] / total['new']:.2f}x** |" if a.old else ""
    print(f"| all but the tracker | {cells} |" + ratio)
    digests = {n: {r["digest"] for r in runs[n]} for n in names}
    same = len(set().union(*digests.values())) == 1
    print(f"\noutput digest (track records, late observations, final checkpoints): "
          f"{'identical across trees and runs' if same else digests}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
