"""When the fusion stage releases observations to the tracker (docs/streaming.md "Reorder
window"): with the per-sensor watermark a bucket goes as soon as every sensor active in the
sector has passed it — the same buckets, in the same order, as waiting the whole window, only
sooner — and a sensor silent for a window no longer holds the sector back. Also the two
guards that came with the lz4 codec: large state values packed, codec names checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sensors.recorded import iter_recorded
from streams.agents import PACK_AT_BYTES, dumps, pack_state, unpack_state
from streams.engine import Context, FusionStage, IngestStage


def _scenario(tmp_path: Path, **kw: object) -> tuple[Context, list]:  # type: ignore[type-arg]
    from sensors.simulate import build_scenario, write_scenario

    write_scenario(build_scenario(seed=1, duration=40, layout="forest"), tmp_path)
    ctx = Context.from_scenario(tmp_path, max_reading_age_s=0, **kw)
    ingest = IngestStage(ctx, now=lambda: float("nan"))
    obs = [
        o
        for it in iter_recorded(tmp_path / "readings.jsonl")
        for o in ingest.ingest(it.topic, it.value).observations
    ]
    return ctx, obs


def _replay(ctx: Context, obs: list) -> tuple[list[dict], int, list[float]]:  # type: ignore[type-arg]
    """Feed one observation at a time (the offline driver); updates, late, release lags."""
    stage = FusionStage(ctx)
    out: list[dict] = []  # type: ignore[type-arg]
    late, lags = 0, []
    for o in obs:
        late += len(stage.add(o.sector, [o]))
        buckets, tr_late = stage.advance(o.sector)
        late += len(tr_late)
        out += [u.to_dict() for b in buckets for u in b]
        if o.sector in stage.released:
            lags.append(stage.newest[o.sector] - stage.released[o.sector])
    for sector in sorted(stage.buffers):
        buckets, _ = stage.advance(sector, flush=True)
        out += [u.to_dict() for b in buckets for u in b]
    return out, late, lags


def test_sensor_watermark_releases_sooner_with_the_same_tracks(tmp_path: Path) -> None:
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25)
    assert len({o.sensor_id for o in obs}) >= 3
    on, late_on, lag_on = _replay(dataclasses.replace(ctx, sensor_idle_s=0.5), obs)
    off, late_off, lag_off = _replay(dataclasses.replace(ctx, sensor_idle_s=0.0), obs)
    assert late_on == late_off == 0
    # same buckets in the same order per sector: identical track updates (sectors are
    # independent; only their interleaving moves with the release time)
    assert on and _per_sector(on) == _per_sector(off)
    # window only: the released watermark trails the newest time by >= the window
    assert min(lag_off) >= 2.0 - 1e-9
    # per sensor: most of the time much closer to the newest reading
    lag_on.sort()
    assert lag_on[len(lag_on) // 2] < 1.5


def _per_sector(updates: list[dict]) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    out: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for u in updates:
        out.setdefault(u["sector"], []).append(u)
    return out


def _obs_at(template: object, sensor: str, t: float, n: int) -> object:
    return dataclasses.replace(template, obs_id=f"{sensor}-{n}", sensor_id=sensor, t=t)  # type: ignore[type-var]


def test_a_silent_sensor_stops_holding_the_watermark(tmp_path: Path) -> None:
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=2.0)
    base = obs[0]
    stage = FusionStage(ctx)
    sector = base.sector
    stage.add(sector, [_obs_at(base, "B", 100.05, 0)])  # B reports once, then goes quiet
    for k in range(1, 11):  # A reports every 0.1 s
        stage.add(sector, [_obs_at(base, "A", 100.0 + 0.1 * k, k)])
    assert stage.watermark(sector) == 100.05  # B is still active: waited for
    for k in range(11, 40):
        stage.add(sector, [_obs_at(base, "A", 100.0 + 0.1 * k, k)])
    # B silent for more than the window: the sector follows A alone
    assert stage.watermark(sector) == 103.9
    assert "B" not in stage.sensor_newest[sector]
    stage.advance(sector)
    assert stage.released[sector] == 103.75
    assert stage.trackers[sector].time == 103.7


def test_late_observations_go_to_the_tracker_within_the_tolerance(tmp_path: Path) -> None:
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, late_tolerance_s=2.0,
                         sensor_idle_s=2.0)
    base = obs[0]
    stage = FusionStage(ctx)
    sector = base.sector
    for k in range(1, 40):
        stage.add(sector, [_obs_at(base, "A", 100.0 + 0.1 * k, k)])
    stage.advance(sector)
    assert stage.released[sector] == 103.75 and stage.trackers[sector].time == 103.7
    # too far behind the release: late at once
    assert [o.obs_id for o in stage.add(sector, [_obs_at(base, "B", 101.5, 1)])] == ["B-1"]
    # within the tolerance: buffered, offered to the tracker at the next advance; one the
    # tracker's time still allows is fused; an older one on the track A updated after it is
    # superseded: absorbed (neither fused nor dead-lettered)
    assert stage.add(sector, [_obs_at(base, "B", 103.72, 2), _obs_at(base, "B", 103.0, 3)]) == []
    buckets, late = stage.advance(sector, flush=True)
    assert late == [] and stage.absorbed[sector] == 1
    fused = {oid for b in buckets for u in b for oid in u.obs_ids}
    assert "B-2" in fused and "B-3" not in fused
    assert {"B-2", "B-3"} <= set(stage.recent[sector]) and not stage.buffers[sector]


def test_a_backlog_is_released_on_the_window_alone(tmp_path: Path) -> None:
    """Behind the wall clock by more than a window (catching up): the readings topics drift
    apart by seconds, so the per-sensor release would make the lagging topics late."""
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=0.5)
    base = obs[0]
    wall = [110.0]
    stage = FusionStage(ctx, now=lambda: wall[0])
    sector = base.sector
    for k in range(1, 40):
        stage.add(sector, [_obs_at(base, "A", 100.0 + 0.1 * k, k)])
    assert stage.watermark(sector) == 103.9 - 2.0  # 6 s behind the clock: window only
    wall[0] = 104.0
    assert stage.watermark(sector) == 103.9  # live: the sensors' own progress


def test_snapshot_keeps_the_sensor_watermark(tmp_path: Path) -> None:
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=2.0)
    stage = FusionStage(ctx)
    first = obs[: len(obs) // 2]
    for o in first:
        stage.add(o.sector, [o])
        stage.advance(o.sector)
    import json

    sectors = [s for s in stage.buffers if s in stage.trackers]
    assert sectors
    for sector in sectors:
        again = FusionStage(ctx)
        again.restore(sector, json.loads(json.dumps(stage.snapshot(sector))))
        assert again.watermark(sector) == stage.watermark(sector)
        assert again.watermark(sector) > stage.newest[sector] - ctx.reorder_window_s


def test_large_state_is_packed_under_the_record_limit() -> None:
    small = dumps({"a": 1})
    assert pack_state(small) == small and unpack_state(small) == {"a": 1}
    big_state = {"buffer": [{"obs_id": f"R1-{i}", "t": 1000.0 + i, "lat": 48.1} for i in range(60_000)]}
    big = dumps(big_state)
    assert len(big) > 2 * 1024 * 1024
    packed = pack_state(big)
    assert len(packed) < 1_000_000 and len(packed) > PACK_AT_BYTES // 100
    assert unpack_state(packed) == big_state


def test_producer_codec_setting() -> None:
    import pytest

    from streams.app import compression
    from streams.settings import Settings

    assert compression(Settings()) == "lz4"
    assert compression(Settings(kafka_compression="none")) is None
    assert compression(Settings(kafka_compression="GZIP")) == "gzip"
    with pytest.raises(ValueError, match="kafka_compression"):
        compression(Settings(kafka_compression="brotli"))


def test_redelivery_is_recognised_by_source_offset(tmp_path: Path) -> None:
    """Observations stamped with their reading's position: at or below the highest offset
    taken from that readings partition is a redelivery, however old (no time horizon)."""
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=2.0,
                         late_tolerance_s=2.0)
    base = obs[0]
    stage = FusionStage(ctx, dedup_horizon_s=1.0)
    sector = base.sector

    def at(t: float, n: int, offset: int | None, part: int = 0) -> object:
        o = _obs_at(base, "A", t, n)
        o.src = None if offset is None else ["readings.radar", part, offset]  # type: ignore[attr-defined]
        return o

    # two plots of one reading (same offset) in one call: both taken
    assert stage.add(sector, [at(100.0, 0, 5), at(100.0, 1, 5)]) == []
    for k in range(2, 60):
        stage.add(sector, [at(100.0 + 0.1 * k, k, 5 + k)])
    stage.advance(sector)
    assert stage.released[sector] > 103 and stage.src_offsets[sector] == {"readings.radar:0": 64}
    assert "A-1" not in stage.recent[sector]  # released beyond the id horizon
    kept = len(stage.buffers[sector])
    # the same readings again (a restarted ingest): dropped, not late, nothing buffered
    assert stage.add(sector, [at(100.0, 1, 5), at(100.0 + 0.1 * 30, 30, 35)]) == []
    assert stage.redelivered[sector] == stage.duplicates[sector] == 2
    assert len(stage.buffers[sector]) == kept
    # without the stamp (offline replay, older records): the event-time rules as before
    assert [o.obs_id for o in stage.add(sector, [at(100.0, 1, None)])] == ["A-1"]  # type: ignore[attr-defined]
    # another partition has its own mark; a newer offset of the same one is taken
    assert stage.add(sector, [at(106.0, 100, 3, part=1), at(106.1, 101, 65)]) == []
    assert stage.src_offsets[sector] == {"readings.radar:0": 65, "readings.radar:1": 3}
    assert stage.redelivered[sector] == 2


def test_catching_up_waits_for_a_lagging_radar(tmp_path: Path) -> None:
    """After a restart the ingest reads one radar's backlog before another's: observations
    marked as a backlog hold the sector's release at its slowest radar (within the late
    tolerance), so the lagging radar's plots are fused in order; unmarked (live) ones are
    released on the sensors' own progress and the lagging plots are only absorbed. A radar
    further behind than the tolerance is not waited for; the catch-up ends once every radar
    has passed where the backlog brought the sector."""
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=0.05,
                         late_tolerance_s=30.0)
    base = dataclasses.replace(obs[0], kind="radar")
    sector = base.sector
    live, caught = FusionStage(ctx), FusionStage(ctx)
    for stage in (live, caught):
        stage.add(sector, [_obs_at(base, "R3", 60.0, 0)])  # a radar long gone
        for k in range(10):
            stage.add(sector, [_obs_at(base, "R1", 100.0 + k, k),
                               _obs_at(base, "R2", 100.5 + k, k)])
            stage.advance(sector)
    r1 = [_obs_at(base, "R1", 110.0 + k, 10 + k) for k in range(16)]  # R1 read to 125 first
    r2 = [_obs_at(base, "R2", 110.5 + k, 10 + k) for k in range(15)]
    live.add(sector, r1)
    live.advance(sector)
    caught.add(sector, r1, backlog=True)
    caught.advance(sector)
    assert caught.radar_hold(sector) == 109.5  # R2's newest; R3 (65 s behind) not waited for
    assert caught.released[sector] <= 109.5 < 123.0 <= live.released[sector]
    for stage in (live, caught):
        assert stage.add(sector, r2, backlog=stage is caught) == []  # within the tolerance
        stage.advance(sector)
    assert live.absorbed[sector] > 0  # R2's plots on a track R1 had moved past
    assert caught.absorbed[sector] == 0
    caught.advance(sector, flush=True)  # a quiet flush still waits for the slowest radar
    assert caught.released[sector] == 124.5 == caught.radar_hold(sector)
    caught.add(sector, [_obs_at(base, "R1", 126.0, 99)])  # live input, R2 still short of
    assert caught.catching_up(sector)  # 125, where the backlog had brought the sector
    caught.add(sector, [_obs_at(base, "R2", 125.5, 98)])  # now every radar is past it
    assert not caught.catching_up(sector)
    import json

    again = FusionStage(ctx)  # the radars' times are in the checkpoint
    again.restore(sector, json.loads(json.dumps(caught.snapshot(sector))))
    assert again.radar_newest[sector] == caught.radar_newest[sector]


def test_live_input_during_a_catch_up_still_waits_for_the_lagging_radar(tmp_path: Path) -> None:
    """The ingest drains one radar's backlog, then passes that radar's live plots (unmarked)
    while another radar's backlog is still in Kafka: the sector stays catching up until the
    lagging radar is within a reorder window of the newest again, so its plots still come
    in order (before, the first unmarked record ended the catch-up and they were absorbed)."""
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=0.05,
                         late_tolerance_s=30.0)
    base = dataclasses.replace(obs[0], kind="radar")
    sector = base.sector
    stage = FusionStage(ctx)
    for k in range(10):
        stage.add(sector, [_obs_at(base, "R1", 100.0 + k, k), _obs_at(base, "R2", 100.5 + k, k)])
        stage.advance(sector)
    stage.add(sector, [_obs_at(base, "R1", 110.0 + k, 10 + k) for k in range(10)], backlog=True)
    stage.advance(sector)
    live_r1 = [_obs_at(base, "R1", 120.0 + k, 20 + k) for k in range(3)]  # R1 is live now
    stage.add(sector, live_r1)
    stage.advance(sector)
    stage.advance(sector, flush=True)  # its input is quiet: still not past R2
    assert stage.catching_up(sector) and stage.released[sector] <= 109.5
    r2 = [_obs_at(base, "R2", 110.5 + k, 10 + k) for k in range(11)]  # R2's backlog, to 120.5
    assert stage.add(sector, r2, backlog=True) == []
    stage.advance(sector)
    assert stage.absorbed[sector] == 0
    stage.add(sector, [_obs_at(base, "R2", 121.5, 21)])  # R2 live, short of R1's 122
    assert stage.catching_up(sector)
    stage.add(sector, [_obs_at(base, "R2", 122.5, 22)])  # past it: the catch-up is over
    assert not stage.catching_up(sector)
    stage.advance(sector, flush=True)
    assert stage.released[sector] > 122.0 and stage.absorbed[sector] == 0


def test_a_quiet_catching_up_sector_releases_its_tail_after_a_reorder_window(
    tmp_path: Path,
) -> None:
    """The end of a backlog with a radar that never catches up (gone, or its plots in this
    sector were sparse): the quiet flush holds for it for a reorder window of wall clock,
    then releases the tail (it used to wait for new input, forever if none came)."""
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=0.05,
                         late_tolerance_s=30.0)
    base = dataclasses.replace(obs[0], kind="radar")
    sector = base.sector
    clock = [0.0]
    stage = FusionStage(ctx, now=lambda: clock[0])
    for k in range(10):
        clock[0] = 100.3 + k
        stage.add(sector, [_obs_at(base, "R1", 100.0 + k, k), _obs_at(base, "R2", 100.5 + k, k)])
        stage.advance(sector)
    clock[0] = 140.0  # R1's backlog, read after a restart; R2 has nothing more
    stage.add(sector, [_obs_at(base, "R1", 110.0 + k, 10 + k) for k in range(16)], backlog=True)
    stage.advance(sector)
    for t in (140.1, 141.0, 142.0):  # quiet, held for R2 for up to a reorder window
        clock[0] = t
        stage.advance(sector, flush=True)
        assert stage.released[sector] <= 109.5 and stage.catching_up(sector)
    clock[0] = 142.2
    stage.advance(sector, flush=True)
    assert stage.released[sector] > 125.0 and not stage.catching_up(sector)
    assert not stage.buffers[sector]


def test_a_catch_up_lasts_until_the_radars_pass_where_the_backlog_brought_the_sector(
    tmp_path: Path,
) -> None:
    """Chaos run 1, session 12: the first (marked) batch after the restart carried R1 to
    58.85 s and an AIS report, from another partition, at 63.25 s; R1's next plots came
    unmarked (they had waited under 5 s). Ending the catch-up once R1 was within a reorder
    window of the newest released the sector to 63 s, and R1's plots up to there took the
    late path (a new boat's first plots started no track; its dark-vessel alert was lost).
    It lasts until every radar has passed 63.25 s."""
    ctx, obs = _scenario(tmp_path, reorder_window_s=2.0, bucket_s=0.25, sensor_idle_s=0.05,
                         late_tolerance_s=30.0)
    radar = dataclasses.replace(obs[0], kind="radar")
    ais = dataclasses.replace(obs[0], kind="ais")
    sector = radar.sector
    stage = FusionStage(ctx)
    for k in range(10):
        stage.add(sector, [_obs_at(radar, "R1", 40.0 + k, k)])
        stage.advance(sector)
    backlog = [_obs_at(radar, "R1", 50.0 + k, 10 + k) for k in range(9)]
    stage.add(sector, [*backlog, _obs_at(ais, "A1", 63.25, 0)], backlog=True)
    stage.advance(sector)
    assert stage.released[sector] <= 58.0
    stage.add(sector, [_obs_at(radar, "R1", t, 20 + i) for i, t in enumerate((59.5, 60.5, 61.5))])
    stage.advance(sector)
    assert stage.catching_up(sector) and stage.released[sector] <= 61.5
    stage.add(sector, [_obs_at(radar, "R1", t, 30 + i) for i, t in enumerate((62.5, 63.5))])
    assert not stage.catching_up(sector)
    stage.advance(sector, flush=True)
    assert stage.released[sector] > 63.5 and not stage.buffers[sector]
