"""The fusion stage recognises redelivered observations (a restarted worker reads again
from its last committed offset): they are neither fused twice nor reported late, also
across a snapshot/restore — the contract the restart test relies on."""

from __future__ import annotations

import json
from pathlib import Path

from sensors.recorded import iter_recorded
from streams.engine import Context, FusionStage, IngestStage


def _observations(tmp_path: Path, seed: int = 1) -> tuple[Context, list]:  # type: ignore[type-arg]
    """A 30 s forest scenario written to ``tmp_path`` and ingested: (context, observations)."""
    from sensors.simulate import build_scenario, write_scenario

    write_scenario(build_scenario(seed=seed, duration=30, layout="forest"), tmp_path)
    ctx = Context.from_scenario(tmp_path, max_reading_age_s=0, reorder_window_s=2.0)
    ingest = IngestStage(ctx, now=lambda: float("nan"))
    obs = [
        o
        for it in iter_recorded(tmp_path / "readings.jsonl")
        for o in ingest.ingest(it.topic, it.value).observations
    ]
    return ctx, obs


def _run(
    ctx: Context,
    batches: list[list],
    restore_at: int | None = None,  # type: ignore[type-arg]
) -> tuple[list[dict], int, int]:  # type: ignore[type-arg]
    stage = FusionStage(ctx)
    out: list[dict] = []  # type: ignore[type-arg]
    late = 0
    for i, batch in enumerate(batches):
        if i == restore_at:  # a crash: a new stage from the JSON checkpoint
            saved = {s: json.loads(json.dumps(stage.snapshot(s))) for s in stage.trackers}
            stage = FusionStage(ctx)
            for s, st in saved.items():
                stage.restore(s, st)
        by_sector: dict[str, list] = {}  # type: ignore[type-arg]
        for o in batch:
            by_sector.setdefault(o.sector, []).append(o)
        for sector, obs in by_sector.items():
            late += len(stage.add(sector, obs))
            buckets, _ = stage.advance(sector)
            out += [u.to_dict() for b in buckets for u in b]
    for sector in sorted(stage.buffers):
        buckets, _ = stage.advance(sector, flush=True)
        out += [u.to_dict() for b in buckets for u in b]
    return out, late, sum(stage.duplicates.values())


def test_redelivered_observations_are_skipped_not_late(tmp_path: Path) -> None:
    ctx, obs = _observations(tmp_path)
    batches = [obs[i : i + 40] for i in range(0, len(obs), 40)]
    clean, late0, dup0 = _run(ctx, batches)
    assert late0 == 0 and dup0 == 0 and clean
    # after batch 6 the worker "crashes"; batches 4–5 come again (uncommitted offsets)
    replayed = batches[:6] + batches[4:6] + batches[6:]
    again, late, dups = _run(ctx, replayed, restore_at=6)
    assert late == 0
    assert dups == len(batches[4]) + len(batches[5])
    assert again == clean
