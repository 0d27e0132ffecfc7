"""Memory soak, in process: find what grows per processed observation (issue #9).

Drives the same stages the Faust agents drive (``streams.engine``: ingest → fusion → alerts,
plus a checkpoint ``snapshot`` of every sector each simulated second) with the end-to-end
load generator (``benchmarks/loadgen.py``) on a simulated clock, faster than real time and
without a broker. Every ``--every`` simulated minutes it records the process RSS, the sizes
of the stages' per-sector structures (the ones that could grow without bound) and the
checkpoint sizes, and — with ``--tracemalloc`` — the allocation sites that grew most since
the first sample after warm-up. A structure is bounded when its size levels off while the
observation count keeps rising.

    .venv/bin/python benchmarks/soak.py --rate 2000 --minutes 30 --tracemalloc
    .venv/bin/python benchmarks/soak.py --report benchmarks/results/e2e_soak30_tansu_1000.json
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from loadgen import Border, Generator, Mix  # noqa: E402

from streams.engine import (  # noqa: E402
    AlertStage,
    Context,
    FusionStage,
    IngestStage,
    observation_dict,  # noqa: E402
)

PAGE = 4096


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 1e6


def _len(x: Any) -> int:
    try:
        return len(x)
    except TypeError:
        return -1


def structure_sizes(fusion: FusionStage, alerts: AlertStage, ingest: IngestStage
                    ) -> dict[str, int]:
    """Sizes (summed over sectors) of every dict/list/set attribute of the per-sector
    tracker and alert engine objects (one level down too), plus the stages' own maps."""
    sizes: dict[str, int] = defaultdict(int)

    def walk(prefix: str, obj: Any, depth: int) -> None:
        for name, val in vars(obj).items():
            if isinstance(val, (dict, list, set, tuple)) or hasattr(val, "__len__"):
                n = _len(val)
                if n >= 0 and not isinstance(val, (str, bytes)):
                    sizes[f"{prefix}.{name}"] += n
            if depth > 0 and hasattr(val, "__dict__") and not isinstance(val, type):
                walk(f"{prefix}.{name}", val, depth - 1)
            if depth > 0 and isinstance(val, (list, tuple)):
                for item in val:
                    if hasattr(item, "__dict__"):
                        walk(f"{prefix}.{name}[{type(item).__name__}]", item, 0)
            if depth > 0 and isinstance(val, dict):
                for item in val.values():
                    if hasattr(item, "__dict__") and not isinstance(item, type):
                        walk(f"{prefix}.{name}[{type(item).__name__}]", item, 0)

    for tr in fusion.trackers.values():
        walk("tracker", tr, 2)
    for eng in alerts.engines.values():
        walk("alerts", eng, 2)
    for eng in alerts.engines.values():  # rule history: rule.state = {table: {key: ...}}
        for rname, rule in eng.rules.items():
            for table, val in rule.state.items():
                sizes[f"rule.{rname}.{table}"] += _len(val)
                if isinstance(val, dict):  # nested per-key tables (e.g. mmsi -> {track: …})
                    sizes[f"rule.{rname}.{table}.*"] += sum(
                        _len(v) for v in val.values() if isinstance(v, (dict, list)))
    for name in ("recent", "buffers", "_raw", "_buffered_ids"):
        sizes[f"fusion.{name}"] = sum(_len(v) for v in getattr(fusion, name).values())
    walk("ingest", ingest, 2)
    return dict(sizes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    mix = Mix(rate=args.rate, sectors=args.sectors, plots_per_scan=args.plots_per_scan)
    border = Border(mix, 2)
    work = Path(tempfile.mkdtemp(prefix="bf-soak-"))
    sensors_file, zones_file = border.write(work / "scenario")
    t_sim = [time.time()]
    border.t0 = t_sim[0]  # walkers and vessels start at the simulated t = 0
    ctx = Context.from_files(sensors_file, zones_file, None,
                             reorder_window_s=args.reorder_window)
    ingest = IngestStage(ctx, now=lambda: t_sim[0])
    fusion = FusionStage(ctx)
    alerts = AlertStage(ctx)
    gen = Generator(border)
    step = args.step
    t_start = t_sim[0]
    n_obs = n_alerts = n_updates = 0
    samples: list[dict[str, Any]] = []
    base_snap = None
    top: list[dict[str, Any]] = []
    if args.tracemalloc:
        tracemalloc.start(args.frames)
    next_sample = t_start
    next_ckpt = t_start + 1.0
    wall0 = time.time()
    while t_sim[0] - t_start < args.minutes * 60.0:
        a = t_sim[0]
        t_sim[0] = b = a + step
        records = [(topic, value) for topic, _k, value, _n, _o in gen.slice(a, b)]
        results = ingest.ingest_many(records, contain=True)
        by_sector: dict[str, list[Any]] = defaultdict(list)
        for r in results:
            for o in r.observations:
                by_sector[o.sector].append(o)
        for sector, obs in by_sector.items():
            n_obs += len(obs)
            fusion.add(sector, obs, raw=[observation_dict(o) for o in obs])
            buckets, _late = fusion.advance(sector)
            for updates in buckets:
                n_updates += len(updates)
                n_alerts += len(alerts.process(sector, updates))
        if args.checkpoint and b >= next_ckpt:  # the agents checkpoint about once a second
            next_ckpt += 1.0
            for s in list(fusion.trackers):
                fusion.snapshot(s)
                alerts.snapshot(s)
        if b >= next_sample:
            next_sample += args.every * 60.0
            gc.collect()
            ck = {s: (len(json.dumps(fusion.snapshot(s))), len(json.dumps(alerts.snapshot(s))))
                  for s in sorted(fusion.trackers)}
            row = {
                "sim_s": round(b - t_start, 1),
                "wall_s": round(time.time() - wall0, 1),
                "obs": n_obs,
                "track_updates": n_updates,
                "alerts": n_alerts,
                "rss_mb": round(rss_mb(), 1),
                "checkpoint_bytes": ck,  # fusion, alerts state per sector (JSON bytes)
                "sizes": structure_sizes(fusion, alerts, ingest),
            }
            if args.tracemalloc:
                cur, peak = tracemalloc.get_traced_memory()
                row["traced_mb"] = round(cur / 1e6, 2)
                snap = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, tracemalloc.__file__)])
                if base_snap is None and b - t_start >= args.warmup * 60.0:
                    base_snap = snap
                elif base_snap is not None:
                    stats = snap.compare_to(base_snap, "traceback")[: args.top]
                    top = [{"kb": round(s.size_diff / 1e3, 1), "count": s.count_diff,
                            "where": [f"{f.filename.replace(str(ROOT) + '/', '')}:{f.lineno}"
                                      for f in s.traceback][::-1]} for s in stats]
            prev = samples[-1]["sizes"] if samples else {}
            samples.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "sizes"}), flush=True)
            if args.verbose:
                moved = {k: v for k, v in row["sizes"].items() if v != prev.get(k)}
                print("  sizes changed:", json.dumps(moved), flush=True)
    return {"rate": args.rate, "minutes": args.minutes, "samples": samples, "top_growth": top}


