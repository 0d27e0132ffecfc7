"""Checkpoint size and cost per sector (docs/streaming.md "Checkpoint cost", docs/performance.md).

Two loads:

* default (the scenario mode of round 2): a busy simulated scenario through the offline
  pipeline, every sector snapshotted every 500 readings; compares the checkpoint of round 1
  (``Observation.to_dict``, ``{id: t}``, stdlib ``json``) with the current one.

      .venv/bin/python benchmarks/checkpoint_size.py [OUT_DIR]

* ``--rate R`` (issue 9, round 8): the loadgen deployment (16 sectors) at R readings/s of
  event time, ingested and fused in process as a worker under backlog does it (ingest batches
  of ``--batch-records`` records stamped with their readings' ``[topic, partition, offset]``,
  one JSON ``observations`` record per sector, release on the reorder window alone), every
  sector checkpointed every ``--every`` s of event time (a worker that processes half the
  input checkpoints every 1 s of wall time = 0.5 s of event time). On the same states it
  times the round-7 checkpoint (snapshot, ``dumps``, zlib ``pack_state``, copied below) and
  the current one (``FusionStage.snapshot``, ``dumps``, ``pack_state``), prints bytes and
  CPU per checkpoint, µs per fused observation and the state's size per part.

      .venv/bin/python benchmarks/checkpoint_size.py --rate 10000 --seconds 30
      .venv/bin/python benchmarks/checkpoint_size.py --rate 10000 --seconds 30 --flush-every 3

  ``--flush-every K`` also flushes (``advance(flush=True)``) every sector every K ingest
  batches, as the worker's quiet-sector timer does under backlog (a small buffer);
  ``--tree DIR`` runs another tree's engine (e.g. a ``git archive`` of round 6) for the
  sizes only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(ROOT)
sys.path.insert(0, _TREE)

import numpy as np  # noqa: E402

from streams.agents import dumps, loads  # noqa: E402
from streams.engine import Context, FusionStage, observation_dict  # noqa: E402

try:
    from streams.agents import pack_state, unpack_state  # noqa: E402
except ImportError:  # an old --tree
    pack_state = unpack_state = None  # type: ignore[assignment]


# ------------------------------------------------------------------ references


def legacy_snapshot(fusion: FusionStage, sector: str) -> dict[str, Any]:
    """The checkpoint before issue 9 round 2 (for the ratio only)."""
    return {
        "tracker": fusion.tracker(sector).snapshot(),
        "buffer": [o.to_dict() for o in fusion.buffers.get(sector, [])],
        "newest": fusion.newest.get(sector),
        "released": fusion.released.get(sector),
        "recent": dict(fusion.recent.get(sector, {})),
        "emitted": fusion.emitted.get(sector, 0),
    }


def legacy_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def r7_recent_groups(recent: Any, bucket_s: float) -> list[list[Any]]:
    """Round 7's ``FusionStage._recent_groups`` (recomputed from ``recent`` every time)."""
    if not recent:
        return []
    ids = list(recent)
    times = np.fromiter(recent.values(), float, len(ids))
    keys = np.floor(times / bucket_s)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(ids)].tolist()
    newest = np.maximum.reduceat(times, starts).tolist()
    return [[t, " ".join(ids[a:b])] for t, a, b in zip(newest, starts.tolist(), ends, strict=True)]


def r7_store_to_dict(self: Any) -> dict[str, Any]:
    """Round 7's ``TrackStore.to_dict``: ``seen`` a byte a flag, the whole ``seen_t``."""
    from fusion.tracking.store import _COLUMNS, _ENCODING, _encode

    out: dict[str, Any] = {k: _encode(self.cols[k], dt) for k, (dt, _) in _COLUMNS.items()}
    out["seen"] = _encode(self.seen, bool)
    out["seen_t"] = _encode(self.seen_t, np.float64)
    out["n_sensors"] = int(self.seen.shape[1])
    out["names"] = [[k, v] for k, v in sorted(self.names.items())]
    out["encoding"] = _ENCODING
    return out


def r7_tracker_snapshot(tracker: Any) -> dict[str, Any]:
    """``SectorTracker.snapshot`` with round 7's track store encoding."""
    from fusion.tracking.store import TrackStore

    if _TREE != str(ROOT):  # another tree: its own encoding
        return tracker.snapshot()  # type: ignore[no-any-return]
    now = TrackStore.to_dict
    TrackStore.to_dict = r7_store_to_dict  # type: ignore[method-assign]
    try:
        return tracker.snapshot()  # type: ignore[no-any-return]
    finally:
        TrackStore.to_dict = now  # type: ignore[method-assign]


