"""The spool: durable append, replay after restart, torn tails, order, segment cleanup."""

from __future__ import annotations

import logging

from sensors.gateway.spool import Record, Spool, decode, encode


def _recs(n: int, start: int = 0) -> list[Record]:
    return [
        Record("readings.radar", "R1", {"sensor_id": "R1", "t": float(i), "seq": i})
        for i in range(start, start + n)
    ]


def _drain(spool: Spool, batch: int = 7) -> list[Record]:
    out = []
    while spool.depth:
        items = spool.peek(batch)
        assert items, "depth > 0 but nothing to read"
        out.extend(r for r, _ in items)
        spool.commit(items[-1][1], sum(r.weight for r, _ in items))
    return out


def test_record_line_roundtrip_and_crc() -> None:
    rec = Record("deadletter", None, {"raw": "line\nwith newline", "x": [1, 2]})
    line = encode(rec)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert decode(line) == rec
    bad = line.replace(b"newline", b"newlinE")
    assert decode(bad) is None


def test_append_then_replay_after_restart_in_order(tmp_path) -> None:
    spool = Spool.open(tmp_path)
    spool.append(_recs(5))
    spool.append(_recs(5, 5))
    assert spool.depth == 10
    spool.close()
    again = Spool.open(tmp_path)
    assert again.depth == 10
    assert [r.value["seq"] for r in _drain(again)] == list(range(10))
    assert again.depth == 0


def test_partial_drain_survives_restart_without_resending_acked(tmp_path) -> None:
    spool = Spool.open(tmp_path)
    spool.append(_recs(10))
    items = spool.peek(4)
    spool.commit(items[-1][1], 4)
    spool.close()
    again = Spool.open(tmp_path)
    assert again.depth == 6
    assert [r.value["seq"] for r in _drain(again)] == list(range(4, 10))


