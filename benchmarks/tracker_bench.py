"""Tracker benchmark: borderfusion's array tracker against Stone Soup on the same detections.

Scenario: N targets, nearly-constant velocity (q = 0.05 m²/s³), in a square of N km²; 100
scans at 1 s; position-only detections with σ = 5 m, Pd = 0.9, 10 uniform clutter points per
scan. Both trackers use a Kalman predictor/updater with the true model, a Mahalanobis gate,
GNN assignment, two-detection initiation and deletion after 3 missed scans. Both are scored
with the same GOSPA (c = 100 m, p = 2, α = 2) over their live (initiated) tracks.

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


def our_config() -> TrackerConfig:
    return TrackerConfig(
        q=Q,
        confirm_m=2,
        confirm_n=3,
        max_misses=3,
        adaptive=False,
        max_coast_s=10.0,
        init_speed_sigma=10.0,
    )


def run_ours(truth, dets, scans: int) -> dict[str, float]:
    tr = SectorTracker("B", 50.0, 24.0, our_config())
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
        gospas.append(sparse_gospa(truth[k], pos, C, P).distance)
    state_bytes = sum(a.nbytes for a in tr.tracks.cols.values()) + tr.tracks.seen.nbytes
    return {
        "ms_per_scan": 1e3 * float(np.mean(times[1:])),
        "gospa": float(np.mean(gospas)),
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
        gospas.append(sparse_gospa(truth[k], pos.reshape(-1, 2), C, P).distance)
        t0 = time.perf_counter()
    return {
        "ms_per_scan": 1e3 * float(np.mean(times[1:])),
        "gospa": float(np.mean(gospas)),
        "tracks": len(tracks),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small N and few scans (~1 min)")
    ap.add_argument(
        "--ss-scans-1000",
        type=int,
        default=20,
        help="Stone Soup scans at N=1000 (~30 s each here)",
    )
    args = ap.parse_args()
    if args.quick:
        ns, scans, ss_max = [10, 100, 1000], 30, {10: 30, 100: 30, 1000: 8}
    else:
        ns, scans, ss_max = (
            [10, 100, 1000, 3000, 10000],
            100,
            {10: 100, 100: 100, 1000: args.ss_scans_1000},
        )
    rows = []
    for n in ns:
        truth, dets = scenario(n, scans)
        ours = run_ours(truth, dets, scans)
        row = {
            "N": n,
            "scans": scans,
            "ours_ms": ours["ms_per_scan"],
            "ours_gospa": ours["gospa"],
            "ours_state_mb": ours["state_mb"],
        }
        if n in ss_max:
            k = ss_max[n]
            ours_k = run_ours(truth, dets, k)
            ss = run_stonesoup(truth, dets, k)
            row.update(
                {
                    "ss_scans": k,
                    "ss_ms": ss["ms_per_scan"],
                    "ss_gospa": ss["gospa"],
                    "ours_gospa_same_scans": ours_k["gospa"],
                    "speedup": ss["ms_per_scan"] / ours["ms_per_scan"],
                }
            )
        if n == max(ns):
            row["ours_peak_mb"] = memory_ours(dets, min(scans, 30))
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = "quick" if args.quick else "full"
    (RESULTS / f"tracker_bench_{tag}.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "| N | ours ms/scan | ours GOSPA | Stone Soup ms/scan | Stone Soup GOSPA "
        "(scans) | ours GOSPA same scans | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ss = (
            (
                f"{r['ss_ms']:.1f} | {r['ss_gospa']:.1f} ({r['ss_scans']}) | "
                f"{r['ours_gospa_same_scans']:.1f} | {r['speedup']:.0f}×"
            )
            if "ss_ms" in r
            else "– | – | – | –"
        )
        lines.append(f"| {r['N']} | {r['ours_ms']:.2f} | {r['ours_gospa']:.1f} | {ss} |")
    table = "\n".join(lines) + "\n"
    (RESULTS / f"tracker_bench_{tag}.md").write_text(table)
    print(table)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog([r["N"] for r in rows], [r["ours_ms"] for r in rows], "o-", label="borderfusion")
    ss_rows = [r for r in rows if "ss_ms" in r]
    ax.loglog([r["N"] for r in ss_rows], [r["ss_ms"] for r in ss_rows], "s--", label="Stone Soup")
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("targets N")
    ax.set_ylabel("ms per scan")
    ax.set_title("tracker time per scan (GNN, position-only, 10 clutter/scan)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"tracker_bench_{tag}.png", dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
