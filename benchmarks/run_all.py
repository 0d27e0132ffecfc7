"""``make bench``: every benchmark with short defaults, then ``benchmarks/results/SUMMARY.md``.

Runs the tracker benchmark (``--quick``), the alert-quality benchmark (``--quick``, if
present), and the end-to-end benchmark on the embedded Tansu broker and on Apache Kafka:
one worker at the target rate, one worker vs two workers at an overload rate (the scale-out
ratio), and a soak for RSS over time. Defaults are short so ``make bench`` fits in about
25 minutes; ``--full`` gives the issue's figures (5-minute runs, 30-minute soak).

    .venv/bin/python benchmarks/run_all.py                 # short: 60 s runs, 3-minute soak
    .venv/bin/python benchmarks/run_all.py --full          # 5-minute runs, 30-minute soak
    .venv/bin/python benchmarks/run_all.py --skip-kafka --skip-tracker
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import e2e_bench  # noqa: E402


def run_script(argv: list[str], log: list[str]) -> bool:
    # The summary names scripts relative to the checkout so its commands work anywhere.
    shown = " ".join(["python", *(a.replace(f"{ROOT}/", "") for a in argv)])
    print("$", shown, flush=True)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT)
    log.append(f"`{shown}` → exit {proc.returncode} in {time.monotonic() - t0:.0f} s")
    return proc.returncode == 0


def e2e(name: str, argv: list[str], log: list[str]) -> dict[str, Any] | None:
    ok = run_script([str(BENCH / "e2e_bench.py"), "--name", name, *argv], log)
    path = RESULTS / f"e2e_{name}.json"
    if not ok or not path.exists():
        return None
    run = json.loads(path.read_text())["runs"][0]
    run["name"] = name
    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="5-minute runs and a 30-minute soak")
    p.add_argument("--duration", type=float, help="seconds per e2e run (default 60; 300 full)")
    p.add_argument("--soak-minutes", type=float, help="soak length (default 3; 30 full)")
    p.add_argument("--rate", type=float, default=10_000.0)
    p.add_argument(
        "--overload-rate",
        type=float,
        default=20_000.0,
        help="input rate of the 1-vs-2-worker scale-out runs",
    )
    p.add_argument("--skip-kafka", action="store_true")
    p.add_argument("--skip-tansu", action="store_true")
    p.add_argument("--skip-tracker", action="store_true")
    p.add_argument("--skip-soak", action="store_true")
    a = p.parse_args(argv)
    duration = a.duration or (300.0 if a.full else 60.0)
    soak = a.soak_minutes or (30.0 if a.full else 3.0)
    log: list[str] = []
    sections: list[str] = []

    if not a.skip_tracker:
        run_script([str(BENCH / "tracker_bench.py"), "--quick"], log)
        md = RESULTS / "tracker_bench_quick.md"
        if md.exists():
            sections += ["## Tracker (tracker_bench.py --quick)", "", md.read_text(), ""]
    aq = BENCH / "alert_quality.py"
    if aq.exists():
        # Its own stem: the full set's alert_quality.md (README table) is not overwritten.
        run_script([str(aq), "--quick", "--name", "alert_quality_quick"], log)
        md = RESULTS / "alert_quality_quick.md"
        if md.exists():
            sections += ["## Alert quality (alert_quality.py --quick)", "", md.read_text(), ""]
    else:
        print("benchmarks/alert_quality.py not present: skipped")
        log.append("alert_quality.py: not present, skipped")

    runs: list[dict[str, Any]] = []
    brokers = [b for b in ("tansu", "kafka") if not getattr(a, f"skip_{b}")]
    common = ["--duration", str(duration)]
    for b in brokers:
        for name, extra in (
            (f"{b}_w1_{int(a.rate)}", ["--rate", str(a.rate), "--py-spy", "20"]),
            (f"{b}_w1_{int(a.overload_rate)}", ["--rate", str(a.overload_rate)]),
            (f"{b}_w2_{int(a.overload_rate)}", ["--rate", str(a.overload_rate), "--workers", "2"]),
        ):
            r = e2e(name, ["--broker", b, *common, *extra], log)
            if r:
                runs.append(r)
    if not a.skip_soak and brokers:
        r = e2e(
            f"{brokers[0]}_soak",
            ["--broker", brokers[0], "--rate", str(a.rate), "--soak-minutes", str(soak)],
            log,
        )
        if r:
            runs.append(r)

    lines = [
        "# Benchmark summary",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in e2e_bench.machine().items()),
        "",
        f"Mode: {'full' if a.full else 'short (make bench)'}: e2e runs of {duration:.0f} s, "
        f"soak of {soak:.0f} min" + ("" if a.full else " (the full runs: `--full`)"),
        "",
    ]
    if runs:
        lines += ["## End to end", "", e2e_bench.table(runs), ""]
        lines += scale_out(runs)
        for r in runs:
            prof = (r.get("profile_worker0") or {}).get("busy_share_by_area")
            if prof:
                lines += [
                    f"Worker CPU by area, {r['name']} (py-spy):",
                    "",
                    "| area | share |",
                    "|---|---|",
                ]
                lines += [f"| {k} | {100 * v:.1f} % |" for k, v in prof.items()]
                lines.append("")
        soak_runs = [r for r in runs if r["name"].endswith("_soak")]
        for r in soak_runs:
            lines += [
                f"RSS over time ({r['name']}): see `benchmarks/results/e2e_{r['name']}.md`",
                "",
            ]
    lines += sections + ["## Commands", ""] + [f"* {x}" for x in log] + [""]
    (RESULTS / "SUMMARY.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def scale_out(runs: list[dict[str, Any]]) -> list[str]:
    out = [
        "Scale-out (same overload input, 2 partitions per topic):",
        "",
        "| broker | 1 worker obs/s | 2 workers obs/s | ratio |",
        "|---|---|---|---|",
    ]
    by = {r["name"]: r for r in runs}
    for b in ("tansu", "kafka"):
        one = [r for n, r in by.items() if n.startswith(f"{b}_w1_") and n != f"{b}_w1_10000"]
        two = [r for n, r in by.items() if n.startswith(f"{b}_w2_")]
        if one and two:
            r1, r2 = one[-1]["processed_rate"], two[-1]["processed_rate"]
            out.append(f"| {b} | {r1:.0f} | {r2:.0f} | {r2 / max(r1, 1e-9):.2f} |")
    return [*out, ""]


if __name__ == "__main__":
    sys.exit(main())
