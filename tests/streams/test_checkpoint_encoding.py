"""Round 8 of the fusion checkpoint (issue 9): the recent-id set kept as an incrementally
encoded run log (``streams.idruns``), the track store's ``seen``/``seen_t`` stored sparsely,
and large states packed with lz4 (zlib when that is smaller and lz4 leaves them large).
Round trips, the older forms still restore, the run log stays equal to grouping ``recent``
from scratch and behaves as round 8's ``OrderedDict`` did (one structure since), and a
stored value is above ``LZ4_MAX_BYTES`` only if round 7's was as large."""

from __future__ import annotations

import json
import os
import random
import zlib
from collections import OrderedDict
from pathlib import Path

import pytest

from fusion.types import Observation
from streams.agents import (
    LZ4_MAX_BYTES,
    PACK_AT_BYTES,
    dumps,
    loads,
    pack_state,
    unpack_state,
)
from streams.engine import Context, FusionStage
from streams.idruns import HEX8, TEXT, RecentIds, decode_run, encode_run, iter_recent
from tests.streams.test_fusion_checkpoint import (
    _drive,
    _flush,
    _groups_loop,
    _stage_after,
    _stamped_batches,
)


def test_runs_round_trip_hex_ids_as_bytes_and_anything_else_as_text() -> None:
    hexes = [os.urandom(8).hex() for _ in range(50)]
    run = encode_run(12.5, hexes)
    assert run[:2] == [12.5, HEX8] and decode_run(run) == hexes
    assert len(run[2]) < 0.7 * len(" ".join(hexes))  # ~11 characters an id instead of 17
    # ids that bytes would not give back as they were: upper case, other lengths, other
    # alphabets; one such id makes the whole run text
    for odd in ["ABCDEF0123456789", "abc", "0123456789abcdef0", "R1-17", "zzzzzzzzzzzzzzzz"]:
        run = encode_run(3.0, [*hexes[:3], odd])
        assert run[1] == TEXT and decode_run(run) == [*hexes[:3], odd]
    # whitespace that ``bytes.fromhex`` would skip (ids never hold any: text splits on it)
    assert encode_run(3.0, ["0123 456789abcde"])[1] == TEXT
    assert decode_run(encode_run(1.0, [])) == []
    with pytest.raises(ValueError, match="encoding"):
        decode_run([1.0, "zip", ""])


def test_every_checkpoint_form_of_recent_restores() -> None:
    recent = {os.urandom(8).hex(): 10.0 + 0.1 * i for i in range(30)}
    recent["d7"] = 13.1  # a non-hash id (tests, the offline tracker command)
    groups = _groups_loop(recent, 0.25)
    newest = {oid: t for t, ids in groups for oid in ids.split()}
    runs = RecentIds.from_pairs(recent.items(), 0.25).encoded()
    assert list(iter_recent({"recent_runs": runs})) == list(newest.items())
    assert list(iter_recent({"recent_ids": groups})) == list(newest.items())  # round 4-7
    assert list(iter_recent({"recent": recent})) == list(recent.items())  # before round 4
    assert all(newest[k] >= t for k, t in recent.items())  # never expires earlier


def _busy_batches(tmp_path: Path) -> tuple[Context, list[dict[str, list[dict]]]]:  # type: ignore[type-arg]
    """60 s of the busy mixed scenario (checkpoint_size.py's), ingested as the agent does."""
    return _stamped_batches(tmp_path, seed=4, duration=60, layout="mixed", density=3.0)


def _runs_hold(recent: RecentIds) -> None:
    """The runs hold exactly the ids and times of ``recent``, in its order."""
    assert [i for r in recent.runs for i in r.ids] == list(recent)
    assert [t for r in recent.runs for t in r.times] == list(recent.values())
    assert all(r.newest == max(r.times) for r in recent.runs)


def test_run_log_stays_equal_to_grouping_recent_from_scratch(tmp_path: Path) -> None:
    """Checkpointed every batch (the agent: once a second), the log, appended at every
    release and cut at every expiry (a short horizon: many runs cut in the middle), gives
    the same groups as round 7's regrouping of the whole of ``recent``."""
    ctx, batches = _busy_batches(tmp_path)
    stage = FusionStage(ctx, dedup_horizon_s=3.1)
    checked = 0
    for batch in batches:
        _drive(stage, [batch], [])
        for sector in stage.trackers:
            got = stage.snapshot(sector)["recent_runs"]
            want = _groups_loop(stage.recent[sector], stage.bucket_s)
            assert [[r[0], " ".join(decode_run(r))] for r in got] == want
            _runs_hold(stage.recent[sector])
            checked += len(want)
    assert checked > 2000, "too few runs checked: the test would prove little"


