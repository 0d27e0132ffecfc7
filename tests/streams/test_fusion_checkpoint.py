"""The compact fusion checkpoint (raw buffer dicts, recent ids grouped per bucket) restores
the same state as the old format, and a restored stage still drops redelivered ids."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fusion.types import Observation
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
        old = {**{k: v for k, v in snap.items() if k != "recent_runs"},
               "recent": dict(stage.recent[sector])}
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


class _Message:
    """A Faust message's reference counting, as ``Consumer._new_offset`` sees it."""

    def __init__(self, events: list[str], n: int) -> None:
        self.events, self.n, self.refs = events, n, 1

    def incref(self) -> None:
        self.refs += 1

    def ack(self, consumer: object) -> None:
        self.refs -= 1
        if self.refs == 0:
            self.events.append(f"ack {self.n}")


class _App:
    def __init__(self, events: list[str]) -> None:
        self.events, self.consumer = events, object()
        outer = self

        class _Producer:
            async def flush(self) -> None:
                outer.events.append("flush")

        self.producer = _Producer()


class _Table:
    """A state table's :meth:`stored`: the writes the broker refused, once each."""

    def __init__(self, events: list[str]) -> None:
        self.events, self.refuse = events, set()

    async def stored(self) -> dict[bytes, BaseException]:
        self.events.append("stored")
        refused = {k.encode(): ValueError("MessageSizeTooLargeError") for k in self.refuse}
        self.refuse = set()
        return refused


def test_held_checkpoints_write_then_acknowledge() -> None:
    """A held message is fully acknowledged (committable) only after the producer flush and
    the state write of every dirty sector, stored by the broker; a failed write, or a write
    the broker refused, acknowledges nothing."""
    import asyncio

    from streams.agents import HeldCheckpoints

    events: list[str] = []
    fail = {"S2"}

    def write(sector: str) -> None:
        if sector in fail:
            raise OSError("table down")
        events.append(f"write {sector}")

    table = _Table(events)
    ck = HeldCheckpoints(_App(events), write, "test", interval_s=3600, table=table)
    msgs = [_Message(events, i) for i in range(3)]

    async def run() -> None:
        async with ck.lock:
            for m in msgs:
                ck.hold(m)
                m.ack(None)  # take_events' own acknowledgement: not the last reference
            ck.dirty.update({"S2", "S1"})
            assert not ck.due()
            await ck.checkpoint()  # S2 fails: nothing acknowledged, still dirty
            assert events == ["flush", "write S1"] and ck.held and ck.dirty
            fail.clear()
            table.refuse = {"S2"}  # written, but the broker refuses it: still nothing acked
            await ck.checkpoint()
            assert events[-1] == "stored" and ck.held and ck.dirty == {"S1", "S2"}
            assert not ck.due()  # retried an interval later, not after the next batch
            await ck.checkpoint()

    asyncio.run(run())
    assert events == ["flush", "write S1",
                      "flush", "write S1", "write S2", "stored",
                      "flush", "write S1", "write S2", "stored", "ack 0", "ack 1", "ack 2"]
    assert not ck.held and not ck.dirty


def test_alert_snapshot_without_copy_serialises_the_same(tmp_path: Path) -> None:
    """The alerts agent's checkpoint skips the deep copy: same JSON, and still restorable."""
    from fusion.alerts import AlertEngine
    from sensors.recorded import iter_recorded
    from sensors.simulate import build_scenario, write_scenario
    from streams.engine import AlertStage, IngestStage

    write_scenario(build_scenario(seed=1, duration=60, layout="forest"), tmp_path)
    ctx = Context.from_scenario(tmp_path, max_reading_age_s=0)
    ingest, stage, alerts = IngestStage(ctx, now=lambda: float("nan")), FusionStage(ctx), \
        AlertStage(ctx)
    for it in iter_recorded(tmp_path / "readings.jsonl"):
        for sector, obs in ingest.ingest(it.topic, it.value).by_sector().items():
            stage.add(sector, obs)
            for bucket in stage.advance(sector)[0]:
                alerts.process(sector, bucket)
    engines = alerts.engines.values()
    assert any(e.live for e in engines) and any(e.closed for e in engines), "trivial state"
    for sector in alerts.engines:
        assert dumps(alerts.snapshot(sector, copy=False)) == dumps(alerts.snapshot(sector))
        state = json.loads(dumps(alerts.snapshot(sector, copy=False)))
        eng = AlertEngine.restore(alerts.zones(), ctx.rules, state, alerts.sensors(),
                                  id_prefix=f"{sector}:")
        assert dumps(eng.snapshot()) == dumps(alerts.snapshot(sector))


def _groups_loop(recent: dict, bucket_s: float) -> list:  # type: ignore[type-arg]
    """The per-id loop ``recent_ids`` was first written with (the reference)."""
    import math

    groups: list = []  # type: ignore[type-arg]
    cur_key, cur_ids, cur_t = None, [], 0.0
    for oid, t in recent.items():
        key = math.floor(t / bucket_s)
        if key != cur_key and cur_ids:
            groups.append([cur_t, " ".join(cur_ids)])
            cur_ids = []
        cur_key, cur_t = key, t if not cur_ids else max(cur_t, t)
        cur_ids.append(oid)
    if cur_ids:
        groups.append([cur_t, " ".join(cur_ids)])
    return groups