def test_torn_tail_is_dropped_with_a_log_line(tmp_path, caplog) -> None:
    spool = Spool.open(tmp_path)
    spool.append(_recs(3))
    spool.close()
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    whole = encode(_recs(1, 3)[0])
    with open(seg, "ab") as fh:
        fh.write(whole[: len(whole) // 2])  # a crash mid-write
    with caplog.at_level(logging.WARNING):
        again = Spool.open(tmp_path)
    assert again.depth == 3
    assert again.dropped_torn == 1
    assert "torn tail" in caplog.text
    again.append(_recs(1, 3))  # new writes are clean
    assert [r.value["seq"] for r in _drain(again)] == [0, 1, 2, 3]


def test_bad_crc_on_final_line_counts_as_torn(tmp_path) -> None:
    spool = Spool.open(tmp_path)
    spool.append(_recs(2))
    spool.close()
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    data = seg.read_bytes()
    seg.write_bytes(data[:-5] + b"XXXX\n")
    again = Spool.open(tmp_path)
    assert again.depth == 1
    assert [r.value["seq"] for r in _drain(again)] == [0]


def test_depth_counts_readings_of_batched_records(tmp_path) -> None:
    spool = Spool.open(tmp_path)
    spool.append(
        [
            Record("readings.radar", "R1", [{"seq": 0}, {"seq": 1}, {"seq": 2}]),
            Record("deadletter", "readings.radar", {"reason": "x"}),
        ]
    )
    assert spool.depth == 4
    spool.close()
    assert Spool.open(tmp_path).depth == 4


def test_new_records_queue_behind_waiting_ones(tmp_path) -> None:
    spool = Spool.open(tmp_path)
    assert spool.append_if_nonempty(_recs(1)) is False  # empty: caller sends directly
    assert spool.depth == 0
    spool.append(_recs(2))
    assert spool.append_if_nonempty(_recs(2, 2)) is True
    assert [r.value["seq"] for r in _drain(spool, batch=3)] == [0, 1, 2, 3]


def test_segments_rotate_and_are_deleted_once_drained(tmp_path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=300)
    for i in range(6):
        spool.append(_recs(2, 2 * i))
    assert len(list(tmp_path.glob("*.seg"))) >= 3
    spool.close()
    again = Spool.open(tmp_path, segment_bytes=300)
    assert [r.value["seq"] for r in _drain(again, batch=5)] == list(range(12))
    assert len(list(tmp_path.glob("*.seg"))) == 1  # only the fresh active segment
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) == 0


def _fail_once(monkeypatch, after_bytes: int, also_truncate: bool = False) -> None:
    """The next ``os.write`` in the spool writes ``after_bytes`` bytes, then the disk is full
    (ENOSPC, as a real one fails mid-batch); with ``also_truncate`` cutting back fails too."""
    import errno
    import os

    import sensors.gateway.spool as spool_mod

    real_write, state = os.write, {"armed": True}

    def write(fd: int, data) -> int:
        if state["armed"]:
            state["armed"] = False
            real_write(fd, bytes(data[:after_bytes]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def ftruncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(spool_mod.os, "write", write)
    if also_truncate:
        monkeypatch.setattr(spool_mod.os, "ftruncate", ftruncate)


def _failed_batch_between_two_good_ones(tmp_path, monkeypatch, also_truncate: bool) -> None:
    import pytest

    spool = Spool.open(tmp_path)
    spool.append(_recs(3))
    _fail_once(monkeypatch, after_bytes=40, also_truncate=also_truncate)
    with pytest.raises(OSError):
        spool.append(_recs(3, 100))  # refused to its sender: never acknowledged
    spool.append(_recs(3, 3))  # acknowledged: must survive
    assert spool.depth == 6
    seqs = [r.value["seq"] for r, _ in spool.peek(100)]
    spool.close()
    again = Spool.open(tmp_path)
    assert seqs == [r.value["seq"] for r in _drain(again)] == list(range(6))
    assert again.skipped_corrupt == 0 and spool.skipped_corrupt == 0


def test_a_write_failing_midway_is_cut_back_and_later_batches_survive(
    tmp_path, monkeypatch
) -> None:
    """Without the cut the next batch was appended to the torn bytes: its first record failed
    its CRC on reading and was skipped, though its sender had been told it was stored."""
    _failed_batch_between_two_good_ones(tmp_path, monkeypatch, also_truncate=False)


def test_when_cutting_back_fails_too_writing_moves_to_a_new_segment(
    tmp_path, monkeypatch
) -> None:
    _failed_batch_between_two_good_ones(tmp_path, monkeypatch, also_truncate=True)


def test_a_capped_spool_refuses_before_writing_and_takes_again_once_drained(tmp_path) -> None:
    import errno

    import pytest

    from sensors.gateway.spool import SpoolFull

    one = len(b"".join(encode(r) for r in _recs(10, 10)))  # batches 10-19, 20-29 … alike
    spool = Spool.open(tmp_path, max_bytes=2 * one)
    spool.append(_recs(10, 10))
    spool.append(_recs(10, 20))
    size = sum(p.stat().st_size for p in tmp_path.glob("*.seg"))
    with pytest.raises(SpoolFull, match="spool full") as err:
        spool.append(_recs(1, 30))
    assert err.value.errno == errno.ENOSPC  # an OSError: the forwarder refuses the batch
    assert spool.depth == 20
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) == size  # nothing written
    items = spool.peek(10)
    spool.commit(items[-1][1], 10)  # half drained: room for another batch of ten
    spool.append(_recs(10, 30))
    with pytest.raises(SpoolFull):
        spool.append(_recs(1, 40))
    spool.close()
    again = Spool.open(tmp_path, max_bytes=2 * one)  # the waiting bytes are counted again
    with pytest.raises(SpoolFull):
        again.append(_recs(1, 40))
    assert [r.value["seq"] for r in _drain(again)] == list(range(20, 40))
    again.append(_recs(1, 40))  # empty again: taken


def test_the_spool_keeps_the_disk_reserve(tmp_path) -> None:
    import os

    import pytest

    from sensors.gateway.spool import SpoolFull

    st = os.statvfs(tmp_path)
    free = st.f_bavail * st.f_frsize
    spool = Spool.open(tmp_path, min_free_bytes=free + 1)  # no room left for anything
    with pytest.raises(SpoolFull, match="disk nearly full"):
        spool.append(_recs(1))
    assert spool.depth == 0
    roomy = Spool.open(tmp_path / "b", min_free_bytes=1024)
    roomy.append(_recs(1))
    assert roomy.depth == 1
