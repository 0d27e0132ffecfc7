"""Alert quality on simulated scenarios: seeds × layouts, replayed in-process and scored.

For each (seed, layout) the simulator writes a scenario, the offline pipeline (the same
stages as ``borderfusion replay``) turns its readings into alerts, and ``fusion.scoring``
matches them to the truth. Per rule the counts are summed over all scenarios: recall,
precision, time-to-alert (median and worst over every detected event), false alerts per
sector-hour; plus the share of crossings warned by an approach alert beforehand.

    python benchmarks/alert_quality.py            # seeds 1-4 × river/forest/mixed, 600 s
    python benchmarks/alert_quality.py --quick    # seed 1 × the three layouts (make bench)
    python benchmarks/alert_quality.py --tracker '{"adaptive": false}'   # other TrackerConfig
    python benchmarks/alert_quality.py --quick --explain --name trial   # + trial_explain.md
    python benchmarks/alert_quality.py --bucket 0.1 --name b010   # another fusion bucket
    python benchmarks/alert_quality.py --rules my_rules.yaml --name trial   # a rules.yaml

``--tracker`` runs the engine with ``fusion.tracker.engine_config(JSON)`` (the engine's
tracker settings with JSON's TrackerConfig fields on top), to measure a tracker setting
before the engine adopts it. Writes
``benchmarks/results/alert_quality.md`` and ``.json`` (``--name`` changes the stem).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

from fusion.geofence import Zones  # noqa: E402
from fusion.scoring import ScoreParams, score_files  # noqa: E402
from sensors.recorded import BadLine, iter_recorded  # noqa: E402
from sensors.simulate import build_scenario, write_scenario  # noqa: E402
from streams.engine import Context, FusionStage  # noqa: E402
from streams.replay import OfflinePipeline, write_alerts  # noqa: E402

TARGETS = {
    "border_crossing": {"recall": 0.95, "precision": 0.90, "tta_median_s": 5.0},
    "dark_vessel": {"recall": 0.95, "precision": 0.90},
}
APPROACH_BEFORE_CROSSING = 0.90
FALSE_PER_SECTOR_HOUR = 1.0


class ConfiguredFusion(FusionStage):
    """The engine's fusion stage with an explicit TrackerConfig (what ``--tracker`` measures)."""

    def __init__(self, ctx: Context, tracker_cfg: dict[str, Any]) -> None:
        super().__init__(ctx)
        self.tracker_overrides = tracker_cfg