def report(e2e_json: Path, name: str, tail_min: float = 20.0) -> dict[str, Any]:
    """RSS over time of an ``e2e_bench.py --soak-minutes`` run: slope (least squares) over
    the last ``tail_min`` minutes of the load and the max, per process; writes
    ``benchmarks/results/<name>.{json,md,png}``."""
    import numpy as np

    doc = json.loads(e2e_json.read_text())
    run_ = doc["runs"][0]
    series = run_["rss_series"]
    t = np.array([r["t_s"] for r in series], float)
    procs = [k.removeprefix("rss_mb_") for k in series[0] if k.startswith("rss_mb_")]
    t_end = float(t.max())
    tail = t >= t_end - tail_min * 60.0
    stats: dict[str, Any] = {}
    for proc in procs:
        y = np.array([r[f"rss_mb_{proc}"] for r in series], float)
        slope = float(np.polyfit(t[tail] / 60.0, y[tail], 1)[0]) if tail.sum() >= 3 else None
        stats[proc] = {
            "start_mb": float(y[0]),
            "at_tail_start_mb": float(y[tail][0]),
            "end_mb": float(y[-1]),
            "max_mb": float(y.max()),
            "tail_slope_mb_per_min": None if slope is None else round(slope, 3),
        }
    out = {
        "source": str(e2e_json.relative_to(ROOT) if e2e_json.is_relative_to(ROOT) else e2e_json),
        "machine": doc.get("machine"),
        "broker": run_["broker"],
        "workers": run_["workers"],
        "rate": run_["target_rate"],
        "achieved_rate": run_["load"]["achieved_rate"],
        "processed_rate": run_["processed_rate"],
        "duration_s": run_["duration_s"],
        "lag_at_load_end": run_["lag_at_load_end"],
        "drain_s": run_["drain_s"],
        "lost": run_["lost"],
        "alerts": run_["alerts"],
        "sample_every_s": round(float(np.median(np.diff(t))), 1) if len(t) > 1 else None,
        "tail_minutes": tail_min,
        "rss": stats,
        "series": series,
    }
    res = ROOT / "benchmarks" / "results"
    (res / f"{name}.json").write_text(json.dumps(out, indent=1))
    md = [f"# Memory soak: {name}", "",
          f"Source: `{out['source']}` ({run_['broker']}, {run_['workers']} worker, "
          f"{run_['target_rate']:.0f} readings/s for {run_['duration_s'] / 60:.0f} min; "
          f"achieved {out['achieved_rate']:.0f}/s, processed {out['processed_rate']:.0f} obs/s, "
          f"lag at end {out['lag_at_load_end']}, drained in {out['drain_s']} s, "
          f"lost {out['lost']}).", "",
          f"| process | start MB | at t_end − {tail_min:.0f} min | end MB | max MB | "
          f"slope over the last {tail_min:.0f} min, MB/min |", "|---|---|---|---|---|---|"]
    for proc, st in stats.items():
        md.append(f"| {proc} | {st['start_mb']:.1f} | {st['at_tail_start_mb']:.1f} | "
                  f"{st['end_mb']:.1f} | {st['max_mb']:.1f} | {st['tail_slope_mb_per_min']} |")
    md += ["", "| t s | " + " | ".join(f"{p} MB" for p in procs) + " | obs | alerts |",
           "|---" * (len(procs) + 3) + "|"]
    for r in series:
        md.append(f"| {r['t_s']:.0f} | " + " | ".join(f"{r[f'rss_mb_{p}']:.1f}" for p in procs)
                  + f" | {r['obs']} | {r['alerts']} |")
    (res / f"{name}.md").write_text("\n".join(md) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        for proc in procs:
            ax.plot(t / 60.0, [r[f"rss_mb_{proc}"] for r in series], label=proc)
        ax.axvspan((t_end - tail_min * 60.0) / 60.0, t_end / 60.0, color="0.9",
                   label=f"slope window ({tail_min:.0f} min)")
        ax.set_xlabel("minutes of load")
        ax.set_ylabel("RSS, MB")
        ax.set_title(f"{name}: {run_['target_rate']:.0f} readings/s, {run_['broker']}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(res / f"{name}.png")
    except ImportError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=2000.0)
    p.add_argument("--minutes", type=float, default=10.0, help="simulated minutes")
    p.add_argument("--every", type=float, default=1.0, help="sample every N simulated minutes")
    p.add_argument("--warmup", type=float, default=2.0, help="tracemalloc baseline after N min")
    p.add_argument("--step", type=float, default=0.25, help="simulated seconds per slice")
    p.add_argument("--sectors", type=int, default=4)
    p.add_argument("--plots-per-scan", type=int, default=80)
    p.add_argument("--reorder-window", type=float, default=2.0)
    p.add_argument("--tracemalloc", action="store_true")
    p.add_argument("--checkpoint", action="store_true",
                   help="snapshot every sector each simulated second, as the agents do")
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("-v", "--verbose", action="store_true", help="print changed sizes per sample")
    p.add_argument("--out", type=Path, help="write the samples here (JSON)")
    p.add_argument("--report", type=Path, metavar="E2E_JSON",
                   help="instead: RSS slope/max/plot of an e2e_bench.py --soak-minutes result")
    p.add_argument("--name", default="soak_30min", help="with --report: results file name")
    p.add_argument("--tail-minutes", type=float, default=20.0,
                   help="with --report: fit the RSS slope over the last N minutes")
    a = p.parse_args(argv)
    if a.report:
        out = report(a.report, a.name, a.tail_minutes)
        print(json.dumps(out["rss"], indent=1))
        return 0
    res = run(a)
    first, last = res["samples"][1] if len(res["samples"]) > 1 else {}, res["samples"][-1]
    grew = {k: (first.get("sizes", {}).get(k), v) for k, v in last["sizes"].items()
            if v != first.get("sizes", {}).get(k)}
    print("\nstructure sizes, first sample after t=0 -> last:")
    for k, (x, y) in sorted(grew.items(), key=lambda kv: -(kv[1][1] - (kv[1][0] or 0))):
        print(f"  {k}: {x} -> {y}")
    if res["top_growth"]:
        print("\ntop allocation growth since warm-up:")
        for s in res["top_growth"]:
            print(f"  {s['kb']:>9} kB {s['count']:>7}  {' <- '.join(s['where'][-3:][::-1])}")
    if a.out:
        a.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
