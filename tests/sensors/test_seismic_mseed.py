"""miniSEED reader: the ObsPy BW.RJOB example, hand-built records of every encoding, and
corrupt input. Optional cross-check against libmseed's reference records (Apache-2.0) when
``LIBMSEED_TESTDATA`` points at a checkout's ``test/data``."""

from __future__ import annotations

import calendar
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from sensors.seismic.mseed import MiniSeedError, iter_records, read_mseed, sample_rate
from sensors.seismic.steim import SteimError, decode_steim

RJOB = "seismic/obspy/BW.RJOB.example_2009-08-24.mseed"
T_RJOB = calendar.timegm((2009, 8, 24, 0, 20, 3))


# -- helpers: build records by the SEED manual's layout -----------------------------------------


def _pack_word(fields: list[int], bits: int, dnib: int | None = None) -> int:
    word = 0
    for v in fields:
        word = (word << bits) | (v & ((1 << bits) - 1))
    return word if dnib is None else word | (dnib << 30)


def _steim_frame(x0: int, xn: int, words: list[tuple[int, int]]) -> bytes:
    """One first frame: control word, X0, Xn, then (code, word) pairs (up to 13)."""
    codes = [0, 0, 0] + [c for c, _ in words]
    codes += [0] * (16 - len(codes))
    control = 0
    for c in codes:
        control = (control << 2) | c
    body = [control, x0 & 0xFFFFFFFF, xn & 0xFFFFFFFF] + [w for _, w in words]
    body += [0] * (16 - len(body))
    return struct.pack(">16I", *body)


def _record(
    payload: bytes,
    nsamp: int,
    encoding: int,
    *,
    seq: int = 1,
    sta: str = "TEST",
    cha: str = "HHZ",
    net: str = "XX",
    start: tuple[int, int, int, int, int, int] = (2024, 100, 12, 0, 0, 0),
    factor: int = 100,
    mult: int = 1,
    reclen_exp: int = 9,
    quality: bytes = b"D",
) -> bytes:
    head = struct.pack(
        ">6sc1x5s2s3s2sHHBBBxHHhhBBBBiHH",
        f"{seq:06d}".encode(),
        quality,
        sta.ljust(5).encode(),
        b"  ",
        cha.encode(),
        net.encode(),
        *start,
        nsamp,
        factor,
        mult,
        0,
        0,
        0,
        1,
        0,
        64,
        48,
    )
    b1000 = struct.pack(">HHBBBx", 1000, 0, encoding, 1, reclen_exp)
    rec = head + b1000 + b"\0" * 8 + payload
    size = 1 << reclen_exp
    assert len(rec) <= size
    return rec + b"\0" * (size - len(rec))


# -- the real file ---------------------------------------------------------------------------------


def test_rjob_records_and_traces(shared_data: Path) -> None:
    buf = (shared_data / RJOB).read_bytes()
    recs = list(iter_records(buf))
    assert len(recs) == 9 == len(buf) // 4096
    assert {r.encoding for r in recs} == {4}  # FLOAT32: inspected, see docs/seismic.md
    traces = read_mseed(shared_data / RJOB)
    assert sorted(t.channel for t in traces) == ["EHE", "EHN", "EHZ"]
    for t in traces:
        assert (t.network, t.station, t.location) == ("BW", "RJOB", "")
        assert t.rate_hz == 100.0
        assert len(t.samples) == 3000  # 1010 + 1010 + 980 per channel: 30 s
        assert t.starttime == pytest.approx(T_RJOB)
        assert t.samples.dtype == np.float32
        assert np.all(np.isfinite(t.samples))
    by_cha = {r.channel: [] for r in recs}
    for r in recs:
        by_cha[r.channel].append(r)
    for rs in by_cha.values():
        # each record starts where the previous one ended: start + n / rate
        for a, b in zip(rs, rs[1:], strict=False):
            assert b.starttime == pytest.approx(a.starttime + len(a.samples) / 100.0, abs=1e-4)


def test_rjob_sample_values_match_raw_bytes(shared_data: Path) -> None:
    """Independent decode of record 2 of EHZ: big-endian float32 from the header's offset."""
    buf = (shared_data / RJOB).read_bytes()
    off = 4096
    (nsamp,) = struct.unpack(">H", buf[off + 30 : off + 32])
    (data_off,) = struct.unpack(">H", buf[off + 44 : off + 46])
    assert (nsamp, data_off) == (1010, 56)
    raw = struct.unpack(f">{nsamp}f", buf[off + data_off : off + data_off + 4 * nsamp])
    ehz = next(t for t in read_mseed(shared_data / RJOB) if t.channel == "EHZ")
    np.testing.assert_array_equal(ehz.samples[1010 : 1010 + nsamp], np.float32(raw))
    # the event: peak well above the pre-event noise in the first 3 s
    assert np.abs(ehz.samples).max() > 4 * np.abs(ehz.samples[:300]).max()


