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
