"""How long fusion holds an observation before the tracker sees it (the design's latency
floor, no CPU or broker in it): the loadgen mix goes through ``IngestStage`` and
``FusionStage`` in arrival order, one batch per ``--batch`` s of wall time, and each
observation's hold is the arrival time of the batch that released it minus its event time.
Also the CPU the fusion stage (tracker included) spends per second of load, per rule: a
smaller bucket means more tracker calls; and the ingest stage's (validation,
geo-referencing, sector assignment), which no rule changes.

``--skew S`` delays every record of the non-radar topics by a random 0-S s (rounded up to
a batch), as a broker's per-topic fetches do: those observations arrive behind the release
and take the tracker's out-of-sequence path (applied or absorbed) or, beyond
``fusion_late_tolerance_s``, the dead-letter topic (the ``late`` column).

    .venv/bin/python benchmarks/release_delay.py --rate 2000 --seconds 30
    .venv/bin/python benchmarks/release_delay.py --rate 2000 --seconds 30 --skew 0.3

``--idle-flush``: a sector that got nothing in a batch is flushed (``advance(flush=True)``),
what a fusion agent timer at the batch interval would do; without it a sector's last
bucket waits for the sector's next reading (the p99 of a sparse sector).
    .venv/bin/python benchmarks/release_delay.py --only 3 --repeat 3 --compare /tmp/bf_before
        # this tree and DIR alternately (same script and load): CPU after/before
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# ``--tree DIR`` (used by --compare): the project code from DIR, the load generator from here
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(ROOT)
sys.path.insert(0, _TREE)

# the project first: loadgen puts its own tree on sys.path when imported
from streams.engine import AlertStage, Context, FusionStage, IngestStage  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from loadgen import Border, Generator, Mix  # noqa: E402


def hold_times(ctx: Context, border: Border, seconds: float, batch_s: float,
               skew_s: float = 0.0, idle_flush: bool = False) -> dict[str, float]:
    gen = Generator(border)
    ingest, fusion = IngestStage(ctx, now=lambda: float("nan")), FusionStage(ctx)
    alerts = AlertStage(ctx)
    holds: list[float] = []
    late = 0
    cpu = 0.0
    ingest_cpu = 0.0
    alert_cpu = 0.0
    published: list[tuple[str, list]] = []  # type: ignore[type-arg]
    t0 = 1.0e9
    steps = int(seconds / batch_s)
    rng = np.random.default_rng(7)
    delayed: dict[int, list[tuple[str, bytes]]] = defaultdict(list)  # batch -> records
    for k in range(steps):
        a, b = t0 + k * batch_s, t0 + (k + 1) * batch_s
        records = delayed.pop(k, [])
        for topic, _key, value, *_ in gen.slice(a, b):
            lag = 0 if skew_s <= 0 or topic.endswith("radar") else \
                int(np.ceil(rng.uniform(0, skew_s) / batch_s))
            if lag:
                delayed[k + lag].append((topic, value))
            else:
                records.append((topic, value))
        by_sector: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
        c0 = time.process_time()
        for res in ingest.ingest_many(records):
            for o in res.observations:
                by_sector[o.sector].append(o)
        ingest_cpu += time.process_time() - c0
        c0 = time.process_time()
        for sector, obs in by_sector.items():
            late += len(fusion.add(sector, obs))
        for sector in list(fusion.buffers):
            before = {o.obs_id: o.t for o in fusion.buffers[sector]}
            buckets, tr_late = fusion.advance(sector, flush=idle_flush and sector not in by_sector)
            late += len(tr_late)
            published += [(sector, b) for b in buckets]
            left = {o.obs_id for o in fusion.buffers[sector]}
            if k * batch_s > 5.0:  # after the warm-up
                holds += [b - t for oid, t in before.items() if oid not in left]
        cpu += time.process_time() - c0
        c0 = time.process_time()  # the alerts hop: one call per published bucket
        for sector, updates in published:
            alerts.process(sector, updates)
        published.clear()
        alert_cpu += time.process_time() - c0
    h = np.asarray(holds)
    absorbed = sum(getattr(fusion, "absorbed", {}).values())  # (a --compare tree: none)
    return {"released": len(h), "late": late, "absorbed": absorbed,
            "p50_ms": round(float(np.percentile(h, 50)) * 1e3, 1),
            "p99_ms": round(float(np.percentile(h, 99)) * 1e3, 1),
            "cpu_s_per_s": round(cpu / seconds, 3),
            "ingest_cpu_s_per_s": round(ingest_cpu / seconds, 3),
            "alert_cpu_s_per_s": round(alert_cpu / seconds, 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=2000.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--batch", type=float, default=0.05, help="arrival batch, s (take_events)")
    p.add_argument("--skew", type=float, default=0.0,
                   help="delay non-radar records by up to this many s (cross-topic skew)")
    p.add_argument("--idle-flush", action="store_true",
                   help="flush a sector that got nothing in a batch (an agent timer)")
    p.add_argument("--only", type=int, nargs="*", metavar="ROW",
                   help="run these rows of the table only (0-based), e.g. --only 3")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each row this many times (CPU on a shared box: take the minimum)")
    p.add_argument("--compare", metavar="DIR",
                   help="also run the tree DIR (the 'before'), alternating, and print ratios")
    p.add_argument("--rounds", type=int, default=2, help="alternations with --compare")
    p.add_argument("--tree", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.compare:
        return compare(a)
    work = Path(tempfile.mkdtemp(prefix="bf-hold-"))
    border = Border(Mix(rate=a.rate, sectors=16), 2)
    sensors, zones = border.write(work)
    base = Context.from_files(sensors, zones, max_reading_age_s=0)
    rows = [("window 2 s, bucket 1 s (round 2)", dict(sensor_idle_s=0.0, bucket_s=1.0)),
            ("window 2 s, bucket 0.25 s", dict(sensor_idle_s=0.0, bucket_s=0.25)),
            ("sensors idle 2 s, bucket 0.25 s", dict(sensor_idle_s=2.0, bucket_s=0.25)),
            ("sensors idle 0.5 s, bucket 0.25 s", dict(sensor_idle_s=0.5, bucket_s=0.25)),
            ("sensors idle 0.25 s, bucket 0.1 s", dict(sensor_idle_s=0.25, bucket_s=0.1)),
            ("sensors idle 0.1 s, bucket 0.05 s", dict(sensor_idle_s=0.1, bucket_s=0.05)),
            ("sensors idle 0.5 s, bucket 1 s (defaults of rounds 5-6)",
             dict(sensor_idle_s=0.5, bucket_s=1.0)),
            ("sensors idle 0.05 s, bucket 0.05 s", dict(sensor_idle_s=0.05, bucket_s=0.05)),
            ("sensors idle 0.05 s, bucket 0.1 s", dict(sensor_idle_s=0.05, bucket_s=0.1)),
            ("sensors idle 0.1 s, bucket 0.1 s", dict(sensor_idle_s=0.1, bucket_s=0.1)),
            ("sensors idle 0.05 s, bucket 0.25 s (default since round 7)",
             dict(sensor_idle_s=0.05, bucket_s=0.25)),
            ("sensors idle 0.1 s, bucket 0.25 s", dict(sensor_idle_s=0.1, bucket_s=0.25)),
            ("sensors idle 0.05 s, bucket 0.5 s", dict(sensor_idle_s=0.05, bucket_s=0.5))]
    if not a.json:
        flush = ", idle flush" if a.idle_flush else ""
        print(f"| release rule (rate {a.rate:.0f}/s, batches of {a.batch} s, skew {a.skew} s"
              f"{flush}) "
              "| hold p50 ms | hold p99 ms | late | absorbed | fusion CPU s per s of load "
              "| ingest CPU s per s | alerts CPU s per s |\n|---|---|---|---|---|---|---|---|")
    results = {}
    for i, (name, kw) in enumerate(rows):
        if a.only and i not in a.only:
            continue
        runs = [hold_times(dataclasses.replace(base, **kw), border, a.seconds, a.batch, a.skew,
                           a.idle_flush) for _ in range(a.repeat)]
        r = min(runs, key=lambda x: x["cpu_s_per_s"])
        r["ingest_cpu_s_per_s"] = min(x["ingest_cpu_s_per_s"] for x in runs)
        r["alert_cpu_s_per_s"] = min(x["alert_cpu_s_per_s"] for x in runs)
        results[name] = r
        if not a.json:
            print(f"| {name} | {r['p50_ms']} | {r['p99_ms']} | {r['late']} | {r['absorbed']} "
                  f"| {r['cpu_s_per_s']} "
                  f"| {r['ingest_cpu_s_per_s']} | {r['alert_cpu_s_per_s']} |")
    if a.json:
        import streams.engine

        print(json.dumps({**results, "_code": streams.engine.__file__}))
    return 0


def compare(a: argparse.Namespace) -> int:
    """This tree and ``a.compare`` alternately, same script and load; CPU after/before."""
    args = ["--rate", str(a.rate), "--seconds", str(a.seconds), "--batch", str(a.batch),
            "--skew", str(a.skew), *(["--idle-flush"] if a.idle_flush else []),
            "--repeat", str(a.repeat), "--json"]
    if a.only:
        args += ["--only", *map(str, a.only)]
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(a.rounds):
        for label, tree in (("before", a.compare), ("after", _TREE)):
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args,
                                  "--tree", tree], capture_output=True, text=True, check=True,
                                 cwd="/").stdout
            runs[label].append(json.loads(out.strip().splitlines()[-1]))
    print(f"| release rule (rate {a.rate:.0f}/s, {a.seconds:.0f} s, skew {a.skew} s) "
          "| fusion CPU s/s before | after | after/before | ingest CPU s/s before | after "
          "| after/before | alerts CPU s/s before | after | after/before | late b/a "
          "| absorbed after | hold p50/p99 ms b | a |\n|" + "---|" * 14)
    for label in runs:  # each tree ran its own code
        print(f"{label}: {sorted({r.pop('_code') for r in runs[label]})}")
    for name in runs["before"][0]:
        row = [name]
        for key in ("cpu_s_per_s", "ingest_cpu_s_per_s", "alert_cpu_s_per_s"):
            b = statistics.median(r[name][key] for r in runs["before"])
            f = statistics.median(r[name][key] for r in runs["after"])
            row += [f"{b:.3f}", f"{f:.3f}", f"{f / b:.2f}"]
        rb, ra = runs["before"][0][name], runs["after"][0][name]
        row += [f"{rb['late']}/{ra['late']}", str(ra["absorbed"]),
                f"{rb['p50_ms']:.0f}/{rb['p99_ms']:.0f}", f"{ra['p50_ms']:.0f}/{ra['p99_ms']:.0f}"]
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
