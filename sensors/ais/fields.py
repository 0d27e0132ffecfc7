"""Map a pyais message to canonical fields, one declarative row per AIS message type.

Units and "not available" sentinels follow ITU-R M.1371-5 (as documented at
https://gpsd.gitlab.io/gpsd/AIVDM.html). Sentinels become ``None`` with a note; a position
outside the globe that is not the sentinel makes the whole message a ``bad_position``
rejection, because a tracker must never see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sensors.ais.model import AisRecord


class FieldError(ValueError):
    """The payload decoded but its content is unusable; ``reason`` is a REASONS key."""

    def __init__(self, reason: str, message: str, mmsi: int | None, msg_type: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.mmsi = mmsi
        self.msg_type = msg_type


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """Where each canonical field lives in one message type, and its sentinels."""

    title: str
    position: bool = False
    sog_na: float | None = None  # the "not available" speed value; valid speeds are below it
    cog_na: float | None = None  # the "not available" course value; valid courses are < 360
    heading: bool = False  # true heading, 511 = not available
    nav_status: bool = False
    static: tuple[tuple[str, str], ...] = ()  # (canonical, pyais attribute)


_CLASS_A = TypeSpec("Class A position report", True, 102.3, 360.0, heading=True, nav_status=True)
SPECS: dict[int, TypeSpec] = {
    1: _CLASS_A,
    2: _CLASS_A,
    3: _CLASS_A,
    4: TypeSpec("Base station report", position=True),
    5: TypeSpec(
        "Class A static and voyage data",
        static=(
            ("name", "shipname"),
            ("callsign", "callsign"),
            ("ship_type", "ship_type"),
            ("destination", "destination"),
            ("imo", "imo"),
        ),
    ),
    9: TypeSpec("SAR aircraft position report", True, 1023.0, 360.0),
    18: TypeSpec("Class B position report", True, 102.3, 360.0, heading=True),
    19: TypeSpec(
        "Extended Class B position report",
        True,
        102.3,
        360.0,
        heading=True,
        static=(("name", "shipname"), ("ship_type", "ship_type")),
    ),
    21: TypeSpec("Aid-to-navigation report", position=True, static=(("name", "name"),)),
    24: TypeSpec(
        "Static data report",
        static=(("name", "shipname"), ("callsign", "callsign"), ("ship_type", "ship_type")),
    ),
    27: TypeSpec("Long-range position report", True, 63.0, 511.0, nav_status=True),
}
SUPPORTED_TYPES: frozenset[int] = frozenset(SPECS)

_LAT_NA, _LON_NA = 91.0, 181.0

# Raw bit positions read straight from the payload, where pyais folds values into enums
# (it maps reserved ship types such as 38 to 0, and unknown nav statuses to 15).
_NAV_STATUS_BITS = {1: (38, 4), 2: (38, 4), 3: (38, 4), 27: (40, 4)}
_SHIP_TYPE_BITS = {5: (232, 8), 19: (263, 8), 24: (40, 8)}
_NAME_EXT_START = 272  # type 21: up to 88 bits of name extension after the fixed part


def sixbit(c: str) -> int:
    """Value of one armoured payload character (ITU-R M.1371 / IEC 61162-1 6-bit)."""
    v = ord(c) - 48
    return v - 8 if v > 40 else v


def payload_bits(payload: str, start: int, width: int) -> int | None:
    """Unsigned integer of ``width`` bits at bit ``start`` of an armoured payload."""
    first, last = start // 6, (start + width - 1) // 6
    if last >= len(payload):
        return None
    v = 0
    for c in payload[first : last + 1]:
        v = (v << 6) | sixbit(c)
    shift = (last - first + 1) * 6 - (start - first * 6) - width
    return (v >> shift) & ((1 << width) - 1)


def _sixbit_text(payload: str, fill_bits: int, start: int) -> str:
    """6-bit text from bit ``start`` to the end, keeping leading spaces (pyais strips them)."""
    total = len(payload) * 6 - fill_bits
    chars = []
    for pos in range(start, total - 5, 6):
        v = payload_bits(payload, pos, 6)
        if v is None:
            break
        chars.append(chr(v + 64 if v < 32 else v))
    return "".join(chars).rstrip("@ ")


def _clean_static(canonical: str, value: Any) -> Any:
    """Static value in canonical form; 0 / empty mean "not available" and become None."""
    if value is None:
        return None
    if canonical in ("ship_type", "imo"):
        v = int(value)
        return v or None
    s = str(value).strip()
    return s or None


def to_record(msg: Any, msg_type: int, payload: str = "", fill_bits: int = 0) -> AisRecord:
    """Canonical record for a decoded pyais message of a supported type.

    Raises :class:`FieldError` for a truncated payload (``malformed``) or an impossible
    position (``bad_position``).
    """
    spec = SPECS[msg_type]
    mmsi = getattr(msg, "mmsi", None)
    if mmsi is None:
        raise FieldError("malformed", "payload too short for an MMSI", None, msg_type)
    rec = AisRecord(mmsi=int(mmsi), msg_type=msg_type)
    notes: list[str] = []
    if spec.position:
        lat, lon = getattr(msg, "lat", None), getattr(msg, "lon", None)
        if lat is None or lon is None:
            raise FieldError("malformed", f"type {msg_type} payload too short", rec.mmsi, msg_type)
        if lat == _LAT_NA or lon == _LON_NA:
            notes.append("position_not_available")
        elif not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise FieldError(
                "bad_position",
                f"type {msg_type} from MMSI {rec.mmsi}: lat {lat}, lon {lon} is off the globe",
                rec.mmsi,
                msg_type,
            )
        else:
            rec.lat, rec.lon = float(lat), float(lon)
    if spec.sog_na is not None:
        sog = getattr(msg, "speed", None)
        if sog is None or sog >= spec.sog_na:
            notes.append("sog_not_available")
        else:
            rec.sog = float(sog)
    if spec.cog_na is not None:
        cog = getattr(msg, "course", None)
        if cog is None or cog == spec.cog_na:
            notes.append("cog_not_available")
        elif not 0.0 <= cog < 360.0:
            notes.append("cog_invalid")
        else:
            rec.cog = float(cog)
    if spec.heading:
        hdg = getattr(msg, "heading", None)
        if hdg is None or hdg == 511:
            notes.append("heading_not_available")
        elif not 0 <= hdg < 360:
            notes.append("heading_invalid")
        else:
            rec.heading = int(hdg)
    if spec.nav_status:
        status = getattr(msg, "status", None)
        if payload:
            status = payload_bits(payload, *_NAV_STATUS_BITS[msg_type])
        rec.nav_status = None if status is None else int(status)
    for canonical, attr in spec.static:
        value = getattr(msg, attr, None)
        if value is not None and payload:
            if canonical == "ship_type":
                value = payload_bits(payload, *_SHIP_TYPE_BITS[msg_type])
            elif canonical == "name" and msg_type == 21:
                value = f"{value}{_sixbit_text(payload, fill_bits, _NAME_EXT_START)}"
        setattr(rec, canonical, _clean_static(canonical, value))
    rec.notes = tuple(notes)
    return rec
