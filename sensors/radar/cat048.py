"""EUROCONTROL ASTERIX CAT048 (monoradar target reports) to radar readings (DESIGN §4).

Parsing is libasterix's (MIT, pure Python, one generated class per category edition);
this module picks the edition, walks data blocks so one bad block never loses the rest,
and maps a plot to a reading:

==================  =========================================================
reading field       source
==================  =========================================================
``sensor_id``       (SAC, SIC) of I048/010 through a caller's map, else
                    ``asterix-SAC-SIC``
``t``               I048/140 time of day (s since UTC midnight) + a date
``range_m``         I048/040 RHO (NM) x 1852; without I048/040, the range of
                    I048/042 (x, y in NM, radar-centred)
``bearing_deg``     I048/040 THETA (deg from north, clockwise), or atan2(x, y)
``radial_speed_mps``  I048/120 CAL (m/s) when its D bit says valid
``sac``, ``sic``    I048/010; ``edition``: the CAT048 edition used, "1.32"
``asterix``         the rest that is present: mode-3/A, flight level, track
                    number, Mode S address and callsign, track velocity…
==================  =========================================================

Editions matter: bit layouts of the same item change between editions, and decoding with
the wrong one gives plausible nonsense rather than an error (I048/090 of the reference
capture reads FL -1 in edition 1.32 but FL 4095 in 1.31). So the edition is per radar.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asterix.generated as gen
from asterix.base import Bits, ParsingMode

from sensors.problems import DecodeProblem
from sensors.radar.asterix_values import record_values
from sensors.radar.pcap import is_pcap, read_pcap_udp_payloads

NM_M = 1852.0
DAY_S = 86400.0
CATEGORY = 48
# Generated spec classes per edition; typed loosely since each has its own record class.
_CAT048_SPECS: list[Any] = cast(dict[int, list[Any]], gen.manifest["CATS"])[CATEGORY]
EDITIONS: dict[str, Any] = {f"{c.cv_edition[0]}.{c.cv_edition[1]}": c for c in _CAT048_SPECS}
DEFAULT_EDITION = max(EDITIONS, key=lambda e: tuple(int(p) for p in e.split(".")))


class EditionError(ValueError):
    """An edition the decoder does not know: refused, never guessed."""


def known_editions() -> list[str]:
    """CAT048 editions libasterix can decode, oldest first."""
    return sorted(EDITIONS, key=lambda e: tuple(int(p) for p in e.split(".")))


def resolve_edition(edition: str | None) -> str:
    """Normalise ``"1.31"`` / ``None`` (newest) to a known edition, or raise EditionError."""
    if edition is None:
        return DEFAULT_EDITION
    key = str(edition).strip()
    if key.count(".") == 1:
        major, minor = key.split(".")
        if major.isdigit() and minor.isdigit():
            key = f"{int(major)}.{int(minor)}"
    if key not in EDITIONS:
        raise EditionError(
            f"CAT048 edition {edition!r} is not known; known: {', '.join(known_editions())}"
        )
    return key


def sensor_id_for(sac: int, sic: int, sensor_ids: Mapping[Any, str] | None = None) -> str:
    """The registry id of the radar (SAC, SIC), else ``asterix-SAC-SIC``.

    ``sensor_ids`` may be keyed by ``(sac, sic)`` tuples or by ``"sac/sic"`` strings
    (as a YAML file would give them).
    """
    if sensor_ids:
        for key in ((sac, sic), f"{sac}/{sic}"):
            if key in sensor_ids:
                return sensor_ids[key]
    return f"asterix-{sac}-{sic}"


def parse_sensor_map(entries: Iterable[str]) -> dict[tuple[int, int], str]:
    """``["25/201=R1", …]`` (CLI style) to ``{(25, 201): "R1"}``; raises ValueError."""
    out: dict[tuple[int, int], str] = {}
    for entry in entries:
        try:
            key, name = entry.split("=", 1)
            sac, sic = (int(p) for p in key.split("/"))
        except ValueError:
            raise ValueError(f"bad sensor mapping {entry!r}: expected SAC/SIC=ID") from None
        if not (0 <= sac <= 255 and 0 <= sic <= 255) or not name:
            raise ValueError(f"bad sensor mapping {entry!r}: SAC/SIC are 0..255, ID non-empty")
        out[(sac, sic)] = name
    return out


def _as_date(date: dt.date | str | None) -> dt.date | None:
    if date is None or isinstance(date, dt.date):
        return date
    return dt.date.fromisoformat(date)


def tod_to_epoch(
    tod_s: float, date: dt.date | str | None = None, ref_time: float | None = None
) -> float:
    """ASTERIX time of day (s after UTC midnight) to epoch seconds.

    With a ``date``, that day's midnight plus ``tod_s``. Otherwise the day is the one that
    puts the result nearest ``ref_time`` (a capture timestamp; the wall clock if None), so
    a plot stamped 23:59:59.9 in a packet captured at 00:00:00.1 lands on the day before.
    """
    day = _as_date(date)
    if day is not None:
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        return midnight.timestamp() + tod_s
    ref = time.time() if ref_time is None else ref_time
    base = math.floor(ref / DAY_S) * DAY_S + tod_s
    return min((base - DAY_S, base, base + DAY_S), key=lambda t: abs(t - ref))


@dataclass
class DecodeStats:
    """Counts for a run summary: what was decoded, skipped and refused."""

    blocks: int = 0
    plots: int = 0
    readings: int = 0
    skipped_categories: Counter[int] = field(default_factory=Counter)
    malformed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": self.blocks,
            "plots": self.plots,
            "readings": self.readings,
            "skipped_categories": {str(k): v for k, v in sorted(self.skipped_categories.items())},
            "malformed": self.malformed,
        }


def _valid(group: Any) -> bool:
    """ASTERIX validity bit V: 0 means validated."""
    return not (isinstance(group, dict) and group.get("V", 0))


def _extras(values: dict[str, Any]) -> dict[str, Any]:
    """Identity and kinematics beyond range/bearing, under readable names."""
    ex: dict[str, Any] = {"tod_s": values.get("140")}
    if isinstance(i020 := values.get("020"), dict):
        ex["typ"] = i020.get("TYP")
        ex["sim"] = i020.get("SIM")
    if isinstance(i070 := values.get("070"), dict):
        ex["mode3a"] = i070.get("MODE3A")
        ex["mode3a_valid"] = _valid(i070)
    if isinstance(i090 := values.get("090"), dict):
        ex["flight_level"] = i090.get("FL")
        ex["flight_level_valid"] = _valid(i090)
    if isinstance(i161 := values.get("161"), dict):
        ex["track_number"] = i161.get("TRN")
    if isinstance(i220 := values.get("220"), int):
        ex["aircraft_address"] = f"{i220:06X}"
    if isinstance(i240 := values.get("240"), str) and i240.strip():
        ex["callsign"] = i240.strip()
    if isinstance(i200 := values.get("200"), dict):
        ex["ground_speed_kt"] = i200["GSP"] * 3600.0  # NM/s in the spec
        ex["heading_deg"] = i200["HDG"]
    if isinstance(i042 := values.get("042"), dict):
        ex["x_nm"], ex["y_nm"] = i042.get("X"), i042.get("Y")
    if isinstance(i110 := values.get("110"), (int, float)):
        ex["height_3d_ft"] = i110
    if isinstance(i170 := values.get("170"), dict):
        ex["track_status"] = i170
    return {k: v for k, v in ex.items() if v is not None}


def plot_to_reading(
    values: dict[str, Any],
    edition: str,
    *,
    date: dt.date | str | None = None,
    ref_time: float | None = None,
    sensor_ids: Mapping[Any, str] | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """One CAT048 record's values to a reading, or ``(None, reason)`` if it cannot be one."""
    i010 = values.get("010")
    if not isinstance(i010, dict):
        return None, "no I048/010 data source (SAC/SIC)"
    sac, sic = int(i010["SAC"]), int(i010["SIC"])
    i040, i042 = values.get("040"), values.get("042")
    if isinstance(i040, dict):
        range_m, bearing = i040["RHO"] * NM_M, i040["THETA"]
    elif isinstance(i042, dict):
        x, y = i042["X"], i042["Y"]
        range_m, bearing = math.hypot(x, y) * NM_M, math.degrees(math.atan2(x, y)) % 360.0
    else:
        return None, "no position (neither I048/040 nor I048/042)"
    extras = _extras(values)
    tod = values.get("140")
    if isinstance(tod, float):
        t = tod_to_epoch(tod, date, ref_time)
    elif ref_time is not None:
        t, extras["time_source"] = ref_time, "capture"
    else:
        return None, "no I048/140 time of day and no capture time"
    reading: dict[str, Any] = {
        "sensor_id": sensor_id_for(sac, sic, sensor_ids),
        "t": t,
        "range_m": range_m,
        "bearing_deg": bearing % 360.0,
    }
    i120 = values.get("120")
    if isinstance(i120, dict) and isinstance(cal := i120.get("CAL"), dict) and not cal.get("D"):
        reading["radial_speed_mps"] = float(cal["CAL"])
    if isinstance(i042, dict) and not isinstance(i040, dict):
        extras["position_source"] = "I048/042"
    reading.update(sac=sac, sic=sic, edition=edition, asterix=extras)
    return reading, None


