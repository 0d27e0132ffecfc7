"""Alert-engine throughput: track updates per CPU second through ``AlertStage.process``.

The loadgen mix (``--rate`` readings/s over 16 sectors, as ``release_delay.py``) goes once
through ingest and fusion; the track-update batches it yields (per sector, per bucket) are
saved, then replayed into a fresh ``AlertStage`` and timed with the process CPU clock, so
every tree sees the same updates in the same order and only the alert engine is measured.

    .venv/bin/python benchmarks/alert_engine_cost.py                       # this tree
    .venv/bin/python benchmarks/alert_engine_cost.py --compare /tmp/bf_before
        # updates made once (by the --compare tree), then both trees alternately: updates/s,
        # after/before, and whether both raised the same alerts
    .venv/bin/python benchmarks/alert_engine_cost.py --bucket 0.1 --compare /tmp/bf_before
        # the updates of 0.1 s fusion buckets: smaller, more frequent calls (issue 9)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_updates(rate: float, seconds: float, out: Path, bucket_s: float | None = None,
                 step: float = 0.2) -> None:
    """Ingest + fusion over the loadgen mix; write the scenario and the update batches
    (``bucket_s``: the fusion bucket, default the engine's; ``step``: arrival batches, s)."""
    from streams.engine import Context, FusionStage, IngestStage  # before loadgen, which

    sys.path.insert(0, str(ROOT / "benchmarks"))  # puts its own tree on sys.path
    from loadgen import Border, Generator, Mix

    out.mkdir(parents=True, exist_ok=True)
    border = Border(Mix(rate=rate, sectors=16), 2)
    sensors, zones = border.write(out)
    kw = {} if bucket_s is None else {"bucket_s": bucket_s}
    ctx = Context.from_files(sensors, zones, max_reading_age_s=0, **kw)
    gen = Generator(border)
    ingest, fusion = IngestStage(ctx, now=lambda: float("nan")), FusionStage(ctx)
    batches: list[dict] = []
    t0 = 1.0e9
    for k in range(int(seconds / step)):
        a, b = t0 + k * step, t0 + (k + 1) * step
        records = [(topic, value) for topic, _key, value, *_ in gen.slice(a, b)]
        by_sector: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
        for res in ingest.ingest_many(records):
            for o in res.observations:
                by_sector[o.sector].append(o)
        for sector, obs in by_sector.items():
            fusion.add(sector, obs)
        for sector in sorted(fusion.buffers):
            for bucket in fusion.advance(sector)[0]:
                batches.append({"sector": sector, "updates": [u.to_dict() for u in bucket]})
    (out / "updates.json").write_text(json.dumps(
        {"sensors": str(sensors), "zones": str(zones), "batches": batches}))


def measure(path: Path, repeat: int) -> dict:
    """Median CPU seconds to run every batch through a fresh ``AlertStage``; alert digest."""
    from fusion.types import TrackUpdate
    from streams.engine import AlertStage, Context

    data = json.loads((path / "updates.json").read_text())
    ctx = Context.from_files(data["sensors"], data["zones"], max_reading_age_s=0)
    batches = [(b["sector"], [TrackUpdate.from_dict(u) for u in b["updates"]])
               for b in data["batches"]]
    n_updates = sum(len(u) for _, u in batches)
    times, digest, n_alerts = [], "", 0
    for _ in range(repeat):
        stage = AlertStage(dataclasses.replace(ctx))
        stage.zones()
        for sector in {s for s, _ in batches}:
            stage.engine(sector)  # built outside the timing: zones and rules load once
        out = []
        c0 = time.process_time()
        for sector, ups in batches:
            out.extend(stage.process(sector, ups))
        times.append(time.process_time() - c0)
        # the alert's position apart: round 6's geodesy moves it by nanometres
        digest = hashlib.sha256(json.dumps(
            [{**a.to_dict(), "lat": 0, "lon": 0} for a in out], sort_keys=True, default=str
        ).encode()).hexdigest()[:16]
        n_alerts = len(out)
    cpu = statistics.median(times)
    import fusion.alerts

    return {"code": fusion.alerts.__file__, "updates": n_updates, "batches": len(batches), "alert_records": n_alerts,
            "cpu_s": cpu, "updates_per_cpu_s": n_updates / cpu, "digest": digest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="alternations with --compare")
    ap.add_argument("--compare", metavar="DIR", help="tree to compare with (the 'before')")
    ap.add_argument("--updates", metavar="DIR", help="reuse (or write) the updates here")
    ap.add_argument("--bucket", type=float, default=None, metavar="S",
                    help="fusion bucket of the updates (default: the engine's)")
    ap.add_argument("--batch", type=float, default=0.2, metavar="S",
                    help="arrival batches of the updates' fusion run, s (release_delay.py: 0.05)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    work = Path(a.updates or tempfile.mkdtemp(prefix="bf-alert-cost-"))
    if not a.compare:
        if not a.json:  # with --json the caller's PYTHONPATH picks the tree
            sys.path.insert(0, str(ROOT))
        if not (work / "updates.json").exists():
            make_updates(a.rate, a.seconds, work, a.bucket, a.batch)
        r = measure(work, a.repeat)
        print(json.dumps(r) if a.json else json.dumps(r, indent=1))
        return
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    me = str(Path(__file__).resolve())
    for _ in range(a.rounds):
        for label, path in (("before", a.compare), ("after", str(ROOT))):
            env = {**os.environ, "PYTHONPATH": path}
            args = ["--json", "--repeat", str(a.repeat), "--updates", str(work),
                    "--rate", str(a.rate), "--seconds", str(a.seconds),
                    "--batch", str(a.batch),
                    *(["--bucket", str(a.bucket)] if a.bucket is not None else [])]
            out = subprocess.run(
                [sys.executable, "-c",
                 f"import sys, runpy; sys.argv=['x', *{args!r}]; "
                 f"runpy.run_path({me!r}, run_name='__main__')"],
                env=env, capture_output=True, text=True, check=True, cwd="/",
            ).stdout
            runs[label].append(json.loads(out.strip().splitlines()[-1]))
    b, f = runs["before"][0], runs["after"][0]
    same = {r["digest"] for r in runs["before"] + runs["after"]}
    print(f"{b['updates']} track updates in {b['batches']} batches ({a.rate:.0f}/s for "
          f"{a.seconds:.0f} s); alert records before/after {b['alert_records']}/"
          f"{f['alert_records']}; same alerts (position apart): {len(same) == 1}")
    for label in runs:
        print(f"{label}: {sorted({r['code'] for r in runs[label]})}")
    ub = statistics.median(r["updates_per_cpu_s"] for r in runs["before"])
    ua = statistics.median(r["updates_per_cpu_s"] for r in runs["after"])
    print(f"updates per CPU second: before {ub:.0f}, after {ua:.0f}, after/before {ua / ub:.2f}")


if __name__ == "__main__":
    main()
