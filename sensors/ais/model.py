"""What the AIS decoder emits: a canonical record, or a rejection with a reason.

The record's :meth:`AisRecord.to_dict` is the contract of DESIGN §7 (``borderfusion ais
decode`` prints exactly these keys). Rejections carry a machine-readable ``reason`` (one of
:data:`REASONS`) so the ingest agent can dead-letter them and the CLI can count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Machine-readable rejection reasons, with what each one means.
REASONS: dict[str, str] = {
    "not_ais": "the line holds no !xxVDM/!xxVDO sentence",
    "checksum": "the NMEA checksum is wrong or missing",
    "malformed": "the sentence or its payload does not follow NMEA 0183 / ITU-R M.1371",
    "empty_payload": "the sentence carries no payload",
    "orphan_fragment": "a fragment of a multipart message whose other parts never arrived",
    "unsupported_type": "a valid AIS message of a type this decoder does not map",
    "nonstandard_part": "a type 24 message with a part number other than A (0) or B (1)",
    "bad_position": "latitude/longitude outside the globe and not the 'not available' sentinel",
}

# The canonical fields of DESIGN §7, in output order.
CANONICAL_FIELDS: tuple[str, ...] = (
    "mmsi",
    "msg_type",
    "lat",
    "lon",
    "sog",
    "cog",
    "heading",
    "nav_status",
    "name",
    "callsign",
    "ship_type",
    "destination",
    "imo",
)
STATIC_FIELDS: tuple[str, ...] = ("name", "callsign", "ship_type", "destination", "imo")


@dataclass(slots=True)
class AisRecord:
    """One decoded AIS message in canonical units (degrees, knots), nulls where absent.

    ``notes`` lists values the plausibility check mapped to null (e.g. ``sog_not_available``);
    it is diagnostic and not part of :meth:`to_dict`.
    """

    mmsi: int
    msg_type: int
    lat: float | None = None
    lon: float | None = None
    sog: float | None = None
    cog: float | None = None
    heading: int | None = None
    nav_status: int | None = None
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    destination: str | None = None
    imo: int | None = None
    t: float | None = None
    station_id: str | None = None
    channel: str | None = None
    notes: tuple[str, ...] = ()
    nmea: tuple[str, ...] = field(default=(), repr=False)

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN §7 JSON object; ``t``/``station_id``/``channel`` only when known."""
        d: dict[str, Any] = {
            "mmsi": self.mmsi,
            "msg_type": self.msg_type,
            "lat": self.lat,
            "lon": self.lon,
            "sog": self.sog,
            "cog": self.cog,
            "heading": self.heading,
            "nav_status": self.nav_status,
            "name": self.name,
            "callsign": self.callsign,
            "ship_type": self.ship_type,
            "destination": self.destination,
            "imo": self.imo,
        }
        if self.t is not None:
            d["t"] = self.t
        if self.station_id:
            d["station_id"] = self.station_id
        if self.channel:
            d["channel"] = self.channel
        return d


@dataclass(slots=True)
class AisRejection:
    """A sentence (or group of fragments) the decoder refused, and why."""

    reason: str
    message: str
    raw: str = ""
    station_id: str | None = None
    t: float | None = None
    mmsi: int | None = None
    msg_type: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "message": self.message,
            "raw": self.raw,
            "station_id": self.station_id,
            "t": self.t,
            "mmsi": self.mmsi,
            "msg_type": self.msg_type,
        }
