"""miniSEED (SEED 2.4 data-only records) reader in NumPy: fixed header, blockettes 1000/1001.

Why our own: the usual reader (ObsPy) is LGPL and heavy; the platform needs only data records
with the encodings that ground sensors and digitisers emit (INT16/INT32/FLOAT32/FLOAT64,
Steim-1/2). Records of one channel are stitched into :class:`Trace` objects; a gap or overlap
(start time off by more than half a sample from where the previous record ended) starts a new
trace, as other readers do. A record that cannot be decoded raises :class:`MiniSeedError` with
the reason and its byte offset, or is skipped and reported when ``errors="skip"``.
"""

from __future__ import annotations

import calendar
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensors.seismic.steim import SteimError, decode_steim

__all__ = ["MiniSeedError", "Record", "Trace", "iter_records", "read_mseed", "sample_rate"]

log = logging.getLogger(__name__)

_FIXED = struct.Struct("6sc1x5s2s3s2sHHBBBxHHhhBBBBiHH")  # 48 bytes, byte order prefixed later
_QUALITY = b"DRQM"
_DTYPES = {1: "i2", 3: "i4", 4: "f4", 5: "f8"}
_ENCODING_NAMES = {
    0: "ASCII text",
    1: "INT16",
    3: "INT32",
    4: "FLOAT32",
    5: "FLOAT64",
    10: "Steim-1",
    11: "Steim-2",
}


class MiniSeedError(ValueError):
    """A corrupt or unsupported record: ``reason`` and the record's byte ``offset``."""

    def __init__(self, reason: str, offset: int, source: str = "") -> None:
        self.reason = reason
        self.offset = offset
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}record at byte {offset}: {reason}")


@dataclass
class Trace:
    """A contiguous run of samples of one channel; ``starttime`` is UTC epoch seconds."""

    network: str
    station: str
    location: str
    channel: str
    starttime: float
    rate_hz: float
    samples: np.ndarray = field(repr=False)

    @property
    def id(self) -> str:
        """SEED id ``NET.STA.LOC.CHA``."""
        return f"{self.network}.{self.station}.{self.location}.{self.channel}"

    @property
    def endtime(self) -> float:
        """Time of the last sample."""
        return self.starttime + (len(self.samples) - 1) / self.rate_hz if self.rate_hz else 0.0


@dataclass
class Record:
    """One decoded data record."""

    offset: int
    sequence: str
    quality: str
    network: str
    station: str
    location: str
    channel: str
    starttime: float
    rate_hz: float
    encoding: int
    record_length: int
    samples: np.ndarray = field(repr=False)


def sample_rate(factor: int, multiplier: int) -> float:
    """Samples per second from the header's rate factor and multiplier (SEED manual §8)."""
    if factor == 0 or multiplier == 0:
        return 0.0
    if factor > 0:
        return factor * multiplier if multiplier > 0 else -factor / multiplier
    return -multiplier / factor if multiplier > 0 else 1.0 / (factor * multiplier)


def _btime(year: int, doy: int, hour: int, minute: int, sec: int, fract: int) -> float:
    if not (
        1900 <= year <= 2500
        and 1 <= doy <= 366
        and hour < 24
        and minute < 60
        and sec <= 60
        and fract < 10000
    ):
        raise ValueError(f"invalid BTIME {year}-{doy:03d} {hour}:{minute}:{sec}.{fract:04d}")
    jan1 = calendar.timegm((year, 1, 1, 0, 0, 0, 0, 1, 0))
    return jan1 + (doy - 1) * 86400 + hour * 3600 + minute * 60 + sec + fract * 1e-4