def test_vectorised_recent_groups_equal_the_per_id_loop(tmp_path: Path) -> None:
    from streams.idruns import decode_run

    _, stage, _ = _stage_after(tmp_path, raw=True)
    for sector in stage.trackers:
        assert len(stage.recent[sector]) > 20
        runs = stage.snapshot(sector)["recent_runs"]  # since round 8 (streams/idruns.py)
        assert [[r[0], " ".join(decode_run(r))] for r in runs] == _groups_loop(
            stage.recent[sector], stage.bucket_s
        )
    # out-of-order times within and across 0.25 s buckets (late arrivals), one id, none;
    # built at once (a restore) or released id by id (the stage)
    from streams.idruns import RecentIds

    def groups(recent: RecentIds) -> list:  # type: ignore[type-arg]
        return [[r[0], " ".join(decode_run(r))] for r in recent.encoded()]

    cases = [{"a": 5.3, "b": 5.4, "c": 4.9, "d": 5.45, "e": 5.26, "f": 7.0}, {"only": 3.0}, {}]
    for case in cases:
        released = RecentIds(0.25)
        for oid, t in case.items():
            released.release([oid], [t])
        for recent in (RecentIds.from_pairs(case.items(), 0.25), released):
            assert groups(recent) == _groups_loop(case, 0.25)
            assert dict(recent) == case and list(recent) == list(case)
    # runs of one bucket, newest time of each run
    assert groups(RecentIds.from_pairs(cases[0].items(), 0.25)) == \
        [[5.4, "a b"], [4.9, "c"], [5.45, "d e"], [7.0, "f"]]


def _stamped_batches(
    tmp_path: Path, seed: int = 2, duration: float = 30, layout: str = "forest",
    density: float = 1.0,
) -> tuple[Context, list[dict[str, list[dict]]]]:  # type: ignore[type-arg]
    """A scenario (by default 30 s of forest) ingested as the agent does: batches of 25
    readings, each observation stamped with its reading's ``[topic, 0, offset]``; per batch
    the JSON dicts per sector (what the ``observations`` records carry)."""
    from sensors.recorded import iter_recorded
    from sensors.simulate import build_scenario, write_scenario
    from streams.engine import IngestStage

    write_scenario(build_scenario(seed=seed, duration=duration, layout=layout,
                                  density=density), tmp_path)
    ctx = Context.from_scenario(tmp_path, max_reading_age_s=0, reorder_window_s=2.0)
    ingest = IngestStage(ctx, now=lambda: float("nan"))
    items = list(iter_recorded(tmp_path / "readings.jsonl"))
    offsets: dict[str, int] = {}
    batches = []
    for i in range(0, len(items), 25):
        records, sources = [], []
        for it in items[i : i + 25]:
            offsets[it.topic] = offsets.get(it.topic, -1) + 1
            records.append((it.topic, it.value))
            sources.append([it.topic, 0, offsets[it.topic]])
        by_sector: dict[str, list[dict]] = {}  # type: ignore[type-arg]
        for result in ingest.ingest_many(records, sources=sources):
            for o in result.observations:
                by_sector.setdefault(o.sector, []).append(
                    json.loads(json.dumps(observation_dict(o))))
        batches.append(by_sector)
    return ctx, batches


def _drive(stage: FusionStage, batches: list, out: list) -> int:  # type: ignore[type-arg]
    """Feed batches as the fusion agent does; track updates into ``out``; return late."""
    late = 0
    for batch in batches:
        for sector, dicts in batch.items():
            obs = [Observation.from_dict(d) for d in dicts]
            late += len(stage.add(sector, obs, raw=dicts))
            buckets, tr_late = stage.advance(sector)
            late += len(tr_late)
            out += [u.to_dict() for b in buckets for u in b]
    return late


def _flush(stage: FusionStage, out: list) -> None:  # type: ignore[type-arg]
    for sector in sorted(stage.buffers):
        out += [u.to_dict() for b in stage.advance(sector, flush=True)[0] for u in b]


def _strip_src(batches: list) -> list:  # type: ignore[type-arg]
    return [{s: [{k: v for k, v in d.items() if k != "src"} for d in ds]
             for s, ds in b.items()} for b in batches]