# -- encodings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "dtype"), [(1, ">i2"), (3, ">i4"), (4, ">f4"), (5, ">f8")])
def test_plain_encodings(encoding: int, dtype: str) -> None:
    values = np.array([0, 1, -1, 32767, -32768, 12345, -2, 7])[: 400 // np.dtype(dtype).itemsize]
    recs = read_mseed(_record(values.astype(dtype).tobytes(), len(values), encoding))
    assert len(recs) == 1
    np.testing.assert_array_equal(recs[0].samples, values)


def test_steim1_hand_built_frame() -> None:
    # samples 100, 103, 101, 101, 90  |  +1000, -40000, and a 32-bit jump
    diffs = [0, 3, -2, 0, -11, 1000, -40000, 2_000_000_000]
    samples = 100 + np.cumsum([0] + diffs[1:])
    words = [  # 4 x 8 bit, 2 x 16 bit, then 32-bit words (-40000 does not fit 16 bits)
        (1, _pack_word(diffs[0:4], 8)),
        (2, _pack_word(diffs[4:6], 16)),
        (3, diffs[6] & 0xFFFFFFFF),
        (3, diffs[7] & 0xFFFFFFFF),
    ]
    frame = _steim_frame(int(samples[0]), int(samples[-1]), words)
    out = decode_steim(frame, len(samples), 1)
    np.testing.assert_array_equal(out, samples.astype(np.int32))
    assert out.tolist()[:5] == [100, 103, 101, 101, 90]


def test_steim2_hand_built_frame_all_packings() -> None:
    groups = [
        (1, None, 8, [0, 5, -7, 127]),
        (2, 1, 30, [-300_000_000]),
        (2, 2, 15, [16000, -16000]),
        (2, 3, 10, [511, -512, 3]),
        (3, 0, 6, [31, -32, 1, 2, 3]),
        (3, 1, 5, [15, -16, 0, 1, -1]),  # plus one more below
        (3, 2, 4, [7, -8, 1, -1, 2, -2, 0]),
    ]
    groups[5] = (3, 1, 5, [15, -16, 0, 1, -1, 4])
    diffs, words = [], []
    for code, dnib, bits, vals in groups:
        diffs += vals
        words.append((code, _pack_word(vals, bits, dnib)))
    samples = -5 + np.cumsum([0] + diffs[1:])
    frame = _steim_frame(int(samples[0]), int(samples[-1]), words)
    np.testing.assert_array_equal(decode_steim(frame, len(samples), 2), samples)


def test_steim_reverse_constant_mismatch_is_an_error() -> None:
    frame = _steim_frame(10, 999, [(1, _pack_word([0, 1, 1, 1], 8))])
    with pytest.raises(SteimError, match="reverse integration constant"):
        decode_steim(frame, 4, 1)


def test_steim_record_through_reader_and_gap_split() -> None:
    diffs = [0, 1, 2, 3]
    frame = _steim_frame(50, 56, [(1, _pack_word(diffs, 8))])
    a = _record(frame, 4, 10, seq=1, start=(2024, 100, 12, 0, 0, 0))
    b = _record(frame, 4, 10, seq=2, start=(2024, 100, 12, 0, 0, 400))  # 0.04 s later: contiguous
    c = _record(frame, 4, 10, seq=3, start=(2024, 100, 12, 0, 1, 0))  # a gap
    traces = read_mseed(a + b + c)
    assert [len(t.samples) for t in traces] == [8, 4]
    np.testing.assert_array_equal(traces[0].samples, [50, 51, 53, 56] * 2)
    assert traces[1].starttime - traces[0].starttime == pytest.approx(1.0)


def test_two_channels_interleaved() -> None:
    vals = np.arange(10, dtype=">i4")
    starts = [(2024, 100, 12, 0, 0, 0), (2024, 100, 12, 0, 0, 1000)]  # 10 samples = 0.1 s
    recs = b"".join(
        _record(vals.tobytes(), 10, 3, seq=i + 1, cha=cha, start=starts[i // 2])
        for i, cha in enumerate(["HHZ", "HHN", "HHZ", "HHN"])
    )
    traces = read_mseed(recs)
    assert {t.channel: len(t.samples) for t in traces} == {"HHZ": 20, "HHN": 20}
    np.testing.assert_array_equal(traces[0].samples, np.tile(np.arange(10), 2))


@pytest.mark.parametrize(
    ("factor", "mult", "rate"),
    [(100, 1, 100.0), (1, 1, 1.0), (-10, 1, 0.1), (10, -2, 5.0), (-60, -1, 1 / 60), (0, 1, 0.0)],
)
def test_sample_rate_factor_multiplier(factor: int, mult: int, rate: float) -> None:
    assert sample_rate(factor, mult) == pytest.approx(rate)


def test_btime_and_fraction() -> None:
    rec = _record(np.zeros(4, ">i4").tobytes(), 4, 3, start=(2012, 60, 23, 59, 59, 9999))
    t = read_mseed(rec)[0].starttime
    assert t == pytest.approx(calendar.timegm((2012, 2, 29, 23, 59, 59)) + 0.9999)


# -- corrupt input ---------------------------------------------------------------------------------


def test_corrupt_records_raise_with_reason_and_offset(shared_data: Path) -> None:
    buf = bytearray((shared_data / RJOB).read_bytes())
    bad = bytearray(buf)
    bad[4096 + 6] = ord("X")  # quality indicator of record 2
    with pytest.raises(MiniSeedError) as exc:
        read_mseed(bytes(bad))
    assert exc.value.offset == 4096 and "header" in exc.value.reason

    truncated = bytes(buf[: 4096 * 2 + 1000])
    with pytest.raises(MiniSeedError) as exc:
        read_mseed(truncated)
    assert exc.value.offset == 8192 and "truncated" in exc.value.reason

    no_b1000 = bytearray(buf)
    no_b1000[48:50] = struct.pack(">H", 1001)  # the only blockette is no longer a 1000
    with pytest.raises(MiniSeedError, match="no blockette 1000") as exc:
        read_mseed(bytes(no_b1000))
    assert exc.value.offset == 0

    # errors="skip" keeps the good records and drops the bad one
    traces = read_mseed(bytes(bad), errors="skip")
    assert sorted(len(t.samples) for t in traces) == [980, 1010, 3000, 3000]


def test_corrupt_steim_payload_is_a_clear_error() -> None:
    frame = bytearray(_steim_frame(0, 6, [(1, _pack_word([0, 1, 2, 3], 8))]))
    frame[13] ^= 0x40  # flip a bit in the second packed difference (the first is unused)
    with pytest.raises(MiniSeedError, match="reverse integration constant") as exc:
        read_mseed(_record(bytes(frame), 4, 10) * 1)
    assert exc.value.offset == 0


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_never_crash(seed: int, shared_data: Path) -> None:
    rng = np.random.default_rng(seed)
    buf = bytearray((shared_data / RJOB).read_bytes())
    idx = rng.integers(0, len(buf), 40)
    buf_bad = bytearray(buf)
    for i in idx:
        buf_bad[i] = int(rng.integers(0, 256))
    try:
        traces = read_mseed(bytes(buf_bad))
    except MiniSeedError as exc:
        assert exc.offset % 256 == 0 and exc.reason
    else:
        assert all(isinstance(t.samples, np.ndarray) for t in traces)


# -- optional: libmseed's reference records ---------------------------------------------------------

LIBMSEED = os.environ.get("LIBMSEED_TESTDATA", "")


@pytest.mark.skipif(not LIBMSEED, reason="set LIBMSEED_TESTDATA=<libmseed>/test/data")
@pytest.mark.parametrize(
    "name", ["steim1", "steim2", "steim1-LE", "steim2-LE", "int32", "int16", "float32"]
)
def test_libmseed_reference_encodings_agree(name: str) -> None:
    ref = read_mseed(Path(LIBMSEED) / "reference-testdata-float64.mseed2")[0].samples
    got = read_mseed(Path(LIBMSEED) / f"reference-testdata-{name}.mseed2")[0].samples
    n = len(got)
    if name == "float32":
        np.testing.assert_allclose(got, ref[:n], rtol=1e-6)
    else:  # libmseed's integer sets are the float sine truncated toward zero
        np.testing.assert_array_equal(got, np.trunc(ref[:n]).astype(np.int64))