def _parse_record(buf: bytes, offset: int) -> Record:
    """Decode the record starting at ``buf[offset]``; raises ValueError/SteimError if bad."""
    if len(buf) - offset < 48:
        raise ValueError(f"truncated: {len(buf) - offset} bytes left, a header needs 48")
    head = buf[offset : offset + 48]
    if not head[:6].strip(b" 0123456789") == b"" or head[6:7] not in _QUALITY:
        raise ValueError(f"not a data record header (sequence/quality {head[:7]!r})")
    # Header byte order: the year must be plausible in one of the two orders.
    order = ">"
    if not 1900 <= struct.unpack(">H", head[20:22])[0] <= 2500:
        order = "<"
    fields = struct.unpack(order + _FIXED.format, head)
    (
        seq,
        quality,
        sta,
        loc,
        cha,
        net,
        year,
        doy,
        hour,
        minute,
        sec,
        fract,
        nsamp,
        factor,
        mult,
        act,
        _io,
        _dq,
        nblk,
        tcorr,
        data_off,
        blk_off,
    ) = fields
    start = _btime(year, doy, hour, minute, sec, fract)
    if act & 0x02 == 0:  # time correction not yet applied
        start += tcorr * 1e-4
    encoding = reclen = word_order = None
    seen = 0
    pos = blk_off
    while pos and seen < max(nblk, 1) + 8:
        if pos < 48 or offset + pos + 4 > len(buf):
            raise ValueError(f"blockette offset {pos} outside the record")
        btype, nxt = struct.unpack(order + "HH", buf[offset + pos : offset + pos + 4])
        if btype == 1000:
            encoding, word_order, exp = struct.unpack(
                "BBB", buf[offset + pos + 4 : offset + pos + 7]
            )
            reclen = 1 << exp
        elif btype == 1001:
            start += struct.unpack("b", buf[offset + pos + 5 : offset + pos + 6])[0] * 1e-6
        seen += 1
        if nxt and nxt <= pos:
            raise ValueError(f"blockette chain loops back ({pos} -> {nxt})")
        pos = nxt
    if encoding is None or reclen is None:
        raise ValueError("no blockette 1000: encoding and record length unknown")
    if not 7 <= reclen.bit_length() - 1 <= 16:
        raise ValueError(f"implausible record length {reclen}")
    if offset + reclen > len(buf):
        raise ValueError(f"truncated: record length {reclen}, {len(buf) - offset} bytes left")
    if nsamp and not 48 <= data_off < reclen:
        raise ValueError(f"data offset {data_off} outside the record of {reclen} bytes")
    rate = sample_rate(factor, mult)
    data = buf[offset + data_off : offset + reclen]
    big = word_order == 1
    if encoding in _DTYPES:
        dtype = np.dtype(_DTYPES[encoding]).newbyteorder(">" if big else "<")
        if nsamp * dtype.itemsize > len(data):
            raise ValueError(f"{nsamp} {_ENCODING_NAMES[encoding]} samples overrun the record")
        samples = np.frombuffer(data, dtype=dtype, count=nsamp).astype(dtype.newbyteorder("="))
    elif encoding in (10, 11):
        samples = decode_steim(data, nsamp, encoding - 9, big_endian=big)
    else:
        name = _ENCODING_NAMES.get(encoding, f"encoding {encoding}")
        raise ValueError(f"unsupported data encoding: {name}")
    if nsamp and rate <= 0:
        raise ValueError(f"samples present but sample rate is {rate}")
    return Record(
        offset=offset,
        sequence=seq.decode("ascii"),
        quality=quality.decode("ascii"),
        network=net.decode("ascii", "replace").strip(),
        station=sta.decode("ascii", "replace").strip(),
        location=loc.decode("ascii", "replace").strip(),
        channel=cha.decode("ascii", "replace").strip(),
        starttime=start,
        rate_hz=rate,
        encoding=encoding,
        record_length=reclen,
        samples=samples,
    )


def iter_records(
    buf: bytes,
    source: str = "",
    errors: str = "raise",
    skipped: list[MiniSeedError] | None = None,
) -> Iterator[Record]:
    """Yield the records of a miniSEED byte string in file order.

    ``errors="raise"`` stops at the first bad record with :class:`MiniSeedError`;
    ``"skip"`` logs it and resynchronises on the next plausible header (every 256 bytes,
    the smallest common record length), appending the error to ``skipped`` if given.
    """
    offset = 0
    while offset < len(buf):
        if not buf[offset : offset + 48].strip(b"\0 "):  # zero padding at the end of a file
            offset += 256
            continue
        try:
            rec = _parse_record(buf, offset)
        except (ValueError, SteimError, struct.error, IndexError) as exc:
            err = MiniSeedError(str(exc), offset, source)
            if errors == "raise":
                raise err from exc
            log.debug("skipping bad miniSEED record: %s", err)
            if skipped is not None:
                skipped.append(err)
            offset += 256
            continue
        yield rec
        offset += rec.record_length


def _merge(records: list[Record]) -> list[Trace]:
    """Stitch records into traces per channel, splitting at gaps and overlaps."""
    by_id: dict[tuple[str, str, str, str], list[Record]] = {}
    for rec in records:
        if len(rec.samples) == 0:
            continue
        by_id.setdefault((rec.network, rec.station, rec.location, rec.channel), []).append(rec)
    traces: list[Trace] = []
    for key, recs in by_id.items():
        recs.sort(key=lambda r: r.starttime)
        run: list[Record] = [recs[0]]
        for rec in recs[1:]:
            prev = run[-1]
            expected = prev.starttime + len(prev.samples) / prev.rate_hz
            if rec.rate_hz == prev.rate_hz and abs(rec.starttime - expected) < 0.5 / rec.rate_hz:
                run.append(rec)
                continue
            traces.append(_trace(key, run))
            run = [rec]
        traces.append(_trace(key, run))
    return traces


def _trace(key: tuple[str, str, str, str], run: list[Record]) -> Trace:
    samples = np.concatenate([r.samples for r in run])
    return Trace(*key, starttime=run[0].starttime, rate_hz=run[0].rate_hz, samples=samples)


def read_mseed(
    source: str | Path | bytes,
    errors: str = "raise",
    skipped: list[MiniSeedError] | None = None,
) -> list[Trace]:
    """Read a miniSEED file (path or bytes) into traces, one per contiguous channel run.

    With ``errors="skip"`` bad records are left out and listed in ``skipped``.
    """
    if isinstance(source, bytes | bytearray):
        buf, name = bytes(source), "<bytes>"
    else:
        buf, name = Path(source).read_bytes(), str(source)
    return _merge(list(iter_records(buf, name, errors, skipped)))