def run_one(
    seed: int,
    layout: str,
    duration: float,
    work: Path,
    tracker_cfg: dict[str, Any] | None,
    explain: bool = False,
    friendly: bool = True,
    bucket_s: float | None = None,
    rules_file: Path | None = None,
) -> dict[str, Any]:
    """Simulate, replay in-process (as ``borderfusion replay``), score; one result dict.

    With ``explain`` the dict also carries ``explain`` (see ``benchmarks/alert_explain.py``).
    """
    sdir, odir = work / f"{layout}-{seed}", work / f"{layout}-{seed}-out"
    scenario = build_scenario(seed, duration, layout)
    write_scenario(scenario, sdir)
    kw = {} if bucket_s is None else {"bucket_s": bucket_s}
    ctx = Context.from_scenario(sdir, rules_file, max_reading_age_s=0, **kw)
    t0 = time.perf_counter()
    tracks: list[Any] = []
    pipe = OfflinePipeline(ctx, on_tracks=(lambda _s, ups: tracks.extend(ups)) if explain else None)
    if tracker_cfg:
        pipe.fusion = ConfiguredFusion(ctx, tracker_cfg)
    for item in iter_recorded(sdir / "readings.jsonl"):
        if not isinstance(item, BadLine) and (friendly or item.topic != "readings.friendly"):
            pipe.feed(item.topic, item.value)
    result = pipe.finish()
    seconds = time.perf_counter() - t0
    odir.mkdir(parents=True, exist_ok=True)
    write_alerts(odir / "alerts.jsonl", result.alerts.values())
    scored = score_files(sdir, odir / "alerts.jsonl", ScoreParams())
    scored.update(seed=seed, layout=layout, replay_s=round(seconds, 1))
    if explain:
        from alert_explain import explain as explain_run

        truth = [json.loads(x) for x in (sdir / "truth.jsonl").read_text().splitlines() if x]
        alerts = [json.loads(x) for x in (odir / "alerts.jsonl").read_text().splitlines() if x]
        zones = Zones.load(str(sdir / "zones.geojson"))
        roles = {tg.id: tg.role for tg in scenario.targets}
        scored["explain"] = explain_run(truth, alerts, zones, roles, tracks, ScoreParams())
    return scored


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum counts per rule over runs; time-to-alert over every detected event."""
    sector_hours = sum(r["hours"] * max(r["sectors"], 1) for r in runs)
    per: dict[str, dict[str, Any]] = {}
    for run in runs:
        for row in run["rules"]:
            if not row["scored"]:
                continue
            acc = per.setdefault(
                row["rule"], {"events": 0, "detected": 0, "alerts": 0, "true_alerts": 0, "tta": []}
            )
            for k in ("events", "detected", "alerts", "true_alerts"):
                acc[k] += row[k]
            acc["tta"].extend(row.get("tta_s") or [])
    rows = []
    for rule in sorted(per):
        a = per[rule]
        false = a["alerts"] - a["true_alerts"]
        rows.append(
            {
                "rule": rule,
                "events": a["events"],
                "detected": a["detected"],
                "alerts": a["alerts"],
                "false_alerts": false,
                "recall": a["detected"] / a["events"] if a["events"] else None,
                "precision": a["true_alerts"] / a["alerts"] if a["alerts"] else None,
                "tta_median_s": float(np.median(a["tta"])) if a["tta"] else None,
                "tta_worst_s": float(np.max(a["tta"])) if a["tta"] else None,
                "false_per_sector_hour": false / sector_hours if sector_hours else None,
            }
        )
    n_cross = sum(r["approach_before_crossing"]["crossings"] for r in runs)
    n_warn = sum(r["approach_before_crossing"]["warned"] for r in runs)
    n_false = sum(r["false_alerts"] for r in rows)
    return {
        "sector_hours": sector_hours,
        "rules": rows,
        "approach_before_crossing": {
            "crossings": n_cross,
            "warned": n_warn,
            "fraction": n_warn / n_cross if n_cross else None,
        },
        "false_per_sector_hour": n_false / sector_hours if sector_hours else None,
    }


def check_targets(agg: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {r["rule"]: r for r in agg["rules"]}
    out = []
    for rule, goals in TARGETS.items():
        r = rows.get(rule, {})
        for key, goal in goals.items():
            v = r.get(key)
            ok = v is not None and (v <= goal if key.startswith("tta") else v >= goal)
            out.append({"what": f"{rule} {key}", "goal": goal, "value": v, "ok": ok})
    abc = agg["approach_before_crossing"]["fraction"]
    out.append(
        {
            "what": "approach before crossing",
            "goal": APPROACH_BEFORE_CROSSING,
            "value": abc,
            "ok": abc is not None and abc >= APPROACH_BEFORE_CROSSING,
        }
    )
    fsh = agg["false_per_sector_hour"]
    out.append(
        {
            "what": "false alerts per sector-hour (all scored rules)",
            "goal": FALSE_PER_SECTOR_HOUR,
            "value": fsh,
            "ok": fsh is not None and fsh <= FALSE_PER_SECTOR_HOUR,
        }
    )
    return out


def _f(v: Any, pct: bool = False, digits: int = 1) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.0f} %" if pct else f"{v:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    agg = report["aggregate"]
    lines = [
        "# Alert quality on simulated scenarios",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Scenarios: seeds {report['seeds']} × layouts {report['layouts']}, "
        f"{report['duration_s']:.0f} s each ({agg['sector_hours']:.2f} sector-hours); "
        f"tracker config: `{json.dumps(report['tracker'])}`; fusion bucket "
        f"{report['bucket_s']:g} s; rules {report.get('rules') or 'shipped defaults'}; "
        f"wall time {report['wall_s']:.0f} s.",
        "",
        "| rule | events | found | recall | alerts | false | precision | TTA median s | "
        "TTA worst s | false / sector-h |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in agg["rules"]:
        lines.append(
            f"| {r['rule']} | {r['events']} | {r['detected']} | {_f(r['recall'], True)} | "
            f"{r['alerts']} | {r['false_alerts']} | {_f(r['precision'], True)} | "
            f"{_f(r['tta_median_s'])} | {_f(r['tta_worst_s'])} | "
            f"{_f(r['false_per_sector_hour'], digits=2)} |"
        )
    abc = agg["approach_before_crossing"]
    lines += [
        "",
        f"Approach alert before the crossing: {abc['warned']}/{abc['crossings']} crossings "
        f"({_f(abc['fraction'], True)}). False alerts per sector-hour, all scored rules: "
        f"{_f(agg['false_per_sector_hour'], digits=2)}.",
        "",
        "| target | goal | measured | met |",
        "|---|---:|---:|---|",
    ]
    for t in report["targets"]:
        pct = "recall" in t["what"] or "precision" in t["what"] or "approach" in t["what"]
        lines.append(
            f"| {t['what']} | {_f(t['goal'], pct)} | {_f(t['value'], pct)} | "
            f"{'yes' if t['ok'] else 'NO'} |"
        )
    lines += [
        "",
        "Per scenario (overall recall / precision / false per sector-hour, replay seconds):",
        "",
    ]
    for run in report["runs"]:
        o = run["overall"]
        lines.append(
            f"- {run['layout']} seed {run['seed']}: {_f(o['recall'], True)} / "
            f"{_f(o['precision'], True)} / {_f(o['false_per_sector_hour'], digits=1)}"
            f" ({run['replay_s']} s)"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--layouts", nargs="+", default=["river", "forest", "mixed"])
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--quick", action="store_true", help="seed 1 only (about 2-3 min)")
    ap.add_argument(
        "--tracker",
        default="",
        metavar="JSON",
        help="TrackerConfig overrides on the engine's settings, e.g. '{\"adaptive\": true}'",
    )
    ap.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--name", default="alert_quality", help="output file stem")
    ap.add_argument(
        "--explain",
        action="store_true",
        help="also write <name>_explain.md: every false alert and missed event per scenario "
        "with its likely cause (benchmarks/alert_explain.py)",
    )
    ap.add_argument(
        "--no-friendly",
        action="store_true",
        help="leave out the patrols' blue-force tracking feed (readings.friendly): the "
        "same scenarios as a deployment without BFT, for a before/after in one tree",
    )
    ap.add_argument(
        "--bucket",
        type=float,
        default=None,
        metavar="S",
        help="fusion time bucket in s (default: the engine's, settings.fusion_bucket_s): "
        "how often the tracker and the rules are called",
    )
    ap.add_argument(
        "--rules",
        type=Path,
        default=None,
        metavar="FILE",
        help="a rules.yaml to measure instead of the shipped defaults (keys it leaves out "
        "keep their defaults), e.g. before deploying it",
    )
    args = ap.parse_args(argv)
    seeds = [1] if args.quick else args.seeds
    tracker_cfg = json.loads(args.tracker) if args.tracker else {}
    t0 = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bf-aq-") as tmp:
        for layout in args.layouts:
            for seed in seeds:
                run = run_one(seed, layout, args.duration, Path(tmp), tracker_cfg, args.explain,
                              not args.no_friendly, args.bucket, args.rules)
                o = run["overall"]
                print(
                    f"{layout:>6} seed {seed}: recall {_f(o['recall'], True)}, precision "
                    f"{_f(o['precision'], True)}, {run['alerts']} alerts "
                    f"({run['replay_s']} s)",
                    flush=True,
                )
                runs.append(run)
    agg = aggregate(runs)
    report = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in ["benchmarks/alert_quality.py", *sys.argv[1:]]),
        "machine": f"{platform.node() or 'host'}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "seeds": seeds,
        "layouts": args.layouts,
        "duration_s": args.duration,
        "tracker": tracker_cfg,
        "rules": str(args.rules) if args.rules else None,
        "bucket_s": args.bucket if args.bucket is not None else Context.bucket_s,
        "wall_s": time.perf_counter() - t0,
        "aggregate": agg,
        "targets": check_targets(agg),
        "runs": [{k: v for k, v in r.items() if k not in ("params", "explain")} for r in runs],
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    md = markdown(report)
    (args.out_dir / f"{args.name}.md").write_text(md, encoding="utf-8")
    (args.out_dir / f"{args.name}.json").write_text(
        json.dumps(report, indent=1) + "\n", encoding="utf-8"
    )
    if args.explain:
        from alert_explain import markdown as explain_md

        lines = [
            "# Alert quality: false alerts and missed events, with likely causes",
            "",
            f"Command: `{report['command']}`. Causes are heuristics over the simulator's "
            "truth (see `benchmarks/alert_explain.py`); times are seconds into the scenario.",
            "",
        ]
        for run in runs:
            lines += explain_md(f"{run['layout']} seed {run['seed']}", run["explain"])
        path = args.out_dir / f"{args.name}_explain.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        print(f"explanations: {path}")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
