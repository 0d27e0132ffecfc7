"""Archive store: hash chain, tamper detection, crash repair, idempotence, retention."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from streams.archive.query import iter_window, list_segments
from streams.archive.store import ArchiveRecord, ArchiveStore, read_chain, verify_archive

T0 = 1_717_212_600.0  # 2024-06-01T03:30:00Z


def reading(i: int, t: float) -> ArchiveRecord:
    value = {"sensor_id": "R1", "t": t, "range_m": 1000.0 + i, "bearing_deg": 10.0}
    return ArchiveRecord.from_kafka(
        "readings.radar", i % 2, i // 2, t * 1000, b"R1", json.dumps(value).encode()
    )


def fill(
    root: Path, n: int = 200, step: float = 3.0, segment_s: float = 60.0, batch: int = 10
) -> list[ArchiveRecord]:
    recs = [reading(i, T0 + i * step) for i in range(n)]
    with ArchiveStore(root, segment_s=segment_s) as store:
        for k in range(0, n, batch):
            store.append(recs[k : k + batch])
        store.seal()
    return recs


def stored_keys(root: Path) -> list[tuple[int, int]]:
    return sorted((r.partition, r.offset) for r in iter_window(root, ["readings.radar"]))


def test_roundtrip_segments_by_bucket_and_chain_verifies(tmp_path: Path) -> None:
    recs = fill(tmp_path)
    segs = list_segments(tmp_path, ["readings.radar"])
    # 200 records 3 s apart starting on a minute boundary: 600 s -> ten 60 s buckets
    assert [s.records for s in segs] == [20] * 10
    assert all(s.closed and s.path.name.endswith(".seg.jsonl.gz") for s in segs)
    assert segs[0].t_first == T0 and segs[-1].t_last == T0 + 199 * 3
    entries, _ = read_chain(tmp_path / "readings.radar")
    assert [e["prev"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert entries[0]["offsets"] == {"0": [0, 9], "1": [0, 9]}
    assert stored_keys(tmp_path) == sorted((r.partition, r.offset) for r in recs)
    back = {(r.partition, r.offset): r.value for r in iter_window(tmp_path, ["readings.radar"])}
    assert all(back[(r.partition, r.offset)] == r.value for r in recs)  # byte-for-byte
    report = verify_archive(tmp_path)
    assert report.ok and report.segments == 10 and not report.problems


def test_window_selects_on_event_time(tmp_path: Path) -> None:
    fill(tmp_path)
    got = [r.t for r in iter_window(tmp_path, ["readings.radar"], T0 + 100, T0 + 130)]
    assert sorted(got) == [T0 + 3 * i for i in range(34, 44)]


def test_flipped_byte_names_that_segment(tmp_path: Path) -> None:
    fill(tmp_path)
    segs = list_segments(tmp_path, ["readings.radar"])
    victim = segs[4].path
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    report = verify_archive(tmp_path)
    assert not report.ok
    assert report.first is not None and report.first.kind == "altered"
    assert report.first.path == str(victim.relative_to(tmp_path / "readings.radar"))
    assert [p.seq for p in report.problems] == [segs[4].seq]


def test_deleted_segment_is_named_missing(tmp_path: Path) -> None:
    fill(tmp_path)
    segs = list_segments(tmp_path, ["readings.radar"])
    segs[2].path.unlink()
    report = verify_archive(tmp_path)
    assert not report.ok and report.first is not None
    assert (report.first.kind, report.first.seq) == ("missing", segs[2].seq)
    assert report.first.path == str(segs[2].path.relative_to(tmp_path / "readings.radar"))


def test_removed_or_edited_manifest_breaks_the_chain(tmp_path: Path) -> None:
    fill(tmp_path)
    chain = tmp_path / "readings.radar" / "chain.jsonl"
    lines = chain.read_text().splitlines()
    edited = json.loads(lines[3])
    edited["records"] += 1
    chain.write_text("\n".join(lines[:3] + [json.dumps(edited)] + lines[4:]) + "\n")
    first = verify_archive(tmp_path).first
    assert first is not None and (first.kind, first.seq) == ("manifest_altered", 4)
    chain.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    report = verify_archive(tmp_path)
    assert report.first is not None and (report.first.kind, report.first.seq) == ("missing", 4)
    assert any(p.kind == "chain_broken" and p.seq == 5 for p in report.problems)


def test_torn_tail_is_repaired_on_start_without_loss_or_duplicates(tmp_path: Path) -> None:
    recs = [reading(i, T0 + i * 0.5) for i in range(120)]  # all in one 3600 s bucket
    store = ArchiveStore(tmp_path)
    for k in range(0, 120, 20):
        store.append(recs[k : k + 20])
    store.close()  # "crash": the segment is left open, no manifest
    seg = next((tmp_path / "readings.radar").glob("*/*.seg.jsonl.gz"))
    data = seg.read_bytes()
    last_member = len(gzip.compress(b"".join(r.to_line() for r in recs[100:]), mtime=0))
    seg.write_bytes(data[: len(data) - last_member // 2])  # killed mid-write of batch 6
    with ArchiveStore(tmp_path) as store:
        assert store.repair.truncated and store.repair.quarantined
        assert Path(store.repair.quarantined[0]).stat().st_size > 0  # bytes kept aside
        # the consumer resumes from the store's high-water mark, which excludes batch 6
        assert store.next_offset("readings.radar", 0) == 50
        assert store.next_offset("readings.radar", 1) == 50
        # and the broker redelivers everything after the last *committed* offset
        assert store.append(recs[60:]) == 20
        store.seal()
    assert verify_archive(tmp_path).ok
    assert stored_keys(tmp_path) == sorted((r.partition, r.offset) for r in recs)


def test_redelivered_records_are_not_stored_twice(tmp_path: Path) -> None:
    recs = [reading(i, T0 + i) for i in range(50)]
    with ArchiveStore(tmp_path, segment_s=30) as store:
        assert store.append(recs[:30]) == 30
        assert store.append(recs[10:40]) == 10
    with ArchiveStore(tmp_path, segment_s=30) as store:  # restart: state from disk
        assert store.append(recs) == 10
        store.seal()
    assert stored_keys(tmp_path) == sorted((r.partition, r.offset) for r in recs)
    assert verify_archive(tmp_path).ok


def test_unclosed_older_segment_gets_a_manifest_on_start(tmp_path: Path) -> None:
    recs = [reading(i, T0 + i * 10) for i in range(30)]
    with ArchiveStore(tmp_path, segment_s=60) as store:
        store.append(recs)
    chain = tmp_path / "readings.radar" / "chain.jsonl"
    lines = chain.read_text().splitlines()
    chain.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # torn manifest write
    with ArchiveStore(tmp_path, segment_s=60) as store:
        assert store.repair.chain_repaired and store.repair.closed
        store.seal()
    assert verify_archive(tmp_path).ok
    assert stored_keys(tmp_path) == sorted((r.partition, r.offset) for r in recs)


def test_retention_deletes_whole_segments_and_keeps_the_chain(tmp_path: Path) -> None:
    fill(tmp_path)
    segs = list_segments(tmp_path, ["readings.radar"])
    now = T0 + 300 + 2 * 86400  # segments whose newest record is > 2 days old go
    with ArchiveStore(tmp_path, segment_s=60) as store:
        entries = store.apply_retention({"readings.radar": 2.0}, now=now)
    assert len(entries) == 1
    gone = [d["seq"] for d in entries[0]["deleted"]]
    assert gone == [s.seq for s in segs if s.ts_last < T0 + 300]
    assert not any(s.path.exists() for s in segs if s.seq in gone)
    assert [s.seq for s in list_segments(tmp_path, ["readings.radar"])] == [
        s.seq for s in segs if s.seq not in gone
    ]
    assert verify_archive(tmp_path).ok


def test_second_writer_is_refused(tmp_path: Path) -> None:
    with ArchiveStore(tmp_path), pytest.raises(RuntimeError, match="already open"):
        ArchiveStore(tmp_path)


def test_a_write_failing_midway_is_cut_back_and_its_records_stored_on_retry(
    tmp_path: Path, monkeypatch
) -> None:
    """A full disk fails a batch part-way. The segment is cut back to where the batch began,
    the store's offsets do not count it (the consumer retries it, after a restart or not),
    and later batches never sit behind torn bytes: every record reads back, the chain holds."""
    import errno
    import os

    import streams.archive.store as store_mod

    recs = [reading(i, T0 + i * 0.5) for i in range(60)]
    real_write, armed = os.write, {"on": False}

    def write(fd: int, data) -> int:
        if armed["on"]:
            armed["on"] = False
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(store_mod.os, "write", write)
    with ArchiveStore(tmp_path) as store:
        assert store.append(recs[:20]) == 20
        armed["on"] = True
        with pytest.raises(OSError):
            store.append(recs[20:40])
        assert store.next_offset("readings.radar", 0) == 10  # batch 2 not counted stored
        assert store.append(recs[20:40]) == 20  # the retry stores it
        assert store.append(recs[40:]) == 20
        store.seal()
    assert stored_keys(tmp_path) == sorted((r.partition, r.offset) for r in recs)
    assert verify_archive(tmp_path).ok