def r7_snapshot(fusion: FusionStage, sector: str) -> dict[str, Any]:
    """Round 7's ``FusionStage.snapshot`` (the 'before' of round 8, same states)."""
    raws = getattr(fusion, "_raw", {}).get(sector) or {}  # (getattr: an older --tree)
    buffer = [raws.get(o.obs_id) or observation_dict(o) for o in fusion.buffers.get(sector, [])]
    state = {
        "tracker": r7_tracker_snapshot(fusion.tracker(sector)),
        "buffer": buffer,
        "newest": fusion.newest.get(sector),
        "sensor_newest": dict(getattr(fusion, "sensor_newest", {}).get(sector) or {}),
        "released": fusion.released.get(sector),
        "recent_ids": r7_recent_groups(fusion.recent.get(sector), fusion.bucket_s),
        "emitted": fusion.emitted.get(sector, 0),
        "src_offsets": dict(getattr(fusion, "src_offsets", {}).get(sector) or {}),
    }
    if sector in getattr(fusion, "own", {}):
        state["own_force"] = fusion.own[sector].snapshot()
    return state


def r7_pack(data: bytes) -> bytes:
    """Round 7's ``pack_state``: zlib level 1 above 256 KB."""
    return data if len(data) <= 256 * 1024 else b"\x00z" + zlib.compress(data, 1)


def r7_unpack(data: bytes) -> Any:
    return loads(zlib.decompress(data[2:]) if data[:2] == b"\x00z" else data)


# ------------------------------------------------------------------ scenario mode


def scenario_mode(out_dir: Path) -> None:
    from sensors.recorded import iter_recorded
    from sensors.simulate import build_scenario, write_scenario
    from streams.replay import OfflinePipeline

    d = out_dir
    if not (d / "readings.jsonl").exists():
        write_scenario(build_scenario(seed=4, duration=300, layout="mixed", density=3.0), d)
    ctx = Context.from_scenario(d, max_reading_age_s=0, reorder_window_s=2)
    pipe = OfflinePipeline(ctx)
    rows: dict[str, list[tuple[int, float]]] = {"legacy": [], "now": [], "alerts": []}
    n = 0
    for it in iter_recorded(d / "readings.jsonl"):
        pipe.feed(it.topic, it.value)
        n += 1
        if n % 500 == 0:  # one agent batch
            for sec in list(pipe.fusion.buffers):
                t = time.perf_counter()
                b = legacy_dumps(legacy_snapshot(pipe.fusion, sec))
                rows["legacy"].append((len(b), time.perf_counter() - t))
                t = time.perf_counter()
                b = dumps(pipe.fusion.snapshot(sec))
                rows["now"].append((len(b), time.perf_counter() - t))
                t = time.perf_counter()
                a = dumps(pipe.alerts.snapshot(sec))
                rows["alerts"].append((len(a), time.perf_counter() - t))
    print("readings", n, "sectors", len(pipe.fusion.buffers))
    for name, vals in rows.items():
        sizes, times = [v[0] for v in vals], [v[1] for v in vals]
        print(
            f"{name:7s} bytes median {statistics.median(sizes):.0f} max {max(sizes)}; "
            f"time ms median {1e3 * statistics.median(times):.2f} max {1e3 * max(times):.2f} "
            f"total {sum(times):.3f} s"
        )
    tl = sum(v[1] for v in rows["legacy"])
    tn = sum(v[1] for v in rows["now"])
    sl = sum(v[0] for v in rows["legacy"])
    sn = sum(v[0] for v in rows["now"])
    print(f"tracker checkpoint, legacy / now: time {tl / tn:.2f}x, bytes {sl / sn:.2f}x")
    sec = max(pipe.fusion.trackers, key=lambda s: len(dumps(pipe.fusion.snapshot(s))))
    snap = pipe.fusion.snapshot(sec)
    print(
        {k: len(dumps(v)) for k, v in snap.items()},
        "tracks",
        len(pipe.fusion.trackers[sec].tracks.status),
    )


# ------------------------------------------------------------------ rate mode (backlog)