class _Round8Recent:
    """Round 8's ``recent`` (the reference): an OrderedDict written id by id, popped from
    the front while the oldest time is behind the horizon."""

    def __init__(self) -> None:
        self.d: OrderedDict[str, float] = OrderedDict()

    def release(self, ids: list[str], times: list[float]) -> None:
        for oid, t in zip(ids, times, strict=True):
            self.d[oid] = t

    def expire(self, horizon: float) -> None:
        while self.d and next(iter(self.d.values())) < horizon:
            self.d.popitem(last=False)


@pytest.mark.parametrize("seed", range(6))
def test_recent_ids_behave_as_round_8s_ordered_dict(seed: int) -> None:
    """Random releases (sorted batches, late arrivals behind earlier ones, now and then an
    id released again) and expiries: the same ids, times and order as round 8's
    OrderedDict after every step, the runs its grouping from scratch; a restore from the
    checkpoint form expires no id earlier."""
    rng = random.Random(seed)
    bucket = rng.choice([0.1, 0.25, 1.0])
    ref, recent = _Round8Recent(), RecentIds(bucket)
    t, n_ids, again = 100.0, 0, 0
    for _ in range(300):
        batch = []
        for _ in range(rng.randrange(0, 40)):
            if ref.d and rng.random() < 0.02:  # an id again (not from FusionStage)
                oid, again = rng.choice(list(ref.d)), again + 1
            else:
                hexid = f"{rng.getrandbits(64):016x}"
                oid, n_ids = hexid if rng.random() < 0.9 else f"d{n_ids}", n_ids + 1
            late = rng.random() < 0.1
            batch.append((oid, round(t - (rng.uniform(0, 3) if late else rng.uniform(0, 0.3)), 3)))
        batch.sort(key=lambda p: p[1])
        ids, times = [p[0] for p in batch], [p[1] for p in batch]
        ref.release(ids, times)
        recent.release(ids, times)
        t += rng.uniform(0, 0.5)
        horizon = t - rng.uniform(1.0, 5.0)
        ref.expire(horizon)
        recent.expire(horizon)
        assert list(recent.items()) == list(ref.d.items())
        assert [[r[0], " ".join(decode_run(r))] for r in recent.encoded()] == \
            _groups_loop(ref.d, bucket)
        _runs_hold(recent)
    assert again > 0 and n_ids > 1000
    back = RecentIds.from_pairs(iter_recent({"recent_runs": recent.encoded()}), bucket)
    assert list(back) == list(recent) and all(back[k] >= v for k, v in recent.items())
    assert back.encoded() == recent.encoded()


def test_run_log_cut_in_the_middle_of_a_run() -> None:
    recent = {f"{i:016x}": 1.0 + 0.05 * i for i in range(40)}  # 5 ids a 0.25 s bucket
    log = RecentIds.from_pairs(recent.items(), 0.25)
    times = [2.96, 2.98, 3.3]  # the first two extend the last run (bucket 11)
    log.release([f"{i:016x}" for i in range(40, 43)], times)
    for i, t in zip(range(40, 43), times, strict=True):
        recent[f"{i:016x}"] = t
    for horizon in (0.5, 1.11, 1.16, 1.6, 2.97, 2.99):  # from the front, cutting runs
        while recent and next(iter(recent.values())) < horizon:
            del recent[next(iter(recent))]
        log.expire(horizon)
        assert [[r[0], " ".join(decode_run(r))] for r in log.encoded()] == \
            _groups_loop(recent, 0.25)
        assert dict(log) == recent
    assert len(log) == 1 and log.runs[0].ids == [f"{42:016x}"]


def test_restored_stage_continues_identically_through_pack_state(tmp_path: Path) -> None:
    """Checkpoints taken all along (run log kept in step), the last one packed, unpacked and
    restored into a new stage: the same track updates as an uninterrupted run."""
    ctx, batches = _stamped_batches(tmp_path)
    half = len(batches) // 2
    ref_stage, ref = FusionStage(ctx), []  # type: ignore[var-annotated]
    _drive(ref_stage, batches, ref)
    _flush(ref_stage, ref)
    stage, out = FusionStage(ctx), []  # type: ignore[var-annotated]
    for batch in batches[:half]:
        _drive(stage, [batch], out)
        saved = {s: pack_state(dumps(stage.snapshot(s))) for s in stage.trackers}
    restored = FusionStage(ctx)
    for sector, data in saved.items():
        restored.restore(sector, unpack_state(data))
        assert restored.recent[sector].keys() == stage.recent[sector].keys()
        assert restored.src_offsets[sector] == stage.src_offsets[sector]
    _drive(restored, batches[half:], out)
    _flush(restored, out)
    assert out == ref and out


