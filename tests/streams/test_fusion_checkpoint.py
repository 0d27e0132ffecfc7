"""The compact fusion checkpoint (raw buffer dicts, recent ids grouped per bucket) restores
the same state as the old format, and a restored stage still drops redelivered ids."""

from __future__ import annotations

import json
from pathlib import Path

from streams.agents import dumps, track_update_dict
from streams.engine import Context, FusionStage, observation_dict
from tests.streams.test_replay_dedup import _observations


def _stage_after(tmp_path: Path, raw: bool) -> tuple[Context, FusionStage, list]:  # type: ignore[type-arg]
    ctx, obs = _observations(tmp_path, seed=2)
    stage = FusionStage(ctx)
    for i in range(0, len(obs), 50):
        by_sector: dict[str, list] = {}  # type: ignore[type-arg]
        for o in obs[i : i + 50]:
            by_sector.setdefault(o.sector, []).append(o)
        for sector, batch in by_sector.items():
            # as the agent does: the dicts the observations were decoded from
            dicts = [json.loads(json.dumps(observation_dict(o))) for o in batch] if raw else None
            stage.add(sector, batch, raw=dicts)
            stage.advance(sector)
    return ctx, stage, obs


def test_snapshot_buffer_and_ids_match_the_old_format(tmp_path: Path) -> None:
    ctx, stage, _ = _stage_after(tmp_path, raw=True)
    for sector in stage.trackers:
        snap = json.loads(dumps(stage.snapshot(sector)))
        assert snap["buffer"] == [o.to_dict() for o in stage.buffers[sector]]
        restored = FusionStage(ctx)
        restored.restore(sector, snap)
        assert list(restored.recent[sector]) == list(stage.recent[sector])  # same ids, order
        # grouped times never expire an id earlier than its own time would
        assert all(restored.recent[sector][k] >= t for k, t in stage.recent[sector].items())
        # the pre-compact format (recent as {id: t}) still restores
        old = {**snap, "recent": dict(stage.recent[sector]), "recent_ids": []}
        legacy = FusionStage(ctx)
        legacy.restore(sector, old)
        assert legacy.recent[sector] == stage.recent[sector]
        assert [o.to_dict() for o in legacy.buffers[sector]] == snap["buffer"]


def test_restored_stage_drops_redelivered_observations(tmp_path: Path) -> None:
    ctx, stage, obs = _stage_after(tmp_path, raw=False)
    restored = FusionStage(ctx)
    for sector in stage.trackers:
        restored.restore(sector, json.loads(dumps(stage.snapshot(sector))))
    recent = {k for s in stage.recent for k in stage.recent[s]}
    again = [o for o in obs[-200:] if o.obs_id in recent]
    assert again, "nothing released recently: the test would prove nothing"
    by_sector: dict[str, list] = {}  # type: ignore[type-arg]
    for o in again:
        by_sector.setdefault(o.sector, []).append(o)
    late = sum(len(restored.add(s, b)) for s, b in by_sector.items())
    assert late == 0
    assert sum(restored.duplicates.values()) == len(again)


def test_track_update_dict_equals_to_dict(tmp_path: Path) -> None:
    _, stage, _ = _stage_after(tmp_path, raw=False)
    updates = [u for s in list(stage.buffers) for b in stage.advance(s, flush=True)[0] for u in b]
    assert updates
    assert all(json.loads(dumps(track_update_dict(u))) == u.to_dict() for u in updates)