def decode_asterix_blocks(
    data: bytes,
    edition: str | None = None,
    date: dt.date | str | None = None,
    *,
    ref_time: float | None = None,
    sensor_ids: Mapping[Any, str] | None = None,
    stats: DecodeStats | None = None,
    where: str = "",
) -> tuple[list[dict[str, Any]], list[DecodeProblem]]:
    """Decode concatenated ASTERIX data blocks (a UDP datagram, a ``.raw`` file).

    CAT048 plots become readings; other categories are counted in ``stats`` and skipped.
    A block whose length field overruns the data, or whose records do not parse in the
    chosen edition, becomes a :class:`DecodeProblem` (records before the bad one are
    kept). ``date`` (``YYYY-MM-DD``) dates the time of day; otherwise ``ref_time`` (the
    capture time) or the wall clock does. Raises :class:`EditionError` for an unknown
    edition, before reading anything.
    """
    ed = resolve_edition(edition)
    spec = EDITIONS[ed]
    stats = stats if stats is not None else DecodeStats()
    readings: list[dict[str, Any]] = []
    problems: list[DecodeProblem] = []
    prefix = f"{where} " if where else ""
    off, n_block = 0, 0
    while off < len(data):
        n_block += 1
        loc = f"{prefix}block {n_block} @ byte {off}"
        if len(data) - off < 3:
            problems.append(
                DecodeProblem(
                    loc, "truncated", "fewer than 3 bytes left for a block header", data[off:]
                )
            )
            stats.malformed += 1
            break
        cat, length = data[off], int.from_bytes(data[off + 1 : off + 3], "big")
        if length < 3 or off + length > len(data):
            problems.append(
                DecodeProblem(
                    loc,
                    "truncated" if length >= 3 else "bad_length",
                    f"CAT{cat:03d} block length {length} but {len(data) - off} bytes left; "
                    "the rest of this input is unreadable",
                    data[off:],
                )
            )
            stats.malformed += 1
            break
        block = data[off : off + length]
        off += length
        stats.blocks += 1
        if cat != CATEGORY:
            stats.skipped_categories[cat] += 1
            continue
        bits = Bits.from_bytes(block[3:])
        n_rec = 0
        while len(bits):
            n_rec += 1
            parsed = spec.cv_record.parse(ParsingMode.StrictParsing, bits)
            if isinstance(parsed, ValueError):
                problems.append(
                    DecodeProblem(
                        f"{loc} record {n_rec}",
                        "malformed",
                        f"CAT048 edition {ed} cannot parse the record: {parsed}",
                        block,
                    )
                )
                stats.malformed += 1
                break
            rec, bits = parsed
            stats.plots += 1
            reading, why = plot_to_reading(
                record_values(rec), ed, date=date, ref_time=ref_time, sensor_ids=sensor_ids
            )
            if reading is None:
                problems.append(
                    DecodeProblem(f"{loc} record {n_rec}", "incomplete", why or "", block)
                )
                continue
            readings.append(reading)
            stats.readings += 1
    return readings, problems


def decode_asterix_file(
    path: str | Path,
    edition: str | None = None,
    date: dt.date | str | None = None,
    *,
    sensor_ids: Mapping[Any, str] | None = None,
    stats: DecodeStats | None = None,
) -> tuple[list[dict[str, Any]], list[DecodeProblem]]:
    """A pcap capture (auto-detected by its magic number) or a file of raw data blocks.

    In a pcap, each UDP payload is decoded on its own and dated by its capture time
    unless ``date`` is given; a raw file is dated by ``date`` or today.
    """
    resolve_edition(edition)  # refuse a bad edition before touching the file
    stats = stats if stats is not None else DecodeStats()
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not is_pcap(head):
        return decode_asterix_blocks(
            Path(path).read_bytes(), edition, date, sensor_ids=sensor_ids, stats=stats
        )
    readings: list[dict[str, Any]] = []
    problems: list[DecodeProblem] = []
    for n, (ts, payload) in enumerate(read_pcap_udp_payloads(path), start=1):
        r, p = decode_asterix_blocks(
            payload,
            edition,
            date,
            ref_time=ts,
            sensor_ids=sensor_ids,
            stats=stats,
            where=f"packet {n}",
        )
        readings.extend(r)
        problems.extend(p)
    return readings, problems
