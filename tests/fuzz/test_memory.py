"""Bounded memory on hostile input: a huge *declared* length must not be allocated, and
state kept between inputs (AIS fragments) must stay capped however many arrive.

Measured with ``tracemalloc``: the peak for N inputs must not grow with N (ratio of the
peaks for 10·N and N inputs) and must stay under an absolute bound.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from sensors.ais import AisDecoder
from sensors.ais.framing import nmea_checksum
from sensors.radar.cat048 import decode_asterix_blocks
from sensors.seismic.mseed import read_mseed
from sensors.thermal.geometry import CameraParams
from sensors.thermal.onvif import decode_onvif_metadata
from streams.engine import Context, IngestStage

MIB = 1024 * 1024


def _peak(fn: Callable[[int], None], n: int) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn(n)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _assert_bounded(fn: Callable[[int], None], n: int, limit: int) -> tuple[int, int]:
    small, big = _peak(fn, n), _peak(fn, 10 * n)
    assert big < limit, f"peak {big / MIB:.1f} MiB for {10 * n} inputs (limit {limit / MIB} MiB)"
    assert big < 3 * small + MIB, f"peak grows with the input count: {small} -> {big} bytes"
    return small, big


def test_asterix_huge_declared_block_length_is_not_allocated() -> None:
    block = bytes([48]) + (0xFFFF).to_bytes(2, "big") + b"\xff" * 7  # says 64 KiB, holds 10

    def run(n: int) -> None:
        for _ in range(n):
            readings, problems = decode_asterix_blocks(block, date="2024-06-01")
            assert not readings and problems[0].reason == "truncated"

    _assert_bounded(run, 200, 2 * MIB)


def _mseed_header(nsamp: int, exp: int, encoding: int = 11) -> bytes:
    head = b"000001D " + b"STA  " + b"  " + b"HHZ" + b"XX"
    head += struct.pack(
        ">HHBBBBHHhhBBBBiHH", 2020, 1, 0, 0, 0, 0, 0, nsamp, 100, 1, 0, 0, 0, 1, 0, 64, 48
    )
    head += struct.pack(">HHBBBB", 1000, 0, encoding, 1, exp, 0)
    return head


def test_mseed_huge_declared_record_and_sample_counts_are_not_allocated() -> None:
    # 65535 samples and a 2**30-byte record declared in 512 bytes of input
    bad = [_mseed_header(65535, 30).ljust(512, b"\0"), _mseed_header(65535, 9).ljust(512, b"\x7f")]

    def run(n: int) -> None:
        for i in range(n):
            skipped: list = []
            read_mseed(bad[i % 2], errors="skip", skipped=skipped)

    _assert_bounded(run, 50, 4 * MIB)


def _fragment(seq: int) -> str:
    body = f"AIVDM,2,1,{seq % 10},A,55NBjP01mtGIL@CW;SM<D60P5Ld000000000000P0`<3557l0<50@kk@K5h,0"
    return f"!{body}*{nmea_checksum(body):02X}"


def test_ais_pending_fragments_stay_capped() -> None:
    def run(n: int) -> None:
        dec = AisDecoder(max_pending_fragments=1000)
        for i in range(n):  # first halves only, each from another "station": never complete
            dec.feed(_fragment(i), f"S{i}", 1000.0 + i * 1e-3)

    _assert_bounded(run, 300, 8 * MIB)
    dec = AisDecoder(max_pending_fragments=1000)
    for i in range(3000):
        dec.feed(_fragment(i), f"S{i}", 1000.0)
    assert len(dec._reasm._groups) == 1000  # the oldest are evicted (and reported)


def test_onvif_oversized_document_is_refused_unparsed() -> None:
    cam = CameraParams("T1", heading_deg=90.0, fov_deg=40.0, height_m=10.0)
    doc = b"<tt:MetadataStream>" + b" " * (5 * MIB) + b"</tt:MetadataStream>"

    def run(n: int) -> None:
        for _ in range(n):
            readings, problems = decode_onvif_metadata(doc, cam)
            assert problems[0].reason == "too_large"

    _assert_bounded(run, 3, 4 * MIB)


@pytest.fixture
def stage(tmp_path: Path) -> IngestStage:
    (tmp_path / "sensors.yaml").write_text(
        '{"sensors": [{"id": "R1", "type": "radar", "lat": 51.5, "lon": 30.5}]}'
    )
    return IngestStage(Context.from_files(tmp_path / "sensors.yaml"))


def test_ingest_too_large_records_are_not_parsed(stage: IngestStage) -> None:
    record = b'{"sensor_id":"R1","t":1,"pad":"' + b"x" * (2 * MIB) + b'"}'

    def run(n: int) -> None:
        for _ in range(n):
            res = stage.ingest("readings.radar", record)
            assert [d.reason for d in res.deadletters] == ["too_large"]

    _assert_bounded(run, 5, 2 * MIB)
