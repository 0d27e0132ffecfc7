"""Tracker benchmark: borderfusion's array tracker against Stone Soup on the same detections.

Scenario: N targets, nearly-constant velocity (q = 0.05 m²/s³), in a square of N km²; 100
scans at 1 s; position-only detections with σ = 5 m, Pd = 0.9, 10 uniform clutter points per
scan. Both trackers use a Kalman predictor/updater with the true model, a Mahalanobis gate,
GNN assignment, the same initiation rule (a track is output once it has 2 detections; a
tentative track dies after 3 consecutive misses; any unassigned detection starts one) and
deletion after 3 missed scans. Both are scored with the same GOSPA (c = 100 m, p = 2,
α = 2) over their live (initiated) tracks; the α = 2 decomposition (localisation, missed,
false) is recorded too. ``ours_alt_gospa`` is our engine-style rule (2 of the first 3 scans;
detections inside a track's gate start nothing) on the same scans, for comparison.

Timing counts only the tracker step (detections are generated beforehand, in the sector
frame; for borderfusion ``SectorTracker.process_arrays(..., emit=False)``, i.e. without
building ``TrackUpdate`` objects, which the engine's ``process()`` adds on top).

    .venv/bin/python benchmarks/tracker_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fusion.metrics import sparse_gospa  # noqa: E402
from fusion.tracker import SectorTracker, TrackerConfig  # noqa: E402
from fusion.tracking.observations import ObservationArrays  # noqa: E402

Q, SIGMA, PD, CLUTTER, C, P = 0.05, 5.0, 0.9, 10, 100.0, 2.0
RESULTS = ROOT / "benchmarks" / "results"


def scenario(n: int, scans: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Truth positions per scan (n, 2) and detections per scan (m, 2)."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n) * 1000.0
    x = np.c_[rng.uniform(0, side, (n, 2)), rng.normal(0, 2.0, (n, 2))]
    truth, dets = [], []
    for _ in range(scans):
        # exact NCV discretisation for dt = 1
        cov = Q * np.array([[1 / 3, 1 / 2], [1 / 2, 1.0]])
        w = rng.multivariate_normal([0, 0], cov, size=(n, 2))  # (n, axis, [pos, vel])
        x[:, :2] += x[:, 2:] + w[:, :, 0]
        x[:, 2:] += w[:, :, 1]
        truth.append(x[:, :2].copy())
        hit = rng.random(n) < PD
        z = x[hit, :2] + rng.normal(0, SIGMA, (int(hit.sum()), 2))
        dets.append(np.vstack([z, rng.uniform(0, side, (CLUTTER, 2))]))
    return truth, dets


def our_config(alt: bool = False) -> TrackerConfig:
    """Stone Soup's rule set (``MultiMeasurementInitiator(min_points=2)`` with a 3-step
    deleter), or with ``alt`` the engine-style 2-of-3 window that ignores gated detections."""
    rules = (
        {"confirm_n": 3, "tentative_max_misses": 0, "init_exclude_gated": True}
        if alt
        else {"confirm_n": 0, "tentative_max_misses": 3, "init_exclude_gated": False}
    )
    return TrackerConfig(
        q=Q,
        confirm_m=2,
        max_misses=3,
        adaptive=False,
        max_coast_s=10.0,
        init_speed_sigma=10.0,
        **rules,
    )


def _summary(gs: list) -> dict[str, float]:
    """Mean GOSPA and its α = 2 parts over scans (localisation as mean squared metres)."""
    return {
        "gospa": float(np.mean([g.distance for g in gs])),
        "loc_m2": float(np.mean([g.localisation for g in gs])),
        "missed": float(np.mean([g.missed for g in gs])),
        "false": float(np.mean([g.false for g in gs])),
        "per_scan": [round(g.distance, 3) for g in gs],
    }


def run_ours(truth, dets, scans: int, alt: bool = False) -> dict[str, float]:
    tr = SectorTracker("B", 50.0, 24.0, our_config(alt))
    times, gospas = [], []
    for k in range(scans):
        z = dets[k]
        oa = ObservationArrays.positions(np.full(len(z), float(k)), z[:, 0], z[:, 1], SIGMA)
        t0 = time.perf_counter()
        tr.process_arrays(oa, emit=False)
        times.append(time.perf_counter() - t0)
        st = tr.tracks
        live = st.status == 1
        pos = st.x[live, :2] + (k - st.t[live])[:, None] * st.x[live, 2:]
        gospas.append(sparse_gospa(truth[k], pos, C, P))
    state_bytes = sum(a.nbytes for a in tr.tracks.cols.values()) + tr.tracks.seen.nbytes
    return {
        "ms_per_scan": 1e3 * float(np.mean(times[1:])),
        **_summary(gospas),
        "tracks": int(len(tr.tracks)),
        "state_mb": state_bytes / 1e6,
    }


def memory_ours(dets, scans: int) -> float:
    """Peak Python-heap MB (tracemalloc) over a whole run, tracker only."""
    gc.collect()
    tracemalloc.start()
    tr = SectorTracker("B", 50.0, 24.0, our_config())
    for k in range(scans):
        z = dets[k]
        oa = ObservationArrays.positions(np.full(len(z), float(k)), z[:, 0], z[:, 1], SIGMA)
        tr.process_arrays(oa, emit=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def run_stonesoup(truth, dets, scans: int) -> dict[str, float]:
    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import (
        CombinedLinearGaussianTransitionModel,
        ConstantVelocity,
    )
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    from fusion.association.gating import chi2_gate

    start = dt.datetime(2024, 1, 1)
    tm = CombinedLinearGaussianTransitionModel([ConstantVelocity(Q), ConstantVelocity(Q)])
    mm = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.eye(2) * SIGMA**2)
    predictor, updater = KalmanPredictor(tm), KalmanUpdater(mm)
    hyp = DistanceHypothesiser(
        predictor, updater, measure=Mahalanobis(), missed_distance=float(np.sqrt(chi2_gate(0.999)))
    )
    assoc = GNNWith2DAssignment(hyp)
    deleter = UpdateTimeStepsDeleter(time_steps_since_update=3)
    prior = GaussianState([[0], [0], [0], [0]], np.diag([0, 100.0, 0, 100.0]))
    init = MultiMeasurementInitiator(prior, deleter, assoc, updater, mm, min_points=2)

    scans_in = [
        (
            start + dt.timedelta(seconds=k),
            {
                Detection(
                    z.reshape(2, 1), timestamp=start + dt.timedelta(seconds=k), measurement_model=mm
                )
                for z in dets[k]
            },
        )
        for k in range(scans)
    ]

    class Detector:
        def __iter__(self):
            yield from scans_in

    tracker = MultiTargetTracker(
        initiator=init, deleter=deleter, detector=Detector(), data_associator=assoc, updater=updater
    )
    times, gospas = [], []
    t0 = time.perf_counter()
    for k, (_, tracks) in enumerate(tracker):
        times.append(time.perf_counter() - t0)
        pos = np.array([[tk.state_vector[0, 0], tk.state_vector[2, 0]] for tk in tracks])
        gospas.append(sparse_gospa(truth[k], pos.reshape(-1, 2), C, P))
        t0 = time.perf_counter()
    return {
        "ms_per_scan": 1e3 * float(np.mean(times[1:])),
        **_summary(gospas),
        "tracks": len(tracks),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N ≤ 1000, few scans (~3 min)")
    ap.add_argument("--seed", type=int, default=0, help="scenario seed")
    ap.add_argument(
        "--ss-scans-1000",
        type=int,
        default=20,
        help="Stone Soup scans at N=1000 (~25 s each here)",
    )
    args = ap.parse_args()
    if args.quick:
        ns, scans, ss_max = [10, 100, 1000], 30, {10: 30, 100: 30, 1000: 5}
    else:
        ns, scans, ss_max = (
            [10, 100, 1000, 3000, 10000],
            100,
            {10: 100, 100: 100, 1000: args.ss_scans_1000},
        )
    rows = []
    for n in ns:
        truth, dets = scenario(n, scans, args.seed)
        ours = run_ours(truth, dets, scans)
        row = {
            "N": n,
            "seed": args.seed,
            "scans": scans,
            "ours_ms": ours["ms_per_scan"],
            "ours_gospa": ours["gospa"],
            "ours_state_mb": ours["state_mb"],
        }
        if n in ss_max:
            k = ss_max[n]
            ours_k = run_ours(truth, dets, k)
            alt_k = run_ours(truth, dets, k, alt=True)
            ss = run_stonesoup(truth, dets, k)
            row.update(
                {
                    "ss_scans": k,
                    "ss_ms": ss["ms_per_scan"],
                    "ours_ms_same_scans": ours_k["ms_per_scan"],
                    "speedup": ss["ms_per_scan"] / ours_k["ms_per_scan"],
                    "ss_gospa": ss["gospa"],
                    "ours_gospa_same_scans": ours_k["gospa"],
                    "ours_alt_gospa": alt_k["gospa"],
                    "parts": {
                        name: {key: r[key] for key in ("loc_m2", "missed", "false", "per_scan")}
                        for name, r in (("ours", ours_k), ("stonesoup", ss), ("ours_alt", alt_k))
                    },
                }
            )
        if n == max(ns):
            row["ours_peak_mb"] = memory_ours(dets, min(scans, 30))
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "parts"}), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = "quick" if args.quick else "full"
    if args.seed:
        tag += f"_seed{args.seed}"
    (RESULTS / f"tracker_bench_{tag}.json").write_text(json.dumps(rows, indent=1))
    table = _table(rows)
    (RESULTS / f"tracker_bench_{tag}.md").write_text(table)
    print(table)
    _plot(rows, RESULTS / f"tracker_bench_{tag}.png")
    return 0


def _table(rows: list[dict]) -> str:
    lines = [
        "| N | ours ms/scan (all scans) | Stone Soup scans | Stone Soup ms/scan | ours ms/scan "
        "(same scans) | speed-up | Stone Soup GOSPA | ours GOSPA | ours GOSPA, 2-of-3 rule | "
        "missed / false per scan, SS vs ours |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "ss_ms" in r:
            pa = r["parts"]
            mf = (
                f"{pa['stonesoup']['missed']:.2f} / {pa['stonesoup']['false']:.2f} vs "
                f"{pa['ours']['missed']:.2f} / {pa['ours']['false']:.2f}"
            )
            ss = (
                f"{r['ss_scans']} | {r['ss_ms']:.1f} | {r['ours_ms_same_scans']:.2f} | "
                f"{r['speedup']:.0f}× | {r['ss_gospa']:.1f} | {r['ours_gospa_same_scans']:.1f} | "
                f"{r['ours_alt_gospa']:.1f} | {mf}"
            )
        else:
            ss = f"– | – | – | – | – | {r['ours_gospa']:.1f} (all scans) | – | –"
        lines.append(f"| {r['N']} | {r['ours_ms']:.2f} | {ss} |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax.loglog([r["N"] for r in rows], [r["ours_ms"] for r in rows], "o-", label="borderfusion")
    ss_rows = [r for r in rows if "ss_ms" in r]
    ax.loglog([r["N"] for r in ss_rows], [r["ss_ms"] for r in ss_rows], "s--", label="Stone Soup")
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("targets N")
    ax.set_ylabel("ms per scan")
    ax.set_title("tracker time per scan (GNN, position-only)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    big = max(ss_rows, key=lambda r: r["N"]) if ss_rows else None
    if big is not None:
        for name, style in (("stonesoup", "s--"), ("ours", "o-"), ("ours_alt", "x:")):
            ax2.semilogy(big["parts"][name]["per_scan"], style, label=name, ms=4)
        ax2.set_xlabel("scan")
        ax2.set_ylabel("GOSPA (m)")
        ax2.set_title(f"per-scan GOSPA, N = {big['N']}")
        ax2.legend()
        ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