def test_round_7_checkpoint_still_restores(tmp_path: Path) -> None:
    """A checkpoint as round 7 wrote it (``recent_ids`` text groups, zlib-packed when
    large) restores the same recent ids and buffer as this version's."""
    ctx, stage, _ = _stage_after(tmp_path, raw=True)
    for sector in stage.trackers:
        snap = loads(dumps(stage.snapshot(sector)))
        old = {k: v for k, v in snap.items() if k != "recent_runs"}
        old["recent_ids"] = _groups_loop(stage.recent[sector], stage.bucket_s)
        data = dumps(old)
        for stored in (data, b"\x00z" + zlib.compress(data, 1)):  # round 7's pack_state
            a, b = FusionStage(ctx), FusionStage(ctx)
            a.restore(sector, unpack_state(stored))
            b.restore(sector, snap)
            assert a.recent[sector] == b.recent[sector] and a.recent[sector]
            assert [o.to_dict() for o in a.buffers[sector]] == \
                [o.to_dict() for o in b.buffers[sector]]
            assert dumps(a.snapshot(sector)) == dumps(b.snapshot(sector))


def _hex_state(n_ids: int) -> bytes:
    """A state dominated by content-hash ids as text: lz4 (no entropy coding) hardly
    shrinks them, zlib about halves them."""
    return dumps({"recent_ids": [[1.0, " ".join(os.urandom(8).hex() for _ in range(n_ids))]]})


@pytest.mark.parametrize("n_ids", [20_000, 40_000, 80_000])
def test_packed_size_stays_under_the_limit_whenever_round_7s_did(n_ids: int) -> None:
    data = _hex_state(n_ids)
    assert len(data) > PACK_AT_BYTES
    packed = pack_state(data)
    zlib_only = b"\x00z" + zlib.compress(data, 1)  # round 7
    assert len(packed) <= max(LZ4_MAX_BYTES, len(zlib_only))
    if len(packed) > LZ4_MAX_BYTES:  # lz4 left it large: zlib's output if smaller
        assert len(packed) <= len(zlib_only)
    assert unpack_state(packed) == json.loads(data)
    assert len(pack_state(data)) < 1_000_000 or len(zlib_only) >= 1_000_000


def test_lz4_packs_a_large_repetitive_state() -> None:
    obs = Observation("0123456789abcdef", "R1", "radar", 1.0e9, 51.5, 30.5,
                      [[225.0, 1.0], [1.0, 300.0]], {"range_m": 1000.0}, "sector-1")
    state = {"buffer": [{**obs.to_dict(), "obs_id": os.urandom(8).hex(), "t": 1.0e9 + i}
                        for i in range(3000)]}
    data = dumps(state)
    assert len(data) > PACK_AT_BYTES
    packed = pack_state(data)
    assert packed[:2] == b"\x00l" and len(packed) < len(data) / 2
    assert unpack_state(packed) == state
    small = dumps({"a": 1})
    assert pack_state(small) == small and unpack_state(small) == {"a": 1}


def _store_after(tmp_path: Path) -> object:
    """The busiest track store of a sector after 60 s of the busy scenario."""
    ctx, batches = _busy_batches(tmp_path)
    stage = FusionStage(ctx)
    _drive(stage, batches, [])
    return max((tr.tracks for tr in stage.trackers.values()), key=len)


def test_track_store_seen_columns_round_trip_and_round_7_form_restores(tmp_path: Path) -> None:
    """``seen`` as bits and ``seen_t`` only where seen restore the very same arrays; the
    form of rounds 5-7 (a byte a flag, the whole ``seen_t``) still restores; a ``seen_t``
    that is not 0 where unseen goes out whole (exact either way)."""
    import numpy as np

    from fusion.tracking.store import TrackStore, _encode

    st = _store_after(tmp_path)
    assert len(st) > 10 and st.seen.shape[1] > 5 and st.seen.any()  # type: ignore[attr-defined]
    d = loads(dumps(st.to_dict()))  # type: ignore[attr-defined]
    assert "seen_t_at_seen" in d and "seen_t" not in d and "seen" not in d
    back = TrackStore.from_dict(d)
    for name in ("seen", "seen_t"):
        a, b = getattr(back, name), getattr(st, name)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    old = {k: v for k, v in d.items() if k not in ("seen_bits", "seen_t_at_seen")}
    old.update(seen=_encode(st.seen, bool), seen_t=_encode(st.seen_t, np.float64))  # type: ignore[attr-defined]
    older = TrackStore.from_dict(old)
    assert older.seen.tobytes() == st.seen.tobytes()  # type: ignore[attr-defined]
    assert older.seen_t.tobytes() == st.seen_t.tobytes()  # type: ignore[attr-defined]
    assert len(d["seen_bits"]) + len(d["seen_t_at_seen"]) < 0.5 * (len(old["seen"])
                                                                   + len(old["seen_t"]))
    odd = TrackStore.from_dict(d)
    odd.seen_t[~odd.seen] = -0.0  # bitwise not 0: must survive as it is
    d2 = loads(dumps(odd.to_dict()))
    assert "seen_t" in d2
    assert TrackStore.from_dict(d2).seen_t.tobytes() == odd.seen_t.tobytes()
    empty = TrackStore(0)
    assert TrackStore.from_dict(loads(dumps(empty.to_dict()))).seen.shape == (0, 0)