def test_reingested_readings_beyond_the_id_horizon_are_dropped_by_offset(
    tmp_path: Path,
) -> None:
    """Round 4's failure: after a crash the ingest re-reads readings from a committed
    offset more than the dedup horizon (event time) behind fusion's checkpoint. With the
    source stamp they are recognised exactly: same tracks as an uninterrupted run, no late."""
    ctx, batches = _stamped_batches(tmp_path)
    ctx.late_tolerance_s = 2.0  # the 30 s defaults (id horizon, late tolerance) scaled
    horizon = 3.0  # to a 30 s scenario
    crash, reread = int(len(batches) * 0.8), int(len(batches) * 0.2)

    def crashed_run(bs: list) -> tuple[list, int, FusionStage]:  # type: ignore[type-arg]
        stage = FusionStage(ctx, dedup_horizon_s=horizon)
        out: list = []  # type: ignore[type-arg]
        late = _drive(stage, bs[:crash], out)
        restored = FusionStage(ctx, dedup_horizon_s=horizon)
        for sector in stage.trackers:  # the checkpoint, through JSON
            restored.restore(sector, json.loads(dumps(stage.snapshot(sector))))
        late += _drive(restored, bs[reread:], out)  # the ingest re-reads from an old offset
        return out, late, restored

    out, late, restored = crashed_run(batches)
    span = [o["t"] for b in batches[reread:crash] for ds in b.values() for o in ds]
    released = max(restored.released.values())
    assert released - min(span) > horizon + ctx.late_tolerance_s  # beyond the id horizon
    assert late == 0
    assert sum(restored.redelivered.values()) > 0
    stage_ref = FusionStage(ctx, dedup_horizon_s=horizon)
    ref: list = []  # type: ignore[type-arg]
    assert _drive(stage_ref, batches, ref) == 0
    _flush(stage_ref, ref)
    _flush(restored, out)
    assert out == ref
    # the same without the stamp (the old behaviour): the re-read is dead-lettered as late
    _, late_unstamped, _ = crashed_run(_strip_src(batches))
    assert late_unstamped > 0


def test_a_checkpoint_without_source_offsets_still_restores(tmp_path: Path) -> None:
    ctx, batches = _stamped_batches(tmp_path)
    half = len(batches) // 2
    stage = FusionStage(ctx)
    _drive(stage, batches[:half], [])
    checked = 0
    for sector in stage.trackers:
        snap = json.loads(dumps(stage.snapshot(sector)))
        assert snap["src_offsets"] == stage.src_offsets[sector] and snap["src_offsets"]
        old = {k: v for k, v in snap.items() if k != "src_offsets"}  # an older checkpoint
        legacy = FusionStage(ctx)
        legacy.restore(sector, old)
        assert legacy.src_offsets[sector] == {}
        assert list(legacy.recent[sector]) == list(stage.recent[sector])
        # recent redeliveries are still dropped by id; the mark starts with what comes next
        again = [Observation.from_dict(d) for b in batches[half - 2 : half]
                 for d in b.get(sector, []) if d["obs_id"] in stage.recent[sector]]
        assert legacy.add(sector, again) == []
        assert legacy.duplicates[sector] == len(again) and legacy.redelivered[sector] == 0
        if again:
            assert legacy.src_offsets[sector]  # now marked: a third copy goes by offset
            assert legacy.add(sector, again[-1:]) == [] and legacy.redelivered[sector] == 1
        checked += len(again)
    assert checked, "no recent redelivery: the test would prove nothing"


def test_trackers_run_with_the_stage_settings_new_or_restored(tmp_path: Path) -> None:
    """A tracker's out-of-sequence lag is the stage's late tolerance (what the stage keeps
    late, the tracker places), and a restored sector runs on with today's settings, not
    those of the checkpoint (an upgrade or a changed tolerance applies on resume)."""
    from fusion.tracker import ENGINE_TRACKER

    ctx, stage, _ = _stage_after(tmp_path, raw=True)
    sector = next(iter(stage.trackers))
    assert stage.tracker(sector).config.oosm_max_lag_s == ctx.late_tolerance_s
    state = json.loads(dumps(stage.snapshot(sector)))
    state["tracker"]["config"].update(oosm_max_lag_s=1.0, announce_hits=1)  # an old checkpoint
    ctx.late_tolerance_s = 45.0
    restored = FusionStage(ctx)
    restored.restore(sector, state)
    cfg = restored.tracker(sector).config
    assert cfg.oosm_max_lag_s == 45.0
    assert cfg.announce_hits == ENGINE_TRACKER["announce_hits"] != 1
    assert len(restored.tracker(sector).tracks) == len(stage.tracker(sector).tracks) > 0


@pytest.mark.broker
def test_a_busy_sectors_state_fits_the_changelog_topic(
        kafka_bootstrap: str, topic_prefix: str, broker_kind: str) -> None:
    """A 3 MB state record: refused by Apache Kafka's defaults (1 MB records; the test broker
    also has 1 MB segments, as a small production topic might), stored in a topic with the
    state tables' changelog config. Both are what Faust's changelog would meet."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError

    from streams.agents import STATE_TOPIC_CONFIG

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    plain, state = topic_prefix + "plain-changelog", topic_prefix + "state-changelog"
    admin.create_topics([NewTopic(plain, 1, 1),
                         NewTopic(state, 1, 1, topic_configs=STATE_TOPIC_CONFIG)])
    admin.close()
    value = os.urandom(3 * 1024 * 1024)  # compressed state: incompressible
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=16 << 20,
                             request_timeout_ms=10000)
    try:
        assert producer.send(state, value, key=b"sector-1").get(timeout=30).offset == 0
        if broker_kind == "kafka":  # Tansu has no record limit: no control there
            with pytest.raises(KafkaError):
                producer.send(plain, value, key=b"sector-1").get(timeout=30)
    finally:
        producer.close()