def part_sizes(state: dict[str, Any]) -> dict[str, int]:
    """JSON bytes of each part of a checkpoint (the tracker's big parts separately)."""
    out = {k: len(dumps(v)) for k, v in state.items() if k != "tracker"}
    tr = state["tracker"]
    for k in ("tracks", "ais", "correlator"):
        out[f"tracker.{k}"] = len(dumps(tr[k]))
    out["tracker.other"] = len(dumps({k: v for k, v in tr.items()
                                      if k not in ("tracks", "ais", "correlator")}))
    return out


def _cpu(fn: Any, *args: Any) -> tuple[Any, float]:
    t = time.thread_time()
    v = fn(*args)
    return v, time.thread_time() - t


def rate_mode(a: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from loadgen import BacklogScene

    work = Path(tempfile.mkdtemp(prefix="bf-ckpt-"))
    scene = BacklogScene.loadgen(a.rate, 16, work, a.bucket)  # --tree: that tree's engine
    ctx, gen, fusion = scene.ctx, scene.gen, scene.fusion
    assert gen is not None
    new_api = pack_state is not None and a.tree is None
    t0, step = scene.t0, scene.step
    pending: list[tuple[str, str, bytes]] = []
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    obs_offsets: dict[str, int] = defaultdict(int)
    sizes: dict[str, list[int]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(list)
    rows: dict[str, list[float]] = defaultdict(list)

    def measure(tag: str, label: str, sector: str, src: dict[str, int], snapshot: Any,
                pack: Any, unpack: Any) -> Any:
        """One checkpoint of ``sector`` the ``tag`` way: CPU and bytes per step."""
        state, c_snap = _cpu(snapshot, sector)
        state["source_offsets"] = src
        data, c_dumps = _cpu(dumps, state)
        packed, c_pack = _cpu(pack, data)
        rows[f"{tag}_snapshot"].append(c_snap)
        rows[f"{tag}_dumps"].append(c_dumps)
        rows[f"{tag}_pack"].append(c_pack)
        rows[f"{tag}_total"].append(c_snap + c_dumps + c_pack)
        sizes[f"{tag}_json"].append(len(data))
        sizes[f"{tag}_stored"].append(len(packed))
        if a.restore:
            _, c = _cpu(lambda p, s: FusionStage(ctx).restore(s, unpack(p)), packed,
                        sector)
            rows[f"{tag}_restore"].append(c)
        for part, n in part_sizes(state).items():
            sizes[f"part {part} ({label})"].append(n)
        return state

    fused = 0
    fused_in_window = 0
    next_ckpt = t0 + a.warmup
    batches = 0
    k = 0
    dirty: set[str] = set()
    while k * step < a.seconds:
        lo, hi = t0 + k * step, t0 + (k + 1) * step
        k += 1
        pending += [(tp, key, v) for tp, key, v, *_ in gen.slice(lo, hi)]
        if len(pending) < a.batch_records and k * step < a.seconds:
            continue
        records, sources = [], []
        for topic, key, value in pending[: a.batch_records]:
            part = scene.partition(key)
            sources.append([topic, part, offsets[topic, part]])
            offsets[topic, part] += 1
            records.append((topic, value))
        pending = pending[a.batch_records :]
        batches += 1
        by_sector = scene.observations(records, sources)
        scene.fuse(by_sector)  # the observations hop, as JSON
        for sector, batch in by_sector.items():
            obs_offsets[sector] += 1
            fused += len(batch)
            if hi >= t0 + a.warmup:
                fused_in_window += len(batch)
            dirty.add(sector)
        flush = a.flush_every and batches % a.flush_every == 0
        for sector in sorted(by_sector) if not flush else sorted(fusion.buffers):
            fusion.advance(sector, flush=bool(flush))
        if hi < next_ckpt:
            continue
        next_ckpt = hi + a.every
        for sector in sorted(dirty):
            src = {"0": obs_offsets[sector]}
            state = measure("r7", "round 7", sector, src, lambda s: r7_snapshot(fusion, s),
                            r7_pack, r7_unpack)
            tr = fusion.tracker(sector)
            counts["tracks"].append(len(tr.tracks.num))
            counts["tracks confirmed"].append(int((tr.tracks.status == 1).sum()))
            counts["ais tracks"].append(len(tr.ais.num))
            counts["sensors"].append(len(tr.sensors))
            counts["buffered obs"].append(len(fusion.buffers.get(sector, [])))
            counts["recent ids"].append(len(fusion.recent.get(sector, {})))
            counts["recent groups"].append(len(state["recent_ids"]))
            if new_api:  # this tree (after)
                measure("new", "this tree", sector, src, fusion.snapshot, pack_state,
                        unpack_state)
        dirty.clear()
    return {"fused": fused, "fused_in_window": fused_in_window, "rows": rows, "sizes": sizes,
            "counts": counts, "sectors": len(fusion.trackers)}


def report(a: argparse.Namespace, r: dict[str, Any]) -> None:
    rows, sizes, counts = r["rows"], r["sizes"], r["counts"]
    n_ck = len(rows["r7_total"])
    print(f"rate {a.rate:.0f}/s, {a.seconds:.0f} s of event time (warm-up {a.warmup:.0f} s), "
          f"{r['sectors']} sectors, ingest batches of {a.batch_records} records, checkpoint "
          f"every {a.every} s of event time, flush every {a.flush_every or '-'} batches: "
          f"{n_ck} sector checkpoints, {r['fused_in_window']} observations fused after the "
          f"warm-up")
    print("\n| part of the state (per sector checkpoint) | median bytes | max |\n|---|---|---|")
    for k in sorted(k for k in sizes if k.startswith("part ")):
        v = sizes[k]
        print(f"| {k[5:]} | {statistics.median(v):,.0f} | {max(v):,} |")
    print("\n| count per sector | median | max |\n|---|---|---|")
    for k, v in counts.items():
        print(f"| {k} | {statistics.median(v):,.0f} | {max(v):,} |")
    print("\n| per sector checkpoint | JSON bytes median | stored bytes median / max "
          "| CPU ms median (snapshot + dumps + pack) | CPU ms total | µs per fused obs "
          "| restore ms median |\n|---|---|---|---|---|---|---|")
    out = {}
    for v in ("r7", "new"):
        if not rows.get(f"{v}_total"):
            continue
        tot = rows[f"{v}_total"]
        per_obs = 1e6 * sum(tot) / max(r["fused_in_window"], 1)
        med = [statistics.median(rows[f"{v}_{p}"]) * 1e3 for p in ("snapshot", "dumps", "pack")]
        rest = rows.get(f"{v}_restore")
        rest_ms = f"{statistics.median(rest) * 1e3:.1f}" if rest else "-"
        print(f"| {'round 7' if v == 'r7' else 'this tree'} "
              f"| {statistics.median(sizes[f'{v}_json']):,.0f} "
              f"| {statistics.median(sizes[f'{v}_stored']):,.0f} / {max(sizes[f'{v}_stored']):,} "
              f"| {statistics.median(tot) * 1e3:.2f} ({med[0]:.2f} + {med[1]:.2f} + {med[2]:.2f}) "
              f"| {sum(tot) * 1e3:.0f} | {per_obs:.1f} | {rest_ms} |")
        out[v] = (sum(tot), sum(sizes[f"{v}_stored"]))
    if "new" in out:
        (c7, b7), (cn, bn) = out["r7"], out["new"]
        print(f"\nround 7 / this tree on the same states: CPU {c7 / cn:.2f}x, "
              f"stored bytes {b7 / bn:.2f}x")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", nargs="?", default="/tmp/bf-busy-scenario",
                   help="scenario mode: where the busy scenario is written")
    p.add_argument("--rate", type=float, help="loadgen mode at this many readings/s")
    p.add_argument("--seconds", type=float, default=30.0, help="event time of load")
    p.add_argument("--warmup", type=float, default=10.0, help="no checkpoint before, s")
    p.add_argument("--every", type=float, default=0.5, help="checkpoint interval, s of event time")
    p.add_argument("--batch-records", type=int, default=500, help="records per ingest batch")
    p.add_argument("--flush-every", type=int, default=0,
                   help="flush every sector every K ingest batches (quiet-sector timer)")
    p.add_argument("--bucket", type=float, help="fusion bucket, s (default: the settings')")
    p.add_argument("--restore", action="store_true", help="also time restore")
    p.add_argument("--tree", help="run this tree's engine (sizes of the round-7 format only)")
    a = p.parse_args()
    if a.rate is None:
        scenario_mode(Path(a.out_dir))
        return 0
    report(a, rate_mode(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
